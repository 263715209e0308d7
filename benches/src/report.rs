//! The printed table: one section per figure, goals from the issue beside them.

use crate::creates::CreateRun;
use crate::discovery::Fetch;
use crate::lists::{ListTiming, PodFill};
use crate::node::NodeOutcome;
use crate::stats::ms;
use crate::watches::WatchRun;
use std::time::Duration;

pub struct Memory {
    pub at_start_kib: u64,
    pub after_discovery_kib: u64,
    pub after_workload_kib: u64,
    /// Objects stored by the workload (create-phase ConfigMaps + pods).
    pub stored_objects: usize,
    /// A fresh server holding only the pods, idle once they are stored...
    pub pods_stored_kib: u64,
    /// ...and after discovery, OpenAPI and one list of each shape.
    pub pods_listed_kib: u64,
}

/// Server CPU used by one phase.
pub struct PhaseCpu {
    pub what: String,
    pub server_cpu: f64,
    pub wall: Duration,
    /// Requests (or delivered events) in the phase, for CPU per operation.
    pub ops: usize,
}

pub struct Report {
    pub startup: Duration,
    pub discovery: Vec<Fetch>,
    pub creates: Vec<(String, CreateRun)>,
    pub pod_fill: Option<PodFill>,
    pub lists: Vec<ListTiming>,
    pub watch: Option<WatchRun>,
    pub memory: Memory,
    pub phases: Vec<PhaseCpu>,
    pub node: NodeOutcome,
    pub total: Duration,
}

pub fn rule() {
    println!("{}", "─".repeat(100));
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

pub fn print(r: &Report) {
    println!();
    rule();
    println!(
        "berth-bench: one `berth server --disable-scheduler` (the API server alone: SQLite store, fsync on; HTTPS with client certs), {} CPUs shared with this client",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "server ready in {:.2} s; whole run {:.0} s",
        r.startup.as_secs_f64(),
        r.total.as_secs_f64()
    );
    rule();

    println!("1. CREATES — ConfigMaps with ~100 B of data, durable (each answered after commit)");
    println!("   kube 5's client is HTTP/1.1 only: no h2 multiplexing; a Client pools one connection per request in flight");
    println!(
        "   {:<34} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "shape", "creates/s", "p50", "p99", "max", "conns", "errors"
    );
    for (label, c) in &r.creates {
        println!(
            "   {:<34} {:>9.0} {:>9} {:>9} {:>9} {:>7} {:>7}",
            label,
            c.per_second(),
            ms(c.latency.p50),
            ms(c.latency.p99),
            ms(c.latency.max),
            c.peak_connections,
            c.errors
        );
        if let Some(e) = &c.first_error {
            println!("      first error: {}", truncate(e, 90));
        }
    }
    if let Some((label, best)) = r
        .creates
        .iter()
        .filter(|(_, c)| c.clients * c.tasks_per_client >= 64)
        .max_by(|a, b| a.1.per_second().total_cmp(&b.1.per_second()))
    {
        println!(
            "   goal ≥ 3000/s with p99 ≤ 50 ms at 64 in flight: {:.0}/s ({}), p99 {} → {}",
            best.per_second(),
            verdict(best.per_second() >= 3000.0),
            ms(best.latency.p99),
            verdict(best.latency.p99 <= Duration::from_millis(50)),
        );
        println!("   (best shape: {label}; conns = peak established server-side connections)");
    }
    rule();

    println!("2. LISTS — pods in one namespace (median of 5; time to the last byte, client decode included)");
    if let Some(f) = &r.pod_fill {
        println!(
            "   stored {} pods in {:.1} s ({:.0}/s, 64 in flight), {} errors",
            f.created,
            f.elapsed.as_secs_f64(),
            f.created as f64 / f.elapsed.as_secs_f64().max(1e-9),
            f.errors
        );
        if let Some(e) = &f.first_error {
            println!("      first error: {}", truncate(e, 90));
        }
    }
    println!(
        "   {:<38} {:>9} {:>9} {:>9} {:>7} {:>6} {:>9} {:>9}",
        "list", "median", "min", "max", "items", "pages", "MB", "kind"
    );
    for l in &r.lists {
        println!(
            "   {:<38} {:>9} {:>9} {:>9} {:>7} {:>6} {:>9.1} {:>9}",
            l.what,
            ms(l.median),
            ms(l.min),
            ms(l.max),
            l.items,
            l.pages,
            l.bytes as f64 / 1e6,
            l.kind
        );
    }
    rule();

    println!("3. WATCH — delay from an update's response to its event at each watcher");
    if let Some(w) = &r.watch {
        println!(
            "   {} of {} watches open in {:.1} s ({} failed; {} server connections)",
            w.watchers_open,
            w.watchers_wanted,
            w.setup.as_secs_f64(),
            w.open_errors,
            w.peak_connections
        );
        println!(
            "   {} updates (merge patch), update latency {}",
            w.updates,
            w.update_latency.describe()
        );
        println!(
            "   delivery delay {} over {} events",
            w.delay.describe(),
            w.delay.count
        );
        println!(
            "   delivered {}/{} events; {}/{} watchers got every event → {}; {} arrived before the writer had its response",
            w.delivered,
            w.expected,
            w.complete_watchers,
            w.watchers_wanted,
            if w.delivered == w.expected && w.expected > 0 { "yes" } else { "NO" },
            w.before_response
        );
        if let Some(e) = &w.first_error {
            println!("      first error: {}", truncate(e, 90));
        }
    } else {
        println!("   not run");
    }
    rule();

    println!("4. MEMORY — VmRSS of the berth server process");
    println!(
        "   right after start, before any request      {:>10}",
        mb(r.memory.at_start_kib)
    );
    let fetched: Vec<String> = r
        .discovery
        .iter()
        .map(|f| format!("{} {} KB in {}", f.path, f.bytes / 1000, ms(f.took)))
        .collect();
    println!(
        "   after discovery + OpenAPI v3               {:>10}   ({})",
        mb(r.memory.after_discovery_kib),
        fetched.join(", ")
    );
    let grown = r
        .memory
        .after_workload_kib
        .saturating_sub(r.memory.after_discovery_kib);
    println!(
        "   after the workload, idle 2 s               {:>10}   ({} objects stored: ~{:.1} KB each)",
        mb(r.memory.after_workload_kib),
        r.memory.stored_objects,
        grown as f64 * 1.024 / r.memory.stored_objects.max(1) as f64
    );
    println!(
        "   fresh server, pods stored, idle 2 s        {:>10}",
        mb(r.memory.pods_stored_kib)
    );
    println!(
        "   ... then discovery + lists, idle 2 s       {:>10}   goal idle ≤ 50 MB → {}",
        mb(r.memory.pods_listed_kib),
        verdict(r.memory.pods_listed_kib <= 50 * 1024)
    );
    rule();

    println!(
        "5. SERVER CPU by phase (utime + stime of berth server; 2 CPUs = 2 s per wall second)"
    );
    println!(
        "   {:<48} {:>9} {:>9} {:>7} {:>12}",
        "phase", "wall", "cpu", "cores", "cpu per op"
    );
    for p in &r.phases {
        println!(
            "   {:<48} {:>8.1}s {:>8.1}s {:>7.2} {:>9.0} µs",
            p.what,
            p.wall.as_secs_f64(),
            p.server_cpu,
            p.server_cpu / p.wall.as_secs_f64().max(1e-9),
            p.server_cpu * 1e6 / p.ops.max(1) as f64
        );
    }
    rule();
    print_node(&r.node);
}

pub fn print_node(node: &NodeOutcome) {
    println!("6. NODE AGENT — `berth agent` (+ its containerd) joined to a `berth server` on this host, pods of localhost/berth/echo:1");
    let n = match node {
        NodeOutcome::Skipped(why) => {
            println!("   skipped: {why}");
            rule();
            return;
        }
        NodeOutcome::Failed(why) => {
            println!("   FAILED: {}", why.replace('\n', "\n      "));
            rule();
            return;
        }
        NodeOutcome::Ran(n) => n,
    };
    println!(
        "   node Ready {:.1} s after `berth agent` was spawned; pod start = create sent → watch event with Ready=True",
        n.node_ready.as_secs_f64()
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>7}",
        "pod start", "p50", "p99", "max", "pods"
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>7}",
        "1 pod at a time (deleted before the next)",
        ms(n.single.p50),
        ms(n.single.p99),
        ms(n.single.max),
        n.single.count
    );
    println!(
        "   {:<44} {:>9} {:>9} {:>9} {:>4}/{}",
        "50 pods created at once (per pod)",
        ms(n.burst.per_pod.p50),
        ms(n.burst.per_pod.p99),
        ms(n.burst.per_pod.max),
        n.burst.ready,
        n.burst.wanted
    );
    match &n.floor {
        Ok(f) => {
            println!(
                "   {:<44} {:>9}   (sandbox {} + create/start {}, median of {})",
                "CRI floor: RunPodSandbox (CNI) + Create + Start",
                ms(f.pod_start),
                ms(f.sandbox),
                ms(f.container),
                f.runs
            );
            let over = n.single.p50.saturating_sub(f.pod_start);
            println!(
                "   goal: 1 pod Ready within 150 ms of the floor: p50 {} over the floor → {}",
                ms(over),
                verdict(n.single.count > 0 && over <= Duration::from_millis(150))
            );
        }
        Err(e) => println!("   CRI floor FAILED: {}", truncate(e, 90)),
    }
    match n.burst.all_ready {
        Some(all) => println!(
            "   goal: 50 pods all Ready in under 8 s: {:.2} s (first create sent → last Ready) → {}",
            all.as_secs_f64(),
            verdict(all < Duration::from_secs(8))
        ),
        None => println!("   goal: 50 pods all Ready in under 8 s: not all Ready → NOT met"),
    }
    let split = |r: &crate::node::Rss| {
        format!(
            "(heap etc. {} + mapped code {})",
            mb(r.anon_kib),
            mb(r.file_kib)
        )
    };
    println!(
        "   RSS of `berth agent`, idle 2 s, 0 pods       {:>10}              {}",
        mb(n.idle_rss_early.total_kib),
        split(&n.idle_rss_early)
    );
    println!(
        "   RSS of `berth agent`, idle 12 s, 0 pods      {:>10}   goal ≤ 30 MB → {}  {}",
        mb(n.idle_rss_kib),
        verdict(n.idle_rss_kib <= 30 * 1024),
        split(&n.idle_rss)
    );
    if let Some(r) = &n.rss_with_pods {
        println!(
            "   RSS of `berth agent`, 50 pods Ready, idle 2 s {:>10}              {}",
            mb(r.total_kib),
            split(r)
        );
    }
    println!(
        "   RSS of `berth server`, idle, 0 pods          {:>10}   (API server + scheduler + controllers)",
        mb(n.server_idle_rss_kib)
    );
    if let Some(kib) = n.server_rss_with_pods_kib {
        println!(
            "   RSS of `berth server`, 50 pods Ready          {:>10}",
            mb(kib)
        );
    }
    println!("   (containerd and its shims are separate processes and not counted)");
    if let Some(e) = &n.first_error {
        println!("      first error: {}", truncate(e, 90));
    }
    rule();
    println!("7. CONTROLLERS — the same cluster, one node, real containers; Docker Swarm timed on this machine beside it");
    match &n.workloads {
        Err(e) => println!("   FAILED: {}", truncate(e, 200)),
        Ok(w) => {
            use crate::workloads::*;
            println!(
                "   {:<48} {:>9} {:>9} {:>8}   goal ≥ 2× faster",
                "operation", "berth", "swarm", "speed-up"
            );
            for (what, ours, swarm) in [
                (
                    "Deployment of 50 replicas → all available",
                    w.up_50,
                    SWARM_50,
                ),
                (
                    "scale 50 → 100 → all available",
                    w.scale_to_100,
                    SWARM_50_TO_100,
                ),
                (
                    "deleted pod → replacement Ready",
                    w.replace_one,
                    SWARM_REPLACE,
                ),
                (
                    "rolling update of 100, 10 at a time",
                    w.rolling_100,
                    SWARM_ROLLING_100,
                ),
            ] {
                let speedup = swarm.as_secs_f64() / ours.as_secs_f64().max(0.001);
                println!(
                    "   {:<48} {:>8.2}s {:>8.1}s {:>7.1}×   → {}",
                    what,
                    ours.as_secs_f64(),
                    swarm.as_secs_f64(),
                    speedup,
                    verdict(speedup >= 2.0)
                );
            }
        }
    }
    rule();
}

pub(crate) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
