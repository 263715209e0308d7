//! Access and token reviews (`kubectl auth can-i`, `auth whoami`): answered
//! from the caller's identity, never stored. Authorization is not enforced
//! yet, so every authenticated user is allowed everything — and the reviews
//! say so rather than pretend otherwise.

use crate::{body, Server, User};
use axum::http::StatusCode;
use berth_api::status::ApiError;
use berth_api::ResourceInfo;
use serde_json::{json, Value};

const NOT_ENFORCED: &str =
    "berth does not enforce RBAC yet: every authenticated user may do everything";

pub fn review(
    srv: &Server,
    info: &ResourceInfo,
    mut obj: Value,
    user: &User,
) -> Result<(StatusCode, Value), ApiError> {
    crate::rest::check_type(info, &mut obj)?;
    let status = match info.kind {
        "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            if obj.pointer("/spec/resourceAttributes").is_none()
                && obj.pointer("/spec/nonResourceAttributes").is_none()
            {
                return Err(ApiError::invalid(info.group, info.kind, "", &[berth_api::status::FieldError::invalid(
                    "spec.resourceAttributes", Value::Null, "exactly one of nonResourceAttributes or resourceAttributes must be specified")]));
            }
            json!({"allowed": true, "reason": NOT_ENFORCED})
        }
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
            "evaluationError": NOT_ENFORCED,
        }),
        "SelfSubjectReview" => json!({"userInfo": {"username": user.name, "groups": user.groups}}),
        "TokenReview" => {
            let token = obj
                .pointer("/spec/token")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !token.is_empty() && token == srv.pki.admin_token {
                json!({"authenticated": true, "user": {"username": "berth-admin", "groups": ["system:masters", "system:authenticated"]}})
            } else if token.contains('.') {
                match crate::service_account_token::authenticate(srv, token) {
                    Ok(u) => {
                        json!({"authenticated": true, "user": {"username": u.name, "groups": u.groups}, "audiences": [crate::service_account_token::ISSUER]})
                    }
                    Err(e) => json!({"authenticated": false, "error": e.to_string()}),
                }
            } else {
                json!({"authenticated": false, "error": "invalid bearer token"})
            }
        }
        _ => return Err(ApiError::not_found_path()),
    };
    obj["status"] = status;
    obj["metadata"]["creationTimestamp"] = Value::Null;
    Ok((StatusCode::CREATED, obj))
}

pub fn respond(
    srv: &Server,
    info: &ResourceInfo,
    headers: &axum::http::HeaderMap,
    raw: &[u8],
    user: &User,
) -> crate::rest::Reply {
    let obj = body::decode_object(headers, raw)?;
    let (code, obj) = review(srv, info, obj, user)?;
    Ok(body::json_response(code, &obj))
}
