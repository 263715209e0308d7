//! The runtime half of CRI: pod sandboxes, containers, streaming, stats.
//!
//! Requests and responses are k8s-cri's generated runtime.v1 types, unchanged, so anything the
//! kubelet builds goes to the runtime as is.

use async_trait::async_trait;

use crate::api::*;
use crate::error::CriError;

/// The CRI `RuntimeService` calls a kubelet makes.
#[async_trait]
pub trait RuntimeService: Send + Sync {
    async fn version(&self, req: VersionRequest) -> Result<VersionResponse, CriError>;
    /// Runtime and network readiness (`RuntimeReady`, `NetworkReady` conditions).
    async fn status(&self, req: StatusRequest) -> Result<StatusResponse, CriError>;
    /// Hands the node's pod CIDR to the runtime.
    async fn update_runtime_config(
        &self,
        req: UpdateRuntimeConfigRequest,
    ) -> Result<UpdateRuntimeConfigResponse, CriError>;

    // Pod sandboxes.
    async fn run_pod_sandbox(
        &self,
        req: RunPodSandboxRequest,
    ) -> Result<RunPodSandboxResponse, CriError>;
    async fn stop_pod_sandbox(
        &self,
        req: StopPodSandboxRequest,
    ) -> Result<StopPodSandboxResponse, CriError>;
    async fn remove_pod_sandbox(
        &self,
        req: RemovePodSandboxRequest,
    ) -> Result<RemovePodSandboxResponse, CriError>;
    async fn pod_sandbox_status(
        &self,
        req: PodSandboxStatusRequest,
    ) -> Result<PodSandboxStatusResponse, CriError>;
    async fn list_pod_sandbox(
        &self,
        req: ListPodSandboxRequest,
    ) -> Result<ListPodSandboxResponse, CriError>;

    // Containers.
    async fn create_container(
        &self,
        req: CreateContainerRequest,
    ) -> Result<CreateContainerResponse, CriError>;
    async fn start_container(
        &self,
        req: StartContainerRequest,
    ) -> Result<StartContainerResponse, CriError>;
    /// Stops with a grace period of `req.timeout` seconds, then kills.
    async fn stop_container(
        &self,
        req: StopContainerRequest,
    ) -> Result<StopContainerResponse, CriError>;
    async fn remove_container(
        &self,
        req: RemoveContainerRequest,
    ) -> Result<RemoveContainerResponse, CriError>;
    async fn list_containers(
        &self,
        req: ListContainersRequest,
    ) -> Result<ListContainersResponse, CriError>;
    async fn container_status(
        &self,
        req: ContainerStatusRequest,
    ) -> Result<ContainerStatusResponse, CriError>;
    async fn update_container_resources(
        &self,
        req: UpdateContainerResourcesRequest,
    ) -> Result<UpdateContainerResourcesResponse, CriError>;
    /// Asks the runtime to reopen the container's log file (after the kubelet rotated it).
    async fn reopen_container_log(
        &self,
        req: ReopenContainerLogRequest,
    ) -> Result<ReopenContainerLogResponse, CriError>;

    // Streaming: exec-probes run through `exec_sync`; the others return a URL on the runtime's
    // streaming server that the kubelet proxies.
    async fn exec_sync(&self, req: ExecSyncRequest) -> Result<ExecSyncResponse, CriError>;
    async fn exec(&self, req: ExecRequest) -> Result<ExecResponse, CriError>;
    async fn attach(&self, req: AttachRequest) -> Result<AttachResponse, CriError>;
    async fn port_forward(&self, req: PortForwardRequest) -> Result<PortForwardResponse, CriError>;

    // Stats.
    async fn container_stats(
        &self,
        req: ContainerStatsRequest,
    ) -> Result<ContainerStatsResponse, CriError>;
    async fn list_container_stats(
        &self,
        req: ListContainerStatsRequest,
    ) -> Result<ListContainerStatsResponse, CriError>;
    async fn pod_sandbox_stats(
        &self,
        req: PodSandboxStatsRequest,
    ) -> Result<PodSandboxStatsResponse, CriError>;
    async fn list_pod_sandbox_stats(
        &self,
        req: ListPodSandboxStatsRequest,
    ) -> Result<ListPodSandboxStatsResponse, CriError>;
}
