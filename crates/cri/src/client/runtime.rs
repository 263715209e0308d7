//! `RuntimeService` over gRPC.

use async_trait::async_trait;

use super::CriClient;
use crate::api::*;
use crate::error::CriError;
use crate::runtime::RuntimeService;

/// One unary call on the runtime service client with the given deadline.
macro_rules! runtime_rpc {
    ($self:ident, $op:literal, $deadline:expr, $req:ident, $method:ident) => {
        CriClient::call(
            $op,
            $self.runtime.clone(),
            $deadline,
            $req,
            |mut client, request| async move { client.$method(request).await },
        )
        .await
    };
}

#[async_trait]
impl RuntimeService for CriClient {
    async fn version(&self, req: VersionRequest) -> Result<VersionResponse, CriError> {
        runtime_rpc!(self, "Version", self.request_deadline(), req, version)
    }

    async fn status(&self, req: StatusRequest) -> Result<StatusResponse, CriError> {
        runtime_rpc!(self, "Status", self.request_deadline(), req, status)
    }

    async fn update_runtime_config(
        &self,
        req: UpdateRuntimeConfigRequest,
    ) -> Result<UpdateRuntimeConfigResponse, CriError> {
        runtime_rpc!(
            self,
            "UpdateRuntimeConfig",
            self.request_deadline(),
            req,
            update_runtime_config
        )
    }

    async fn run_pod_sandbox(
        &self,
        req: RunPodSandboxRequest,
    ) -> Result<RunPodSandboxResponse, CriError> {
        runtime_rpc!(
            self,
            "RunPodSandbox",
            self.request_deadline(),
            req,
            run_pod_sandbox
        )
    }

    async fn stop_pod_sandbox(
        &self,
        req: StopPodSandboxRequest,
    ) -> Result<StopPodSandboxResponse, CriError> {
        runtime_rpc!(
            self,
            "StopPodSandbox",
            self.request_deadline(),
            req,
            stop_pod_sandbox
        )
    }

    async fn remove_pod_sandbox(
        &self,
        req: RemovePodSandboxRequest,
    ) -> Result<RemovePodSandboxResponse, CriError> {
        runtime_rpc!(
            self,
            "RemovePodSandbox",
            self.request_deadline(),
            req,
            remove_pod_sandbox
        )
    }

    async fn pod_sandbox_status(
        &self,
        req: PodSandboxStatusRequest,
    ) -> Result<PodSandboxStatusResponse, CriError> {
        runtime_rpc!(
            self,
            "PodSandboxStatus",
            self.request_deadline(),
            req,
            pod_sandbox_status
        )
    }

    async fn list_pod_sandbox(
        &self,
        req: ListPodSandboxRequest,
    ) -> Result<ListPodSandboxResponse, CriError> {
        runtime_rpc!(
            self,
            "ListPodSandbox",
            self.request_deadline(),
            req,
            list_pod_sandbox
        )
    }

    async fn create_container(
        &self,
        req: CreateContainerRequest,
    ) -> Result<CreateContainerResponse, CriError> {
        runtime_rpc!(
            self,
            "CreateContainer",
            self.request_deadline(),
            req,
            create_container
        )
    }

    async fn start_container(
        &self,
        req: StartContainerRequest,
    ) -> Result<StartContainerResponse, CriError> {
        runtime_rpc!(
            self,
            "StartContainer",
            self.request_deadline(),
            req,
            start_container
        )
    }

    async fn stop_container(
        &self,
        req: StopContainerRequest,
    ) -> Result<StopContainerResponse, CriError> {
        let deadline = self.deadline_plus_seconds(req.timeout);
        runtime_rpc!(self, "StopContainer", deadline, req, stop_container)
    }

    async fn remove_container(
        &self,
        req: RemoveContainerRequest,
    ) -> Result<RemoveContainerResponse, CriError> {
        runtime_rpc!(
            self,
            "RemoveContainer",
            self.request_deadline(),
            req,
            remove_container
        )
    }

    async fn list_containers(
        &self,
        req: ListContainersRequest,
    ) -> Result<ListContainersResponse, CriError> {
        runtime_rpc!(
            self,
            "ListContainers",
            self.request_deadline(),
            req,
            list_containers
        )
    }

    async fn container_status(
        &self,
        req: ContainerStatusRequest,
    ) -> Result<ContainerStatusResponse, CriError> {
        runtime_rpc!(
            self,
            "ContainerStatus",
            self.request_deadline(),
            req,
            container_status
        )
    }

    async fn update_container_resources(
        &self,
        req: UpdateContainerResourcesRequest,
    ) -> Result<UpdateContainerResourcesResponse, CriError> {
        runtime_rpc!(
            self,
            "UpdateContainerResources",
            self.request_deadline(),
            req,
            update_container_resources
        )
    }

    async fn reopen_container_log(
        &self,
        req: ReopenContainerLogRequest,
    ) -> Result<ReopenContainerLogResponse, CriError> {
        runtime_rpc!(
            self,
            "ReopenContainerLog",
            self.request_deadline(),
            req,
            reopen_container_log
        )
    }

    async fn exec_sync(&self, req: ExecSyncRequest) -> Result<ExecSyncResponse, CriError> {
        // Like the kubelet: without a command timeout there is no deadline at all.
        let deadline = if req.timeout > 0 {
            self.deadline_plus_seconds(req.timeout)
        } else {
            None
        };
        runtime_rpc!(self, "ExecSync", deadline, req, exec_sync)
    }

    async fn exec(&self, req: ExecRequest) -> Result<ExecResponse, CriError> {
        runtime_rpc!(self, "Exec", self.request_deadline(), req, exec)
    }

    async fn attach(&self, req: AttachRequest) -> Result<AttachResponse, CriError> {
        runtime_rpc!(self, "Attach", self.request_deadline(), req, attach)
    }

    async fn port_forward(&self, req: PortForwardRequest) -> Result<PortForwardResponse, CriError> {
        runtime_rpc!(
            self,
            "PortForward",
            self.request_deadline(),
            req,
            port_forward
        )
    }

    async fn container_stats(
        &self,
        req: ContainerStatsRequest,
    ) -> Result<ContainerStatsResponse, CriError> {
        runtime_rpc!(
            self,
            "ContainerStats",
            self.request_deadline(),
            req,
            container_stats
        )
    }

    async fn list_container_stats(
        &self,
        req: ListContainerStatsRequest,
    ) -> Result<ListContainerStatsResponse, CriError> {
        runtime_rpc!(
            self,
            "ListContainerStats",
            self.request_deadline(),
            req,
            list_container_stats
        )
    }

    async fn pod_sandbox_stats(
        &self,
        req: PodSandboxStatsRequest,
    ) -> Result<PodSandboxStatsResponse, CriError> {
        runtime_rpc!(
            self,
            "PodSandboxStats",
            self.request_deadline(),
            req,
            pod_sandbox_stats
        )
    }

    async fn list_pod_sandbox_stats(
        &self,
        req: ListPodSandboxStatsRequest,
    ) -> Result<ListPodSandboxStatsResponse, CriError> {
        runtime_rpc!(
            self,
            "ListPodSandboxStats",
            self.request_deadline(),
            req,
            list_pod_sandbox_stats
        )
    }
}
