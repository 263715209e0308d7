//! LimitRange and ResourceQuota.

use std::cmp::Ordering;

use berth_api::status::FieldError;

use crate::apps::spec_of;
use crate::json::{Errors, Obj};
use crate::names::is_qualified_name;
use crate::path::Path;
use crate::quantity::{self, Quantity};

const STANDARD_QUOTA: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
    "cpu",
    "memory",
    "ephemeral-storage",
    "storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];
const QUOTA_SCOPES: &[&str] = &[
    "BestEffort",
    "CrossNamespacePodAffinity",
    "NotBestEffort",
    "NotTerminating",
    "PriorityClass",
    "Terminating",
    "VolumeAttributesClass",
];

fn check_resource_name(name: &str, path: &Path, errs: &mut Errors) {
    for msg in is_qualified_name(name) {
        errs.push(FieldError::invalid(path, name, msg));
    }
}

pub fn validate_resource_quota(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    if let Some(hard) = spec.obj("hard", errs) {
        for (k, v) in hard.map {
            let p = hard.path.key(k);
            check_resource_name(k, &p, errs);
            let standard = STANDARD_QUOTA.contains(&k.as_str())
                || k.starts_with("hugepages-")
                || k.starts_with("requests.hugepages-");
            if !k.contains('/') && !standard {
                errs.push(FieldError::invalid(
                    &p,
                    k.as_str(),
                    "must be a standard resource for quota",
                ));
            }
            quantity::read_non_negative(v, &p, errs);
        }
    }
    for (p, scope) in spec.strs("scopes", errs) {
        if !QUOTA_SCOPES.contains(&scope) {
            errs.push(FieldError::not_supported(p, scope, QUOTA_SCOPES));
        }
    }
}

pub fn validate_limit_range(root: &Obj, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    for limit in spec.objs("limits", errs) {
        let t = limit.str_or_empty("type", errs);
        if t.is_empty() {
            errs.push(FieldError::required(limit.at("type"), ""));
        } else {
            for msg in is_qualified_name(t) {
                errs.push(FieldError::invalid(limit.at("type"), t, msg));
            }
            if !t.contains('/') && !matches!(t, "Pod" | "Container" | "PersistentVolumeClaim") {
                errs.push(FieldError::invalid(
                    limit.at("type"),
                    t,
                    "must be a standard limit type or fully qualified",
                ));
            }
        }
        let read = |section: &str, errs: &mut Errors| -> Vec<(String, Quantity)> {
            let mut out = Vec::new();
            if let Some(m) = limit.obj(section, errs) {
                for (k, v) in m.map {
                    let p = m.path.key(k);
                    check_resource_name(k, &p, errs);
                    if let Some(q) = quantity::read_non_negative(v, &p, errs) {
                        out.push((k.clone(), q));
                    }
                }
            }
            out
        };
        let max = read("max", errs);
        let min = read("min", errs);
        let default = read("default", errs);
        let default_request = read("defaultRequest", errs);
        read("maxLimitRequestRatio", errs);
        let find = |v: &[(String, Quantity)], k: &str| {
            v.iter().find(|(n, _)| n == k).map(|(_, q)| q.clone())
        };
        let mut keys: Vec<&String> = max
            .iter()
            .chain(&min)
            .chain(&default)
            .chain(&default_request)
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (mx, mn, d, dr) = (
                find(&max, k),
                find(&min, k),
                find(&default, k),
                find(&default_request, k),
            );
            let gt = |a: &Option<Quantity>, b: &Option<Quantity>| match (a, b) {
                (Some(a), Some(b)) => a.cmp_q(b) == Ordering::Greater,
                _ => false,
            };
            let text =
                |q: &Option<Quantity>| q.as_ref().map(|q| q.text.clone()).unwrap_or_default();
            if gt(&mn, &mx) {
                errs.push(FieldError::invalid(
                    limit.at("min").key(k),
                    text(&mn),
                    format!(
                        "min value {} is greater than max value {}",
                        text(&mn),
                        text(&mx)
                    ),
                ));
            }
            if gt(&mn, &dr) {
                errs.push(FieldError::invalid(
                    limit.at("defaultRequest").key(k),
                    text(&dr),
                    format!(
                        "min value {} is greater than default request value {}",
                        text(&mn),
                        text(&dr)
                    ),
                ));
            }
            if gt(&dr, &mx) {
                errs.push(FieldError::invalid(
                    limit.at("defaultRequest").key(k),
                    text(&dr),
                    format!(
                        "default request value {} is greater than max value {}",
                        text(&dr),
                        text(&mx)
                    ),
                ));
            }
            if gt(&dr, &d) {
                errs.push(FieldError::invalid(
                    limit.at("defaultRequest").key(k),
                    text(&dr),
                    format!(
                        "default request value {} is greater than default limit value {}",
                        text(&dr),
                        text(&d)
                    ),
                ));
            }
            if gt(&mn, &d) {
                errs.push(FieldError::invalid(
                    limit.at("default").key(k),
                    text(&mn),
                    format!(
                        "min value {} is greater than default value {}",
                        text(&mn),
                        text(&d)
                    ),
                ));
            }
            if gt(&d, &mx) {
                errs.push(FieldError::invalid(
                    limit.at("default").key(k),
                    text(&mx),
                    format!(
                        "default value {} is greater than max value {}",
                        text(&d),
                        text(&mx)
                    ),
                ));
            }
        }
    }
}
