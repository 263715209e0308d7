//! Pods bound to this node, from one watch (fieldSelector spec.nodeName),
//! each handed to its own worker. Containers and sandboxes of pods that no
//! longer exist (e.g. deleted while the agent was down) are cleaned up.
//!
//! A relister (the kubelet's PLEG) lists every container once a second and
//! wakes the workers of pods whose containers changed state, so an exit is
//! noticed within a second without each worker polling the runtime.

use super::worker::Worker;
use crate::context::Context;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

pub struct PodManager {
    ctx: Arc<Context>,
    workers: Workers,
    /// Where pod events come from; `None`: the node's own watch.
    /// (A Mutex only so the manager stays Sync; it is taken once.)
    source: std::sync::Mutex<Option<PodEvents>>,
}

/// The events of the pods bound to one node, as a `spec.nodeName` watch yields
/// them. The hollow-node simulator feeds thousands of nodes from one shared
/// watch through this instead of opening one watch per node.
pub type PodEvents =
    futures::stream::BoxStream<'static, Result<watcher::Event<Pod>, watcher::Error>>;

type Workers = Arc<std::sync::Mutex<HashMap<String, watch::Sender<Option<Pod>>>>>;

/// How often the relister lists containers (upstream's PLEG relist period).
pub const RELIST_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

impl PodManager {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            workers: Default::default(),
            source: std::sync::Mutex::new(None),
        }
    }

    /// Take pod events from `source` instead of opening a watch.
    pub fn with_source(mut self, source: PodEvents) -> Self {
        self.source = std::sync::Mutex::new(Some(source));
        self
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Option<Pod>>>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&mut self, pod: Pod) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        if let Some(tx) = self.workers().get(&uid) {
            if tx.send(Some(pod.clone())).is_ok() {
                return;
            }
        }
        let (tx, rx) = watch::channel(Some(pod));
        let worker = Worker::new(self.ctx.clone(), uid.clone());
        tokio::spawn(worker.run(rx));
        self.workers().insert(uid, tx);
    }

    fn remove(&mut self, uid: &str) {
        if let Some(tx) = self.workers().remove(uid) {
            let _ = tx.send(None);
        }
    }

    /// Workers whose pod is gone and whose loop has ended free their slot.
    fn reap(&mut self) {
        self.workers().retain(|_, tx| !tx.is_closed());
    }

    pub async fn run(mut self) {
        tokio::spawn(relist(self.ctx.clone(), self.workers.clone()));
        // Garbage collection needs the full pod list first, or it would take every pod for gone.
        let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let active: crate::gc::ActivePods = {
            let (workers, synced) = (self.workers.clone(), synced.clone());
            Arc::new(move || {
                synced.load(std::sync::atomic::Ordering::SeqCst).then(|| {
                    workers
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .keys()
                        .cloned()
                        .collect()
                })
            })
        };
        tokio::spawn(crate::gc::GarbageCollector::new(self.ctx.clone(), active).run());
        let source = self.source.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut stream = match source {
            Some(source) => source,
            None => {
                let api: kube::Api<Pod> = kube::Api::all(self.ctx.client.clone());
                let cfg = watcher::Config::default()
                    .fields(&format!("spec.nodeName={}", self.ctx.cfg.node_name));
                watcher(api, cfg).boxed()
            }
        };
        let mut listed: Vec<Pod> = Vec::new();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(watcher::Event::Apply(pod)) => self.update(pod),
                Ok(watcher::Event::Delete(pod)) => {
                    if let Some(uid) = pod.metadata.uid.as_deref() {
                        self.remove(uid);
                    }
                }
                Ok(watcher::Event::Init) => listed.clear(),
                Ok(watcher::Event::InitApply(pod)) => listed.push(pod),
                Ok(watcher::Event::InitDone) => {
                    let uids: std::collections::HashSet<String> = listed
                        .iter()
                        .filter_map(|p| p.metadata.uid.clone())
                        .collect();
                    let gone: Vec<String> = self
                        .workers()
                        .keys()
                        .filter(|u| !uids.contains(*u))
                        .cloned()
                        .collect();
                    for uid in gone {
                        self.remove(&uid);
                    }
                    for pod in std::mem::take(&mut listed) {
                        self.update(pod);
                    }
                    self.clean_orphans(&uids).await;
                    synced.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => tracing::warn!("pod watch: {e}"),
            }
            self.reap();
        }
    }

    async fn clean_orphans(&self, known: &std::collections::HashSet<String>) {
        clean_orphans(&self.ctx, known).await;
    }
}

/// Pods the runtime holds but the API no longer binds here (deleted while
/// the agent was down): a worker with no pod stops and removes each of them.
/// Returns the workers' tasks.
pub async fn clean_orphans(
    ctx: &Arc<Context>,
    known: &std::collections::HashSet<String>,
) -> Vec<tokio::task::JoinHandle<()>> {
    use berth_cri::api;
    let Ok(list) = ctx
        .runtime
        .list_pod_sandbox(api::ListPodSandboxRequest { filter: None })
        .await
    else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut tasks = Vec::new();
    for s in list.items {
        let uid = s
            .labels
            .get(super::runtime::POD_UID_LABEL)
            .cloned()
            .unwrap_or_default();
        if uid.is_empty() || known.contains(&uid) || !seen.insert(uid.clone()) {
            continue;
        }
        let (tx, rx) = watch::channel(None);
        drop(tx);
        let worker = Worker::new(ctx.clone(), uid);
        tasks.push(tokio::spawn(worker.run(rx)));
    }
    tasks
}

/// Every `relist_period` (default [`RELIST_PERIOD`]): list all containers, and poke the worker of each pod
/// whose containers appeared, disappeared or changed state.
async fn relist(ctx: Arc<Context>, workers: Workers) {
    use berth_cri::api::ListContainersRequest;
    let mut previous: HashMap<String, (String, i32)> = HashMap::new();
    let mut tick = tokio::time::interval(ctx.cfg.relist_period);
    loop {
        tick.tick().await;
        let Ok(list) = ctx
            .runtime
            .list_containers(ListContainersRequest { filter: None })
            .await
        else {
            continue;
        };
        let mut current = HashMap::with_capacity(list.containers.len());
        let mut changed: std::collections::HashSet<String> = std::collections::HashSet::new();
        for c in list.containers {
            let uid = c
                .labels
                .get(super::runtime::POD_UID_LABEL)
                .cloned()
                .unwrap_or_default();
            if previous.get(&c.id).map(|(_, state)| *state) != Some(c.state) {
                changed.insert(uid.clone());
            }
            current.insert(c.id, (uid, c.state));
        }
        for (id, (uid, _)) in &previous {
            if !current.contains_key(id) {
                changed.insert(uid.clone());
            }
        }
        previous = current;
        if changed.is_empty() {
            continue;
        }
        let workers = workers.lock().unwrap_or_else(|p| p.into_inner());
        for uid in changed {
            if let Some(tx) = workers.get(&uid) {
                // Same pod, fresh notification: the worker syncs now.
                tx.send_modify(|_| {});
            }
        }
    }
}
