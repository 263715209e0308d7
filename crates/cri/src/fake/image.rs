//! Images in the fake runtime: present by name, pullable when a "registry" has them.

use super::{hex_id, ImageRecord, State};
use crate::api::*;
use crate::error::{Code, CriError};

/// Where the fake claims images live (containerd's overlayfs snapshotter folder).
const IMAGE_FS_MOUNTPOINT: &str = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs";

/// Normalizes an image reference as containerd (docker's rules) does:
/// `busybox` → `docker.io/library/busybox:latest`, `x.io/a/b` → `x.io/a/b:latest`.
/// Image ids (`sha256:...`) and digest references keep their form.
pub fn normalize_image_ref(reference: &str) -> String {
    let reference = reference.trim();
    if reference.is_empty() || reference.starts_with("sha256:") || is_bare_id(reference) {
        return reference.to_string();
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    let (first, rest) = match name.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    let has_domain =
        rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_domain {
        name.to_string()
    } else if rest.is_some() {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let last_component = full.rsplit('/').next().unwrap_or_default();
    match digest {
        Some(digest) => {
            full.push('@');
            full.push_str(digest);
        }
        None if !last_component.contains(':') => full.push_str(":latest"),
        None => {}
    }
    full
}

fn is_bare_id(reference: &str) -> bool {
    reference.len() == 64 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `docker.io/library/busybox:1.36` → `docker.io/library/busybox`.
fn repository(normalized: &str) -> &str {
    let name = normalized.split('@').next().unwrap_or(normalized);
    match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => &name[..colon],
        _ => name,
    }
}

impl State {
    pub(super) fn add_image(&mut self, reference: &str, size: u64) -> String {
        let name = normalize_image_ref(reference);
        if let Some(existing) = self.find_image(&name) {
            return existing.id.clone();
        }
        let id = format!("sha256:{}", hex_id(&format!("image:{name}")));
        let digest = format!(
            "{}@sha256:{}",
            repository(&name),
            hex_id(&format!("manifest:{name}"))
        );
        let record = self.images.entry(id.clone()).or_insert(ImageRecord {
            id: id.clone(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            size,
        });
        if !name.contains('@') {
            record.repo_tags.push(name);
        }
        record.repo_digests.push(digest);
        id
    }

    /// By id (with or without `sha256:`), tag, or digest reference.
    pub(super) fn find_image(&self, reference: &str) -> Option<&ImageRecord> {
        if reference.is_empty() {
            return None;
        }
        if is_bare_id(reference) {
            return self.images.get(&format!("sha256:{reference}"));
        }
        if let Some(image) = self.images.get(reference) {
            return Some(image);
        }
        let name = normalize_image_ref(reference);
        self.images
            .values()
            .find(|i| i.repo_tags.contains(&name) || i.repo_digests.contains(&name))
    }

    pub(super) fn pull_image(
        &mut self,
        req: PullImageRequest,
    ) -> Result<PullImageResponse, CriError> {
        const OP: &str = "PullImage";
        let requested = req.image.map(|i| i.image).unwrap_or_default();
        if requested.is_empty() {
            return Err(CriError::status(
                OP,
                Code::InvalidArgument,
                "image must not be empty",
            ));
        }
        let name = normalize_image_ref(&requested);
        if let Some(image) = self.find_image(&name) {
            return Ok(PullImageResponse {
                image_ref: image.id.clone(),
            });
        }
        match self.registry.get(&name).copied() {
            Some(size) => Ok(PullImageResponse {
                image_ref: self.add_image(&name, size),
            }),
            // containerd's words when the registry has no such manifest.
            None => Err(CriError::status(
                OP,
                Code::NotFound,
                format!(
                    "failed to pull and unpack image {name:?}: failed to resolve reference \
                     {name:?}: {name}: not found"
                ),
            )),
        }
    }

    pub(super) fn image_status(
        &self,
        req: ImageStatusRequest,
    ) -> Result<ImageStatusResponse, CriError> {
        let requested = req.image.map(|i| i.image).unwrap_or_default();
        Ok(ImageStatusResponse {
            image: self.find_image(&requested).map(to_cri_image),
            info: Default::default(),
        })
    }

    pub(super) fn list_images(
        &self,
        req: ListImagesRequest,
    ) -> Result<ListImagesResponse, CriError> {
        let wanted = req
            .filter
            .and_then(|f| f.image)
            .map(|i| i.image)
            .filter(|i| !i.is_empty());
        let images = match wanted {
            Some(reference) => self
                .find_image(&reference)
                .map(to_cri_image)
                .into_iter()
                .collect(),
            None => self.images.values().map(to_cri_image).collect(),
        };
        Ok(ListImagesResponse { images })
    }

    /// Removes the whole image (all its tags), as containerd does. Absent images succeed.
    pub(super) fn remove_image(
        &mut self,
        req: RemoveImageRequest,
    ) -> Result<RemoveImageResponse, CriError> {
        let requested = req.image.map(|i| i.image).unwrap_or_default();
        if let Some(id) = self.find_image(&requested).map(|i| i.id.clone()) {
            self.images.remove(&id);
        }
        Ok(RemoveImageResponse {})
    }

    pub(super) fn image_fs_info(&self) -> Result<ImageFsInfoResponse, CriError> {
        let used: u64 = self.images.values().map(|i| i.size).sum();
        Ok(ImageFsInfoResponse {
            image_filesystems: vec![FilesystemUsage {
                timestamp: self.now(),
                fs_id: Some(FilesystemIdentifier {
                    mountpoint: IMAGE_FS_MOUNTPOINT.into(),
                }),
                used_bytes: Some(UInt64Value { value: used }),
                inodes_used: Some(UInt64Value {
                    value: self.images.len() as u64,
                }),
            }],
            container_filesystems: Vec::new(),
        })
    }
}

fn to_cri_image(image: &ImageRecord) -> Image {
    Image {
        id: image.id.clone(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        size: image.size,
        uid: None,
        username: String::new(),
        spec: Some(ImageSpec {
            image: image.id.clone(),
            ..Default::default()
        }),
        pinned: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_follows_docker_rules() {
        for (input, want) in [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("bitnami/redis", "docker.io/bitnami/redis:latest"),
            ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
            ("localhost/app:v1", "localhost/app:v1"),
            (
                "busybox@sha256:abcd",
                "docker.io/library/busybox@sha256:abcd",
            ),
            ("sha256:0123", "sha256:0123"),
        ] {
            assert_eq!(normalize_image_ref(input), want, "{input}");
        }
    }

    #[test]
    fn repository_strips_tag_but_not_port() {
        assert_eq!(repository("127.0.0.1:5000/app:v1"), "127.0.0.1:5000/app");
        assert_eq!(repository("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
        assert_eq!(
            repository("docker.io/library/busybox@sha256:ab"),
            "docker.io/library/busybox"
        );
    }
}
