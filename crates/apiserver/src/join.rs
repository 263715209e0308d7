//! How a node agent joins: it presents the join token, and gets back the
//! credentials it runs with from then on (as k3s's agent does).
//!
//! ```text
//! agent ─ GET /cacerts (anonymous) ─▶ CA PEM; agent checks its SHA-256 against the token
//!       ─ POST /berth/v1/node-credentials (Bearer <token secret>) {nodeName, addresses}
//!       ◀─ client cert (CN system:node:<name>, O system:nodes) + serving cert for :10250
//! ```
//! The bootstrap identity may call nothing else.

use crate::body::{self, json_response};
use crate::Server;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use berth_api::status::ApiError;
use serde_json::{json, Value};

pub const CACERTS_PATH: &str = "/cacerts";
pub const CREDENTIALS_PATH: &str = "/berth/v1/node-credentials";
/// The user a join token authenticates as.
pub const BOOTSTRAP_USER: &str = "system:bootstrap:berth-node";
pub const BOOTSTRAP_GROUP: &str = "system:bootstrappers";

pub fn cacerts(srv: &Server) -> Response<Body> {
    body::bytes_response(
        StatusCode::OK,
        "application/x-pem-file",
        srv.pki.ca_cert.clone().into_bytes(),
    )
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(400, "BadRequest", msg)
}

/// A node name is a DNS subdomain; anything else could not be a Node's name.
fn valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

pub fn credentials(srv: &Server, raw: &[u8]) -> Result<Response<Body>, ApiError> {
    let req: Value = serde_json::from_slice(raw).map_err(|e| {
        invalid(format!(
            "the body must be JSON {{nodeName, addresses}}: {e}"
        ))
    })?;
    let name = req.get("nodeName").and_then(Value::as_str).unwrap_or("");
    if !valid_node_name(name) {
        return Err(invalid(format!(
            "nodeName {name:?} must be a lowercase RFC 1123 subdomain (e.g. worker-1)"
        )));
    }
    let mut hosts = vec![name.to_string()];
    for a in req
        .get("addresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(a) = a.as_str() else { continue };
        if a.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(format!("address {a:?} is not an IP address")));
        }
        hosts.push(a.to_string());
    }
    let internal = |e: crate::pki::PkiError| ApiError::internal(e.to_string());
    let (client_cert, client_key) = srv
        .pki
        .issue_client(&format!("system:node:{name}"), &["system:nodes"])
        .map_err(internal)?;
    let (serving_cert, serving_key) = srv.pki.issue_serving(name, &hosts).map_err(internal)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "ca": srv.pki.ca_cert,
            "clientCert": client_cert,
            "clientKey": client_key,
            "servingCert": serving_cert,
            "servingKey": serving_key,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::valid_node_name;

    #[test]
    fn node_names_are_dns_subdomains() {
        assert!(valid_node_name("worker-1"));
        assert!(valid_node_name("n1.example.com"));
        assert!(!valid_node_name(""));
        assert!(!valid_node_name("Worker"));
        assert!(!valid_node_name("-a"));
        assert!(!valid_node_name("a..b"));
        assert!(!valid_node_name("a/b"));
    }
}
