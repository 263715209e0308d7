//! `berth`: one binary for a Kubernetes-compatible cluster.
//!
//! ```text
//! berth up      = server (+ agent once it exists) on this machine, kubeconfig written
//! berth server  = API server + store (+ scheduler/controllers once they exist)
//! berth version
//! ```

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
    /// Print the version.
    Version,
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
    /// Exit when the parent process goes away (test harnesses).
    #[arg(long, hide = true)]
    exit_with_parent: bool,
}

fn main() -> Result<()> {
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
        if up {
            step(
                started,
                "control plane ready (no node agent in this build yet: pods stay Pending)",
            );
        }
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

/// This host's first local, non-loopback IPv4 address, read from the kernel's
/// routing tables (no packets are sent).
fn host_ip() -> Option<String> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    lines.windows(2).find_map(|w| {
        let addr = w[0].trim().strip_prefix("|-- ")?;
        let local = w[1].contains("/32 host LOCAL");
        (local && !addr.starts_with("127.")).then(|| addr.to_string())
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
