//! Objects exactly as kubectl 1.33 sends them (`kubectl create ...`,
//! `run`, `expose`, `autoscale`), defaulted by berth-defaults, must pass.

use berth_validation::validate;
use serde_json::{json, Value};

fn prepared(group: &str, version: &str, kind: &str, mut obj: Value, namespaced: bool) -> Value {
    if namespaced {
        obj["metadata"]["namespace"] = json!("default");
    }
    berth_defaults::apply_defaults(group, version, kind, &mut obj);
    berth_defaults::prepare_for_create(group, version, kind, &mut obj);
    obj
}

#[test]
fn kubectl_created_objects_pass() {
    let cases: Vec<(&str, &str, &str, bool, Value)> = vec![
        (
            "",
            "v1",
            "Pod",
            true,
            json!({"kind":"Pod","apiVersion":"v1","metadata":{"name":"nginx","creationTimestamp":null,"labels":{"run":"nginx"}},
            "spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}],"restartPolicy":"Always","dnsPolicy":"ClusterFirst"},"status":{}}),
        ),
        (
            "apps",
            "v1",
            "Deployment",
            true,
            json!({"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"nginx","creationTimestamp":null,"labels":{"app":"nginx"}},
            "spec":{"replicas":2,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"nginx"}},
            "spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}}]}},"strategy":{}},"status":{}}),
        ),
        (
            "",
            "v1",
            "Service",
            true,
            json!({"kind":"Service","apiVersion":"v1","metadata":{"name":"my-svc","creationTimestamp":null,"labels":{"app":"my-svc"}},
            "spec":{"ports":[{"name":"5678-8080","protocol":"TCP","port":5678,"targetPort":8080}],"selector":{"app":"my-svc"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}),
        ),
        (
            "",
            "v1",
            "Service",
            true,
            json!({"kind":"Service","apiVersion":"v1","metadata":{"name":"nginx","creationTimestamp":null,"labels":{"app":"nginx"}},
            "spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":80}],"selector":{"app":"nginx"},"type":"NodePort"},"status":{"loadBalancer":{}}}),
        ),
        (
            "",
            "v1",
            "Service",
            true,
            json!({"kind":"Service","apiVersion":"v1","metadata":{"name":"headless","creationTimestamp":null},
            "spec":{"clusterIP":"None","selector":{"app":"db"}},"status":{"loadBalancer":{}}}),
        ),
        (
            "batch",
            "v1",
            "CronJob",
            true,
            json!({"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"my-job","creationTimestamp":null},
            "spec":{"schedule":"*/1 * * * *","jobTemplate":{"metadata":{"name":"my-job","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},
            "spec":{"containers":[{"name":"my-job","image":"busybox","resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}),
        ),
        (
            "batch",
            "v1",
            "Job",
            true,
            json!({"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"my-job","creationTimestamp":null},
            "spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"my-job","image":"busybox","resources":{}}],"restartPolicy":"Never"}}},"status":{}}),
        ),
        (
            "",
            "v1",
            "ConfigMap",
            true,
            json!({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"my-config","creationTimestamp":null},"data":{"key1":"config1","key2":"config2"}}),
        ),
        (
            "",
            "v1",
            "Secret",
            true,
            json!({"kind":"Secret","apiVersion":"v1","metadata":{"name":"my-secret","creationTimestamp":null},"data":{"password":"czNjcjN0"}}),
        ),
        (
            "",
            "v1",
            "Secret",
            true,
            json!({"kind":"Secret","apiVersion":"v1","metadata":{"name":"regcred","creationTimestamp":null},"type":"kubernetes.io/dockerconfigjson",
            "data":{".dockerconfigjson":"eyJhdXRocyI6e319"}}),
        ),
        (
            "",
            "v1",
            "Namespace",
            false,
            json!({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"my-namespace","creationTimestamp":null},"spec":{},"status":{}}),
        ),
        (
            "",
            "v1",
            "ServiceAccount",
            true,
            json!({"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"my-sa","creationTimestamp":null}}),
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            true,
            json!({"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"pod-reader","creationTimestamp":null},
            "rules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["pods"]}]}),
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            false,
            json!({"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"foo","creationTimestamp":null},
            "rules":[{"verbs":["get"],"nonResourceURLs":["/logs/*"]}]}),
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            true,
            json!({"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"bob-view","creationTimestamp":null},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
            "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bob"},{"kind":"ServiceAccount","name":"default","namespace":"default"}]}),
        ),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            false,
            json!({"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"root","creationTimestamp":null},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
            "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"root"}]}),
        ),
        (
            "policy",
            "v1",
            "PodDisruptionBudget",
            true,
            json!({"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"my-pdb","creationTimestamp":null},
            "spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"rails"}}},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}),
        ),
        (
            "",
            "v1",
            "ResourceQuota",
            true,
            json!({"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"my-quota","creationTimestamp":null},
            "spec":{"hard":{"cpu":"1","memory":"1G","pods":"2","services":"3","replicationcontrollers":"2","resourcequotas":"1","secrets":"5","persistentvolumeclaims":"10"}},"status":{}}),
        ),
        (
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            false,
            json!({"kind":"PriorityClass","apiVersion":"scheduling.k8s.io/v1","metadata":{"name":"high-priority","creationTimestamp":null},
            "value":1000,"description":"high priority","preemptionPolicy":"PreemptLowerPriority"}),
        ),
        (
            "networking.k8s.io",
            "v1",
            "Ingress",
            true,
            json!({"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"simple","creationTimestamp":null},
            "spec":{"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Exact","backend":{"service":{"name":"svc1","port":{"number":8080}}}}]}}]},"status":{"loadBalancer":{}}}),
        ),
        (
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            true,
            json!({"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v2","metadata":{"name":"nginx","creationTimestamp":null},
            "spec":{"scaleTargetRef":{"kind":"Deployment","name":"nginx","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":10,
            "metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}]},"status":{"desiredReplicas":0,"currentMetrics":null}}),
        ),
        (
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            true,
            json!({"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v1","metadata":{"name":"nginx1","creationTimestamp":null},
            "spec":{"scaleTargetRef":{"kind":"Deployment","name":"nginx","apiVersion":"apps/v1"},"maxReplicas":5,"targetCPUUtilizationPercentage":80},"status":{"currentReplicas":0,"desiredReplicas":0}}),
        ),
        (
            "apps",
            "v1",
            "StatefulSet",
            true,
            json!({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web"},
            "spec":{"selector":{"matchLabels":{"app":"nginx"}},"serviceName":"nginx","replicas":3,
            "template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"terminationGracePeriodSeconds":10,
                "containers":[{"name":"nginx","image":"registry.k8s.io/nginx-slim:0.24","ports":[{"containerPort":80,"name":"web"}],
                "volumeMounts":[{"name":"www","mountPath":"/usr/share/nginx/html"}]}]}},
            "volumeClaimTemplates":[{"metadata":{"name":"www"},"spec":{"accessModes":["ReadWriteOnce"],"storageClassName":"my-storage-class","resources":{"requests":{"storage":"1Gi"}}}}]}}),
        ),
        (
            "apps",
            "v1",
            "DaemonSet",
            true,
            json!({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"fluentd-elasticsearch","labels":{"k8s-app":"fluentd-logging"}},
            "spec":{"selector":{"matchLabels":{"name":"fluentd-elasticsearch"}},"template":{"metadata":{"labels":{"name":"fluentd-elasticsearch"}},
            "spec":{"tolerations":[{"key":"node-role.kubernetes.io/control-plane","operator":"Exists","effect":"NoSchedule"}],
            "containers":[{"name":"fluentd-elasticsearch","image":"quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
                "resources":{"limits":{"memory":"200Mi"},"requests":{"cpu":"100m","memory":"200Mi"}},
                "volumeMounts":[{"name":"varlog","mountPath":"/var/log"}]}],"terminationGracePeriodSeconds":30,
            "volumes":[{"name":"varlog","hostPath":{"path":"/var/log"}}]}}}}),
        ),
    ];
    let mut failures = Vec::new();
    for (group, version, kind, namespaced, obj) in cases {
        let obj = prepared(group, version, kind, obj, namespaced);
        let errs = validate(group, kind, &obj, None);
        if !errs.is_empty() {
            failures.push(format!(
                "{kind}: {:?}",
                errs.iter().map(|e| e.message()).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
