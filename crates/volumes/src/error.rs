//! Errors worded like the kubelet's, so the node agent can put them in events unchanged
//! (`FailedMount` for set-up failures, `Failed` for container mount failures).

/// What went wrong while preparing, mounting or tearing down a pod's volumes.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// One volume could not be set up; `message` is what upstream's plugin would say.
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : {message}")]
    SetUp { volume: String, message: String },

    /// The volume uses a plugin berth does not implement (nfs, iscsi, csi, ...).
    #[error("MountVolume.SetUp failed for volume \"{volume}\" : volume type not supported by berth: {kind}")]
    Unsupported { volume: String, kind: String },

    /// Several volumes failed; each one is reported on its own (one event per volume).
    #[error("{}", join_messages(.0))]
    Many(Vec<VolumeError>),

    /// A container's volumeMount could not be turned into a CRI mount (bad subPath, unknown
    /// volume, ...). The kubelet reports these as `CreateContainerConfigError`.
    #[error("{message}")]
    ContainerMount { message: String },

    /// The pod object itself cannot be used (no uid, a volume name that is not a path element).
    #[error("invalid pod: {0}")]
    InvalidPod(String),

    /// Unmounting or deleting the pod's volume directories failed.
    #[error("UnmountVolume.TearDown failed for pod \"{pod_uid}\" : {message}")]
    TearDown { pod_uid: String, message: String },
}

impl VolumeError {
    pub(crate) fn set_up(volume: &str, message: impl Into<String>) -> Self {
        VolumeError::SetUp {
            volume: volume.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn container_mount(message: impl Into<String>) -> Self {
        VolumeError::ContainerMount {
            message: message.into(),
        }
    }

    /// The individual failures: `Many` flattened, anything else as itself.
    pub fn failures(&self) -> Vec<&VolumeError> {
        match self {
            VolumeError::Many(all) => all.iter().flat_map(|e| e.failures()).collect(),
            other => vec![other],
        }
    }

    /// The volume a failure is about, when it is about one.
    pub fn volume(&self) -> Option<&str> {
        match self {
            VolumeError::SetUp { volume, .. } | VolumeError::Unsupported { volume, .. } => {
                Some(volume)
            }
            _ => None,
        }
    }

    /// The event reason the kubelet uses for this failure.
    pub fn event_reason(&self) -> &'static str {
        match self {
            VolumeError::SetUp { .. } | VolumeError::Unsupported { .. } | VolumeError::Many(_) => {
                "FailedMount"
            }
            VolumeError::ContainerMount { .. } | VolumeError::InvalidPod(_) => "Failed",
            VolumeError::TearDown { .. } => "FailedUnmount",
        }
    }
}

fn join_messages(errors: &[VolumeError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_message_matches_kubelet_event() {
        let err = VolumeError::set_up("x", "configmap \"y\" not found");
        assert_eq!(
            err.to_string(),
            "MountVolume.SetUp failed for volume \"x\" : configmap \"y\" not found"
        );
        assert_eq!(err.event_reason(), "FailedMount");
    }

    #[test]
    fn many_flattens_into_single_failures() {
        let err = VolumeError::Many(vec![
            VolumeError::set_up("a", "one"),
            VolumeError::Unsupported {
                volume: "b".into(),
                kind: "nfs".into(),
            },
        ]);
        let volumes: Vec<_> = err.failures().iter().filter_map(|e| e.volume()).collect();
        assert_eq!(volumes, vec!["a", "b"]);
        assert!(err
            .to_string()
            .contains("volume type not supported by berth: nfs"));
    }
}
