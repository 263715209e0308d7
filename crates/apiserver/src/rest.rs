//! The one generic REST path every kind goes through:
//!
//! ```text
//! decode ─▶ type/namespace checks ─▶ strict fields ─▶ prepare (create|update|status)
//!        ─▶ defaults ─▶ admission ─▶ validation ─▶ managedFields ─▶ quota (charge
//!        status.used) ─▶ store (CAS) ─▶ response
//! ```
//! Per-kind differences come from `strategy`, the defaults/validation crates
//! and `admission`; there is no handler per kind.

use crate::body::{self, Want};
use crate::request::{Query, ResourceRequest, Verb};
use crate::{admission, convert, strategy, table, Server, User};
use axum::body::Body;
use axum::http::{HeaderMap, Response, StatusCode};
use berth_api::status::{ApiError, FieldError};
use berth_api::ResourceInfo;
use berth_store::{KeyValue, Revision, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;

pub type Reply = Result<Response<Body>, ApiError>;

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn store_err(info: &ResourceInfo, name: &str, e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(_) => ApiError::not_found(info.group, info.plural, name),
        StoreError::AlreadyExists(_) => ApiError::already_exists(info.group, info.plural, name),
        StoreError::Conflict { .. } => ApiError::conflict(
            info.group,
            info.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        StoreError::Compacted { .. } => ApiError::gone("too old resource version"),
        StoreError::FutureRevision { .. } => ApiError::timeout("Too large resource version"),
        StoreError::Backend(m) => ApiError::internal(m),
    }
}

pub fn object_key(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if info.namespaced() => format!("{}{}/{}", info.storage_prefix(), ns, name),
        _ => format!("{}{}", info.storage_prefix(), name),
    }
}

pub fn collection_prefix(info: &ResourceInfo, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if info.namespaced() => format!("{}{}/", info.storage_prefix(), ns),
        _ => info.storage_prefix(),
    }
}

pub fn field_manager(q: &Query, headers: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

/// Read the latest stored version of one object.
pub async fn read(
    srv: &Server,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
) -> Result<(Value, Revision), ApiError> {
    let key = object_key(info, ns, name);
    let kv = srv
        .store
        .get(&key)
        .await
        .map_err(|e| store_err(info, name, e))?;
    let kv = kv.ok_or_else(|| ApiError::not_found(info.group, info.plural, name))?;
    let obj = crate::cache::decode_stored(&kv.value, kv.mod_revision)
        .ok_or_else(|| ApiError::internal(format!("stored object {key} is not valid JSON")))?;
    Ok((obj, kv.mod_revision))
}

pub fn encode_for_storage(obj: &Value) -> Vec<u8> {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("selfLink");
    }
    serde_json::to_vec(&o).unwrap_or_default()
}

fn stamp(obj: &mut Value, kv: &KeyValue) {
    obj["metadata"]["resourceVersion"] = json!(kv.mod_revision.to_string());
}

/// Respond with one object in the representation the client asked for.
pub fn respond_object(
    info: &ResourceInfo,
    code: StatusCode,
    obj: Value,
    headers: &HeaderMap,
    q: &Query,
) -> Response<Body> {
    let obj = convert::to_served(info, obj);
    match body::want(headers) {
        Want::Table => body::json_response(code, &table::table_for(info, [obj], None, q)),
        Want::PartialMetadata => body::json_response(code, &table::partial_metadata(&obj)),
        Want::Object => body::json_response(code, &obj),
    }
}

pub async fn handle(
    srv: &Arc<Server>,
    req: ResourceRequest,
    q: Query,
    headers: HeaderMap,
    body: bytes::Bytes,
    user: &User,
) -> Reply {
    let info = req.info;
    let ns = req.namespace.as_deref();
    if info.namespaced()
        && req.verb != Verb::List
        && req.verb != Verb::Watch
        && req.verb != Verb::DeleteCollection
        && ns.is_none()
    {
        return Err(ApiError::not_found_path());
    }
    if info.is_review() {
        return crate::review::respond(srv, info, &headers, &body, user);
    }
    if let Some(sub) = req.subresource.as_deref() {
        return crate::subresource::handle(srv, &req, sub, q, headers, body, user).await;
    }
    let name = req.name.clone().unwrap_or_default();
    match req.verb {
        Verb::Get => {
            let (obj, _) = read(srv, info, ns, &name).await?;
            Ok(respond_object(info, StatusCode::OK, obj, &headers, &q))
        }
        Verb::List => crate::list::list(srv, info, ns, &q, &headers).await,
        Verb::Watch => crate::watch::watch(srv, info, ns, None, &q, &headers).await,
        Verb::Create => {
            let obj = body::decode_object(&headers, &body)?;
            let (code, obj) = create(srv, info, ns, obj, &q, &headers, user).await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        Verb::Update => {
            let obj = body::decode_object(&headers, &body)?;
            let (code, obj) = update(srv, info, ns, &name, obj, &q, &headers, false).await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        Verb::Patch => {
            let (code, obj) =
                crate::patch::patch(srv, info, ns, &name, &q, &headers, &body, false, user).await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        Verb::Delete => {
            let opts = delete_options(&q, &body)?;
            let dry_run = crate::delete::is_dry_run(&q, &opts);
            let outcome = crate::delete::delete(srv, info, ns, &name, &opts, dry_run).await?;
            match outcome {
                crate::delete::Outcome::Deleted(_)
                    if !crate::delete::returns_deleted_object(info) =>
                {
                    Ok(crate::body::json_response(
                        StatusCode::OK,
                        &crate::delete::response_body(info, outcome),
                    ))
                }
                other => Ok(respond_object(
                    info,
                    StatusCode::OK,
                    other.into_object(),
                    &headers,
                    &q,
                )),
            }
        }
        Verb::DeleteCollection => {
            let opts = delete_options(&q, &body)?;
            crate::delete::delete_collection(srv, info, ns, &q, &opts).await
        }
    }
}

/// DeleteOptions from the body (JSON) and query.
pub fn delete_options(q: &Query, body: &[u8]) -> Result<Value, ApiError> {
    let mut opts = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if berth_protobuf::is_protobuf(body) {
        berth_protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("unable to decode DeleteOptions: {e}")))?
    } else {
        body::decode_json(body)?
    };
    if !opts.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be an object"));
    }
    if let Some(g) = q.int("gracePeriodSeconds")? {
        opts["gracePeriodSeconds"] = json!(g);
    }
    if let Some(p) = q.get("propagationPolicy") {
        opts["propagationPolicy"] = json!(p);
    }
    if let Some(o) = q.get("orphanDependents") {
        opts["orphanDependents"] = json!(o == "true");
    }
    if let Some(p) = opts.get("propagationPolicy").and_then(Value::as_str) {
        if !matches!(p, "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::invalid(
                "",
                "DeleteOptions",
                "",
                &[berth_api::status::FieldError::not_supported(
                    "propagationPolicy",
                    p,
                    &["Foreground", "Background", "Orphan"],
                )],
            ));
        }
    }
    Ok(opts)
}

/// Check apiVersion/kind of a body against the endpoint; fill them when absent.
/// Mismatches are worded as kube-apiserver's decoder words them.
pub fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let api_version = info.api_version();
    let body_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let body_kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = if body_version.is_empty() {
        api_version.clone()
    } else {
        body_version.clone()
    };
    let kind = if body_kind.is_empty() {
        info.kind.to_string()
    } else {
        body_kind.clone()
    };
    if version != api_version || kind != info.kind {
        let (g, v) = berth_api::registry::split_api_version(&version);
        if berth_api::registry::lookup_kind(g, v, &kind).is_none() {
            return Err(ApiError::bad_request(format!(
                "no kind \"{kind}\" is registered for version \"{version}\" in scheme \"pkg/api/legacyscheme/scheme.go:30\""
            )));
        }
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {}: the object provided is unrecognized (must be of type {})",
            info.kind, info.kind
        )));
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(info.kind));
    match map.get("metadata") {
        None | Some(Value::Null) => {
            map.insert("metadata".into(), json!({}));
        }
        Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: json: cannot unmarshal into Go struct field {kind}.metadata of type v1.ObjectMeta",
                info.version
            )))
        }
    }
    Ok(())
}

/// 422 for bad request options, e.g. `PatchOptions.meta.k8s.io "" is invalid: ...`.
pub fn invalid_options(options_kind: &str, errors: &[FieldError]) -> ApiError {
    ApiError::invalid("meta.k8s.io", options_kind, "", errors)
}

/// Strict/Warn field validation. Returns warnings for Warn.
/// A body that Kubernetes could not decode into the kind's Go type (a string
/// where an int32 goes, a malformed quantity or time) is a 400, not a 422.
pub fn check_decodes(srv: &Server, info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    match srv
        .openapi
        .decode_error(info.group, info.version, info.kind, obj)
    {
        None => Ok(()),
        Some(why) => Err(ApiError::bad_request(format!(
            "{kind} in version \"{v}\" cannot be handled as a {kind}: {why}",
            kind = info.kind,
            v = info.version
        ))),
    }
}

/// `options_kind` names the request options in errors: CreateOptions, UpdateOptions, PatchOptions.
pub fn check_fields(
    srv: &Server,
    info: &ResourceInfo,
    q: &Query,
    obj: &Value,
    options_kind: &str,
) -> Result<Vec<String>, ApiError> {
    let mode = q
        .get("fieldValidation")
        .filter(|m| !m.is_empty())
        .unwrap_or("Warn");
    if !matches!(mode, "Strict" | "Warn" | "Ignore") {
        return Err(invalid_options(
            options_kind,
            &[FieldError::not_supported(
                "fieldValidation",
                mode,
                &["", "Ignore", "Strict", "Warn"],
            )],
        ));
    }
    if mode == "Ignore" {
        return Ok(vec![]);
    }
    let unknown = srv
        .openapi
        .unknown_fields(info.group, info.version, info.kind, obj);
    if unknown.is_empty() {
        return Ok(vec![]);
    }
    let msgs: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            msgs.join(", ")
        )));
    }
    Ok(msgs)
}

/// `prefix` plus 5 random characters, as upstream's SimpleNameGenerator.
pub fn generate_name(prefix: &str) -> String {
    const ALPHANUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let suffix: String = (0..5)
        .map(|_| ALPHANUM[rand::random_range(0..ALPHANUM.len())] as char)
        .collect();
    let mut p = prefix.to_string();
    p.truncate(63 - 5);
    format!("{p}{suffix}")
}

/// Validate, with failures as a 422 naming the object.
fn validate(
    info: &ResourceInfo,
    obj: &Value,
    old: Option<&Value>,
    status_only: bool,
) -> Result<(), ApiError> {
    let errs = match (status_only, old) {
        (true, Some(old)) => berth_validation::validate_status(info.group, info.kind, obj, old),
        _ => berth_validation::validate(info.group, info.kind, obj, old),
    };
    if errs.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(info.group, info.kind, name, &errs))
}

pub fn track_managed(
    srv: &Server,
    info: &ResourceInfo,
    old: Option<&Value>,
    new: Value,
    manager: &str,
) -> Value {
    let (Some(schemas), Some(root)) = (
        srv.openapi.schemas(info.group, info.version),
        srv.openapi
            .root_definition(info.group, info.version, info.kind),
    ) else {
        return new;
    };
    let s = berth_patch::Schemas::new(&schemas);
    berth_patch::managed::track_update(
        old,
        &new,
        manager,
        "Update",
        &info.api_version(),
        &s,
        &root,
        &now_rfc3339(),
    )
}

/// Create: the whole pipeline. Returns (201, stored object).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    mut obj: Value,
    q: &Query,
    headers: &HeaderMap,
    user: &User,
) -> Result<(StatusCode, Value), ApiError> {
    check_type(info, &mut obj)?;
    check_decodes(srv, info, &obj)?;
    check_fields(srv, info, q, &obj, "CreateOptions")?;
    let manager = field_manager(q, headers);
    if info.group.is_empty() && info.kind == "Pod" {
        crate::service_account_admission::wait_for_default(srv, ns.unwrap_or("default"), &obj)
            .await;
    }
    let generate_prefix = generated_name_prefix(&obj);
    let obj = prepare_create(srv, info, ns, obj, user)?;
    let mut obj =
        if q.get("fieldManager").is_some() || headers.contains_key(http::header::USER_AGENT) {
            track_managed(srv, info, None, obj, &manager)
        } else {
            obj
        };
    // A generated name may collide (27^5 names: ~130 collisions among
    // 60,000 pods of one ReplicaSet prefix); as upstream since 1.32
    // (RetryGenerateName), try new names a few times before answering 409.
    let mut attempts = 1;
    loop {
        match commit_create(srv, info, ns, obj.clone(), q.dry_run()).await {
            Err(e) if e.reason == "AlreadyExists" && attempts < GENERATE_NAME_ATTEMPTS => {
                let Some(prefix) = generate_prefix.as_deref() else {
                    return Err(e);
                };
                attempts += 1;
                if let Some(meta) = obj["metadata"].as_object_mut() {
                    meta.insert("name".into(), json!(generate_name(prefix)));
                }
            }
            done => return done,
        }
    }
}

/// How many names a create with `generateName` tries (upstream: 8).
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// `metadata.generateName` when the request leaves the name to the server.
fn generated_name_prefix(obj: &Value) -> Option<String> {
    let meta = obj.get("metadata")?;
    if meta
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
    {
        return None;
    }
    meta.get("generateName")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// Everything before the write: metadata, defaults, admission, validation.
pub fn prepare_create(
    srv: &Server,
    info: &ResourceInfo,
    ns: Option<&str>,
    mut obj: Value,
    user: &User,
) -> Result<Value, ApiError> {
    let meta = obj["metadata"]
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if info.namespaced() {
        let req_ns = ns.unwrap_or("default");
        match meta.get("namespace").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("namespace".into(), json!(req_ns));
            }
            Some(n) if n == req_ns => {}
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
        }
    } else {
        meta.remove("namespace");
    }
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        if let Some(prefix) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            meta.insert("name".into(), json!(generate_name(prefix)));
        }
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    for k in [
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(k);
    }
    strategy::prepare_for_create(info, &mut obj);
    strategy::fold_string_data(info, &mut obj);
    berth_defaults::apply_defaults(info.group, info.version, info.kind, &mut obj);
    berth_defaults::prepare_for_create(info.group, info.version, info.kind, &mut obj);
    admission::admit_create(srv, info, &mut obj, user)?;
    validate(info, &obj, None, false)?;
    admission::validate(srv, info, &obj, false)?;
    Ok(obj)
}

pub async fn commit_create(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    obj: Value,
    dry_run: bool,
) -> Result<(StatusCode, Value), ApiError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let key = object_key(info, ns, &name);
    let stored = convert::to_storage(info, obj);
    crate::resource_quota::admit(srv, info, &stored, None, dry_run).await?;
    if dry_run {
        if srv
            .store
            .get(&key)
            .await
            .map_err(|e| store_err(info, &name, e))?
            .is_some()
        {
            return Err(ApiError::already_exists(info.group, info.plural, &name));
        }
        return Ok((StatusCode::CREATED, stored));
    }
    let kv = srv
        .store
        .create(&key, encode_for_storage(&stored))
        .await
        .map_err(|e| store_err(info, &name, e))?;
    let mut out = stored;
    stamp(&mut out, &kv);
    srv.cache.wait_for(kv.mod_revision).await;
    srv.metrics.object_written(info.plural);
    Ok((StatusCode::CREATED, out))
}

/// PUT: replace an object (or its status with `status_only`).
#[allow(clippy::too_many_arguments)]
pub async fn update(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    mut obj: Value,
    q: &Query,
    headers: &HeaderMap,
    status_only: bool,
) -> Result<(StatusCode, Value), ApiError> {
    check_type(info, &mut obj)?;
    check_decodes(srv, info, &obj)?;
    check_fields(srv, info, q, &obj, "UpdateOptions")?;
    let body_name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(req_ns), Some(body_ns)) = (
        ns,
        obj.pointer("/metadata/namespace").and_then(Value::as_str),
    ) {
        if info.namespaced() && !body_ns.is_empty() && body_ns != req_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let precondition = obj
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Revision>()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {s:?}")))
        })
        .transpose()?;
    let manager = field_manager(q, headers);
    let current = match read(srv, info, ns, name).await {
        Ok(c) => c,
        Err(e) if e.code == 404 && allow_create_on_update(info) && !status_only => {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            let user = User::system();
            return create(srv, info, ns, obj, q, headers, &user)
                .await
                .map(|(_, o)| (StatusCode::CREATED, o));
        }
        Err(e) => return Err(e),
    };
    if let Some(rv) = precondition {
        if rv != current.1 {
            return Err(store_err(
                info,
                name,
                StoreError::Conflict {
                    key: String::new(),
                    current: None,
                },
            ));
        }
    }
    let obj = convert::to_storage(info, obj);
    commit_update(
        srv,
        info,
        ns,
        name,
        current,
        obj,
        Some(&manager),
        status_only,
        q.dry_run(),
    )
    .await
}

fn allow_create_on_update(info: &ResourceInfo) -> bool {
    matches!(
        info.kind,
        "Endpoints" | "Lease" | "Event" | "EndpointSlice" | "ConfigMap" | "Secret" | "Node"
    )
}

/// Everything after the new object is known: strategy, defaults, validation, CAS write.
#[allow(clippy::too_many_arguments)]
pub async fn commit_update(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    current: (Value, Revision),
    mut new: Value,
    manager: Option<&str>,
    status_only: bool,
    dry_run: bool,
) -> Result<(StatusCode, Value), ApiError> {
    let (old, rev) = current;
    let served_old = old.clone();
    strategy::prepare_for_update(info, &old, &mut new, status_only);
    strategy::fold_string_data(info, &mut new);
    berth_defaults::apply_defaults(info.group, info.storage_version, info.kind, &mut new);
    strategy::bump_generation(info, &old, &mut new);
    admission::admit_update(srv, info, &old, &mut new)?;
    validate(info, &new, Some(&old), status_only)?;
    if !status_only {
        admission::validate(srv, info, &new, true)?;
    }
    if let Some(manager) = manager {
        new = track_managed(srv, info, Some(&old), new, manager);
    }
    if let Some(m) = new["metadata"].as_object_mut() {
        m.insert("resourceVersion".into(), json!(rev.to_string()));
    }
    // Finalizers all gone from an object being deleted: the update completes the delete.
    let deleting = new.pointer("/metadata/deletionTimestamp").is_some();
    let finalizers_empty = new
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_none_or(|f| f.is_empty());
    if deleting
        && finalizers_empty
        && !(info.kind == "Pod" && info.group.is_empty() && pod_awaits_kubelet(&new))
    {
        if dry_run {
            return Ok((StatusCode::OK, new));
        }
        let key = object_key(info, ns, name);
        let kv = srv
            .store
            .delete(&key, Some(rev))
            .await
            .map_err(|e| store_err(info, name, e))?;
        srv.cache.wait_for(kv.mod_revision).await;
        return Ok((StatusCode::OK, new));
    }
    if new == served_old {
        return Ok((StatusCode::OK, new)); // no-op: no write, same resourceVersion
    }
    if !status_only {
        crate::resource_quota::admit(srv, info, &new, Some(&old), dry_run).await?;
    }
    if dry_run {
        return Ok((StatusCode::OK, new));
    }
    let key = object_key(info, ns, name);
    let kv = srv
        .store
        .update(&key, encode_for_storage(&new), rev)
        .await
        .map_err(|e| store_err(info, name, e))?;
    stamp(&mut new, &kv);
    srv.cache.wait_for(kv.mod_revision).await;
    srv.metrics.object_written(info.plural);
    Ok((StatusCode::OK, new))
}

/// A pod that was running on a node stays until its kubelet confirms the stop
/// (or the grace period is 0).
pub fn pod_awaits_kubelet(pod: &Value) -> bool {
    let bound = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let terminal = matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded") | Some("Failed")
    );
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    bound && !terminal && grace > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_without_a_name_get_generated_names_retried() {
        let generated = json!({"metadata": {"generateName": "web-"}});
        assert_eq!(generated_name_prefix(&generated).as_deref(), Some("web-"));
        let empty_name = json!({"metadata": {"name": "", "generateName": "web-"}});
        assert_eq!(generated_name_prefix(&empty_name).as_deref(), Some("web-"));
        let named = json!({"metadata": {"name": "web-1", "generateName": "web-"}});
        assert_eq!(generated_name_prefix(&named), None);
        let neither = json!({"metadata": {}});
        assert_eq!(generated_name_prefix(&neither), None);
    }

    #[test]
    fn generated_names_keep_the_prefix_and_fit_63_characters() {
        let name = generate_name("web-");
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        let long = generate_name(&"a".repeat(70));
        assert_eq!(long.len(), 63);
    }
}
