//! The scheduler against a real in-process berth API server over HTTPS:
//! nodes and pods created through the API, decisions seen through it.
//!
//! ```text
//! test ──kube──▶ berth_apiserver (memory store) ◀──watch/bind/events── Scheduler::run
//! ```
//! Effects are awaited by polling with a deadline, never by fixed sleeps.

mod support;

use berth_scheduler::Scheduler;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::future::Future;
use std::time::Duration;

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Create a Node, then give it capacity and a Ready condition through
/// nodes/status, as a kubelet would.
async fn add_node(client: &kube::Client, name: &str, cpu: &str, memory: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let resources = json!({"cpu": cpu, "memory": memory, "pods": "110"});
    let status = json!({"status": {
        "capacity": resources, "allocatable": resources,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status"}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");
}

fn pod_manifest(name: &str, cpu: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "busybox",
                  "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
    }))
    .expect("pod")
}

fn condition<'a>(
    pod: &'a Pod,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

async fn events_for(client: &kube::Client, pod: &str, reason: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(pod) && e.reason.as_deref() == Some(reason)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_reports_and_retries_through_the_api() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    for n in ["node-a", "node-b", "node-c"] {
        add_node(&client, n, "2", "4Gi").await;
    }
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Three pods land, spread over the three nodes.
    for i in 0..3 {
        pods.create(
            &PostParams::default(),
            &pod_manifest(&format!("web-{i}"), "500m"),
        )
        .await
        .expect("create pod");
    }
    let mut nodes_used = std::collections::BTreeSet::new();
    for i in 0..3 {
        let name = format!("web-{i}");
        let pod = eventually(&format!("{name} bound"), || {
            let pods = pods.clone();
            let name = name.clone();
            async move {
                let p = pods.get(&name).await.ok()?;
                p.spec.as_ref()?.node_name.as_ref()?;
                Some(p)
            }
        })
        .await;
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let scheduled = condition(&pod, "PodScheduled").expect("PodScheduled condition");
        assert_eq!(scheduled.status, "True");
        let events = eventually(&format!("Scheduled event for {name}"), || {
            let client = client.clone();
            let name = name.clone();
            async move {
                let e = events_for(&client, &name, "Scheduled").await;
                (!e.is_empty()).then_some(e)
            }
        })
        .await;
        assert_eq!(
            events[0].message.as_deref(),
            Some(format!("Successfully assigned default/{name} to {node}").as_str())
        );
        assert_eq!(
            events[0]
                .source
                .as_ref()
                .and_then(|s| s.component.as_deref()),
            Some("default-scheduler")
        );
        assert_eq!(events[0].type_.as_deref(), Some("Normal"));
        nodes_used.insert(node);
    }
    assert_eq!(nodes_used.len(), 3, "LeastAllocated spreads equal pods");

    // A pod no node can hold: FailedScheduling and PodScheduled=False.
    pods.create(&PostParams::default(), &pod_manifest("huge", "3"))
        .await
        .expect("create huge");
    let expected = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are \
                    available: 3 No preemption victims found for incoming pod.";
    let failed = eventually("FailedScheduling event", || {
        let client = client.clone();
        async move {
            let e = events_for(&client, "huge", "FailedScheduling").await;
            (!e.is_empty()).then_some(e)
        }
    })
    .await;
    assert_eq!(failed[0].message.as_deref(), Some(expected));
    assert_eq!(failed[0].type_.as_deref(), Some("Warning"));
    let pending = eventually("PodScheduled=False on huge", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("huge").await.ok()?;
            (condition(&p, "PodScheduled")?.status == "False").then_some(p)
        }
    })
    .await;
    let cond = condition(&pending, "PodScheduled").expect("condition");
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(cond.message.as_deref(), Some(expected));
    assert!(pending
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_none());

    // A node big enough appears: the parked pod is retried and lands there.
    add_node(&client, "node-big", "8", "16Gi").await;
    let placed = eventually("huge bound after node-big appeared", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("huge").await.ok()?;
            p.spec.as_ref()?.node_name.clone()
        }
    })
    .await;
    assert_eq!(placed, "node-big");
    let p = pods.get("huge").await.expect("get huge");
    assert_eq!(
        condition(&p, "PodScheduled").map(|c| c.status.as_str()),
        Some("True")
    );

    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_of_other_schedulers_are_left_alone() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    add_node(&client, "node-a", "2", "4Gi").await;
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut other = pod_manifest("theirs", "100m");
    if let Some(s) = other.spec.as_mut() {
        s.scheduler_name = Some("my-scheduler".into());
    }
    pods.create(&PostParams::default(), &other)
        .await
        .expect("create");
    pods.create(&PostParams::default(), &pod_manifest("ours", "100m"))
        .await
        .expect("create");
    eventually("ours bound", || {
        let pods = pods.clone();
        async move { pods.get("ours").await.ok()?.spec?.node_name }
    })
    .await;
    let theirs = pods.get("theirs").await.expect("get");
    assert!(theirs.spec.and_then(|s| s.node_name).is_none());
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pod_makes_room_for_a_waiting_one() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    add_node(&client, "small", "1", "4Gi").await;
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod_manifest("first", "800m"))
        .await
        .expect("create");
    eventually("first bound", || {
        let pods = pods.clone();
        async move { pods.get("first").await.ok()?.spec?.node_name }
    })
    .await;
    pods.create(&PostParams::default(), &pod_manifest("second", "800m"))
        .await
        .expect("create");
    eventually("second unschedulable", || {
        let client = client.clone();
        async move {
            let e = events_for(&client, "second", "FailedScheduling").await;
            (!e.is_empty()).then_some(())
        }
    })
    .await;
    pods.delete("first", &kube::api::DeleteParams::default().grace_period(0))
        .await
        .expect("delete first");
    let node = eventually("second bound once first is gone", || {
        let pods = pods.clone();
        async move { pods.get("second").await.ok()?.spec?.node_name }
    })
    .await;
    assert_eq!(node, "small");
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_bump_one_event_and_keep_the_condition() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    add_node(&client, "small", "1", "4Gi").await;
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod_manifest("huge", "4"))
        .await
        .expect("create");
    eventually("first FailedScheduling", || {
        let client = client.clone();
        async move {
            (!events_for(&client, "huge", "FailedScheduling")
                .await
                .is_empty())
            .then_some(())
        }
    })
    .await;
    let first = eventually("condition written", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("huge").await.ok()?;
            condition(&p, "PodScheduled")?.last_transition_time.clone()
        }
    })
    .await;
    // A label change is a node update worth a retry; the message stays the same.
    let nodes: Api<Node> = Api::all(client.clone());
    let relabel = json!({"metadata": {"labels": {"disk": "ssd"}}});
    nodes
        .patch("small", &PatchParams::default(), &Patch::Merge(&relabel))
        .await
        .expect("relabel");
    let events = eventually("the same event counted twice", || {
        let client = client.clone();
        async move {
            let e = events_for(&client, "huge", "FailedScheduling").await;
            (e.first()?.count == Some(2)).then_some(e)
        }
    })
    .await;
    assert_eq!(events.len(), 1, "a repeat bumps the count, no new Event");
    let p = pods.get("huge").await.expect("get");
    let cond = condition(&p, "PodScheduled").expect("condition");
    assert_eq!(cond.last_transition_time.as_ref(), Some(&first));

    // Gated pods wait for their gates to go.
    let mut gated = pod_manifest("gated", "100m");
    if let Some(s) = gated.spec.as_mut() {
        s.scheduling_gates = Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
            name: "example.com/hold".into(),
        }]);
    }
    pods.create(&PostParams::default(), &gated)
        .await
        .expect("create gated");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = pods.get("gated").await.expect("get gated");
    assert!(still
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_none());
    let ungate = json!({"spec": {"schedulingGates": null}});
    pods.patch("gated", &PatchParams::default(), &Patch::Merge(&ungate))
        .await
        .expect("ungate");
    eventually("gated pod bound after its gates went", || {
        let pods = pods.clone();
        async move { pods.get("gated").await.ok()?.spec?.node_name }
    })
    .await;
    scheduler.abort();
}

/// A PriorityClass; the API server's Priority admission resolves a pod's
/// `priorityClassName` into `spec.priority` (and refuses a bare integer).
async fn priority_class(client: &kube::Client, name: &str, value: i32) {
    use k8s_openapi::api::scheduling::v1::PriorityClass;
    let classes: Api<PriorityClass> = Api::all(client.clone());
    let class: PriorityClass = serde_json::from_value(json!({
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name}, "value": value,
    }))
    .expect("class");
    classes
        .create(&PostParams::default(), &class)
        .await
        .expect("create class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_pod_preempts_a_lower_one() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    add_node(&client, "small", "1", "4Gi").await;
    priority_class(&client, "high", 1000).await;
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let with_priority = |name: &str, class: Option<&str>| {
        let mut p = pod_manifest(name, "800m");
        if let Some(s) = p.spec.as_mut() {
            s.priority_class_name = class.map(str::to_string);
            s.termination_grace_period_seconds = Some(0);
        }
        p
    };
    pods.create(&PostParams::default(), &with_priority("low", None))
        .await
        .expect("create low");
    eventually("low bound", || {
        let pods = pods.clone();
        async move { pods.get("low").await.ok()?.spec?.node_name }
    })
    .await;
    let high = pods
        .create(&PostParams::default(), &with_priority("high", Some("high")))
        .await
        .expect("create high");
    let high_uid = high.metadata.uid.clone().unwrap_or_default();

    let preempted = eventually("Preempted event on low", || {
        let client = client.clone();
        async move {
            let e = events_for(&client, "low", "Preempted").await;
            e.into_iter().next()
        }
    })
    .await;
    assert_eq!(
        preempted.message.as_deref(),
        Some(format!("Preempted by pod {high_uid} on node small").as_str())
    );
    let node = eventually("high bound to small once low is gone", || {
        let pods = pods.clone();
        async move { pods.get("high").await.ok()?.spec?.node_name }
    })
    .await;
    assert_eq!(node, "small");
    assert!(pods.get_opt("low").await.expect("get low").is_none());
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preemption_policy_never_waits() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    add_node(&client, "small", "1", "4Gi").await;
    priority_class(&client, "high", 1000).await;
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod_manifest("low", "800m"))
        .await
        .expect("create low");
    eventually("low bound", || {
        let pods = pods.clone();
        async move { pods.get("low").await.ok()?.spec?.node_name }
    })
    .await;
    let mut polite = pod_manifest("polite", "800m");
    if let Some(s) = polite.spec.as_mut() {
        s.priority_class_name = Some("high".into());
        s.preemption_policy = Some("Never".into());
    }
    pods.create(&PostParams::default(), &polite)
        .await
        .expect("create polite");
    let failed = eventually("FailedScheduling for polite", || {
        let client = client.clone();
        async move {
            events_for(&client, "polite", "FailedScheduling")
                .await
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "0/1 nodes are available: 1 Insufficient cpu. \
             preemption: not eligible due to preemptionPolicy=Never."
        )
    );
    assert!(pods.get_opt("low").await.expect("get").is_some());
    scheduler.abort();
}

/// Whether the API server resolves priorityClassName into spec.priority
/// (admission's job; the scheduler only reads spec.priority).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_comes_from_the_priority_class() {
    let server = support::TestServer::memory().await;
    let client = server.client().await;
    priority_class(&client, "high", 1000).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut p = pod_manifest("probe", "100m");
    if let Some(s) = p.spec.as_mut() {
        s.priority_class_name = Some("high".into());
    }
    let created = pods
        .create(&PostParams::default(), &p)
        .await
        .expect("create");
    assert_eq!(created.spec.and_then(|s| s.priority), Some(1000));
}
