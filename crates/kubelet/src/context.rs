//! What every pod worker shares: configuration, API client, runtime,
//! volume manager, event recorder, and the API-backed sources for env,
//! volumes and probe execs.

use crate::config::KubeletConfig;
use crate::events::Recorder;
use crate::pod::runtime::Runtime;
use k8s_openapi::api::core::v1::Pod;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Context {
    pub cfg: KubeletConfig,
    pub client: kube::Client,
    pub runtime: Arc<dyn Runtime>,
    pub volumes: berth_volumes::VolumeManager,
    pub recorder: Recorder,
    pub env_source: Arc<dyn berth_podspec::EnvSource>,
    pub exec: Arc<dyn berth_probes::ExecRunner>,
    pub allocatable: berth_podspec::Allocatable,
}

impl Context {
    /// `<root>/pod-logs/<ns>_<name>_<uid>`: where CRI writes the pod's container logs.
    pub fn pod_log_dir(&self, pod: &Pod) -> PathBuf {
        self.cfg.logs_dir().join(format!(
            "{}_{}_{}",
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or(""),
            pod.metadata.uid.as_deref().unwrap_or("")
        ))
    }
}
