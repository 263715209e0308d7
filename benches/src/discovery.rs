//! What kubectl fetches before its first real request: aggregated discovery
//! and the OpenAPI v3 index plus the core/v1 document.

use anyhow::{Context, Result};
use kube::Client;
use std::time::{Duration, Instant};

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

pub struct Fetch {
    pub path: &'static str,
    pub took: Duration,
    pub bytes: usize,
}

pub async fn kubectl_like(client: &Client) -> Result<Vec<Fetch>> {
    let mut out = Vec::new();
    for (path, accept) in [
        ("/api", AGGREGATED),
        ("/apis", AGGREGATED),
        ("/openapi/v3", "application/json"),
        ("/openapi/v3/api/v1", "application/json"),
    ] {
        let req = http::Request::get(path)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())?;
        let t0 = Instant::now();
        let text = client
            .request_text(req)
            .await
            .with_context(|| format!("GET {path}"))?;
        out.push(Fetch {
            path,
            took: t0.elapsed(),
            bytes: text.len(),
        });
    }
    Ok(out)
}
