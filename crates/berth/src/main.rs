//! `berth`: one binary for a Kubernetes-compatible cluster.
//!
//! ```text
//! berth up      = server (+ agent once it exists) on this machine, kubeconfig written
//! berth server  = API server + store + scheduler + controllers
//! berth version
//! ```

mod down;

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
    /// HTTPS port of the node agent's server (logs, exec, port-forward); 0 picks a free one.
    #[arg(long, default_value_t = 10250)]
    kubelet_port: u16,
}

fn main() -> std::process::ExitCode {
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
                .unwrap_or_else(|_| "info".into()),
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
    }
}

fn step(started: Instant, what: &str) {
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
        let client = admin_client(&kubeconfig).await?;
        if !args.disable_scheduler {
            tokio::spawn(berth_scheduler::Scheduler::new(client.clone()).run());
            step(started, "scheduler started");
        }
        tokio::spawn(berth_controllers::run_all(client.clone()));
        step(started, "controllers started (replicaset, deployment)");
        // `up` also runs this machine's node: containerd, images, the agent.
        let _containerd = if up {
            Some(start_node(&args, client, started).await?)
        } else {
            None
        };
        println!("export KUBECONFIG={}", kubeconfig.display());
        if args.exit_with_parent {
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
        wait_for_signal().await;
        eprintln!("shutting down");
        Ok(())
    })
}

fn host_ip() -> Option<String> {
    berth_kubelet::host::primary_ip()
}

/// A kube client with the admin credentials the server just wrote.
async fn admin_client(kubeconfig: &std::path::Path) -> Result<kube::Client> {
    let kc =
        kube::config::Kubeconfig::read_from(kubeconfig).context("reading the admin kubeconfig")?;
    let kube_config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .context("loading the admin kubeconfig")?;
    kube::Client::try_from(kube_config).context("building the API client")
}

/// containerd under `<data-dir>/agent/containerd`, the pause and demo images,
/// then the node agent talking to the API server through the admin kubeconfig.
async fn start_node(
    args: &ServerArgs,
    kube_client: kube::Client,
    started: Instant,
) -> Result<berth_cri::containerd::Containerd> {
    use berth_cri::{api, ImageService};
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("`berth up` runs containers and must run as root (or use `berth server` for the control plane alone)");
    }
    let node_ip = args
        .advertise_address
        .clone()
        .or_else(host_ip)
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut cfg = berth_kubelet::KubeletConfig::new(
        berth_kubelet::host::hostname(),
        args.data_dir.join("agent"),
        node_ip,
    );
    cfg.node_labels.push((
        "node-role.kubernetes.io/control-plane".into(),
        "true".into(),
    ));
    cfg.server_port = args.kubelet_port;
    cfg.serving_tls = Some(node_serving_tls(args, &cfg)?);
    let mut ccfg = berth_cri::containerd::ContainerdConfig::new(
        cfg.root.join("containerd"),
        berth_images::PAUSE_IMAGE,
    );
    ccfg.cni_conf_dir = cfg.cni_conf_dir();
    step(
        started,
        &format!("starting containerd ({})", ccfg.socket.display()),
    );
    let containerd = berth_cri::containerd::Containerd::start(ccfg)
        .await
        .context(
            "starting containerd (is the `containerd` package installed? `make up` installs it)",
        )?;
    step(
        started,
        &format!(
            "containerd ready: {} {}",
            containerd.version().runtime_name,
            containerd.version().runtime_version
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
    let agent = berth_kubelet::agent::start(cfg, kube_client, runtime)
        .await
        .context("starting the node agent")?;
    step(
        started,
        &format!(
            "node {} registered (pod CIDR {})",
            agent.node_name, agent.pod_cidr
        ),
    );
    Ok(containerd)
}

/// The node server's certificate, issued by the cluster CA for the node's
/// name and addresses, and the CA its clients must be signed by.
fn node_serving_tls(
    args: &ServerArgs,
    cfg: &berth_kubelet::KubeletConfig,
) -> Result<berth_kubelet::server::ServingTls> {
    let pki_dir = args.data_dir.join("pki");
    let pki = berth_apiserver::pki::Pki::load_or_create(&pki_dir, &args.tls_san)
        .context("loading the cluster PKI")?;
    let hosts = vec![
        cfg.node_name.clone(),
        cfg.node_ip.clone(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    let (cert_pem, key_pem) = pki
        .issue_serving(&cfg.node_name, &hosts)
        .context("issuing the node server certificate")?;
    Ok(berth_kubelet::server::ServingTls {
        ca_pem: pki.ca_cert,
        cert_pem,
        key_pem,
    })
}

async fn wait_for_signal() {
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
