//! CustomResourceDefinition basics (apiextensions validation): name,
//! group, names, scope and exactly one storage version.

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::{section, spec_of};
use crate::json::{Errors, Obj};
use crate::meta::immutable;
use crate::names::{is_dns1035_label, is_dns1123_subdomain};
use crate::path::Path;

pub fn validate_crd(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    let group = spec.str_or_empty("group", errs);
    if group.is_empty() {
        errs.push(FieldError::required(spec.at("group"), ""));
    } else {
        let msgs = is_dns1123_subdomain(group);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(spec.at("group"), group, msgs.join(",")));
        } else if !group.contains('.') {
            errs.push(FieldError::invalid(
                spec.at("group"),
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    let names = section(&spec, "names", errs);
    let plural = names.str_or_empty("plural", errs);
    if plural.is_empty() {
        errs.push(FieldError::required(names.at("plural"), ""));
    } else {
        let msgs = is_dns1035_label(plural);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                names.at("plural"),
                plural,
                msgs.join(","),
            ));
        }
    }
    let kind = names.str_or_empty("kind", errs);
    if kind.is_empty() {
        errs.push(FieldError::required(names.at("kind"), ""));
    } else {
        let msgs = is_dns1035_label(&kind.to_lowercase());
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                names.at("kind"),
                kind,
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    msgs.join(",")
                ),
            ));
        }
    }
    let name = root
        .obj("metadata", &mut Vec::new())
        .map(|m| m.str_or_empty("name", &mut Vec::new()).to_string())
        .unwrap_or_default();
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            Path::root("metadata").child("name"),
            name.as_str(),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match spec.str_or_empty("scope", errs) {
        "" => errs.push(FieldError::required(spec.at("scope"), "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            spec.at("scope"),
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = spec.objs("versions", errs);
    let mut storage = 0;
    for v in &versions {
        let vname = v.str_or_empty("name", errs);
        let msgs = is_dns1035_label(vname);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(v.at("name"), vname, msgs.join(",")));
        }
        if v.bool("storage", errs) == Some(true) {
            storage += 1;
        }
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            spec.at("versions"),
            spec.raw("versions").cloned().unwrap_or(Value::Null),
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(old) = old {
        let old_spec = spec_of(old, &mut Vec::new());
        immutable(
            spec.raw("scope"),
            old_spec.raw("scope"),
            &spec.at("scope"),
            errs,
        );
    }
}
