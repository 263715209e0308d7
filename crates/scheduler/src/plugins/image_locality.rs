//! ImageLocality: prefer nodes that already have the pod's images
//! (`node.status.images`), weighting each image by its size and by how many
//! nodes have it, so one node holding a popular image does not attract every
//! pod ("node heating").
//!
//! Image names are compared in canonical form on both sides ("nginx" and
//! "docker.io/library/nginx:latest" are the same image); upstream only adds
//! ":latest" to the pod's name, which misses containerd's fully qualified
//! names.

use super::{ScorePlugin, MAX_NODE_SCORE};
use crate::cycle_state::CycleState;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
/// Below this, having the image is worth nothing.
const MIN_THRESHOLD: i64 = 23 * MB;
/// Per container: above this, having the image is worth the full score.
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub struct ImageLocality;

/// The canonical reference: registry, repository path and tag or digest,
/// with Docker Hub's defaults filled in.
pub fn normalized_image_name(image: &str) -> String {
    let (name, suffix) = match image.find('@') {
        Some(at) => (&image[..at], &image[at..]),
        None => match image.rfind(':') {
            Some(colon) if colon > image.rfind('/').unwrap_or(0) => {
                (&image[..colon], &image[colon..])
            }
            _ => (image, ":latest"),
        },
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    format!("{full}{suffix}")
}

impl ScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn score(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo, snapshot: &Snapshot) -> i64 {
        let total_nodes = snapshot.num_nodes().max(1) as f64;
        let mut sum: i64 = 0;
        let mut containers: i64 = 0;
        for name in &pod.images {
            containers += 1;
            if let Some(size) = node.images.get(name) {
                let spread = snapshot.image_spread(name) as f64 / total_nodes;
                sum += (*size as f64 * spread) as i64;
            }
        }
        let max_threshold = MAX_CONTAINER_THRESHOLD * containers.max(1);
        let clamped = sum.clamp(MIN_THRESHOLD, max_threshold);
        MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{ContainerImage, Node};
    use std::sync::Arc;

    #[test]
    fn names_are_canonical() {
        assert_eq!(
            normalized_image_name("nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(
            normalized_image_name("nginx:1.25"),
            "docker.io/library/nginx:1.25"
        );
        assert_eq!(
            normalized_image_name("bitnami/redis"),
            "docker.io/bitnami/redis:latest"
        );
        assert_eq!(
            normalized_image_name("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalized_image_name("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalized_image_name("busybox@sha256:abc"),
            "docker.io/library/busybox@sha256:abc"
        );
    }

    fn with_image(name: &str, image: &str, size: i64) -> Node {
        let mut n = node(name, "4", "8Gi");
        if let Some(s) = n.status.as_mut() {
            s.images = Some(vec![ContainerImage {
                names: Some(vec![image.to_string()]),
                size_bytes: Some(size),
            }])
        }
        n
    }

    #[test]
    fn nodes_with_the_image_score_higher_scaled_by_spread() {
        let big = 500 * MB;
        let snap = Snapshot::from_objects(
            [
                with_image("a", "docker.io/library/busybox:latest", big),
                node("b", "4", "8Gi"),
            ],
            &[],
        );
        let p = PodInfo::new(Arc::new(pod("p", &[]))); // image "busybox"
        let a = snap
            .node("a")
            .map(|n| ImageLocality.score(&CycleState::default(), &p, n, &snap));
        let b = snap
            .node("b")
            .map(|n| ImageLocality.score(&CycleState::default(), &p, n, &snap));
        // 500 MiB × (1 of 2 nodes) = 250 MiB → 100 × (250 − 23) / (1000 − 23) = 23.
        assert_eq!(a, Some(23));
        assert_eq!(b, Some(0));
        // Small images are worth nothing.
        let snap = Snapshot::from_objects([with_image("a", "busybox", 5 * MB)], &[]);
        assert_eq!(
            snap.node("a")
                .map(|n| ImageLocality.score(&CycleState::default(), &p, n, &snap)),
            Some(0)
        );
    }
}
