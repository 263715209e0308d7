//! What the runtime holds for one pod: its sandboxes and container
//! instances, found by the labels the kubelet puts on them.

use super::status::{Instance, RunState};
use berth_cri::api::{
    ContainerFilter, ContainerState, ContainerStatusRequest, ListContainersRequest,
    ListPodSandboxRequest, PodSandboxFilter, PodSandboxState, PodSandboxStatusRequest,
};
use berth_cri::{CriError, ImageService, RuntimeService};
use std::collections::HashMap;

pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// Everything a kubelet needs from a CRI runtime.
pub trait Runtime: RuntimeService + ImageService + Send + Sync {}
impl<T: RuntimeService + ImageService + Send + Sync> Runtime for T {}

#[derive(Clone, Debug)]
pub struct Sandbox {
    pub id: String,
    pub ready: bool,
    pub attempt: u32,
    pub created_at: i64,
    pub ip: Option<String>,
}

fn rfc3339_from_nanos(ns: i64) -> Option<String> {
    (ns > 0).then(|| {
        chrono::DateTime::from_timestamp(ns / 1_000_000_000, (ns % 1_000_000_000) as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default()
    })
}

/// The pod's sandboxes, newest first.
pub async fn sandboxes(rt: &dyn Runtime, pod_uid: &str) -> Result<Vec<Sandbox>, CriError> {
    let filter = PodSandboxFilter {
        label_selector: [(POD_UID_LABEL.to_string(), pod_uid.to_string())].into(),
        ..Default::default()
    };
    let list = rt
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await?;
    let mut out: Vec<Sandbox> = list
        .items
        .into_iter()
        .map(|s| Sandbox {
            ready: s.state == PodSandboxState::SandboxReady as i32,
            attempt: s.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            created_at: s.created_at,
            id: s.id,
            ip: None,
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    if let Some(first) = out.iter_mut().find(|s| s.ready) {
        let st = rt
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: first.id.clone(),
                verbose: false,
            })
            .await?;
        first.ip = st
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty());
    }
    Ok(out)
}

/// Container instances of a sandbox, by container name, newest attempt first.
pub async fn instances(
    rt: &dyn Runtime,
    sandbox_id: &str,
) -> Result<HashMap<String, Vec<Instance>>, CriError> {
    let filter = ContainerFilter {
        pod_sandbox_id: sandbox_id.to_string(),
        ..Default::default()
    };
    let list = rt
        .list_containers(ListContainersRequest {
            filter: Some(filter),
        })
        .await?;
    let mut by_name: HashMap<String, Vec<Instance>> = HashMap::new();
    for c in list.containers {
        let name = c
            .labels
            .get(CONTAINER_NAME_LABEL)
            .cloned()
            .or_else(|| c.metadata.as_ref().map(|m| m.name.clone()))
            .unwrap_or_default();
        let st = match rt
            .container_status(ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await
        {
            Ok(r) => r.status,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        let Some(st) = st else { continue };
        let state = match ContainerState::try_from(st.state) {
            Ok(ContainerState::ContainerCreated) => RunState::Created,
            Ok(ContainerState::ContainerRunning) => RunState::Running,
            Ok(ContainerState::ContainerExited) => RunState::Exited,
            _ => RunState::Unknown,
        };
        let message = if state == RunState::Exited {
            super::termination::message(&st)
        } else {
            st.message.clone()
        };
        by_name.entry(name).or_default().push(Instance {
            id: st.id,
            attempt: st.metadata.as_ref().map(|m| m.attempt).unwrap_or(0),
            state,
            exit_code: st.exit_code,
            reason: st.reason,
            message,
            started_at: rfc3339_from_nanos(st.started_at),
            finished_at: rfc3339_from_nanos(st.finished_at),
            finished_at_ns: st.finished_at,
            image: st.image.map(|i| i.image).unwrap_or_default(),
            image_ref: st.image_ref,
        });
    }
    for v in by_name.values_mut() {
        v.sort_by_key(|i| std::cmp::Reverse(i.attempt));
    }
    Ok(by_name)
}
