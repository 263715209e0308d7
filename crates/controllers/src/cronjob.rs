//! CronJob controller (batch/v1, upstream's "v2" controller): create a Job
//! `<cronjob>-<scheduled minutes since epoch>` for the most recent missed
//! schedule time, honour concurrencyPolicy, startingDeadlineSeconds,
//! suspend and time zones, track `status.active`, `lastScheduleTime`,
//! `lastSuccessfulTime`, trim finished Jobs to the history limits, and
//! requeue at the next schedule time.
//!
//! [`plan`] is the pure decision given the CronJob, its Jobs and "now";
//! [`reconcile`] performs it.

use crate::clock::{until, Clock};
use crate::cron_schedule::{self, Schedule};
use crate::error::{ControllerError, Result};
use crate::events;
use crate::job::is_finished;
use crate::owner::{controller_of, owner_reference};
use crate::runner::Context;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "cronjob-controller";
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed start times than this is reported as TooManyMissedTimes.
const MAX_MISSED_REPORTED: i64 = 100;
/// Past this many missed times we jump instead of walking every one.
const MAX_MISSED_WALKED: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronEvent {
    pub type_: &'static str,
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct CronPlan {
    pub status: CronJobStatus,
    /// Jobs to delete (Replace policy, history limits), Background propagation.
    pub delete: Vec<String>,
    /// The Job to create, if a schedule time is due.
    pub create: Option<Job>,
    pub events: Vec<CronEvent>,
    /// When to look again (the next schedule time); None: wait for a change.
    pub requeue: Option<Duration>,
}

fn ev(type_: &'static str, reason: &'static str, message: String) -> CronEvent {
    CronEvent {
        type_,
        reason,
        message,
    }
}

/// `<cronjob>-<minutes since epoch>`: one deterministic name per schedule time.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// RFC 3339 in `tz`, "Z" for a zero offset (Go's format).
fn rfc3339_in(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The most recent schedule time in (earliest, now], and how many were
/// missed. `earliest` is lastScheduleTime (or creation), no further back
/// than startingDeadlineSeconds.
pub fn most_recent_schedule(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> (Option<Timestamp>, i64) {
    let Some(first) = schedule.next_after(earliest, tz) else {
        return (None, 0);
    };
    if first > now {
        return (None, 0);
    }
    let mut latest = first;
    let mut count = 1usize;
    while let Some(t) = schedule.next_after(latest, tz) {
        if t > now {
            return (Some(latest), i64::try_from(count).unwrap_or(i64::MAX));
        }
        latest = t;
        count += 1;
        if count > MAX_MISSED_WALKED {
            break;
        }
    }
    // Very many missed: estimate the count from the interval and walk only
    // the last stretch to find the exact latest time.
    let interval = schedule
        .next_after(first, tz)
        .map_or(SignedDuration::from_secs(60), |second| {
            second.duration_since(first)
        })
        .max(SignedDuration::from_secs(1));
    let missed = now.duration_since(first).as_secs() / interval.as_secs().max(1) + 1;
    let from = now
        .checked_sub(interval.saturating_mul(2))
        .unwrap_or(latest)
        .max(latest);
    let mut t = from;
    while let Some(n) = schedule.next_after(t, tz) {
        if n > now {
            break;
        }
        t = n;
    }
    (Some(t), missed)
}

/// The Job the template describes for `scheduled`.
pub fn job_for(cj: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Result<Job> {
    let spec = cj
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(cj.name_any(), "spec"))?;
    let tmeta = spec.job_template.metadata.clone().unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339_in(scheduled, tz));
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(&cj.name_any(), scheduled)),
            namespace: cj.namespace(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner_reference(cj)?]),
            ..Default::default()
        },
        spec: spec.job_template.spec.clone(),
        status: None,
    })
}

fn job_ref(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn finished_type(job: &Job) -> Option<&'static str> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some("Complete"),
            "Failed" => Some("Failed"),
            _ => None,
        })
}

/// Decide for `cj` given the Jobs it controls, at `now`. Pure.
pub fn plan(cj: &CronJob, jobs: &[Job], now: Timestamp) -> CronPlan {
    let mut out = CronPlan::default();
    let mut status = cj.status.clone().unwrap_or_default();
    let mut active: Vec<ObjectReference> = status.active.clone().unwrap_or_default();
    let spec = cj.spec.clone().unwrap_or_default();

    // 1. Reconcile status.active with the Jobs that exist.
    for job in jobs {
        let uid = job.metadata.uid.clone();
        let listed = active.iter().any(|r| r.uid == uid);
        match (listed, finished_type(job)) {
            (false, None) => out.events.push(ev(
                "Warning",
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    job.name_any()
                ),
            )),
            (true, Some(cond)) => {
                active.retain(|r| r.uid != uid);
                out.events.push(ev(
                    "Normal",
                    "SawCompletedJob",
                    format!("Saw completed job: {}, condition: {cond}", job.name_any()),
                ));
            }
            _ => {}
        }
        if finished_type(job) == Some("Complete") {
            if let Some(done) = job.status.as_ref().and_then(|s| s.completion_time.clone()) {
                if status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|t| t.0 < done.0)
                {
                    status.last_successful_time = Some(done);
                }
            }
        }
    }
    active.retain(|r| {
        let exists = jobs.iter().any(|j| j.metadata.uid == r.uid);
        if !exists {
            out.events.push(ev(
                "Normal",
                "MissingJob",
                format!(
                    "Active job went missing: {}",
                    r.name.clone().unwrap_or_default()
                ),
            ));
        }
        exists
    });

    // 2. History limits: delete the oldest finished Jobs beyond them.
    out.delete = history_victims(jobs, &spec.successful_jobs_history_limit, "Complete");
    out.delete.extend(history_victims(
        jobs,
        &spec.failed_jobs_history_limit,
        "Failed",
    ));
    for name in &out.delete {
        out.events.push(ev(
            "Normal",
            "SuccessfulDelete",
            format!("Deleted job {name}"),
        ));
    }

    let finish = |mut out: CronPlan, status: CronJobStatus, active: Vec<ObjectReference>| {
        let mut status = status;
        status.active = (!active.is_empty()).then_some(active);
        out.status = status;
        out
    };

    if cj.metadata.deletion_timestamp.is_some() {
        return finish(out, status, active);
    }

    // 3. Schedule and zone.
    let tz = match spec.time_zone.as_deref() {
        Some(name) => match cron_schedule::load_zone(name) {
            Ok(tz) => tz,
            Err(err) => {
                out.events.push(ev(
                    "Warning",
                    "UnknownTimeZone",
                    format!("invalid timeZone: {name:?}: {err}"),
                ));
                return finish(out, status, active);
            }
        },
        None => TimeZone::UTC,
    };
    let schedule = match cron_schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(err) => {
            out.events.push(ev(
                "Warning",
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {err}", spec.schedule),
            ));
            return finish(out, status, active);
        }
    };
    let zone = schedule.zone.clone().unwrap_or(tz);
    if spec.suspend == Some(true) {
        return finish(out, status, active);
    }
    let next = schedule
        .next_after(now, &zone)
        .map(|t| until(now, t) + Duration::from_millis(100));
    out.requeue = next;

    // 4. The most recent unmet schedule time.
    let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut earliest = status.last_schedule_time.as_ref().map_or(created, |t| t.0);
    if let Some(secs) = spec.starting_deadline_seconds {
        let floor = now
            .checked_sub(SignedDuration::from_secs(secs))
            .unwrap_or(now);
        earliest = earliest.max(floor);
    }
    let (scheduled, missed) = if earliest > now {
        (None, 0)
    } else {
        most_recent_schedule(&schedule, &zone, earliest, now)
    };
    if missed > MAX_MISSED_REPORTED {
        out.events.push(ev(
            "Warning",
            "TooManyMissedTimes",
            format!("too many missed start times: {missed}. Set or decrease .spec.startingDeadlineSeconds or check clock skew"),
        ));
    }
    let Some(scheduled) = scheduled else {
        return finish(out, status, active);
    };
    if let Some(secs) = spec.starting_deadline_seconds {
        if scheduled + SignedDuration::from_secs(secs) < now {
            let when = scheduled
                .to_zoned(TimeZone::UTC)
                .strftime("%a, %d %b %Y %H:%M:%S %z")
                .to_string();
            out.events.push(ev(
                "Warning",
                "MissSchedule",
                format!("Missed scheduled time to start a job: {when}"),
            ));
            return finish(out, status, active);
        }
    }
    let name = job_name(&cj.name_any(), scheduled);
    let already = active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
        || status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    if already {
        return finish(out, status, active);
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            out.events.push(ev(
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return finish(out, status, active);
        }
        Some("Replace") => {
            for r in active.drain(..) {
                if let Some(n) = r.name {
                    out.events
                        .push(ev("Normal", "SuccessfulDelete", format!("Deleted job {n}")));
                    out.delete.push(n);
                }
            }
        }
        _ => {}
    }
    match job_for(cj, scheduled, &zone) {
        Ok(job) => {
            out.create = Some(job);
            status.last_schedule_time = Some(Time(scheduled));
        }
        Err(err) => out.events.push(ev(
            "Warning",
            "FailedCreate",
            format!("Error creating job: {err}"),
        )),
    }
    finish(out, status, active)
}

/// Finished Jobs of `kind` beyond `limit`, oldest (by start time) first.
fn history_victims(jobs: &[Job], limit: &Option<i32>, kind: &str) -> Vec<String> {
    let Some(limit) = limit.and_then(|l| usize::try_from(l).ok()) else {
        return Vec::new();
    };
    let mut done: Vec<&Job> = jobs
        .iter()
        .filter(|j| finished_type(j) == Some(kind) && j.metadata.deletion_timestamp.is_none())
        .collect();
    if done.len() <= limit {
        return Vec::new();
    }
    // Jobs without a start time sort last, as upstream's byJobStartTime.
    done.sort_by(|a, b| {
        let start = |j: &Job| {
            j.status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0)
        };
        match (start(a), start(b)) {
            (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.name_any().cmp(&b.name_any())),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name_any().cmp(&b.name_any()),
        }
    });
    let excess = done.len() - limit;
    done.into_iter()
        .take(excess)
        .map(|j| j.name_any())
        .collect()
}

pub async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Context>, clock: Clock) -> Result<Action> {
    let ns = cj.namespace().unwrap_or_else(|| "default".into());
    let uid = cj
        .uid()
        .ok_or_else(|| ControllerError::MissingField(cj.name_any(), "metadata.uid"))?;
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let cache = ctx.informers.get::<Job>();
    // Decide only on a cache that shows the Jobs we created and deleted.
    if !cache.caught_up(&uid) {
        return Ok(Action::requeue(std::time::Duration::from_millis(500)));
    }
    let jobs: Vec<Job> = cache
        .controlled_by(&uid)
        .into_iter()
        .map(|j| (*j).clone())
        .collect();
    let now = clock.now();
    let mut plan = plan(&cj, &jobs, now);

    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    for name in &plan.delete {
        match jobs_api.delete(name, &background).await {
            Ok(outcome) => {
                if let Some(job) = jobs.iter().find(|j| j.name_any() == *name) {
                    cache.expect_deleted(&uid, job, outcome.left().as_ref());
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(job) = plan.create.take() {
        let name = job.name_any();
        let created = match jobs_api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                cache.expect_written(&uid, &created);
                plan.events.push(ev(
                    "Normal",
                    "SuccessfulCreate",
                    format!("Created job {name}"),
                ));
                created
            }
            // Created by an earlier pass whose status write was lost: adopt it
            // into status instead of failing forever.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let existing = jobs_api.get(&name).await?;
                if controller_of(&existing.metadata).is_none_or(|r| r.uid != uid) {
                    return Err(kube::Error::Api(e).into());
                }
                existing
            }
            Err(err) => {
                events::record(
                    &ctx.client,
                    COMPONENT,
                    &*cj,
                    "Warning",
                    "FailedCreate",
                    format!("Error creating job: {err}"),
                )
                .await;
                return Err(err.into());
            }
        };
        if !is_finished(&created) {
            plan.status
                .active
                .get_or_insert_with(Vec::new)
                .push(job_ref(&created));
        }
    }
    if cj.status.as_ref() != Some(&plan.status) {
        let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        let mut updated = (*cj).clone();
        updated.status = Some(plan.status.clone());
        api.replace_status(&cj.name_any(), &PostParams::default(), &updated)
            .await?;
    }
    for e in &plan.events {
        events::record(
            &ctx.client,
            COMPONENT,
            &*cj,
            e.type_,
            e.reason,
            e.message.clone(),
        )
        .await;
    }
    Ok(match plan.requeue {
        Some(d) => Action::requeue(d),
        None => Action::await_change(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn cronjob(spec: serde_json::Value, status: serde_json::Value) -> CronJob {
        let mut full = json!({
            "schedule": "*/5 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"team": "a"}},
                            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}},
        });
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            for (k, v) in extra {
                full.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({
            "metadata": {"name": "cj", "namespace": "default", "uid": "cj-uid",
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": full, "status": status,
        }))
        .expect("cronjob")
    }

    fn job(name: &str, finished: Option<&str>, start: &str) -> Job {
        let conditions = finished.map(|t| json!([{"type": t, "status": "True"}]));
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "status": {"conditions": conditions, "startTime": start,
                       "completionTime": if finished == Some("Complete") { Some(start) } else { None }},
        }))
        .expect("job")
    }

    fn active_ref(name: &str) -> serde_json::Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "name": name, "namespace": "default", "uid": format!("uid-{name}")})
    }

    /// (name, spec overrides, status, jobs, now, scheduled time of the Job
    /// created, event reasons)
    type Case = (
        &'static str,
        serde_json::Value,
        serde_json::Value,
        Vec<Job>,
        &'static str,
        Option<&'static str>,
        Vec<&'static str>,
    );

    #[test]
    fn decisions_table() {
        // (name, spec overrides, status, jobs, now, expected job to create, expected event reasons)
        let cases: Vec<Case> = vec![
            (
                "not yet due",
                json!({}),
                json!({}),
                vec![],
                "2026-01-01T00:04:59Z",
                None,
                vec![],
            ),
            (
                "first run",
                json!({}),
                json!({}),
                vec![],
                "2026-01-01T00:05:01Z",
                Some("2026-01-01T00:05:00Z"),
                vec![],
            ),
            (
                "only the latest missed time runs",
                json!({}),
                json!({}),
                vec![],
                "2026-01-01T00:17:00Z",
                Some("2026-01-01T00:15:00Z"),
                vec![],
            ),
            (
                "already ran this time",
                json!({}),
                json!({"lastScheduleTime": "2026-01-01T00:05:00Z"}),
                vec![],
                "2026-01-01T00:06:00Z",
                None,
                vec![],
            ),
            (
                "suspended",
                json!({"suspend": true}),
                json!({}),
                vec![],
                "2026-01-01T00:05:01Z",
                None,
                vec![],
            ),
            (
                "past the starting deadline",
                json!({"startingDeadlineSeconds": 30}),
                json!({"lastScheduleTime": "2026-01-01T00:00:00Z"}),
                vec![],
                "2026-01-01T00:05:40Z",
                None,
                vec![],
            ),
            (
                "within the starting deadline",
                json!({"startingDeadlineSeconds": 60}),
                json!({}),
                vec![],
                "2026-01-01T00:05:40Z",
                Some("2026-01-01T00:05:00Z"),
                vec![],
            ),
            (
                "forbid while active",
                json!({"concurrencyPolicy": "Forbid"}),
                json!({"active": [active_ref("cj-1")], "lastScheduleTime": "2026-01-01T00:00:00Z"}),
                vec![job("cj-1", None, "2026-01-01T00:00:00Z")],
                "2026-01-01T00:05:01Z",
                None,
                vec!["JobAlreadyActive"],
            ),
            (
                "allow while active",
                json!({}),
                json!({"active": [active_ref("cj-1")], "lastScheduleTime": "2026-01-01T00:00:00Z"}),
                vec![job("cj-1", None, "2026-01-01T00:00:00Z")],
                "2026-01-01T00:05:01Z",
                Some("2026-01-01T00:05:00Z"),
                vec![],
            ),
            (
                "replace deletes the active job",
                json!({"concurrencyPolicy": "Replace"}),
                json!({"active": [active_ref("cj-1")], "lastScheduleTime": "2026-01-01T00:00:00Z"}),
                vec![job("cj-1", None, "2026-01-01T00:00:00Z")],
                "2026-01-01T00:05:01Z",
                Some("2026-01-01T00:05:00Z"),
                vec!["SuccessfulDelete"],
            ),
            (
                "too many missed",
                json!({"schedule": "* * * * *"}),
                json!({}),
                vec![],
                "2026-01-02T00:00:30Z",
                Some("2026-01-02T00:00:00Z"),
                vec!["TooManyMissedTimes"],
            ),
            (
                "bad schedule",
                json!({"schedule": "61 * * * *"}),
                json!({}),
                vec![],
                "2026-01-02T00:00:30Z",
                None,
                vec!["UnparseableSchedule"],
            ),
            (
                "bad zone",
                json!({"timeZone": "Mars/Olympus"}),
                json!({}),
                vec![],
                "2026-01-02T00:00:30Z",
                None,
                vec!["UnknownTimeZone"],
            ),
            (
                "missing active job",
                json!({}),
                json!({"active": [active_ref("gone")], "lastScheduleTime": "2026-01-01T00:05:00Z"}),
                vec![],
                "2026-01-01T00:06:00Z",
                None,
                vec!["MissingJob"],
            ),
        ];
        for (name, spec, status, jobs, now, want, reasons) in cases {
            let p = plan(&cronjob(spec, status), &jobs, ts(now));
            let created = p
                .create
                .as_ref()
                .and_then(|j| j.annotations().get(SCHEDULED_TIMESTAMP).cloned());
            assert_eq!(created.as_deref(), want, "{name}");
            let got: Vec<&str> = p.events.iter().map(|e| e.reason).collect();
            assert_eq!(got, reasons, "{name}");
        }
    }

    #[test]
    fn created_job_is_named_owned_and_recorded() {
        let p = plan(
            &cronjob(json!({}), json!({})),
            &[],
            ts("2026-01-01T00:05:01Z"),
        );
        let job = p.create.expect("job");
        let minutes = ts("2026-01-01T00:05:00Z").as_second() / 60;
        assert_eq!(job.name_any(), format!("cj-{minutes}"));
        assert_eq!(job.labels().get("team").map(String::as_str), Some("a"));
        assert_eq!(job.owner_references()[0].kind, "CronJob");
        assert_eq!(
            p.status.last_schedule_time,
            Some(Time(ts("2026-01-01T00:05:00Z")))
        );
        // Requeued just after the next schedule time.
        assert_eq!(p.requeue, Some(Duration::from_millis(299_100)));
    }

    #[test]
    fn completed_jobs_leave_active_and_history_is_trimmed() {
        let jobs = vec![
            job("cj-1", Some("Complete"), "2026-01-01T00:01:00Z"),
            job("cj-2", Some("Complete"), "2026-01-01T00:02:00Z"),
            job("cj-3", Some("Failed"), "2026-01-01T00:03:00Z"),
            job("cj-4", Some("Failed"), "2026-01-01T00:04:00Z"),
        ];
        let cj = cronjob(
            json!({"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1}),
            json!({"active": [active_ref("cj-2")], "lastScheduleTime": "2026-01-01T00:05:00Z"}),
        );
        let p = plan(&cj, &jobs, ts("2026-01-01T00:06:00Z"));
        assert_eq!(p.delete, ["cj-1", "cj-3"]);
        assert_eq!(p.status.active, None);
        assert_eq!(
            p.status.last_successful_time,
            Some(Time(ts("2026-01-01T00:02:00Z")))
        );
        assert!(p.events.iter().any(|e| e.reason == "SawCompletedJob"
            && e.message == "Saw completed job: cj-2, condition: Complete"));
    }

    #[test]
    fn time_zone_shapes_schedule_and_annotation() {
        if cron_schedule::load_zone("Asia/Tokyo").is_err() {
            return;
        }
        let cj = cronjob(
            json!({"schedule": "0 9 * * *", "timeZone": "Asia/Tokyo"}),
            json!({}),
        );
        let p = plan(&cj, &[], ts("2026-01-02T00:00:10Z"));
        let job = p.create.expect("job at 09:00 Tokyo = 00:00 UTC");
        assert_eq!(
            job.annotations()
                .get(SCHEDULED_TIMESTAMP)
                .map(String::as_str),
            Some("2026-01-02T09:00:00+09:00")
        );
    }
}
