//! batch/v1 defaults: Job and CronJob. A CronJob's job template gets only
//! the pod template defaults, not the Job's own (upstream defaults types,
//! and a JobTemplateSpec is not a Job).

use serde_json::{json, Map, Value};

use crate::go_zero_values;
use crate::json::{default_ptr, default_str, each_obj, is_empty, is_unset, obj, obj_or_insert};
use crate::pod_spec::default_template;

/// backoffLimit when backoffLimitPerIndex is set: effectively unlimited.
const MAX_INT32: i64 = i32::MAX as i64;

pub fn default_job(job: &mut Map<String, Value>) {
    let template_labels = obj(job, "spec")
        .and_then(|s| obj(s, "template"))
        .and_then(|t| obj(t, "metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|o| !o.is_empty()))
        .cloned();
    if let Some(labels) = template_labels {
        if let Some(meta) = obj_or_insert(job, "metadata") {
            if is_empty(meta.get("labels")) {
                meta.insert("labels".into(), labels);
            }
        }
    }
    let Some(spec) = obj(job, "spec") else {
        return;
    };
    if is_unset(spec.get("completions")) && is_unset(spec.get("parallelism")) {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    let backoff = if is_unset(spec.get("backoffLimitPerIndex")) {
        6
    } else {
        MAX_INT32
    };
    default_ptr(spec, "backoffLimit", json!(backoff));
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));

    let has_failure_policy = !is_unset(spec.get("podFailurePolicy"));
    if let Some(policy) = obj(spec, "podFailurePolicy") {
        for rule in each_obj(policy, "rules") {
            for pattern in each_obj(rule, "onPodConditions") {
                default_str(pattern, "status", "True");
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_ptr(spec, "podReplacementPolicy", json!(replacement));
    default_template(spec);
}

pub fn default_cron_job(spec: &mut Map<String, Value>) {
    default_str(spec, "concurrencyPolicy", "Allow");
    default_ptr(spec, "suspend", json!(false));
    default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
    default_ptr(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_template) = obj(spec, "jobTemplate") {
        go_zero_values::template_metadata(job_template);
        if let Some(job_spec) = obj(job_template, "spec") {
            default_template(job_spec);
        }
    }
}
