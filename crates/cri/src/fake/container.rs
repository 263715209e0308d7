//! Containers (and the streaming calls on them) in the fake runtime.

use std::path::Path;

use super::{
    container_not_found, labels_match, normalize_image_ref, resolve_id, sandbox_not_found,
    Container, FakeBehaviour, State,
};
use crate::api::*;
use crate::error::{Code, CriError};

/// containerd's exit code and reason for a container whose start failed.
const START_ERROR_EXIT_CODE: i32 = 128;
/// Exit code of a process killed by SIGKILL.
const KILLED_EXIT_CODE: i32 = 137;

impl State {
    pub(super) fn create_container(
        &mut self,
        req: CreateContainerRequest,
    ) -> Result<CreateContainerResponse, CriError> {
        const OP: &str = "CreateContainer";
        let sandbox_id = resolve_id(&self.sandboxes, &req.pod_sandbox_id)
            .map(str::to_string)
            .ok_or_else(|| sandbox_not_found(OP, &req.pod_sandbox_id))?;
        let config = req.config.ok_or_else(|| {
            CriError::status(OP, Code::InvalidArgument, "container config is required")
        })?;
        let metadata = config.metadata.clone().ok_or_else(|| {
            CriError::status(OP, Code::Unknown, "container config must include metadata")
        })?;
        let image_name = config
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default();
        let (image_id, image_ref, image_tags) = match self.find_image(&image_name) {
            Some(image) => (
                image.id.clone(),
                image
                    .repo_digests
                    .first()
                    .cloned()
                    .unwrap_or_else(|| image.id.clone()),
                image.repo_tags.clone(),
            ),
            None => {
                return Err(CriError::status(
                    OP,
                    Code::NotFound,
                    format!("failed to resolve image {image_name:?}: not found"),
                ))
            }
        };
        let (sandbox_name, log_directory) = self
            .sandboxes
            .get(&sandbox_id)
            .map(|s| (s.name.clone(), s.config.log_directory.clone()))
            .unwrap_or_default();
        // containerd's reserved name: container name, sandbox name, attempt.
        let name = format!("{}_{}_{}", metadata.name, sandbox_name, metadata.attempt);
        if let Some(holder) = self.containers.values().find(|c| c.name == name) {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!(
                    "failed to reserve container name {name:?}: name {name:?} is reserved for {:?}",
                    holder.id
                ),
            ));
        }
        let behaviour = self.behaviour_for(&config, &image_tags);
        let log_path = if config.log_path.is_empty() {
            String::new()
        } else {
            Path::new(&log_directory)
                .join(&config.log_path)
                .display()
                .to_string()
        };
        let resources = config.linux.as_ref().and_then(|l| l.resources.clone());
        let id = self.new_id();
        let container = Container {
            id: id.clone(),
            sandbox_id,
            name,
            config,
            log_path,
            image_id,
            image_ref,
            state: ContainerState::ContainerCreated,
            created_at: self.now(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            resources,
            behaviour,
        };
        self.containers.insert(id.clone(), container);
        Ok(CreateContainerResponse { container_id: id })
    }

    pub(super) fn start_container(
        &mut self,
        req: StartContainerRequest,
    ) -> Result<StartContainerResponse, CriError> {
        const OP: &str = "StartContainer";
        let id = self.resolve_container(OP, &req.container_id)?;
        let now = self.now();
        let sandbox_ready = self
            .containers
            .get(&id)
            .and_then(|c| self.sandboxes.get(&c.sandbox_id))
            .is_some_and(|s| s.ready);
        let Some(container) = self.containers.get_mut(&id) else {
            return Err(container_not_found(OP, &req.container_id));
        };
        if container.state != ContainerState::ContainerCreated {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!(
                    "failed to set starting state for container {id:?}: container is in {} state",
                    container.state.as_str_name()
                ),
            ));
        }
        if !sandbox_ready {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!(
                    "sandbox container {:?} is not running",
                    container.sandbox_id
                ),
            ));
        }
        match container.behaviour.clone() {
            FakeBehaviour::RunForever | FakeBehaviour::IgnoreSigterm => {
                container.state = ContainerState::ContainerRunning;
                container.started_at = now;
            }
            FakeBehaviour::Exit(code) => {
                container.started_at = now;
                finish(container, now, code, None);
            }
            FakeBehaviour::OomKilled => {
                container.started_at = now;
                finish(container, now, KILLED_EXIT_CODE, Some("OOMKilled"));
            }
            FakeBehaviour::StartError(message) => {
                // containerd leaves started_at unset and records the failure as the exit.
                container.state = ContainerState::ContainerExited;
                container.finished_at = now;
                container.exit_code = START_ERROR_EXIT_CODE;
                container.reason = "StartError".into();
                container.message = message.clone();
                return Err(CriError::status(OP, Code::Unknown, message));
            }
        }
        Ok(StartContainerResponse {})
    }

    pub(super) fn stop_container(
        &mut self,
        req: StopContainerRequest,
    ) -> Result<StopContainerResponse, CriError> {
        const OP: &str = "StopContainer";
        let id = self.resolve_container(OP, &req.container_id)?;
        // Stopping a container that is not running is a no-op, as in containerd.
        self.kill_container(&id, req.timeout);
        Ok(StopContainerResponse {})
    }

    /// Removes a container, killing it first if it runs. Unknown ids succeed.
    pub(super) fn remove_container(
        &mut self,
        req: RemoveContainerRequest,
    ) -> Result<RemoveContainerResponse, CriError> {
        let Some(id) = resolve_id(&self.containers, &req.container_id).map(str::to_string) else {
            return Ok(RemoveContainerResponse {});
        };
        self.kill_container(&id, 0);
        self.containers.remove(&id);
        self.usage.remove(&id);
        Ok(RemoveContainerResponse {})
    }

    pub(super) fn list_containers(
        &self,
        req: ListContainersRequest,
    ) -> Result<ListContainersResponse, CriError> {
        let filter = req.filter.unwrap_or_default();
        let containers = self
            .containers
            .values()
            .filter(|c| filter.id.is_empty() || c.id.starts_with(&filter.id))
            .filter(|c| {
                filter.pod_sandbox_id.is_empty() || c.sandbox_id.starts_with(&filter.pod_sandbox_id)
            })
            .filter(|c| {
                filter
                    .state
                    .as_ref()
                    .is_none_or(|want| want.state == c.state as i32)
            })
            .filter(|c| labels_match(&filter.label_selector, &c.config.labels))
            .map(|c| crate::api::Container {
                id: c.id.clone(),
                pod_sandbox_id: c.sandbox_id.clone(),
                metadata: c.config.metadata.clone(),
                image: c.config.image.clone(),
                image_ref: c.image_ref.clone(),
                state: c.state as i32,
                created_at: c.created_at,
                labels: c.config.labels.clone(),
                annotations: c.config.annotations.clone(),
                image_id: c.image_id.clone(),
            })
            .collect();
        Ok(ListContainersResponse { containers })
    }

    pub(super) fn container_status(
        &self,
        req: ContainerStatusRequest,
    ) -> Result<ContainerStatusResponse, CriError> {
        const OP: &str = "ContainerStatus";
        let c = resolve_id(&self.containers, &req.container_id)
            .and_then(|id| self.containers.get(id))
            .ok_or_else(|| container_not_found(OP, &req.container_id))?;
        let status = ContainerStatus {
            id: c.id.clone(),
            metadata: c.config.metadata.clone(),
            state: c.state as i32,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            exit_code: c.exit_code,
            image: c.config.image.clone(),
            image_ref: c.image_ref.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            labels: c.config.labels.clone(),
            annotations: c.config.annotations.clone(),
            mounts: c.config.mounts.clone(),
            log_path: c.log_path.clone(),
            resources: c.resources.clone().map(|linux| ContainerResources {
                linux: Some(linux),
                windows: None,
            }),
            image_id: c.image_id.clone(),
            user: None,
        };
        Ok(ContainerStatusResponse {
            status: Some(status),
            info: Default::default(),
        })
    }

    pub(super) fn update_container_resources(
        &mut self,
        req: UpdateContainerResourcesRequest,
    ) -> Result<UpdateContainerResourcesResponse, CriError> {
        const OP: &str = "UpdateContainerResources";
        let id = self.resolve_container(OP, &req.container_id)?;
        let Some(container) = self.containers.get_mut(&id) else {
            return Err(container_not_found(OP, &req.container_id));
        };
        if container.state == ContainerState::ContainerExited {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!(
                    "failed to update resources: container {id:?} is in {} state",
                    container.state.as_str_name()
                ),
            ));
        }
        if let Some(linux) = req.linux {
            container.resources = Some(linux);
        }
        Ok(UpdateContainerResourcesResponse {})
    }

    pub(super) fn reopen_container_log(
        &self,
        req: ReopenContainerLogRequest,
    ) -> Result<ReopenContainerLogResponse, CriError> {
        const OP: &str = "ReopenContainerLog";
        self.running_container(OP, &req.container_id, "container is not running")?;
        Ok(ReopenContainerLogResponse {})
    }

    pub(super) fn exec_sync(&self, req: ExecSyncRequest) -> Result<ExecSyncResponse, CriError> {
        const OP: &str = "ExecSync";
        self.running_container(OP, &req.container_id, "failed to exec in container")?;
        let key = req.cmd.join(" ");
        Ok(self.exec_results.get(&key).cloned().unwrap_or_default())
    }

    /// Streaming URLs point nowhere: the fake has no streaming server.
    pub(super) fn exec(&self, req: ExecRequest) -> Result<ExecResponse, CriError> {
        const OP: &str = "Exec";
        let c = self.running_container(OP, &req.container_id, "failed to exec in container")?;
        Ok(ExecResponse {
            url: format!("http://127.0.0.1:0/exec/{}", &c.id[..8]),
        })
    }

    pub(super) fn attach(&self, req: AttachRequest) -> Result<AttachResponse, CriError> {
        const OP: &str = "Attach";
        let c = self.running_container(OP, &req.container_id, "failed to attach")?;
        Ok(AttachResponse {
            url: format!("http://127.0.0.1:0/attach/{}", &c.id[..8]),
        })
    }

    pub(super) fn port_forward(
        &self,
        req: PortForwardRequest,
    ) -> Result<PortForwardResponse, CriError> {
        const OP: &str = "PortForward";
        let sandbox = resolve_id(&self.sandboxes, &req.pod_sandbox_id)
            .and_then(|id| self.sandboxes.get(id))
            .ok_or_else(|| sandbox_not_found(OP, &req.pod_sandbox_id))?;
        if !sandbox.ready {
            return Err(CriError::status(
                OP,
                Code::Unknown,
                format!("sandbox {:?} is not running", sandbox.id),
            ));
        }
        Ok(PortForwardResponse {
            url: format!("http://127.0.0.1:0/portforward/{}", &sandbox.id[..8]),
        })
    }

    /// A running process exits by itself (test/simulator hook).
    pub(super) fn process_exited(
        &mut self,
        container_id: &str,
        exit_code: i32,
        reason: Option<&str>,
    ) -> Result<(), CriError> {
        const OP: &str = "ProcessExited";
        let id = self.resolve_container(OP, container_id)?;
        self.tick();
        let now = self.now();
        let Some(container) = self.containers.get_mut(&id) else {
            return Err(container_not_found(OP, container_id));
        };
        if container.state != ContainerState::ContainerRunning {
            return Err(CriError::status(
                OP,
                Code::FailedPrecondition,
                format!("container is in {} state", container.state.as_str_name()),
            ));
        }
        finish(container, now, exit_code, reason);
        Ok(())
    }

    /// Stops a running container with a grace period of `grace_seconds`, following its
    /// behaviour; waiting out the grace period advances the manual clock instead of sleeping.
    pub(super) fn kill_container(&mut self, id: &str, grace_seconds: i64) {
        let Some(behaviour) = self
            .containers
            .get(id)
            .filter(|c| c.state == ContainerState::ContainerRunning)
            .map(|c| c.behaviour.clone())
        else {
            return;
        };
        let exit_code = match behaviour {
            FakeBehaviour::IgnoreSigterm => {
                if let super::Clock::Manual(nanos) = &mut self.clock {
                    *nanos = nanos.saturating_add(grace_seconds.max(0) * 1_000_000_000);
                }
                KILLED_EXIT_CODE
            }
            _ if grace_seconds <= 0 => KILLED_EXIT_CODE,
            _ => 0,
        };
        let now = self.now();
        if let Some(container) = self.containers.get_mut(id) {
            finish(container, now, exit_code, None);
        }
    }

    fn resolve_container(&self, op: &'static str, id: &str) -> Result<String, CriError> {
        resolve_id(&self.containers, id)
            .map(str::to_string)
            .ok_or_else(|| container_not_found(op, id))
    }

    fn running_container(
        &self,
        op: &'static str,
        id: &str,
        context: &str,
    ) -> Result<&Container, CriError> {
        let c = resolve_id(&self.containers, id)
            .and_then(|key| self.containers.get(key))
            .ok_or_else(|| container_not_found(op, id))?;
        if c.state != ContainerState::ContainerRunning {
            return Err(CriError::status(
                op,
                Code::Unknown,
                format!("{context}: container is in {} state", c.state.as_str_name()),
            ));
        }
        Ok(c)
    }

    /// Command rules first (whole argv, then argv[0]), then image rules, then run forever.
    fn behaviour_for(&self, config: &ContainerConfig, image_tags: &[String]) -> FakeBehaviour {
        let argv: Vec<&str> = config
            .command
            .iter()
            .chain(config.args.iter())
            .map(String::as_str)
            .collect();
        let by_command = self.command_behaviours.get(&argv.join(" ")).or_else(|| {
            argv.first()
                .and_then(|first| self.command_behaviours.get(*first))
        });
        let requested = config.image.as_ref().map(|i| normalize_image_ref(&i.image));
        by_command
            .or_else(|| requested.and_then(|name| self.image_behaviours.get(&name)))
            .or_else(|| {
                image_tags
                    .iter()
                    .find_map(|tag| self.image_behaviours.get(tag))
            })
            .cloned()
            .unwrap_or_default()
    }
}

/// Marks a container EXITED with containerd's reason for the exit.
fn finish(container: &mut Container, now: i64, exit_code: i32, reason: Option<&str>) {
    container.state = ContainerState::ContainerExited;
    container.finished_at = now;
    container.exit_code = exit_code;
    container.reason = match reason {
        Some(reason) => reason.to_string(),
        None if exit_code == 0 => "Completed".into(),
        None => "Error".into(),
    };
}
