//! The scheduling queue, in kube-scheduler's three parts:
//!
//! ```text
//!  watch: new pending pod ──▶ active (heap: priority ▼, then creation time ▲)
//!                                 │ pop → in flight (one decision at a time)
//!                 ┌───────────────┴──────────────┐
//!              bound: done                  failed attempt
//!                                   ┌────────────┴─────────────┐
//!                       cluster changed during          nothing changed
//!                       the attempt                            │
//!                                   ▼                          ▼
//!                    backoff (1 s doubling to 10 s)    unschedulable (parked)
//!                                   │                          │ node added/changed,
//!                                   │ expired                  │ pod deleted/finished,
//!                                   ▼                          │ or parked 60 s
//!                                active ◀──────────────────────┘ (via backoff if
//!                                                                 still backing off)
//! ```

use crate::pod_info::priority;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct QueueConfig {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest a pod stays parked as unschedulable without a cluster event.
    pub max_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    place: Place,
    attempts: u32,
    last_attempt: Option<Instant>,
    /// Bumped whenever the pod is pushed on a heap; older heap items are stale.
    seq: u64,
}

/// Heap order: higher priority first, then older pods, then arrival order.
#[derive(Debug, PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    created: Option<Timestamp>,
    seq: u64,
    uid: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| match (&self.created, &other.created) {
                (Some(a), Some(b)) => b.cmp(a),
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (None, None) => Ordering::Equal,
            })
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A pod handed out for one scheduling attempt.
#[derive(Clone, Debug)]
pub struct Popped {
    pub pod: Arc<Pod>,
    /// The scheduling cycle of this attempt (to tell whether the cluster
    /// changed while it ran).
    pub cycle: u64,
    pub attempts: u32,
}

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    config: QueueConfig,
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    unschedulable: HashSet<String>,
    /// (parked at, seq, uid): to release pods parked too long.
    parked: BinaryHeap<Reverse<(Instant, u64, String)>>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    next_seq: u64,
}

impl SchedulingQueue {
    pub fn new(config: QueueConfig) -> Self {
        SchedulingQueue {
            config,
            ..Default::default()
        }
    }

    fn uid(pod: &Pod) -> String {
        pod.metadata.uid.clone().unwrap_or_default()
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A pending pod from the watch: new ones become active; known ones get
    /// the newer object, and a parked one whose spec or labels changed gets
    /// another chance (the change may have made it schedulable).
    pub fn add_or_update(&mut self, pod: Arc<Pod>, now: Instant) {
        let uid = Self::uid(&pod);
        if let Some(e) = self.entries.get_mut(&uid) {
            let changed = e.pod.spec != pod.spec || e.pod.metadata.labels != pod.metadata.labels;
            e.pod = pod;
            if e.place == Place::Unschedulable && changed {
                self.unschedulable.remove(&uid);
                self.release(&uid, now);
            }
            return;
        }
        let seq = self.seq();
        self.entries.insert(
            uid.clone(),
            Entry {
                pod,
                place: Place::Active,
                attempts: 0,
                last_attempt: None,
                seq,
            },
        );
        self.push_active(&uid);
    }

    pub fn remove(&mut self, uid: &str) {
        self.entries.remove(uid);
        self.unschedulable.remove(uid);
    }

    pub fn uids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.entries.contains_key(uid)
    }

    pub fn place(&self, uid: &str) -> Option<Place> {
        self.entries.get(uid).map(|e| e.place)
    }

    /// The latest object the watch showed for a queued pod.
    pub fn pod(&self, uid: &str) -> Option<Arc<Pod>> {
        self.entries.get(uid).map(|e| e.pod.clone())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Next pod to schedule, after releasing expired back-offs and pods
    /// parked too long.
    pub fn pop(&mut self, now: Instant) -> Option<Popped> {
        self.flush(now);
        while let Some(item) = self.active.pop() {
            let Some(e) = self.entries.get_mut(&item.uid) else {
                continue;
            };
            if e.seq != item.seq || e.place != Place::Active {
                continue;
            }
            self.scheduling_cycle += 1;
            e.place = Place::InFlight;
            e.attempts += 1;
            e.last_attempt = Some(now);
            return Some(Popped {
                pod: e.pod.clone(),
                cycle: self.scheduling_cycle,
                attempts: e.attempts,
            });
        }
        None
    }

    /// When `pop` may next have something, if nothing is active now.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let backoff = self.backoff.peek().map(|Reverse((at, _, _))| *at);
        let parked = self
            .parked
            .peek()
            .map(|Reverse((at, _, _))| *at + self.config.max_unschedulable);
        match (backoff, parked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The attempt failed for a reason other than fit (e.g. the binding was
    /// refused): retry after the back-off without waiting for an event.
    pub fn requeue_after_error(&mut self, uid: &str, now: Instant) {
        if self.entries.get(uid).map(|e| e.place) == Some(Place::InFlight) {
            self.release(uid, now);
        }
    }

    /// The pod was bound: it leaves the queue.
    pub fn done(&mut self, uid: &str) {
        if self
            .entries
            .get(uid)
            .is_some_and(|e| e.place == Place::InFlight)
        {
            self.entries.remove(uid);
        }
    }

    /// An attempt failed. If the cluster changed while it ran the pod retries
    /// after its back-off; otherwise it is parked until something changes.
    /// A pod deleted meanwhile is dropped.
    pub fn requeue_failed(&mut self, uid: &str, cycle: u64, now: Instant) {
        if self.entries.get(uid).map(|e| e.place) != Some(Place::InFlight) {
            return;
        }
        if self.move_request_cycle >= cycle {
            self.release(uid, now);
            return;
        }
        let seq = self.seq();
        if let Some(e) = self.entries.get_mut(uid) {
            e.place = Place::Unschedulable;
            e.seq = seq;
        }
        self.unschedulable.insert(uid.to_string());
        self.parked.push(Reverse((now, seq, uid.to_string())));
    }

    /// A cluster event that may make parked pods schedulable: all of them
    /// move on (to active, or to backoff while still backing off), and pods
    /// in flight will not be parked when they fail.
    pub fn move_all(&mut self, now: Instant) {
        self.move_request_cycle = self.scheduling_cycle;
        let parked: Vec<String> = self.unschedulable.drain().collect();
        for uid in parked {
            self.release(&uid, now);
        }
    }

    /// How long a pod waits after its n-th failed attempt: 1 s, 2 s, 4 s, … ≤ 10 s.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.config.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.config.max_backoff {
                return self.config.max_backoff;
            }
        }
        d.min(self.config.max_backoff)
    }

    /// Move backed-off pods whose time is up to active, and pods parked for
    /// longer than `max_unschedulable` onward.
    pub fn flush(&mut self, now: Instant) {
        while let Some(Reverse((at, seq, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            if self
                .entries
                .get(&uid)
                .is_some_and(|e| e.seq == seq && e.place == Place::Backoff)
            {
                self.push_active(&uid);
            }
        }
        while let Some(Reverse((at, seq, uid))) = self.parked.peek().cloned() {
            if at + self.config.max_unschedulable > now {
                break;
            }
            self.parked.pop();
            if self
                .entries
                .get(&uid)
                .is_some_and(|e| e.seq == seq && e.place == Place::Unschedulable)
            {
                self.unschedulable.remove(&uid);
                self.release(&uid, now);
            }
        }
    }

    /// To backoff if the pod's back-off has not expired, else to active.
    fn release(&mut self, uid: &str, now: Instant) {
        let Some(e) = self.entries.get(uid) else {
            return;
        };
        let until = e
            .last_attempt
            .map(|t| t + self.backoff_duration(e.attempts));
        match until {
            Some(until) if until > now => {
                let seq = self.seq();
                if let Some(e) = self.entries.get_mut(uid) {
                    e.place = Place::Backoff;
                    e.seq = seq;
                }
                self.backoff.push(Reverse((until, seq, uid.to_string())));
            }
            _ => self.push_active(uid),
        }
    }

    fn push_active(&mut self, uid: &str) {
        let seq = self.seq();
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        e.place = Place::Active;
        e.seq = seq;
        self.active.push(ActiveItem {
            priority: priority(&e.pod),
            created: e.pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
            seq,
            uid: uid.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn queued(name: &str, prio: i32, created_secs: i64) -> Arc<Pod> {
        let mut p = pod(name, &[]);
        if let Some(s) = p.spec.as_mut() {
            s.priority = Some(prio);
        }
        p.metadata.creation_timestamp = Timestamp::from_second(created_secs).ok().map(Time);
        Arc::new(p)
    }

    fn name(p: &Popped) -> &str {
        p.pod.metadata.name.as_deref().unwrap_or_default()
    }

    #[test]
    fn pops_by_priority_then_age() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let now = Instant::now();
        q.add_or_update(queued("young", 0, 200), now);
        q.add_or_update(queued("old", 0, 100), now);
        q.add_or_update(queued("urgent", 1000, 300), now);
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now))
            .map(|p| name(&p).to_string())
            .collect();
        assert_eq!(order, ["urgent", "old", "young"]);
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let q = SchedulingQueue::new(QueueConfig::default());
        let secs: Vec<u64> = (1..=6).map(|n| q.backoff_duration(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn failed_pods_park_until_the_cluster_changes() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.requeue_failed("uid-p", popped.cycle, t0);
        assert_eq!(q.place("uid-p"), Some(Place::Unschedulable));
        // Parked: not handed out again, even after its back-off.
        assert!(q.pop(t0 + Duration::from_secs(5)).is_none());
        // A node appears: the pod (back-off over) is active again.
        q.move_all(t0 + Duration::from_secs(5));
        assert_eq!(q.place("uid-p"), Some(Place::Active));
        assert!(q.pop(t0 + Duration::from_secs(5)).is_some());
    }

    #[test]
    fn a_cluster_change_during_backoff_waits_for_the_backoff() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.requeue_failed("uid-p", popped.cycle, t0);
        q.move_all(t0 + Duration::from_millis(200));
        assert_eq!(q.place("uid-p"), Some(Place::Backoff));
        assert!(q.pop(t0 + Duration::from_millis(500)).is_none());
        assert_eq!(q.next_wakeup(), Some(t0 + Duration::from_secs(1)));
        assert!(q.pop(t0 + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn a_change_while_in_flight_skips_parking() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.move_all(t0); // e.g. a node was added while the attempt ran
        q.requeue_failed("uid-p", popped.cycle, t0);
        assert_eq!(q.place("uid-p"), Some(Place::Backoff));
    }

    #[test]
    fn parked_pods_retry_after_a_minute_without_events() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.requeue_failed("uid-p", popped.cycle, t0);
        assert_eq!(q.next_wakeup(), Some(t0 + Duration::from_secs(60)));
        assert!(q.pop(t0 + Duration::from_secs(59)).is_none());
        assert!(q.pop(t0 + Duration::from_secs(60)).is_some());
    }

    #[test]
    fn spec_updates_unpark_and_deleted_pods_vanish() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.requeue_failed("uid-p", popped.cycle, t0);
        // A status-only update (our own condition patch) keeps it parked.
        let mut status_only = (*queued("p", 0, 1)).clone();
        status_only.status = Some(Default::default());
        q.add_or_update(Arc::new(status_only), t0 + Duration::from_secs(2));
        assert_eq!(q.place("uid-p"), Some(Place::Unschedulable));
        // A spec change releases it.
        let mut edited = (*queued("p", 0, 1)).clone();
        if let Some(s) = edited.spec.as_mut() {
            s.node_selector = Some(Default::default());
        }
        q.add_or_update(Arc::new(edited), t0 + Duration::from_secs(2));
        assert_eq!(q.place("uid-p"), Some(Place::Active));
        q.remove("uid-p");
        assert!(q.pop(t0 + Duration::from_secs(3)).is_none());
        assert!(q.is_empty());
    }

    #[test]
    fn deleted_while_in_flight_is_not_requeued() {
        let mut q = SchedulingQueue::new(QueueConfig::default());
        let t0 = Instant::now();
        q.add_or_update(queued("p", 0, 1), t0);
        let popped = q.pop(t0).expect("pod");
        q.remove("uid-p");
        q.requeue_failed("uid-p", popped.cycle, t0);
        assert!(!q.contains("uid-p"));
    }
}
