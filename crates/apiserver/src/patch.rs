//! PATCH: json-patch, merge-patch, strategic-merge-patch and server-side
//! apply, each applied to the latest object and committed with
//! compare-and-swap, retried when someone else wrote in between.

use crate::body;
use crate::request::Query;
use crate::rest::{self, read};
use crate::{convert, Server, User};
use axum::http::{HeaderMap, StatusCode};
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    match body::content_type(headers).as_str() {
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchType::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => Ok(PatchType::Apply),
        other => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"),
        )),
    }
}

fn patch_err(e: berth_patch::PatchError) -> ApiError {
    match e.status_code() {
        409 => ApiError::new(409, "Conflict", e.to_string()),
        422 => ApiError::new(422, "Invalid", e.to_string()),
        _ => ApiError::bad_request(e.to_string()),
    }
}

fn apply_conflicts(
    info: &ResourceInfo,
    name: &str,
    conflicts: &[berth_patch::managed::Conflict],
) -> ApiError {
    let gv = info.api_version();
    let lines: Vec<String> = conflicts
        .iter()
        .map(|c| format!("conflict with \"{}\" using {gv}: {}", c.manager, c.field))
        .collect();
    let mut err = ApiError::new(
        409,
        "Conflict",
        format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            lines.join("\n")
        ),
    );
    err.details = Some(json!({
        "name": name, "group": info.group, "kind": info.plural,
        "causes": conflicts.iter().map(|c| json!({
            "reason": "FieldManagerConflict",
            "message": format!("conflict with \"{}\" using {gv}", c.manager),
            "field": c.field,
        })).collect::<Vec<_>>(),
    }));
    err
}

#[allow(clippy::too_many_arguments)]
pub async fn patch(
    srv: &Arc<Server>,
    info: &'static ResourceInfo,
    ns: Option<&str>,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
    raw: &[u8],
    status_only: bool,
    user: &User,
) -> Result<(StatusCode, Value), ApiError> {
    if raw.len() > body::MAX_BODY {
        return Err(ApiError::too_large());
    }
    let ptype = patch_type(headers)?;
    let doc = match ptype {
        PatchType::Apply => body::decode_yaml(raw)?,
        _ => body::decode_json(raw)?,
    };
    if matches!(ptype, PatchType::Strategic | PatchType::Apply) && !doc.is_object() {
        return Err(ApiError::bad_request("the patch must be a JSON object"));
    }
    if ptype == PatchType::Json && !doc.is_array() {
        return Err(ApiError::bad_request(
            "json patch must be an array of operations",
        ));
    }
    let manager = rest::field_manager(q, headers);
    if ptype == PatchType::Apply && q.get("fieldManager").is_none_or(str::is_empty) {
        return Err(rest::invalid_options(
            "PatchOptions",
            &[berth_api::status::FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )],
        ));
    }
    let schemas = srv.openapi.schemas(info.group, info.version);
    let root = srv
        .openapi
        .root_definition(info.group, info.version, info.kind)
        .unwrap_or_default();
    let empty = serde_json::Map::new();
    let defs = schemas.as_deref().unwrap_or(&empty);
    let s = berth_patch::Schemas::new(defs);
    let patch_rv = doc
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);

    for _attempt in 0..8 {
        let current = match read(srv, info, ns, name).await {
            Ok(c) => c,
            Err(e) if e.code == 404 && ptype == PatchType::Apply && !status_only => {
                let mut applied = doc.clone();
                rest::check_type(info, &mut applied)?;
                rest::check_decodes(srv, info, &applied)?;
                rest::check_fields(srv, info, q, &applied, "PatchOptions")?;
                if applied.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object does not match the name on the URL ({name})"
                    )));
                }
                let obj = berth_patch::managed::apply(
                    None,
                    &applied,
                    &manager,
                    q.flag("force"),
                    &s,
                    &root,
                    &rest::now_rfc3339(),
                )
                .map_err(|e| match e {
                    berth_patch::managed::ApplyError::Conflicts(c) => {
                        apply_conflicts(info, name, &c)
                    }
                    other => ApiError::bad_request(other.to_string()),
                })?;
                if info.group.is_empty() && info.kind == "Pod" {
                    crate::service_account_admission::wait_for_default(
                        srv,
                        ns.unwrap_or("default"),
                        &obj,
                    )
                    .await;
                }
                let obj = rest::prepare_create(srv, info, ns, obj, user)?;
                return rest::commit_create(srv, info, ns, obj, q.dry_run()).await;
            }
            Err(e) => return Err(e),
        };
        if let Some(rv) = &patch_rv {
            if *rv != current.1.to_string() {
                return Err(rest::store_err(
                    info,
                    name,
                    berth_store::StoreError::Conflict {
                        key: String::new(),
                        current: None,
                    },
                ));
            }
        }
        let served = convert::to_served(info, current.0.clone());
        let (mut patched, managed_by_apply) = match ptype {
            PatchType::Json => (
                berth_patch::json_patch(&served, &doc).map_err(patch_err)?,
                false,
            ),
            // RFC 7386: a patch that is not an object replaces the whole target.
            PatchType::Merge if !doc.is_object() => (doc.clone(), false),
            PatchType::Merge => (
                berth_patch::merge_patch(&served, &doc).map_err(patch_err)?,
                false,
            ),
            PatchType::Strategic => (
                berth_patch::strategic_merge_patch(&served, &doc, &s, &root).map_err(patch_err)?,
                false,
            ),
            PatchType::Apply => {
                let mut applied = doc.clone();
                rest::check_type(info, &mut applied)?;
                let out = berth_patch::managed::apply(
                    Some(&served),
                    &applied,
                    &manager,
                    q.flag("force"),
                    &s,
                    &root,
                    &rest::now_rfc3339(),
                )
                .map_err(|e| match e {
                    berth_patch::managed::ApplyError::Conflicts(c) => {
                        apply_conflicts(info, name, &c)
                    }
                    other => ApiError::bad_request(other.to_string()),
                })?;
                (out, true)
            }
        };
        if let Err(e) = rest::check_type(info, &mut patched) {
            let patch_text = String::from_utf8_lossy(raw).to_string();
            return Err(ApiError::invalid(
                info.group,
                info.kind,
                name,
                &[berth_api::status::FieldError::invalid(
                    "patch", patch_text, e.message,
                )],
            ));
        }
        rest::check_decodes(srv, info, &patched)?;
        rest::check_fields(srv, info, q, &patched, "PatchOptions")?;
        if patched.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                patched
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )));
        }
        // A resourceVersion changed by the patch is a precondition too (json-patch replace).
        if let Some(rv) = patched
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if rv != current.1.to_string() {
                return Err(rest::store_err(
                    info,
                    name,
                    berth_store::StoreError::Conflict {
                        key: String::new(),
                        current: None,
                    },
                ));
            }
        }
        let stored = convert::to_storage(info, patched);
        let mgr = (!managed_by_apply).then_some(manager.as_str());
        match rest::commit_update(
            srv,
            info,
            ns,
            name,
            current,
            stored,
            mgr,
            status_only,
            q.dry_run(),
        )
        .await
        {
            Err(e) if e.code == 409 && e.reason == "Conflict" && patch_rv.is_none() => continue,
            other => return other,
        }
    }
    Err(ApiError::conflict(
        info.group,
        info.plural,
        name,
        "too many concurrent writers; try again",
    ))
}
