//! berth-bench: starts a real `berth server` and prints figures for create
//! throughput, list latency, watch delivery and memory. Nothing is asserted.
//!
//! ```text
//! spawn berth server ─▶ RSS ─▶ discovery+OpenAPI ─▶ RSS
//!   ─▶ creates (8×8, 1×64, 1×1) ─▶ 10k pods ─▶ lists ×5
//!   ─▶ 1000 watches + 200 updates ─▶ idle 2 s ─▶ RSS
//!   ─▶ fresh server RSS ─▶ berth up: pod start, CRI floor, RSS
//!   ─▶ same cluster: Deployment 50, scale to 100, replace one, rolling update ─▶ table
//! ```

use anyhow::{Context, Result};
use berth_bench::summary::{self, Figures};
use berth_bench::{create_namespace, creates, discovery, lists, node, report, server, watches};
use clap::Parser;
use kube::Client;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "berth-bench",
    about = "Figures for a real berth server (nothing asserted)"
)]
struct Args {
    /// The berth binary to start (`berth server`).
    #[arg(long)]
    berth: PathBuf,
    /// Seconds each many-client create run lasts.
    #[arg(long, default_value_t = 10)]
    create_seconds: u64,
    /// Pods stored before timing lists.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Concurrent watches.
    #[arg(long, default_value_t = 1_000)]
    watchers: usize,
    /// Updates sent while the watches are open.
    #[arg(long, default_value_t = 200)]
    updates: usize,
    /// Milliseconds between updates.
    #[arg(long, default_value_t = 10)]
    update_spacing_ms: u64,
    /// Leave out the node phase (`berth up`, needs root and containerd).
    #[arg(long)]
    skip_node: bool,
    /// Run only the node phase (quicker when working on the agent).
    #[arg(long, conflicts_with = "skip_node")]
    only_node: bool,
    /// Where the figures go as JSON rows, for `bench-summary`.
    #[arg(long, default_value = "target/bench/berth-bench.json")]
    json: PathBuf,
}

fn progress(started: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", started.elapsed().as_secs_f64());
}

/// Server CPU and wall time spent in one phase.
struct PhaseClock {
    cpu: f64,
    wall: Instant,
}

impl PhaseClock {
    fn start(server: &server::BerthServer) -> PhaseClock {
        PhaseClock {
            cpu: server.cpu_seconds().unwrap_or_default(),
            wall: Instant::now(),
        }
    }

    fn stop(self, server: &server::BerthServer, what: &str, ops: usize) -> report::PhaseCpu {
        report::PhaseCpu {
            what: what.to_string(),
            server_cpu: server.cpu_seconds().unwrap_or_default() - self.cpu,
            wall: self.wall.elapsed(),
            ops,
        }
    }
}

fn clients(config: &kube::Config, n: usize) -> Result<Vec<Client>> {
    (0..n)
        .map(|_| Client::try_from(config.clone()).context("building a kube client"))
        .collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    if args.only_node {
        let node = node::run(&args.berth, |msg| progress(started, &format!("  {msg}"))).await;
        println!();
        report::rule();
        report::print_node(&node);
        return write_json(&args.json, summary::node_rows(&node));
    }
    progress(
        started,
        &format!("starting {} server", args.berth.display()),
    );
    let mut server = server::BerthServer::spawn(&args.berth)?;
    let ready = server.wait_ready(Duration::from_secs(60)).await?;
    progress(
        started,
        &format!("server pid {} listening on port {}", server.pid, ready.port),
    );
    let config = ready.config;
    let port = ready.port;
    let admin = Client::try_from(config.clone())?;

    let discovery = discovery::kubectl_like(&admin).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_discovery_kib = server.rss_kib()?;
    progress(started, "discovery + OpenAPI fetched");

    for ns in ["bench-create", "bench-list", "bench-watch"] {
        create_namespace(&admin, ns).await?;
    }

    // 1. creates
    let secs = Duration::from_secs(args.create_seconds);
    let mut creates = Vec::new();
    let mut phases = Vec::new();
    for (label, n_clients, tasks, duration, prefix) in [
        ("8 clients × 8 tasks (64 in flight)", 8, 8, secs, "a"),
        ("1 client × 64 tasks (64 in flight)", 1, 64, secs, "b"),
        ("1 client × 1 task (sequential)", 1, 1, secs / 2, "c"),
    ] {
        progress(
            started,
            &format!("creates: {label} for {} s", duration.as_secs()),
        );
        let clock = PhaseClock::start(&server);
        let run = creates::run(
            &clients(&config, n_clients)?,
            tasks,
            "bench-create",
            prefix,
            duration,
            port,
        )
        .await;
        phases.push(clock.stop(&server, &format!("creates, {label}"), run.ok));
        progress(
            started,
            &format!(
                "  {:.0} creates/s, {}",
                run.per_second(),
                run.latency.describe()
            ),
        );
        creates.push((label.to_string(), run));
    }

    // 2. lists
    progress(
        started,
        &format!("creating {} pods (64 in flight)", args.pods),
    );
    let pod_clients = clients(&config, 8)?;
    let clock = PhaseClock::start(&server);
    let pod_fill = lists::create_pods(&pod_clients, "bench-list", args.pods, 64, |done| {
        progress(started, &format!("  {done} pods"))
    })
    .await;
    drop(pod_clients);
    phases.push(clock.stop(
        &server,
        "pod creates, 8 clients × 8 in flight",
        pod_fill.created,
    ));
    progress(started, "timing lists (5 of each)");
    let clock = PhaseClock::start(&server);
    let lists = lists::time_lists(&admin, "bench-list", 5).await?;
    phases.push(clock.stop(&server, "lists (5 shapes × 5, see above)", lists.len() * 5));

    // 3. watches
    progress(
        started,
        &format!("opening {} watches over 10 clients", args.watchers),
    );
    let watch_clients = clients(&config, 10)?;
    let clock = PhaseClock::start(&server);
    let watch = watches::run(
        &watch_clients,
        "bench-watch",
        args.watchers,
        args.updates,
        Duration::from_millis(args.update_spacing_ms),
        port,
        |msg| progress(started, &format!("  {msg}")),
    )
    .await;
    drop(watch_clients);
    let delivered = watch.as_ref().map_or(0, |w| w.delivered);
    phases.push(clock.stop(&server, "watch: open + updates + deliveries", delivered));
    let watch = match watch {
        Ok(w) => Some(w),
        Err(e) => {
            progress(started, &format!("watch phase failed: {e:#}"));
            None
        }
    };

    // 4. idle memory, with everything stored
    progress(started, "idle 2 s, then reading RSS");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_workload_kib = server.rss_kib()?;
    let stored_objects = creates.iter().map(|(_, c)| c.ok).sum::<usize>() + pod_fill.created;
    drop(server);

    // The same 10k pods on a fresh server, without the create phase's objects.
    progress(
        started,
        &format!("fresh server: {} pods only, for idle memory", args.pods),
    );
    let (pods_stored_kib, pods_listed_kib) = pods_only_rss(&args, started).await?;

    // 6. the node agent, last: a whole `berth up` (skipped without root/containerd)
    progress(
        started,
        "node phase: berth up, pod start latency, CRI floor",
    );
    let node = if args.skip_node {
        node::NodeOutcome::Skipped("--skip-node given".into())
    } else {
        node::run(&args.berth, |msg| progress(started, &format!("  {msg}"))).await
    };
    match &node {
        node::NodeOutcome::Skipped(why) => progress(started, &format!("node phase skipped: {why}")),
        node::NodeOutcome::Failed(why) => progress(started, &format!("node phase failed: {why}")),
        node::NodeOutcome::Ran(_) => {}
    }

    let report = report::Report {
        startup: ready.startup,
        discovery,
        creates,
        pod_fill: Some(pod_fill),
        lists,
        watch,
        memory: report::Memory {
            at_start_kib: ready.rss_at_start_kib,
            after_discovery_kib,
            after_workload_kib,
            stored_objects,
            pods_stored_kib,
            pods_listed_kib,
        },
        phases,
        node,
        total: started.elapsed(),
    };
    report::print(&report);
    write_json(&args.json, summary::report_rows(&report))
}

fn write_json(path: &std::path::Path, rows: Vec<summary::Row>) -> Result<()> {
    let figures = Figures {
        program: "berth-bench".into(),
        note: None,
        rows,
    };
    summary::write_figures(path, &figures)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("figures written to {}", path.display());
    Ok(())
}

/// RSS of a fresh server holding only the pods: once they are stored, and
/// again after kubectl-like discovery and one list of each shape, idle 2 s each.
async fn pods_only_rss(args: &Args, started: Instant) -> Result<(u64, u64)> {
    let mut server = server::BerthServer::spawn(&args.berth)?;
    let ready = server.wait_ready(Duration::from_secs(60)).await?;
    let admin = Client::try_from(ready.config.clone())?;
    create_namespace(&admin, "bench-list").await?;
    let pod_clients = clients(&ready.config, 8)?;
    let fill = lists::create_pods(&pod_clients, "bench-list", args.pods, 64, |_| {}).await;
    drop(pod_clients);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = server.rss_kib()?;
    discovery::kubectl_like(&admin).await?;
    lists::time_lists(&admin, "bench-list", 1).await?;
    drop(admin);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let listed = server.rss_kib()?;
    progress(
        started,
        &format!(
            "  {} pods: {stored} KiB stored, {listed} KiB after lists",
            fill.created
        ),
    );
    Ok((stored, listed))
}
