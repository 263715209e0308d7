//! WebSocket `v5.channel.k8s.io` (kubectl ≥ 1.30 exec/attach).

use super::http::{bad_request, Body};
use super::streams::StreamOptions;
use http::{Request, Response};
use hyper::body::Incoming;

pub const V5_PROTOCOL: &str = "v5.channel.k8s.io";

pub async fn serve(_req: Request<Incoming>, _url: &str, _opts: &StreamOptions) -> Response<Body> {
    bad_request("v5.channel.k8s.io is not supported yet; use SPDY/3.1")
}
