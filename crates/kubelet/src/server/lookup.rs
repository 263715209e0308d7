//! Finding a pod's sandbox and container instances in the runtime by
//! namespace and name (the labels the kubelet put on them), and the log
//! file of the current or previous instance of a container.

use crate::pod::runtime::{
    self as rt, Runtime, Sandbox, POD_NAMESPACE_LABEL, POD_NAME_LABEL, POD_UID_LABEL,
};
use crate::pod::status::{Instance, RunState};
use berth_cri::api::{ContainerStatusRequest, ListPodSandboxRequest, PodSandboxFilter};
use berth_cri::CriError;
use std::path::{Path, PathBuf};

/// A pod as the runtime holds it.
#[derive(Clone, Debug)]
pub struct RuntimePod {
    pub uid: String,
    /// Newest first.
    pub sandboxes: Vec<Sandbox>,
}

/// The newest incarnation (by sandbox creation) of pod `ns/name` on this node.
pub async fn find_pod(
    rt: &dyn Runtime,
    ns: &str,
    name: &str,
) -> Result<Option<RuntimePod>, CriError> {
    let filter = PodSandboxFilter {
        label_selector: [
            (POD_NAME_LABEL.to_string(), name.to_string()),
            (POD_NAMESPACE_LABEL.to_string(), ns.to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let list = rt
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await?;
    let newest = list.items.iter().max_by_key(|s| s.created_at);
    let Some(uid) = newest.and_then(|s| s.labels.get(POD_UID_LABEL)).cloned() else {
        return Ok(None);
    };
    let sandboxes = rt::sandboxes(rt, &uid).await?;
    Ok(Some(RuntimePod { uid, sandboxes }))
}

/// Instances of `container` across the pod's sandboxes, newest first.
pub async fn instances(
    rt: &dyn Runtime,
    pod: &RuntimePod,
    container: &str,
) -> Result<Vec<Instance>, CriError> {
    let mut out = Vec::new();
    for s in &pod.sandboxes {
        let mut by_name = rt::instances(rt, &s.id).await?;
        out.extend(by_name.remove(container).unwrap_or_default());
    }
    Ok(out)
}

/// The running instance of `container`, if any.
pub fn running(instances: &[Instance]) -> Option<&Instance> {
    instances.iter().find(|i| i.state == RunState::Running)
}

/// The log file the runtime writes for container instance `id`.
pub async fn log_path(rt: &dyn Runtime, id: &str) -> Option<PathBuf> {
    let st = rt
        .container_status(ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await
        .ok()?
        .status?;
    (!st.log_path.is_empty()).then(|| PathBuf::from(st.log_path))
}

/// Restart numbers that have a `<n>.log` file in `dir`, ascending.
pub fn numbered_logs(dir: &Path) -> Vec<u32> {
    let mut found: Vec<u32> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".log")?
                .parse::<u32>()
                .ok()
        })
        .collect();
    found.sort_unstable();
    found
}

/// `<logs>/<ns>_<name>_<uid>/<container>`: where the pod's container logs are.
pub fn container_log_dir(
    logs_dir: &Path,
    ns: &str,
    name: &str,
    uid: &str,
    container: &str,
) -> PathBuf {
    logs_dir.join(format!("{ns}_{name}_{uid}")).join(container)
}

/// Without a sandbox (already removed), the most recently written log dir of the pod.
pub fn orphan_log_dir(logs_dir: &Path, ns: &str, name: &str, container: &str) -> Option<PathBuf> {
    let prefix = format!("{ns}_{name}_");
    std::fs::read_dir(logs_dir)
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .is_some_and(|uid| !uid.contains('_'))
        })
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, e.path().join(container)))
        })
        .max_by_key(|(m, _)| *m)
        .map(|(_, p)| p)
        .filter(|p| p.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_logs_are_sorted_and_ignore_others() {
        let dir = tempfile::tempdir().expect("tmp");
        for f in ["0.log", "2.log", "10.log", "1.log.20260101-000000", "x.log"] {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        assert_eq!(numbered_logs(dir.path()), vec![0, 2, 10]);
    }

    #[test]
    fn orphan_log_dir_picks_the_pod_by_exact_name() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("default_web_u1/c")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("default_web_x_u2/c")).expect("mkdir");
        assert_eq!(
            orphan_log_dir(dir.path(), "default", "web", "c"),
            Some(dir.path().join("default_web_u1/c"))
        );
        assert_eq!(orphan_log_dir(dir.path(), "default", "nope", "c"), None);
    }
}
