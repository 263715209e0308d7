//! Discovery: aggregated v2 (`apidiscovery.k8s.io/v2`, one request for
//! kubectl) and the legacy APIVersions / APIGroupList / APIResourceList.

use berth_api::registry::{self, ResourceInfo, REGISTRY};
use berth_api::status::ApiError;
use serde_json::{json, Value};

pub const AGGREGATED_CT: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn wants_aggregated(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=APIGroupDiscoveryList") && first.contains("v=v2"))
        || (accept.contains("as=APIGroupDiscoveryList") && accept.contains("v=v2"))
}

fn resource_entry(r: &ResourceInfo) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            json!({
                "subresource": s.name,
                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                "verbs": s.verbs,
            })
        })
        .collect();
    let mut e = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        e["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        e["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        e["subresources"] = json!(subresources);
    }
    e
}

fn group_discovery(group: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let resources: Vec<Value> = REGISTRY
                .iter()
                .filter(|r| r.group == group && r.version == *v)
                .map(resource_entry)
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

/// Preferred version first (v2 before v1 for autoscaling, as upstream).
fn ordered_versions(versions: &[&'static str]) -> Vec<&'static str> {
    let mut v = versions.to_vec();
    v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
    v
}

fn version_priority(v: &str) -> i32 {
    // v2 > v1 > v1beta1 ...
    let major: i32 = v
        .trim_start_matches('v')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let stable = !v.contains("alpha") && !v.contains("beta");
    major * 10 + if stable { 5 } else { 0 }
}

pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| group_discovery(g, &ordered_versions(&versions)))
        .chain((!core).then(crate::metrics_api::aggregated_group))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

pub fn api_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn group_entry(group: &str, versions: &[&'static str]) -> Value {
    let ordered = ordered_versions(versions);
    let vs: Vec<Value> = ordered
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(json!({}))})
}

pub fn api_group_list() -> Value {
    let groups: Vec<Value> = registry::groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| group_entry(g, &v))
        .chain(std::iter::once(crate::metrics_api::group_entry()))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn api_group(group: &str) -> Result<Value, ApiError> {
    let (g, versions) = registry::groups()
        .into_iter()
        .find(|(g, _)| *g == group)
        .ok_or_else(ApiError::not_found_path)?;
    let mut e = group_entry(g, &versions);
    e["kind"] = json!("APIGroup");
    e["apiVersion"] = json!("v1");
    Ok(e)
}

pub fn api_resource_list(group: &str, version: &str) -> Result<Value, ApiError> {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for r in REGISTRY
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut e = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced(),
            "kind": r.kind, "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            e["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            e["categories"] = json!(r.categories);
        }
        resources.push(e);
        for s in r.subresources {
            let mut se = json!({
                "name": format!("{}/{}", r.plural, s.name), "singularName": "", "namespaced": r.namespaced(),
                "kind": s.kind, "verbs": s.verbs,
            });
            if !s.group.is_empty() && s.group != r.group {
                se["group"] = json!(s.group);
                se["version"] = json!(s.version);
            }
            resources.push(se);
        }
    }
    if resources.is_empty() {
        return Err(ApiError::not_found_path());
    }
    Ok(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0+berth",
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-11-23T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("linux/{}", if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_core_lists_pods_with_subresources() {
        let d = aggregated(true);
        let pods = d["items"][0]["versions"][0]["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["resource"] == "pods").cloned())
            .unwrap_or_default();
        assert_eq!(pods["categories"], json!(["all"]));
        let subs: Vec<&str> = pods["subresources"]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s["subresource"].as_str()).collect())
            .unwrap_or_default();
        for s in [
            "log",
            "exec",
            "portforward",
            "attach",
            "eviction",
            "status",
            "binding",
        ] {
            assert!(subs.contains(&s), "pods lacks {s}");
        }
    }

    #[test]
    fn autoscaling_prefers_v2() {
        let g = api_group("autoscaling").unwrap_or_default();
        assert_eq!(g["preferredVersion"]["version"], "v2");
    }
}
