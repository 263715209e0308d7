//! Whole decisions through the default profile on hand-built clusters, the
//! way the scheduling loop makes them: decide, then count the pod on its node
//! (assume) before the next decision.

use berth_scheduler::pod_info::PodInfo;
use berth_scheduler::testing::{bound, node, pod, tainted};
use berth_scheduler::{Framework, Snapshot};
use std::collections::BTreeMap;
use std::sync::Arc;

fn place(f: &Framework, snap: &mut Snapshot, p: k8s_openapi::api::core::v1::Pod) -> String {
    let result = f.schedule_one(&p, snap).expect("a node fits");
    snap.add_pod(&result.node, Arc::new(PodInfo::new(Arc::new(p))));
    result.node
}

#[test]
fn six_pods_spread_evenly_over_three_equal_nodes() {
    let f = Framework::new();
    let mut snap = Snapshot::from_objects(
        [
            node("a", "4", "8Gi"),
            node("b", "4", "8Gi"),
            node("c", "4", "8Gi"),
        ],
        &[],
    );
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let n = place(
            &f,
            &mut snap,
            pod(&format!("p{i}"), &[("cpu", "500m"), ("memory", "512Mi")]),
        );
        *per_node.entry(n).or_default() += 1;
    }
    assert_eq!(per_node.into_values().collect::<Vec<_>>(), [2, 2, 2]);
}

#[test]
fn best_effort_pods_spread_too() {
    let f = Framework::new();
    let mut snap = Snapshot::from_objects([node("a", "4", "8Gi"), node("b", "4", "8Gi")], &[]);
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..4 {
        *per_node
            .entry(place(&f, &mut snap, pod(&format!("p{i}"), &[])))
            .or_default() += 1;
    }
    assert_eq!(per_node.into_values().collect::<Vec<_>>(), [2, 2]);
}

#[test]
fn a_big_pod_goes_to_the_emptier_node() {
    let busy = bound(pod("busy", &[("cpu", "2"), ("memory", "4Gi")]), "a");
    let light = bound(pod("light", &[("cpu", "500m"), ("memory", "1Gi")]), "b");
    let snap = Snapshot::from_objects(
        [node("a", "4", "8Gi"), node("b", "4", "8Gi")],
        &[busy, light],
    );
    let f = Framework::new();
    for _ in 0..20 {
        let r = f
            .schedule_one(&pod("big", &[("cpu", "1500m"), ("memory", "3Gi")]), &snap)
            .expect("fits");
        assert_eq!(r.node, "b");
        assert_eq!(r.feasible_nodes, 2);
    }
    // Too big for the busy node: only the emptier one is feasible.
    let r = f
        .schedule_one(&pod("bigger", &[("cpu", "3")]), &snap)
        .expect("fits");
    assert_eq!((r.node.as_str(), r.feasible_nodes), ("b", 1));
}

#[test]
fn nothing_fits_gives_kube_schedulers_message() {
    let cp = "node-role.kubernetes.io/control-plane";
    let snap = Snapshot::from_objects(
        [
            node("worker", "1", "2Gi"),
            tainted(node("cp1", "8", "16Gi"), cp, "", "NoSchedule"),
            tainted(node("cp2", "8", "16Gi"), cp, "", "NoSchedule"),
        ],
        &[],
    );
    let err = Framework::new()
        .schedule_one(&pod("huge", &[("cpu", "2")]), &snap)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint \
         {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: \
         1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    );
}

#[test]
fn no_nodes_at_all() {
    let err = Framework::new()
        .schedule_one(&pod("p", &[]), &Snapshot::new())
        .unwrap_err();
    assert_eq!(err.to_string(), "no nodes available to schedule pods");
}

#[test]
fn preemption_part_follows_priorities_and_policy() {
    let mut low = bound(pod("low", &[("cpu", "1")]), "a");
    if let Some(s) = low.spec.as_mut() {
        s.priority = Some(0);
    }
    let snap = Snapshot::from_objects([node("a", "1", "2Gi")], &[low]);
    let f = Framework::new();

    let mut needs_more = pod("important", &[("cpu", "2")]);
    if let Some(s) = needs_more.spec.as_mut() {
        s.priority = Some(1000);
    }
    // Even without the low-priority pod it does not fit: the filter's reason.
    assert_eq!(
        f.schedule_one(&needs_more, &snap).unwrap_err().to_string(),
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: 0/1 nodes are available: 1 Insufficient cpu."
    );

    let mut never = pod("polite", &[("cpu", "1")]);
    if let Some(s) = never.spec.as_mut() {
        s.priority = Some(1000);
        s.preemption_policy = Some("Never".into());
    }
    assert_eq!(
        f.schedule_one(&never, &snap).unwrap_err().to_string(),
        "0/1 nodes are available: 1 Insufficient cpu. \
         preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn host_ports_keep_replicas_apart() {
    use k8s_openapi::api::core::v1::ContainerPort;
    let f = Framework::new();
    let mut snap = Snapshot::from_objects([node("a", "4", "8Gi"), node("b", "4", "8Gi")], &[]);
    let with_port = |name: &str| {
        let mut p = pod(name, &[]);
        if let Some(s) = p.spec.as_mut() {
            s.containers[0].ports = Some(vec![ContainerPort {
                container_port: 80,
                host_port: Some(80),
                ..Default::default()
            }])
        }
        p
    };
    let first = place(&f, &mut snap, with_port("web-1"));
    let second = place(&f, &mut snap, with_port("web-2"));
    assert_ne!(first, second);
    let err = f.schedule_one(&with_port("web-3"), &snap).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. \
         preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    );
}
