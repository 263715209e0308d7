//! networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::core::load_balancer_ingress;
use crate::column::{Column, AGE, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, name, opt_str, str_at};
use crate::labels::format_label_selector;

pub(crate) const INGRESS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Class", "string", desc::INGRESS_CLASS),
    Column::new("Hosts", "string", desc::INGRESS_HOSTS),
    Column::new("Address", "string", desc::INGRESS_ADDRESS),
    Column::new("Ports", "string", desc::INGRESS_PORTS),
    AGE,
];

pub(crate) fn ingress_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports = if arr_at(obj, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(name(obj)),
        json!(opt_str(obj, &["spec", "ingressClassName"]).unwrap_or("<none>")),
        json!(format_hosts(arr_at(obj, &["spec", "rules"]))),
        json!(load_balancer_ingress(obj)),
        json!(ports),
        json!(since(created(obj), now)),
    ]
}

/// Upstream `formatHosts`: up to three hosts, "*" when no rule names one.
fn format_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = str_at(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".to_string();
    }
    let joined = list.join(",");
    if more {
        // Upstream counts every rule here, hostless ones included.
        format!("{joined} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        joined
    }
}

pub(crate) const INGRESS_CLASS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Controller", "string", desc::INGRESSCLASS_CONTROLLER),
    Column::new("Parameters", "string", desc::INGRESSCLASS_PARAMETERS),
    AGE,
];

pub(crate) fn ingress_class_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let parameters = match at(obj, &["spec", "parameters"]) {
        Some(p) => {
            let mut s = str_at(p, &["kind"]).to_string();
            if let Some(group) = opt_str(p, &["apiGroup"]) {
                s.push('.');
                s.push_str(group);
            }
            format!("{s}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_string(),
    };
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "controller"])),
        json!(parameters),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const NETWORK_POLICY_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Pod-Selector", "string", desc::NETPOL_POD_SELECTOR),
    AGE,
];

pub(crate) fn network_policy_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // podSelector is a struct, not a pointer, upstream: unset reads as the empty selector.
    let selector = at(obj, &["spec", "podSelector"])
        .cloned()
        .unwrap_or(json!({}));
    vec![
        json!(name(obj)),
        json!(format_label_selector(Some(&selector))),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const SERVICE_CIDR_COLUMNS: &[Column] = &[
    NAME,
    Column::new("CIDRs", "string", desc::SERVICE_CIDRS),
    AGE,
];

pub(crate) fn service_cidr_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let cidrs: Vec<&str> = arr_at(obj, &["spec", "cidrs"])
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    vec![
        json!(name(obj)),
        json!(cidrs.join(",")),
        json!(since(created(obj), now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2025-01-01T11:59:55Z"})
    }

    #[test]
    fn ingress_row() {
        let ing = json!({"metadata": meta("web"),
            "spec": {"ingressClassName": "nginx",
                     "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
                     "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}});
        assert_eq!(
            ingress_cells(&ing, now()),
            vec![
                json!("web"),
                json!("nginx"),
                json!("a.example.com,b.example.com"),
                json!("192.0.2.10"),
                json!("80, 443"),
                json!("5s"),
            ]
        );
    }

    #[test]
    fn ingress_without_class_hosts_or_address() {
        let ing = json!({"metadata": meta("default-backend"),
            "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        let c = ingress_cells(&ing, now());
        assert_eq!(c[1], json!("<none>"));
        assert_eq!(c[2], json!("*"));
        assert_eq!(c[3], json!(""));
        assert_eq!(c[4], json!("80"));
    }

    #[test]
    fn ingress_hosts_overflow() {
        let rules: Vec<Value> = ["a", "b", "", "c", "d"]
            .iter()
            .map(|h| json!({"host": h}))
            .collect();
        assert_eq!(format_hosts(&rules), "a,b,c + 2 more...");
    }

    #[test]
    fn ingress_class_and_network_policy_rows() {
        let ic = json!({"metadata": meta("nginx"),
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            ingress_class_cells(&ic, now()),
            vec![
                json!("nginx"),
                json!("k8s.io/ingress-nginx"),
                json!("IngressParameters.k8s.example.com/p"),
                json!("5s"),
            ]
        );
        let np = json!({"metadata": meta("deny-all"), "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}});
        assert_eq!(
            network_policy_cells(&np, now()),
            vec![json!("deny-all"), json!("<none>"), json!("5s")]
        );
        let np = json!({"metadata": meta("db"), "spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(network_policy_cells(&np, now())[1], json!("role=db"));
    }

    #[test]
    fn service_cidr_row() {
        let sc = json!({"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]}});
        assert_eq!(
            service_cidr_cells(&sc, now()),
            vec![
                json!("kubernetes"),
                json!("10.96.0.0/12,fd00:10:96::/112"),
                json!("5s")
            ]
        );
    }
}
