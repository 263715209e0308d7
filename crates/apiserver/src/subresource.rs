//! Subresources: status, scale, binding, eviction, finalize, token, and the node
//! streaming ones (log, exec, attach, portforward, proxy) that need a kubelet.

use crate::body;
use crate::request::{Query, ResourceRequest, Verb};
use crate::rest::{self, read, respond_object, Reply};
use crate::{Server, User};
use axum::http::{HeaderMap, StatusCode};
use berth_api::selector::LabelSelector;
use berth_api::status::{success_status, ApiError};
use berth_api::ResourceInfo;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn handle(
    srv: &Arc<Server>,
    req: &ResourceRequest,
    sub: &str,
    q: Query,
    headers: HeaderMap,
    raw: bytes::Bytes,
    user: &User,
) -> Reply {
    let info = req.info;
    let ns = req.namespace.as_deref();
    let name = req.name.as_deref().unwrap_or_default();
    let verb = &req.verb;
    match (sub, verb) {
        ("status", Verb::Get) => {
            let (obj, _) = read(srv, info, ns, name).await?;
            Ok(respond_object(info, StatusCode::OK, obj, &headers, &q))
        }
        ("status", Verb::Update) => {
            let obj = body::decode_object(&headers, &raw)?;
            let (code, obj) = rest::update(srv, info, ns, name, obj, &q, &headers, true).await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        ("status", Verb::Patch) => {
            let (code, obj) =
                crate::patch::patch(srv, info, ns, name, &q, &headers, &raw, true, user).await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        ("scale", Verb::Get) => {
            let (obj, _) = read(srv, info, ns, name).await?;
            Ok(body::json_response(StatusCode::OK, &scale_of(&obj)))
        }
        ("scale", Verb::Update | Verb::Patch) => {
            scale_write(
                srv,
                info,
                ns,
                name,
                &q,
                &headers,
                &raw,
                verb == &Verb::Patch,
            )
            .await
        }
        ("binding", Verb::Create) => {
            let binding = body::decode_object(&headers, &raw)?;
            bind(srv, info, ns, name, &binding).await
        }
        ("eviction", Verb::Create) => {
            let eviction = body::decode_object(&headers, &raw)?;
            let opts = eviction
                .get("deleteOptions")
                .cloned()
                .unwrap_or_else(|| json!({}));
            rest::delete_options(&q, &[])?;
            let (pod, _) = read(srv, info, ns, name).await?;
            let dry_run = crate::delete::is_dry_run(&q, &opts);
            crate::eviction::admit(srv, ns.unwrap_or("default"), &pod, dry_run).await?;
            crate::delete::delete(
                srv,
                info,
                ns,
                name,
                &opts,
                crate::delete::is_dry_run(&q, &opts),
            )
            .await?;
            Ok(body::json_response(
                StatusCode::CREATED,
                &success_status(None),
            ))
        }
        ("finalize", Verb::Update) => {
            let new = body::decode_object(&headers, &raw)?;
            let (mut obj, rev) = read(srv, info, ns, name).await?;
            obj["spec"]["finalizers"] = new
                .pointer("/spec/finalizers")
                .cloned()
                .unwrap_or_else(|| json!([]));
            let (code, obj) = rest::commit_update(
                srv,
                info,
                ns,
                name,
                (obj.clone(), rev),
                obj,
                None,
                false,
                q.dry_run(),
            )
            .await?;
            Ok(respond_object(info, code, obj, &headers, &q))
        }
        ("token", Verb::Create) if info.kind == "ServiceAccount" => {
            crate::token_request::create(srv, ns.unwrap_or("default"), name, &headers, &raw)
        }
        ("log" | "exec" | "attach" | "portforward" | "proxy", _) => {
            crate::proxy::handle(srv, req, sub, &q, &headers).await
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({} {sub})",
            verb.as_str()
        ))),
    }
}

/// autoscaling/v1 Scale view of a scalable object.
pub fn scale_of(obj: &Value) -> Value {
    let selector = obj
        .pointer("/spec/selector")
        .map(|s| {
            if s.get("matchLabels").is_some() || s.get("matchExpressions").is_some() {
                LabelSelector::from_object(s)
                    .map(|l| l.to_query_string())
                    .unwrap_or_default()
            } else {
                // ReplicationController: a plain map selector.
                s.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default()
            }
        })
        .unwrap_or_default();
    let meta = &obj["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {"replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector},
    })
}

#[allow(clippy::too_many_arguments)]
async fn scale_write(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
    raw: &[u8],
    is_patch: bool,
) -> Reply {
    for _ in 0..8 {
        let (obj, rev) = read(srv, info, ns, name).await?;
        let current_scale = scale_of(&obj);
        let new_scale = if is_patch {
            let doc = body::decode_json(raw)?;
            match body::content_type(headers).as_str() {
                "application/json-patch+json" => berth_patch::json_patch(&current_scale, &doc),
                _ => berth_patch::merge_patch(&current_scale, &doc),
            }
            .map_err(|e| ApiError::bad_request(e.to_string()))?
        } else {
            body::decode_object(headers, raw)?
        };
        if let Some(rv) = new_scale
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
        {
            if !rv.is_empty() && rv != rev.to_string() {
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
        let replicas = match new_scale.pointer("/spec/replicas") {
            Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or(0),
            _ => {
                return Err(ApiError::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    &[berth_api::status::FieldError::required("spec.replicas", "")],
                ))
            }
        };
        if replicas < 0 {
            return Err(ApiError::invalid(
                "autoscaling",
                "Scale",
                name,
                &[berth_api::status::FieldError::invalid(
                    "spec.replicas",
                    replicas,
                    "must be greater than or equal to 0",
                )],
            ));
        }
        let mut new = obj.clone();
        new["spec"]["replicas"] = json!(replicas);
        let manager = rest::field_manager(q, headers);
        match rest::commit_update(
            srv,
            info,
            ns,
            name,
            (obj, rev),
            new,
            Some(&manager),
            false,
            q.dry_run(),
        )
        .await
        {
            Ok((_, stored)) => return Ok(body::json_response(StatusCode::OK, &scale_of(&stored))),
            Err(e) if e.code == 409 && is_patch => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(
        info.group,
        info.plural,
        name,
        "too many concurrent writers; try again",
    ))
}

async fn bind(
    srv: &Arc<Server>,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    binding: &Value,
) -> Reply {
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            name,
            &[berth_api::status::FieldError::required("target.name", "")],
        ));
    }
    for _ in 0..8 {
        let (mut pod, rev) = read(srv, info, ns, name).await?;
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict(
                "",
                "pods",
                name,
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        if let Some(current) = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::conflict(
                "",
                "pods",
                name,
                &format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        let conds = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c["type"] != "PodScheduled")
            .collect();
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": rest::now_rfc3339()}));
        pod["status"]["conditions"] = json!(conds);
        let key = rest::object_key(info, ns, name);
        match srv
            .store
            .update(&key, rest::encode_for_storage(&pod), rev)
            .await
        {
            Ok(kv) => {
                srv.cache.wait_for(kv.mod_revision).await;
                return Ok(body::json_response(
                    StatusCode::CREATED,
                    &success_status(None),
                ));
            }
            Err(berth_store::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(rest::store_err(info, name, e)),
        }
    }
    Err(ApiError::conflict(
        "",
        "pods",
        name,
        "too many concurrent writers; try again",
    ))
}
