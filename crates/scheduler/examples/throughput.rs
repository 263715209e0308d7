//! Scheduling throughput on an in-memory cluster: the real Framework and
//! cache (each decision assumed before the next), no API server.
//!
//! ```text
//! cargo run --release -p berth-scheduler --example throughput -- --nodes 5000 --pods 10000
//!   [--mix mixed|plain|node-affinity|zone-spread|anti-affinity|preferred-affinity|default-spread]
//!   [--percentage N] [--seed N] [--placements FILE] [--json FILE]
//! ```
//! Nodes: 32 cpu / 128Gi / 110 pods, hostname + one of 10 zones, every
//! third `disk=ssd`. Pods of the `mixed` mix (the default), in turn: plain
//! requests (50 %), node affinity (required zones + preferred ssd, 15 %),
//! DoNotSchedule zone spread (10 %), required hostname anti-affinity
//! (10 %), preferred pod affinity (5 %), ReplicaSet-owned pods under the
//! default spreading (10 %). Any other mix makes every pod of that kind.
//!
//! Prints decisions/s overall and per kind (pods of the kind ÷ time spent
//! deciding them). Ties are broken by a seeded generator (`--seed`), so
//! `--placements FILE` (one "pod node evaluated feasible" line per pod) is
//! the same from run to run and can be compared across versions.
//! `--json FILE` also writes the figures as rows (section, figure, value,
//! unit, display, goal, met) for `make bench`'s summary (benches/src/summary.rs).

use berth_scheduler::cache::SchedulerCache;
use berth_scheduler::label_selector::Selector;
use berth_scheduler::pod_info::PodInfo;
use berth_scheduler::snapshot::ControllerKind;
use berth_scheduler::testing::{labeled, node, pod};
use berth_scheduler::Framework;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodAffinity, PodAffinityTerm, PodAntiAffinity, PreferredSchedulingTerm,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ZONES: usize = 10;
const GROUPS: usize = 200;

fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn arg(name: &str, default: usize) -> usize {
    arg_str(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const KINDS: [&str; 6] = [
    "plain",
    "node-affinity",
    "zone-spread",
    "anti-affinity",
    "preferred-affinity",
    "default-spread",
];

fn app_selector(app: &str) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some([("app".to_string(), app.to_string())].into()),
        match_expressions: None,
    })
}

/// Which kind pod `i` is in the mixed mix.
fn mixed_kind(i: usize) -> &'static str {
    match i % 20 {
        10..=12 => "node-affinity",
        13 | 14 => "zone-spread",
        15 | 16 => "anti-affinity",
        17 => "preferred-affinity",
        18 | 19 => "default-spread",
        _ => "plain",
    }
}

fn make_pod(i: usize, kind: &str) -> Pod {
    let group = format!("g{}", i % GROUPS);
    let cpu = format!("{}m", 100 + (i % 8) * 100);
    let mem = format!("{}Mi", 128 + (i % 4) * 128);
    let mut p = pod(&format!("p{i}"), &[("cpu", &cpu), ("memory", &mem)]);
    p.metadata.labels = Some([("app".to_string(), group.clone())].into());
    let Some(spec) = p.spec.as_mut() else {
        return p;
    };
    match kind {
        "node-affinity" => {
            let zones: Vec<String> = (0..3)
                .map(|z| format!("zone-{}", (i + z) % ZONES))
                .collect();
            spec.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "topology.kubernetes.io/zone".into(),
                                operator: "In".into(),
                                values: Some(zones),
                            }]),
                            match_fields: None,
                        }],
                    }),
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        PreferredSchedulingTerm {
                            weight: 50,
                            preference: NodeSelectorTerm {
                                match_expressions: Some(vec![NodeSelectorRequirement {
                                    key: "disk".into(),
                                    operator: "In".into(),
                                    values: Some(vec!["ssd".into()]),
                                }]),
                                match_fields: None,
                            },
                        },
                    ]),
                }),
                ..Default::default()
            });
        }
        "zone-spread" => {
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: app_selector(&group),
                ..Default::default()
            }]);
        }
        // one per node
        "anti-affinity" => {
            spec.affinity = Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![
                        PodAffinityTerm {
                            label_selector: app_selector(&group),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        // near the group, preferably
        "preferred-affinity" => {
            spec.affinity = Some(Affinity {
                pod_affinity: Some(PodAffinity {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        WeightedPodAffinityTerm {
                            weight: 10,
                            pod_affinity_term: PodAffinityTerm {
                                label_selector: app_selector(&group),
                                topology_key: "topology.kubernetes.io/zone".into(),
                                ..Default::default()
                            },
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        // owned by a ReplicaSet: default spreading
        "default-spread" => {
            p.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: format!("rs-{group}"),
                uid: format!("rs-uid-{group}"),
                controller: Some(true),
                ..Default::default()
            }]);
        }
        _ => {}
    }
    p
}

fn main() {
    let num_nodes = arg("--nodes", 5000);
    let num_pods = arg("--pods", 10000);
    let percentage = arg("--percentage", 0);
    let seed = arg("--seed", 7) as u64;
    let mix = arg_str("--mix").unwrap_or_else(|| "mixed".to_string());
    let placements_file = arg_str("--placements");
    let json_file = arg_str("--json");
    let kind_of = |i: usize| -> &'static str {
        if mix == "mixed" {
            mixed_kind(i)
        } else {
            KINDS.iter().copied().find(|k| *k == mix).unwrap_or("plain")
        }
    };
    if mix != "mixed" && !KINDS.contains(&mix.as_str()) {
        eprintln!("unknown --mix {mix}; one of mixed, {}", KINDS.join(", "));
        std::process::exit(2);
    }

    let mut cache = SchedulerCache::new();
    for i in 0..num_nodes {
        let mut n = node(&format!("node-{i:05}"), "32", "128Gi");
        n = labeled(
            n,
            "topology.kubernetes.io/zone",
            &format!("zone-{}", i % ZONES),
        );
        if i % 3 == 0 {
            n = labeled(n, "disk", "ssd");
        }
        cache.observe_node(Arc::new(n));
    }
    for g in 0..GROUPS {
        let selector: BTreeMap<String, String> = [("app".to_string(), format!("g{g}"))].into();
        cache.objects_mut().controller_selectors.insert(
            (ControllerKind::ReplicaSet, format!("default/rs-g{g}")),
            Selector::from_map(&selector),
        );
    }
    let framework = Framework::new()
        .with_percentage_of_nodes_to_score(percentage)
        .with_seed(seed);
    let pods: Vec<Arc<PodInfo>> = (0..num_pods)
        .map(|i| Arc::new(PodInfo::new(Arc::new(make_pod(i, kind_of(i))))))
        .collect();
    let mut placements = String::new();

    let mut latencies: Vec<Duration> = Vec::with_capacity(num_pods);
    let mut per_kind: BTreeMap<&str, (usize, Duration)> = BTreeMap::new();
    let mut unschedulable = 0usize;
    let mut busy = Duration::ZERO;
    for (i, info) in pods.iter().enumerate() {
        // Timed: the decision and the assume that the next one sees.
        let t = Instant::now();
        let decision = framework.schedule(info, cache.snapshot());
        if let Ok(result) = &decision {
            cache.assume(info.clone(), &result.node);
        }
        let took = t.elapsed();
        busy += took;
        latencies.push(took);
        let entry = per_kind.entry(kind_of(i)).or_default();
        entry.0 += 1;
        entry.1 += took;
        match decision {
            Ok(result) => {
                if placements_file.is_some() {
                    placements.push_str(&format!(
                        "{} {} {} {}\n",
                        info.key, result.node, result.evaluated_nodes, result.feasible_nodes
                    ));
                }
            }
            Err(e) => {
                unschedulable += 1;
                if placements_file.is_some() {
                    placements.push_str(&format!("{} ERR {e}\n", info.key));
                }
            }
        }
    }
    if let Some(path) = &placements_file {
        if let Err(e) = std::fs::write(path, &placements) {
            eprintln!("writing {path}: {e}");
        }
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or_default()
    };
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "nodes {num_nodes}, pods {num_pods}, mix {mix} ({unschedulable} unschedulable), \
         feasible nodes to find {}",
        framework.feasible_nodes_to_find(num_nodes)
    );
    println!(
        "overall {:.0} decisions/s; per decision p50 {:?}, p99 {:?}, max {:?}",
        rate(num_pods, busy),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    for (kind, (n, total)) in &per_kind {
        println!(
            "  {kind:<20} {n:>6} pods {:>8.0} decisions/s, mean {:?}",
            rate(*n, *total),
            *total / (*n).max(1) as u32
        );
    }
    if let Some(path) = &json_file {
        let overall = rate(num_pods, busy);
        let figures = json_rows(num_nodes, num_pods, &mix, overall, pct(0.99), unschedulable);
        let written = serde_json::to_string_pretty(&figures)
            .map_err(std::io::Error::other)
            .and_then(|text| std::fs::write(path, text + "\n"));
        if let Err(e) = written {
            eprintln!("writing {path}: {e}");
            std::process::exit(1);
        }
    }
}

/// The figures in the row shape of benches/src/summary.rs (this crate must
/// not depend on berth-bench, so the field names are repeated here).
fn json_rows(
    nodes: usize,
    pods: usize,
    mix: &str,
    overall: f64,
    p99: Duration,
    unschedulable: usize,
) -> serde_json::Value {
    const SECTION: &str = "scheduler (in memory, real framework)";
    // The goal is set at 5,000 nodes; a smaller cluster would flatter the figure.
    let met = (nodes >= 5000).then_some(overall >= 5000.0);
    serde_json::json!({
        "program": "berth-scheduler example throughput",
        "note": null,
        "rows": [
            {
                "section": SECTION,
                "figure": "decisions/s",
                "value": overall,
                "unit": "1/s",
                "display": format!("{overall:.0}/s at {nodes} nodes, {pods} pods ({mix}, {unschedulable} unschedulable)"),
                "goal": "≥ 5,000 pods/s at 5,000 nodes (kube-scheduler CI floor 680–810)",
                "met": met,
            },
            {
                "section": SECTION,
                "figure": "per decision p99",
                "value": p99.as_secs_f64() * 1000.0,
                "unit": "ms",
                "display": format!("{:.2} ms", p99.as_secs_f64() * 1000.0),
                "goal": null,
                "met": null,
            },
        ],
    })
}
