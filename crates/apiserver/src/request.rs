//! Turning a URL into "which resource, which verb": the same rules as
//! kube-apiserver's RequestInfoFactory.

use berth_api::registry::{self, ResourceInfo};
use berth_api::status::ApiError;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }
}

/// A request for a resource (as opposed to discovery and other paths).
#[derive(Clone, Debug)]
pub struct ResourceRequest {
    pub info: &'static ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

/// Query parameters, decoded once.
#[derive(Clone, Debug, Default)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = q
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        let mut map = HashMap::new();
        for (k, v) in pairs {
            // Repeated keys (exec's `command`) are joined with NUL; readers split them.
            map.entry(k)
                .and_modify(|e: &mut String| {
                    e.push('\0');
                    e.push_str(&v);
                })
                .or_insert(v);
        }
        Self(map)
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1"))
    }
    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for query parameter {k}"))
            }),
        }
    }
    pub fn dry_run(&self) -> bool {
        self.get("dryRun")
            .is_some_and(|v| v.split('\0').any(|x| x == "All"))
    }
}

/// What a path names.
#[derive(Debug)]
pub enum Target {
    Resource(ResourceRequest),
    /// /api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>
    Discovery(Vec<String>),
    Other,
}

pub fn parse(method: &http::Method, path: &str, query: &Query) -> Result<Target, ApiError> {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] | ["apis"] => {
            return Ok(Target::Discovery(
                parts.iter().map(|s| s.to_string()).collect(),
            ))
        }
        ["api", v] => return Ok(Target::Discovery(vec!["api".into(), v.to_string()])),
        ["apis", g] => return Ok(Target::Discovery(vec!["apis".into(), g.to_string()])),
        ["apis", g, v] => {
            return Ok(Target::Discovery(vec![
                "apis".into(),
                g.to_string(),
                v.to_string(),
            ]))
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Ok(Target::Other),
    };
    let mut rest: Vec<&str> = rest.to_vec();
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        // /namespaces/<ns>/status|finalize are the namespace's own subresources.
        let own_sub = rest.len() == 3 && matches!(rest[2], "status" | "finalize");
        if rest.len() > 2 && !own_sub {
            namespace = Some(rest[1].to_string());
            rest = rest[2..].to_vec();
        }
    }
    let Some(plural) = rest.first() else {
        return Ok(Target::Other);
    };
    let info = registry::lookup(group, version, plural).ok_or_else(ApiError::not_found_path)?;
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    if rest.len() > 3 {
        return Err(ApiError::not_found_path());
    }
    if let Some(sub) = &subresource {
        if info.subresource(sub).is_none() {
            return Err(ApiError::not_found_path());
        }
    }
    if info.namespaced() && name.is_some() && namespace.is_none() {
        // e.g. GET /api/v1/pods/x: kube-apiserver answers 404 for this.
        return Err(ApiError::not_found_path());
    }
    let verb = match (method.as_str(), name.is_some()) {
        ("GET" | "HEAD", true) => Verb::Get,
        ("GET" | "HEAD", false) if query.flag("watch") => Verb::Watch,
        ("GET" | "HEAD", false) => Verb::List,
        ("POST", false) => Verb::Create,
        ("POST", true) if subresource.is_some() => Verb::Create,
        ("PUT", true) => Verb::Update,
        ("PATCH", true) => Verb::Patch,
        ("DELETE", true) => Verb::Delete,
        ("DELETE", false) => Verb::DeleteCollection,
        (m, _) => {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({m})"
            )))
        }
    };
    if subresource.is_none() && !info.has_verb(verb.as_str()) {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource (verb {})",
            verb.as_str()
        )));
    }
    Ok(Target::Resource(ResourceRequest {
        info,
        namespace,
        name,
        subresource,
        verb,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(method: &str, path: &str, q: &str) -> ResourceRequest {
        let m = http::Method::from_bytes(method.as_bytes()).unwrap_or(http::Method::GET);
        match parse(&m, path, &Query::parse(Some(q))) {
            Ok(Target::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let r = res("GET", "/api/v1/namespaces/default/pods/web/log", "");
        assert_eq!(
            (
                r.info.plural,
                r.namespace.as_deref(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("pods", Some("default"), Some("web"), Some("log"))
        );
        let r = res("GET", "/api/v1/namespaces/team-a", "");
        assert_eq!(
            (r.info.plural, r.namespace, r.name.as_deref()),
            ("namespaces", None, Some("team-a"))
        );
        let r = res("PUT", "/api/v1/namespaces/team-a/finalize", "");
        assert_eq!(
            (r.info.plural, r.name.as_deref(), r.subresource.as_deref()),
            ("namespaces", Some("team-a"), Some("finalize"))
        );
        let r = res("GET", "/apis/apps/v1/deployments", "watch=true");
        assert_eq!((r.info.plural, r.verb), ("deployments", Verb::Watch));
        let r = res("DELETE", "/apis/apps/v1/namespaces/x/replicasets", "");
        assert_eq!(r.verb, Verb::DeleteCollection);
    }

    #[test]
    fn unknown_resources_are_404() {
        let m = http::Method::GET;
        assert!(matches!(parse(&m, "/api/v1/widgets", &Query::default()), Err(e) if e.code == 404));
        assert!(
            matches!(parse(&m, "/api/v1/namespaces/x/pods/y/bogus", &Query::default()), Err(e) if e.code == 404)
        );
    }

    #[test]
    fn repeated_query_keys_are_kept() {
        let q = Query::parse(Some("command=ls&command=-l&stdout=true"));
        assert_eq!(q.get("command"), Some("ls\0-l"));
        assert!(q.flag("stdout"));
    }
}
