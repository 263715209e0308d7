//! The CRI traits on `FakeRuntime`: each call locks the state once and runs synchronously.

use async_trait::async_trait;

use super::FakeRuntime;
use crate::api::*;
use crate::error::CriError;
use crate::image::ImageService;
use crate::runtime::RuntimeService;

#[async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self, _req: VersionRequest) -> Result<VersionResponse, CriError> {
        self.call("Version", |_| {
            Ok(VersionResponse {
                version: "0.1.0".into(),
                runtime_name: "berth-fake".into(),
                runtime_version: env!("CARGO_PKG_VERSION").into(),
                runtime_api_version: "v1".into(),
            })
        })
    }

    async fn status(&self, _req: StatusRequest) -> Result<StatusResponse, CriError> {
        self.call("Status", |state| Ok(state.status()))
    }

    async fn update_runtime_config(
        &self,
        req: UpdateRuntimeConfigRequest,
    ) -> Result<UpdateRuntimeConfigResponse, CriError> {
        self.call("UpdateRuntimeConfig", |state| {
            state.update_runtime_config(req)
        })
    }

    async fn run_pod_sandbox(
        &self,
        req: RunPodSandboxRequest,
    ) -> Result<RunPodSandboxResponse, CriError> {
        self.latency("RunPodSandbox").await;
        self.call("RunPodSandbox", |state| state.run_pod_sandbox(req))
    }

    async fn stop_pod_sandbox(
        &self,
        req: StopPodSandboxRequest,
    ) -> Result<StopPodSandboxResponse, CriError> {
        self.call("StopPodSandbox", |state| state.stop_pod_sandbox(req))
    }

    async fn remove_pod_sandbox(
        &self,
        req: RemovePodSandboxRequest,
    ) -> Result<RemovePodSandboxResponse, CriError> {
        self.call("RemovePodSandbox", |state| state.remove_pod_sandbox(req))
    }

    async fn pod_sandbox_status(
        &self,
        req: PodSandboxStatusRequest,
    ) -> Result<PodSandboxStatusResponse, CriError> {
        self.call("PodSandboxStatus", |state| state.pod_sandbox_status(req))
    }

    async fn list_pod_sandbox(
        &self,
        req: ListPodSandboxRequest,
    ) -> Result<ListPodSandboxResponse, CriError> {
        self.call("ListPodSandbox", |state| state.list_pod_sandbox(req))
    }

    async fn create_container(
        &self,
        req: CreateContainerRequest,
    ) -> Result<CreateContainerResponse, CriError> {
        self.latency("CreateContainer").await;
        self.call("CreateContainer", |state| state.create_container(req))
    }

    async fn start_container(
        &self,
        req: StartContainerRequest,
    ) -> Result<StartContainerResponse, CriError> {
        self.latency("StartContainer").await;
        self.call("StartContainer", |state| state.start_container(req))
    }

    async fn stop_container(
        &self,
        req: StopContainerRequest,
    ) -> Result<StopContainerResponse, CriError> {
        self.call("StopContainer", |state| state.stop_container(req))
    }

    async fn remove_container(
        &self,
        req: RemoveContainerRequest,
    ) -> Result<RemoveContainerResponse, CriError> {
        self.call("RemoveContainer", |state| state.remove_container(req))
    }

    async fn list_containers(
        &self,
        req: ListContainersRequest,
    ) -> Result<ListContainersResponse, CriError> {
        self.call("ListContainers", |state| state.list_containers(req))
    }

    async fn container_status(
        &self,
        req: ContainerStatusRequest,
    ) -> Result<ContainerStatusResponse, CriError> {
        self.call("ContainerStatus", |state| state.container_status(req))
    }

    async fn update_container_resources(
        &self,
        req: UpdateContainerResourcesRequest,
    ) -> Result<UpdateContainerResourcesResponse, CriError> {
        self.call("UpdateContainerResources", |state| {
            state.update_container_resources(req)
        })
    }

    async fn reopen_container_log(
        &self,
        req: ReopenContainerLogRequest,
    ) -> Result<ReopenContainerLogResponse, CriError> {
        self.call("ReopenContainerLog", |state| {
            state.reopen_container_log(req)
        })
    }

    async fn exec_sync(&self, req: ExecSyncRequest) -> Result<ExecSyncResponse, CriError> {
        self.call("ExecSync", |state| state.exec_sync(req))
    }

    async fn exec(&self, req: ExecRequest) -> Result<ExecResponse, CriError> {
        self.call("Exec", |state| state.exec(req))
    }

    async fn attach(&self, req: AttachRequest) -> Result<AttachResponse, CriError> {
        self.call("Attach", |state| state.attach(req))
    }

    async fn port_forward(&self, req: PortForwardRequest) -> Result<PortForwardResponse, CriError> {
        self.call("PortForward", |state| state.port_forward(req))
    }

    async fn container_stats(
        &self,
        req: ContainerStatsRequest,
    ) -> Result<ContainerStatsResponse, CriError> {
        self.call("ContainerStats", |state| state.container_stats(req))
    }

    async fn list_container_stats(
        &self,
        req: ListContainerStatsRequest,
    ) -> Result<ListContainerStatsResponse, CriError> {
        self.call("ListContainerStats", |state| {
            state.list_container_stats(req)
        })
    }

    async fn pod_sandbox_stats(
        &self,
        req: PodSandboxStatsRequest,
    ) -> Result<PodSandboxStatsResponse, CriError> {
        self.call("PodSandboxStats", |state| state.pod_sandbox_stats(req))
    }

    async fn list_pod_sandbox_stats(
        &self,
        req: ListPodSandboxStatsRequest,
    ) -> Result<ListPodSandboxStatsResponse, CriError> {
        self.call("ListPodSandboxStats", |state| {
            state.list_pod_sandbox_stats(req)
        })
    }
}

#[async_trait]
impl ImageService for FakeRuntime {
    async fn pull_image(&self, req: PullImageRequest) -> Result<PullImageResponse, CriError> {
        self.latency("PullImage").await;
        self.call("PullImage", |state| state.pull_image(req))
    }

    async fn image_status(&self, req: ImageStatusRequest) -> Result<ImageStatusResponse, CriError> {
        self.call("ImageStatus", |state| state.image_status(req))
    }

    async fn list_images(&self, req: ListImagesRequest) -> Result<ListImagesResponse, CriError> {
        self.call("ListImages", |state| state.list_images(req))
    }

    async fn remove_image(&self, req: RemoveImageRequest) -> Result<RemoveImageResponse, CriError> {
        self.call("RemoveImage", |state| state.remove_image(req))
    }

    async fn image_fs_info(
        &self,
        _req: ImageFsInfoRequest,
    ) -> Result<ImageFsInfoResponse, CriError> {
        self.call("ImageFsInfo", |state| state.image_fs_info())
    }
}

impl super::State {
    /// `RuntimeReady` always; `NetworkReady` as set, with containerd's message when not.
    fn status(&self) -> StatusResponse {
        let network = if self.network_ready {
            RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: true,
                reason: String::new(),
                message: String::new(),
            }
        } else {
            RuntimeCondition {
                r#type: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "Network plugin returns error: cni plugin not initialized".into(),
            }
        };
        StatusResponse {
            status: Some(RuntimeStatus {
                conditions: vec![
                    RuntimeCondition {
                        r#type: "RuntimeReady".into(),
                        status: true,
                        reason: String::new(),
                        message: String::new(),
                    },
                    network,
                ],
            }),
            info: Default::default(),
            runtime_handlers: vec![RuntimeHandler {
                name: String::new(),
                features: Some(RuntimeHandlerFeatures::default()),
            }],
            features: None,
        }
    }
}
