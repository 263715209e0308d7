//! Job and CronJob (batch/validation).

use std::path::Path as FsPath;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::{labels_mismatch, section, spec_of};
use crate::cron::parse_standard;
use crate::json::{semantic_eq, Errors, Obj};
use crate::meta::{immutable, non_negative};
use crate::path::Path;
use crate::pod::{template_labels, validate_pod_template_spec};
use crate::selector::validate_label_selector;

fn int_field(o: &Obj, key: &str, errs: &mut Errors) {
    if let Some(n) = o.int(key, errs) {
        non_negative(n, &o.at(key), errs);
    }
}

/// Rules shared by a Job's spec and a CronJob's jobTemplate.spec.
fn validate_job_spec_common(spec: &Obj, errs: &mut Errors) {
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        int_field(spec, f, errs);
    }
    if let Some(mode) = spec.str("completionMode", errs) {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errs.push(FieldError::not_supported(
                spec.at("completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && !spec.has("completions") {
            errs.push(FieldError::required(
                spec.at("completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(p) = spec.str("podReplacementPolicy", errs) {
        if !matches!(p, "TerminatingOrFailed" | "Failed") {
            errs.push(FieldError::not_supported(
                spec.at("podReplacementPolicy"),
                p,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    let template = section(spec, "template", errs);
    validate_pod_template_spec(&template, errs);
    let pod_spec = section(&template, "spec", &mut Vec::new());
    let restart = pod_spec
        .str("restartPolicy", &mut Vec::new())
        .unwrap_or("Always");
    if !matches!(restart, "OnFailure" | "Never") {
        errs.push(FieldError::not_supported(
            pod_spec.at("restartPolicy"),
            restart,
            &["OnFailure", "Never"],
        ));
    }
}

pub fn validate_job(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let manual = spec.bool("manualSelector", errs) == Some(true);
    match spec.obj("selector", errs) {
        Some(sel) => {
            if let Some(parsed) = validate_label_selector(&sel, errs) {
                let template = section(&spec, "template", &mut Vec::new());
                if !parsed.matches(&template_labels(&template)) {
                    errs.push(labels_mismatch(&template));
                }
            }
        }
        // Upstream generates the selector before validating unless the user
        // asked to manage it, so only a manual one can be missing here.
        None if manual => errs.push(FieldError::required(spec.at("selector"), "")),
        None => {}
    }
    validate_job_spec_common(&spec, errs);

    let Some(old) = old else { return };
    let old_spec = spec_of(old, &mut Vec::new());
    immutable(
        spec.raw("selector"),
        old_spec.raw("selector"),
        &spec.at("selector"),
        errs,
    );
    for f in ["completionMode", "podFailurePolicy", "backoffLimitPerIndex"] {
        immutable(spec.raw(f), old_spec.raw(f), &spec.at(f), errs);
    }
    // Indexed jobs may scale completions together with parallelism.
    let elastic = spec.str("completionMode", &mut Vec::new()) == Some("Indexed")
        && spec.raw("completions") == spec.raw("parallelism");
    if !elastic {
        immutable(
            spec.raw("completions"),
            old_spec.raw("completions"),
            &spec.at("completions"),
            errs,
        );
    }
    validate_job_template_update(&spec, &old_spec, errs);
}

/// The pod template is immutable, except scheduling directives of a job that
/// is suspended and has never started.
fn validate_job_template_update(spec: &Obj, old_spec: &Obj, errs: &mut Errors) {
    let new_t = spec.raw("template").cloned().unwrap_or(Value::Null);
    let mut old_t = old_spec.raw("template").cloned().unwrap_or(Value::Null);
    let suspended = spec.bool("suspend", &mut Vec::new()) == Some(true);
    if suspended {
        for (section, key) in [
            ("spec", "nodeSelector"),
            ("spec", "tolerations"),
            ("spec", "affinity"),
            ("spec", "schedulingGates"),
            ("metadata", "labels"),
            ("metadata", "annotations"),
        ] {
            let v = new_t.get(section).and_then(|s| s.get(key)).cloned();
            if let Some(sec) = old_t.get_mut(section).and_then(Value::as_object_mut) {
                match v {
                    Some(v) => {
                        sec.insert(key.to_string(), v);
                    }
                    None => {
                        sec.remove(key);
                    }
                }
            }
        }
    }
    if !semantic_eq(Some(&new_t), Some(&old_t)) {
        errs.push(FieldError::invalid(
            spec.at("template"),
            new_t,
            "field is immutable",
        ));
    }
}

pub fn validate_cron_job(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let name = root
        .obj("metadata", &mut Vec::new())
        .map(|m| m.str_or_empty("name", &mut Vec::new()).len());
    if name.is_some_and(|n| n > 52) {
        let full = root
            .obj("metadata", &mut Vec::new())
            .map(|m| m.str_or_empty("name", &mut Vec::new()).to_string())
            .unwrap_or_default();
        errs.push(FieldError::invalid(
            Path::root("metadata").child("name"),
            full,
            "must be no more than 52 characters",
        ));
    }
    let spec = spec_of(root, errs);
    let time_zone = spec.str("timeZone", errs);
    let schedule = spec.str_or_empty("schedule", errs);
    if schedule.is_empty() {
        errs.push(FieldError::required(spec.at("schedule"), ""));
    } else {
        if let Err(msg) = parse_standard(schedule) {
            errs.push(FieldError::invalid(spec.at("schedule"), schedule, msg));
        }
        // Objects that already used TZ in their schedule may keep it.
        let old_had_tz = old
            .map(|o| {
                spec_of(o, &mut Vec::new())
                    .str_or_empty("schedule", &mut Vec::new())
                    .contains("TZ")
            })
            .unwrap_or(false);
        if schedule.contains("TZ") {
            if old_had_tz && time_zone.is_some() {
                errs.push(FieldError::invalid(
                    spec.at("schedule"),
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                ));
            } else if !old_had_tz {
                errs.push(FieldError::invalid(
                    spec.at("schedule"),
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    int_field(&spec, "startingDeadlineSeconds", errs);
    match spec.str("concurrencyPolicy", errs) {
        Some("") => errs.push(FieldError::required(spec.at("concurrencyPolicy"), "")),
        Some(p) if !matches!(p, "Allow" | "Forbid" | "Replace") => {
            errs.push(FieldError::not_supported(
                spec.at("concurrencyPolicy"),
                p,
                &["Allow", "Forbid", "Replace"],
            ))
        }
        _ => {}
    }
    int_field(&spec, "successfulJobsHistoryLimit", errs);
    int_field(&spec, "failedJobsHistoryLimit", errs);
    if let Some(tz) = time_zone {
        validate_time_zone(tz, &spec.at("timeZone"), errs);
    }
    let job_template = section(&spec, "jobTemplate", errs);
    let job_spec = section(&job_template, "spec", errs);
    validate_job_spec_common(&job_spec, errs);
    if let Some(sel) = job_spec.raw("selector") {
        errs.push(FieldError::invalid(
            job_spec.at("selector"),
            sel.clone(),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.bool("manualSelector", errs) == Some(true) {
        errs.push(FieldError::not_supported(
            job_spec.at("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
}

/// IANA zone names: well-formed parts, and known to the local tz database
/// when the machine has one.
fn validate_time_zone(tz: &str, path: &Path, errs: &mut Errors) {
    if tz.is_empty() {
        errs.push(FieldError::invalid(path, tz, "unknown time zone"));
        return;
    }
    if tz.eq_ignore_ascii_case("local") {
        errs.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    let mut well_formed = true;
    for part in tz.split('/') {
        let ok_chars = !part.is_empty()
            && part.len() <= 14
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
        if part == "." || part == ".." || part.starts_with('-') || !ok_chars {
            well_formed = false;
            errs.push(FieldError::invalid(
                path,
                tz,
                format!("segment '{part}' of time zone must contain only ASCII letters, digits and '.', '_', '-', '+', be non-empty and at most 14 characters, not start with '-', and not be '.' or '..'"),
            ));
        }
    }
    let zoneinfo = FsPath::new("/usr/share/zoneinfo");
    if well_formed && tz != "UTC" && zoneinfo.is_dir() && !zoneinfo.join(tz).is_file() {
        errs.push(FieldError::invalid(
            path,
            tz,
            format!("unknown time zone {tz}"),
        ));
    }
}
