//! Downward API values for volume files: pod metadata by field path, container resources by
//! resource name. Formats match upstream's fieldpath and resource helpers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{self, Nanos};

/// Value of a `fieldRef` path usable in volumes.
pub fn field_value(pod: &Pod, field_path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    if let Some((path, subscript)) = split_subscript(field_path) {
        let map = match path {
            "metadata.annotations" => meta.annotations.as_ref(),
            "metadata.labels" => meta.labels.as_ref(),
            _ => {
                return Err(format!(
                    "fieldPath {field_path:?} does not support subscript"
                ))
            }
        };
        return Ok(map
            .and_then(|m| m.get(subscript))
            .cloned()
            .unwrap_or_default());
    }
    match field_path {
        "metadata.annotations" => Ok(format_map(meta.annotations.as_ref())),
        "metadata.labels" => Ok(format_map(meta.labels.as_ref())),
        "metadata.name" => Ok(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => Ok(meta.namespace.clone().unwrap_or_default()),
        "metadata.uid" => Ok(meta.uid.clone().unwrap_or_default()),
        _ => Err(format!("unsupported fieldPath: {field_path}")),
    }
}

/// `metadata.labels['key']` → (`metadata.labels`, `key`).
fn split_subscript(field_path: &str) -> Option<(&str, &str)> {
    let open = field_path.find("['")?;
    let inner = field_path[open + 2..].strip_suffix("']")?;
    Some((&field_path[..open], inner))
}

/// `key="value"` lines in key order, values quoted the way Go's `%q` does.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={}", go_quote(v)))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

/// Go's `strconv.Quote`: printable characters as is, the rest escaped.
pub fn go_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Value of a `resourceFieldRef`. Unset limits fall back to the node's allocatable amount,
/// as the kubelet does.
pub fn resource_value(
    pod: &Pod,
    selector: &ResourceFieldSelector,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, String> {
    let container_name = selector.container_name.as_deref().unwrap_or_default();
    let container = find_container(pod, container_name)
        .ok_or_else(|| format!("container {container_name} not found"))?;
    let divisor = match &selector.divisor {
        Some(q) => quantity::parse(&q.0)?,
        None => Nanos(1_000_000_000),
    };
    let divisor = if divisor.0 == 0 {
        Nanos(1_000_000_000)
    } else {
        divisor
    };
    let resources = container.resources.as_ref();
    let (kind, name) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", selector.resource))?;
    let declared = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => None,
    }
    .and_then(|m| m.get(name));
    let known =
        matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if !known || !matches!(kind, "limits" | "requests") {
        return Err(format!(
            "unsupported container resource : {}",
            selector.resource
        ));
    }
    let fallback = (kind == "limits" && !name.starts_with("hugepages-"))
        .then(|| node_allocatable.get(name))
        .flatten();
    let amount = match declared.or(fallback) {
        Some(q) => quantity::parse(&q.0)?,
        None => Nanos(0),
    };
    let value = if name == "cpu" {
        ceil_div(amount.milli_value(), divisor.milli_value().max(1))
    } else {
        ceil_div(amount.value(), divisor.value().max(1))
    };
    Ok(value.to_string())
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) {
        q + 1
    } else {
        q
    }
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn pod() -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("prod".into());
        pod.metadata.uid = Some("u-1".into());
        pod.metadata.labels = Some(BTreeMap::from([
            ("b".to_string(), "two".to_string()),
            ("a".to_string(), "one \"quoted\"\n".to_string()),
        ]));
        let container = Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                limits: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity("1500m".into())),
                    ("memory".to_string(), Quantity("64Mi".into())),
                ])),
                requests: Some(BTreeMap::from([(
                    "cpu".to_string(),
                    Quantity("250m".into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        pod.spec = Some(PodSpec {
            containers: vec![container],
            ..Default::default()
        });
        pod
    }

    fn selector(resource: &str, divisor: Option<&str>) -> ResourceFieldSelector {
        ResourceFieldSelector {
            container_name: Some("app".into()),
            divisor: divisor.map(|d| Quantity(d.into())),
            resource: resource.into(),
        }
    }

    #[test]
    fn metadata_fields() {
        let pod = pod();
        assert_eq!(field_value(&pod, "metadata.name").unwrap(), "web");
        assert_eq!(field_value(&pod, "metadata.namespace").unwrap(), "prod");
        assert_eq!(field_value(&pod, "metadata.uid").unwrap(), "u-1");
        assert_eq!(
            field_value(&pod, "metadata.labels").unwrap(),
            "a=\"one \\\"quoted\\\"\\n\"\nb=\"two\""
        );
        assert_eq!(field_value(&pod, "metadata.labels['b']").unwrap(), "two");
        assert_eq!(field_value(&pod, "metadata.annotations").unwrap(), "");
        assert_eq!(
            field_value(&pod, "spec.nodeName").unwrap_err(),
            "unsupported fieldPath: spec.nodeName"
        );
    }

    #[test]
    fn resources_round_up_by_divisor() {
        let pod = pod();
        let none = BTreeMap::new();
        assert_eq!(
            resource_value(&pod, &selector("limits.cpu", None), &none).unwrap(),
            "2"
        );
        assert_eq!(
            resource_value(&pod, &selector("limits.cpu", Some("1m")), &none).unwrap(),
            "1500"
        );
        assert_eq!(
            resource_value(&pod, &selector("requests.cpu", Some("1m")), &none).unwrap(),
            "250"
        );
        assert_eq!(
            resource_value(&pod, &selector("limits.memory", Some("1Mi")), &none).unwrap(),
            "64"
        );
        assert_eq!(
            resource_value(&pod, &selector("requests.memory", None), &none).unwrap(),
            "0"
        );
    }

    #[test]
    fn unset_limits_use_node_allocatable() {
        let pod = pod();
        let node = BTreeMap::from([("ephemeral-storage".to_string(), Quantity("10Gi".into()))]);
        assert_eq!(
            resource_value(
                &pod,
                &selector("limits.ephemeral-storage", Some("1Gi")),
                &node
            )
            .unwrap(),
            "10"
        );
        assert!(resource_value(&pod, &selector("limits.gpu", None), &node).is_err());
        let mut other = selector("limits.cpu", None);
        other.container_name = Some("nope".into());
        assert_eq!(
            resource_value(&pod, &other, &node).unwrap_err(),
            "container nope not found"
        );
    }

    #[test]
    fn go_quote_escapes_controls_and_keeps_unicode() {
        assert_eq!(go_quote("héllo"), "\"héllo\"");
        assert_eq!(go_quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
    }
}
