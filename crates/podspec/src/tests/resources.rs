use serde_json::json;

use super::fixtures::{first_container, pod, pod_json};
use crate::api::LinuxContainerResources;
use crate::{
    linux_resources, milli_cpu_to_quota, milli_cpu_to_shares, qos_class, sandbox_resources,
};

const GI: i64 = 1 << 30;
const NODE_MEMORY: i64 = 8 * GI;

fn res(shares: i64, quota: i64, memory: i64, oom: i64) -> LinuxContainerResources {
    LinuxContainerResources {
        cpu_shares: shares,
        cpu_period: 100_000,
        cpu_quota: quota,
        memory_limit_in_bytes: memory,
        oom_score_adj: oom,
        ..Default::default()
    }
}

#[test]
fn containers_by_qos_class() {
    // (case, container resources, qos, expected resources)
    let cases = vec![
        ("best effort", json!({}), "BestEffort", res(2, 0, 0, 1000)),
        (
            "guaranteed",
            json!({ "requests": { "cpu": "500m", "memory": "128Mi" }, "limits": { "cpu": "500m", "memory": "128Mi" } }),
            "Guaranteed",
            res(512, 50_000, 134_217_728, -997),
        ),
        (
            "guaranteed from limits only (requests default to limits)",
            json!({ "limits": { "cpu": "100m", "memory": "1Gi" } }),
            "Guaranteed",
            res(102, 10_000, GI, -997),
        ),
        (
            "burstable",
            json!({ "requests": { "cpu": "250m", "memory": "64Mi" }, "limits": { "cpu": "1", "memory": "256Mi" } }),
            "Burstable",
            // 1000 - 1000*64Mi/8Gi = 1000 - 7 (integer division)
            res(256, 100_000, 268_435_456, 993),
        ),
        (
            "burstable cpu only",
            json!({ "requests": { "cpu": "2" } }),
            "Burstable",
            res(2048, 0, 0, 999),
        ),
        (
            "burstable with a tiny memory request never equals best effort",
            json!({ "requests": { "memory": "1" } }),
            "Burstable",
            res(2, 0, 0, 999),
        ),
        (
            "burstable requesting more than the node is still above guaranteed",
            json!({ "requests": { "memory": "16Gi" } }),
            "Burstable",
            res(2, 0, 0, 3),
        ),
        (
            "half the node",
            json!({ "requests": { "memory": "4Gi", "cpu": "1m" }, "limits": { "cpu": "1m" } }),
            "Burstable",
            // shares floor 1 → 2, quota floor 100 → 1000
            res(2, 1000, 0, 500),
        ),
        (
            "fractional cpu",
            json!({ "requests": { "cpu": "0.1" }, "limits": { "cpu": "1.5", "memory": "1.5Gi" } }),
            "Burstable",
            res(102, 150_000, 1_610_612_736, 813),
        ),
    ];
    for (name, resources, qos, want) in cases {
        let p = pod(pod_json(
            "p",
            "default",
            json!({ "resources": resources }),
            json!({}),
        ));
        assert_eq!(qos_class(&p), qos, "{name}: qos");
        assert_eq!(
            linux_resources(&p, &first_container(&p), NODE_MEMORY),
            want,
            "{name}"
        );
    }
}

#[test]
fn qos_counts_every_container_and_honours_status() {
    let guaranteed = json!({ "limits": { "cpu": "1", "memory": "1Gi" } });
    let p = pod(pod_json(
        "p",
        "default",
        json!({ "resources": guaranteed }),
        json!({ "initContainers": [{ "name": "init", "image": "busybox", "resources": {} }] }),
    ));
    assert_eq!(
        qos_class(&p),
        "Burstable",
        "an init container without limits breaks Guaranteed"
    );

    let mut v = pod_json("p", "default", json!({}), json!({}));
    super::fixtures::merge(&mut v, json!({ "status": { "qosClass": "Guaranteed" } }));
    assert_eq!(qos_class(&pod(v)), "Guaranteed", "status.qosClass wins");
}

#[test]
fn sidecar_oom_score_never_above_regular_containers() {
    let p = pod(pod_json(
        "p",
        "default",
        json!({ "name": "main", "resources": { "requests": { "memory": "1Gi" } } }),
        json!({ "initContainers": [{
            "name": "proxy", "image": "envoy", "restartPolicy": "Always",
            "resources": { "requests": { "memory": "16Mi" } },
        }] }),
    ));
    let main = first_container(&p);
    assert_eq!(linux_resources(&p, &main, NODE_MEMORY).oom_score_adj, 875);
    let sidecar = p
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .and_then(|i| i.first())
        .cloned()
        .unwrap_or_default();
    // On its own 16Mi would give 999; capped at the regular container's 875.
    assert_eq!(
        linux_resources(&p, &sidecar, NODE_MEMORY).oom_score_adj,
        875
    );
}

#[test]
fn node_critical_pods_get_guaranteed_score() {
    let p = pod(pod_json(
        "kube-proxy",
        "kube-system",
        json!({}),
        json!({ "priorityClassName": "system-node-critical", "priority": 2_000_001_000 }),
    ));
    assert_eq!(qos_class(&p), "BestEffort");
    assert_eq!(
        linux_resources(&p, &first_container(&p), NODE_MEMORY).oom_score_adj,
        -997
    );
}

#[test]
fn sandbox_sums_containers_and_init_peak() {
    let p = pod(pod_json(
        "p",
        "default",
        json!({ "name": "a", "resources": { "requests": { "cpu": "250m" }, "limits": { "cpu": "1", "memory": "256Mi" } } }),
        json!({}),
    ));
    let mut v = serde_json::to_value(&p).expect("json");
    super::fixtures::merge(
        &mut v,
        json!({ "spec": { "containers": [
            { "name": "a", "image": "x", "resources": { "requests": { "cpu": "250m" }, "limits": { "cpu": "1", "memory": "256Mi" } } },
            { "name": "b", "image": "x", "resources": { "requests": { "cpu": "500m" } } },
        ] } }),
    );
    assert_eq!(
        sandbox_resources(&pod(v.clone())),
        res(768, 100_000, 268_435_456, 0)
    );

    // A big init container raises the pod request to its own.
    super::fixtures::merge(
        &mut v,
        json!({ "spec": { "initContainers": [{ "name": "migrate", "image": "x", "resources": { "requests": { "cpu": "2" } } }] } }),
    );
    assert_eq!(sandbox_resources(&pod(v)).cpu_shares, 2048);
}

#[test]
fn cpu_conversions() {
    for (milli, shares) in [
        (0, 2),
        (1, 2),
        (2, 2),
        (100, 102),
        (250, 256),
        (1000, 1024),
        (300_000, 262_144),
    ] {
        assert_eq!(milli_cpu_to_shares(milli), shares, "shares for {milli}m");
    }
    for (milli, quota) in [
        (0, 0),
        (1, 1000),
        (10, 1000),
        (250, 25_000),
        (2000, 200_000),
    ] {
        assert_eq!(
            milli_cpu_to_quota(milli, 100_000),
            quota,
            "quota for {milli}m"
        );
    }
}
