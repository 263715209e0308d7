//! Pod volumes: unique DNS-label names and exactly one source, with the
//! common sources checked in detail.

use std::collections::HashSet;

use berth_api::status::FieldError;

use crate::container::{validate_local_descending_path, validate_object_field_selector};
use crate::json::{Errors, Obj};
use crate::names::{is_dns1123_label, is_dns1123_subdomain};
use crate::quantity;

/// Every member of `VolumeSource` (exactly one may be set).
const SOURCES: &[&str] = &[
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "projected",
    "csi",
    "ephemeral",
    "image",
];

const FILE_MODE_ERR: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

/// Validates `spec.volumes` and returns the names declared (for volumeMounts).
pub fn validate_volumes<'a>(spec: &Obj<'a>, errs: &mut Errors) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    for vol in spec.objs("volumes", errs) {
        let name = vol.str_or_empty("name", errs);
        if name.is_empty() {
            errs.push(FieldError::required(vol.at("name"), ""));
        } else {
            for msg in is_dns1123_label(name) {
                errs.push(FieldError::invalid(vol.at("name"), name, msg));
            }
        }
        if !name.is_empty() && !names.insert(name) {
            errs.push(FieldError::duplicate(vol.at("name"), name));
        }
        let mut count = 0;
        for source in SOURCES {
            if !vol.has(source) {
                continue;
            }
            if count > 0 {
                errs.push(FieldError::forbidden(
                    vol.at(source),
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            count += 1;
            if let Some(s) = vol.obj(source, errs) {
                validate_source(source, &s, errs);
            }
        }
        if count == 0 {
            errs.push(FieldError::required(
                vol.path(),
                "must specify a volume type",
            ));
        }
    }
    names
}

fn required_str(o: &Obj, key: &str, errs: &mut Errors) -> String {
    let s = o.str_or_empty(key, errs);
    if s.is_empty() {
        errs.push(FieldError::required(o.at(key), ""));
    }
    s.to_string()
}

fn validate_mode(o: &Obj, key: &str, errs: &mut Errors) {
    if let Some(m) = o.int(key, errs) {
        if !(0..=0o777).contains(&m) {
            errs.push(FieldError::invalid(o.at(key), m, FILE_MODE_ERR));
        }
    }
}

fn validate_key_to_path_items(o: &Obj, errs: &mut Errors) {
    for item in o.objs("items", errs) {
        required_str(&item, "key", errs);
        let p = required_str(&item, "path", errs);
        if !p.is_empty() {
            validate_local_descending_path(&p, &item.at("path"), errs);
            if p.starts_with("..") && !p.starts_with("../") {
                errs.push(FieldError::invalid(
                    item.at("path"),
                    p.as_str(),
                    "must not start with '..'",
                ));
            }
        }
        validate_mode(&item, "mode", errs);
    }
}

fn validate_source(kind: &str, s: &Obj, errs: &mut Errors) {
    match kind {
        "hostPath" => {
            required_str(s, "path", errs);
            if let Some(t) = s.str("type", errs) {
                if !HOST_PATH_TYPES.contains(&t) {
                    errs.push(FieldError::not_supported(s.at("type"), t, HOST_PATH_TYPES));
                }
            }
        }
        "emptyDir" => {
            if let Some(m) = s.str("medium", errs) {
                if !matches!(m, "" | "Memory" | "HugePages") && !m.starts_with("HugePages-") {
                    errs.push(FieldError::not_supported(
                        s.at("medium"),
                        m,
                        &["", "Memory", "HugePages"],
                    ));
                }
            }
            if let Some(v) = s.raw("sizeLimit") {
                quantity::read_non_negative(v, &s.at("sizeLimit"), errs);
            }
        }
        "secret" => {
            let name = required_str(s, "secretName", errs);
            if !name.is_empty() {
                for msg in is_dns1123_subdomain(&name) {
                    errs.push(FieldError::invalid(s.at("secretName"), name.as_str(), msg));
                }
            }
            validate_mode(s, "defaultMode", errs);
            validate_key_to_path_items(s, errs);
        }
        "configMap" => {
            let name = required_str(s, "name", errs);
            if !name.is_empty() {
                for msg in is_dns1123_subdomain(&name) {
                    errs.push(FieldError::invalid(s.at("name"), name.as_str(), msg));
                }
            }
            validate_mode(s, "defaultMode", errs);
            validate_key_to_path_items(s, errs);
        }
        "persistentVolumeClaim" => {
            required_str(s, "claimName", errs);
        }
        "nfs" => {
            required_str(s, "server", errs);
            let p = required_str(s, "path", errs);
            if !p.is_empty() && !p.starts_with('/') {
                errs.push(FieldError::invalid(
                    s.at("path"),
                    p.as_str(),
                    "must be an absolute path",
                ));
            }
        }
        "csi" => {
            required_str(s, "driver", errs);
        }
        "downwardAPI" => {
            validate_mode(s, "defaultMode", errs);
            validate_downward_api_items(s, errs);
        }
        "projected" => {
            validate_mode(s, "defaultMode", errs);
            for src in s.objs("sources", errs) {
                let mut count = 0;
                for kind in [
                    "secret",
                    "downwardAPI",
                    "configMap",
                    "serviceAccountToken",
                    "clusterTrustBundle",
                ] {
                    let Some(p) = src.obj(kind, errs) else {
                        continue;
                    };
                    count += 1;
                    if count > 1 {
                        errs.push(FieldError::forbidden(
                            src.at(kind),
                            "may not specify more than 1 volume type per source",
                        ));
                        continue;
                    }
                    match kind {
                        "secret" | "configMap" => validate_key_to_path_items(&p, errs),
                        "downwardAPI" => validate_downward_api_items(&p, errs),
                        "serviceAccountToken" => {
                            if let Some(secs) = p.int("expirationSeconds", errs) {
                                if secs < 600 {
                                    errs.push(FieldError::invalid(
                                        p.at("expirationSeconds"),
                                        secs,
                                        "may not specify a duration less than 10 minutes",
                                    ));
                                } else if secs > 1 << 32 {
                                    errs.push(FieldError::invalid(
                                        p.at("expirationSeconds"),
                                        secs,
                                        "may not specify a duration larger than 2^32 seconds",
                                    ));
                                }
                            }
                            required_str(&p, "path", errs);
                        }
                        _ => {}
                    }
                }
                if count == 0 {
                    errs.push(FieldError::required(
                        src.path(),
                        "must specify exactly 1 volume type",
                    ));
                }
            }
        }
        "ephemeral" if !s.has("volumeClaimTemplate") => {
            errs.push(FieldError::required(s.at("volumeClaimTemplate"), ""));
        }
        _ => {}
    }
}

fn validate_downward_api_items(s: &Obj, errs: &mut Errors) {
    const PATHS: &[&str] = &[
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
    ];
    for item in s.objs("items", errs) {
        let p = required_str(&item, "path", errs);
        if !p.is_empty() {
            validate_local_descending_path(&p, &item.at("path"), errs);
        }
        validate_mode(&item, "mode", errs);
        let has_field = item.has("fieldRef");
        let has_resource = item.has("resourceFieldRef");
        if let Some(f) = item.obj("fieldRef", errs) {
            validate_object_field_selector(&f, PATHS, errs);
        }
        if has_field && has_resource {
            errs.push(FieldError::invalid(
                item.path(),
                "resource",
                "fieldRef and resourceFieldRef can not be specified simultaneously",
            ));
        } else if !has_field && !has_resource {
            errs.push(FieldError::required(
                item.path(),
                "one of fieldRef and resourceFieldRef is required",
            ));
        }
    }
}
