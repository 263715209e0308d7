//! A table of invalid objects: each must produce the expected (field, type)
//! and, where upstream's text is well known, the exact message.

mod fixtures;

use berth_api::status::{FieldError, FieldErrorType as T};
use berth_validation::validate;
use fixtures::*;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    group: &'static str,
    kind: &'static str,
    obj: Value,
    old: Option<Value>,
    field: &'static str,
    ty: T,
    /// Exact `field: body` message; "..." stands for any text in between.
    message: Option<&'static str>,
}

fn c(
    name: &'static str,
    group: &'static str,
    kind: &'static str,
    obj: Value,
    field: &'static str,
    ty: T,
    message: Option<&'static str>,
) -> Case {
    Case {
        name,
        group,
        kind,
        obj,
        old: None,
        field,
        ty,
        message,
    }
}

/// An update case: `old` is the stored object, `obj` the new one.
#[allow(clippy::too_many_arguments)]
fn u(
    name: &'static str,
    group: &'static str,
    kind: &'static str,
    old: Value,
    obj: Value,
    field: &'static str,
    ty: T,
    message: Option<&'static str>,
) -> Case {
    Case {
        name,
        group,
        kind,
        obj,
        old: Some(old),
        field,
        ty,
        message,
    }
}

fn matches(e: &FieldError, case: &Case) -> bool {
    if e.field != case.field || e.error_type != case.ty {
        return false;
    }
    match case.message {
        None => true,
        Some(m) => match m.split_once("...") {
            Some((prefix, suffix)) => {
                let msg = e.message();
                msg.starts_with(prefix)
                    && msg.ends_with(suffix)
                    && msg.len() >= prefix.len() + suffix.len()
            }
            None => e.message() == m,
        },
    }
}

fn cases() -> Vec<Case> {
    let two_containers = with(pod(), "/spec/containers/1", container());
    let big = "x".repeat(300 * 1024);
    let long_name = "a".repeat(53);
    let long_name: &'static str = Box::leak(long_name.into_boxed_str());
    vec![
        // ---- Pod ----
        c("pod without containers", "", "Pod", with(pod(), "/spec/containers", json!([])), "spec.containers", T::Required, Some("spec.containers: Required value")),
        c("container name not a label", "", "Pod", with(pod(), "/spec/containers/0/name", json!("Nginx_1")), "spec.containers[0].name", T::Invalid,
          Some("spec.containers[0].name: Invalid value: \"Nginx_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")),
        c("duplicate container name", "", "Pod", two_containers.clone(), "spec.containers[1].name", T::Duplicate, Some("spec.containers[1].name: Duplicate value: \"nginx\"")),
        c("image required", "", "Pod", without(pod(), "/spec/containers/0/image"), "spec.containers[0].image", T::Required, Some("spec.containers[0].image: Required value")),
        c("containerPort out of range", "", "Pod", with(pod(), "/spec/containers/0/ports/0/containerPort", json!(70000)), "spec.containers[0].ports[0].containerPort", T::Invalid,
          Some("spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive")),
        c("port protocol", "", "Pod", with(pod(), "/spec/containers/0/ports/0/protocol", json!("HTTP")), "spec.containers[0].ports[0].protocol", T::NotSupported,
          Some("spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")),
        c("port name too long", "", "Pod", with(pod(), "/spec/containers/0/ports/0/name", json!("http-metrics-long")), "spec.containers[0].ports[0].name", T::Invalid,
          Some("spec.containers[0].ports[0].name: Invalid value: \"http-metrics-long\": must be no more than 15 characters")),
        c("duplicate port name", "", "Pod", with(with(pod(), "/spec/containers/0/ports/0/name", json!("web")), "/spec/containers/0/ports/1", json!({"name": "web", "containerPort": 81})),
          "spec.containers[0].ports[1].name", T::Duplicate, None),
        c("env name with =", "", "Pod", with(pod(), "/spec/containers/0/env/0/name", json!("A=B")), "spec.containers[0].env[0].name", T::Invalid,
          Some("spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='")),
        c("valueFrom two sources", "", "Pod", with(pod(), "/spec/containers/0/env/1/valueFrom/secretKeyRef", json!({"name": "s", "key": "k"})), "spec.containers[0].env[1].valueFrom", T::Invalid,
          Some("spec.containers[0].env[1].valueFrom: Invalid value: \"\": may not have more than one field specified at a time")),
        c("valueFrom no source", "", "Pod", with(pod(), "/spec/containers/0/env/1/valueFrom", json!({})), "spec.containers[0].env[1].valueFrom", T::Invalid,
          Some("spec.containers[0].env[1].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")),
        c("fieldRef path unsupported", "", "Pod", with(pod(), "/spec/containers/0/env/1/valueFrom/fieldRef/fieldPath", json!("spec.host")), "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", T::NotSupported, None),
        c("request above limit", "", "Pod", with(pod(), "/spec/containers/0/resources/requests/cpu", json!("1")), "spec.containers[0].resources.requests", T::Invalid,
          Some("spec.containers[0].resources.requests: Invalid value: \"1\": must be less than or equal to cpu limit of 500m")),
        c("quantity does not parse", "", "Pod", with(pod(), "/spec/containers/0/resources/limits/cpu", json!("lots")), "spec.containers[0].resources.limits[cpu]", T::Invalid,
          Some("spec.containers[0].resources.limits[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")),
        c("negative memory", "", "Pod", with(pod(), "/spec/containers/0/resources/requests/memory", json!("-1Gi")), "spec.containers[0].resources.requests[memory]", T::Invalid,
          Some("spec.containers[0].resources.requests[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0")),
        c("non-standard resource", "", "Pod", with(pod(), "/spec/containers/0/resources/limits/gpu", json!("1")), "spec.containers[0].resources.limits[gpu]", T::Invalid,
          Some("spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers")),
        c("volume without source", "", "Pod", with(pod(), "/spec/volumes/0", json!({"name": "html"})), "spec.volumes[0]", T::Required,
          Some("spec.volumes[0]: Required value: must specify a volume type")),
        c("volume with two sources", "", "Pod", with(pod(), "/spec/volumes/0/hostPath", json!({"path": "/srv"})), "spec.volumes[0].hostPath", T::Forbidden,
          Some("spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type")),
        c("duplicate volume", "", "Pod", with(pod(), "/spec/volumes/1", json!({"name": "html", "emptyDir": {}})), "spec.volumes[1].name", T::Duplicate, None),
        c("configMap volume without name", "", "Pod", with(pod(), "/spec/volumes/1", json!({"name": "cfg", "configMap": {}})), "spec.volumes[1].configMap.name", T::Required, None),
        c("mount of unknown volume", "", "Pod", with(pod(), "/spec/containers/0/volumeMounts/0/name", json!("data")), "spec.containers[0].volumeMounts[0].name", T::NotFound, None),
        c("subPath escapes", "", "Pod", with(pod(), "/spec/containers/0/volumeMounts/0/subPath", json!("../etc")), "spec.containers[0].volumeMounts[0].subPath", T::Invalid,
          Some("spec.containers[0].volumeMounts[0].subPath: Invalid value: \"../etc\": must not contain '..'")),
        c("restartPolicy", "", "Pod", with(pod(), "/spec/restartPolicy", json!("Sometimes")), "spec.restartPolicy", T::NotSupported,
          Some("spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"")),
        c("dnsPolicy", "", "Pod", with(pod(), "/spec/dnsPolicy", json!("Cluster")), "spec.dnsPolicy", T::NotSupported,
          Some("spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"")),
        c("probe without handler", "", "Pod", with(pod(), "/spec/containers/0/livenessProbe", json!({"periodSeconds": 10})), "spec.containers[0].livenessProbe", T::Required,
          Some("spec.containers[0].livenessProbe: Required value: must specify a handler type")),
        c("probe with two handlers", "", "Pod", with(pod(), "/spec/containers/0/livenessProbe/tcpSocket", json!({"port": 80})), "spec.containers[0].livenessProbe.tcpSocket", T::Forbidden,
          Some("spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type")),
        c("liveness successThreshold", "", "Pod", with(pod(), "/spec/containers/0/livenessProbe/successThreshold", json!(2)), "spec.containers[0].livenessProbe.successThreshold", T::Invalid,
          Some("spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1")),
        c("negative periodSeconds", "", "Pod", with(pod(), "/spec/containers/0/readinessProbe/periodSeconds", json!(-1)), "spec.containers[0].readinessProbe.periodSeconds", T::Invalid,
          Some("spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0")),
        c("imagePullPolicy", "", "Pod", with(pod(), "/spec/containers/0/imagePullPolicy", json!("Sometimes")), "spec.containers[0].imagePullPolicy", T::NotSupported,
          Some("spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"")),
        c("negative grace period", "", "Pod", with(pod(), "/spec/terminationGracePeriodSeconds", json!(-5)), "spec.terminationGracePeriodSeconds", T::Invalid, None),
        c("nodeSelector key", "", "Pod", with(pod(), "/spec/nodeSelector", json!({"bad key": "x"})), "spec.nodeSelector", T::Invalid, Some("spec.nodeSelector: Invalid value: \"bad key\": name part must consist of...")),
        c("toleration operator", "", "Pod", with(pod(), "/spec/tolerations/0/operator", json!("Maybe")), "spec.tolerations[0].operator", T::NotSupported,
          Some("spec.tolerations[0].operator: Unsupported value: \"Maybe\": supported values: \"Equal\", \"Exists\"")),
        c("toleration effect", "", "Pod", with(pod(), "/spec/tolerations/0/effect", json!("NoWay")), "spec.tolerations[0].effect", T::NotSupported,
          Some("spec.tolerations[0].effect: Unsupported value: \"NoWay\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"")),
        c("toleration without key needs Exists", "", "Pod", with(pod(), "/spec/tolerations/1", json!({"operator": "Equal", "value": "x"})), "spec.tolerations[1].operator", T::Invalid,
          Some("spec.tolerations[1].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"")),
        c("hostname", "", "Pod", with(pod(), "/spec/hostname", json!("My_Host")), "spec.hostname", T::Invalid, None),
        c("runAsUser negative", "", "Pod", with(pod(), "/spec/containers/0/securityContext/runAsUser", json!(-1)), "spec.containers[0].securityContext.runAsUser", T::Invalid,
          Some("spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive")),
        c("privileged without escalation", "", "Pod", with(pod(), "/spec/containers/0/securityContext/privileged", json!(true)), "spec.containers[0].securityContext", T::Invalid,
          Some("spec.containers[0].securityContext: Invalid value: ...")),
        c("activeDeadlineSeconds zero", "", "Pod", with(pod(), "/spec/activeDeadlineSeconds", json!(0)), "spec.activeDeadlineSeconds", T::Invalid,
          Some("spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive")),
        c("wrong JSON type", "", "Pod", with(pod(), "/spec/containers/0/name", json!(5)), "spec.containers[0].name", T::Invalid, None),
        // ---- ObjectMeta ----
        c("name required", "", "Pod", without(pod(), "/metadata/name"), "metadata.name", T::Required, Some("metadata.name: Required value: name or generateName is required")),
        c("name not a subdomain", "", "ConfigMap", with(config_map(), "/metadata/name", json!("Game_Config")), "metadata.name", T::Invalid,
          Some("metadata.name: Invalid value: \"Game_Config\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")),
        c("namespace required", "", "ConfigMap", without(config_map(), "/metadata/namespace"), "metadata.namespace", T::Required, Some("metadata.namespace: Required value")),
        c("namespace on cluster kind", "", "Namespace", with(namespace(), "/metadata/namespace", json!("default")), "metadata.namespace", T::Forbidden,
          Some("metadata.namespace: Forbidden: not allowed on this type")),
        c("label value", "", "Pod", with(pod(), "/metadata/labels/app", json!("-web")), "metadata.labels", T::Invalid,
          Some("metadata.labels: Invalid value: \"-web\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")),
        c("label key prefix", "", "Pod", with(pod(), "/metadata/labels/Example.com~1x", json!("v")), "metadata.labels", T::Invalid, Some("metadata.labels: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain...")),
        c("annotations too large", "", "Pod", with(pod(), "/metadata/annotations/big", json!(big)), "metadata.annotations", T::TooLong,
          Some("metadata.annotations: Too long: may not be more than 262144 bytes")),
        c("finalizer not qualified", "", "Pod", with(pod(), "/metadata/finalizers", json!(["custom"])), "metadata.finalizers[0]", T::Invalid,
          Some("metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified")),
        c("ownerReference without uid", "", "Pod", with(pod(), "/metadata/ownerReferences", json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"}])),
          "metadata.ownerReferences.uid", T::Invalid, Some("metadata.ownerReferences.uid: Invalid value: \"\": must not be empty")),
        u("name immutable", "", "ConfigMap", config_map(), with(config_map(), "/metadata/name", json!("other")), "metadata.name", T::Invalid,
          Some("metadata.name: Invalid value: \"other\": field is immutable")),
        c("unknown kind still checks metadata", "example.com", "Widget", json!({"metadata": {"namespace": "default"}}), "metadata.name", T::Required, None),
        // ---- Pod update ----
        u("pod update changes ports", "", "Pod", pod(), with(pod(), "/spec/containers/0/ports/0/containerPort", json!(8080)), "spec", T::Forbidden,
          Some("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)...")),
        u("pod update raises deadline", "", "Pod", with(pod(), "/spec/activeDeadlineSeconds", json!(30)), with(pod(), "/spec/activeDeadlineSeconds", json!(60)), "spec.activeDeadlineSeconds", T::Invalid,
          Some("spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value")),
        // ---- Deployment ----
        c("deployment replicas", "apps", "Deployment", with(deployment(), "/spec/replicas", json!(-1)), "spec.replicas", T::Invalid,
          Some("spec.replicas: Invalid value: -1: must be greater than or equal to 0")),
        c("deployment selector required", "apps", "Deployment", without(deployment(), "/spec/selector"), "spec.selector", T::Required, Some("spec.selector: Required value")),
        c("deployment empty selector", "apps", "Deployment", with(deployment(), "/spec/selector", json!({})), "spec.selector", T::Invalid,
          Some("spec.selector: Invalid value: {}: empty selector is invalid for deployment")),
        c("selector does not match", "apps", "Deployment", with(deployment(), "/spec/selector/matchLabels/app", json!("web")), "spec.template.metadata.labels", T::Invalid,
          Some("spec.template.metadata.labels: Invalid value: {\"app\":\"nginx\"}: `selector` does not match template `labels`")),
        u("deployment selector immutable", "apps", "Deployment", deployment(),
          with(with(deployment(), "/spec/selector/matchLabels/tier", json!("fe")), "/spec/template/metadata/labels/tier", json!("fe")),
          "spec.selector", T::Invalid, Some("spec.selector: Invalid value: ...field is immutable")),
        c("strategy type", "apps", "Deployment", with(deployment(), "/spec/strategy", json!({"type": "Canary"})), "spec.strategy", T::NotSupported, None),
        c("surge and unavailable zero", "apps", "Deployment", with(deployment(), "/spec/strategy/rollingUpdate", json!({"maxUnavailable": 0, "maxSurge": "0%"})),
          "spec.strategy.rollingUpdate.maxUnavailable", T::Invalid, Some("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0")),
        c("maxUnavailable over 100%", "apps", "Deployment", with(deployment(), "/spec/strategy/rollingUpdate/maxUnavailable", json!("150%")),
          "spec.strategy.rollingUpdate.maxUnavailable", T::Invalid, Some("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"150%\": must not be greater than 100%")),
        c("maxSurge not a percent", "apps", "Deployment", with(deployment(), "/spec/strategy/rollingUpdate/maxSurge", json!("abc")),
          "spec.strategy.rollingUpdate.maxSurge", T::Invalid,
          Some("spec.strategy.rollingUpdate.maxSurge: Invalid value: \"abc\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
        c("Recreate with rollingUpdate", "apps", "Deployment", with(deployment(), "/spec/strategy/type", json!("Recreate")), "spec.strategy.rollingUpdate", T::Forbidden,
          Some("spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'")),
        c("revisionHistoryLimit", "apps", "Deployment", with(deployment(), "/spec/revisionHistoryLimit", json!(-1)), "spec.revisionHistoryLimit", T::Invalid, None),
        c("progress deadline", "apps", "Deployment", with(deployment(), "/spec/minReadySeconds", json!(600)), "spec.progressDeadlineSeconds", T::Invalid,
          Some("spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds")),
        c("template restartPolicy", "apps", "Deployment", with(deployment(), "/spec/template/spec/restartPolicy", json!("OnFailure")), "spec.template.spec.restartPolicy", T::NotSupported,
          Some("spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"")),
        c("template labels", "apps", "Deployment", with(deployment(), "/spec/template/metadata/labels/bad key", json!("x")), "spec.template.labels", T::Invalid, None),
        c("template image", "apps", "Deployment", without(deployment(), "/spec/template/spec/containers/0/image"), "spec.template.spec.containers[0].image", T::Required, None),
        c("replicaset selector mismatch", "apps", "ReplicaSet", with(replica_set(), "/spec/template/metadata/labels", json!({"app": "other"})), "spec.template.metadata.labels", T::Invalid, None),
        // ---- StatefulSet / DaemonSet / RC ----
        c("statefulset podManagementPolicy", "apps", "StatefulSet", with(stateful_set(), "/spec/podManagementPolicy", json!("Random")), "spec.podManagementPolicy", T::Invalid,
          Some("spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'")),
        u("statefulset serviceName immutable", "apps", "StatefulSet", stateful_set(), with(stateful_set(), "/spec/serviceName", json!("db2")), "spec", T::Forbidden,
          Some("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")),
        c("statefulset name is a label", "apps", "StatefulSet", with(stateful_set(), "/metadata/name", json!("db.main")), "metadata.name", T::Invalid,
          Some("metadata.name: Invalid value: \"db.main\": must not contain dots")),
        c("daemonset surge and unavailable", "apps", "DaemonSet", with(daemon_set(), "/spec/updateStrategy/rollingUpdate/maxSurge", json!(1)),
          "spec.updateStrategy.rollingUpdate.maxSurge", T::Invalid, Some("spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero")),
        c("rc selector required", "", "ReplicationController", without(replication_controller(), "/spec/selector"), "spec.selector", T::Required, Some("spec.selector: Required value")),
        // ---- Job / CronJob ----
        c("job restartPolicy", "batch", "Job", with(job(), "/spec/template/spec/restartPolicy", json!("Always")), "spec.template.spec.restartPolicy", T::NotSupported,
          Some("spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"")),
        c("job parallelism", "batch", "Job", with(job(), "/spec/parallelism", json!(-1)), "spec.parallelism", T::Invalid, None),
        c("job backoffLimit", "batch", "Job", with(job(), "/spec/backoffLimit", json!(-2)), "spec.backoffLimit", T::Invalid,
          Some("spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0")),
        c("job completionMode", "batch", "Job", with(job(), "/spec/completionMode", json!("Ordered")), "spec.completionMode", T::NotSupported, None),
        u("job template immutable", "batch", "Job", job(), with(job(), "/spec/template/spec/containers/0/image", json!("perl:5.36")), "spec.template", T::Invalid,
          Some("spec.template: Invalid value: ...field is immutable")),
        c("cron schedule range", "batch", "CronJob", with(cron_job(), "/spec/schedule", json!("61 * * * *")), "spec.schedule", T::Invalid,
          Some("spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61")),
        c("cron descriptor", "batch", "CronJob", with(cron_job(), "/spec/schedule", json!("@sometimes")), "spec.schedule", T::Invalid,
          Some("spec.schedule: Invalid value: \"@sometimes\": unrecognized descriptor: @sometimes")),
        c("cron field count", "batch", "CronJob", with(cron_job(), "/spec/schedule", json!("* * *")), "spec.schedule", T::Invalid,
          Some("spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]")),
        c("cron TZ in schedule", "batch", "CronJob", with(cron_job(), "/spec/schedule", json!("CRON_TZ=UTC 0 * * * *")), "spec.schedule", T::Invalid,
          Some("spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead")),
        c("cron concurrencyPolicy", "batch", "CronJob", with(cron_job(), "/spec/concurrencyPolicy", json!("Sometimes")), "spec.concurrencyPolicy", T::NotSupported,
          Some("spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"")),
        c("cron timeZone Local", "batch", "CronJob", with(cron_job(), "/spec/timeZone", json!("Local")), "spec.timeZone", T::Invalid,
          Some("spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")),
        c("cron name length", "batch", "CronJob", with(cron_job(), "/metadata/name", json!(long_name)), "metadata.name", T::Invalid, Some("metadata.name: Invalid value: ...must be no more than 52 characters")),
        c("cron jobTemplate restartPolicy", "batch", "CronJob", with(cron_job(), "/spec/jobTemplate/spec/template/spec/restartPolicy", json!("Always")),
          "spec.jobTemplate.spec.template.spec.restartPolicy", T::NotSupported, None),
        // ---- Service ----
        c("service ports required", "", "Service", with(service(), "/spec/ports", json!([])), "spec.ports", T::Required, Some("spec.ports: Required value")),
        c("service port zero", "", "Service", with(service(), "/spec/ports/0/port", json!(0)), "spec.ports[0].port", T::Invalid,
          Some("spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive")),
        c("service port names required", "", "Service", without(service(), "/spec/ports/1/name"), "spec.ports[1].name", T::Required, Some("spec.ports[1].name: Required value")),
        c("service duplicate port names", "", "Service", with(service(), "/spec/ports/1/name", json!("http")), "spec.ports[1].name", T::Duplicate, None),
        c("service protocol", "", "Service", with(service(), "/spec/ports/0/protocol", json!("ICMP")), "spec.ports[0].protocol", T::NotSupported, None),
        c("service type", "", "Service", with(service(), "/spec/type", json!("Internal")), "spec.type", T::NotSupported,
          Some("spec.type: Unsupported value: \"Internal\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")),
        c("nodePort range", "", "Service", with(node_port_service(), "/spec/ports/0/nodePort", json!(80)), "spec.ports[0].nodePort", T::Invalid,
          Some("spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767")),
        c("nodePort on ClusterIP", "", "Service", with(service(), "/spec/ports/0/nodePort", json!(30001)), "spec.ports[0].nodePort", T::Forbidden,
          Some("spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'")),
        c("targetPort name", "", "Service", with(service(), "/spec/ports/1/targetPort", json!("HTTP_PORT")), "spec.ports[1].targetPort", T::Invalid, None),
        c("sessionAffinity", "", "Service", with(service(), "/spec/sessionAffinity", json!("Cookie")), "spec.sessionAffinity", T::NotSupported, None),
        c("externalName required", "", "Service", json!({"metadata": {"name": "ext", "namespace": "default"}, "spec": {"type": "ExternalName", "sessionAffinity": "None"}}),
          "spec.externalName", T::Required, None),
        c("service name is DNS-1035", "", "Service", with(service(), "/metadata/name", json!("1abc")), "metadata.name", T::Invalid,
          Some("metadata.name: Invalid value: \"1abc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")),
        u("clusterIP immutable", "", "Service", service(), with(with(service(), "/spec/clusterIP", json!("10.96.0.11")), "/spec/clusterIPs", json!(["10.96.0.11"])),
          "spec.clusterIPs[0]", T::Invalid, Some("spec.clusterIPs[0]: Invalid value: [\"10.96.0.11\"]: may not change once set")),
        // ---- ConfigMap / Secret ----
        c("configmap key", "", "ConfigMap", with(config_map(), "/data/bad key!", json!("v")), "data[bad key!]", T::Invalid, None),
        c("configmap too big", "", "ConfigMap", with(config_map(), "/data/big", json!("x".repeat(1024 * 1024 + 1))), "[]", T::TooLong,
          Some("[]: Too long: may not be more than 1048576 bytes")),
        u("immutable configmap", "", "ConfigMap", with(config_map(), "/immutable", json!(true)), with(with(config_map(), "/immutable", json!(true)), "/data/x", json!("y")),
          "data", T::Forbidden, Some("data: Forbidden: field is immutable when `immutable` is set")),
        u("secret type immutable", "", "Secret", secret(), with(secret(), "/type", json!("kubernetes.io/basic-auth")), "type", T::Invalid, None),
        c("tls secret needs key", "", "Secret", without(tls_secret(), "/data/tls.key"), "data[tls.key]", T::Required, Some("data[tls.key]: Required value")),
        c("secret data not base64", "", "Secret", with(secret(), "/data/username", json!("not base64!")), "data[username]", T::Invalid, None),
        // ---- cluster kinds ----
        c("namespace name is a label", "", "Namespace", with(namespace(), "/metadata/name", json!("team.a")), "metadata.name", T::Invalid, Some("metadata.name: Invalid value: \"team.a\": must not contain dots")),
        c("node podCIDR", "", "Node", with(node(), "/spec/podCIDRs/0", json!("10.244.1.0")), "spec.podCIDRs[0]", T::Invalid,
          Some("spec.podCIDRs[0]: Invalid value: \"10.244.1.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")),
        c("node taint effect", "", "Node", with(node(), "/spec/taints/0/effect", json!("Evict")), "spec.taints[0].effect", T::NotSupported, None),
        c("node taint effect required", "", "Node", without(node(), "/spec/taints/0/effect"), "spec.taints[0].effect", T::Required, None),
        c("endpoints ip", "", "Endpoints", with(endpoints(), "/subsets/0/addresses/0/ip", json!("10.244.1")), "subsets[0].addresses[0].ip", T::Invalid,
          Some("subsets[0].addresses[0].ip: Invalid value: \"10.244.1\": must be a valid IP address")),
        c("endpointslice addressType", "discovery.k8s.io", "EndpointSlice", with(endpoint_slice(), "/addressType", json!("IP")), "addressType", T::NotSupported,
          Some("addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"")),
        c("event namespace mismatch", "", "Event", with(event(), "/involvedObject/namespace", json!("other")), "involvedObject.namespace", T::Invalid,
          Some("involvedObject.namespace: Invalid value: \"other\": does not match event.namespace")),
        c("events.k8s.io type", "events.k8s.io", "Event",
          json!({"metadata": {"name": "e1", "namespace": "default"}, "eventTime": "2025-01-01T00:00:00.000000Z",
                 "regarding": {"kind": "Pod", "namespace": "default", "name": "web-0"}, "reportingController": "berth.io/kubelet",
                 "reportingInstance": "kubelet-worker-1", "action": "Pulling", "reason": "Pulling", "type": "Info"}),
          "type", T::Invalid, Some("type: Invalid value: \"\": has invalid value: Info")),
        c("events.k8s.io reportingController", "events.k8s.io", "Event",
          json!({"metadata": {"name": "e1", "namespace": "default"}, "eventTime": "2025-01-01T00:00:00.000000Z",
                 "regarding": {"kind": "Pod", "namespace": "default", "name": "web-0"},
                 "reportingInstance": "kubelet-worker-1", "action": "Pulling", "reason": "Pulling", "type": "Normal"}),
          "reportingController", T::Required, Some("reportingController: Required value")),
        c("pv accessModes", "", "PersistentVolume", without(pv(), "/spec/accessModes"), "spec.accessModes", T::Required, None),
        c("pv capacity", "", "PersistentVolume", with(pv(), "/spec/capacity", json!({"size": "5Gi"})), "spec.capacity", T::NotSupported, None),
        c("pvc storage request", "", "PersistentVolumeClaim", with(pvc(), "/spec/resources", json!({})), "spec.resources[storage]", T::Required,
          Some("spec.resources[storage]: Required value")),
        c("pvc access mode", "", "PersistentVolumeClaim", with(pvc(), "/spec/accessModes", json!(["ReadWriteSometimes"])), "spec.accessModes", T::NotSupported, None),
        u("pvc spec immutable", "", "PersistentVolumeClaim", pvc(), with(pvc(), "/spec/accessModes", json!(["ReadWriteMany"])), "spec", T::Forbidden,
          Some("spec: Forbidden: spec is immutable after creation except resources.requests for bound claims...")),
        c("hpa max below min", "autoscaling", "HorizontalPodAutoscaler", with(hpa(), "/spec/minReplicas", json!(20)), "spec.maxReplicas", T::Invalid,
          Some("spec.maxReplicas: Invalid value: 10: must be greater than or equal to `minReplicas`")),
        c("hpa minReplicas", "autoscaling", "HorizontalPodAutoscaler", with(hpa(), "/spec/minReplicas", json!(0)), "spec.minReplicas", T::Invalid,
          Some("spec.minReplicas: Invalid value: 0: must be greater than or equal to 1")),
        c("hpa target name", "autoscaling", "HorizontalPodAutoscaler", without(hpa(), "/spec/scaleTargetRef/name"), "spec.scaleTargetRef.name", T::Required, None),
        c("lease duration", "coordination.k8s.io", "Lease", with(lease(), "/spec/leaseDurationSeconds", json!(0)), "spec.leaseDurationSeconds", T::Invalid, None),
        c("pdb both set", "policy", "PodDisruptionBudget", with(pdb(), "/spec/maxUnavailable", json!(1)), "spec", T::Invalid,
          Some("spec: Invalid value: ...minAvailable and maxUnavailable cannot be both set")),
        c("pdb percent", "policy", "PodDisruptionBudget", with(pdb(), "/spec/minAvailable", json!("120%")), "spec.minAvailable", T::Invalid, None),
        c("ingress path relative", "networking.k8s.io", "Ingress", with(ingress(), "/spec/rules/0/http/paths/0/path", json!("testpath")), "spec.rules[0].http.paths[0].path", T::Invalid,
          Some("spec.rules[0].http.paths[0].path: Invalid value: \"testpath\": must be an absolute path")),
        c("ingress pathType", "networking.k8s.io", "Ingress", without(ingress(), "/spec/rules/0/http/paths/0/pathType"), "spec.rules[0].http.paths[0].pathType", T::Required,
          Some("spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified")),
        c("ingress backend port", "networking.k8s.io", "Ingress", without(ingress(), "/spec/rules/0/http/paths/0/backend/service/port"), "spec.rules[0].http.paths[0].backend", T::Required,
          Some("spec.rules[0].http.paths[0].backend: Required value: port name or number is required")),
        c("networkpolicy except", "networking.k8s.io", "NetworkPolicy", with(network_policy(), "/spec/ingress/0/from/0/ipBlock/except/0", json!("10.0.0.0/24")),
          "spec.ingress[0].from[0].ipBlock.except[0]", T::Invalid, Some("spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/24\": must be a strict subset of `cidr`")),
        c("networkpolicy endPort", "networking.k8s.io", "NetworkPolicy", with(network_policy(), "/spec/egress/0/ports/0/endPort", json!(10)), "spec.egress[0].ports[0].endPort", T::Invalid,
          Some("spec.egress[0].ports[0].endPort: Invalid value: 10: must be greater than or equal to `port`")),
        c("role verbs", "rbac.authorization.k8s.io", "Role", without(role(), "/rules/0/verbs"), "rules[0].verbs", T::Required,
          Some("rules[0].verbs: Required value: verbs must contain at least one value")),
        c("role nonResourceURLs", "rbac.authorization.k8s.io", "Role", with(role(), "/rules/1", json!({"nonResourceURLs": ["/healthz"], "verbs": ["get"]})), "rules[1].nonResourceURLs", T::Invalid, None),
        c("rbac name", "rbac.authorization.k8s.io", "Role", with(role(), "/metadata/name", json!("a/b")), "metadata.name", T::Invalid, Some("metadata.name: Invalid value: \"a/b\": may not contain '/'")),
        u("roleRef immutable", "rbac.authorization.k8s.io", "RoleBinding", role_binding(), with(role_binding(), "/roleRef/name", json!("admin")), "roleRef", T::Invalid,
          Some("roleRef: Invalid value: ...cannot change roleRef")),
        c("clusterrolebinding roleRef kind", "rbac.authorization.k8s.io", "ClusterRoleBinding", with(cluster_role_binding(), "/roleRef/kind", json!("Role")), "roleRef.kind", T::NotSupported,
          Some("roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"")),
        c("subject kind", "rbac.authorization.k8s.io", "RoleBinding", with(role_binding(), "/subjects/0/kind", json!("Robot")), "subjects[0].kind", T::NotSupported, None),
        c("priority value", "scheduling.k8s.io", "PriorityClass", with(priority_class(), "/value", json!(2000000000)), "value", T::Forbidden,
          Some("value: Forbidden: maximum allowed value of a user defined priority is 1000000000")),
        u("priority value immutable", "scheduling.k8s.io", "PriorityClass", priority_class(), with(priority_class(), "/value", json!(5)), "value", T::Forbidden,
          Some("value: Forbidden: may not be changed in an update.")),
        c("storageclass provisioner", "storage.k8s.io", "StorageClass", without(storage_class(), "/provisioner"), "provisioner", T::Required, None),
        u("storageclass parameters", "storage.k8s.io", "StorageClass", storage_class(), with(storage_class(), "/parameters", json!({"type": "ssd"})), "parameters", T::Forbidden,
          Some("parameters: Forbidden: updates to parameters are forbidden.")),
        c("limitrange min above max", "", "LimitRange", with(limit_range(), "/spec/limits/0/min/cpu", json!("3")), "spec.limits[0].min[cpu]", T::Invalid,
          Some("spec.limits[0].min[cpu]: Invalid value: \"3\": min value 3 is greater than max value 2")),
        c("quota resource", "", "ResourceQuota", with(resource_quota(), "/spec/hard/foo", json!("1")), "spec.hard[foo]", T::Invalid,
          Some("spec.hard[foo]: Invalid value: \"foo\": must be a standard resource for quota")),
    ]
}

#[test]
fn invalid_objects_are_rejected_with_upstream_paths_and_texts() {
    let cases = cases();
    assert!(cases.len() >= 60, "table has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let errs = validate(case.group, case.kind, &case.obj, case.old.as_ref());
        if !errs.iter().any(|e| matches(e, case)) {
            let got: Vec<String> = errs
                .iter()
                .map(|e| format!("{:?} {}", e.error_type, e.message()))
                .collect();
            failures.push(format!(
                "[{}] wanted {} {:?} {:?}\n   got: {:#?}",
                case.name, case.field, case.ty, case.message, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn non_object_input_is_an_error_not_a_panic() {
    for v in [json!(null), json!(5), json!("pod"), json!([1, 2])] {
        assert_eq!(validate("", "Pod", &v, None).len(), 1);
    }
    // Every field of the wrong type, all at once.
    let weird = json!({"metadata": {"name": 5, "labels": [], "annotations": "x", "finalizers": {}},
                       "spec": {"containers": {"a": 1}, "volumes": "none", "restartPolicy": 7, "tolerations": [1]}});
    for (g, k) in [
        ("", "Pod"),
        ("apps", "Deployment"),
        ("", "Service"),
        ("batch", "CronJob"),
        ("", "Secret"),
    ] {
        assert!(!validate(g, k, &weird, Some(&weird)).is_empty(), "{k}");
    }
}
