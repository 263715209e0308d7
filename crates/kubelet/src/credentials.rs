//! Registry credentials from image pull secrets, matched to an image like
//! the kubelet's credential keyring (credentialprovider.BasicDockerKeyring):
//! a key is `host[:port][/path]` (any `https://` scheme dropped); it matches
//! an image when the hosts match label by label (a key label may be a glob
//! such as `*`), the ports are equal and the key's path is a prefix of the
//! image's repository path. Longer keys are tried first; Docker Hub keys
//! (`index.docker.io`, `https://index.docker.io/v1/`) match `docker.io`
//! images.

use base64::Engine;
use berth_cri::api::AuthConfig;
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
pub const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

/// One keyring entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub auth: AuthConfig,
}

/// Entries of one secret (ignored when it is of another type or malformed).
pub fn entries_of(secret: &Secret) -> Vec<Entry> {
    let data = secret.data.as_ref();
    let parsed: Option<Value> = match secret.type_.as_deref() {
        Some(DOCKER_CONFIG_JSON) => data
            .and_then(|d| d.get(".dockerconfigjson"))
            .and_then(|b| serde_json::from_slice::<Value>(&b.0).ok())
            .and_then(|v| v.get("auths").cloned()),
        Some(DOCKER_CFG) => data
            .and_then(|d| d.get(".dockercfg"))
            .and_then(|b| serde_json::from_slice(&b.0).ok()),
        _ => None,
    };
    let Some(Value::Object(map)) = parsed else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(key, v)| {
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (mut username, mut password) = (s("username"), s("password"));
            // "auth" is base64 of "user:password" and wins when both are given.
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(s("auth")) {
                if let Some((u, p)) = String::from_utf8_lossy(&raw).split_once(':') {
                    username = u.to_string();
                    password = p.to_string();
                }
            }
            Entry {
                key,
                auth: AuthConfig {
                    username,
                    password,
                    server_address: String::new(),
                    identity_token: s("identitytoken"),
                    registry_token: s("registrytoken"),
                    auth: String::new(),
                },
            }
        })
        .collect()
}

/// `host[:port]` and path of a key or image reference, scheme dropped.
fn split(s: &str) -> (String, String) {
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    (
        host.to_ascii_lowercase(),
        path.trim_end_matches('/').to_string(),
    )
}

/// The registry host and repository path of an image, Docker Hub defaulted.
pub fn image_location(image: &str) -> (String, String) {
    let name = image.split('@').next().unwrap_or(image);
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let (host, path) = if has_registry {
        split(name)
    } else if name.contains('/') {
        ("docker.io".to_string(), name.to_string())
    } else {
        ("docker.io".to_string(), format!("library/{name}"))
    };
    // The tag is not part of the path.
    let path = match path.rsplit_once(':') {
        Some((p, tag)) if !tag.contains('/') => p.to_string(),
        _ => path,
    };
    (host, path)
}

fn glob_label(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some((pre, post)) => {
            label.len() >= pre.len() + post.len() && label.starts_with(pre) && label.ends_with(post)
        }
    }
}

fn host_matches(key_host: &str, image_host: &str) -> bool {
    let (kh, kp) = key_host.split_once(':').unwrap_or((key_host, ""));
    let (ih, ip) = image_host.split_once(':').unwrap_or((image_host, ""));
    if kp != ip {
        return false;
    }
    let kl: Vec<&str> = kh.split('.').collect();
    let il: Vec<&str> = ih.split('.').collect();
    kl.len() == il.len() && kl.iter().zip(&il).all(|(k, i)| glob_label(k, i))
}

fn normalize_hub(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    }
}

/// Credentials for `image`, best match first.
pub fn lookup(entries: &[Entry], image: &str) -> Vec<AuthConfig> {
    let (ihost, ipath) = image_location(image);
    let mut matches: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            let (khost, kpath) = split(&e.key);
            // "https://index.docker.io/v1/" is Docker Hub's legacy key: its path is not a repository.
            let kpath = if normalize_hub(&khost) == "docker.io" && kpath == "v1" {
                String::new()
            } else {
                kpath
            };
            host_matches(normalize_hub(&khost), normalize_hub(&ihost))
                && (kpath.is_empty() || ipath == kpath || ipath.starts_with(&format!("{kpath}/")))
        })
        .collect();
    matches.sort_by_key(|e| std::cmp::Reverse(e.key.len()));
    matches
        .into_iter()
        .map(|e| AuthConfig {
            server_address: split(&e.key).0,
            ..e.auth.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(type_: &str, key: &str, body: &str) -> Secret {
        Secret {
            type_: Some(type_.into()),
            data: Some([(key.to_string(), ByteString(body.as_bytes().to_vec()))].into()),
            ..Default::default()
        }
    }

    fn users(found: &[AuthConfig]) -> Vec<&str> {
        found.iter().map(|a| a.username.as_str()).collect()
    }

    #[test]
    fn reads_both_secret_types_and_the_auth_field() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        let json = secret(
            DOCKER_CONFIG_JSON,
            ".dockerconfigjson",
            &format!(r#"{{"auths":{{"reg.example.com:5000":{{"auth":"{auth}"}}}}}}"#),
        );
        let e = entries_of(&json);
        assert_eq!(e.len(), 1);
        assert_eq!(
            (e[0].auth.username.as_str(), e[0].auth.password.as_str()),
            ("bob", "s3cret")
        );
        let cfg = secret(
            DOCKER_CFG,
            ".dockercfg",
            r#"{"quay.io":{"username":"q","password":"p"}}"#,
        );
        assert_eq!(entries_of(&cfg)[0].key, "quay.io");
        assert!(entries_of(&secret("Opaque", ".dockercfg", "{}")).is_empty());
        assert!(entries_of(&secret(DOCKER_CFG, ".dockercfg", "not json")).is_empty());
    }

    #[test]
    fn keyring_matches_host_port_path_and_globs_like_the_kubelet() {
        let e = |key: &str, user: &str| Entry {
            key: key.into(),
            auth: AuthConfig {
                username: user.into(),
                ..Default::default()
            },
        };
        let ring = vec![
            e("reg.example.com:5000", "port"),
            e("reg.example.com", "host"),
            e("reg.example.com/team", "team"),
            e("*.cloud.example", "glob"),
            e("https://index.docker.io/v1/", "hub"),
        ];
        assert_eq!(
            users(&lookup(&ring, "reg.example.com:5000/app:1")),
            ["port"]
        );
        assert_eq!(
            users(&lookup(&ring, "reg.example.com/team/app:1")),
            ["team", "host"]
        );
        assert_eq!(users(&lookup(&ring, "reg.example.com/teamx/app")), ["host"]);
        assert_eq!(users(&lookup(&ring, "eu.cloud.example/x/y")), ["glob"]);
        assert!(
            lookup(&ring, "a.eu.cloud.example/x").is_empty(),
            "a glob is one label"
        );
        assert_eq!(users(&lookup(&ring, "busybox")), ["hub"]);
        assert_eq!(
            users(&lookup(&ring, "docker.io/library/nginx:1.27")),
            ["hub"]
        );
        assert!(lookup(&ring, "quay.io/x/y").is_empty());
        assert_eq!(
            lookup(&ring, "reg.example.com/a")[0].server_address,
            "reg.example.com"
        );
        assert_eq!(
            image_location("localhost:5000/x/y@sha256:ab"),
            ("localhost:5000".into(), "x/y".into())
        );
        assert_eq!(
            image_location("team/app:2"),
            ("docker.io".into(), "team/app".into())
        );
    }
}
