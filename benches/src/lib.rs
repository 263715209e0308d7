//! Benchmark programs for berth: `berth-bench` (API server, node agent,
//! controllers) and `berth-sim` (hollow nodes at cluster scale). Nothing here
//! asserts a timing; everything prints figures.

pub mod creates;
pub mod cri_floor;
pub mod discovery;
pub mod lists;
pub mod node;
pub mod report;
pub mod server;
pub mod stats;
pub mod summary;
pub mod watches;
pub mod workloads;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::{Api, Client};

pub async fn create_namespace(client: &Client, name: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.to_string());
    api.create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

pub mod sim;
