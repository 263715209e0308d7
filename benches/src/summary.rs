//! One table for `make bench`: every benchmark writes its figures as rows
//! (section, figure, value, unit, display, goal, met) in a JSON file under
//! `target/bench/`; the summary reads every file it knows, puts each figure
//! beside its goal from the issues, and writes `summary.txt` and
//! `summary.json`.
//!
//! ```text
//! berth-bench ─▶ berth-bench.json ┐
//! throughput  ─▶ scheduler.json   │
//! sync_bench  ─▶ proxy-sync.json  ├─▶ summarize(dir) ─▶ rows + "not run" rows
//! qps         ─▶ dns-qps.json     │        │               for missing inputs
//! netbench    ─▶ netbench.json    │  (own shape, adapted)  └─▶ summary.txt / .json
//! berth-sim   ─▶ sim-short.json   ┘  (its table, adapted)
//! ```
//!
//! The examples of other crates write the same field names themselves (they
//! must not depend on this crate); netbench and berth-sim keep their own
//! shapes and are adapted here.

use crate::node::NodeOutcome;
use crate::report::Report;
use crate::stats::ms;
use crate::workloads::{SWARM_50, SWARM_50_TO_100, SWARM_REPLACE, SWARM_ROLLING_100};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One figure of one benchmark.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub section: String,
    pub figure: String,
    /// The number behind `display`, in `unit`; `None` when the figure was not measured.
    pub value: Option<f64>,
    pub unit: String,
    /// As a person reads it ("3,412/s", "41.2 MB", "not run").
    pub display: String,
    /// The goal from the issues, as text; `None` when the row only reports.
    pub goal: Option<String>,
    /// Whether `value` reaches `goal`; `None` without a goal or a value.
    pub met: Option<bool>,
}

impl Row {
    /// A row that only reports a figure.
    pub fn figure(section: &str, figure: &str, value: f64, unit: &str, display: String) -> Row {
        Row {
            section: section.into(),
            figure: figure.into(),
            value: Some(value),
            unit: unit.into(),
            display,
            goal: None,
            met: None,
        }
    }

    /// The same row with a goal and whether it is met.
    pub fn goal(mut self, goal: &str, met: Option<bool>) -> Row {
        self.goal = Some(goal.into());
        self.met = met;
        self
    }

    /// A figure that was not measured, and why.
    pub fn not_run(section: &str, figure: &str, goal: Option<&str>, why: &str) -> Row {
        Row {
            section: section.into(),
            figure: figure.into(),
            value: None,
            unit: String::new(),
            display: if why.is_empty() {
                "not run".into()
            } else {
                format!("not run: {}", one_line(why, 60))
            },
            goal: goal.map(str::to_string),
            met: None,
        }
    }
}

/// The file every benchmark writes: its rows, and a note when it could not run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Figures {
    pub program: String,
    /// Why the program measured nothing (e.g. "needs root"), if so.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub rows: Vec<Row>,
}

/// Writes `figures` as pretty JSON to `path`, creating its directory.
pub fn write_figures(path: &Path, figures: &Figures) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_string_pretty(figures).map_err(std::io::Error::other)?;
    std::fs::write(path, json + "\n")
}

// ─── berth-bench's own rows ─────────────────────────────────────────────────

pub const SECTION_CREATES: &str = "API creates (durable ConfigMaps)";
pub const SECTION_LISTS: &str = "API lists (pods, median of 5)";
pub const SECTION_WATCH: &str = "API watch";
pub const SECTION_MEMORY: &str = "API server memory";
pub const SECTION_NODE: &str = "node agent (berth agent)";
pub const SECTION_CONTROLLERS: &str = "controllers vs Docker Swarm";

pub const FIG_BEST_CREATES: &str = "creates/s, best shape at 64 in flight";
pub const FIG_BEST_CREATE_P99: &str = "create p99, same shape";
pub const FIG_IDLE_RSS: &str = "idle RSS, fresh server holding only the pods, after lists";
pub const FIG_OVER_FLOOR: &str = "1 pod: p50 start over the CRI floor";
pub const FIG_ALL_READY_50: &str = "50 pods created at once → all Ready";
pub const FIG_UP_RSS: &str = "RSS of `berth agent`, idle 12 s, 0 pods";

pub const GOAL_CREATES: &str = "≥ 3,000/s durable";
pub const GOAL_CREATE_P99: &str = "≤ 50 ms";
pub const GOAL_IDLE_RSS: &str = "≤ 50 MB with 10,000 pods";
pub const GOAL_OVER_FLOOR: &str = "≤ 150 ms over the CRI floor";
pub const GOAL_ALL_READY_50: &str = "< 8 s (Swarm 16.5 s)";
pub const GOAL_UP_RSS: &str = "≤ 30 MB";

/// The four operations timed on Docker Swarm: (figure, Swarm's time).
pub const CONTROLLER_OPS: [(&str, Duration); 4] = [
    ("Deployment of 50 → all available", SWARM_50),
    ("scale 50 → 100 → all available", SWARM_50_TO_100),
    ("killed pod → replacement Ready", SWARM_REPLACE),
    ("rolling update of 100, 10 at a time", SWARM_ROLLING_100),
];

/// "≤ 8.25 s (2× faster than Swarm's 16.5 s)"
pub fn controller_goal(swarm: Duration) -> String {
    format!(
        "≤ {} s (2× faster than Swarm's {} s)",
        trim_float(swarm.as_secs_f64() / 2.0, 2),
        trim_float(swarm.as_secs_f64(), 1)
    )
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Rows of a whole berth-bench run: API server phases, then the node phase.
pub fn report_rows(r: &Report) -> Vec<Row> {
    let mut rows = vec![Row::figure(
        SECTION_CREATES,
        "server ready after spawn",
        r.startup.as_secs_f64(),
        "s",
        format!("{:.2} s", r.startup.as_secs_f64()),
    )];
    for (label, c) in &r.creates {
        rows.push(Row::figure(
            SECTION_CREATES,
            &format!("creates/s, {label}"),
            c.per_second(),
            "1/s",
            format!(
                "{}/s, p99 {}, {} errors",
                grouped(c.per_second()),
                ms(c.latency.p99),
                c.errors
            ),
        ));
    }
    match r
        .creates
        .iter()
        .filter(|(_, c)| c.clients * c.tasks_per_client >= 64)
        .max_by(|a, b| a.1.per_second().total_cmp(&b.1.per_second()))
    {
        Some((label, best)) => {
            rows.push(
                Row::figure(
                    SECTION_CREATES,
                    FIG_BEST_CREATES,
                    best.per_second(),
                    "1/s",
                    format!(
                        "{}/s, {}",
                        grouped(best.per_second()),
                        label.split(" (").next().unwrap_or(label)
                    ),
                )
                .goal(GOAL_CREATES, Some(best.per_second() >= 3000.0)),
            );
            rows.push(
                Row::figure(
                    SECTION_CREATES,
                    FIG_BEST_CREATE_P99,
                    millis(best.latency.p99),
                    "ms",
                    ms(best.latency.p99),
                )
                .goal(
                    GOAL_CREATE_P99,
                    Some(best.ok > 0 && best.latency.p99 <= Duration::from_millis(50)),
                ),
            );
        }
        None => {
            rows.push(Row::not_run(
                SECTION_CREATES,
                FIG_BEST_CREATES,
                Some(GOAL_CREATES),
                "",
            ));
            rows.push(Row::not_run(
                SECTION_CREATES,
                FIG_BEST_CREATE_P99,
                Some(GOAL_CREATE_P99),
                "",
            ));
        }
    }
    for l in &r.lists {
        rows.push(Row::figure(
            SECTION_LISTS,
            l.what,
            millis(l.median),
            "ms",
            format!("{} ({} items)", ms(l.median), grouped(l.items as f64)),
        ));
    }
    match &r.watch {
        Some(w) => {
            rows.push(Row::figure(
                SECTION_WATCH,
                "delivery delay p99",
                millis(w.delay.p99),
                "ms",
                format!(
                    "{} ({} watchers, {} updates)",
                    ms(w.delay.p99),
                    grouped(w.watchers_open as f64),
                    w.updates
                ),
            ));
            let every = w.delivered == w.expected && w.expected > 0;
            rows.push(Row::figure(
                SECTION_WATCH,
                "events delivered / expected",
                w.delivered as f64,
                "events",
                format!(
                    "{} / {}{}",
                    grouped(w.delivered as f64),
                    grouped(w.expected as f64),
                    if every { "" } else { " (events lost)" }
                ),
            ));
        }
        None => rows.push(Row::not_run(
            SECTION_WATCH,
            "delivery delay p99",
            None,
            "the watch phase failed",
        )),
    }
    let m = &r.memory;
    rows.push(Row::figure(
        SECTION_MEMORY,
        "RSS right after start",
        mb(m.at_start_kib),
        "MB",
        format!("{:.1} MB", mb(m.at_start_kib)),
    ));
    rows.push(Row::figure(
        SECTION_MEMORY,
        "RSS after the workload, idle",
        mb(m.after_workload_kib),
        "MB",
        format!(
            "{:.1} MB ({} objects)",
            mb(m.after_workload_kib),
            grouped(m.stored_objects as f64)
        ),
    ));
    let pods = r.pod_fill.as_ref().map_or(0, |f| f.created);
    rows.push(
        Row::figure(
            SECTION_MEMORY,
            FIG_IDLE_RSS,
            mb(m.pods_listed_kib),
            "MB",
            format!(
                "{:.1} MB ({} pods)",
                mb(m.pods_listed_kib),
                grouped(pods as f64)
            ),
        )
        .goal(
            GOAL_IDLE_RSS,
            // The goal is set at 10,000 pods; fewer would flatter the figure.
            (pods >= 10_000).then_some(m.pods_listed_kib <= 50 * 1024),
        ),
    );
    rows.extend(node_rows(&r.node));
    rows
}

/// Rows of the node phase (also all that `berth-bench --only-node` writes).
pub fn node_rows(node: &NodeOutcome) -> Vec<Row> {
    let n = match node {
        NodeOutcome::Skipped(why) => return node_not_run(&format!("skipped: {why}")),
        NodeOutcome::Failed(why) => return node_not_run(&format!("failed: {why}")),
        NodeOutcome::Ran(n) => n,
    };
    let s = SECTION_NODE;
    let mut rows = vec![Row::figure(
        s,
        "1 pod at a time: start p50 (create → Ready)",
        millis(n.single.p50),
        "ms",
        format!(
            "{} (p99 {}, {} pods)",
            ms(n.single.p50),
            ms(n.single.p99),
            n.single.count
        ),
    )];
    match &n.floor {
        Ok(f) => {
            rows.push(Row::figure(
                s,
                "CRI floor: RunPodSandbox (CNI) + Create + Start",
                millis(f.pod_start),
                "ms",
                format!("{} (median of {})", ms(f.pod_start), f.runs),
            ));
            let over = n.single.p50.saturating_sub(f.pod_start);
            rows.push(
                Row::figure(s, FIG_OVER_FLOOR, millis(over), "ms", ms(over)).goal(
                    GOAL_OVER_FLOOR,
                    Some(n.single.count > 0 && over <= Duration::from_millis(150)),
                ),
            );
        }
        Err(e) => rows.push(Row::not_run(
            s,
            FIG_OVER_FLOOR,
            Some(GOAL_OVER_FLOOR),
            &format!("CRI floor failed: {e}"),
        )),
    }
    rows.push(match n.burst.all_ready {
        Some(all) => Row::figure(
            s,
            FIG_ALL_READY_50,
            all.as_secs_f64(),
            "s",
            format!(
                "{:.2} s (per pod p50 {})",
                all.as_secs_f64(),
                ms(n.burst.per_pod.p50)
            ),
        )
        .goal(GOAL_ALL_READY_50, Some(all < Duration::from_secs(8))),
        None => Row {
            display: format!("{} of {} Ready", n.burst.ready, n.burst.wanted),
            ..Row::not_run(s, FIG_ALL_READY_50, Some(GOAL_ALL_READY_50), "")
        }
        .goal(GOAL_ALL_READY_50, Some(false)),
    });
    rows.push(
        Row::figure(
            s,
            FIG_UP_RSS,
            mb(n.idle_rss_kib),
            "MB",
            format!("{:.1} MB", mb(n.idle_rss_kib)),
        )
        .goal(GOAL_UP_RSS, Some(n.idle_rss_kib <= 30 * 1024)),
    );
    if let Some(kib) = n.rss_with_pods_kib {
        rows.push(Row::figure(
            s,
            "RSS of `berth agent`, 50 pods Ready",
            mb(kib),
            "MB",
            format!("{:.1} MB", mb(kib)),
        ));
    }
    match &n.workloads {
        Ok(w) => {
            let ours = [w.up_50, w.scale_to_100, w.replace_one, w.rolling_100];
            for ((figure, swarm), ours) in CONTROLLER_OPS.iter().zip(ours) {
                let speedup = swarm.as_secs_f64() / ours.as_secs_f64().max(0.001);
                rows.push(
                    Row::figure(
                        SECTION_CONTROLLERS,
                        figure,
                        ours.as_secs_f64(),
                        "s",
                        format!("{:.2} s ({speedup:.1}× Swarm)", ours.as_secs_f64()),
                    )
                    .goal(&controller_goal(*swarm), Some(speedup >= 2.0)),
                );
            }
        }
        Err(e) => {
            for (figure, swarm) in CONTROLLER_OPS {
                rows.push(Row::not_run(
                    SECTION_CONTROLLERS,
                    figure,
                    Some(&controller_goal(swarm)),
                    &format!("failed: {e}"),
                ));
            }
        }
    }
    rows
}

fn node_not_run(why: &str) -> Vec<Row> {
    let mut rows = vec![
        Row::not_run(SECTION_NODE, FIG_OVER_FLOOR, Some(GOAL_OVER_FLOOR), why),
        Row::not_run(SECTION_NODE, FIG_ALL_READY_50, Some(GOAL_ALL_READY_50), why),
        Row::not_run(SECTION_NODE, FIG_UP_RSS, Some(GOAL_UP_RSS), why),
    ];
    for (figure, swarm) in CONTROLLER_OPS {
        rows.push(Row::not_run(
            SECTION_CONTROLLERS,
            figure,
            Some(&controller_goal(swarm)),
            why,
        ));
    }
    rows
}

// ─── what the summary expects ───────────────────────────────────────────────

/// A goal figure the summary shows even when its benchmark did not write it.
pub struct Expected {
    pub section: String,
    pub figure: String,
    pub goal: String,
}

/// One input file of the summary.
pub struct Source {
    pub file: String,
    /// The `make bench` step that writes it, for "not run" rows.
    pub program: &'static str,
    /// How the file is laid out.
    pub shape: Shape,
    /// Section used for a "not run" row when nothing is expected from it.
    pub section: String,
    pub expected: Vec<Expected>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// `Figures`: the common row shape.
    Figures,
    /// crates/berth/tests/netbench.rs: one object per test.
    Netbench,
    /// berth-sim's table (benches/src/sim/report.rs).
    Sim,
}

pub const SECTION_SCHEDULER: &str = "scheduler (in memory, real framework)";
pub const SECTION_PROXY: &str = "proxy: nftables sync";
pub const SECTION_DNS: &str = "cluster DNS";
pub const SECTION_NETBENCH: &str = "service network (2 netns nodes)";

const GOAL_SCHEDULER: &str = "≥ 5,000 pods/s at 5,000 nodes (kube-scheduler CI floor 680–810)";
const GOAL_NFT_CHANGE: &str = "≤ 1 s";
const GOAL_ROUTABLE: &str = "≤ 1 s after Ready (every pod)";
const GOAL_CLUSTER_IP: &str = "within 10 % of the pod IP (≥ 90 %)";

/// Every input of `make bench`'s table; `sim` is the simulator's output name
/// (sim-short for `make bench`).
pub fn sources(sim: &str) -> Vec<Source> {
    let e = |section: &str, figure: &str, goal: &str| Expected {
        section: section.into(),
        figure: figure.into(),
        goal: goal.into(),
    };
    let mut berth_bench = vec![
        e(SECTION_CREATES, FIG_BEST_CREATES, GOAL_CREATES),
        e(SECTION_CREATES, FIG_BEST_CREATE_P99, GOAL_CREATE_P99),
        e(SECTION_MEMORY, FIG_IDLE_RSS, GOAL_IDLE_RSS),
        e(SECTION_NODE, FIG_OVER_FLOOR, GOAL_OVER_FLOOR),
        e(SECTION_NODE, FIG_ALL_READY_50, GOAL_ALL_READY_50),
        e(SECTION_NODE, FIG_UP_RSS, GOAL_UP_RSS),
    ];
    for (figure, swarm) in CONTROLLER_OPS {
        berth_bench.push(e(SECTION_CONTROLLERS, figure, &controller_goal(swarm)));
    }
    let sim_section = format!("{sim}: (b) churn");
    let sim_memory = format!("{sim}: memory");
    vec![
        Source {
            file: "berth-bench.json".into(),
            program: "berth-bench",
            shape: Shape::Figures,
            section: SECTION_CREATES.into(),
            expected: berth_bench,
        },
        Source {
            file: "scheduler.json".into(),
            program: "berth-scheduler example throughput",
            shape: Shape::Figures,
            section: SECTION_SCHEDULER.into(),
            expected: vec![e(SECTION_SCHEDULER, "decisions/s", GOAL_SCHEDULER)],
        },
        Source {
            file: "proxy-sync.json".into(),
            program: "berth-proxy example sync_bench",
            shape: Shape::Figures,
            section: SECTION_PROXY.into(),
            expected: vec![
                e(
                    SECTION_PROXY,
                    "one endpoint added, 10,000 services",
                    GOAL_NFT_CHANGE,
                ),
                e(
                    SECTION_PROXY,
                    "one service added, 10,000 services",
                    GOAL_NFT_CHANGE,
                ),
                e(
                    SECTION_PROXY,
                    "one service deleted, 10,000 services",
                    GOAL_NFT_CHANGE,
                ),
            ],
        },
        Source {
            file: "dns-qps.json".into(),
            program: "berth-dns example qps",
            shape: Shape::Figures,
            section: SECTION_DNS.into(),
            expected: Vec::new(),
        },
        Source {
            file: "netbench.json".into(),
            program: "berth test netbench",
            shape: Shape::Netbench,
            section: SECTION_NETBENCH.into(),
            expected: vec![
                e(
                    SECTION_NETBENCH,
                    "endpoint routable after Ready, max",
                    GOAL_ROUTABLE,
                ),
                e(
                    SECTION_NETBENCH,
                    "ClusterIP req/s, % of pod IP",
                    GOAL_CLUSTER_IP,
                ),
            ],
        },
        Source {
            file: format!("{sim}.json"),
            program: "berth-sim",
            shape: Shape::Sim,
            section: sim_section.clone(),
            expected: vec![
                e(
                    &sim_section,
                    "mutating API calls p99 (server histogram, all clients)",
                    "SLO ≤ 1 s",
                ),
                e(&sim_section, "pod startup p50 / p99", "SLO p99 ≤ 5 s"),
                e(
                    &sim_memory,
                    "server peak RSS over the whole run (VmHWM)",
                    "≤ 2 GB (at full scale)",
                ),
            ],
        },
    ]
}

// ─── reading a directory ────────────────────────────────────────────────────

/// What happened to one input file.
#[derive(Clone, Debug, Serialize)]
pub struct Input {
    pub file: String,
    /// "read", "missing", "unreadable: …", or the program's own note.
    pub status: String,
    pub rows: usize,
}

/// Wall times of `make bench`, from the stamps the Makefile writes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timing {
    /// Whole run so far: builds and benchmarks.
    pub total_seconds: Option<f64>,
    /// Benchmarks only (after the builds).
    pub benchmarks_seconds: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub written_at: String,
    pub dir: PathBuf,
    pub timing: Timing,
    pub inputs: Vec<Input>,
    pub rows: Vec<Row>,
}

pub const SECTION_RUN: &str = "make bench";
const GOAL_SHORT_RUN: &str = "< 10 min (short version)";

/// Reads every known input in `dir` (sim output `sim`) into one table.
/// Nothing missing is an error: it becomes "not run" rows.
pub fn summarize(dir: &Path, sim: &str, timing: Timing) -> Summary {
    let mut rows = Vec::new();
    let mut inputs = Vec::new();
    for source in sources(sim) {
        let path = dir.join(&source.file);
        let (mut found, status) = match std::fs::read_to_string(&path) {
            Err(_) => (Vec::new(), "missing".to_string()),
            Ok(text) => match parse(&text, source.shape, sim) {
                Ok((found, note)) => (found, note.unwrap_or_else(|| "read".into())),
                Err(e) => (Vec::new(), format!("unreadable: {e}")),
            },
        };
        inputs.push(Input {
            file: source.file.clone(),
            status: status.clone(),
            rows: found.len(),
        });
        let why = if status == "read" {
            "no figure".to_string()
        } else if status == "missing" {
            format!("no {} ({})", source.file, source.program)
        } else {
            status.clone()
        };
        // Each expected goal figure that is absent gets its own row, with the goal.
        for expected in &source.expected {
            let present = found
                .iter()
                .any(|r| r.section == expected.section && r.figure == expected.figure);
            if !present {
                found.push(Row::not_run(
                    &expected.section,
                    &expected.figure,
                    Some(&expected.goal),
                    &why,
                ));
            }
        }
        if found.is_empty() {
            found.push(Row::not_run(&source.section, source.program, None, &why));
        }
        rows.extend(found);
    }
    if let Some(total) = timing.total_seconds {
        rows.push(Row::figure(
            SECTION_RUN,
            "whole run, builds included",
            total,
            "s",
            minutes(total),
        ));
    }
    rows.push(match timing.benchmarks_seconds {
        Some(secs) => Row::figure(
            SECTION_RUN,
            "benchmarks, after the builds",
            secs,
            "s",
            minutes(secs),
        )
        .goal(GOAL_SHORT_RUN, Some(secs < 600.0)),
        None => Row::not_run(
            SECTION_RUN,
            "benchmarks, after the builds",
            Some(GOAL_SHORT_RUN),
            "no time stamps (run through `make bench`)",
        ),
    });
    Summary {
        written_at: chrono::Utc::now()
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        dir: dir.to_path_buf(),
        timing,
        inputs,
        rows,
    }
}

/// Seconds since the Unix time stamp in `file` (as `date +%s` writes it).
pub fn seconds_since_stamp(file: &Path) -> Option<f64> {
    let stamp: u64 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(now.saturating_sub(stamp) as f64)
}

/// Rows of one file and the program's note, in the layout `shape`.
fn parse(text: &str, shape: Shape, sim: &str) -> Result<(Vec<Row>, Option<String>), String> {
    let json: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match shape {
        Shape::Figures => {
            // A bare list of rows is accepted too.
            let figures: Figures = if json.is_array() {
                Figures {
                    rows: serde_json::from_value(json).map_err(|e| e.to_string())?,
                    ..Default::default()
                }
            } else {
                serde_json::from_value(json).map_err(|e| e.to_string())?
            };
            let note = figures.note.map(|n| format!("not run: {n}"));
            Ok((figures.rows, note))
        }
        Shape::Netbench => Ok((netbench_rows(&json), None)),
        Shape::Sim => Ok((sim_rows(&json, sim), None)),
    }
}

/// netbench.json: `endpoint_routable_after_ready` {p50_ms, max_ms, pods} and
/// `http_rps` {pod_ip_rps, cluster_ip_rps, ratio_percent}; either may be absent.
fn netbench_rows(json: &Value) -> Vec<Row> {
    let s = SECTION_NETBENCH;
    let mut rows = Vec::new();
    let routable = &json["endpoint_routable_after_ready"];
    if let (Some(p50), Some(max)) = (routable["p50_ms"].as_f64(), routable["max_ms"].as_f64()) {
        let pods = routable["pods"].as_u64().unwrap_or_default();
        rows.push(Row::figure(
            s,
            "endpoint routable after Ready, p50",
            p50,
            "ms",
            format!("{p50:.0} ms ({pods} pods)"),
        ));
        rows.push(
            Row::figure(
                s,
                "endpoint routable after Ready, max",
                max,
                "ms",
                format!("{max:.0} ms"),
            )
            .goal(GOAL_ROUTABLE, Some(pods > 0 && max <= 1000.0)),
        );
    }
    let http = &json["http_rps"];
    if let (Some(pod), Some(vip)) = (http["pod_ip_rps"].as_f64(), http["cluster_ip_rps"].as_f64()) {
        let ratio = http["ratio_percent"]
            .as_f64()
            .unwrap_or(vip / pod.max(1e-9) * 100.0);
        rows.push(
            Row::figure(
                s,
                "ClusterIP req/s, % of pod IP",
                ratio,
                "%",
                format!("{ratio:.1} % ({} vs {} req/s)", grouped(vip), grouped(pod)),
            )
            // Faster through the ClusterIP than direct is not a miss.
            .goal(GOAL_CLUSTER_IP, Some(pod > 0.0 && ratio >= 90.0)),
        );
    }
    rows
}

/// berth-sim's table: the rows with a goal, and the run's wall time; the
/// section names the output (`sim-short: (b) churn`).
fn sim_rows(json: &Value, sim: &str) -> Vec<Row> {
    let Some(table) = json["rows"].as_array() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for r in table {
        let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let (scenario, figure, goal) = (text("scenario"), text("figure"), text("goal"));
        if goal.is_empty() && scenario != "total" {
            continue;
        }
        // The table keeps the goal, not the anchors the simulator adds after ';'.
        let goal = if figure.contains("RSS") && goal.starts_with("≤ 2 GB") {
            "≤ 2 GB (at full scale)".to_string()
        } else {
            goal.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        rows.push(Row {
            section: format!("{sim}: {scenario}"),
            figure,
            value: r["number"].as_f64(),
            unit: text("unit"),
            display: text("value"),
            goal: (!goal.is_empty()).then_some(goal),
            met: r["met"].as_bool(),
        });
    }
    rows
}

// ─── output ─────────────────────────────────────────────────────────────────

fn verdict(row: &Row) -> &'static str {
    match (row.met, row.value) {
        (Some(true), _) => "met",
        (Some(false), _) => "NOT met",
        (None, None) if row.goal.is_some() => "—",
        (None, _) if row.goal.is_some() => "n/a",
        _ => "",
    }
}

impl Summary {
    /// (met, not met, not run) over the rows with a goal.
    pub fn counts(&self) -> (usize, usize, usize) {
        let with_goal = self.rows.iter().filter(|r| r.goal.is_some());
        let met = with_goal.clone().filter(|r| r.met == Some(true)).count();
        let missed = with_goal.clone().filter(|r| r.met == Some(false)).count();
        let not_run = with_goal.filter(|r| r.value.is_none()).count();
        (met, missed, not_run)
    }

    /// The aligned table: section | figure | berth | goal | met.
    pub fn text(&self) -> String {
        let header = ["section", "figure", "berth", "goal", "met"];
        let mut lines: Vec<[String; 5]> = Vec::new();
        let mut last_section = "";
        for r in &self.rows {
            // The section is printed once, on its first row.
            let section = if r.section == last_section {
                String::new()
            } else {
                r.section.clone()
            };
            last_section = &r.section;
            lines.push([
                section,
                r.figure.clone(),
                r.display.clone(),
                r.goal.clone().unwrap_or_default(),
                verdict(r).to_string(),
            ]);
        }
        let mut widths = header.map(|h| h.chars().count());
        for line in &lines {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let render = |cells: &[String; 5]| -> String {
            let mut out = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                out.push_str(cell);
                out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
            }
            out.trim_end().to_string() + "\n"
        };
        let (met, missed, not_run) = self.counts();
        let mut out = format!(
            "berth `make bench` summary, {} ({})\n",
            self.written_at,
            self.dir.display()
        );
        if let Some(total) = self.timing.total_seconds {
            out += &format!("whole run {}", minutes(total));
            if let Some(b) = self.timing.benchmarks_seconds {
                out += &format!(", benchmarks {}", minutes(b));
            }
            out += "\n";
        }
        out += &format!("goals: {met} met, {missed} NOT met, {not_run} not run\n\n");
        out += &render(&header.map(str::to_string));
        out += &render(&widths.map(|w| "-".repeat(w)));
        for line in &lines {
            out += &render(line);
        }
        out += "\ninputs:\n";
        for i in &self.inputs {
            out += &format!("  {:<18} {} ({} rows)\n", i.file, i.status, i.rows);
        }
        out
    }

    /// Writes `summary.txt` and `summary.json` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("summary.json"), json + "\n")?;
        std::fs::write(dir.join("summary.txt"), self.text())
    }
}

// ─── formatting ─────────────────────────────────────────────────────────────

/// 12345.6 → "12,346"
pub fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// 8.25 → "8.25", 16.5 → "16.5", 42.0 → "42"
fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn minutes(secs: f64) -> String {
    format!(
        "{:.0} s ({}:{:02} min)",
        secs,
        secs as u64 / 60,
        secs as u64 % 60
    )
}

fn one_line(s: &str, n: usize) -> String {
    crate::report::truncate(&s.split_whitespace().collect::<Vec<_>>().join(" "), n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creates::CreateRun;
    use crate::report::Memory;
    use crate::stats::Summary as Latency;

    fn find<'a>(s: &'a Summary, section: &str, figure: &str) -> &'a Row {
        s.rows
            .iter()
            .find(|r| r.section == section && r.figure == figure)
            .unwrap_or_else(|| panic!("no row {section} / {figure} in {:#?}", s.rows))
    }

    fn write(dir: &Path, file: &str, json: Value) {
        std::fs::write(dir.join(file), json.to_string()).unwrap();
    }

    fn create_run(per_second: usize, p99_ms: u64) -> CreateRun {
        CreateRun {
            clients: 8,
            tasks_per_client: 8,
            ok: per_second * 10,
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(10),
            latency: Latency {
                count: per_second * 10,
                p50: Duration::from_millis(p99_ms / 4),
                p99: Duration::from_millis(p99_ms),
                max: Duration::from_millis(p99_ms * 2),
            },
            peak_connections: 64,
        }
    }

    fn report(per_second: usize, p99_ms: u64, idle_kib: u64) -> Report {
        Report {
            startup: Duration::from_millis(300),
            discovery: Vec::new(),
            creates: vec![("8 clients × 8 tasks".into(), create_run(per_second, p99_ms))],
            pod_fill: Some(crate::lists::PodFill {
                created: 10_000,
                errors: 0,
                first_error: None,
                elapsed: Duration::from_secs(5),
            }),
            lists: Vec::new(),
            watch: None,
            memory: Memory {
                at_start_kib: 10_000,
                after_discovery_kib: 12_000,
                after_workload_kib: 90_000,
                stored_objects: 40_000,
                pods_stored_kib: idle_kib,
                pods_listed_kib: idle_kib,
            },
            phases: Vec::new(),
            node: NodeOutcome::Skipped("not root".into()),
            total: Duration::from_secs(60),
        }
    }

    #[test]
    fn berth_bench_goals_are_judged_on_their_figures() {
        let rows = report_rows(&report(3500, 60, 40 * 1024));
        let get = |f: &str| rows.iter().find(|r| r.figure == f).unwrap();
        assert_eq!(get(FIG_BEST_CREATES).met, Some(true));
        assert_eq!(get(FIG_BEST_CREATES).value, Some(3500.0));
        // 60 ms is over the 50 ms p99 goal.
        assert_eq!(get(FIG_BEST_CREATE_P99).met, Some(false));
        assert_eq!(get(FIG_IDLE_RSS).met, Some(true));
        let rows = report_rows(&report(2999, 50, 51 * 1024));
        let get = |f: &str| rows.iter().find(|r| r.figure == f).unwrap();
        assert_eq!(get(FIG_BEST_CREATES).met, Some(false));
        assert_eq!(get(FIG_BEST_CREATE_P99).met, Some(true));
        assert_eq!(get(FIG_IDLE_RSS).met, Some(false));
        // A skipped node phase still lists its goals, as not run.
        let floor = get(FIG_OVER_FLOOR);
        assert_eq!((floor.value, floor.met), (None, None));
        assert!(floor.display.contains("not root"), "{}", floor.display);
        assert_eq!(
            rows.iter()
                .filter(|r| r.section == SECTION_CONTROLLERS)
                .count(),
            4
        );
    }

    #[test]
    fn summary_reads_every_file_and_lists_missing_ones_as_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let rows = report_rows(&report(3500, 20, 40 * 1024));
        write_figures(
            &dir.path().join("berth-bench.json"),
            &Figures {
                program: "berth-bench".into(),
                note: None,
                rows,
            },
        )
        .unwrap();
        write(
            dir.path(),
            "scheduler.json",
            serde_json::json!({"program": "throughput", "rows": [{
                "section": SECTION_SCHEDULER, "figure": "decisions/s", "value": 5200.0,
                "unit": "1/s", "display": "5,200/s", "goal": GOAL_SCHEDULER, "met": true}]}),
        );
        write(
            dir.path(),
            "proxy-sync.json",
            serde_json::json!({"program": "sync_bench", "note": "needs root", "rows": []}),
        );
        write(
            dir.path(),
            "netbench.json",
            serde_json::json!({
                "endpoint_routable_after_ready": {"p50_ms": 40.0, "max_ms": 1200.0, "pods": 10},
                "http_rps": {"pod_ip_rps": 1000.0, "cluster_ip_rps": 905.0, "ratio_percent": 90.5}}),
        );
        write(
            dir.path(),
            "sim-short.json",
            serde_json::json!({"title": "t", "parameters": [], "rows": [
                {"scenario": "(b) churn", "figure": "mutating API calls p99 (server histogram, all clients)",
                 "value": "120 ms", "number": 0.12, "unit": "s", "goal": "SLO ≤ 1 s", "met": true},
                {"scenario": "(b) churn", "figure": "pods created / deleted / errors",
                 "value": "1 / 1 / 0", "number": 0.0, "unit": "errors", "goal": "", "met": null},
                {"scenario": "total", "figure": "wall time of the simulation",
                 "value": "300 s", "number": 300.0, "unit": "s", "goal": "", "met": null}]}),
        );
        let s = summarize(
            dir.path(),
            "sim-short",
            Timing {
                total_seconds: Some(700.0),
                benchmarks_seconds: Some(540.0),
            },
        );

        assert_eq!(find(&s, SECTION_CREATES, FIG_BEST_CREATES).met, Some(true));
        assert_eq!(
            find(&s, SECTION_SCHEDULER, "decisions/s").value,
            Some(5200.0)
        );
        // The program's note says why its goals were not measured.
        let nft = find(&s, SECTION_PROXY, "one service added, 10,000 services");
        assert_eq!((nft.value, nft.met), (None, None));
        assert!(nft.display.contains("needs root"), "{}", nft.display);
        assert_eq!(nft.goal.as_deref(), Some(GOAL_NFT_CHANGE));
        // dns-qps.json is missing: one "not run" row names the program.
        let dns = find(&s, SECTION_DNS, "berth-dns example qps");
        assert!(dns.display.starts_with("not run"), "{}", dns.display);
        // netbench: 1.2 s max misses ≤ 1 s; 90.5 % is within 10 %.
        let routable = find(&s, SECTION_NETBENCH, "endpoint routable after Ready, max");
        assert_eq!(routable.met, Some(false));
        assert_eq!(
            find(&s, SECTION_NETBENCH, "ClusterIP req/s, % of pod IP").met,
            Some(true)
        );
        // sim: goal rows and the wall time kept, report-only rows left out.
        let mutating = find(
            &s,
            "sim-short: (b) churn",
            "mutating API calls p99 (server histogram, all clients)",
        );
        assert_eq!((mutating.value, mutating.met), (Some(0.12), Some(true)));
        assert!(!s
            .rows
            .iter()
            .any(|r| r.figure == "pods created / deleted / errors"));
        assert!(s.rows.iter().any(|r| r.section == "sim-short: total"));
        let peak = find(
            &s,
            "sim-short: memory",
            "server peak RSS over the whole run (VmHWM)",
        );
        assert_eq!(peak.value, None);
        // Timing: 540 s of benchmarks is under 10 minutes.
        assert_eq!(
            find(&s, SECTION_RUN, "benchmarks, after the builds").met,
            Some(true)
        );
        let dns_input = s.inputs.iter().find(|i| i.file == "dns-qps.json").unwrap();
        assert_eq!(dns_input.status, "missing");

        s.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
        assert!(text.contains("| NOT met"), "{text}");
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), s.rows.len());
        // Columns line up: every table line has its separators at the same places.
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("section"))
            .take_while(|l| !l.is_empty())
            .collect();
        let bars = |l: &str| {
            l.char_indices()
                .filter(|(_, c)| *c == '|')
                .map(|(i, _)| l[..i].chars().count())
                .take(3)
                .collect::<Vec<_>>()
        };
        assert!(table.len() > 10);
        assert!(table.iter().all(|l| bars(l) == bars(table[0])), "{text}");
    }

    #[test]
    fn an_empty_directory_gives_not_run_rows_not_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("scheduler.json"), "{not json").unwrap();
        let s = summarize(dir.path(), "sim-short", Timing::default());
        let (met, missed, not_run) = s.counts();
        assert_eq!((met, missed), (0, 0));
        assert_eq!(not_run, s.rows.iter().filter(|r| r.goal.is_some()).count());
        let sched = s
            .inputs
            .iter()
            .find(|i| i.file == "scheduler.json")
            .unwrap();
        assert!(sched.status.starts_with("unreadable"), "{}", sched.status);
        assert_eq!(
            find(&s, SECTION_RUN, "benchmarks, after the builds").value,
            None
        );
    }

    #[test]
    fn formatting_helpers() {
        assert_eq!(grouped(1234567.4), "1,234,567");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(
            controller_goal(SWARM_50),
            "≤ 8.25 s (2× faster than Swarm's 16.5 s)"
        );
        assert_eq!(
            controller_goal(SWARM_ROLLING_100),
            "≤ 21 s (2× faster than Swarm's 42 s)"
        );
    }
}
