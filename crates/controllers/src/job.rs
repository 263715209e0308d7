//! Job controller (batch/v1): run pods until `completions` succeed (NonIndexed
//! or Indexed), retry failures with an exponential delay up to `backoffLimit`,
//! stop at `activeDeadlineSeconds`, honour `suspend` and `podFailurePolicy`,
//! and report status the way kube-controller-manager 1.33 does
//! (SuccessCriteriaMet/FailureTarget before Complete/Failed).
//!
//! Pods carry the `batch.kubernetes.io/job-tracking` finalizer. A finished
//! pod is first recorded in `status.uncountedTerminatedPods`, then its
//! finalizer is removed, then it is folded into `succeeded`/`failed`, so a
//! pod is counted exactly once even if the controller stops half way.
//!
//! [`plan`] is the pure decision (state + time → actions); [`reconcile`] does
//! the API I/O.

use crate::clock::{until, Clock};
use crate::error::{ControllerError, Result};
use crate::events;
use crate::informers::Informer;
use crate::owner::owner_reference;
use crate::pod_state::{is_ready, is_scheduled};
use crate::runner::Context;
use crate::selector;
use k8s_openapi::api::batch::v1::{
    Job, JobCondition, JobStatus, PodFailurePolicyRule, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const COMPONENT: &str = "job-controller";
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// `spec.managedBy` value (or absence) that means "this controller".
pub const MANAGED_BY: &str = "kubernetes.io/job-controller";

pub const REASON_BACKOFF_LIMIT: &str = "BackoffLimitExceeded";
pub const MESSAGE_BACKOFF_LIMIT: &str = "Job has reached the specified backoff limit";
pub const REASON_DEADLINE: &str = "DeadlineExceeded";
pub const MESSAGE_DEADLINE: &str = "Job was active longer than specified deadline";
pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";
pub const MESSAGE_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";

/// Upstream's MaxPodCreateDeletePerSync.
const MAX_POD_CHANGES_PER_SYNC: usize = 500;

/// Knobs of the Job controller. Upstream: 10 s doubling, capped at 10 min.
#[derive(Clone)]
pub struct JobOptions {
    pub pod_failure_backoff: Duration,
    pub max_pod_failure_backoff: Duration,
    pub clock: Clock,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            pod_failure_backoff: Duration::from_secs(10),
            max_pod_failure_backoff: Duration::from_secs(600),
            clock: Clock::System,
        }
    }
}

/// Controller state kept between reconciles: options, and when a failed pod
/// that carries no finish time was first seen (so its back-off can elapse).
#[derive(Clone, Default)]
pub struct JobController {
    pub options: JobOptions,
    first_seen_finished: Arc<Mutex<HashMap<String, Timestamp>>>,
}

impl JobController {
    pub fn new(options: JobOptions) -> Self {
        Self {
            options,
            first_seen_finished: Arc::default(),
        }
    }
}

/// One event to record about the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEvent {
    pub type_: &'static str,
    pub reason: String,
    pub message: String,
}

/// Everything one reconcile decided. Performed in this order: write
/// `uncounted_first` (if any), remove finalizers, delete, create, write `status`.
#[derive(Debug, Default)]
pub struct JobPlan {
    pub uncounted_first: Option<UncountedTerminatedPods>,
    pub remove_finalizers: Vec<String>,
    pub delete: Vec<String>,
    /// One entry per pod to create: its completion index (Indexed mode).
    pub create: Vec<Option<i32>>,
    pub status: JobStatus,
    pub events: Vec<JobEvent>,
    pub requeue: Option<Duration>,
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

fn deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn terminal(pod: &Pod) -> bool {
    matches!(phase(pod), Some("Succeeded" | "Failed"))
}

pub fn condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == "True")
}

/// Complete or Failed: the Job will do nothing more.
pub fn is_finished(job: &Job) -> bool {
    condition(job, "Complete").is_some() || condition(job, "Failed").is_some()
}

/// The pod's completion index from its annotation.
pub fn pod_index(pod: &Pod) -> Option<i32> {
    pod.annotations()
        .get(COMPLETION_INDEX)
        .and_then(|v| v.parse().ok())
}

/// Parse `completedIndexes` ("1,3-5") into a set, dropping out-of-range entries.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(lo), Ok(hi)) = (lo, hi) {
            set.extend((lo.max(0)..=hi.min(completions - 1)).filter(|_| lo <= hi));
        }
    }
    set
}

/// Format a set of indexes the way upstream does: ascending, runs as `a-b`.
pub fn format_indexes(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// When a pod finished: the latest container termination, else the time
/// its Ready condition went False, else its deletion time.
pub fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    let from_containers = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    from_containers
        .or_else(|| {
            status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready" && c.status == "False")
                .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
        })
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
}

/// What the pod failure policy says about a failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureVerdict {
    /// Count toward backoffLimit (no rule matched, or a Count rule).
    Count,
    /// Do not count; replace the pod.
    Ignore,
    /// Fail the whole Job with this message.
    FailJob(String),
}

/// Evaluate `spec.podFailurePolicy` rules in order against a Failed pod.
pub fn failure_verdict(job: &Job, pod: &Pod) -> FailureVerdict {
    let Some(rules) = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref())
        .map(|p| &p.rules)
    else {
        return FailureVerdict::Count;
    };
    let pod_ref = format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any());
    for (i, rule) in rules.iter().enumerate() {
        if let Some(what) = rule_matches(rule, pod) {
            let message = match what {
                RuleMatch::ExitCode(container, code) => format!(
                    "Container {container} for pod {pod_ref} failed with exit code {code} matching {} rule at index {i}",
                    rule.action
                ),
                RuleMatch::Condition(type_) => format!(
                    "Pod {pod_ref} has condition {type_} matching {} rule at index {i}",
                    rule.action
                ),
            };
            return match rule.action.as_str() {
                "FailJob" => FailureVerdict::FailJob(message),
                "Ignore" => FailureVerdict::Ignore,
                _ => FailureVerdict::Count,
            };
        }
    }
    FailureVerdict::Count
}

enum RuleMatch {
    ExitCode(String, i32),
    Condition(String),
}

fn rule_matches(rule: &PodFailurePolicyRule, pod: &Pod) -> Option<RuleMatch> {
    let status = pod.status.as_ref()?;
    if let Some(req) = &rule.on_exit_codes {
        // Init containers' exit codes count too; zero never matches.
        let containers = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for c in containers {
            if req.container_name.as_ref().is_some_and(|n| n != &c.name) {
                continue;
            }
            let Some(code) = c
                .state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| t.exit_code)
            else {
                continue;
            };
            if code == 0 {
                continue;
            }
            let listed = req.values.contains(&code);
            let hit = match req.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                _ => false,
            };
            if hit {
                return Some(RuleMatch::ExitCode(c.name.clone(), code));
            }
        }
    }
    for pattern in rule.on_pod_conditions.iter().flatten() {
        let want = if pattern.status.is_empty() {
            "True"
        } else {
            &pattern.status
        };
        if status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == pattern.type_ && c.status == want)
        {
            return Some(RuleMatch::Condition(pattern.type_.clone()));
        }
    }
    None
}

fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Set a condition; keeps the transition time when the status is unchanged.
fn set_condition(conds: &mut Vec<JobCondition>, cond: JobCondition) {
    match conds.iter_mut().find(|c| c.type_ == cond.type_) {
        Some(existing) if existing.status == cond.status => {
            existing.reason = cond.reason;
            existing.message = cond.message;
        }
        Some(existing) => *existing = cond,
        None => conds.push(cond),
    }
}

/// Exponential delay for pod re-creation: `base * 2^(failures-1)`, capped.
pub fn backoff_delay(failures: u32, base: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    base.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(30)))
        .min(max)
}

/// Consecutive failures since the last success, and the last failure time.
fn failure_record(
    pods: &[&Pod],
    fallback: &HashMap<String, Timestamp>,
    now: Timestamp,
) -> (u32, Option<Timestamp>) {
    let when = |p: &Pod| {
        finish_time(p)
            .or_else(|| p.uid().and_then(|u| fallback.get(&u).copied()))
            .unwrap_or(now)
    };
    let last_success = pods
        .iter()
        .copied()
        .filter(|p| phase(p) == Some("Succeeded"))
        .map(when)
        .max();
    let failures: Vec<Timestamp> = pods
        .iter()
        .copied()
        .filter(|p| phase(p) == Some("Failed") || (deleting(p) && phase(p) != Some("Succeeded")))
        .map(when)
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    (
        u32::try_from(failures.len()).unwrap_or(u32::MAX),
        failures.into_iter().max(),
    )
}

fn i32_of(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Sort key: the cheapest active pods to delete first (unscheduled, not
/// ready, newest), as upstream's ActivePods order.
fn deletion_rank(pod: &Pod) -> (bool, bool, std::cmp::Reverse<Option<Timestamp>>) {
    (
        is_scheduled(pod),
        is_ready(pod),
        std::cmp::Reverse(pod.metadata.creation_timestamp.as_ref().map(|t| t.0)),
    )
}

/// Decide what to do for `job` given its pods at `now`. Pure.
pub fn plan<P: std::borrow::Borrow<Pod>>(
    job: &Job,
    pods: &[P],
    now: Timestamp,
    options: &JobOptions,
    first_seen_finished: &HashMap<String, Timestamp>,
) -> JobPlan {
    let pods: Vec<&Pod> = pods.iter().map(|p| p.borrow()).collect();
    let pods = pods.as_slice();
    let mut out = JobPlan::default();
    let prev = job.status.clone().unwrap_or_default();
    let spec = job.spec.clone().unwrap_or_default();
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let completions = spec.completions;
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let backoff_limit = spec.backoff_limit.unwrap_or(6).max(0);
    let suspended = spec.suspend == Some(true);
    let only_replace_failed = spec.pod_replacement_policy.as_deref() == Some("Failed")
        || spec.pod_failure_policy.is_some();
    let restart_on_failure = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        == Some("OnFailure");

    let mut status = prev.clone();
    let mut conditions = prev.conditions.clone().unwrap_or_default();

    if is_finished(job) {
        // Finished: only release pods still holding our finalizer.
        out.remove_finalizers = pods
            .iter()
            .filter(|p| has_finalizer(p))
            .map(|p| p.name_any())
            .collect();
        out.status = status;
        return out;
    }

    let failure_target = condition(job, "FailureTarget").cloned();
    let success_target = condition(job, "SuccessCriteriaMet").cloned();

    // 1. Pods that finished and are not counted yet.
    let uncounted = prev.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut unc_succeeded: Vec<String> = uncounted.succeeded.clone().unwrap_or_default();
    let mut unc_failed: Vec<String> = uncounted.failed.clone().unwrap_or_default();
    let known: HashSet<String> = unc_succeeded
        .iter()
        .chain(unc_failed.iter())
        .cloned()
        .collect();
    let mut added = false;
    let mut policy_failure: Option<String> = None;
    let mut remove: Vec<String> = Vec::new();
    for pod in pods.iter().filter(|p| has_finalizer(p)) {
        let Some(uid) = pod.uid() else { continue };
        if known.contains(&uid) {
            remove.push(pod.name_any());
            continue;
        }
        let considered_failed = phase(pod) == Some("Failed")
            || (!only_replace_failed && deleting(pod) && phase(pod) != Some("Succeeded"));
        if phase(pod) == Some("Succeeded") {
            unc_succeeded.push(uid);
            added = true;
            remove.push(pod.name_any());
        } else if considered_failed
            || ((failure_target.is_some() || success_target.is_some()) && deleting(pod))
        {
            let verdict = if phase(pod) == Some("Failed") {
                failure_verdict(job, pod)
            } else {
                FailureVerdict::Count
            };
            match verdict {
                FailureVerdict::Ignore => {}
                FailureVerdict::Count => {
                    unc_failed.push(uid);
                    added = true;
                }
                FailureVerdict::FailJob(msg) => {
                    policy_failure.get_or_insert(msg);
                    unc_failed.push(uid);
                    added = true;
                }
            }
            remove.push(pod.name_any());
        }
    }
    if added {
        out.uncounted_first = Some(UncountedTerminatedPods {
            succeeded: Some(unc_succeeded.clone()),
            failed: Some(unc_failed.clone()),
        });
    }
    out.remove_finalizers = remove;

    // 2. Fold the uncounted pods into the counters (valid once their
    //    finalizers are gone, which the caller ensures before writing status).
    let completions_n = completions.unwrap_or(0);
    let mut completed = parse_indexes(
        prev.completed_indexes.as_deref().unwrap_or(""),
        completions_n,
    );
    let mut succeeded = prev.succeeded.unwrap_or(0);
    if indexed {
        let by_uid: HashMap<String, &Pod> =
            pods.iter().filter_map(|p| Some((p.uid()?, *p))).collect();
        for uid in &unc_succeeded {
            if let Some(ix) = by_uid.get(uid).and_then(|p| pod_index(p)) {
                if (0..completions_n).contains(&ix) {
                    completed.insert(ix);
                }
            }
        }
        succeeded = i32_of(completed.len());
    } else {
        succeeded = succeeded.saturating_add(i32_of(unc_succeeded.len()));
    }
    let failed = prev
        .failed
        .unwrap_or(0)
        .saturating_add(i32_of(unc_failed.len()));

    let active: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| !terminal(p) && !deleting(p))
        .collect();
    let terminating = pods.iter().filter(|p| !terminal(p) && deleting(p)).count();
    let ready = active.iter().filter(|p| is_ready(p)).count();

    // 3. Start time, suspension.
    let was_suspended = conditions
        .iter()
        .any(|c| c.type_ == "Suspended" && c.status == "True");
    if suspended {
        if !was_suspended {
            set_condition(
                &mut conditions,
                new_condition("Suspended", "True", "JobSuspended", "Job suspended", now),
            );
            out.events
                .push(event("Normal", "Suspended", "Job suspended"));
        }
    } else {
        if was_suspended {
            set_condition(
                &mut conditions,
                new_condition("Suspended", "False", "JobResumed", "Job resumed", now),
            );
            out.events.push(event("Normal", "Resumed", "Job resumed"));
            status.start_time = Some(Time(now));
        }
        if status.start_time.is_none() {
            status.start_time = Some(Time(now));
        }
    }

    // 4. Has the Job reached a verdict?
    let mut target: Option<JobCondition> = failure_target.clone().or(success_target.clone());
    if target.is_none() {
        let restarts: i32 = if restart_on_failure {
            active
                .iter()
                .filter_map(|p| p.status.as_ref())
                .flat_map(|s| {
                    s.container_statuses
                        .iter()
                        .flatten()
                        .chain(s.init_container_statuses.iter().flatten())
                })
                .map(|c| c.restart_count)
                .sum()
        } else {
            0
        };
        let restarts_exceeded = restart_on_failure
            && if backoff_limit == 0 {
                restarts > 0
            } else {
                restarts >= backoff_limit
            };
        let deadline_passed = !suspended
            && spec.active_deadline_seconds.is_some_and(|secs| {
                status.start_time.as_ref().is_some_and(|start| {
                    now.duration_since(start.0) >= SignedDuration::from_secs(secs)
                })
            });
        let success = if indexed {
            completions.is_some_and(|c| i32_of(completed.len()) >= c)
        } else {
            match completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active.is_empty(),
            }
        };
        target = if let Some(msg) = policy_failure {
            Some(new_condition(
                "FailureTarget",
                "True",
                REASON_POD_FAILURE_POLICY,
                &msg,
                now,
            ))
        } else if failed > backoff_limit || restarts_exceeded {
            Some(new_condition(
                "FailureTarget",
                "True",
                REASON_BACKOFF_LIMIT,
                MESSAGE_BACKOFF_LIMIT,
                now,
            ))
        } else if deadline_passed {
            Some(new_condition(
                "FailureTarget",
                "True",
                REASON_DEADLINE,
                MESSAGE_DEADLINE,
                now,
            ))
        } else if success {
            Some(new_condition(
                "SuccessCriteriaMet",
                "True",
                REASON_COMPLETIONS_REACHED,
                MESSAGE_COMPLETIONS_REACHED,
                now,
            ))
        } else {
            None
        };
        if let Some(t) = &target {
            set_condition(&mut conditions, t.clone());
        }
    }

    let mut active_after = active.len();
    if let Some(t) = &target {
        // Terminate what still runs; finish once nothing is left running.
        out.delete = active.iter().map(|p| p.name_any()).collect();
        active_after = 0;
        let pending_finalizers = pods
            .iter()
            .any(|p| has_finalizer(p) && !out.remove_finalizers.contains(&p.name_any()));
        if active.is_empty() && terminating == 0 && !pending_finalizers {
            let reason = t.reason.clone().unwrap_or_default();
            let message = t.message.clone().unwrap_or_default();
            if t.type_ == "FailureTarget" {
                set_condition(
                    &mut conditions,
                    new_condition("Failed", "True", &reason, &message, now),
                );
                out.events.push(event("Warning", &reason, &message));
            } else {
                set_condition(
                    &mut conditions,
                    new_condition("Complete", "True", &reason, &message, now),
                );
                status.completion_time = Some(Time(now));
                out.events
                    .push(event("Normal", "Completed", "Job completed"));
            }
        }
    } else if suspended {
        out.delete = active.iter().map(|p| p.name_any()).collect();
        active_after = 0;
    } else {
        // 5. Create or delete to reach the wanted number of active pods.
        let busy = if only_replace_failed {
            active.len() + terminating
        } else {
            active.len()
        };
        let (create, delete) = if indexed {
            indexed_changes(&active, &completed, completions_n, parallelism)
        } else {
            let want = match completions {
                None if succeeded > 0 => 0,
                None => parallelism,
                Some(c) => (c - succeeded).clamp(0, parallelism),
            };
            let want = usize::try_from(want).unwrap_or(0);
            let mut delete = Vec::new();
            if active.len() > want {
                let mut victims = active.clone();
                victims.sort_by_key(|p| deletion_rank(p));
                delete = victims
                    .iter()
                    .take(active.len() - want)
                    .map(|p| p.name_any())
                    .collect();
            }
            (vec![None; want.saturating_sub(busy)], delete)
        };
        let mut create = create;
        if !create.is_empty() {
            let (failures, last) = failure_record(pods, first_seen_finished, now);
            let delay = backoff_delay(
                failures,
                options.pod_failure_backoff,
                options.max_pod_failure_backoff,
            );
            let remaining = last.map_or(Duration::ZERO, |l| {
                until(
                    now,
                    l + SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX),
                )
            });
            if remaining > Duration::ZERO {
                out.requeue = Some(remaining);
                create.clear();
            }
        }
        create.truncate(MAX_POD_CHANGES_PER_SYNC);
        active_after = active_after + create.len() - delete.len().min(active_after);
        out.create = create;
        out.delete = delete;
        if let (Some(secs), Some(start)) =
            (spec.active_deadline_seconds, status.start_time.as_ref())
        {
            let end = start.0 + SignedDuration::from_secs(secs);
            let wait = until(now, end);
            out.requeue = Some(out.requeue.map_or(wait, |r| r.min(wait)));
        }
    }

    status.active = (active_after > 0).then(|| i32_of(active_after));
    status.ready = Some(i32_of(ready));
    status.terminating = Some(i32_of(terminating + out.delete.len()));
    status.succeeded = (succeeded > 0).then_some(succeeded);
    status.failed = (failed > 0).then_some(failed);
    status.completed_indexes = indexed
        .then(|| format_indexes(&completed))
        .filter(|s| !s.is_empty());
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    out.status = status;
    out
}

fn event(type_: &'static str, reason: &str, message: &str) -> JobEvent {
    JobEvent {
        type_,
        reason: reason.into(),
        message: message.into(),
    }
}

/// Indexed mode: which indexes need a pod, which pods must go (duplicates,
/// out of range, already completed, above parallelism).
fn indexed_changes(
    active: &[&Pod],
    completed: &BTreeSet<i32>,
    completions: i32,
    parallelism: i32,
) -> (Vec<Option<i32>>, Vec<String>) {
    let mut delete = Vec::new();
    let mut running: BTreeSet<i32> = BTreeSet::new();
    let mut keep: Vec<(i32, &Pod)> = Vec::new();
    let mut sorted: Vec<&&Pod> = active.iter().collect();
    // Older pods win duplicates.
    sorted.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    for pod in sorted {
        match pod_index(pod) {
            Some(ix)
                if (0..completions).contains(&ix)
                    && !completed.contains(&ix)
                    && running.insert(ix) =>
            {
                keep.push((ix, pod));
            }
            _ => delete.push(pod.name_any()),
        }
    }
    let parallelism = usize::try_from(parallelism).unwrap_or(0);
    if keep.len() > parallelism {
        keep.sort_by_key(|(ix, _)| *ix);
        for (_, pod) in keep.drain(parallelism..) {
            delete.push(pod.name_any());
        }
        return (Vec::new(), delete);
    }
    let free = parallelism - keep.len();
    let create = (0..completions)
        .filter(|ix| !completed.contains(ix) && !running.contains(ix))
        .take(free)
        .map(Some)
        .collect();
    (create, delete)
}

/// The pod for `job` (with completion `index` in Indexed mode).
pub fn pod_for(job: &Job, index: Option<i32>) -> Result<Pod> {
    let spec = job
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(job.name_any(), "spec"))?;
    let template = &spec.template;
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let mut finalizers = tmeta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.into());
    }
    let mut pod_spec = template
        .spec
        .clone()
        .ok_or_else(|| ControllerError::MissingField(job.name_any(), "spec.template.spec"))?;
    let name = job.name_any();
    let generate_name = match index {
        Some(ix) => {
            annotations.insert(COMPLETION_INDEX.into(), ix.to_string());
            labels.insert(COMPLETION_INDEX.into(), ix.to_string());
            if pod_spec.hostname.as_deref().is_none_or(str::is_empty) {
                pod_spec.hostname = Some(format!("{name}-{ix}"));
            }
            let env = EnvVar {
                name: COMPLETION_INDEX_ENV.into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            for c in pod_spec
                .containers
                .iter_mut()
                .chain(pod_spec.init_containers.iter_mut().flatten())
            {
                let vars = c.env.get_or_insert_with(Vec::new);
                if !vars.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
                    vars.push(env.clone());
                }
            }
            format!("{name}-{ix}-")
        }
        None => format!("{name}-"),
    };
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.namespace(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner_reference(job)?]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    })
}

/// Pods of `job`, from the pod cache: controlled by it and matching its selector.
fn owned_pods(cache: &Informer<Pod>, job: &Job, uid: &str) -> Vec<Arc<Pod>> {
    let selector = job
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    cache
        .controlled_by(uid)
        .into_iter()
        .filter(|p| selector::matches(&selector, p.metadata.labels.as_ref()))
        .collect()
}

async fn remove_finalizer(
    api: &Api<Pod>,
    cache: &Informer<Pod>,
    uid: &str,
    pod: &Pod,
) -> Result<()> {
    let rest: Vec<&String> = pod
        .finalizers()
        .iter()
        .filter(|f| *f != TRACKING_FINALIZER)
        .collect();
    let patch =
        json!({"metadata": {"finalizers": rest, "resourceVersion": pod.resource_version()}});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(written) => {
            // Finalizer expectations: never count this pod again from a
            // cache that still shows the finalizer.
            cache.expect_written(uid, &written);
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn write_status(api: &Api<Job>, job: &Job, status: JobStatus) -> Result<Job> {
    let mut updated = job.clone();
    updated.status = Some(status);
    Ok(api
        .replace_status(&job.name_any(), &PostParams::default(), &updated)
        .await?)
}

pub async fn reconcile(job: Arc<Job>, ctx: Arc<Context>, ctl: JobController) -> Result<Action> {
    let ns = job.namespace().unwrap_or_else(|| "default".into());
    let uid = job
        .uid()
        .ok_or_else(|| ControllerError::MissingField(job.name_any(), "metadata.uid"))?;
    let managed_by = job.spec.as_ref().and_then(|s| s.managed_by.as_deref());
    if managed_by.is_some_and(|m| m != MANAGED_BY) {
        return Ok(Action::await_change());
    }
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cache = ctx.informers.pods();
    // Expectations: decide only on a cache that shows our own pod writes
    // (creates, deletes, finalizer removals), or pods would be created
    // twice or counted twice.
    if !cache.caught_up(&uid) {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let pods = owned_pods(&cache, &job, &uid);

    if job.metadata.deletion_timestamp.is_some() {
        for pod in pods.iter().filter(|p| has_finalizer(p)) {
            remove_finalizer(&pods_api, &cache, &uid, pod).await?;
        }
        return Ok(Action::await_change());
    }

    let now = ctl.options.clock.now();
    let fallback = {
        let mut seen = ctl
            .first_seen_finished
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let live: HashSet<String> = pods.iter().filter_map(|p| p.uid()).collect();
        seen.retain(|uid, _| live.contains(uid));
        for pod in pods
            .iter()
            .filter(|p| terminal(p) && finish_time(p).is_none())
        {
            if let Some(uid) = pod.uid() {
                seen.entry(uid).or_insert(now);
            }
        }
        seen.clone()
    };
    let plan = plan(&job, &pods, now, &ctl.options, &fallback);

    let mut current = (*job).clone();
    if let Some(uncounted) = plan.uncounted_first.clone() {
        let mut status = current.status.clone().unwrap_or_default();
        status.uncounted_terminated_pods = Some(uncounted);
        current = write_status(&jobs_api, &current, status).await?;
    }
    let by_name: HashMap<String, &Pod> = pods.iter().map(|p| (p.name_any(), p.as_ref())).collect();
    for name in &plan.remove_finalizers {
        if let Some(pod) = by_name.get(name) {
            remove_finalizer(&pods_api, &cache, &uid, pod).await?;
        }
    }
    for name in &plan.delete {
        match pods_api.delete(name, &DeleteParams::default()).await {
            Ok(outcome) => {
                if let Some(pod) = by_name.get(name) {
                    cache.expect_deleted(&uid, pod, outcome.left().as_ref());
                }
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*job,
                    "Normal",
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                )
                .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut create_error = None;
    for index in &plan.create {
        let pod = pod_for(&job, *index)?;
        match pods_api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                cache.expect_written(&uid, &created);
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*job,
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.name_any()),
                )
                .await;
            }
            Err(err) => {
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*job,
                    "Warning",
                    "FailedCreate",
                    format!("Error creating: {err}"),
                )
                .await;
                create_error = Some(err);
                break;
            }
        }
    }
    if let Some(err) = create_error {
        return Err(err.into());
    }
    if current.status.as_ref() != Some(&plan.status) {
        write_status(&jobs_api, &current, plan.status.clone()).await?;
    }
    for e in &plan.events {
        events::record(
            &ctx.client,
            COMPONENT,
            &*job,
            e.type_,
            &e.reason,
            e.message.clone(),
        )
        .await;
    }
    let next = plan.requeue.map_or(ctx.resync, |r| {
        (r + Duration::from_millis(50)).min(ctx.resync)
    });
    Ok(Action::requeue(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-01-01T00:10:00Z";

    fn now() -> Timestamp {
        NOW.parse().expect("time")
    }

    fn job(spec: serde_json::Value, status: serde_json::Value) -> Job {
        let mut full = json!({
            "parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "template": {"metadata": {"labels": {"app": "j"}},
                         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
        });
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            for (k, v) in extra {
                full.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": "job-uid"},
            "spec": full,
            "status": status,
        }))
        .expect("job")
    }

    /// A pod: `state` is Pending, Running, Ready, Succeeded, Failed or Deleting.
    fn pod(name: &str, state: &str, finished_at: &str, index: Option<i32>) -> Pod {
        let phase = match state {
            "Ready" | "Deleting" => "Running",
            s => s,
        };
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "namespace": "default",
                         "creationTimestamp": "2026-01-01T00:00:00Z",
                         "finalizers": [TRACKING_FINALIZER],
                         "annotations": index.map(|i| json!({COMPLETION_INDEX: i.to_string()}))},
            "spec": {"containers": []},
            "status": {"phase": phase,
                       "conditions": [{"type": "Ready", "status": if state == "Ready" { "True" } else { "False" }}],
                       "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                           "state": if matches!(state, "Succeeded" | "Failed") {
                               json!({"terminated": {"exitCode": if state == "Failed" { 1 } else { 0 }, "finishedAt": finished_at}})
                           } else { json!({"running": {}}) }}]},
        }))
        .expect("pod");
        if state == "Deleting" {
            p.metadata.deletion_timestamp = Some(Time(now()));
        }
        p
    }

    fn run(job: &Job, pods: &[Pod]) -> JobPlan {
        plan(job, pods, now(), &JobOptions::default(), &HashMap::new())
    }

    fn cond<'a>(status: &'a JobStatus, t: &str) -> Option<&'a JobCondition> {
        status.conditions.iter().flatten().find(|c| c.type_ == t)
    }

    #[test]
    fn creation_counts_table() {
        // (spec, pods, pods to create)
        let cases: Vec<(serde_json::Value, Vec<Pod>, usize)> = vec![
            (json!({}), vec![], 1),
            (json!({"parallelism": 3, "completions": 5}), vec![], 3),
            (
                json!({"parallelism": 3, "completions": 5}),
                vec![pod("a", "Running", "", None)],
                2,
            ),
            (json!({"parallelism": 3, "completions": 2}), vec![], 2),
            (json!({"parallelism": 2, "completions": null}), vec![], 2),
            (json!({"suspend": true}), vec![], 0),
        ];
        for (i, (spec, pods, want)) in cases.into_iter().enumerate() {
            let p = run(&job(spec, json!({})), &pods);
            assert_eq!(p.create.len(), want, "case {i}");
        }
    }

    #[test]
    fn finished_pod_is_recorded_then_counted() {
        let j = job(json!({"completions": 2}), json!({}));
        let p = run(&j, &[pod("a", "Succeeded", "2026-01-01T00:09:00Z", None)]);
        let unc = p.uncounted_first.expect("uncounted written first");
        assert_eq!(unc.succeeded, Some(vec!["uid-a".to_string()]));
        assert_eq!(p.remove_finalizers, ["a"]);
        assert_eq!(p.status.succeeded, Some(1));
        assert_eq!(
            p.status.uncounted_terminated_pods,
            Some(UncountedTerminatedPods::default())
        );
        assert_eq!(p.create.len(), 1, "one more completion needed");
        assert!(p.status.start_time.is_some());
    }

    #[test]
    fn failure_backs_off_then_retries() {
        let j = job(json!({}), json!({}));
        // Failed 4 s ago: first retry waits 10 s.
        let p = run(&j, &[pod("a", "Failed", "2026-01-01T00:09:56Z", None)]);
        assert_eq!(p.status.failed, Some(1));
        assert!(p.create.is_empty());
        assert_eq!(p.requeue, Some(Duration::from_secs(6)));
        // Failed 11 s ago: create now.
        let p = run(&j, &[pod("a", "Failed", "2026-01-01T00:09:49Z", None)]);
        assert_eq!(p.create.len(), 1);
        // Two failures: 20 s.
        let j2 = job(json!({}), json!({"failed": 1}));
        let mut counted = pod("a", "Failed", "2026-01-01T00:09:30Z", None);
        counted.metadata.finalizers = None;
        let p = run(
            &j2,
            &[counted, pod("b", "Failed", "2026-01-01T00:09:50Z", None)],
        );
        assert_eq!(p.status.failed, Some(2));
        assert_eq!(p.requeue, Some(Duration::from_secs(10)));
    }

    #[test]
    fn backoff_delay_doubles_and_caps() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(600);
        let got: Vec<u64> = (0..9)
            .map(|n| backoff_delay(n, base, max).as_secs())
            .collect();
        assert_eq!(got, [0, 10, 20, 40, 80, 160, 320, 600, 600]);
    }

    #[test]
    fn backoff_limit_exceeded_fails_job() {
        let j = job(json!({"backoffLimit": 1}), json!({"failed": 1}));
        let p = run(&j, &[pod("b", "Failed", "2026-01-01T00:09:00Z", None)]);
        let target = cond(&p.status, "FailureTarget").expect("FailureTarget");
        assert_eq!(target.reason.as_deref(), Some(REASON_BACKOFF_LIMIT));
        // Nothing runs and the last finalizer goes in this pass: Failed too.
        assert!(cond(&p.status, "Failed").is_some());
        // A later pass with the target already recorded finishes the same way.
        let j = job(
            json!({"backoffLimit": 1}),
            json!({"failed": 2, "conditions": [target]}),
        );
        let mut b = pod("b", "Failed", "2026-01-01T00:09:00Z", None);
        b.metadata.finalizers = None;
        let p = run(&j, &[b]);
        let failed = cond(&p.status, "Failed").expect("Failed");
        assert_eq!(failed.message.as_deref(), Some(MESSAGE_BACKOFF_LIMIT));
        assert_eq!(p.events[0].reason, REASON_BACKOFF_LIMIT);
        assert_eq!(p.events[0].type_, "Warning");
        assert!(p.create.is_empty());
    }

    #[test]
    fn success_waits_for_running_pods_then_completes() {
        let j = job(
            json!({"parallelism": 2, "completions": 1}),
            json!({"succeeded": 1}),
        );
        let p = run(&j, &[pod("b", "Running", "", None)]);
        assert!(cond(&p.status, "SuccessCriteriaMet").is_some());
        assert_eq!(p.delete, ["b"]);
        assert!(cond(&p.status, "Complete").is_none());
        let mut a = pod("a", "Succeeded", "2026-01-01T00:09:00Z", None);
        a.metadata.finalizers = None;
        let j = job(
            json!({}),
            json!({"succeeded": 1, "conditions": [new_condition("SuccessCriteriaMet", "True", REASON_COMPLETIONS_REACHED, MESSAGE_COMPLETIONS_REACHED, now())]}),
        );
        let p = run(&j, &[a]);
        let complete = cond(&p.status, "Complete").expect("Complete");
        assert_eq!(complete.reason.as_deref(), Some(REASON_COMPLETIONS_REACHED));
        assert!(p.status.completion_time.is_some());
        assert_eq!(p.events, [event("Normal", "Completed", "Job completed")]);
    }

    #[test]
    fn deadline_exceeded() {
        let j = job(
            json!({"activeDeadlineSeconds": 60}),
            json!({"startTime": "2026-01-01T00:08:00Z"}),
        );
        let p = run(&j, &[pod("a", "Running", "", None)]);
        let t = cond(&p.status, "FailureTarget").expect("target");
        assert_eq!(t.reason.as_deref(), Some(REASON_DEADLINE));
        assert_eq!(p.delete, ["a"]);
        // Not yet due: requeue at the deadline.
        let j = job(
            json!({"activeDeadlineSeconds": 120}),
            json!({"startTime": "2026-01-01T00:09:00Z"}),
        );
        let p = run(&j, &[pod("a", "Running", "", None)]);
        assert_eq!(p.requeue, Some(Duration::from_secs(60)));
    }

    #[test]
    fn indexed_creates_missing_indexes_and_tracks_completed() {
        let j = job(
            json!({"completionMode": "Indexed", "completions": 4, "parallelism": 2}),
            json!({"completedIndexes": "0", "succeeded": 1}),
        );
        let p = run(
            &j,
            &[
                pod("p1", "Running", "", Some(1)),
                pod("p2", "Succeeded", "2026-01-01T00:00:01Z", Some(2)),
            ],
        );
        assert_eq!(p.status.completed_indexes.as_deref(), Some("0,2"));
        assert_eq!(p.status.succeeded, Some(2));
        assert_eq!(p.create, [Some(3)]);
        assert_eq!(format_indexes(&parse_indexes("0-2,5,7-8", 9)), "0-2,5,7-8");
        assert_eq!(format_indexes(&parse_indexes("0-20", 3)), "0-2");
    }

    #[test]
    fn indexed_pod_has_index_hostname_and_env() {
        let j = job(
            json!({"completionMode": "Indexed", "completions": 3}),
            json!({}),
        );
        let p = pod_for(&j, Some(2)).expect("pod");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("pi-2-"));
        assert_eq!(
            p.annotations().get(COMPLETION_INDEX).map(String::as_str),
            Some("2")
        );
        assert_eq!(
            p.labels().get(COMPLETION_INDEX).map(String::as_str),
            Some("2")
        );
        let spec = p.spec.expect("spec");
        assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
        let env = spec.containers[0].env.as_ref().expect("env");
        assert_eq!(env[0].name, COMPLETION_INDEX_ENV);
        assert_eq!(
            p.metadata.finalizers,
            Some(vec![TRACKING_FINALIZER.to_string()])
        );
        let plain = pod_for(&job(json!({}), json!({})), None).expect("pod");
        assert_eq!(plain.metadata.generate_name.as_deref(), Some("pi-"));
    }

    #[test]
    fn suspend_deletes_and_resume_resets_start_time() {
        let j = job(
            json!({"suspend": true}),
            json!({"startTime": "2026-01-01T00:00:00Z"}),
        );
        let p = run(&j, &[pod("a", "Running", "", None)]);
        assert_eq!(p.delete, ["a"]);
        assert_eq!(
            cond(&p.status, "Suspended").map(|c| c.status.as_str()),
            Some("True")
        );
        assert_eq!(p.events[0].reason, "Suspended");
        let j = job(
            json!({}),
            json!({"startTime": "2026-01-01T00:00:00Z", "conditions": p.status.conditions}),
        );
        let p = run(&j, &[]);
        assert_eq!(
            cond(&p.status, "Suspended").and_then(|c| c.reason.as_deref()),
            Some("JobResumed")
        );
        assert_eq!(p.status.start_time, Some(Time(now())));
        assert_eq!(p.create.len(), 1);
    }

    #[test]
    fn pod_failure_policy_ignore_and_fail_job() {
        let policy = json!({"podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}},
        ]}});
        let j = job(policy.clone(), json!({}));
        let p = run(&j, &[pod("a", "Failed", "2026-01-01T00:09:00Z", None)]);
        let t = cond(&p.status, "FailureTarget").expect("target");
        assert_eq!(t.reason.as_deref(), Some(REASON_POD_FAILURE_POLICY));
        assert_eq!(
            t.message.as_deref(),
            Some("Container c for pod default/a failed with exit code 1 matching FailJob rule at index 1")
        );
        let mut disrupted = pod("b", "Failed", "2026-01-01T00:09:00Z", None);
        if let Some(s) = disrupted.status.as_mut() {
            s.conditions = Some(vec![serde_json::from_value(
                json!({"type": "DisruptionTarget", "status": "True"}),
            )
            .expect("c")]);
        }
        let p = run(&j, &[disrupted]);
        assert_eq!(p.status.failed, None, "ignored failure is not counted");
        assert_eq!(p.remove_finalizers, ["b"]);
        assert!(cond(&p.status, "FailureTarget").is_none());
    }

    #[test]
    fn on_failure_restarts_count_toward_backoff_limit() {
        let j = job(
            json!({"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "i"}]}}}),
            json!({}),
        );
        let mut a = pod("a", "Running", "", None);
        if let Some(cs) = a
            .status
            .as_mut()
            .and_then(|s| s.container_statuses.as_mut())
        {
            cs[0].restart_count = 2;
        }
        let p = run(&j, &[a]);
        assert!(cond(&p.status, "FailureTarget").is_some());
        assert_eq!(p.delete, ["a"]);
    }
}
