//! Scheduling throughput on an in-memory cluster: the real Framework and
//! cache (each decision assumed before the next), no API server.
//!
//! ```text
//! cargo run --release -p berth-scheduler --example throughput -- --nodes 5000 --pods 10000
//! ```
//! Nodes: 32 cpu / 128Gi / 110 pods, hostname + one of 10 zones, every
//! third `disk=ssd`. Pods, in turn: plain requests (50 %), node affinity
//! (required zones + preferred ssd, 15 %), DoNotSchedule zone spread
//! (10 %), required hostname anti-affinity (10 %), preferred pod affinity
//! (5 %), ReplicaSet-owned pods under the default spreading (10 %).

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

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn app_selector(app: &str) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some([("app".to_string(), app.to_string())].into()),
        match_expressions: None,
    })
}

/// Which mix entry pod `i` is.
fn kind_of(i: usize) -> &'static str {
    match i % 20 {
        10..=12 => "node affinity",
        13 | 14 => "zone spread",
        15 | 16 => "anti-affinity",
        17 => "preferred affinity",
        18 | 19 => "default spread",
        _ => "plain",
    }
}

fn make_pod(i: usize) -> Pod {
    let group = format!("g{}", i % GROUPS);
    let cpu = format!("{}m", 100 + (i % 8) * 100);
    let mem = format!("{}Mi", 128 + (i % 4) * 128);
    let mut p = pod(&format!("p{i}"), &[("cpu", &cpu), ("memory", &mem)]);
    p.metadata.labels = Some([("app".to_string(), group.clone())].into());
    let Some(spec) = p.spec.as_mut() else {
        return p;
    };
    match i % 20 {
        // node affinity
        10..=12 => {
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
        // zone spread
        13 | 14 => {
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: app_selector(&group),
                ..Default::default()
            }]);
        }
        // one per node
        15 | 16 => {
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
        17 => {
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
        18 | 19 => {
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
    let framework = Framework::new().with_percentage_of_nodes_to_score(percentage);
    let pods: Vec<Arc<PodInfo>> = (0..num_pods)
        .map(|i| Arc::new(PodInfo::new(Arc::new(make_pod(i)))))
        .collect();

    let mut latencies: Vec<Duration> = Vec::with_capacity(num_pods);
    let mut per_kind: BTreeMap<&str, (usize, Duration)> = BTreeMap::new();
    let mut unschedulable = 0usize;
    let started = Instant::now();
    for (i, info) in pods.iter().enumerate() {
        let t = Instant::now();
        match framework.schedule(info, cache.snapshot()) {
            Ok(result) => cache.assume(info.clone(), &result.node),
            Err(_) => unschedulable += 1,
        }
        let took = t.elapsed();
        latencies.push(took);
        let entry = per_kind.entry(kind_of(i)).or_default();
        entry.0 += 1;
        entry.1 += took;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or_default()
    };
    println!(
        "nodes {num_nodes}, pods {num_pods} ({unschedulable} unschedulable), \
         feasible nodes to find {}",
        framework.feasible_nodes_to_find(num_nodes)
    );
    println!(
        "{:.0} decisions/s; per decision p50 {:?}, p99 {:?}, max {:?}",
        num_pods as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    for (kind, (n, total)) in per_kind {
        println!(
            "  {kind:<20} {n:>7} pods, mean {:?}",
            total / n.max(1) as u32
        );
    }
}
