//! `berth`: one binary for a Kubernetes-compatible cluster.
//!
//! ```text
//! berth up      = server + this machine's node, kubeconfig written
//! berth server  = API server + store + scheduler + controllers
//! berth agent   = a node (containerd + kubelet) joined to a server with a token
//! berth down    = stop a cluster's processes, pods, containerd, mounts
//! berth version
//! ```

mod agent;
mod client_qps;
mod down;
mod node;

use anyhow::{bail, Context, Result};
use berth_apiserver::{admission::Cidr, Config};
use berth_store::{MemoryStore, SqliteStore, Store};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A container orchestrator that speaks the Kubernetes API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a whole single-node cluster on this machine.
    Up(ServerArgs),
    /// Start the control plane (API server and state store).
    Server(ServerArgs),
    /// Join this machine to a cluster as a node (containerd + node agent).
    Agent(agent::AgentArgs),
    /// Stop everything a cluster started on this machine: berth, pods, containerd, mounts.
    Down {
        #[arg(long, default_value = "/var/lib/berth", env = "BERTH_DATA_DIR")]
        data_dir: PathBuf,
        /// Also delete the data dir (state, certificates, images).
        #[arg(long)]
        purge: bool,
    },
    /// Images in this machine's containerd.
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Import an OCI or docker image archive (e.g. from `docker save` or `skopeo copy`).
    Import {
        /// The archive (.tar).
        file: PathBuf,
        #[arg(long, default_value = "/var/lib/berth", env = "BERTH_DATA_DIR")]
        data_dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct ServerArgs {
    /// Where berth keeps its state, certificates and kubeconfig.
    #[arg(long, default_value = "/var/lib/berth", env = "BERTH_DATA_DIR")]
    data_dir: PathBuf,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    https_port: u16,
    /// State store: `sqlite` (a file in the data dir), `memory` (lost on exit; tests only),
    /// or `etcd://host:2379`.
    #[arg(long, default_value = "sqlite")]
    datastore: String,
    /// Service virtual IPs come from this range.
    #[arg(long, default_value = "10.43.0.0/16")]
    service_cidr: String,
    /// Address other machines reach the API server at (default: this host's first
    /// non-loopback IPv4 address).
    #[arg(long)]
    advertise_address: Option<String>,
    /// Extra names or IPs for the API server's certificate (repeatable).
    #[arg(long)]
    tls_san: Vec<String>,
    /// Run without the scheduler (e.g. to measure the API server alone, or to use another scheduler).
    #[arg(long)]
    disable_scheduler: bool,
    /// Exit when the parent process goes away (test harnesses).
    #[arg(long, hide = true)]
    exit_with_parent: bool,
    /// Pod IPs come from this range; every node gets a /24 of it.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// How long a node may stay silent before it is marked NotReady/Unknown and its pods
    /// start to be evicted (after their tolerationSeconds, 300 s by default).
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: std::time::Duration,
    /// Nodes per second whose pods start to be evicted after they fail, per zone
    /// (kube-controller-manager's --node-eviction-rate; it keeps a network split
    /// from emptying the cluster).
    #[arg(long, default_value_t = 0.1)]
    node_eviction_rate: f64,
    /// Roll every Deployment back automatically when its rollout fails (a Deployment can
    /// opt out with the annotation berth.dev/auto-rollback: "false", or opt in without this).
    #[arg(long)]
    auto_rollback: bool,
    /// HTTPS port of the node agent's server (logs, exec, port-forward); 0 picks a free one.
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
    /// Requests per second the controllers may send to the API server (client side, as
    /// kube-controller-manager's --kube-api-qps; berth's default is the value upstream's
    /// 5,000-node scale tests use, not the stand-alone default of 20).
    #[arg(long, default_value_t = 100.0)]
    kube_api_qps: f64,
    /// Requests the controllers may send at once above --kube-api-qps.
    #[arg(long, default_value_t = 200)]
    kube_api_burst: u32,
    /// How long an Event is kept after its last write (kube-apiserver's --event-ttl);
    /// 0 keeps Events forever.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    event_ttl: std::time::Duration,
}

/// Raise the soft open-files limit to the hard one, as Go programs (every
/// Kubernetes component) do at start: thousands of watches and node
/// connections need more than the default 1,024.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a pointer to a valid local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// mimalloc instead of glibc malloc: with 150,000 pods glibc spent ~40% of
/// the server's CPU in _int_malloc/malloc_consolidate (perf, berth-sim).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    raise_open_files_limit();
    match real_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole context chain: what failed and what to do.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                // hickory logs every DNS request at info.
                .unwrap_or_else(|_| "info,hickory_server=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Version => {
            println!("berth {} (Kubernetes API v1.33)", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Up(args) => run(args, true),
        Command::Image {
            command: ImageCommand::Import { file, data_dir },
        } => {
            let socket = data_dir
                .join("agent")
                .join("containerd")
                .join("containerd.sock");
            if !socket.exists() {
                bail!("no containerd at {} — start the cluster first (`make up` or `berth up --data-dir {}`)", socket.display(), data_dir.display());
            }
            let out = berth_images::import_archive(&file, &socket)
                .with_context(|| format!("importing {}", file.display()))?;
            print!("{out}");
            Ok(())
        }
        Command::Down { data_dir, purge } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(down::down(&data_dir))?;
            if purge {
                down::purge(&data_dir)?;
            }
            Ok(())
        }
        Command::Server(args) => run(args, false),
        Command::Agent(args) => agent::run(args),
    }
}

pub(crate) fn step(started: Instant, what: &str) {
    eprintln!("[{:>6.2}s] {what}", started.elapsed().as_secs_f64());
}

fn run(args: ServerArgs, up: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let started = Instant::now();
        std::fs::create_dir_all(&args.data_dir).with_context(|| {
            format!(
                "cannot create data dir {} (run as root, or pass --data-dir)",
                args.data_dir.display()
            )
        })?;
        step(started, &format!("data dir {}", args.data_dir.display()));
        let store: Arc<dyn Store> = match args.datastore.as_str() {
            "sqlite" => {
                let path = args.data_dir.join("state.db");
                Arc::new(
                    SqliteStore::open(&path)
                        .with_context(|| format!("opening the state store {}", path.display()))?,
                )
            }
            "memory" => Arc::new(MemoryStore::new()),
            other if other.starts_with("etcd://") => {
                bail!(
                    "the etcd datastore is not available in this build yet; use --datastore sqlite"
                )
            }
            other => bail!("unknown --datastore {other:?}: use sqlite, memory or etcd://host:port"),
        };
        step(started, &format!("state store: {}", args.datastore));
        let mut config = Config::new(args.data_dir.clone(), args.https_port);
        config.service_cidr = args
            .service_cidr
            .parse::<Cidr>()
            .map_err(anyhow::Error::msg)
            .context("--service-cidr")?;
        config.advertise_address = args
            .advertise_address
            .clone()
            .or_else(host_ip)
            .unwrap_or_else(|| "127.0.0.1".into());
        config.tls_sans = args.tls_san.clone();
        config.event_ttl = args.event_ttl;
        let running = berth_apiserver::start(config, store)
            .await
            .context("starting the API server")?;
        step(
            started,
            &format!("API server listening on https://{}", running.addr),
        );
        let kubeconfig = args.data_dir.join("kubeconfig.yaml");
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        berth_apiserver::pki::write_kubeconfig(&kubeconfig, &url, &running.server.pki)
            .with_context(|| format!("writing {}", kubeconfig.display()))?;
        step(
            started,
            &format!("kubeconfig written to {}", kubeconfig.display()),
        );
        // Scheduler (and later the controllers): API clients over loopback.
        let token_file = args.data_dir.join("node-token");
        write_private(&token_file, &running.server.pki.join_token())
            .with_context(|| format!("writing {}", token_file.display()))?;
        // Leader election, the scheduler and the controllers each get their
        // own client, as their upstream processes have: a burst of pod
        // creations must not queue the scheduler's bindings or a lease renewal.
        let client = client_from_kubeconfig(&kubeconfig).await?;
        anyhow::ensure!(
            args.kube_api_qps > 0.0,
            "--kube-api-qps must be positive (got {})",
            args.kube_api_qps
        );
        let controllers_client = client_with_qps(
            &kubeconfig,
            Some(client_qps::QpsLimitLayer::new(
                args.kube_api_qps,
                args.kube_api_burst,
            )),
        )
        .await?;
        // Scheduler and controllers run only while this server holds their
        // Lease (kube-system/kube-scheduler, kube-controller-manager), so
        // several servers over one store never both act.
        let identity = berth_leader::LeaderConfig::default_identity();
        if !args.disable_scheduler {
            let scheduler_client = client_from_kubeconfig(&kubeconfig).await?;
            tokio::spawn(leader_elected(
                client.clone(),
                "kube-scheduler",
                identity.clone(),
                move || berth_scheduler::Scheduler::new(scheduler_client.clone()).run(),
            ));
            step(started, "scheduler started (leader-elected)");
        }
        let ctx = berth_controllers::runner::Context::with_options(
            controllers_client.clone(),
            berth_controllers::DEFAULT_RESYNC,
            args.auto_rollback,
        );
        let mut cluster_config = berth_controllers::cluster::ClusterControllersConfig::default();
        cluster_config.node_lifecycle.grace_period = args.node_monitor_grace_period;
        cluster_config.node_lifecycle.eviction_qps = args.node_eviction_rate;
        cluster_config.node_ipam = Some(berth_controllers::node_ipam::NodeIpamConfig {
            cluster_cidr: args.cluster_cidr.clone(),
            ..Default::default()
        });
        tokio::spawn(leader_elected(
            client.clone(),
            "kube-controller-manager",
            identity,
            move || {
                berth_controllers::run_all_with_config(
                    controllers_client.clone(),
                    ctx.clone(),
                    cluster_config.clone(),
                )
            },
        ));
        step(started, "controllers started (leader-elected)");
        // `up` also runs this machine's node: containerd, images, the agent.
        let _containerd = if up {
            node::require_root("`berth up`")
                .context("use `berth server` for the control plane alone")?;
            let setup = up_node_setup(&args, &running.server.pki)?;
            Some(node::start(setup, client, started).await?)
        } else {
            None
        };
        eprintln!(
            "join more nodes: berth agent --server https://{}:{} --token $(cat {})",
            running.server.config.advertise_address,
            running.addr.port(),
            token_file.display()
        );
        println!("export KUBECONFIG={}", kubeconfig.display());
        if args.exit_with_parent {
            exit_with_parent();
        }
        wait_for_signal().await;
        eprintln!("shutting down");
        Ok(())
    })
}

/// Runs `work` whenever this process holds the Lease `name`; after losing it,
/// stands for election again (the work was cancelled when the lease was lost).
async fn leader_elected<F, Fut>(client: kube::Client, name: &str, identity: String, work: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let cfg = berth_leader::LeaderConfig::new(name, identity);
    loop {
        match berth_leader::run_while_leader(client.clone(), cfg.clone(), &work).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!("{name}: {e}; standing for election again");
                tokio::time::sleep(cfg.retry_period).await;
            }
        }
    }
}

fn host_ip() -> Option<String> {
    berth_kubelet::host::primary_ip()
}

/// Requests one internal client (scheduler, controllers, node agent) keeps in
/// flight at most. kube's HTTP/1.1 pool opens a connection per request in
/// flight, so an unbounded burst (a ReplicaSet creating thousands of pods)
/// would open thousands of sockets; upstream components are rate limited too
/// (--kube-api-qps). Long watches hold a slot only until their headers arrive.
const CLIENT_MAX_IN_FLIGHT: usize = 128;

/// A kube client from a kubeconfig file berth wrote.
pub(crate) async fn client_from_kubeconfig(kubeconfig: &std::path::Path) -> Result<kube::Client> {
    client_with_qps(kubeconfig, None).await
}

/// Like [`client_from_kubeconfig`], with a client-side rate limit when given.
async fn client_with_qps(
    kubeconfig: &std::path::Path,
    qps: Option<client_qps::QpsLimitLayer>,
) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let kube_config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading {}", kubeconfig.display()))?;
    let builder = kube::client::ClientBuilder::try_from(kube_config)
        .context("building the API client")?
        .with_layer(&tower::limit::ConcurrencyLimitLayer::new(
            CLIENT_MAX_IN_FLIGHT,
        ));
    Ok(match qps {
        Some(limit) => builder.with_layer(&limit).build(),
        None => builder.build(),
    })
}

fn write_private(path: &std::path::Path, body: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Exit as soon as the process that started us is gone (test harnesses).
pub(crate) fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                std::process::exit(0);
            }
        }
    });
}

/// The node `berth up` runs next to its server: the control-plane role, and a
/// serving certificate issued straight from the local CA.
fn up_node_setup(args: &ServerArgs, pki: &berth_apiserver::pki::Pki) -> Result<node::NodeSetup> {
    let node_name = berth_kubelet::host::hostname();
    let node_ip = args
        .advertise_address
        .clone()
        .or_else(host_ip)
        .unwrap_or_else(|| "127.0.0.1".into());
    let hosts = vec![
        node_name.clone(),
        node_ip.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    let (cert_pem, key_pem) = pki
        .issue_serving(&node_name, &hosts)
        .context("issuing the node server certificate")?;
    Ok(node::NodeSetup {
        data_dir: args.data_dir.clone(),
        node_name,
        node_ip,
        kubelet_port: args.kubelet_port,
        labels: vec![(
            "node-role.kubernetes.io/control-plane".into(),
            "true".into(),
        )],
        serving_tls: berth_kubelet::server::ServingTls {
            ca_pem: pki.ca_cert.clone(),
            cert_pem,
            key_pem,
        },
        cluster_cidr: args.cluster_cidr.clone(),
        cluster_dns: args
            .service_cidr
            .parse::<Cidr>()
            .map_err(anyhow::Error::msg)
            .context("--service-cidr")?
            .nth(10),
        // `berth up`'s node forwards to /etc/resolv.conf's nameservers.
        dns_upstreams: Vec::new(),
    })
}

/// `40s`, `2m`, `1h` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<std::time::Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 40s, 2m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?}: use s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

pub(crate) async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
