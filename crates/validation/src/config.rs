//! ConfigMap and Secret: keys, total size, Secret types, and `immutable`.

use base64::Engine;
use berth_api::status::FieldError;
use serde_json::Value;

use crate::json::{semantic_eq, Errors, Obj};
use crate::meta::immutable;
use crate::names::is_config_map_key;
use crate::path::Path;

pub const MAX_SECRET_SIZE: usize = 1024 * 1024;
const IMMUTABLE_SET: &str = "field is immutable when `immutable` is set";

fn decoded_len(v: &Value, path: &Path, errs: &mut Errors) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => match base64::engine::general_purpose::STANDARD.decode(s) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                errs.push(FieldError::invalid(
                    path,
                    "<secret contents redacted>",
                    format!("illegal base64 data: {e}"),
                ));
                None
            }
        },
        Value::Null => Some(Vec::new()),
        other => {
            errs.push(FieldError::invalid(
                path,
                other.clone(),
                "must be a base64-encoded string",
            ));
            None
        }
    }
}

fn check_key(key: &str, path: &Path, errs: &mut Errors) {
    for msg in is_config_map_key(key) {
        errs.push(FieldError::invalid(path, key, msg));
    }
}

pub fn validate_config_map(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let mut total = 0usize;
    let data = root.str_map("data", errs);
    let binary = root.obj("binaryData", errs);
    let data_path = root.at("data");
    for (k, v) in &data {
        check_key(k, &data_path.key(k), errs);
        if binary.as_ref().is_some_and(|b| b.map.contains_key(*k)) {
            errs.push(FieldError::invalid(
                data_path.key(k),
                *k,
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    if let Some(b) = &binary {
        for (k, v) in b.map {
            let p = b.path.key(k);
            check_key(k, &p, errs);
            total += decoded_len(v, &p, errs).map(|d| d.len()).unwrap_or(0);
        }
    }
    if total > MAX_SECRET_SIZE {
        // Upstream reports the whole object, whose path prints as "[]".
        errs.push(FieldError::too_long("[]", "", MAX_SECRET_SIZE));
    }
    if let Some(old) = old {
        check_immutable_data(root, old, &["data", "binaryData"], errs);
    }
}

fn check_immutable_data(root: &Obj, old: &Obj, fields: &[&str], errs: &mut Errors) {
    if old.bool("immutable", &mut Vec::new()) != Some(true) {
        return;
    }
    if root.bool("immutable", errs) != Some(true) {
        errs.push(FieldError::forbidden(root.at("immutable"), IMMUTABLE_SET));
    }
    for f in fields {
        if !semantic_eq(root.raw(f), old.raw(f)) {
            errs.push(FieldError::forbidden(root.at(f), IMMUTABLE_SET));
        }
    }
}

pub fn validate_secret(root: &Obj, old: Option<&Obj>, errs: &mut Errors) {
    let data_path = root.at("data");
    let mut decoded: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(d) = root.obj("data", errs) {
        for (k, v) in d.map {
            let p = d.path.key(k);
            check_key(k, &p, errs);
            if let Some(bytes) = decoded_len(v, &p, errs) {
                decoded.push((k.clone(), bytes));
            }
        }
    }
    // stringData is merged into data by the server; its keys obey the same rules.
    for (k, v) in root.str_map("stringData", errs) {
        check_key(k, &data_path.key(k), errs);
        decoded.retain(|(dk, _)| dk != k);
        decoded.push((k.to_string(), v.as_bytes().to_vec()));
    }
    let total: usize = decoded.iter().map(|(_, v)| v.len()).sum();
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long(&data_path, "", MAX_SECRET_SIZE));
    }
    let get = |k: &str| {
        decoded
            .iter()
            .find(|(dk, _)| dk == k)
            .map(|(_, v)| v.as_slice())
    };
    let secret_type = root.str("type", errs).unwrap_or("");
    match secret_type {
        "kubernetes.io/service-account-token" => {
            let has_name = root
                .obj("metadata", &mut Vec::new())
                .map(|m| m.str_map("annotations", &mut Vec::new()))
                .unwrap_or_default()
                .iter()
                .any(|(k, v)| *k == "kubernetes.io/service-account.name" && !v.is_empty());
            if !has_name {
                errs.push(FieldError::required(
                    Path::root("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = if secret_type == "kubernetes.io/dockercfg" {
                ".dockercfg"
            } else {
                ".dockerconfigjson"
            };
            match get(key) {
                None => errs.push(FieldError::required(data_path.key(key), "")),
                Some(bytes) => {
                    if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(bytes)
                    {
                        errs.push(FieldError::invalid(
                            data_path.key(key),
                            "<secret contents redacted>",
                            e.to_string(),
                        ));
                    }
                }
            }
        }
        "kubernetes.io/basic-auth" if get("username").is_none() && get("password").is_none() => {
            errs.push(FieldError::required(data_path.key("username"), ""));
            errs.push(FieldError::required(data_path.key("password"), ""));
        }
        "kubernetes.io/ssh-auth" if get("ssh-privatekey").is_none_or(<[u8]>::is_empty) => {
            errs.push(FieldError::required(data_path.key("ssh-privatekey"), ""));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if get(key).is_none() {
                    errs.push(FieldError::required(data_path.key(key), ""));
                }
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        let old_type = old.str("type", &mut Vec::new()).unwrap_or("");
        // An absent type defaults to Opaque, so treat the two alike.
        let norm = |t: &str| {
            if t.is_empty() {
                "Opaque".to_string()
            } else {
                t.to_string()
            }
        };
        if norm(secret_type) != norm(old_type) {
            immutable(root.raw("type"), old.raw("type"), &root.at("type"), errs);
        }
        check_immutable_data(root, old, &["data"], errs);
    }
}
