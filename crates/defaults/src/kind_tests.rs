//! Whole-object tests: for each kind a minimal object in, the exact object a
//! 1.33 API server stores out; plus idempotency and odd-input checks.

use serde_json::{json, Value};

use crate::{apply_defaults, prepare_for_create};

/// Splits "group/version" (or "v1") and defaults `input` as its kind says.
fn defaulted(input: Value) -> Value {
    let mut out = input;
    let api_version = out["apiVersion"].as_str().unwrap_or("").to_owned();
    let kind = out["kind"].as_str().unwrap_or("").to_owned();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    apply_defaults(group, version, &kind, &mut out);
    out
}

/// Asserts the defaulted form, that defaulting it again changes nothing, and
/// that the result still reads as the typed k8s-openapi object.
fn check<T: serde::de::DeserializeOwned>(input: Value, expected: Value) {
    let out = defaulted(input);
    assert_eq!(out, expected, "\n got: {out:#}\nwant: {expected:#}");
    assert_eq!(defaulted(out.clone()), out, "not idempotent");
    if let Err(e) = serde_json::from_value::<T>(out.clone()) {
        panic!("defaulted object does not fit its schema: {e}\n{out:#}");
    }
}

/// The PodSpec defaults every pod template gets, around the given container.
fn template_spec(container: Value) -> Value {
    json!({"containers": [container], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
        "securityContext": {}, "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"})
}

fn nginx() -> Value {
    json!({"name": "web", "image": "nginx"})
}

fn nginx_defaulted() -> Value {
    json!({"name": "web", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
}

fn template() -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [nginx()]}})
}

fn template_defaulted() -> Value {
    json!({"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
        "spec": template_spec(nginx_defaulted())})
}

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v1 as hpa1,
    autoscaling::v2 as hpa2, batch::v1 as batch, coordination::v1 as coordination,
    core::v1 as core, discovery::v1 as discovery, events::v1 as events,
    flowcontrol::v1 as flowcontrol, networking::v1 as networking, policy::v1 as policy,
    rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;

#[test]
fn pod() {
    check::<core::Pod>(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "app", "image": "registry.local:5000/app:1.2",
                 "ports": [{"containerPort": 8080}],
                 "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                 "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
                 "readinessProbe": {"httpGet": {"port": 8080}}}],
             "initContainers": [{"name": "init", "image": "busybox:latest",
                 "resources": {"limits": {"memory": "64Mi"}}}],
             "ephemeralContainers": [{"name": "debug", "image": "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}],
             "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "app", "image": "registry.local:5000/app:1.2", "imagePullPolicy": "IfNotPresent",
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                 "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}}}],
                 "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                               "requests": {"cpu": "100m", "memory": "128Mi"}},
                 "readinessProbe": {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                     "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}}],
             "initContainers": [{"name": "init", "image": "busybox:latest", "imagePullPolicy": "Always",
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                 "resources": {"limits": {"memory": "64Mi"}, "requests": {"memory": "64Mi"}}}],
             "ephemeralContainers": [{"name": "debug",
                 "image": "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                 "imagePullPolicy": "IfNotPresent", "resources": {},
                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
             "volumes": [{"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
             "enableServiceLinks": true, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
             "securityContext": {}, "terminationGracePeriodSeconds": 30,
             "schedulerName": "default-scheduler"}}),
    );
}

#[test]
fn pod_with_host_network_publishes_container_ports() {
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x:1",
            "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 80, "hostPort": 8080}]}]}}),
    );
    assert_eq!(
        out["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 53, "protocol": "UDP", "hostPort": 53},
               {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}])
    );
}

#[test]
fn pod_template() {
    check::<core::PodTemplate>(
        json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template()}),
        json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template_defaulted()}),
    );
}

#[test]
fn templates_get_no_pod_only_defaults() {
    let out = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1"}}}]}}}}),
    );
    let spec = &out["spec"]["template"]["spec"];
    assert_eq!(
        spec["containers"][0]["resources"],
        json!({"limits": {"cpu": "1"}})
    );
    assert!(spec.get("enableServiceLinks").is_none());
}

#[test]
fn replication_controller() {
    check::<core::ReplicationController>(
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
            "spec": {"template": template()}}),
        json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "rc", "labels": {"app": "web"}},
            "spec": {"template": template_defaulted(), "selector": {"app": "web"}, "replicas": 1}}),
    );
}

#[test]
fn service_cluster_ip() {
    check::<core::Service>(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                          {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"}],
                "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}}),
    );
}

#[test]
fn service_load_balancer_with_client_ip_affinity() {
    check::<core::Service>(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 443, "targetPort": 0}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example"}]}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
            "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ports": [{"port": 443, "targetPort": 443, "protocol": "TCP"}],
                "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": true,
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}}),
    );
}

#[test]
fn service_headless_and_given_ips() {
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "sessionAffinity": "None",
            "sessionAffinityConfig": {"clientIP": {}}}}),
    );
    assert_eq!(out["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(out["spec"]["ipFamilyPolicy"], json!("SingleStack"));
    assert_eq!(out["spec"]["ipFamilies"], json!(["IPv4"]));
    assert!(out["spec"].get("sessionAffinityConfig").is_none());

    // Headless without selector: both families, even on a single-stack cluster.
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
        "spec": {"clusterIP": "None"}}),
    );
    assert_eq!(out["spec"]["ipFamilyPolicy"], json!("RequireDualStack"));
    assert_eq!(out["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));

    // Families follow given IPs; the plural never fills the singular.
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "v6"},
        "spec": {"clusterIPs": ["fd00::10"], "ports": [{"port": 80}]}}),
    );
    assert!(out["spec"].get("clusterIP").is_none());
    assert_eq!(out["spec"]["ipFamilies"], json!(["IPv6"]));
    assert_eq!(out["spec"]["ipFamilyPolicy"], json!("SingleStack"));
}

#[test]
fn service_external_name_gets_no_ip_fields() {
    check::<core::Service>(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}}),
    );
}

#[test]
fn service_node_port() {
    let out = defaulted(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"port": 80}]}}),
    );
    assert_eq!(out["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(out["spec"]["internalTrafficPolicy"], "Cluster");
    assert!(out["spec"].get("allocateLoadBalancerNodePorts").is_none());
    assert!(out["spec"]["ports"][0].get("nodePort").is_none());
    assert!(out["spec"].get("clusterIP").is_none());
}

#[test]
fn namespace() {
    check::<core::Namespace>(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
            "status": {"phase": "Active"}}),
    );
}

#[test]
fn namespace_create_adds_finalizer_once() {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"},
        "spec": {"finalizers": ["example.com/x"]}, "status": {"phase": "Terminating"}});
    apply_defaults("", "v1", "Namespace", &mut ns);
    prepare_for_create("", "v1", "Namespace", &mut ns);
    prepare_for_create("", "v1", "Namespace", &mut ns);
    assert_eq!(
        ns["spec"]["finalizers"],
        json!(["example.com/x", "kubernetes"])
    );
    assert_eq!(ns["status"], json!({"phase": "Active"}));

    // Updates never bring the finalizer back.
    let mut finalized = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"},
        "spec": {"finalizers": []}, "status": {"phase": "Terminating"}});
    apply_defaults("", "v1", "Namespace", &mut finalized);
    assert_eq!(finalized["spec"]["finalizers"], json!([]));
    assert_eq!(finalized["status"]["phase"], "Terminating");
}

#[test]
fn pod_create_sets_pending_status_and_qos() {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x:1",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]},
        "status": {"phase": "Running"}});
    apply_defaults("", "v1", "Pod", &mut pod);
    prepare_for_create("", "v1", "Pod", &mut pod);
    assert_eq!(
        pod["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );
}

#[test]
fn node() {
    check::<core::Node>(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                       "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}),
    );
}

#[test]
fn secret() {
    check::<core::Secret>(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}, "type": "Opaque"}),
    );
}

#[test]
fn persistent_volume() {
    check::<core::PersistentVolume>(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                "hostPath": {"path": "/data", "type": ""},
                "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}}),
    );
}

#[test]
fn persistent_volume_claim() {
    check::<core::PersistentVolumeClaim>(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}}),
    );
}

#[test]
fn endpoints() {
    check::<core::Endpoints>(
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}),
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}),
    );
}

#[test]
fn limit_range() {
    check::<core::LimitRange>(
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
                                {"type": "Pod", "max": {"cpu": "4"}}]}}),
        json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"},
                                 "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2", "memory": "64Mi"}},
                                {"type": "Pod", "max": {"cpu": "4"}}]}}),
    );
}

#[test]
fn kinds_without_defaults_are_untouched() {
    for (api_version, kind) in [
        ("v1", "ConfigMap"),
        ("v1", "ServiceAccount"),
        ("v1", "Event"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "Ingress"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("example.com/v1", "Widget"),
    ] {
        let input = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"},
            "spec": {"minAvailable": 1, "rules": [{"http": {"paths": [{"path": "/"}]}}]}});
        assert_eq!(defaulted(input.clone()), input, "{kind}");
    }
}

#[test]
fn pod_disruption_budget_and_lease_fit_schema_unchanged() {
    check::<policy::PodDisruptionBudget>(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    );
    check::<coordination::Lease>(
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
            "spec": {"holderIdentity": "a"}}),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
            "spec": {"holderIdentity": "a"}}),
    );
    check::<events::Event>(
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "eventTime": "2024-01-01T00:00:00.000000Z"}),
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "eventTime": "2024-01-01T00:00:00.000000Z"}),
    );
}

#[test]
fn deployment() {
    check::<apps::Deployment>(
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template_defaulted(),
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}}}),
    );
}

#[test]
fn deployment_recreate_and_explicit_values_are_kept() {
    let input = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 0, "revisionHistoryLimit": 0, "progressDeadlineSeconds": 60,
            "strategy": {"type": "Recreate"}, "selector": {"matchLabels": {"app": "web"}}}});
    assert_eq!(defaulted(input.clone()), input);
}

#[test]
fn replica_set() {
    check::<apps::ReplicaSet>(
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template_defaulted(), "replicas": 1}}),
    );
}

#[test]
fn daemon_set() {
    check::<apps::DaemonSet>(
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template_defaulted(),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10}}),
    );
}

#[test]
fn stateful_set() {
    check::<apps::StatefulSet>(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": template(),
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "web"}}, "template": template_defaulted(),
                "volumeClaimTemplates": [{"metadata": {"name": "data", "creationTimestamp": null},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                        "volumeMode": "Filesystem"},
                    "status": {"phase": "Pending"}}],
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "replicas": 1, "revisionHistoryLimit": 10}}),
    );
}

#[test]
fn stateful_set_explicit_rolling_update_gets_no_block() {
    let out = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}}}),
    );
    assert_eq!(
        out["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate"})
    );
    let out = defaulted(
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"updateStrategy": {"type": "OnDelete"}}}),
    );
    assert_eq!(out["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
}

#[test]
fn job() {
    let mut job_template = template();
    job_template["spec"]["restartPolicy"] = json!("Never");
    let mut job_template_defaulted = template_defaulted();
    job_template_defaulted["spec"]["restartPolicy"] = json!("Never");
    check::<batch::Job>(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": job_template}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"app": "web"}},
            "spec": {"template": job_template_defaulted, "completions": 1, "parallelism": 1,
                "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
                "podReplacementPolicy": "TerminatingOrFailed"}}),
    );
}

#[test]
fn job_variants() {
    let out = defaulted(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"own": "x"}},
        "spec": {"completions": 5, "backoffLimitPerIndex": 1, "completionMode": "Indexed",
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
            "template": template()}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"own": "x"}));
    assert_eq!(out["spec"]["completions"], 5);
    assert_eq!(out["spec"]["parallelism"], 1);
    assert_eq!(out["spec"]["backoffLimit"], 2147483647);
    assert_eq!(out["spec"]["completionMode"], "Indexed");
    assert_eq!(out["spec"]["podReplacementPolicy"], "Failed");
    assert_eq!(
        out["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0],
        json!({"type": "DisruptionTarget", "status": "True"})
    );
    let out = defaulted(
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"parallelism": 3, "template": template()}}),
    );
    assert!(out["spec"].get("completions").is_none());
}

#[test]
fn cron_job() {
    check::<batch::CronJob>(
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template()}}}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"metadata": {"creationTimestamp": null},
                    "spec": {"template": template_defaulted()}},
                "concurrencyPolicy": "Allow", "suspend": false,
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}}),
    );
}

#[test]
fn hpa_v2() {
    check::<hpa2::HorizontalPodAutoscaler>(
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]}}),
    );
}

#[test]
fn hpa_v2_behavior_is_completed() {
    check::<hpa2::HorizontalPodAutoscaler>(
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "minReplicas": 2,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "metrics": [{"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "minReplicas": 2,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "metrics": [{"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "100Mi"}}}],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                    "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15}]}}}}),
    );
}

#[test]
fn hpa_v1() {
    check::<hpa1::HorizontalPodAutoscaler>(
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}}),
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1}}),
    );
}

#[test]
fn network_policy() {
    check::<networking::NetworkPolicy>(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n"},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "TCP"}]}],
                "policyTypes": ["Ingress", "Egress"]}}),
    );
    let out = defaulted(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "n"}, "spec": {"podSelector": {}}}),
    );
    assert_eq!(out["spec"]["policyTypes"], json!(["Ingress"]));
}

#[test]
fn ingress_class() {
    check::<networking::IngressClass>(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "i"},
            "spec": {"controller": "example.com/c", "parameters": {"kind": "Params", "name": "p"}}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "i"},
            "spec": {"controller": "example.com/c", "parameters": {"kind": "Params", "name": "p", "scope": "Cluster"}}}),
    );
}

#[test]
fn endpoint_slice() {
    check::<discovery::EndpointSlice>(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
            "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}],
            "ports": [{"port": 80, "name": "", "protocol": "TCP"}]}),
    );
}

#[test]
fn role_binding_and_cluster_role_binding() {
    let input = |kind: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                         {"kind": "ServiceAccount", "name": "default", "namespace": "ns"}]})
    };
    let expected = |kind: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "view", "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                         {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"},
                         {"kind": "ServiceAccount", "name": "default", "namespace": "ns"}]})
    };
    check::<rbac::RoleBinding>(input("RoleBinding"), expected("RoleBinding"));
    check::<rbac::ClusterRoleBinding>(input("ClusterRoleBinding"), expected("ClusterRoleBinding"));
}

#[test]
fn storage_class() {
    check::<storage::StorageClass>(
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "s"},
            "provisioner": "example.com/p"}),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "s"},
            "provisioner": "example.com/p", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
    );
}

#[test]
fn csi_driver() {
    check::<storage::CSIDriver>(
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "d"}, "spec": {}}),
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "d"},
            "spec": {"attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                "requiresRepublish": false, "seLinuxMount": false}}),
    );
}

#[test]
fn priority_class() {
    check::<scheduling::PriorityClass>(
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
            "value": 1000, "preemptionPolicy": "PreemptLowerPriority"}),
    );
}

#[test]
fn webhook_configurations() {
    let webhook = json!({"name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"service": {"namespace": "ns", "name": "svc"}},
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]});
    let mut defaulted_webhook = webhook.clone();
    defaulted_webhook["clientConfig"]["service"]["port"] = json!(443);
    defaulted_webhook["rules"][0]["scope"] = json!("*");
    for (key, value) in [
        ("failurePolicy", json!("Fail")),
        ("matchPolicy", json!("Equivalent")),
        ("namespaceSelector", json!({})),
        ("objectSelector", json!({})),
        ("timeoutSeconds", json!(10)),
    ] {
        defaulted_webhook[key] = value;
    }
    check::<admission::ValidatingWebhookConfiguration>(
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "v"}, "webhooks": [webhook.clone()]}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "v"}, "webhooks": [defaulted_webhook.clone()]}),
    );
    defaulted_webhook["reinvocationPolicy"] = json!("Never");
    check::<admission::MutatingWebhookConfiguration>(
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "m"}, "webhooks": [webhook]}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "m"}, "webhooks": [defaulted_webhook]}),
    );
}

#[test]
fn validating_admission_policy() {
    check::<admission::ValidatingAdmissionPolicy>(
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "p"},
            "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["deployments"]}]},
                "validations": [{"expression": "object.spec.replicas <= 5"}]}}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": "p"},
            "spec": {"matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["deployments"], "scope": "*"}],
                "matchPolicy": "Equivalent", "namespaceSelector": {}, "objectSelector": {}},
                "validations": [{"expression": "object.spec.replicas <= 5"}], "failurePolicy": "Fail"}}),
    );
}

#[test]
fn custom_resource_definition() {
    let version = json!({"name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object"}}});
    check::<crd::CustomResourceDefinition>(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"}, "versions": [version.clone()]}}),
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "singular": "widget", "listKind": "WidgetList"},
                "versions": [version], "conversion": {"strategy": "None"}},
            "status": {"storedVersions": ["v1"]}}),
    );
}

#[test]
fn flow_control() {
    check::<flowcontrol::FlowSchema>(
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "f"},
            "spec": {"priorityLevelConfiguration": {"name": "p"}}}),
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema", "metadata": {"name": "f"},
            "spec": {"priorityLevelConfiguration": {"name": "p"}, "matchingPrecedence": 1000}}),
    );
    check::<flowcontrol::PriorityLevelConfiguration>(
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
            "metadata": {"name": "p"},
            "spec": {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}}),
        json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
            "metadata": {"name": "p"},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 30, "lendablePercent": 0,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}}}}}),
    );
}

#[test]
fn lists_default_each_item() {
    let out = defaulted(json!({"apiVersion": "v1", "kind": "SecretList", "items": [
        {"metadata": {"name": "a"}}, {"metadata": {"name": "b"}, "type": "kubernetes.io/tls"}]}));
    assert_eq!(out["items"][0]["type"], "Opaque");
    assert_eq!(out["items"][1]["type"], "kubernetes.io/tls");
}

/// Every kind this crate defaults, with a minimal body.
fn every_kind() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("", "v1", "Pod"),
        ("", "v1", "PodTemplate"),
        ("", "v1", "ReplicationController"),
        ("", "v1", "Service"),
        ("", "v1", "Namespace"),
        ("", "v1", "Node"),
        ("", "v1", "Secret"),
        ("", "v1", "Endpoints"),
        ("", "v1", "PersistentVolume"),
        ("", "v1", "PersistentVolumeClaim"),
        ("", "v1", "LimitRange"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "ReplicaSet"),
        ("apps", "v1", "DaemonSet"),
        ("apps", "v1", "StatefulSet"),
        ("batch", "v1", "Job"),
        ("batch", "v1", "CronJob"),
        ("autoscaling", "v1", "HorizontalPodAutoscaler"),
        ("autoscaling", "v2", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "v1", "NetworkPolicy"),
        ("networking.k8s.io", "v1", "IngressClass"),
        ("discovery.k8s.io", "v1", "EndpointSlice"),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
        ("storage.k8s.io", "v1", "StorageClass"),
        ("storage.k8s.io", "v1", "CSIDriver"),
        ("scheduling.k8s.io", "v1", "PriorityClass"),
        (
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "v1",
            "MutatingWebhookConfiguration",
        ),
        (
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicy",
        ),
        (
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
        ),
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"),
        (
            "flowcontrol.apiserver.k8s.io",
            "v1",
            "PriorityLevelConfiguration",
        ),
    ]
}

/// Values of every JSON type, to put where objects and arrays are expected.
fn odd_values() -> Vec<Value> {
    vec![
        json!("str"),
        json!(1),
        json!(true),
        json!(null),
        json!([1, "x", null]),
        json!({"x": "y"}),
    ]
}

/// Replaces, one at a time, each nested value of `v` by `odd`, yielding every variant.
fn mutations(v: &Value, odd: &Value) -> Vec<Value> {
    let mut out = vec![odd.clone()];
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                for mutated in mutations(child, odd) {
                    let mut copy = m.clone();
                    copy.insert(k.clone(), mutated);
                    out.push(Value::Object(copy));
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                for mutated in mutations(child, odd) {
                    let mut copy = a.clone();
                    copy[i] = mutated;
                    out.push(Value::Array(copy));
                }
            }
        }
        _ => {}
    }
    out
}

/// A body that reaches most nested defaulting paths of every kind.
fn rich_body() -> Value {
    let container = json!({"name": "c", "image": "x", "ports": [{"containerPort": 1}],
        "env": [{"name": "e", "valueFrom": {"fieldRef": {"fieldPath": "f"}}}],
        "resources": {"limits": {"cpu": "1"}},
        "livenessProbe": {"httpGet": {"port": 1}, "grpc": {"port": 2}},
        "lifecycle": {"preStop": {"httpGet": {"port": 1}}}});
    let pod_spec = json!({"hostNetwork": true, "containers": [container.clone()], "initContainers": [container],
        "volumes": [{"name": "v", "projected": {"sources": [{"downwardAPI": {"items": [{"fieldRef": {}}]}},
            {"serviceAccountToken": {}}]}}, {"name": "w", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]});
    json!({"metadata": {"name": "n", "labels": {}},
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": pod_spec.clone()},
            "jobTemplate": {"spec": {"template": {"spec": pod_spec.clone()}}},
            "containers": pod_spec["containers"].clone(), "volumes": pod_spec["volumes"].clone(),
            "hostNetwork": true, "ports": [{"port": 1}], "type": "LoadBalancer", "sessionAffinity": "ClientIP",
            "clusterIPs": ["1.2.3.4"], "strategy": {}, "updateStrategy": {},
            "volumeClaimTemplates": [{"spec": {}}], "behavior": {"scaleUp": {}}, "egress": [{"ports": [{}]}],
            "podFailurePolicy": {"rules": [{"onPodConditions": [{}]}]},
            "limits": [{"type": "Container", "max": {"cpu": "1"}}], "names": {"kind": "K"},
            "versions": [{"name": "v1", "storage": true}], "limited": {"limitResponse": {"queuing": {}}},
            "matchConstraints": {"resourceRules": [{}]}, "parameters": {}},
        "status": {"capacity": {"cpu": "1"}, "loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}},
        "subsets": [{"ports": [{}]}], "ports": [{}], "subjects": [{"kind": "User"}], "roleRef": {},
        "webhooks": [{"rules": [{}], "clientConfig": {"service": {}}}]})
}

#[test]
fn odd_input_never_panics_and_stays_idempotent() {
    let body = rich_body();
    // Wrong scalar, unset, wrong container types: enough to reach every branch.
    let odd = [
        json!("str"),
        json!(null),
        json!([1, "x", null]),
        json!({"x": "y"}),
    ];
    for (group, version, kind) in every_kind() {
        for odd_value in &odd {
            for input in mutations(&body, odd_value) {
                let mut once = input.clone();
                apply_defaults(group, version, kind, &mut once);
                let mut twice = once.clone();
                apply_defaults(group, version, kind, &mut twice);
                assert_eq!(once, twice, "{kind} not idempotent for {input}");
                prepare_for_create(group, version, kind, &mut twice);
            }
        }
    }
}

#[test]
fn odd_top_level_values_are_left_alone() {
    for (group, version, kind) in every_kind() {
        for odd_value in odd_values() {
            let mut v = odd_value.clone();
            apply_defaults(group, version, kind, &mut v);
            if !odd_value.is_object() {
                assert_eq!(v, odd_value, "{kind}");
            }
        }
    }
}
