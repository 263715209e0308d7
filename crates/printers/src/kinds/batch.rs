//! batch/v1: Job and CronJob.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::layout_containers;
use crate::column::{Column, AGE, CONTAINERS, IMAGES, NAME};
use crate::descriptions as desc;
use crate::duration::{human_duration, since};
use crate::json::{
    arr_at, at, created, has, int_at, name, opt_bool, opt_int, opt_str, str_at, time_at,
};
use crate::labels::format_label_selector;

pub(crate) const JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Status", "string", desc::JOB_STATUS),
    Column::new("Completions", "string", desc::JOB_SUCCEEDED),
    Column::new("Duration", "string", desc::JOB_DURATION),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::JOB_SELECTOR).wide(),
];

pub(crate) fn job_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = int_at(obj, &["status", "succeeded"]);
    let completions = match opt_int(obj, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match opt_int(obj, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(obj, &["status", "startTime"]),
        time_at(obj, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.signed_duration_since(start)),
        (Some(start), Some(end)) => human_duration(end.signed_duration_since(start)),
    };
    let (names, images) =
        layout_containers(arr_at(obj, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(obj)),
        json!(job_status(obj)),
        json!(completions),
        json!(duration),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(format_label_selector(at(obj, &["spec", "selector"]))),
    ]
}

/// Whether the first condition of that type is True (upstream stops at the first match).
fn job_condition(obj: &Value, type_: &str) -> bool {
    arr_at(obj, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_status(obj: &Value) -> &'static str {
    if job_condition(obj, "Complete") {
        "Complete"
    } else if job_condition(obj, "Failed") {
        "Failed"
    } else if has(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if job_condition(obj, "Suspended") {
        "Suspended"
    } else if job_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

pub(crate) const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::new("Schedule", "string", desc::CRON_SCHEDULE),
    Column::new("Timezone", "string", desc::CRON_TIMEZONE),
    Column::new("Suspend", "boolean", desc::CRON_SUSPEND),
    Column::new("Active", "integer", desc::CRON_ACTIVE),
    Column::new("Last Schedule", "string", desc::CRON_LAST_SCHEDULE),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::new("Selector", "string", desc::JOB_SELECTOR).wide(),
];

pub(crate) fn cron_job_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last_schedule = if has(obj, &["status", "lastScheduleTime"]) {
        since(time_at(obj, &["status", "lastScheduleTime"]), now)
    } else {
        "<none>".to_string()
    };
    // Upstream prints the *bool as a string: "True", "False" or "<unset>".
    let suspend = match opt_bool(obj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let job_spec = at(obj, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let (names, images) = layout_containers(arr_at(job_spec, &["template", "spec", "containers"]));
    vec![
        json!(name(obj)),
        json!(str_at(obj, &["spec", "schedule"])),
        json!(opt_str(obj, &["spec", "timeZone"]).unwrap_or("<none>")),
        json!(suspend),
        json!(arr_at(obj, &["status", "active"]).len()),
        json!(last_schedule),
        json!(since(created(obj), now)),
        json!(names),
        json!(images),
        json!(format_label_selector(at(job_spec, &["selector"]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    fn job(spec_extra: Value, status: Value) -> Value {
        let mut spec = json!({
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}
        });
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
            s.extend(extra.clone());
        }
        json!({"metadata": {"name": "pi", "creationTimestamp": "2025-01-01T11:00:00Z"},
               "spec": spec, "status": status})
    }

    #[test]
    fn completed_job() {
        let j = job(
            json!({"completions": 1, "parallelism": 1}),
            json!({"succeeded": 1, "startTime": "2025-01-01T11:00:00Z",
                   "completionTime": "2025-01-01T11:00:42Z",
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                  {"type": "Complete", "status": "True"}]}),
        );
        assert_eq!(
            job_cells(&j, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("42s"),
                json!("60m"),
                json!("pi"),
                json!("perl:5.34"),
                json!("batch.kubernetes.io/controller-uid=abc"),
            ]
        );
    }

    #[test]
    fn running_failed_suspended_and_terminating_jobs() {
        let running = job(
            json!({"parallelism": 3}),
            json!({"startTime": "2025-01-01T11:57:00Z", "active": 3}),
        );
        let c = job_cells(&running, now());
        assert_eq!(c[1], json!("Running"));
        assert_eq!(c[2], json!("0/1 of 3"));
        assert_eq!(c[3], json!("3m"));

        let failed = job(
            json!({"completions": 5}),
            json!({"succeeded": 2,
            "conditions": [{"type": "Failed", "status": "True"}]}),
        );
        let c = job_cells(&failed, now());
        assert_eq!(
            (c[1].clone(), c[2].clone(), c[3].clone()),
            (json!("Failed"), json!("2/5"), json!(""))
        );

        let suspended = job(
            json!({}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        assert_eq!(job_cells(&suspended, now())[1], json!("Suspended"));

        let mut deleting = job(json!({}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!("2025-01-01T11:59:00Z");
        assert_eq!(job_cells(&deleting, now())[1], json!("Terminating"));
    }

    #[test]
    fn cron_job_row() {
        let cj = json!({"metadata": {"name": "backup", "creationTimestamp": "2024-12-31T12:00:00Z"},
            "spec": {"schedule": "*/5 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                         {"name": "backup", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": "2025-01-01T11:55:00Z"}});
        assert_eq!(
            cron_job_cells(&cj, now()),
            vec![
                json!("backup"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("5m"),
                json!("24h"),
                json!("backup"),
                json!("busybox"),
                json!("<none>"),
            ]
        );
        let never = json!({"metadata": {"name": "n"}, "spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}});
        let c = cron_job_cells(&never, now());
        assert_eq!(c[2], json!("Etc/UTC"));
        assert_eq!(c[3], json!("<unset>"));
        assert_eq!(c[5], json!("<none>"));
    }
}
