//! Smaller core/v1 kinds: Namespace, Service, Endpoints, ConfigMap, Secret,
//! ServiceAccount, ResourceQuota, ReplicationController, PodTemplate.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{layout_containers, or_none, template_containers};
use crate::column::{Column, AGE, CONTAINERS, IMAGES, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{arr_at, at, created, int_at, map_len, name, obj_at, opt_int, quantity, str_at};
use crate::labels::format_labels;

pub(crate) const NAMESPACE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Status", "string", desc::NAMESPACE_STATUS),
    AGE,
];

pub(crate) fn namespace_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["status", "phase"])),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const SERVICE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Type", "string", desc::SERVICE_TYPE),
    Column::new("Cluster-IP", "string", desc::SERVICE_CLUSTER_IP),
    Column::new("External-IP", "string", desc::SERVICE_EXTERNAL_IPS),
    Column::new("Port(s)", "string", desc::SERVICE_PORTS),
    AGE,
    Column::new("Selector", "string", desc::SERVICE_SELECTOR).wide(),
];

pub(crate) fn service_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // The API server defaults an unset type to ClusterIP before anything is stored.
    let svc_type = match str_at(obj, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    // v1 → internal conversion fills clusterIPs from clusterIP when only that is set.
    let cluster_ip = arr_at(obj, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| crate::json::opt_str(obj, &["spec", "clusterIP"]))
        .filter(|s| !s.is_empty())
        .unwrap_or("<none>");
    let ports = or_none(&service_ports(obj));
    vec![
        json!(name(obj)),
        json!(svc_type),
        json!(cluster_ip),
        json!(service_external_ip(obj, svc_type)),
        json!(ports),
        json!(since(created(obj), now)),
        json!(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

fn strings(values: &[Value]) -> Vec<&str> {
    values.iter().filter_map(Value::as_str).collect()
}

/// IPs or hostnames of a load balancer status, sorted and de-duplicated (wide: never clipped).
pub(crate) fn load_balancer_ingress(obj: &Value) -> String {
    let mut set = BTreeSet::new();
    for ing in arr_at(obj, &["status", "loadBalancer", "ingress"]) {
        let ip = str_at(ing, &["ip"]);
        let host = str_at(ing, &["hostname"]);
        if !ip.is_empty() {
            set.insert(ip);
        } else if !host.is_empty() {
            set.insert(host);
        }
    }
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn service_external_ip(obj: &Value, svc_type: &str) -> String {
    let external_ips = strings(arr_at(obj, &["spec", "externalIPs"]));
    match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(obj);
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    all.extend(lb.split(','));
                }
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(obj, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

fn service_ports(obj: &Value) -> String {
    arr_at(obj, &["spec", "ports"])
        .iter()
        .map(|p| {
            let protocol = match str_at(p, &["protocol"]) {
                "" => "TCP",
                proto => proto,
            };
            let port = int_at(p, &["port"]);
            match int_at(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) const ENDPOINTS_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Endpoints", "string", desc::ENDPOINTS_SUBSETS),
    AGE,
];

pub(crate) fn endpoints_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(format_endpoints(obj)),
        json!(since(created(obj), now)),
    ]
}

/// Go's `net.JoinHostPort`: brackets around IPv6 hosts.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Upstream `formatEndpoints`: up to three "ip:port" entries, then "+ N more...".
fn format_endpoints(obj: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(str_at(a, &["ip"]), int_at(port, &["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

pub(crate) const CONFIGMAP_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Data", "string", desc::CONFIGMAP_DATA),
    AGE,
];

pub(crate) fn configmap_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let entries = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    vec![
        json!(name(obj)),
        json!(entries),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const SECRET_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Type", "string", desc::SECRET_TYPE),
    Column::new("Data", "string", desc::SECRET_DATA),
    AGE,
];

pub(crate) fn secret_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // Defaulting makes an untyped secret Opaque before it is stored.
    let secret_type = match str_at(obj, &["type"]) {
        "" => "Opaque",
        t => t,
    };
    vec![
        json!(name(obj)),
        json!(secret_type),
        json!(map_len(obj, &["data"])),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const SERVICE_ACCOUNT_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Secrets", "string", desc::SA_SECRETS),
    AGE,
];

pub(crate) fn service_account_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(obj)),
        json!(arr_at(obj, &["secrets"]).len()),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const RESOURCE_QUOTA_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Request", "string", desc::QUOTA_REQUEST),
    Column::new("Limit", "string", desc::QUOTA_LIMIT),
    AGE,
];

/// "resource: used/hard" pairs, sorted by resource name; `limits.*` go to the LIMIT column.
pub(crate) fn resource_quota_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut requests: Vec<String> = Vec::new();
    let mut limits: Vec<String> = Vec::new();
    if let Some(hard) = obj_at(obj, &["status", "hard"]) {
        let mut resources: Vec<&String> = hard.keys().collect();
        resources.sort();
        for resource in resources {
            let used = quantity(at(obj, &["status", "used", resource.as_str()]));
            let hard_q = quantity(hard.get(resource.as_str()).filter(|v| !v.is_null()));
            let entry = format!("{resource}: {used}/{hard_q}");
            let mut pieces = resource.split('.');
            let is_limit = pieces.next() == Some("limits") && pieces.next().is_some();
            if is_limit {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
    }
    vec![
        json!(name(obj)),
        json!(requests.join(", ")),
        json!(limits.join(", ")),
        json!(since(created(obj), now)),
    ]
}

pub(crate) const REPLICATION_CONTROLLER_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Desired", "integer", desc::SPEC_REPLICAS),
    Column::new("Current", "integer", desc::STATUS_REPLICAS),
    Column::new("Ready", "integer", desc::RC_READY_REPLICAS),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::RC_SELECTOR).wide(),
];

pub(crate) fn replication_controller_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(template_containers(obj));
    vec![
        json!(name(obj)),
        // Defaulting sets an unset replica count to 1.
        json!(opt_int(obj, &["spec", "replicas"]).unwrap_or(1)),
        json!(int_at(obj, &["status", "replicas"])),
        json!(int_at(obj, &["status", "readyReplicas"])),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

pub(crate) const POD_TEMPLATE_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Containers", "string", desc::TEMPLATE_CONTAINERS),
    Column::new("Images", "string", desc::TEMPLATE_IMAGES),
    Column::new("Pod Labels", "string", desc::POD_TEMPLATE_LABELS),
];

pub(crate) fn pod_template_cells(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = layout_containers(arr_at(obj, &["template", "spec", "containers"]));
    vec![
        json!(name(obj)),
        json!(names),
        json!(images),
        json!(format_labels(at(obj, &["template", "metadata", "labels"]))),
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
        json!({"name": name, "namespace": "default", "creationTimestamp": "2025-01-01T11:00:00Z"})
    }

    #[test]
    fn namespace_row() {
        let ns = json!({"metadata": meta("kube-system"), "status": {"phase": "Active"}});
        assert_eq!(
            namespace_cells(&ns, now()),
            vec![json!("kube-system"), json!("Active"), json!("60m")]
        );
    }

    #[test]
    fn cluster_ip_service() {
        let svc = json!({"metadata": meta("kubernetes"),
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
        assert_eq!(
            service_cells(&svc, now()),
            vec![
                json!("kubernetes"),
                json!("ClusterIP"),
                json!("10.96.0.1"),
                json!("<none>"),
                json!("443/TCP"),
                json!("60m"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn node_port_and_load_balancer_services() {
        let np = json!({"metadata": meta("web"),
            "spec": {"type": "NodePort", "clusterIP": "10.96.4.2",
                     "externalIPs": ["1.2.3.4"],
                     "selector": {"app": "web", "tier": "fe"},
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                               {"port": 53, "protocol": "UDP"}]}});
        let c = service_cells(&np, now());
        assert_eq!(c[2], json!("10.96.4.2"));
        assert_eq!(c[3], json!("1.2.3.4"));
        assert_eq!(c[4], json!("80:30080/TCP,53/UDP"));
        assert_eq!(c[6], json!("app=web,tier=fe"));

        let mut lb = json!({"metadata": meta("lb"),
            "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.9.9"],
                     "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}});
        assert_eq!(service_cells(&lb, now())[3], json!("<pending>"));
        lb["status"] = json!({"loadBalancer": {"ingress": [
            {"ip": "203.0.113.9"}, {"hostname": "a.example.com"}, {"ip": "203.0.113.1"}]}});
        assert_eq!(
            service_cells(&lb, now())[3],
            json!("203.0.113.1,203.0.113.9,a.example.com")
        );
        lb["spec"]["externalIPs"] = json!(["5.6.7.8"]);
        assert_eq!(
            service_cells(&lb, now())[3],
            json!("203.0.113.1,203.0.113.9,a.example.com,5.6.7.8")
        );
    }

    #[test]
    fn headless_and_external_name_services() {
        let headless = json!({"metadata": meta("db"), "spec": {"clusterIP": "None", "selector": {"app": "db"}}});
        let c = service_cells(&headless, now());
        assert_eq!(c[1], json!("ClusterIP"));
        assert_eq!(c[2], json!("None"));
        assert_eq!(c[4], json!("<none>"));
        let ext = json!({"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}});
        let c = service_cells(&ext, now());
        assert_eq!(c[2], json!("<none>"));
        assert_eq!(c[3], json!("db.example.com"));
    }

    #[test]
    fn endpoints_list_and_overflow() {
        let ep = json!({"metadata": meta("web"), "subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "fd00::3"}],
            "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]}]});
        assert_eq!(
            endpoints_cells(&ep, now())[1],
            json!("10.0.0.1:8080,10.0.0.2:8080,[fd00::3]:8080 + 3 more...")
        );
        let headless =
            json!({"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        assert_eq!(endpoints_cells(&headless, now())[1], json!("10.0.0.1"));
        let empty = json!({"metadata": meta("e")});
        assert_eq!(endpoints_cells(&empty, now())[1], json!("<none>"));
    }

    #[test]
    fn configmap_secret_and_service_account_counts() {
        let cm = json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(configmap_cells(&cm, now())[1], json!(3));
        let secret = json!({"metadata": meta("tls"), "type": "kubernetes.io/tls",
                            "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            secret_cells(&secret, now()),
            vec![
                json!("tls"),
                json!("kubernetes.io/tls"),
                json!(2),
                json!("60m")
            ]
        );
        let sa = json!({"metadata": meta("default")});
        assert_eq!(
            service_account_cells(&sa, now()),
            vec![json!("default"), json!(0), json!("60m")]
        );
    }

    #[test]
    fn resource_quota_splits_requests_and_limits() {
        let rq = json!({"metadata": meta("compute"), "status": {
            "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"},
            "used": {"requests.cpu": "500m", "limits.memory": "1Gi", "pods": "3"}}});
        assert_eq!(
            resource_quota_cells(&rq, now()),
            vec![
                json!("compute"),
                json!("pods: 3/10, requests.cpu: 500m/1"),
                json!("limits.cpu: 0/2, limits.memory: 1Gi/2Gi"),
                json!("60m")
            ]
        );
    }

    #[test]
    fn replication_controller_and_pod_template() {
        let rc = json!({"metadata": meta("nginx"),
            "spec": {"replicas": 3, "selector": {"app": "nginx"},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2}});
        assert_eq!(
            replication_controller_cells(&rc, now()),
            vec![
                json!("nginx"),
                json!(3),
                json!(3),
                json!(2),
                json!("60m"),
                json!("nginx"),
                json!("nginx:1.27"),
                json!("app=nginx")
            ]
        );
        let pt = json!({"metadata": meta("tpl"), "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "a", "image": "img-a"}, {"name": "b", "image": "img-b"}]}}});
        assert_eq!(
            pod_template_cells(&pt, now()),
            vec![
                json!("tpl"),
                json!("a,b"),
                json!("img-a,img-b"),
                json!("app=x")
            ]
        );
    }
}
