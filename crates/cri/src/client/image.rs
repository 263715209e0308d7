//! `ImageService` over gRPC.

use async_trait::async_trait;

use super::CriClient;
use crate::api::*;
use crate::error::CriError;
use crate::image::ImageService;

/// One unary call on the image service client with the given deadline.
macro_rules! image_rpc {
    ($self:ident, $op:literal, $deadline:expr, $req:ident, $method:ident) => {
        CriClient::call(
            $op,
            $self.image.clone(),
            $deadline,
            $req,
            |mut client, request| async move { client.$method(request).await },
        )
        .await
    };
}

#[async_trait]
impl ImageService for CriClient {
    async fn pull_image(&self, req: PullImageRequest) -> Result<PullImageResponse, CriError> {
        image_rpc!(
            self,
            "PullImage",
            self.options.pull_timeout,
            req,
            pull_image
        )
    }

    async fn image_status(&self, req: ImageStatusRequest) -> Result<ImageStatusResponse, CriError> {
        image_rpc!(
            self,
            "ImageStatus",
            self.request_deadline(),
            req,
            image_status
        )
    }

    async fn list_images(&self, req: ListImagesRequest) -> Result<ListImagesResponse, CriError> {
        image_rpc!(
            self,
            "ListImages",
            self.request_deadline(),
            req,
            list_images
        )
    }

    async fn remove_image(&self, req: RemoveImageRequest) -> Result<RemoveImageResponse, CriError> {
        image_rpc!(
            self,
            "RemoveImage",
            self.request_deadline(),
            req,
            remove_image
        )
    }

    async fn image_fs_info(
        &self,
        req: ImageFsInfoRequest,
    ) -> Result<ImageFsInfoResponse, CriError> {
        image_rpc!(
            self,
            "ImageFsInfo",
            self.request_deadline(),
            req,
            image_fs_info
        )
    }
}
