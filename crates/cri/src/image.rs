//! The image half of CRI: pulling, inspecting and removing images.

use async_trait::async_trait;

use crate::api::*;
use crate::error::CriError;

/// The CRI `ImageService` calls a kubelet makes.
#[async_trait]
pub trait ImageService: Send + Sync {
    /// Pulls an image; the response's `image_ref` is the image id the kubelet records.
    async fn pull_image(&self, req: PullImageRequest) -> Result<PullImageResponse, CriError>;
    /// An absent image is not an error: the response's `image` is `None`.
    async fn image_status(&self, req: ImageStatusRequest) -> Result<ImageStatusResponse, CriError>;
    async fn list_images(&self, req: ListImagesRequest) -> Result<ListImagesResponse, CriError>;
    /// Removing an absent image succeeds.
    async fn remove_image(&self, req: RemoveImageRequest) -> Result<RemoveImageResponse, CriError>;
    /// Usage of the filesystem(s) holding images, for image garbage collection.
    async fn image_fs_info(&self, req: ImageFsInfoRequest)
        -> Result<ImageFsInfoResponse, CriError>;
}
