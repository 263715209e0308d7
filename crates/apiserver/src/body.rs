//! Request bodies in (JSON | YAML | protobuf) and responses out.

use axum::body::Body;
use axum::http::{header, HeaderMap, Response, StatusCode};
use berth_api::status::ApiError;
use serde_json::Value;

/// Largest request body accepted (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Decode an object body by content type.
pub fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    let ct = content_type(headers);
    let value = match ct.as_str() {
        "application/vnd.kubernetes.protobuf" => berth_protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}")))?,
        "application/yaml" | "application/apply-patch+yaml" => decode_yaml(body)?,
        "" | "application/json" | "*/*" => decode_json(body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(value)
}

pub fn decode_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("json: {e}")))
}

pub fn decode_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_request("yaml: body is not UTF-8"))?;
    // JSON is YAML: take the fast path when it parses.
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

pub fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes))
        .unwrap_or_default()
}

pub fn bytes_response(code: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .unwrap_or_default()
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &err.to_status())
}

/// What the client wants back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Object,
    Table,
    PartialMetadata,
}

pub fn want(headers: &HeaderMap) -> Want {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first supported entry wins; kubectl lists Table first.
    for entry in accept.split(',') {
        let e = entry.replace(' ', "");
        if e.contains("as=Table") && e.contains("g=meta.k8s.io") {
            return Want::Table;
        }
        if e.contains("as=PartialObjectMetadata") && e.contains("g=meta.k8s.io") {
            return Want::PartialMetadata;
        }
        if e.starts_with("application/json")
            || e.starts_with("*/*")
            || e.starts_with("application/yaml")
        {
            return Want::Object;
        }
    }
    Want::Object
}
