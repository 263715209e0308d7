//! Role, ClusterRole, RoleBinding, ClusterRoleBinding (rbac/validation).

use berth_api::status::FieldError;
use serde_json::Value;

use crate::json::{Errors, Obj};
use crate::names::{is_dns1123_subdomain, is_valid_path_segment_name};
use crate::path::Path;
use crate::selector::validate_label_selector;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

pub fn validate_role(root: &Obj, namespaced: bool, errs: &mut Errors) {
    for rule in root.objs("rules", errs) {
        if rule.arr("verbs", errs).is_none_or(|v| v.is_empty()) {
            errs.push(FieldError::required(
                rule.at("verbs"),
                "verbs must contain at least one value",
            ));
        }
        let non_resource = rule.strs("nonResourceURLs", errs);
        let api_groups = rule.arr("apiGroups", errs).map_or(0, Vec::len);
        let resources = rule.arr("resources", errs).map_or(0, Vec::len);
        let names = rule.arr("resourceNames", errs).map_or(0, Vec::len);
        if !non_resource.is_empty() {
            let value = rule.raw("nonResourceURLs").cloned().unwrap_or(Value::Null);
            if namespaced {
                errs.push(FieldError::invalid(
                    rule.at("nonResourceURLs"),
                    value.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if api_groups > 0 || resources > 0 || names > 0 {
                errs.push(FieldError::invalid(
                    rule.at("nonResourceURLs"),
                    value,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if api_groups == 0 {
            errs.push(FieldError::required(
                rule.at("apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if resources == 0 {
            errs.push(FieldError::required(
                rule.at("resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    if let Some(agg) = root.obj("aggregationRule", errs) {
        let selectors = agg.objs("clusterRoleSelectors", errs);
        if selectors.is_empty() {
            errs.push(FieldError::required(
                agg.at("clusterRoleSelectors"),
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for s in &selectors {
            validate_label_selector(s, errs);
        }
    }
}

pub fn validate_binding(root: &Obj, old: Option<&Obj>, cluster: bool, errs: &mut Errors) {
    let role_ref_path = Path::root("roleRef");
    let role_ref = root.obj("roleRef", errs);
    let get = |k: &str, errs: &mut Errors| {
        role_ref
            .as_ref()
            .map(|r| r.str_or_empty(k, errs))
            .unwrap_or("")
    };
    let api_group = get("apiGroup", errs);
    if api_group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            role_ref_path.child("apiGroup"),
            api_group,
            &[RBAC_GROUP],
        ));
    }
    let kind = get("kind", errs);
    let kinds: &[&str] = if cluster {
        &["ClusterRole"]
    } else {
        &["Role", "ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported(
            role_ref_path.child("kind"),
            kind,
            kinds,
        ));
    }
    let name = get("name", errs);
    if name.is_empty() {
        errs.push(FieldError::required(role_ref_path.child("name"), ""));
    } else {
        for msg in is_valid_path_segment_name(name) {
            errs.push(FieldError::invalid(role_ref_path.child("name"), name, msg));
        }
    }
    for subject in root.objs("subjects", errs) {
        validate_subject(&subject, !cluster, errs);
    }
    if let Some(old) = old {
        if root.raw("roleRef") != old.raw("roleRef") {
            errs.push(FieldError::invalid(
                &role_ref_path,
                root.raw("roleRef").cloned().unwrap_or(Value::Null),
                "cannot change roleRef",
            ));
        }
    }
}

fn validate_subject(s: &Obj, namespaced: bool, errs: &mut Errors) {
    let name = s.str_or_empty("name", errs);
    if name.is_empty() {
        errs.push(FieldError::required(s.at("name"), ""));
    }
    let api_group = s.str_or_empty("apiGroup", errs);
    match s.str_or_empty("kind", errs) {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in is_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(s.at("name"), name, msg));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    s.at("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !namespaced && s.str_or_empty("namespace", errs).is_empty() {
                errs.push(FieldError::required(s.at("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if api_group != RBAC_GROUP {
                errs.push(FieldError::not_supported(
                    s.at("apiGroup"),
                    api_group,
                    &[RBAC_GROUP],
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            s.at("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}
