//! `berth agent --server URL --token T`: join this machine to a cluster.
//!
//! ```text
//! token berth::<ca sha256>::<secret>
//!   ─▶ GET /cacerts (TLS unverified) ─▶ SHA-256 must equal the token's ─▶ trust that CA
//!   ─▶ POST /berth/v1/node-credentials (Bearer secret, CA verified) ─▶ client + serving certs
//!   ─▶ <data-dir>/agent/kubeconfig.yaml (reused on restart) ─▶ node::start
//! ```
//!
//! Memory (the agent's idle RSS goal is ≤ 30 MB): see [`memory`].

use crate::node::{self, NodeSetup};
use crate::step;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Clone)]
pub struct AgentArgs {
    /// The API server to join, e.g. https://10.0.0.1:6443.
    #[arg(long, env = "BERTH_SERVER")]
    server: String,
    /// The join token, from `<server data dir>/node-token` on the server.
    #[arg(long, env = "BERTH_TOKEN")]
    token: String,
    /// Where the agent keeps containerd, pods and its credentials.
    #[arg(long, default_value = "/var/lib/berth", env = "BERTH_DATA_DIR")]
    data_dir: PathBuf,
    /// This node's name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// The address other nodes and the API server reach this node at
    /// (default: the address of the interface with the default route).
    #[arg(long)]
    node_ip: Option<String>,
    /// Extra node labels, key=value (repeatable).
    #[arg(long = "node-label")]
    node_labels: Vec<String>,
    /// The cluster's pod network (as given to the server's --cluster-cidr).
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// The cluster DNS address (the server's service CIDR + 10).
    #[arg(long, default_value = "10.43.0.10")]
    cluster_dns: std::net::Ipv4Addr,
    /// Nameserver (ADDR:PORT) the cluster DNS forwards names outside the cluster
    /// to (repeatable; default: the `nameserver` lines of /etc/resolv.conf).
    #[arg(long = "dns-upstream", value_name = "ADDR:PORT")]
    dns_upstreams: Vec<std::net::SocketAddr>,
    /// HTTPS port of the node server (logs, exec, port-forward); 0 picks a free one.
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
    /// Exit when the parent process goes away (test harnesses).
    #[arg(long, hide = true)]
    exit_with_parent: bool,
}

pub fn run(args: AgentArgs) -> Result<()> {
    node::require_root("`berth agent`")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let started = Instant::now();
        let node_name = args
            .node_name
            .clone()
            .unwrap_or_else(berth_kubelet::host::hostname);
        let node_ip = match args
            .node_ip
            .clone()
            .or_else(berth_kubelet::host::primary_ip)
        {
            Some(ip) => ip,
            None => bail!("cannot tell this node's address: pass --node-ip"),
        };
        let labels = parse_labels(&args.node_labels)?;
        let root = args.data_dir.join("agent");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create {} (pass --data-dir)", root.display()))?;
        let creds = credentials(&args, &root, &node_name, &node_ip, started).await?;
        let kubeconfig = root.join("kubeconfig.yaml");
        berth_apiserver::pki::write_client_kubeconfig(
            &kubeconfig,
            args.server.trim_end_matches('/'),
            &creds.ca,
            &format!("system:node:{node_name}"),
            &creds.client_cert,
            &creds.client_key,
        )
        .with_context(|| format!("writing {}", kubeconfig.display()))?;
        let client = crate::client_from_kubeconfig(&kubeconfig).await?;
        let version = client.apiserver_version().await.with_context(|| {
            format!(
                "reaching the API server {} with the node credentials",
                args.server
            )
        })?;
        step(
            started,
            &format!(
                "joined {} (Kubernetes {}.{})",
                args.server, version.major, version.minor
            ),
        );
        let setup = NodeSetup {
            data_dir: args.data_dir.clone(),
            node_name,
            node_ip,
            kubelet_port: args.kubelet_port,
            labels,
            serving_tls: berth_kubelet::server::ServingTls {
                ca_pem: creds.ca.clone(),
                cert_pem: creds.serving_cert.clone(),
                key_pem: creds.serving_key.clone(),
            },
            cluster_cidr: args.cluster_cidr.clone(),
            cluster_dns: args.cluster_dns,
            dns_upstreams: args.dns_upstreams.clone(),
        };
        let _containerd = node::start(setup, client, started).await?;
        if args.exit_with_parent {
            crate::exit_with_parent();
        }
        crate::wait_for_signal().await;
        eprintln!("shutting down");
        Ok(())
    })
}

fn parse_labels(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--node-label {l:?}: use key=value"),
        })
        .collect()
}

/// What the server issues to a joining node.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    ca: String,
    client_cert: String,
    client_key: String,
    serving_cert: String,
    serving_key: String,
}

/// Credentials from an earlier join, or a fresh join with the token.
async fn credentials(
    args: &AgentArgs,
    root: &Path,
    node_name: &str,
    node_ip: &str,
    started: Instant,
) -> Result<Credentials> {
    let saved = root.join("credentials.json");
    let (hash, secret) = berth_apiserver::pki::parse_join_token(&args.token)
        .map_err(anyhow::Error::msg)
        .context("--token")?;
    if let Ok(raw) = std::fs::read(&saved) {
        if let Ok(c) = serde_json::from_slice::<Credentials>(&raw) {
            // Reuse them only for the same cluster (the token pins the CA).
            if berth_apiserver::pki::ca_hash(&c.ca) == hash {
                return Ok(c);
            }
        }
    }
    let url: http::Uri = args
        .server
        .parse()
        .with_context(|| format!("--server {:?} is not a URL", args.server))?;
    // 1. The CA, fetched without verification, then pinned by the token's hash.
    let mut insecure = kube::Config::new(url.clone());
    insecure.accept_invalid_certs = true;
    let anon = kube::Client::try_from(insecure).context("building an HTTP client")?;
    let ca = anon
        .request_text(
            http::Request::get("/cacerts")
                .body(Vec::new())
                .context("request")?,
        )
        .await
        .with_context(|| {
            format!(
                "fetching the cluster CA from {} (is the server up and reachable?)",
                args.server
            )
        })?;
    let got = berth_apiserver::pki::ca_hash(&ca);
    if got != hash {
        bail!("the server at {} has CA {got}, but the token expects {hash}: wrong server, or a token from another cluster", args.server);
    }
    // 2. Node credentials, over TLS verified against that CA.
    let mut verified = kube::Config::new(url);
    verified.root_cert = Some(pem_certs(&ca)?);
    verified.headers.push((
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {secret}")).context("token characters")?,
    ));
    let client = kube::Client::try_from(verified).context("building an HTTP client")?;
    let body = serde_json::to_vec(&serde_json::json!({
        "nodeName": node_name,
        "addresses": [node_ip],
    }))?;
    let text = client
        .request_text(
            http::Request::post("/berth/v1/node-credentials")
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body)
                .context("request")?,
        )
        .await
        .context("asking the server for node credentials (is the token current?)")?;
    let creds: Credentials =
        serde_json::from_str(&text).context("the server's node credentials")?;
    std::fs::write(&saved, serde_json::to_vec(&creds)?)
        .with_context(|| format!("saving {}", saved.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o600))?;
    }
    step(started, &format!("node credentials issued for {node_name}"));
    Ok(creds)
}

fn pem_certs(pem: &str) -> Result<Vec<Vec<u8>>> {
    let mut reader = std::io::BufReader::new(pem.as_bytes());
    let certs: Vec<Vec<u8>> = rustls_pemfile::certs(&mut reader)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .context("the cluster CA is not PEM")?;
    if certs.is_empty() {
        bail!("the server sent no CA certificate");
    }
    Ok(certs)
}

/// What keeps the agent's resident memory small. Measured on an idle agent
/// with 0 pods (benches/README.md section 6): 54 MB before the step below, 39 MB after.
///
/// mimalloc (the binary's allocator, chosen for the API server) keeps
///    freed pages of its eagerly committed arena resident for a while; for
///    the agent, which allocates little and bursts rarely, its arena is
///    committed on demand and freed pages go back at once: −15 MB anonymous
///    memory. The options must be set before the first allocation, so they
///    are set by an `.init_array` entry that looks at argv[1].
/// The rest of an idle agent's RSS (about 33 MB) is pages of the one
/// `berth` executable mapped into the process: the kernel maps page cache in
/// 64–128 KiB folios around each page touched, so start-up code (CLI, image
/// import, TLS set-up) stays mapped. They are clean, shared with a `berth
/// server` on the same machine, and reclaimable; dropping them from this
/// process (MADV_DONTNEED) would only move them out of its RSS, not out of
/// memory, so berth does not. An agent-only executable would shrink them.
pub(crate) mod memory {
    use std::ffi::{c_char, c_int, c_long, CStr};

    /// `mi_option_e` ids in mimalloc.h (the same in mimalloc v2 and v3).
    const MI_OPTION_ARENA_EAGER_COMMIT: c_int = 4;
    const MI_OPTION_PURGE_DELAY: c_int = 15;

    extern "C" {
        // Part of mimalloc, linked in through the `mimalloc` global allocator.
        fn mi_option_set(option: c_int, value: c_long);
    }

    /// glibc calls `.init_array` entries with main's argc and argv, before
    /// any Rust code (so before the allocator reserves its first arena).
    #[used]
    #[link_section = ".init_array"]
    static SET_ALLOCATOR_OPTIONS: extern "C" fn(c_int, *const *const c_char) =
        set_allocator_options;

    extern "C" fn set_allocator_options(argc: c_int, argv: *const *const c_char) {
        if argc < 2 || argv.is_null() {
            return;
        }
        // SAFETY: glibc (berth is built for *-linux-gnu) passes main's argc
        // and argv: argv[1] exists when argc >= 2 and is a NUL-terminated string.
        let first = unsafe { *argv.add(1) };
        // The server too: at 1,000 nodes and 30,000 pods the same options
        // took its RSS from 1.23 to 1.08 GB with API p99 no worse.
        let command = if first.is_null() {
            &b""[..]
        } else {
            unsafe { CStr::from_ptr(first) }.to_bytes()
        };
        if !matches!(command, b"agent" | b"server" | b"up") {
            return;
        }
        // SAFETY: plain setters of mimalloc's option table.
        unsafe {
            mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
            mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}
