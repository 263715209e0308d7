//! Built-in admission: what kube-apiserver's default plugins and registry
//! strategies do between defaulting and validation — namespace lifecycle,
//! LimitRanger, Service IP and node-port allocation, pod service accounts,
//! Priority, DefaultTolerationSeconds, Job selectors. ResourceQuota, the
//! last validating plugin, runs at the write (`resource_quota`).

use crate::{Server, User};
use berth_api::status::{ApiError, FieldError};
use berth_api::ResourceInfo;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::Ipv4Addr;

pub fn admit_create(
    srv: &Server,
    info: &ResourceInfo,
    obj: &mut Value,
    _user: &User,
) -> Result<(), ApiError> {
    if info.namespaced() {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        namespace_accepts(srv, info, &ns)?;
    }
    match (info.group, info.kind) {
        ("", "Service") => allocate_service(srv, obj, None)?,
        ("", "Pod") => {
            crate::limit_ranger::default_pod(srv, obj)?;
            crate::service_account_admission::admit(srv, obj)?;
            pod_priority(srv, obj)?;
            default_tolerations(obj);
        }
        ("batch", "Job") => job_selector(obj),
        _ => {}
    }
    Ok(())
}

pub fn admit_update(
    srv: &Server,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
) -> Result<(), ApiError> {
    if let ("", "Service") = (info.group, info.kind) {
        // An update that leaves clusterIP empty keeps the allocated one.
        for f in ["clusterIP", "clusterIPs"] {
            let empty = new
                .pointer(&format!("/spec/{f}"))
                .is_none_or(|v| v.is_null() || v == "" || v == &json!([]));
            if empty {
                if let Some(v) = old.pointer(&format!("/spec/{f}")) {
                    new["spec"][f] = v.clone();
                }
            }
        }
        allocate_service(srv, new, Some(old))?;
    }
    Ok(())
}

/// Validating admission that runs after the object's own validation
/// (LimitRanger's min/max/ratio). ResourceQuota follows at the write.
pub fn validate(
    srv: &Server,
    info: &ResourceInfo,
    obj: &Value,
    is_update: bool,
) -> Result<(), ApiError> {
    match (info.group, info.kind) {
        // Containers cannot change on update: upstream checks pods on create only.
        ("", "Pod") if !is_update => crate::limit_ranger::validate_pod(srv, obj),
        ("", "PersistentVolumeClaim") => crate::limit_ranger::validate_pvc(srv, obj),
        _ => Ok(()),
    }
}

/// The Priority admission plugin: spec.priority (and preemptionPolicy) from
/// the pod's PriorityClass, or the global default class, or 0.
fn pod_priority(srv: &Server, pod: &mut Value) -> Result<(), ApiError> {
    let prefix = "/registry/scheduling.k8s.io/priorityclasses/";
    let class = match pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => match srv.cache.get(&format!("{prefix}{name}")) {
            Some(c) => Some(c.value()),
            None => {
                return Err(ApiError::forbidden(format!(
                    "pods \"{}\" is forbidden: no PriorityClass with name {name} was found",
                    pod.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )))
            }
        },
        None => {
            let (_, objects) = srv.cache.snapshot();
            let lower = std::ops::Bound::Included(prefix.to_string());
            let default = objects
                .range((lower, std::ops::Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(_, c)| c.value())
                .find(|o| o.get("globalDefault") == Some(&json!(true)));
            if let Some(d) = &default {
                pod["spec"]["priorityClassName"] = d["metadata"]["name"].clone();
            }
            default
        }
    };
    let value = class
        .as_ref()
        .and_then(|c| c.get("value"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(given) = pod.pointer("/spec/priority").and_then(Value::as_i64) {
        if given != value {
            return Err(ApiError::forbidden(
                "the integer value of priority must not be provided in pod spec; priority admission controller computed the value from the given PriorityClass name".to_string(),
            ));
        }
    }
    pod["spec"]["priority"] = json!(value);
    if pod.pointer("/spec/preemptionPolicy").is_none() {
        let policy = class
            .as_ref()
            .and_then(|c| c.get("preemptionPolicy"))
            .cloned()
            .unwrap_or_else(|| json!("PreemptLowerPriority"));
        pod["spec"]["preemptionPolicy"] = policy;
    }
    Ok(())
}

/// DefaultTolerationSeconds: tolerate not-ready and unreachable nodes for
/// 300 s, so pods move off a lost node after five minutes.
fn default_tolerations(pod: &mut Value) {
    let existing = pod
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut tolerations = existing.clone();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = existing.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let exists_all = k.is_empty() && t.get("operator") == Some(&json!("Exists"));
            (k == key || exists_all) && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            tolerations.push(json!({
                "key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300,
            }));
        }
    }
    if tolerations.len() != existing.len() {
        pod["spec"]["tolerations"] = json!(tolerations);
    }
}

fn namespace_accepts(srv: &Server, info: &ResourceInfo, ns: &str) -> Result<(), ApiError> {
    let key = format!("/registry/core/namespaces/{ns}");
    match srv.cache.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(c)
            if c.index.deleting && info.kind != "Event" =>
        {
            Err(ApiError::forbidden(format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                info.group_resource()
            )))
        }
        Some(_) => Ok(()),
    }
}

/// The IPs and node ports currently taken by Services.
fn taken(srv: &Server) -> (HashSet<String>, HashSet<i64>) {
    let (_, objects) = srv.cache.snapshot();
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    let lower = std::ops::Bound::Included("/registry/core/services/".to_string());
    for (key, c) in objects.range((lower, std::ops::Bound::Unbounded)) {
        if !key.starts_with("/registry/core/services/") {
            break;
        }
        let svc = c.value();
        if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
            ips.insert(ip.to_string());
        }
        for p in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.insert(n);
            }
        }
    }
    (ips, ports)
}

fn allocate_service(srv: &Server, svc: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    let _guard = srv.alloc_lock.lock().unwrap_or_else(|p| p.into_inner());
    let name = svc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let svc_type = svc
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let (mut ips, mut ports) = taken(srv);
    {
        // Allocated by a create that may not have reached the cache yet.
        let mut pending = srv.pending_ips.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|p| !ips.contains(p));
        let excess = pending.len().saturating_sub(1024);
        pending.drain(..excess);
        ips.extend(pending.iter().cloned());
    }
    // An update may keep what the object already holds.
    if let Some(o) = old {
        if let Some(ip) = o.pointer("/spec/clusterIP").and_then(Value::as_str) {
            ips.remove(ip);
        }
        for p in o
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.remove(&n);
            }
        }
    }
    let invalid = |field: &str, v: Value, detail: String| {
        ApiError::invalid(
            "",
            "Service",
            &name,
            &[FieldError::invalid(field, v, detail)],
        )
    };
    if svc_type != "ExternalName" {
        let requested = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ip = if requested == "None" {
            "None".to_string()
        } else if requested.is_empty() {
            let ip = srv.config.service_cidr.random_free(&ips).ok_or_else(|| {
                ApiError::internal("failed to allocate a serviceIP: range is full")
            })?;
            srv.pending_ips
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(ip.clone());
            ip
        } else {
            let parsed: Ipv4Addr = requested.parse().map_err(|_| {
                invalid(
                    "spec.clusterIPs[0]",
                    json!(requested),
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into(),
                )
            })?;
            if !srv.config.service_cidr.contains(parsed) {
                return Err(invalid("spec.clusterIPs", json!([requested]), format!("failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}", srv.config.service_cidr)));
            }
            if ips.contains(&requested) {
                return Err(invalid(
                    "spec.clusterIPs",
                    json!([requested]),
                    format!("failed to allocate IP {requested}: provided IP is already allocated"),
                ));
            }
            requested
        };
        svc["spec"]["clusterIP"] = json!(ip);
        svc["spec"]["clusterIPs"] = json!([ip]);
    }
    if matches!(svc_type.as_str(), "NodePort" | "LoadBalancer") {
        let (lo, hi) = srv.config.node_port_range;
        if let Some(list) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for (i, p) in list.iter_mut().enumerate() {
                match p.get("nodePort").and_then(Value::as_i64) {
                    Some(n) if n != 0 => {
                        if n < lo || n > hi {
                            return Err(invalid(&format!("spec.ports[{i}].nodePort"), json!(n), format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}")));
                        }
                        if ports.contains(&n) {
                            return Err(invalid(
                                &format!("spec.ports[{i}].nodePort"),
                                json!(n),
                                "provided port is already allocated".into(),
                            ));
                        }
                        ports.insert(n);
                    }
                    _ => {
                        let free: Vec<i64> = (lo..=hi).filter(|n| !ports.contains(n)).collect();
                        if free.is_empty() {
                            return Err(ApiError::internal(
                                "failed to allocate a nodePort: range is full",
                            ));
                        }
                        let n = free[rand::random_range(0..free.len())];
                        ports.insert(n);
                        p["nodePort"] = json!(n);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Jobs without manualSelector get a selector on a generated uid label.
fn job_selector(job: &mut Value) {
    if job.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let uid = job
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    job["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    let labels = &mut job["spec"]["template"]["metadata"]["labels"];
    if !labels.is_object() {
        *labels = json!({});
    }
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("job-name", &name),
    ] {
        labels[k] = json!(v);
    }
}

/// An IPv4 CIDR for Service IPs.
#[derive(Clone, Copy, Debug)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, p) = s
            .split_once('/')
            .ok_or_else(|| format!("{s}: expected a CIDR like 10.43.0.0/16"))?;
        let base: Ipv4Addr = ip.parse().map_err(|_| format!("{s}: bad IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("{s}: prefix must be 8..30"))?;
        let mask = u32::MAX << (32 - prefix);
        Ok(Self {
            base: Ipv4Addr::from(u32::from(base) & mask),
            prefix,
        })
    }
}

impl Cidr {
    fn mask(&self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.base)
    }
    /// The n-th address (1 = the first usable one).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
    fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }
    /// A random free address; .1 (kubernetes) and .10 (DNS) stay reserved for their services.
    pub fn random_free(&self, taken: &HashSet<String>) -> Option<String> {
        let size = self.size();
        let usable = |n: u32| n > 10 && n < size - 1;
        for _ in 0..64 {
            let n = rand::random_range(1..size - 1);
            let ip = self.nth(n).to_string();
            if usable(n) && !taken.contains(&ip) {
                return Some(ip);
            }
        }
        (11..size - 1)
            .map(|n| self.nth(n).to_string())
            .find(|ip| !taken.contains(ip))
    }
}
