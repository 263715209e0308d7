//! This machine's node: containerd under `<data-dir>/agent/containerd`, the
//! pause and demo images, then the node agent. Shared by `berth up` (which
//! talks to its own API server with the admin credentials) and `berth agent`
//! (which joined a remote server and got node credentials).
//!
//! ```text
//! root? ─▶ containerd (generated config) ─▶ import missing images ─▶ kubelet agent (register, lease, pods)
//!       ─▶ proxy (Services → nftables table `ip berth`) ─▶ cluster DNS on 10.43.0.10:53 (added to lo)
//! ```

use crate::step;
use anyhow::{bail, Context, Result};
use berth_cri::{api, ImageService};
use std::path::PathBuf;
use std::time::Instant;

/// What differs between the node of `berth up` and a joined agent.
pub struct NodeSetup {
    pub data_dir: PathBuf,
    pub node_name: String,
    pub node_ip: String,
    pub kubelet_port: u16,
    pub labels: Vec<(String, String)>,
    /// The node server's certificate and the CA its clients are checked against.
    pub serving_tls: berth_kubelet::server::ServingTls,
    /// The pod network of the whole cluster (node pod CIDRs come from it).
    pub cluster_cidr: String,
    /// Address of the cluster DNS, answered on every node.
    pub cluster_dns: std::net::Ipv4Addr,
    /// Where the cluster DNS forwards outside names (empty: /etc/resolv.conf).
    pub dns_upstreams: Vec<std::net::SocketAddr>,
}

impl NodeSetup {
    pub fn kubelet_config(&self) -> berth_kubelet::KubeletConfig {
        let mut cfg = berth_kubelet::KubeletConfig::new(
            self.node_name.clone(),
            self.data_dir.join("agent"),
            self.node_ip.clone(),
        );
        cfg.node_labels = self.labels.clone();
        cfg.server_port = self.kubelet_port;
        cfg.serving_tls = Some(self.serving_tls.clone());
        cfg.pause_image = berth_images::PAUSE_IMAGE.to_string();
        cfg.cluster_dns = vec![self.cluster_dns.to_string()];
        cfg.manage_routes = true;
        cfg
    }
}

pub fn require_root(what: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("{what} runs containers and must run as root");
    }
    Ok(())
}

/// Start containerd, make sure the images are there, and start the agent.
/// The returned handle keeps containerd alive.
pub async fn start(
    setup: NodeSetup,
    kube_client: kube::Client,
    started: Instant,
) -> Result<berth_cri::containerd::Containerd> {
    let cfg = setup.kubelet_config();
    let mut ccfg = berth_cri::containerd::ContainerdConfig::new(
        cfg.root.join("containerd"),
        berth_images::PAUSE_IMAGE,
    );
    ccfg.cni_conf_dir = cfg.cni_conf_dir();
    step(
        started,
        &format!("starting containerd ({})", ccfg.socket.display()),
    );
    let containerd = berth_cri::containerd::Containerd::adopt_or_start(ccfg)
        .await
        .context(
            "starting containerd (is the `containerd` package installed? `make up` installs it)",
        )?;
    step(
        started,
        &format!(
            "containerd ready: {} {}{}",
            containerd.version().runtime_name,
            containerd.version().runtime_version,
            if containerd.pid().is_none() {
                " (adopted: its containers keep running)"
            } else {
                ""
            }
        ),
    );

    let client = containerd.client().clone();
    let mut images = vec![berth_images::pause()];
    match berth_images::demo_images() {
        Ok(demo) => images.extend(demo),
        Err(e) => eprintln!("note: demo images skipped: {e}"),
    }
    let work = cfg.root.join("images");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    for image in images {
        let present = client
            .image_status(api::ImageStatusRequest {
                image: Some(api::ImageSpec {
                    image: image.name.clone(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.image)
            .is_some();
        if present {
            continue;
        }
        step(started, &format!("importing image {}", image.name));
        let socket = containerd.socket().to_path_buf();
        let work = work.clone();
        tokio::task::spawn_blocking(move || berth_images::import_image(&image, &socket, &work))
            .await
            .context("image import task")?
            .context("importing an image into containerd")?;
    }

    let runtime: std::sync::Arc<dyn berth_kubelet::pod::runtime::Runtime> =
        std::sync::Arc::new(client);
    let agent = berth_kubelet::agent::start(cfg, kube_client.clone(), runtime)
        .await
        .context("starting the node agent")?;
    step(
        started,
        &format!(
            "node {} registered (pod CIDR {})",
            agent.node_name, agent.pod_cidr
        ),
    );
    start_proxy(&setup, kube_client.clone())?;
    step(started, "service proxy started (nftables table ip berth)");
    start_dns(&setup, kube_client).await?;
    step(
        started,
        &format!("cluster DNS answering on {}:53", setup.cluster_dns),
    );
    Ok(containerd)
}

fn start_proxy(setup: &NodeSetup, client: kube::Client) -> Result<()> {
    let node_ip: std::net::Ipv4Addr = setup
        .node_ip
        .parse()
        .with_context(|| format!("node IP {:?} is not an IPv4 address", setup.node_ip))?;
    let cluster_cidr = setup
        .cluster_cidr
        .parse::<berth_proxy::Ipv4Cidr>()
        .map_err(|e| anyhow::anyhow!("--cluster-cidr {:?}: {e}", setup.cluster_cidr))?;
    let facts = berth_proxy::NodeFacts {
        node_name: setup.node_name.clone(),
        node_ips: vec![node_ip],
        cluster_cidr,
    };
    tokio::spawn(berth_proxy::run(
        client,
        berth_proxy::ProxyConfig::new(facts),
    ));
    Ok(())
}

/// The DNS address lives on `lo`, so pods reach it through their gateway
/// without any service rule (the kube-dns Service is node-local).
async fn start_dns(setup: &NodeSetup, client: kube::Client) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args([
            "addr",
            "replace",
            &format!("{}/32", setup.cluster_dns),
            "dev",
            "lo",
        ])
        .output()
        .context("running `ip` (is iproute2 installed? `make up` installs it)")?;
    if !out.status.success() {
        bail!(
            "adding the cluster DNS address {} to lo: {}",
            setup.cluster_dns,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let cfg = berth_dns::DnsConfig {
        bind: std::net::SocketAddr::from((setup.cluster_dns, 53)),
        upstream_servers: setup.dns_upstreams.clone(),
        ..Default::default()
    };
    let dns = berth_dns::start(client, cfg)
        .await
        .context("starting the cluster DNS")?;
    // Keep it serving for the life of the process.
    std::mem::forget(dns);
    Ok(())
}
