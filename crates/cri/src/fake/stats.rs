//! Stats in the fake runtime: usage set with `FakeRuntime::set_usage`, zero otherwise.

use super::{container_not_found, labels_match, resolve_id, sandbox_not_found, Container, State};
use crate::api::*;
use crate::error::CriError;

impl State {
    pub(super) fn container_stats(
        &self,
        req: ContainerStatsRequest,
    ) -> Result<ContainerStatsResponse, CriError> {
        const OP: &str = "ContainerStats";
        let c = resolve_id(&self.containers, &req.container_id)
            .and_then(|id| self.containers.get(id))
            .ok_or_else(|| container_not_found(OP, &req.container_id))?;
        Ok(ContainerStatsResponse {
            stats: Some(self.stats_of(c)),
        })
    }

    pub(super) fn list_container_stats(
        &self,
        req: ListContainerStatsRequest,
    ) -> Result<ListContainerStatsResponse, CriError> {
        let filter = req.filter.unwrap_or_default();
        let stats = self
            .containers
            .values()
            .filter(|c| filter.id.is_empty() || c.id.starts_with(&filter.id))
            .filter(|c| {
                filter.pod_sandbox_id.is_empty() || c.sandbox_id.starts_with(&filter.pod_sandbox_id)
            })
            .filter(|c| labels_match(&filter.label_selector, &c.config.labels))
            .map(|c| self.stats_of(c))
            .collect();
        Ok(ListContainerStatsResponse { stats })
    }

    pub(super) fn pod_sandbox_stats(
        &self,
        req: PodSandboxStatsRequest,
    ) -> Result<PodSandboxStatsResponse, CriError> {
        const OP: &str = "PodSandboxStats";
        let id = resolve_id(&self.sandboxes, &req.pod_sandbox_id)
            .ok_or_else(|| sandbox_not_found(OP, &req.pod_sandbox_id))?;
        Ok(PodSandboxStatsResponse {
            stats: self.sandbox_stats_of(id),
        })
    }

    pub(super) fn list_pod_sandbox_stats(
        &self,
        req: ListPodSandboxStatsRequest,
    ) -> Result<ListPodSandboxStatsResponse, CriError> {
        let filter = req.filter.unwrap_or_default();
        let stats = self
            .sandboxes
            .values()
            .filter(|s| s.ready)
            .filter(|s| filter.id.is_empty() || s.id.starts_with(&filter.id))
            .filter(|s| labels_match(&filter.label_selector, &s.config.labels))
            .filter_map(|s| self.sandbox_stats_of(&s.id))
            .collect();
        Ok(ListPodSandboxStatsResponse { stats })
    }

    fn stats_of(&self, c: &Container) -> ContainerStats {
        let now = self.now();
        let usage = self.usage.get(&c.id).copied().unwrap_or_default();
        let running = c.state == ContainerState::ContainerRunning;
        // Cumulative CPU as if the current rate had held since start.
        let ran_nanos = if running {
            u64::try_from(now.saturating_sub(c.started_at)).unwrap_or(0)
        } else {
            0
        };
        let core_nanos = ran_nanos.saturating_mul(usage.cpu_nano_cores) / 1_000_000_000;
        ContainerStats {
            attributes: Some(ContainerAttributes {
                id: c.id.clone(),
                metadata: c.config.metadata.clone(),
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
            }),
            cpu: Some(CpuUsage {
                timestamp: now,
                usage_core_nano_seconds: Some(UInt64Value { value: core_nanos }),
                usage_nano_cores: Some(UInt64Value {
                    value: if running { usage.cpu_nano_cores } else { 0 },
                }),
            }),
            memory: Some(MemoryUsage {
                timestamp: now,
                working_set_bytes: Some(UInt64Value {
                    value: if running {
                        usage.memory_working_set_bytes
                    } else {
                        0
                    },
                }),
                ..Default::default()
            }),
            writable_layer: Some(FilesystemUsage {
                timestamp: now,
                fs_id: None,
                used_bytes: Some(UInt64Value { value: 0 }),
                inodes_used: Some(UInt64Value { value: 0 }),
            }),
            swap: None,
        }
    }

    fn sandbox_stats_of(&self, id: &str) -> Option<PodSandboxStats> {
        let sandbox = self.sandboxes.get(id)?;
        let containers: Vec<ContainerStats> = self
            .containers
            .values()
            .filter(|c| c.sandbox_id == id)
            .map(|c| self.stats_of(c))
            .collect();
        let sum = |pick: fn(&ContainerStats) -> u64| containers.iter().map(pick).sum::<u64>();
        let cpu_cores = sum(|s| {
            s.cpu
                .as_ref()
                .and_then(|c| c.usage_nano_cores)
                .map_or(0, |v| v.value)
        });
        let cpu_total = sum(|s| {
            s.cpu
                .as_ref()
                .and_then(|c| c.usage_core_nano_seconds)
                .map_or(0, |v| v.value)
        });
        let memory = sum(|s| {
            s.memory
                .as_ref()
                .and_then(|m| m.working_set_bytes)
                .map_or(0, |v| v.value)
        });
        let now = self.now();
        Some(PodSandboxStats {
            attributes: Some(PodSandboxAttributes {
                id: sandbox.id.clone(),
                metadata: sandbox.config.metadata.clone(),
                labels: sandbox.config.labels.clone(),
                annotations: sandbox.config.annotations.clone(),
            }),
            linux: Some(LinuxPodSandboxStats {
                cpu: Some(CpuUsage {
                    timestamp: now,
                    usage_core_nano_seconds: Some(UInt64Value { value: cpu_total }),
                    usage_nano_cores: Some(UInt64Value { value: cpu_cores }),
                }),
                memory: Some(MemoryUsage {
                    timestamp: now,
                    working_set_bytes: Some(UInt64Value { value: memory }),
                    ..Default::default()
                }),
                network: None,
                process: None,
                containers,
            }),
            windows: None,
        })
    }
}
