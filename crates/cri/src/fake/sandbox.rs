//! Pod sandboxes in the fake runtime.

use std::net::Ipv4Addr;

use super::{labels_match, resolve_id, sandbox_not_found, Sandbox, State};
use crate::api::*;
use crate::error::{Code, CriError};

impl State {
    pub(super) fn run_pod_sandbox(
        &mut self,
        req: RunPodSandboxRequest,
    ) -> Result<RunPodSandboxResponse, CriError> {
        const OP: &str = "RunPodSandbox";
        let config = req.config.ok_or_else(|| {
            CriError::status(OP, Code::InvalidArgument, "sandbox config is required")
        })?;
        let metadata = config.metadata.clone().ok_or_else(|| {
            CriError::status(OP, Code::Unknown, "sandbox config must include metadata")
        })?;
        let name = format!(
            "{}_{}_{}_{}",
            metadata.name, metadata.namespace, metadata.uid, metadata.attempt
        );
        if let Some(holder) = self.sandboxes.values().find(|s| s.name == name) {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!(
                    "failed to reserve sandbox name {name:?}: name {name:?} is reserved for {:?}",
                    holder.id
                ),
            ));
        }
        let host_network = network_mode(&config) == NamespaceMode::Node;
        if host_network && !config.hostname.is_empty() {
            // runc refuses this; the kubelet must not set a hostname for hostNetwork pods.
            return Err(CriError::status(
                OP,
                Code::Unknown,
                "failed to create containerd task: failed to create shim task: OCI runtime \
                 create failed: runc create failed: unable to set hostname without a private \
                 UTS namespace: unknown",
            ));
        }
        let ip = if host_network {
            String::new()
        } else {
            self.allocate_ip()
        };
        let id = self.new_id();
        let sandbox = Sandbox {
            id: id.clone(),
            config,
            name,
            ready: true,
            created_at: self.now(),
            ip,
            runtime_handler: req.runtime_handler,
        };
        self.sandboxes.insert(id.clone(), sandbox);
        Ok(RunPodSandboxResponse { pod_sandbox_id: id })
    }

    /// Kills the sandbox's containers (no grace period, as containerd does) and marks it
    /// NOTREADY; the IP is released.
    pub(super) fn stop_pod_sandbox(
        &mut self,
        req: StopPodSandboxRequest,
    ) -> Result<StopPodSandboxResponse, CriError> {
        const OP: &str = "StopPodSandbox";
        let id = resolve_id(&self.sandboxes, &req.pod_sandbox_id)
            .map(str::to_string)
            .ok_or_else(|| sandbox_not_found(OP, &req.pod_sandbox_id))?;
        let running: Vec<String> = self
            .containers
            .values()
            .filter(|c| c.sandbox_id == id && c.state == ContainerState::ContainerRunning)
            .map(|c| c.id.clone())
            .collect();
        for container_id in running {
            self.kill_container(&container_id, 0);
        }
        if let Some(sandbox) = self.sandboxes.get_mut(&id) {
            sandbox.ready = false;
            sandbox.ip.clear();
        }
        Ok(StopPodSandboxResponse {})
    }

    /// Removes a sandbox and its containers (stopping it first if needed). Unknown ids succeed.
    pub(super) fn remove_pod_sandbox(
        &mut self,
        req: RemovePodSandboxRequest,
    ) -> Result<RemovePodSandboxResponse, CriError> {
        let Some(id) = resolve_id(&self.sandboxes, &req.pod_sandbox_id).map(str::to_string) else {
            return Ok(RemovePodSandboxResponse {});
        };
        if self.sandboxes.get(&id).is_some_and(|s| s.ready) {
            self.stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            })?;
        }
        self.containers.retain(|_, c| c.sandbox_id != id);
        self.sandboxes.remove(&id);
        Ok(RemovePodSandboxResponse {})
    }

    pub(super) fn pod_sandbox_status(
        &self,
        req: PodSandboxStatusRequest,
    ) -> Result<PodSandboxStatusResponse, CriError> {
        const OP: &str = "PodSandboxStatus";
        let sandbox = resolve_id(&self.sandboxes, &req.pod_sandbox_id)
            .and_then(|id| self.sandboxes.get(id))
            .ok_or_else(|| sandbox_not_found(OP, &req.pod_sandbox_id))?;
        let namespace_options = sandbox
            .config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.clone());
        let status = PodSandboxStatus {
            id: sandbox.id.clone(),
            metadata: sandbox.config.metadata.clone(),
            state: sandbox_state(sandbox) as i32,
            created_at: sandbox.created_at,
            network: Some(PodSandboxNetworkStatus {
                ip: sandbox.ip.clone(),
                additional_ips: Vec::new(),
            }),
            linux: Some(LinuxPodSandboxStatus {
                namespaces: Some(Namespace {
                    options: namespace_options,
                }),
            }),
            labels: sandbox.config.labels.clone(),
            annotations: sandbox.config.annotations.clone(),
            runtime_handler: sandbox.runtime_handler.clone(),
        };
        Ok(PodSandboxStatusResponse {
            status: Some(status),
            info: Default::default(),
            containers_statuses: Vec::new(),
            timestamp: self.now(),
        })
    }

    pub(super) fn list_pod_sandbox(
        &self,
        req: ListPodSandboxRequest,
    ) -> Result<ListPodSandboxResponse, CriError> {
        let filter = req.filter.unwrap_or_default();
        let items = self
            .sandboxes
            .values()
            .filter(|s| filter.id.is_empty() || s.id.starts_with(&filter.id))
            .filter(|s| {
                filter
                    .state
                    .as_ref()
                    .is_none_or(|want| want.state == sandbox_state(s) as i32)
            })
            .filter(|s| labels_match(&filter.label_selector, &s.config.labels))
            .map(|s| PodSandbox {
                id: s.id.clone(),
                metadata: s.config.metadata.clone(),
                state: sandbox_state(s) as i32,
                created_at: s.created_at,
                labels: s.config.labels.clone(),
                annotations: s.config.annotations.clone(),
                runtime_handler: s.runtime_handler.clone(),
            })
            .collect();
        Ok(ListPodSandboxResponse { items })
    }

    /// Takes the node's pod CIDR (IPv4) for later sandbox IPs.
    pub(super) fn update_runtime_config(
        &mut self,
        req: UpdateRuntimeConfigRequest,
    ) -> Result<UpdateRuntimeConfigResponse, CriError> {
        let cidr = req
            .runtime_config
            .and_then(|c| c.network_config)
            .map(|n| n.pod_cidr)
            .unwrap_or_default();
        // The kubelet may send several CIDRs separated by commas; the first IPv4 one counts.
        if let Some(parsed) = cidr.split(',').find_map(|c| parse_ipv4_cidr(c.trim())) {
            if parsed != self.pod_cidr {
                self.pod_cidr = parsed;
                self.next_ip_offset = 2;
            }
        }
        Ok(UpdateRuntimeConfigResponse {})
    }

    /// The next free address in the pod CIDR, skipping the network and gateway (.1).
    fn allocate_ip(&mut self) -> String {
        let (network, prefix) = self.pod_cidr;
        let size = 1u64 << (32 - u32::from(prefix.min(30)));
        let base = u32::from(network);
        let in_use: Vec<String> = self.sandboxes.values().map(|s| s.ip.clone()).collect();
        for _ in 0..size {
            let offset = self.next_ip_offset;
            self.next_ip_offset = if u64::from(offset) + 2 >= size {
                2
            } else {
                offset + 1
            };
            let ip = Ipv4Addr::from(base.wrapping_add(offset)).to_string();
            if !in_use.contains(&ip) {
                return ip;
            }
        }
        // Exhausted: real CNI would fail; the fake hands out the network address instead.
        network.to_string()
    }
}

fn sandbox_state(sandbox: &Sandbox) -> PodSandboxState {
    if sandbox.ready {
        PodSandboxState::SandboxReady
    } else {
        PodSandboxState::SandboxNotready
    }
}

fn network_mode(config: &PodSandboxConfig) -> NamespaceMode {
    config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .and_then(|s| s.namespace_options.as_ref())
        .and_then(|n| NamespaceMode::try_from(n.network).ok())
        .unwrap_or(NamespaceMode::Pod)
}

fn parse_ipv4_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = text.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if prefix > 32 {
        return None;
    }
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    Some((Ipv4Addr::from(u32::from(addr) & mask), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing_masks_host_bits() {
        assert_eq!(
            parse_ipv4_cidr("10.244.1.7/24"),
            Some((Ipv4Addr::new(10, 244, 1, 0), 24))
        );
        assert_eq!(parse_ipv4_cidr("fd00::/64"), None);
        assert_eq!(parse_ipv4_cidr("10.0.0.0/33"), None);
    }
}
