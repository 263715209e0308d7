//! The node lifecycle controller (upstream pkg/controller/nodelifecycle):
//! notices nodes whose kubelet stopped renewing its Lease and posting status,
//! marks their conditions Unknown, and keeps the NoExecute taints
//! (`not-ready`, `unreachable`) and the condition-derived NoSchedule taints
//! (TaintNodesByCondition, `unschedulable`) in line with node health.
//!
//! ```text
//! Leases (kube-node-lease) ─┐
//! Nodes ────────────────────┴▶ monitor pass every monitor_period
//!        probe timestamp = when we last saw the lease renewed / Ready change
//!        now > probe + grace ─▶ conditions Unknown ─▶ pods Ready=False, event NodeNotReady
//!        per zone: Normal / PartialDisruption / FullDisruption ─▶ rate-limited NoExecute taints
//! Nodes ─▶ Controller ─▶ NoSchedule taints from conditions and spec.unschedulable
//! ```

use crate::events;
use crate::informers::Informer;
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::Controller;
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const COMPONENT: &str = "node-controller";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// Conditions the controller turns Unknown when the kubelet goes silent.
const WATCHED_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

#[derive(Clone, Debug)]
pub struct NodeLifecycleConfig {
    /// How often node health is checked (upstream --node-monitor-period, 5s).
    pub monitor_period: Duration,
    /// Silence after which a node is Unknown (--node-monitor-grace-period, 40s).
    pub grace_period: Duration,
    /// Grace for a node that never posted Ready (--node-startup-grace-period, 60s).
    pub startup_grace_period: Duration,
    /// Nodes tainted NoExecute per second in a healthy zone (--node-eviction-rate).
    pub eviction_qps: f64,
    /// Rate in a partially disrupted large zone (--secondary-node-eviction-rate).
    pub secondary_eviction_qps: f64,
    /// Zones this size or smaller stop tainting when partially disrupted.
    pub large_cluster_threshold: usize,
    /// Share of not-ready nodes that makes a zone partially disrupted.
    pub unhealthy_zone_threshold: f64,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        Self {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(40),
            startup_grace_period: Duration::from_secs(60),
            eviction_qps: 0.1,
            secondary_eviction_qps: 0.01,
            large_cluster_threshold: 50,
            unhealthy_zone_threshold: 0.55,
        }
    }
}

pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The node's Ready status: "True", "False" or "Unknown" (absent = Unknown).
pub fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map_or("Unknown", |c| c.status.as_str())
}

/// Conditions after the kubelet went silent: watched conditions that are
/// missing are added as never updated, the others become Unknown.
pub fn silent_conditions(
    conditions: &[NodeCondition],
    now: &Time,
    created: Option<&Time>,
) -> Vec<NodeCondition> {
    let mut out = conditions.to_vec();
    for type_ in WATCHED_CONDITIONS {
        match out.iter_mut().find(|c| c.type_ == type_) {
            None => out.push(NodeCondition {
                type_: type_.into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: created.cloned(),
                last_transition_time: Some(now.clone()),
            }),
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(now.clone());
            }
            Some(_) => {}
        }
    }
    out
}

fn taint(key: &str, effect: &str, now: Option<&Time>) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        time_added: now.cloned(),
        value: None,
    }
}

/// NoSchedule taints this controller owns (TaintNodesByCondition).
const NO_SCHEDULE_KEYS: [&str; 7] = [
    TAINT_NOT_READY,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    TAINT_MEMORY_PRESSURE,
    TAINT_DISK_PRESSURE,
    TAINT_PID_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
];

/// The NoSchedule taints the node's conditions and spec.unschedulable call for.
pub fn wanted_no_schedule(node: &Node) -> Vec<&'static str> {
    let mut keys = Vec::new();
    for c in node
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
    {
        let key = match (c.type_.as_str(), c.status.as_str()) {
            ("Ready", "False") => TAINT_NOT_READY,
            ("Ready", "Unknown") => TAINT_UNREACHABLE,
            ("MemoryPressure", "True") => TAINT_MEMORY_PRESSURE,
            ("DiskPressure", "True") => TAINT_DISK_PRESSURE,
            ("PIDPressure", "True") => TAINT_PID_PRESSURE,
            ("NetworkUnavailable", "True") => TAINT_NETWORK_UNAVAILABLE,
            _ => continue,
        };
        keys.push(key);
    }
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        keys.push(TAINT_UNSCHEDULABLE);
    }
    keys
}

/// Replace the taints among `managed` (key, effect) pairs by `wanted` keys of
/// `effect`; other taints and already present wanted ones are kept as they
/// are. `None` when nothing changes.
pub fn retaint(
    existing: &[Taint],
    effect: &str,
    managed: &[&str],
    wanted: &[&str],
    now: Option<&Time>,
) -> Option<Vec<Taint>> {
    let is_managed = |t: &Taint| t.effect == effect && managed.contains(&t.key.as_str());
    let mut out: Vec<Taint> = existing
        .iter()
        .filter(|t| !is_managed(t) || wanted.contains(&t.key.as_str()))
        .cloned()
        .collect();
    for key in wanted {
        if !out.iter().any(|t| t.effect == effect && t.key == *key) {
            out.push(taint(key, effect, now));
        }
    }
    (out != existing).then_some(out)
}

/// The NoExecute taint node health calls for.
pub fn wanted_no_execute(ready: &str) -> Option<&'static str> {
    match ready {
        "False" => Some(TAINT_NOT_READY),
        "True" => None,
        _ => Some(TAINT_UNREACHABLE),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// ComputeZoneState: no ready node left is a full disruption; more than two
/// not-ready nodes making up at least `threshold` of the zone a partial one.
pub fn zone_state(ready: usize, not_ready: usize, threshold: f64) -> ZoneState {
    let total = ready + not_ready;
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && total > 0 && not_ready as f64 / total as f64 >= threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

pub fn zone_of(node: &Node) -> String {
    let labels = node.labels();
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    format!("{}:\0:{}", get(REGION_LABEL), get(ZONE_LABEL))
}

/// A token bucket with burst 1, as upstream's per-zone tainting limiter.
#[derive(Debug)]
struct RateLimiter {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    fn new(now: Instant) -> Self {
        Self {
            tokens: 1.0,
            last: now,
        }
    }

    /// `burst`: tokens that may pile up between passes. Upstream checks its
    /// limiter (burst 1) every 100 ms, so it taints up to min(qps, 10) nodes a
    /// second; one pass here every monitor period may take that many at once.
    fn try_accept(&mut self, qps: f64, burst: f64, now: Instant) -> bool {
        if qps <= 0.0 {
            return false;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * qps).min(burst.max(1.0));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the controller remembers of a node between passes.
#[derive(Debug)]
struct Health {
    /// When we last saw the kubelet alive (lease renewed or Ready changed).
    probe: Instant,
    ready: Option<NodeCondition>,
    /// The Ready condition we wrote last: seeing it is not a sign of life.
    ours: Option<NodeCondition>,
    lease_renew: Option<Timestamp>,
}

struct Monitor {
    client: kube::Client,
    config: NodeLifecycleConfig,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    pods: Arc<Informer<Pod>>,
    health: HashMap<String, Health>,
    limiters: HashMap<String, RateLimiter>,
}

fn now_time() -> Time {
    Time(Timestamp::now())
}

/// Nodes whose silence is written to the API at the same time
/// (kube-controller-manager's nodeUpdateWorkerSize).
const NODE_UPDATE_WORKERS: usize = 8;

/// What [`Monitor::check_health`] found about one node.
struct HealthCheck {
    /// Its Ready status as last seen, before any update of ours.
    observed: String,
    node: Arc<Node>,
    /// Conditions set Unknown, to write: the node has been silent too long.
    write: Option<Node>,
}

/// Write a silent node's Unknown conditions; the node as written, or `None`
/// (retried on the next pass).
async fn write_silent_status(client: &kube::Client, new: &Node) -> Option<Node> {
    let name = new.name_any();
    let api: Api<Node> = Api::all(client.clone());
    match api.replace_status(&name, &PostParams::default(), new).await {
        Ok(written) => Some(written),
        Err(err) => {
            tracing::debug!(%err, node = %name, "marking node Unknown (retrying next pass)");
            None
        }
    }
}

impl Monitor {
    /// tryUpdateNodeHealth, the deciding half: the node's Ready status
    /// before our update, the node, and the status to write when it has been
    /// silent longer than its grace period.
    fn check_health(&mut self, node: Arc<Node>) -> HealthCheck {
        let name = node.name_any();
        let now = Instant::now();
        let ready = condition(&node, "Ready").cloned();
        let lease = self
            .leases
            .get(Some(LEASE_NAMESPACE), &name)
            .and_then(|l| l.spec.as_ref()?.renew_time.as_ref().map(|t| t.0));
        let h = self.health.entry(name.clone()).or_insert_with(|| Health {
            probe: now,
            ready: ready.clone(),
            ours: None,
            lease_renew: lease,
        });
        if h.ready != ready {
            if h.ours != ready {
                h.probe = now;
            }
            h.ready = ready.clone();
        }
        if lease.is_some() && lease > h.lease_renew {
            h.probe = now;
            h.lease_renew = lease;
        }
        let observed = ready_status(&node).to_string();
        let grace = if ready.is_none() {
            self.config.startup_grace_period
        } else {
            self.config.grace_period
        };
        let unchanged = |node| HealthCheck {
            observed: observed.clone(),
            node,
            write: None,
        };
        if now.saturating_duration_since(h.probe) <= grace {
            return unchanged(node);
        }
        let conditions = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let updated = silent_conditions(
            &conditions,
            &now_time(),
            node.metadata.creation_timestamp.as_ref(),
        );
        if updated == conditions {
            return unchanged(node);
        }
        let mut new = node.as_ref().clone();
        new.status.get_or_insert_with(Default::default).conditions = Some(updated);
        HealthCheck {
            observed,
            node,
            write: Some(new),
        }
    }

    async fn pass(&mut self) {
        let nodes = self.nodes.list();
        let names: std::collections::HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        self.health.retain(|name, _| names.contains(name));
        let checks: Vec<HealthCheck> = nodes
            .into_iter()
            .map(|node| self.check_health(node))
            .collect();
        // The API writes of silent nodes (status, event, their pods' Ready
        // condition: ~60 calls for a node with 30 pods) run for several nodes
        // at once, as upstream's nodeUpdateWorkerSize workers: one after
        // another, 500 lost nodes took 190 s to all turn NotReady.
        let (client, pods) = (&self.client, &self.pods);
        let written: Vec<(Arc<Node>, String, Option<Option<NodeCondition>>)> =
            futures::stream::iter(checks)
                .map(|check| async move {
                    let (node, ours) = match check.write {
                        None => (check.node, None),
                        Some(new) => match write_silent_status(client, &new).await {
                            Some(written) => {
                                let ours = condition(&written, "Ready").cloned();
                                (Arc::new(written), Some(ours))
                            }
                            None => (check.node, None),
                        },
                    };
                    let now_status = ready_status(&node).to_string();
                    if check.observed == "True" && now_status != "True" {
                        events::record(
                            client,
                            COMPONENT,
                            node.as_ref(),
                            "Normal",
                            "NodeNotReady",
                            format!("Node {} status is now: NodeNotReady", node.name_any()),
                        )
                        .await;
                        let on_node = pods.on_node(&node.name_any());
                        if let Err(err) = mark_pods_not_ready(client, &on_node).await {
                            tracing::warn!(%err, node = %node.name_any(), "marking pods not ready");
                        }
                    }
                    (node, now_status, ours)
                })
                .buffered(NODE_UPDATE_WORKERS)
                .collect()
                .await;
        let mut current: Vec<(Arc<Node>, String)> = Vec::with_capacity(written.len());
        for (node, status, ours) in written {
            if let (Some(ours), Some(h)) = (ours, self.health.get_mut(&node.name_any())) {
                h.ours = ours;
            }
            current.push((node, status));
        }

        let mut zones: HashMap<String, (usize, usize)> = HashMap::new();
        for (node, status) in &current {
            let z = zones.entry(zone_of(node)).or_default();
            if status == "True" {
                z.0 += 1;
            } else {
                z.1 += 1;
            }
        }
        let states: HashMap<String, (ZoneState, usize)> = zones
            .iter()
            .map(|(z, (r, n))| {
                (
                    z.clone(),
                    (
                        zone_state(*r, *n, self.config.unhealthy_zone_threshold),
                        r + n,
                    ),
                )
            })
            .collect();
        // Every zone down means the problem is ours (or the network's), not
        // the nodes': stop tainting and lift NoExecute taints (upstream).
        let all_down = !states.is_empty()
            && states
                .values()
                .all(|(s, _)| *s == ZoneState::FullDisruption);
        for (node, status) in current {
            let want = if all_down {
                None
            } else {
                wanted_no_execute(&status)
            };
            let (state, size) = states
                .get(&zone_of(&node))
                .copied()
                .unwrap_or((ZoneState::Normal, 0));
            let qps = match state {
                ZoneState::Normal | ZoneState::FullDisruption => self.config.eviction_qps,
                ZoneState::PartialDisruption if size > self.config.large_cluster_threshold => {
                    self.config.secondary_eviction_qps
                }
                ZoneState::PartialDisruption => 0.0,
            };
            self.apply_no_execute(&node, want, qps).await;
        }
    }

    async fn apply_no_execute(&mut self, node: &Node, want: Option<&'static str>, qps: f64) {
        let existing = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let has = |key: &str| {
            existing
                .iter()
                .any(|t| t.effect == "NoExecute" && t.key == key)
        };
        let managed = [TAINT_NOT_READY, TAINT_UNREACHABLE];
        let wanted: Vec<&str> = want.into_iter().collect();
        let now = now_time();
        if retaint(&existing, "NoExecute", &managed, &wanted, Some(&now)).is_none() {
            return;
        }
        // Swapping not-ready ↔ unreachable and removing taints are immediate;
        // tainting a healthy-until-now node is rate limited per zone.
        let adding_new = want.is_some() && !managed.iter().any(|k| has(k));
        if adding_new {
            let limiter = self
                .limiters
                .entry(zone_of(node))
                .or_insert_with(|| RateLimiter::new(Instant::now()));
            let burst = qps.min(10.0) * self.config.monitor_period.as_secs_f64();
            if !limiter.try_accept(qps, burst, Instant::now()) {
                return;
            }
        }
        let result = update_taints(&self.client, node, |existing| {
            retaint(existing, "NoExecute", &managed, &wanted, Some(&now))
        })
        .await;
        if let Err(err) = result {
            tracing::debug!(%err, node = %node.name_any(), "updating NoExecute taints (retrying next pass)");
            if adding_new {
                // The write did not happen: give the token back.
                if let Some(l) = self.limiters.get_mut(&zone_of(node)) {
                    l.tokens += 1.0;
                }
            }
        }
    }
}

/// Write `f(taints)` to the node's spec.taints, re-reading the node and
/// retrying on conflicts (as upstream's AddOrUpdateTaintOnNode does), so a
/// concurrent kubelet status update does not cost a whole monitor period.
async fn update_taints(
    client: &kube::Client,
    node: &Node,
    f: impl Fn(&[Taint]) -> Option<Vec<Taint>>,
) -> Result<(), kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    let mut current = node.clone();
    for attempt in 0..5 {
        if attempt > 0 {
            match api.get_opt(&node.name_any()).await? {
                Some(n) => current = n,
                None => return Ok(()),
            }
        }
        let existing = current
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let Some(taints) = f(&existing) else {
            return Ok(());
        };
        let mut new = current.clone();
        new.spec.get_or_insert_with(Default::default).taints =
            (!taints.is_empty()).then_some(taints);
        match api
            .replace(&node.name_any(), &PostParams::default(), &new)
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < 4 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// MarkPodsNotReady: set Ready=False on every pod bound to the node
/// (`pods`: the node's pods, from the pod cache's node index).
/// Pod writes (status patch, then its event) in flight at once for one
/// node. One after another, a node's ~30 pods cost ~60 round trips: with 500
/// nodes lost at 5,000 nodes and 150,000 pods, about one node a second
/// turned NotReady, and NoExecute tainting waits for the pass.
const POD_MARK_WORKERS: usize = 16;

pub async fn mark_pods_not_ready(
    client: &kube::Client,
    pods: &[Arc<Pod>],
) -> Result<(), kube::Error> {
    // Owned items and client: a stream borrowing them makes the caller's
    // future not `Send` for every lifetime (rustc's higher-ranked check).
    let ready: Vec<Arc<Pod>> = pods
        .iter()
        .filter(|pod| {
            pod.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status != "False")
        })
        .cloned()
        .collect();
    let client = client.clone();
    let results: Vec<Result<(), kube::Error>> = futures::stream::iter(ready)
        .map(move |pod| mark_pod_not_ready(client.clone(), pod))
        .buffer_unordered(POD_MARK_WORKERS)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn mark_pod_not_ready(client: kube::Client, pod: Arc<Pod>) -> Result<(), kube::Error> {
    let ns = pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let patch = json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "lastTransitionTime": now_time()}]}});
    match api
        .patch_status(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => {
            events::record(
                &client,
                COMPONENT,
                pod.as_ref(),
                "Warning",
                "NodeNotReady",
                "Node is not ready".into(),
            )
            .await;
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn reconcile_no_schedule(
    node: Arc<Node>,
    ctx: Arc<Context>,
) -> Result<Action, ControllerError> {
    let wanted = wanted_no_schedule(&node);
    update_taints(&ctx.client, &node, |existing| {
        retaint(existing, "NoSchedule", &NO_SCHEDULE_KEYS, &wanted, None)
    })
    .await?;
    Ok(Action::requeue(ctx.resync))
}

/// Run the node lifecycle controller (health monitor + NoSchedule tainting).
pub async fn run_node_lifecycle_controller(
    client: kube::Client,
    ctx: Arc<Context>,
    config: NodeLifecycleConfig,
) {
    let nodes = ctx.informers.nodes();
    let leases = ctx.informers.get::<Lease>();
    let pods = ctx.informers.pods();
    let node_events = nodes.subscribe();
    let mut monitor = Monitor {
        client: client.clone(),
        config: config.clone(),
        nodes: nodes.clone(),
        leases: leases.clone(),
        pods: pods.clone(),
        health: HashMap::new(),
        limiters: HashMap::new(),
    };
    let monitor_task = async move {
        nodes.ready().await;
        leases.ready().await;
        pods.ready().await;
        let mut tick = tokio::time::interval(config.monitor_period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            monitor.pass().await;
        }
    };
    let store = ctx.informers.nodes().ready_store().await;
    let no_schedule = Controller::for_shared_stream(node_events, store)
        .run(
            |node, ctx| run_reconcile(node, ctx, reconcile_no_schedule),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "node taint controller");
            }
        });
    tokio::join!(monitor_task, no_schedule);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).expect("node")
    }

    fn t(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    #[test]
    fn silence_turns_conditions_unknown() {
        let n = node(json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "DiskPressure", "status": "Unknown", "reason": "NodeStatusUnknown",
             "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}));
        let conds = n.status.and_then(|s| s.conditions).unwrap_or_default();
        let now = t("2024-01-02T00:00:00Z");
        let created = t("2023-12-31T00:00:00Z");
        let out = silent_conditions(&conds, &now, Some(&created));
        let get = |ty: &str| out.iter().find(|c| c.type_ == ty).cloned().expect(ty);
        let ready = get("Ready");
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(ready.last_transition_time, Some(now.clone()));
        // Already Unknown: untouched (transition time kept).
        assert_eq!(
            get("DiskPressure").last_transition_time,
            Some(t("2024-01-01T00:00:00Z"))
        );
        let mem = get("MemoryPressure");
        assert_eq!(mem.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        assert_eq!(
            mem.message.as_deref(),
            Some("Kubelet never posted node status.")
        );
        assert_eq!(mem.last_heartbeat_time, Some(created));
        assert!(out.iter().any(|c| c.type_ == "PIDPressure"));
        // Idempotent.
        assert_eq!(silent_conditions(&out, &now, None), out);
    }

    #[test]
    fn no_schedule_taints_follow_conditions_and_cordon() {
        let cases = [
            (json!({"type": "Ready", "status": "True"}), false, vec![]),
            (
                json!({"type": "Ready", "status": "False"}),
                false,
                vec![TAINT_NOT_READY],
            ),
            (
                json!({"type": "Ready", "status": "Unknown"}),
                true,
                vec![TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE],
            ),
            (
                json!({"type": "MemoryPressure", "status": "True"}),
                false,
                vec![TAINT_MEMORY_PRESSURE],
            ),
            (
                json!({"type": "DiskPressure", "status": "False"}),
                true,
                vec![TAINT_UNSCHEDULABLE],
            ),
        ];
        for (cond, cordoned, want) in cases {
            let n = node(
                json!({"spec": {"unschedulable": cordoned}, "status": {"conditions": [cond]}}),
            );
            assert_eq!(wanted_no_schedule(&n), want, "{cond}");
        }
    }

    #[test]
    fn retaint_keeps_foreign_and_existing_taints() {
        let foreign = taint("example.com/dedicated", "NoSchedule", None);
        let old = t("2024-01-01T00:00:00Z");
        let now = t("2024-01-02T00:00:00Z");
        let unreachable = taint(TAINT_UNREACHABLE, "NoExecute", Some(&old));
        let managed = [TAINT_NOT_READY, TAINT_UNREACHABLE];
        let existing = vec![foreign.clone(), unreachable.clone()];
        // Unchanged: None, and timeAdded is kept.
        assert_eq!(
            retaint(
                &existing,
                "NoExecute",
                &managed,
                &[TAINT_UNREACHABLE],
                Some(&now)
            ),
            None
        );
        // Swap to not-ready: new taint stamped now.
        let swapped = retaint(
            &existing,
            "NoExecute",
            &managed,
            &[TAINT_NOT_READY],
            Some(&now),
        )
        .expect("change");
        assert_eq!(
            swapped,
            vec![
                foreign.clone(),
                taint(TAINT_NOT_READY, "NoExecute", Some(&now))
            ]
        );
        // Healthy: removed, foreign kept.
        assert_eq!(
            retaint(&existing, "NoExecute", &managed, &[], Some(&now)),
            Some(vec![foreign])
        );
        // A NoSchedule taint of the same key is not touched by NoExecute management.
        let ns = vec![taint(TAINT_UNREACHABLE, "NoSchedule", None)];
        assert_eq!(retaint(&ns, "NoExecute", &managed, &[], None), None);
    }

    #[test]
    fn zone_states() {
        let cases = [
            (3, 0, ZoneState::Normal),
            (0, 1, ZoneState::FullDisruption),
            (0, 0, ZoneState::Normal),
            (1, 2, ZoneState::Normal),
            (2, 3, ZoneState::PartialDisruption),
            (10, 3, ZoneState::Normal),
        ];
        for (ready, not_ready, want) in cases {
            assert_eq!(
                zone_state(ready, not_ready, 0.55),
                want,
                "{ready}/{not_ready}"
            );
        }
    }

    #[test]
    fn rate_limiter_burst_one() {
        let start = Instant::now();
        let mut l = RateLimiter::new(start);
        assert!(l.try_accept(0.1, 0.5, start));
        assert!(!l.try_accept(0.1, 0.5, start + Duration::from_secs(5)));
        assert!(l.try_accept(0.1, 0.5, start + Duration::from_secs(11)));
        assert!(!RateLimiter::new(start).try_accept(0.0, 1.0, start));
        // 100 nodes/s checked every 5 s: up to 50 at once (upstream: 10/s).
        let mut fast = RateLimiter::new(start);
        let later = start + Duration::from_secs(5);
        let taken = (0..100)
            .filter(|_| fast.try_accept(100.0, 50.0, later))
            .count();
        assert_eq!(taken, 50);
    }

    #[test]
    fn no_execute_by_ready() {
        assert_eq!(wanted_no_execute("True"), None);
        assert_eq!(wanted_no_execute("False"), Some(TAINT_NOT_READY));
        assert_eq!(wanted_no_execute("Unknown"), Some(TAINT_UNREACHABLE));
    }
}
