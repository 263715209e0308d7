//! The resource registry: every kind the apiserver serves, with the facts
//! discovery, routing and storage need. Per-kind behaviour (defaults,
//! validation, printing) lives in the strategy crates and is keyed by
//! (group, kind); this table is the single list of what exists.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

#[derive(Clone, Copy, Debug)]
pub struct Subresource {
    pub name: &'static str,
    /// (group, version, kind) of what the subresource returns.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

#[derive(Clone, Copy, Debug)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub scope: Scope,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [Subresource],
    /// The group/resource whose storage this version shares (e.g. autoscaling
    /// v1 and v2 HPAs are one stored object; core and events.k8s.io Events are not).
    pub storage_version: &'static str,
}

impl ResourceInfo {
    /// Create-only kinds the server answers without storing (access and token reviews).
    pub fn is_review(&self) -> bool {
        matches!(self.group, "authorization.k8s.io" | "authentication.k8s.io")
    }
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }
    /// "v1" for core, "apps/v1" otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
    /// "pods" or "deployments.apps" — the name Kubernetes uses in messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
    /// Store key prefix for this resource (shared by all versions of it).
    pub fn storage_prefix(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        format!("/registry/{}/{}/", group, self.plural)
    }
}

const ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NO_COLLECTION_DELETE: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn status(group: &'static str, version: &'static str, kind: &'static str) -> Subresource {
    Subresource {
        name: "status",
        group,
        version,
        kind,
        verbs: STATUS_VERBS,
    }
}
const fn scale(name: &'static str) -> Subresource {
    Subresource {
        name,
        group: "autoscaling",
        version: "v1",
        kind: "Scale",
        verbs: STATUS_VERBS,
    }
}

macro_rules! res {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $scope:ident,
     verbs: $verbs:expr, short: [$($short:expr),*], cat: [$($cat:expr),*], sub: [$($sub:expr),*]) => {
        ResourceInfo {
            group: $group, version: $version, kind: $kind, plural: $plural, singular: $singular,
            scope: Scope::$scope, verbs: $verbs, short_names: &[$($short),*],
            categories: &[$($cat),*], subresources: &[$($sub),*], storage_version: $version,
        }
    };
}

const POD_SUBRESOURCES: &[Subresource] = &[
    Subresource {
        name: "attach",
        group: "",
        version: "v1",
        kind: "PodAttachOptions",
        verbs: &["create", "get"],
    },
    Subresource {
        name: "binding",
        group: "",
        version: "v1",
        kind: "Binding",
        verbs: &["create"],
    },
    Subresource {
        name: "ephemeralcontainers",
        group: "",
        version: "v1",
        kind: "Pod",
        verbs: STATUS_VERBS,
    },
    Subresource {
        name: "eviction",
        group: "policy",
        version: "v1",
        kind: "Eviction",
        verbs: &["create"],
    },
    Subresource {
        name: "exec",
        group: "",
        version: "v1",
        kind: "PodExecOptions",
        verbs: &["create", "get"],
    },
    Subresource {
        name: "log",
        group: "",
        version: "v1",
        kind: "Pod",
        verbs: &["get"],
    },
    Subresource {
        name: "portforward",
        group: "",
        version: "v1",
        kind: "PodPortForwardOptions",
        verbs: &["create", "get"],
    },
    Subresource {
        name: "proxy",
        group: "",
        version: "v1",
        kind: "PodProxyOptions",
        verbs: &["create", "delete", "get", "patch", "update"],
    },
    status("", "v1", "Pod"),
];

/// Every resource berth serves, in discovery order.
pub static REGISTRY: &[ResourceInfo] = &[
    // core/v1
    ResourceInfo {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        singular: "pod",
        scope: Scope::Namespaced,
        verbs: ALL,
        short_names: &["po"],
        categories: &["all"],
        subresources: POD_SUBRESOURCES,
        storage_version: "v1",
    },
    res!("", "v1", "Namespace", "namespaces", "namespace", Cluster,
        verbs: NO_COLLECTION_DELETE, short: ["ns"], cat: [], sub: [status("", "v1", "Namespace"),
        Subresource { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"] }]),
    res!("", "v1", "Node", "nodes", "node", Cluster,
        verbs: ALL, short: ["no"], cat: [], sub: [status("", "v1", "Node"),
        Subresource { name: "proxy", group: "", version: "v1", kind: "NodeProxyOptions", verbs: &["create", "delete", "get", "patch", "update"] }]),
    res!("", "v1", "Service", "services", "service", Namespaced,
        verbs: NO_COLLECTION_DELETE, short: ["svc"], cat: ["all"], sub: [status("", "v1", "Service"),
        Subresource { name: "proxy", group: "", version: "v1", kind: "ServiceProxyOptions", verbs: &["create", "delete", "get", "patch", "update"] }]),
    res!("", "v1", "Endpoints", "endpoints", "endpoints", Namespaced,
        verbs: ALL, short: ["ep"], cat: [], sub: []),
    res!("", "v1", "ConfigMap", "configmaps", "configmap", Namespaced,
        verbs: ALL, short: ["cm"], cat: [], sub: []),
    res!("", "v1", "Secret", "secrets", "secret", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    res!("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", Namespaced,
        verbs: ALL, short: ["sa"], cat: [], sub: [
        Subresource { name: "token", group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: &["create"] }]),
    res!("", "v1", "Event", "events", "event", Namespaced,
        verbs: ALL, short: ["ev"], cat: [], sub: []),
    res!("", "v1", "LimitRange", "limitranges", "limitrange", Namespaced,
        verbs: ALL, short: ["limits"], cat: [], sub: []),
    res!("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", Namespaced,
        verbs: ALL, short: ["quota"], cat: [], sub: [status("", "v1", "ResourceQuota")]),
    res!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", Cluster,
        verbs: ALL, short: ["pv"], cat: [], sub: [status("", "v1", "PersistentVolume")]),
    res!("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", Namespaced,
        verbs: ALL, short: ["pvc"], cat: [], sub: [status("", "v1", "PersistentVolumeClaim")]),
    res!("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", Namespaced,
        verbs: ALL, short: ["rc"], cat: ["all"], sub: [scale("scale"), status("", "v1", "ReplicationController")]),
    res!("", "v1", "PodTemplate", "podtemplates", "podtemplate", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    // apps/v1
    res!("apps", "v1", "Deployment", "deployments", "deployment", Namespaced,
        verbs: ALL, short: ["deploy"], cat: ["all"], sub: [scale("scale"), status("apps", "v1", "Deployment")]),
    res!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", Namespaced,
        verbs: ALL, short: ["rs"], cat: ["all"], sub: [scale("scale"), status("apps", "v1", "ReplicaSet")]),
    res!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", Namespaced,
        verbs: ALL, short: ["ds"], cat: ["all"], sub: [status("apps", "v1", "DaemonSet")]),
    res!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", Namespaced,
        verbs: ALL, short: ["sts"], cat: ["all"], sub: [scale("scale"), status("apps", "v1", "StatefulSet")]),
    res!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    // batch/v1
    res!("batch", "v1", "Job", "jobs", "job", Namespaced,
        verbs: ALL, short: [], cat: ["all"], sub: [status("batch", "v1", "Job")]),
    res!("batch", "v1", "CronJob", "cronjobs", "cronjob", Namespaced,
        verbs: ALL, short: ["cj"], cat: ["all"], sub: [status("batch", "v1", "CronJob")]),
    // autoscaling: v2 is the storage version; v1 is served from the same objects.
    ResourceInfo {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        verbs: ALL,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &[status("autoscaling", "v2", "HorizontalPodAutoscaler")],
        storage_version: "v2",
    },
    ResourceInfo {
        group: "autoscaling",
        version: "v1",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        verbs: ALL,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &[status("autoscaling", "v1", "HorizontalPodAutoscaler")],
        storage_version: "v2",
    },
    // coordination.k8s.io/v1
    res!("coordination.k8s.io", "v1", "Lease", "leases", "lease", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    // discovery.k8s.io/v1
    res!("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    // events.k8s.io/v1 (its own storage: the field names differ from core Events)
    res!("events.k8s.io", "v1", "Event", "events", "event", Namespaced,
        verbs: ALL, short: ["ev"], cat: [], sub: []),
    // rbac.authorization.k8s.io/v1
    res!("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    res!("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", Namespaced,
        verbs: ALL, short: [], cat: [], sub: []),
    res!("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", Cluster,
        verbs: ALL, short: [], cat: [], sub: []),
    res!("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", Cluster,
        verbs: ALL, short: [], cat: [], sub: []),
    // policy/v1
    res!("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", Namespaced,
        verbs: ALL, short: ["pdb"], cat: [], sub: [status("policy", "v1", "PodDisruptionBudget")]),
    // networking.k8s.io/v1
    res!("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", Namespaced,
        verbs: ALL, short: ["ing"], cat: [], sub: [status("networking.k8s.io", "v1", "Ingress")]),
    res!("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", Cluster,
        verbs: ALL, short: [], cat: [], sub: []),
    res!("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", Namespaced,
        verbs: ALL, short: ["netpol"], cat: [], sub: []),
    // scheduling.k8s.io/v1
    res!("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", Cluster,
        verbs: ALL, short: ["pc"], cat: [], sub: []),
    // Reviews: create-only, answered by the server, never stored.
    res!("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", Cluster,
        verbs: &["create"], short: [], cat: [], sub: []),
    res!("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", Cluster,
        verbs: &["create"], short: [], cat: [], sub: []),
    res!("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", Cluster,
        verbs: &["create"], short: [], cat: [], sub: []),
    res!("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview", Namespaced,
        verbs: &["create"], short: [], cat: [], sub: []),
    res!("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", Cluster,
        verbs: &["create"], short: [], cat: [], sub: []),
    res!("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", Cluster,
        verbs: &["create"], short: [], cat: [], sub: []),
    // storage.k8s.io/v1
    res!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", Cluster,
        verbs: ALL, short: ["sc"], cat: [], sub: []),
];

/// Preferred version per group, in discovery order.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in REGISTRY {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) => {
                if !versions.contains(&r.version) {
                    versions.push(r.version);
                }
            }
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Look a resource up by group, version and plural.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    REGISTRY
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Look a resource up by group, version and kind.
pub fn lookup_kind(group: &str, version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    REGISTRY
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// Split "apps/v1" into ("apps", "v1") and "v1" into ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plural_is_unique_within_a_group_version() {
        for (i, a) in REGISTRY.iter().enumerate() {
            for b in &REGISTRY[i + 1..] {
                assert!(
                    !(a.group == b.group && a.version == b.version && a.plural == b.plural),
                    "{} registered twice",
                    a.group_resource()
                );
            }
        }
    }

    #[test]
    fn lookups_find_core_and_group_resources() {
        assert_eq!(lookup("", "v1", "pods").map(|r| r.kind), Some("Pod"));
        assert_eq!(
            lookup_kind("apps", "v1", "Deployment").map(|r| r.plural),
            Some("deployments")
        );
        assert_eq!(lookup("apps", "v1", "pods").map(|r| r.kind), None);
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
    }

    #[test]
    fn hpa_versions_share_storage() {
        let v1 =
            lookup("autoscaling", "v1", "horizontalpodautoscalers").map(|r| r.storage_prefix());
        let v2 =
            lookup("autoscaling", "v2", "horizontalpodautoscalers").map(|r| r.storage_prefix());
        assert_eq!(v1, v2);
    }
}
