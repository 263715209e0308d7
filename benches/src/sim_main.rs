//! berth-sim: a real `berth server` plus N hollow nodes (production kubelet
//! code over the fake CRI runtime), then the scale scenarios:
//! (a) pods through Deployments, (b) steady churn, (c) nodes lost at once,
//! (d) many watchers; memory and store size at the end. Prints one table and
//! writes it to `<out>/sim.{txt,json}`. Nothing is asserted.

use anyhow::{Context, Result};
use berth_bench::sim::cluster::{ServerOptions, SimCluster};
use berth_bench::sim::hollow::NodeShape;
use berth_bench::sim::report::{mib, secs, Table};
use berth_bench::sim::{churn, node_loss, workload};
use berth_bench::{server, stats::ms, watches};
use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser, Clone)]
#[command(
    name = "berth-sim",
    about = "Hollow-node cluster simulator (figures, nothing asserted)"
)]
struct Args {
    /// The berth binary (`berth server` is started from it).
    #[arg(long)]
    berth: PathBuf,
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
    /// Pods created through Deployments in scenario (a).
    #[arg(long, default_value_t = 150_000)]
    pods: usize,
    #[arg(long, default_value_t = 500)]
    deployments: usize,
    /// Each hollow node's size.
    #[arg(long, default_value_t = 32)]
    node_cpus: i64,
    #[arg(long, default_value_t = 256)]
    node_memory_gib: i64,
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// Fake runtime latencies (ms) for RunPodSandbox and StartContainer.
    #[arg(long, default_value_t = 0)]
    sandbox_latency_ms: u64,
    #[arg(long, default_value_t = 0)]
    start_latency_ms: u64,
    /// Scenario (b): pod creations (and deletions) per second, for this long.
    #[arg(long, default_value_t = 20.0)]
    churn_rate: f64,
    #[arg(long, default_value_t = 300)]
    churn_seconds: u64,
    #[arg(long, default_value_t = 30)]
    churn_pod_lifetime_seconds: u64,
    /// Scenario (c): nodes lost at once.
    #[arg(long, default_value_t = 500)]
    lose_nodes: usize,
    /// `berth server --node-monitor-grace-period`.
    #[arg(long, default_value = "40s")]
    node_monitor_grace_period: String,
    /// `berth server --node-eviction-rate` (nodes/s; Kubernetes' 0.1 would take
    /// 5,000 s to evict 500 lost nodes, by design).
    #[arg(long, default_value_t = 100.0)]
    node_eviction_rate: f64,
    /// `berth server --kube-api-qps`: the controllers' client-side request rate
    /// (upstream's 5,000-node scale tests run kube-controller-manager at 100).
    #[arg(long, default_value_t = 100.0)]
    kube_api_qps: f64,
    /// Scenario (d): watchers and the updates they must all see.
    #[arg(long, default_value_t = 10_000)]
    watchers: usize,
    #[arg(long, default_value_t = 100)]
    watch_updates: usize,
    /// Give up on a scenario after this many minutes.
    #[arg(long, default_value_t = 60)]
    limit_minutes: u64,
    /// Where sim.txt and sim.json go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Name of the output files (sim → sim.txt, sim.json).
    #[arg(long, default_value = "sim")]
    name: String,
}

fn self_kib(field: &str) -> u64 {
    server::status_kib(std::process::id(), field).unwrap_or_default()
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or_default()
}

/// Same allocator as the berth binary (5,000 hollow kubelets allocate a lot).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    raise_fd_limit();
    let started = Instant::now();
    let progress =
        move |msg: String| eprintln!("[{:>7.1}s] {msg}", started.elapsed().as_secs_f64());
    let mut table = Table {
        title: format!(
            "berth-sim: {} hollow nodes, {} pods ({} Deployments)",
            args.nodes, args.pods, args.deployments
        ),
        ..Default::default()
    };
    table.parameters = vec![
        ("machine".into(), machine()),
        (
            "node size".into(),
            format!(
                "{} CPU, {} GiB, {} pods",
                args.node_cpus, args.node_memory_gib, args.max_pods
            ),
        ),
        (
            "fake runtime latency".into(),
            format!(
                "sandbox {} ms, start {} ms",
                args.sandbox_latency_ms, args.start_latency_ms
            ),
        ),
        (
            "node eviction rate (nodes/s)".into(),
            args.node_eviction_rate.to_string(),
        ),
        (
            "controllers' API rate (--kube-api-qps)".into(),
            args.kube_api_qps.to_string(),
        ),
        (
            "node monitor grace period".into(),
            args.node_monitor_grace_period.clone(),
        ),
        (
            "pod tolerationSeconds (not-ready/unreachable)".into(),
            workload::TOLERATION_SECONDS.to_string(),
        ),
    ];

    let shape = NodeShape {
        capacity: berth_kubelet::NodeCapacity {
            cpu_millis: args.node_cpus * 1000,
            memory_bytes: args.node_memory_gib << 30,
            ephemeral_storage_bytes: 100 << 30,
        },
        max_pods: args.max_pods,
        sandbox_latency: Duration::from_millis(args.sandbox_latency_ms),
        start_latency: Duration::from_millis(args.start_latency_ms),
    };
    progress(format!(
        "starting berth server and {} hollow nodes",
        args.nodes
    ));
    let t = Instant::now();
    let cluster = SimCluster::start(
        &args.berth,
        args.nodes,
        &shape,
        &ServerOptions {
            node_monitor_grace_period: args.node_monitor_grace_period.clone(),
            node_eviction_rate: args.node_eviction_rate,
            kube_api_qps: args.kube_api_qps,
        },
        &progress,
    )
    .await?;
    table.row(
        "setup",
        &format!("{} nodes registered and Ready", args.nodes),
        secs(t.elapsed()),
        Some(t.elapsed().as_secs_f64()),
        "s",
    );
    let idle_kib = cluster.server.rss_kib().unwrap_or_default();
    table.row(
        "setup",
        "server RSS with the nodes, no pods",
        mib(idle_kib),
        Some(idle_kib as f64),
        "KiB",
    );

    if let Err(e) = scenarios(&args, &cluster, &mut table, &progress).await {
        let log = args.out.join(format!("{}-server.log", args.name));
        let _ = std::fs::create_dir_all(&args.out);
        let _ = std::fs::write(&log, cluster.server.log());
        eprintln!("{}", table.text());
        eprintln!("the server's log is kept in {}", log.display());
        if let Some(secs) = std::env::var("BERTH_SIM_HOLD")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            eprintln!(
                "holding the cluster for {secs} s (BERTH_SIM_HOLD): KUBECONFIG={}",
                cluster.server.data_dir().join("kubeconfig.yaml").display()
            );
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
        return Err(e);
    }
    table.row(
        "total",
        "wall time of the simulation",
        secs(started.elapsed()),
        Some(started.elapsed().as_secs_f64()),
        "s",
    );

    println!("\n{}", table.text());
    table
        .write(&args.out, &args.name)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "written to {}/{}.{{txt,json}}",
        args.out.display(),
        args.name
    );
    Ok(())
}

/// Scenarios (a)–(d), then memory and store figures, into `table`.
async fn scenarios(
    args: &Args,
    cluster: &SimCluster,
    table: &mut Table,
    progress: &(dyn Fn(String) + Sync),
) -> Result<()> {
    let limit = Duration::from_secs(args.limit_minutes * 60);
    // (a)
    progress(format!(
        "(a) {} pods through {} Deployments",
        args.pods, args.deployments
    ));
    let create = workload::run(cluster, args.pods, args.deployments, limit, progress).await?;
    let s = "(a) create";
    table.row(
        s,
        "first create → all pods Running",
        secs(create.all_running),
        Some(create.all_running.as_secs_f64()),
        "s",
    );
    table.goal(s, "scheduling throughput, whole run", format!("{:.0} pods/s", create.scheduled_per_second), Some(create.scheduled_per_second), "pods/s",
        "kube-scheduler scheduler_perf floor at 5,000 nodes: 680–810 pods/s; Nomad C1M: 3,750 containers/s (5 servers)",
        Some(create.scheduled_per_second >= 680.0));
    table.row(
        s,
        "scheduling throughput, busiest 10 s",
        format!("{:.0} pods/s", create.peak_scheduled_per_second),
        Some(create.peak_scheduled_per_second),
        "pods/s",
    );
    let end_to_end = create.pods as f64 / create.all_running.as_secs_f64().max(1e-9);
    table.row(
        s,
        "pods Running per second, end to end",
        format!("{end_to_end:.0} pods/s"),
        Some(end_to_end),
        "pods/s",
    );
    table.goal(
        s,
        "pod startup (created → Running) p50 / p99",
        format!("{} / {}", ms(create.startup.p50), ms(create.startup.p99)),
        Some(create.startup.p99.as_secs_f64()),
        "s (p99)",
        "SLO p99 ≤ 5 s (not under a 150k burst upstream either)",
        Some(create.startup.p99 <= Duration::from_secs(5)),
    );
    api_rows(table, s, &create.api);
    let stored_kib = cluster.server.rss_kib().unwrap_or_default();
    table.goal(
        "memory",
        &format!(
            "server RSS with {} pods stored (whole control plane)",
            args.pods
        ),
        mib(stored_kib),
        Some(stored_kib as f64),
        "KiB",
        "≤ 2 GB; kube-apiserver: several GB at this size",
        Some(stored_kib <= 2 * 1024 * 1024),
    );
    progress(format!(
        "(a) done: all Running after {}; server RSS {}",
        secs(create.all_running),
        mib(stored_kib)
    ));

    // (b)
    if args.churn_seconds > 0 {
        progress(format!(
            "(b) churn: {} pods/s created and deleted for {} s",
            args.churn_rate, args.churn_seconds
        ));
        let run = churn::run(
            cluster,
            args.churn_rate,
            Duration::from_secs(args.churn_seconds),
            Duration::from_secs(args.churn_pod_lifetime_seconds),
            progress,
        )
        .await?;
        let s = "(b) churn";
        table.row(
            s,
            "pods created / deleted / errors",
            format!("{} / {} / {}", run.created, run.deleted, run.errors),
            Some(run.errors as f64),
            "errors",
        );
        table.row(
            s,
            "create latency (client) p50 / p99",
            format!(
                "{} / {}",
                ms(run.create_latency.p50),
                ms(run.create_latency.p99)
            ),
            Some(run.create_latency.p99.as_secs_f64()),
            "s (p99)",
        );
        table.row(
            s,
            "delete latency (client) p50 / p99",
            format!(
                "{} / {}",
                ms(run.delete_latency.p50),
                ms(run.delete_latency.p99)
            ),
            Some(run.delete_latency.p99.as_secs_f64()),
            "s (p99)",
        );
        let mutating = run.api.mutating_p99().unwrap_or_default();
        table.goal(
            s,
            "mutating API calls p99 (server histogram, all clients)",
            ms(Duration::from_secs_f64(mutating)),
            Some(mutating),
            "s",
            "SLO ≤ 1 s",
            Some(mutating <= 1.0),
        );
        table.goal(
            s,
            "pod startup p50 / p99",
            format!("{} / {}", ms(run.startup.p50), ms(run.startup.p99)),
            Some(run.startup.p99.as_secs_f64()),
            "s (p99)",
            "SLO p99 ≤ 5 s",
            Some(run.startup.p99 <= Duration::from_secs(5) && run.startup.count > 0),
        );
        table.row(
            s,
            "pods never Running before the run ended",
            run.not_running.to_string(),
            Some(run.not_running as f64),
            "pods",
        );
        api_rows(table, s, &run.api);
        cluster.dispatch.forget_deleted();
    }

    // (c)
    if args.lose_nodes > 0 {
        progress(format!("(c) losing {} nodes at once", args.lose_nodes));
        let s = "(c) node loss";
        // A scenario that does not finish is a figure too: record why and go
        // on, so (d) and the table of (a) and (b) are not lost with it.
        match node_loss::run(cluster, args.lose_nodes, args.pods, limit, progress).await {
            Err(e) => table.goal(
                s,
                "kill → every pod Running again elsewhere",
                format!("not completed: {e}"),
                None,
                "s",
                "—",
                Some(false),
            ),
            Ok(run) => {
                table.row(
                    s,
                    "nodes lost / Running pods on them",
                    format!("{} / {}", run.nodes_lost, run.pods_lost),
                    Some(run.pods_lost as f64),
                    "pods",
                );
                table.row(
                    s,
                    "kill → all lost nodes NotReady",
                    secs(run.all_not_ready),
                    Some(run.all_not_ready.as_secs_f64()),
                    "s",
                );
                table.goal(
                    s,
                    "kill → every pod Running again elsewhere",
                    secs(run.all_replaced),
                    Some(run.all_replaced.as_secs_f64()),
                    "s",
                    &format!(
                        "grace period {} + tolerationSeconds {} s + rescheduling",
                        args.node_monitor_grace_period,
                        workload::TOLERATION_SECONDS
                    ),
                    None,
                );
            }
        }
    }

    // (d)
    if args.watchers > 0 {
        progress(format!(
            "(d) {} watchers, {} updates",
            args.watchers, args.watch_updates
        ));
        crate_ns(cluster, "sim-watch").await?;
        let clients: Vec<kube::Client> = (0..20)
            .map(|_| kube::Client::try_from(cluster.config.clone()))
            .collect::<Result<_, _>>()?;
        let p = progress;
        match watches::run(
            &clients,
            "sim-watch",
            args.watchers,
            args.watch_updates,
            Duration::from_millis(20),
            cluster.port,
            move |m| p(format!("  {m}")),
        )
        .await
        {
            Ok(w) => {
                let s = "(d) watchers";
                table.row(
                    s,
                    "watchers open / wanted",
                    format!(
                        "{} / {} in {}",
                        w.watchers_open,
                        w.watchers_wanted,
                        secs(w.setup)
                    ),
                    Some(w.watchers_open as f64),
                    "watchers",
                );
                table.row(
                    s,
                    "events delivered / expected",
                    format!("{} / {}", w.delivered, w.expected),
                    Some(w.delivered as f64),
                    "events",
                );
                table.row(
                    s,
                    "event delivery latency p50 / p99 / max",
                    format!(
                        "{} / {} / {}",
                        ms(w.delay.p50),
                        ms(w.delay.p99),
                        ms(w.delay.max)
                    ),
                    Some(w.delay.p99.as_secs_f64()),
                    "s (p99)",
                );
            }
            Err(e) => table.row("(d) watchers", "failed", format!("{e:#}"), None, ""),
        }
    }

    // memory and store
    let server_peak = cluster.server.peak_rss_kib().unwrap_or_default();
    table.goal(
        "memory",
        "server peak RSS over the whole run (VmHWM)",
        mib(server_peak),
        Some(server_peak as f64),
        "KiB",
        "≤ 2 GB",
        Some(server_peak <= 2 * 1024 * 1024),
    );
    table.row(
        "memory",
        &format!(
            "simulator process ({} hollow kubelets) RSS / peak",
            args.nodes
        ),
        format!("{} / {}", mib(self_kib("VmRSS:")), mib(self_kib("VmHWM:"))),
        Some(self_kib("VmHWM:") as f64),
        "KiB",
    );
    let db = cluster.server.data_dir().join("state.db");
    let wal = cluster.server.data_dir().join("state.db-wal");
    table.row(
        "store",
        "sqlite file (state.db + WAL)",
        format!(
            "{:.0} MB + {:.0} MB",
            file_size(&db) as f64 / 1e6,
            file_size(&wal) as f64 / 1e6
        ),
        Some(file_size(&db) as f64),
        "bytes",
    );
    let compactions: Vec<String> = cluster
        .server
        .log()
        .lines()
        .filter(|l| l.contains("compacted the store"))
        .map(str::to_string)
        .collect();
    table.row(
        "store",
        "compactions during the run (server log)",
        compactions
            .last()
            .cloned()
            .unwrap_or_else(|| "none ran".into()),
        Some(compactions.len() as f64),
        "compactions",
    );
    Ok(())
}

fn api_rows(table: &mut Table, scenario: &str, api: &berth_bench::sim::metrics::Histograms) {
    for (verb, count, p50, p99) in api.quantiles() {
        let top: Vec<String> = api
            .top_resources(&verb, 3)
            .into_iter()
            .map(|(r, c)| format!("{r} {c}"))
            .collect();
        table.row(
            scenario,
            &format!(
                "API {verb}: {count} requests ({}), p50 / p99",
                top.join(", ")
            ),
            format!(
                "{} / {}",
                ms(Duration::from_secs_f64(p50)),
                ms(Duration::from_secs_f64(p99))
            ),
            Some(p99),
            "s (p99)",
        );
    }
}

async fn crate_ns(cluster: &SimCluster, name: &str) -> Result<()> {
    berth_bench::create_namespace(&cluster.admin, name).await
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or_default();
    format!("{cpus} CPUs, {:.0} GB RAM", mem as f64 / 1024.0 / 1024.0)
}

/// Thousands of nodes and watches need more than the default 1,024 descriptors.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
