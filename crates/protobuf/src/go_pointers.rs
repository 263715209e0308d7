//! Go clients (kubectl) write every non-pointer scalar field on the wire, zero or not: an
//! ObjectMeta from `kubectl create` carries `namespace: ""`, `generation: 0`, a Container
//! `imagePullPolicy: ""`, a DeploymentStrategy `type: ""`. JSON clients omit those
//! (`omitempty`), and an API server must treat them as unset. So the decoder drops zero
//! scalars ("" / 0 / false) of singular fields, except for the fields below: Go pointer fields
//! where an explicit zero means something (`replicas: 0`, `automountServiceAccountToken: false`,
//! `storageClassName: ""`). Protobuf carries no pointer-ness, so this table is hand-made from
//! the Go API types; a missing entry turns an explicit zero into "unset" (the default applies).

/// (message full name, JSON names of pointer scalar fields)
const POINTER_SCALARS: &[(&str, &[&str])] = &[
    (
        "k8s.io.api.apps.v1.DaemonSetSpec",
        &["revisionHistoryLimit"],
    ),
    (
        "k8s.io.api.apps.v1.DeploymentSpec",
        &[
            "replicas",
            "revisionHistoryLimit",
            "progressDeadlineSeconds",
        ],
    ),
    ("k8s.io.api.apps.v1.ReplicaSetSpec", &["replicas"]),
    (
        "k8s.io.api.apps.v1.RollingUpdateStatefulSetStrategy",
        &["partition"],
    ),
    (
        "k8s.io.api.apps.v1.StatefulSetSpec",
        &["replicas", "revisionHistoryLimit"],
    ),
    (
        "k8s.io.api.authentication.v1.TokenRequestSpec",
        &["expirationSeconds"],
    ),
    (
        "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerSpec",
        &["minReplicas", "targetCPUUtilizationPercentage"],
    ),
    (
        "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
        &["minReplicas"],
    ),
    (
        "k8s.io.api.autoscaling.v2.HPAScalingRules",
        &["stabilizationWindowSeconds", "selectPolicy"],
    ),
    (
        "k8s.io.api.autoscaling.v2.MetricTarget",
        &["averageUtilization"],
    ),
    (
        "k8s.io.api.batch.v1.JobSpec",
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "ttlSecondsAfterFinished",
            "manualSelector",
            "suspend",
            "completionMode",
            "podReplacementPolicy",
            "managedBy",
        ],
    ),
    (
        "k8s.io.api.batch.v1.CronJobSpec",
        &[
            "startingDeadlineSeconds",
            "suspend",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
            "timeZone",
        ],
    ),
    (
        "k8s.io.api.core.v1.CSIVolumeSource",
        &["readOnly", "fsType"],
    ),
    ("k8s.io.api.core.v1.ClientIPConfig", &["timeoutSeconds"]),
    ("k8s.io.api.core.v1.ConfigMap", &["immutable"]),
    ("k8s.io.api.core.v1.ConfigMapEnvSource", &["optional"]),
    ("k8s.io.api.core.v1.ConfigMapKeySelector", &["optional"]),
    ("k8s.io.api.core.v1.ConfigMapProjection", &["optional"]),
    (
        "k8s.io.api.core.v1.ConfigMapVolumeSource",
        &["defaultMode", "optional"],
    ),
    ("k8s.io.api.core.v1.Container", &["restartPolicy"]),
    ("k8s.io.api.core.v1.DownwardAPIVolumeFile", &["mode"]),
    (
        "k8s.io.api.core.v1.DownwardAPIVolumeSource",
        &["defaultMode"],
    ),
    ("k8s.io.api.core.v1.HostPathVolumeSource", &["type"]),
    ("k8s.io.api.core.v1.KeyToPath", &["mode"]),
    (
        "k8s.io.api.core.v1.PersistentVolumeClaimSpec",
        &[
            "storageClassName",
            "volumeMode",
            "volumeAttributesClassName",
        ],
    ),
    (
        "k8s.io.api.core.v1.PodSecurityContext",
        &[
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "fsGroup",
            "fsGroupChangePolicy",
            "supplementalGroupsPolicy",
            "seLinuxChangePolicy",
        ],
    ),
    (
        "k8s.io.api.core.v1.PodSpec",
        &[
            "terminationGracePeriodSeconds",
            "activeDeadlineSeconds",
            "automountServiceAccountToken",
            "shareProcessNamespace",
            "priority",
            "enableServiceLinks",
            "preemptionPolicy",
            "runtimeClassName",
            "setHostnameAsFQDN",
            "hostUsers",
        ],
    ),
    (
        "k8s.io.api.core.v1.Probe",
        &["terminationGracePeriodSeconds"],
    ),
    ("k8s.io.api.core.v1.ProjectedVolumeSource", &["defaultMode"]),
    ("k8s.io.api.core.v1.Secret", &["immutable"]),
    ("k8s.io.api.core.v1.SecretEnvSource", &["optional"]),
    ("k8s.io.api.core.v1.SecretKeySelector", &["optional"]),
    ("k8s.io.api.core.v1.SecretProjection", &["optional"]),
    (
        "k8s.io.api.core.v1.SecretVolumeSource",
        &["defaultMode", "optional"],
    ),
    (
        "k8s.io.api.core.v1.SecurityContext",
        &[
            "privileged",
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "readOnlyRootFilesystem",
            "allowPrivilegeEscalation",
            "procMount",
        ],
    ),
    (
        "k8s.io.api.core.v1.ServiceAccount",
        &["automountServiceAccountToken"],
    ),
    (
        "k8s.io.api.core.v1.ServiceAccountTokenProjection",
        &["expirationSeconds"],
    ),
    ("k8s.io.api.core.v1.ServicePort", &["appProtocol"]),
    (
        "k8s.io.api.core.v1.ServiceSpec",
        &[
            "ipFamilyPolicy",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
            "internalTrafficPolicy",
            "trafficDistribution",
        ],
    ),
    ("k8s.io.api.core.v1.Toleration", &["tolerationSeconds"]),
    (
        "k8s.io.api.core.v1.TopologySpreadConstraint",
        &["minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"],
    ),
    (
        "k8s.io.api.coordination.v1.LeaseSpec",
        &[
            "holderIdentity",
            "leaseDurationSeconds",
            "leaseTransitions",
            "strategy",
            "preferredHolder",
        ],
    ),
    (
        "k8s.io.api.networking.v1.IngressSpec",
        &["ingressClassName"],
    ),
    (
        "k8s.io.api.networking.v1.NetworkPolicyPort",
        &["protocol", "endPort"],
    ),
    ("k8s.io.api.networking.v1.HTTPIngressPath", &["pathType"]),
    (
        "k8s.io.api.policy.v1.PodDisruptionBudgetSpec",
        &["unhealthyPodEvictionPolicy"],
    ),
    (
        "k8s.io.api.scheduling.v1.PriorityClass",
        &["preemptionPolicy"],
    ),
    (
        "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
        &[
            "gracePeriodSeconds",
            "orphanDependents",
            "propagationPolicy",
            "ignoreStoreReadErrorWithClusterBreakingPotential",
        ],
    ),
    (
        "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &["deletionGracePeriodSeconds"],
    ),
    (
        "k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference",
        &["controller", "blockOwnerDeletion"],
    ),
    (
        "k8s.io.apimachinery.pkg.apis.meta.v1.Preconditions",
        &["uid", "resourceVersion"],
    ),
];

/// Whether an explicit zero in this field must be kept (a Go pointer field).
pub fn keeps_zero(message: &str, json_name: &str) -> bool {
    POINTER_SCALARS
        .iter()
        .any(|(m, fields)| *m == message && fields.contains(&json_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor_types::{find_message, Cardinality, ValueKind};

    #[test]
    fn every_entry_names_a_singular_scalar_field() {
        for (message, fields) in POINTER_SCALARS {
            let descriptor =
                find_message(message).unwrap_or_else(|| panic!("unknown message {message}"));
            for name in *fields {
                let field = descriptor
                    .field_by_json_name(name)
                    .unwrap_or_else(|| panic!("{message} has no field {name}"));
                assert_eq!(field.cardinality, Cardinality::Optional, "{message}.{name}");
                assert!(
                    matches!(field.value, ValueKind::Scalar(_)),
                    "{message}.{name}"
                );
            }
        }
    }

    #[test]
    fn replicas_keeps_zero_but_namespace_does_not() {
        assert!(keeps_zero("k8s.io.api.apps.v1.DeploymentSpec", "replicas"));
        assert!(!keeps_zero(
            "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "namespace"
        ));
    }
}
