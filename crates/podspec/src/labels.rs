//! Labels and annotations the kubelet puts on sandboxes and containers; it
//! finds its own objects in the runtime again through them.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod};
use serde_json::{Map, Value};

use crate::podutil::{self, spec};

pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

pub const CONTAINER_HASH_ANNOTATION: &str = "io.kubernetes.container.hash";
pub const CONTAINER_RESTART_COUNT_ANNOTATION: &str = "io.kubernetes.container.restartCount";
pub const CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION: &str =
    "io.kubernetes.container.terminationMessagePath";
pub const CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION: &str =
    "io.kubernetes.container.terminationMessagePolicy";
pub const CONTAINER_PRESTOP_HANDLER_ANNOTATION: &str = "io.kubernetes.container.preStopHandler";
pub const CONTAINER_PORTS_ANNOTATION: &str = "io.kubernetes.container.ports";
pub const POD_DELETION_GRACE_PERIOD_ANNOTATION: &str = "io.kubernetes.pod.deletionGracePeriod";
pub const POD_TERMINATION_GRACE_PERIOD_ANNOTATION: &str =
    "io.kubernetes.pod.terminationGracePeriod";

/// Sandbox labels: the pod's labels plus name/namespace/uid.
pub fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.insert(POD_NAME_LABEL.into(), podutil::name(pod).into());
    labels.insert(POD_NAMESPACE_LABEL.into(), podutil::namespace(pod).into());
    labels.insert(POD_UID_LABEL.into(), podutil::uid(pod).into());
    labels
}

/// Sandbox annotations: the pod's annotations.
pub fn pod_annotations(pod: &Pod) -> HashMap<String, String> {
    pod.metadata
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Container labels: pod name/namespace/uid and the container name (not the pod's labels).
pub fn container_labels(pod: &Pod, container: &Container) -> HashMap<String, String> {
    HashMap::from([
        (POD_NAME_LABEL.to_string(), podutil::name(pod).to_string()),
        (
            POD_NAMESPACE_LABEL.to_string(),
            podutil::namespace(pod).to_string(),
        ),
        (POD_UID_LABEL.to_string(), podutil::uid(pod).to_string()),
        (CONTAINER_NAME_LABEL.to_string(), container.name.clone()),
    ])
}

/// The container hash the kubelet compares to decide whether a running
/// container still matches its spec. Like the kubelet it covers only name and
/// image, but it is FNV-1a 32 over `{"image":..,"name":..}` rather than the
/// kubelet's spew dump, so it is stable within berth, not equal to a kubelet's.
pub fn container_hash(container: &Container) -> u64 {
    let json = serde_json::json!({
        "image": container.image.as_deref().unwrap_or(""),
        "name": container.name,
    })
    .to_string();
    let mut h: u32 = 0x811c_9dc5;
    for b in json.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    u64::from(h)
}

/// Ports as Go marshals `[]v1.ContainerPort` (field order of the Go struct).
fn ports_json(ports: &[ContainerPort]) -> String {
    let list: Vec<Value> = ports
        .iter()
        .map(|p| {
            let mut m = Map::new();
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                m.insert("name".into(), name.into());
            }
            if let Some(host_port) = p.host_port.filter(|h| *h != 0) {
                m.insert("hostPort".into(), host_port.into());
            }
            m.insert("containerPort".into(), p.container_port.into());
            if let Some(protocol) = p.protocol.as_deref().filter(|s| !s.is_empty()) {
                m.insert("protocol".into(), protocol.into());
            }
            if let Some(host_ip) = p.host_ip.as_deref().filter(|s| !s.is_empty()) {
                m.insert("hostIP".into(), host_ip.into());
            }
            Value::Object(m)
        })
        .collect();
    Value::Array(list).to_string()
}

/// Container annotations: hash, restart count, termination message path and
/// policy, grace periods, preStop handler and ports (JSON).
pub fn container_annotations(
    pod: &Pod,
    container: &Container,
    restart_count: u32,
) -> HashMap<String, String> {
    let mut a = HashMap::new();
    a.insert(
        CONTAINER_HASH_ANNOTATION.into(),
        format!("{:x}", container_hash(container)),
    );
    a.insert(
        CONTAINER_RESTART_COUNT_ANNOTATION.into(),
        restart_count.to_string(),
    );
    a.insert(
        CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION.into(),
        container
            .termination_message_path
            .clone()
            .unwrap_or_default(),
    );
    a.insert(
        CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION.into(),
        container
            .termination_message_policy
            .clone()
            .unwrap_or_default(),
    );
    if let Some(d) = pod.metadata.deletion_grace_period_seconds {
        a.insert(POD_DELETION_GRACE_PERIOD_ANNOTATION.into(), d.to_string());
    }
    if let Some(t) = spec(pod)
        .get()
        .and_then(|s| s.termination_grace_period_seconds)
    {
        a.insert(
            POD_TERMINATION_GRACE_PERIOD_ANNOTATION.into(),
            t.to_string(),
        );
    }
    if let Some(pre_stop) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
    {
        if let Ok(json) = serde_json::to_string(pre_stop) {
            a.insert(CONTAINER_PRESTOP_HANDLER_ANNOTATION.into(), json);
        }
    }
    if let Some(ports) = container.ports.as_deref().filter(|p| !p.is_empty()) {
        a.insert(CONTAINER_PORTS_ANNOTATION.into(), ports_json(ports));
    }
    a
}
