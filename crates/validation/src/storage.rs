//! PersistentVolume, PersistentVolumeClaim and StorageClass.

use std::cmp::Ordering;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::apps::spec_of;
use crate::json::{diff_paths, semantic_eq, Errors, Obj};
use crate::meta::immutable;
use crate::names::{is_dns1123_subdomain, is_qualified_name};
use crate::quantity;
use crate::selector::validate_label_selector;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "nfs",
    "rbd",
    "iscsi",
    "cinder",
    "cephfs",
    "fc",
    "flocker",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn validate_access_modes(spec: &Obj, required_detail: &str, errs: &mut Errors) {
    let modes = spec.strs("accessModes", errs);
    if modes.is_empty() {
        errs.push(FieldError::required(
            spec.at("accessModes"),
            required_detail,
        ));
    }
    let mut rwop = false;
    let mut other = false;
    for (_, m) in &modes {
        if !ACCESS_MODES.contains(m) {
            errs.push(FieldError::not_supported(
                spec.at("accessModes"),
                *m,
                ACCESS_MODES,
            ));
        } else if *m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            other = true;
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            spec.at("accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn validate_class_and_mode(spec: &Obj, errs: &mut Errors) {
    let class = spec.str_or_empty("storageClassName", errs);
    if !class.is_empty() {
        for msg in is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid(spec.at("storageClassName"), class, msg));
        }
    }
    if let Some(m) = spec.str("volumeMode", errs) {
        if !VOLUME_MODES.contains(&m) {
            errs.push(FieldError::not_supported(
                spec.at("volumeMode"),
                m,
                VOLUME_MODES,
            ));
        }
    }
}

pub fn validate_persistent_volume(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    validate_access_modes(&spec, "", errs);
    match spec.obj("capacity", errs) {
        None => {
            errs.push(FieldError::required(spec.at("capacity"), ""));
            errs.push(FieldError::not_supported(
                spec.at("capacity"),
                Value::Null,
                &["storage"],
            ));
        }
        Some(cap) => {
            if !cap.map.contains_key("storage") || cap.map.len() > 1 {
                errs.push(FieldError::not_supported(
                    cap.path(),
                    Value::Object(cap.map.clone()),
                    &["storage"],
                ));
            }
            for (k, v) in cap.map {
                let p = cap.path.key(k);
                if let Some(q) = quantity::read(v, &p, errs) {
                    if q.sign() != Ordering::Greater {
                        errs.push(FieldError::invalid(
                            p,
                            q.text.clone(),
                            "must be greater than zero",
                        ));
                    }
                }
            }
        }
    }
    validate_class_and_mode(&spec, errs);
    if let Some(p) = spec.str("persistentVolumeReclaimPolicy", errs) {
        if !matches!(p, "Delete" | "Recycle" | "Retain") {
            errs.push(FieldError::not_supported(
                spec.at("persistentVolumeReclaimPolicy"),
                p,
                &["Delete", "Recycle", "Retain"],
            ));
        }
    }
    let mut count = 0;
    for source in PV_SOURCES {
        if !spec.has(source) {
            continue;
        }
        if count > 0 {
            errs.push(FieldError::forbidden(
                spec.at(source),
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        if let Some(s) = spec.obj(source, errs) {
            let required: &[&str] = match *source {
                "hostPath" | "local" => &["path"],
                "nfs" => &["server", "path"],
                "csi" => &["driver", "volumeHandle"],
                _ => &[],
            };
            for r in required {
                if s.str_or_empty(r, errs).is_empty() {
                    errs.push(FieldError::required(s.at(r), ""));
                }
            }
        }
    }
    if count == 0 {
        errs.push(FieldError::required(
            spec.path(),
            "must specify a volume type",
        ));
    }
    if let Some(old) = old {
        let old_spec = spec_of(old, &mut Vec::new());
        let source_of = |o: &Obj| {
            let mut m = serde_json::Map::new();
            for s in PV_SOURCES {
                if let Some(v) = o.raw(s) {
                    m.insert(s.to_string(), v.clone());
                }
            }
            Value::Object(m)
        };
        let (new_src, old_src) = (source_of(&spec), source_of(&old_spec));
        if !semantic_eq(Some(&new_src), Some(&old_src)) {
            let mut changed = Vec::new();
            diff_paths(Some(&old_src), Some(&new_src), "spec", &mut changed);
            errs.push(FieldError::forbidden(
                spec.at("persistentvolumesource"),
                format!(
                    "spec.persistentvolumesource is immutable after creation\n  changed: {}",
                    changed.join(", ")
                ),
            ));
        }
        immutable(
            spec.raw("volumeMode"),
            old_spec.raw("volumeMode"),
            &root.at("volumeMode"),
            errs,
        );
    }
}

pub fn validate_persistent_volume_claim(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let spec = spec_of(root, errs);
    validate_pvc_spec(&spec, errs);
    let Some(old) = old else { return };
    let old_spec = spec_of(old, &mut Vec::new());
    // volumeName may be set once (binding); requests may change.
    let mut new_clone = spec.map.clone();
    let mut old_clone = old_spec.map.clone();
    if old_spec
        .str_or_empty("volumeName", &mut Vec::new())
        .is_empty()
    {
        match new_clone.get("volumeName") {
            Some(v) => {
                old_clone.insert("volumeName".into(), v.clone());
            }
            None => {
                old_clone.remove("volumeName");
            }
        }
    }
    for m in [&mut new_clone, &mut old_clone] {
        if let Some(Value::Object(res)) = m.get_mut("resources") {
            res.remove("requests");
        }
        // An unset class may be set once (the default class admission does this).
        m.remove("volumeAttributesClassName");
    }
    if old_spec.raw("storageClassName").is_none() {
        new_clone.remove("storageClassName");
    }
    let (new_v, old_v) = (Value::Object(new_clone), Value::Object(old_clone));
    if !semantic_eq(Some(&new_v), Some(&old_v)) {
        let mut changed = Vec::new();
        diff_paths(Some(&old_v), Some(&new_v), "spec", &mut changed);
        errs.push(FieldError::forbidden(
            spec.path(),
            format!(
                "spec is immutable after creation except resources.requests for bound claims\n  changed: {}",
                changed.join(", ")
            ),
        ));
    }
    let storage = |o: &Obj| {
        o.obj("resources", &mut Vec::new())
            .and_then(|r| r.obj("requests", &mut Vec::new()))
            .and_then(|r| {
                r.raw("storage")
                    .and_then(Value::as_str)
                    .and_then(quantity::Quantity::parse)
            })
    };
    if let (Some(new_size), Some(old_size)) = (storage(&spec), storage(&old_spec)) {
        if new_size.cmp_q(&old_size) == Ordering::Less {
            errs.push(FieldError::forbidden(
                spec.at("resources").child("requests").child("storage"),
                "field can not be less than previous value",
            ));
        }
    }
}

fn validate_pvc_spec(spec: &Obj, errs: &mut Errors) {
    validate_access_modes(spec, "at least 1 access mode is required", errs);
    if let Some(sel) = spec.obj("selector", errs) {
        validate_label_selector(&sel, errs);
    }
    let storage_path = spec.at("resources").key("storage");
    let storage = spec
        .obj("resources", errs)
        .and_then(|r| r.obj("requests", errs))
        .and_then(|r| r.raw("storage").cloned());
    match storage {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(v) => {
            if let Some(q) = quantity::read(&v, &storage_path, errs) {
                if q.sign() != Ordering::Greater {
                    errs.push(FieldError::invalid(
                        &storage_path,
                        q.text.clone(),
                        "must be greater than zero",
                    ));
                }
            }
        }
    }
    validate_class_and_mode(spec, errs);
}

pub fn validate_storage_class(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let provisioner = root.str_or_empty("provisioner", errs);
    if provisioner.is_empty() {
        errs.push(FieldError::required(root.at("provisioner"), ""));
    } else {
        for msg in is_qualified_name(&provisioner.to_lowercase()) {
            errs.push(FieldError::invalid(
                root.at("provisioner"),
                provisioner,
                msg,
            ));
        }
    }
    let params = root.str_map("parameters", errs);
    let params_size: usize = params.iter().map(|(k, v)| k.len() + v.len()).sum();
    if params.len() > 512 {
        errs.push(FieldError::too_long(root.at("parameters"), "", 512));
    }
    if params_size > 256 * 1024 {
        errs.push(FieldError::too_long(root.at("parameters"), "", 256 * 1024));
    }
    for (k, _) in &params {
        if k.is_empty() {
            errs.push(FieldError::invalid(
                root.at("parameters"),
                *k,
                "field can not be empty.",
            ));
        }
    }
    if let Some(p) = root.str("reclaimPolicy", errs) {
        if !matches!(p, "Delete" | "Retain") {
            errs.push(FieldError::not_supported(
                root.at("reclaimPolicy"),
                p,
                &["Delete", "Retain"],
            ));
        }
    }
    if let Some(m) = root.str("volumeBindingMode", errs) {
        if !matches!(m, "Immediate" | "WaitForFirstConsumer") {
            errs.push(FieldError::not_supported(
                root.at("volumeBindingMode"),
                m,
                &["Immediate", "WaitForFirstConsumer"],
            ));
        }
    }
    if let Some(old) = old {
        if !semantic_eq(root.raw("parameters"), old.raw("parameters")) {
            errs.push(FieldError::forbidden(
                root.at("parameters"),
                "updates to parameters are forbidden.",
            ));
        }
        if root.raw("provisioner") != old.raw("provisioner") {
            errs.push(FieldError::forbidden(
                root.at("provisioner"),
                "updates to provisioner are forbidden.",
            ));
        }
        let policy = |o: &Obj| {
            o.str("reclaimPolicy", &mut Vec::new())
                .unwrap_or("Delete")
                .to_string()
        };
        if policy(root) != policy(old) {
            errs.push(FieldError::forbidden(
                root.at("reclaimPolicy"),
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        immutable(
            root.raw("volumeBindingMode"),
            old.raw("volumeBindingMode"),
            &root.at("volumeBindingMode"),
            errs,
        );
    }
}
