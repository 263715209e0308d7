//! The running scheduler: watches → cache + queue → one decision at a time →
//! asynchronous binding.
//!
//! ```text
//! loop:
//!   pop (wait for a pod, a back-off to expire or a parked pod's minute)
//!   lock: framework.schedule(pod, cache snapshot) ─ ok ─▶ cache.assume ─▶ spawn bind
//!                                                 └ no fit ─▶ queue: park or back off
//!                                                             spawn: FailedScheduling
//!                                                             event + condition
//!   bind task: POST binding ─ ok ──▶ queue.done, event Scheduled
//!                           └ err ─▶ cache.forget, queue back-off, FailedScheduling
//! ```

use crate::binder;
use crate::cache::SchedulerCache;
use crate::events::{EventRecorder, EventType};
use crate::eviction;
use crate::fit_error::FitError;
use crate::framework::{Framework, ScheduleResult};
use crate::informer;
use crate::object_watch;
use crate::pod_info::{pod_key, PodInfo};
use crate::queue::{Popped, QueueConfig, SchedulingQueue};
use crate::snapshot::Snapshot;
use crate::status;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long to wait for the watches of kinds other than pods and nodes.
const OTHER_KINDS_SYNC_WAIT: Duration = Duration::from_secs(10);
use tokio::sync::{watch, Notify};

pub(crate) struct State {
    pub cache: SchedulerCache,
    pub queue: SchedulingQueue,
}

/// Everything the watch tasks, the scheduling loop and binding tasks share.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Woken when the queue may have something new.
    pub wake: Notify,
    pub framework: Framework,
    pub client: kube::Client,
    pub recorder: EventRecorder,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not stop scheduling; the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct Scheduler {
    client: kube::Client,
    framework: Framework,
    queue_config: QueueConfig,
}

impl Scheduler {
    pub fn new(client: kube::Client) -> Self {
        Scheduler {
            client,
            framework: Framework::new(),
            queue_config: QueueConfig::default(),
        }
    }

    /// Use other back-off / parking times (tests shorten them).
    pub fn with_queue_config(mut self, config: QueueConfig) -> Self {
        self.queue_config = config;
        self
    }

    /// Use another plugin profile.
    pub fn with_framework(mut self, framework: Framework) -> Self {
        self.framework = framework;
        self
    }

    pub fn framework(&self) -> &Framework {
        &self.framework
    }

    /// One decision against `snapshot`, without the API (tests, benchmarks).
    pub fn schedule_one(&self, pod: &Pod, snapshot: &Snapshot) -> Result<ScheduleResult, FitError> {
        self.framework.schedule_one(pod, snapshot)
    }

    /// Watch, decide and bind until the task is dropped.
    pub async fn run(self) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                cache: SchedulerCache::new(),
                queue: SchedulingQueue::new(self.queue_config),
            }),
            wake: Notify::new(),
            framework: self.framework,
            recorder: EventRecorder::new(self.client.clone()),
            client: self.client,
        });
        let (pods_synced_tx, mut pods_synced) = watch::channel(false);
        let (nodes_synced_tx, mut nodes_synced) = watch::channel(false);
        let pods_task = tokio::spawn(informer::watch_pods(shared.clone(), pods_synced_tx));
        let nodes_task = tokio::spawn(informer::watch_nodes(shared.clone(), nodes_synced_tx));
        // Abort the watches when `run` is dropped.
        let mut guards = vec![AbortOnDrop(pods_task), AbortOnDrop(nodes_task)];
        let mut others = Vec::new();
        let mut watch_other =
            |start: fn(Arc<Shared>, watch::Sender<bool>) -> tokio::task::JoinHandle<()>| {
                let (tx, rx) = watch::channel(false);
                guards.push(AbortOnDrop(start(shared.clone(), tx)));
                others.push(rx);
            };
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<Namespace>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<PersistentVolumeClaim>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<PersistentVolume>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<PodDisruptionBudget>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<Service>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<ReplicaSet>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<StatefulSet>(s, tx)));
        watch_other(|s, tx| tokio::spawn(object_watch::watch_kind::<ReplicationController>(s, tx)));
        let _guards = guards;

        // Decide only from a complete picture (upstream's WaitForCacheSync).
        if pods_synced.wait_for(|s| *s).await.is_err()
            || nodes_synced.wait_for(|s| *s).await.is_err()
        {
            tracing::error!("scheduler watches ended before their first list");
            return;
        }
        // The other kinds refine decisions; a kind the server lacks must not
        // stop scheduling, so they get a bounded wait.
        let all_synced = futures::future::join_all(
            others
                .iter_mut()
                .map(|rx| async move { rx.wait_for(|s| *s).await.is_ok() }),
        );
        if tokio::time::timeout(OTHER_KINDS_SYNC_WAIT, all_synced)
            .await
            .is_err()
        {
            tracing::warn!("some scheduler watches have not listed yet; scheduling anyway");
        }
        tracing::info!("scheduler caches synced; scheduling");
        loop {
            let popped = next_pod(&shared).await;
            schedule_cycle(&shared, popped);
            // With a long queue `next_pod` never waits, and a cycle is
            // synchronous: yield, or this loop holds its runtime thread (in
            // `berth server`, one of the API server's) for as long as pods
            // are pending.
            tokio::task::yield_now().await;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wait for the next pod to try.
async fn next_pod(shared: &Shared) -> Popped {
    loop {
        let (popped, wake_at) = {
            let mut state = shared.state();
            let popped = state.queue.pop(Instant::now());
            (popped, state.queue.next_wakeup())
        };
        if let Some(p) = popped {
            return p;
        }
        // notify_one stores a permit, so a wake between unlock and here is kept.
        match wake_at {
            Some(at) => {
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => shared.wake.notified().await,
        }
    }
}

fn schedule_cycle(shared: &Arc<Shared>, popped: Popped) {
    let info = Arc::new(PodInfo::new(popped.pod.clone()));
    let decision = {
        let mut state = shared.state();
        let decision = shared.framework.schedule(&info, state.cache.snapshot());
        let mut displaced = Vec::new();
        match &decision {
            Ok(result) => state.cache.assume(info.clone(), &result.node),
            Err(fit) => {
                if let Some(c) = &fit.preemption {
                    // Lower-priority pods nominated there lose the room.
                    displaced = state
                        .cache
                        .snapshot()
                        .nominated_on(&c.node)
                        .iter()
                        .filter(|p| p.priority < info.priority && p.uid != info.uid)
                        .cloned()
                        .collect();
                    for p in &displaced {
                        state.cache.clear_nominated(&p.uid);
                    }
                    state.cache.nominate(info.clone(), Some(&c.node));
                }
                state
                    .queue
                    .requeue_failed(&info.uid, popped.cycle, Instant::now())
            }
        }
        (decision, displaced)
    };
    let (decision, displaced) = decision;
    let shared = shared.clone();
    match decision {
        Ok(result) => {
            tracing::debug!(pod = %info.key, node = %result.node, "assumed");
            tokio::spawn(bind_task(shared, info, result.node));
        }
        Err(fit) => {
            tracing::debug!(pod = %info.key, reason = %fit, "unschedulable");
            let message = fit.to_string();
            match fit.preemption {
                Some(c) => {
                    tracing::info!(pod = %info.key, node = %c.node, victims = c.victims.len(), "preempting");
                    tokio::spawn(async move {
                        eviction::preempt(
                            &shared.client,
                            &shared.recorder,
                            &popped.pod,
                            &c.node,
                            &c.victims,
                            &displaced,
                        )
                        .await;
                        report_unschedulable(shared, popped.pod, message, Some(c.node)).await;
                    });
                }
                None => {
                    tokio::spawn(report_unschedulable(shared, popped.pod, message, None));
                }
            }
        }
    }
}

async fn bind_task(shared: Arc<Shared>, info: Arc<PodInfo>, node: String) {
    match binder::bind(&shared.client, &info.pod, &node).await {
        Ok(()) => {
            shared.state().queue.done(&info.uid);
            let message = format!("Successfully assigned {} to {node}", pod_key(&info.pod));
            if let Err(e) = shared
                .recorder
                .record(&info.pod, EventType::Normal, "Scheduled", &message)
                .await
            {
                tracing::warn!(error = %e, "recording Scheduled event");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "binding failed");
            {
                let mut state = shared.state();
                state.cache.forget(&info.uid);
                state.queue.requeue_after_error(&info.uid, Instant::now());
                // The forgotten assumption frees room others may have wanted.
                state.queue.move_all(Instant::now());
            }
            shared.wake.notify_one();
            let message = format!("Binding rejected: {e}");
            if let Err(e) = shared
                .recorder
                .record(&info.pod, EventType::Warning, "FailedScheduling", &message)
                .await
            {
                tracing::warn!(error = %e, "recording FailedScheduling event");
            }
        }
    }
}

async fn report_unschedulable(
    shared: Arc<Shared>,
    pod: Arc<Pod>,
    message: String,
    nominated_node: Option<String>,
) {
    if let Err(e) = shared
        .recorder
        .record(&pod, EventType::Warning, "FailedScheduling", &message)
        .await
    {
        tracing::warn!(error = %e, "recording FailedScheduling event");
    }
    if let Err(e) =
        status::set_unschedulable(&shared.client, &pod, &message, nominated_node.as_deref()).await
    {
        tracing::warn!(error = %e, "updating PodScheduled condition");
    }
}
