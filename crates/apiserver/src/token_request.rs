//! `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`: the
//! TokenRequest subresource (authentication.k8s.io/v1). Everything is read
//! from the watch cache and nothing is stored, so issuing costs no writes.
//!
//! ```text
//! body (json|protobuf) ─▶ type check ─▶ defaults (audiences, 3600 s) ─▶ validate (≥ 600 s)
//!   ─▶ name/namespace match the URL ─▶ ServiceAccount (404) ─▶ boundObjectRef Pod|Secret
//!   ─▶ claims ─▶ sign ─▶ 201 TokenRequest{status.token, status.expirationTimestamp}
//! ```

use crate::body;
use crate::rest::Reply;
use crate::service_account_token::{Claims, ObjectClaim, ISSUER};
use crate::Server;
use axum::http::{HeaderMap, StatusCode};
use berth_api::status::{ApiError, FieldError};
use serde_json::{json, Value};

const GROUP: &str = "authentication.k8s.io";
const KIND: &str = "TokenRequest";
const API_VERSION: &str = "authentication.k8s.io/v1";
/// Upstream's default when the request names no lifetime.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime upstream accepts (10 minutes).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

/// The spec after defaulting, or the 422 upstream's validation gives.
#[derive(Debug, PartialEq)]
pub struct TokenSpec {
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub bound: Option<BoundRef>,
}

#[derive(Debug, PartialEq)]
pub struct BoundRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// Defaults and validates a decoded TokenRequest for ServiceAccount `name` in `ns`.
pub fn spec_of(req: &mut Value, ns: &str, name: &str) -> Result<TokenSpec, ApiError> {
    let Some(map) = req.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    if (!version.is_empty() && version != API_VERSION) || (!kind.is_empty() && kind != KIND) {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {KIND}: the object provided is unrecognized (must be of type {KIND})"
        )));
    }
    let invalid = |e: FieldError| ApiError::invalid(GROUP, KIND, name, &[e]);
    let audiences: Vec<String> = match req.pointer("/spec/audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| ApiError::bad_request("spec.audiences must be a list of strings"))?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "spec.audiences must be a list of strings",
            ))
        }
    };
    let audiences = if audiences.is_empty() {
        vec![ISSUER.to_string()]
    } else {
        audiences
    };
    let expiration_seconds = match req.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| ApiError::bad_request("spec.expirationSeconds must be an integer"))?,
    };
    if expiration_seconds < MIN_EXPIRATION_SECONDS {
        return Err(invalid(FieldError::invalid(
            "spec.expirationSeconds",
            expiration_seconds,
            "may not specify a duration less than 10 minutes",
        )));
    }
    if expiration_seconds > MAX_EXPIRATION_SECONDS {
        return Err(invalid(FieldError::invalid(
            "spec.expirationSeconds",
            expiration_seconds,
            "may not specify a duration larger than 2^32 seconds",
        )));
    }
    let body_name = str_at(req, "/metadata/name");
    if !body_name.is_empty() && body_name != name {
        return Err(invalid(FieldError::invalid(
            "metadata.name",
            body_name,
            "must match the service account name if specified",
        )));
    }
    let body_ns = str_at(req, "/metadata/namespace");
    if !body_ns.is_empty() && body_ns != ns {
        return Err(invalid(FieldError::invalid(
            "metadata.namespace",
            body_ns,
            "must match the service account namespace if specified",
        )));
    }
    let bound = req
        .pointer("/spec/boundObjectRef")
        .filter(|r| !r.is_null())
        .map(|r| BoundRef {
            api_version: str_at(r, "/apiVersion").to_string(),
            kind: str_at(r, "/kind").to_string(),
            name: str_at(r, "/name").to_string(),
            uid: str_at(r, "/uid").to_string(),
        });
    Ok(TokenSpec {
        audiences,
        expiration_seconds,
        bound,
    })
}

/// Resolves the bound object into claims, with upstream's errors.
fn bind(
    srv: &Server,
    ns: &str,
    sa_name: &str,
    bound: &BoundRef,
    claims: &mut Claims,
) -> Result<(), ApiError> {
    let group = bound
        .api_version
        .rsplit_once('/')
        .map(|(g, _)| g)
        .unwrap_or("");
    let resource = match (group, bound.kind.as_str()) {
        ("", "Pod") => "pods",
        ("", "Secret") => "secrets",
        _ => {
            return Err(ApiError::bad_request(format!(
                "cannot bind token to object of type {}, Kind={}",
                if bound.api_version.contains('/') {
                    bound.api_version.clone()
                } else {
                    format!("/{}", bound.api_version)
                },
                bound.kind
            )))
        }
    };
    let key = format!("/registry/core/{resource}/{ns}/{}", bound.name);
    let Some(cached) = srv.cache.get(&key) else {
        return Err(ApiError::not_found("", resource, &bound.name));
    };
    let uid = cached.index.uid().unwrap_or_default().to_string();
    if !bound.uid.is_empty() && bound.uid != uid {
        return Err(ApiError::conflict(
            "",
            &bound.kind,
            &bound.name,
            &format!(
                "the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
                bound.uid
            ),
        ));
    }
    let found = ObjectClaim {
        name: bound.name.clone(),
        uid,
    };
    if resource == "secrets" {
        claims.kubernetes.secret = Some(found);
        return Ok(());
    }
    let pod = cached.value();
    let pod_sa = str_at(&pod, "/spec/serviceAccountName");
    if pod_sa != sa_name {
        return Err(ApiError::bad_request(format!(
            "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
        )));
    }
    claims.kubernetes.pod = Some(found);
    let node = str_at(&pod, "/spec/nodeName");
    if !node.is_empty() {
        if let Some(n) = srv.cache.get(&format!("/registry/core/nodes/{node}")) {
            claims.kubernetes.node = Some(ObjectClaim {
                name: node.to_string(),
                uid: n.index.uid().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(())
}

pub fn create(srv: &Server, ns: &str, name: &str, headers: &HeaderMap, raw: &[u8]) -> Reply {
    let mut req = body::decode_object(headers, raw)?;
    let spec = spec_of(&mut req, ns, name)?;
    let Some(sa) = srv
        .cache
        .get(&format!("/registry/core/serviceaccounts/{ns}/{name}"))
    else {
        return Err(ApiError::not_found("", "serviceaccounts", name));
    };
    let now = chrono::Utc::now();
    let mut claims = Claims::new(
        ns,
        ObjectClaim {
            name: name.to_string(),
            uid: sa.index.uid().unwrap_or_default().to_string(),
        },
        spec.audiences.clone(),
        now.timestamp(),
        spec.expiration_seconds,
    );
    if let Some(bound) = &spec.bound {
        bind(srv, ns, name, bound, &mut claims)?;
    }
    let token = srv
        .tokens
        .sign(&claims)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0)
        .unwrap_or(now)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut spec_out = json!({
        "audiences": spec.audiences,
        "expirationSeconds": spec.expiration_seconds,
    });
    if let Some(b) = req.pointer("/spec/boundObjectRef").filter(|b| !b.is_null()) {
        spec_out["boundObjectRef"] = b.clone();
    }
    let out = json!({
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": {
            "name": name,
            "namespace": ns,
            "creationTimestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        "spec": spec_out,
        "status": {"token": token, "expirationTimestamp": expires},
    });
    Ok(body::json_response(StatusCode::CREATED, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_audience_and_lifetime() {
        let mut req = json!({"apiVersion": API_VERSION, "kind": KIND, "spec": {}});
        let spec = spec_of(&mut req, "ns", "sa").expect("valid");
        assert_eq!(spec.audiences, vec![ISSUER.to_string()]);
        assert_eq!(spec.expiration_seconds, 3600);
        assert_eq!(spec.bound, None);
        let mut bare = json!({});
        assert!(spec_of(&mut bare, "ns", "sa").is_ok());
    }

    #[test]
    fn short_lifetimes_are_invalid_like_upstream() {
        let mut req = json!({"spec": {"expirationSeconds": 599}});
        let e = spec_of(&mut req, "ns", "sa").unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "TokenRequest.authentication.k8s.io \"sa\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        let mut req = json!({"spec": {"expirationSeconds": 600, "audiences": ["a", "b"]}});
        let spec = spec_of(&mut req, "ns", "sa").expect("valid");
        assert_eq!(spec.audiences, vec!["a", "b"]);
    }

    #[test]
    fn body_must_name_the_same_account_and_type() {
        let mut req = json!({"metadata": {"name": "other"}});
        assert_eq!(spec_of(&mut req, "ns", "sa").unwrap_err().code, 422);
        let mut req = json!({"metadata": {"namespace": "other"}});
        assert_eq!(spec_of(&mut req, "ns", "sa").unwrap_err().code, 422);
        let mut req = json!({"apiVersion": "v1", "kind": "Pod"});
        assert_eq!(spec_of(&mut req, "ns", "sa").unwrap_err().code, 400);
        let mut req = json!({"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"}}});
        let spec = spec_of(&mut req, "ns", "sa").expect("valid");
        assert_eq!(
            spec.bound,
            Some(BoundRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                name: "p".into(),
                uid: "u".into()
            })
        );
    }
}
