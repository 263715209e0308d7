//! Kubernetes JSON name of a proto field: the lowerCamelCase of prost's snake_case field name,
//! except where the Go JSON tag keeps an acronym upper case or uses other characters. The
//! exceptions below were found by comparing with k8s-openapi's serde names (the generator
//! reports any remaining difference; `tests/openapi_names.rs` fails on one).

/// Exceptions that hold wherever the field name occurs.
const GLOBAL: &[(&str, &str)] = &[
    ("a_pi_group", "apiGroup"),
    ("desired_api_version", "desiredAPIVersion"),
    (
        "insecure_skip_tls_verify_backend",
        "insecureSkipTLSVerifyBackend",
    ),
    ("j_son_schemas", "JSONSchemas"),
    ("node_uid", "nodeUID"),
    ("pod_uid", "podUID"),
    ("service_account_uid", "serviceAccountUID"),
    ("share_id", "shareID"),
    ("u_id", "uid"),
    ("api_server_id", "apiServerID"),
    ("boot_id", "bootID"),
    ("client_cidr", "clientCIDR"),
    ("client_ip", "clientIP"),
    ("cluster_ip", "clusterIP"),
    ("cluster_ips", "clusterIPs"),
    ("container_id", "containerID"),
    (
        "current_cpu_utilization_percentage",
        "currentCPUUtilizationPercentage",
    ),
    ("dataset_uuid", "datasetUUID"),
    ("disk_uri", "diskURI"),
    ("downward_api", "downwardAPI"),
    ("external_id", "externalID"),
    ("external_ips", "externalIPs"),
    ("host_ip", "hostIP"),
    ("host_ipc", "hostIPC"),
    ("host_ips", "hostIPs"),
    ("host_pid", "hostPID"),
    ("image_id", "imageID"),
    ("insecure_skip_tls_verify", "insecureSkipTLSVerify"),
    ("load_balancer_ip", "loadBalancerIP"),
    ("machine_id", "machineID"),
    ("node_id", "nodeID"),
    ("non_resource_ur_ls", "nonResourceURLs"),
    ("open_apiv3_schema", "openAPIV3Schema"),
    ("pd_id", "pdID"),
    ("pod_cid_rs", "podCIDRs"),
    ("pod_cidr", "podCIDR"),
    ("pod_ip", "podIP"),
    ("pod_ips", "podIPs"),
    ("provider_id", "providerID"),
    ("resource_id", "resourceID"),
    ("scale_io", "scaleIO"),
    (
        "server_address_by_client_cid_rs",
        "serverAddressByClientCIDRs",
    ),
    ("set_hostname_as_fqdn", "setHostnameAsFQDN"),
    ("storage_policy_id", "storagePolicyID"),
    ("system_uuid", "systemUUID"),
    (
        "target_cpu_utilization_percentage",
        "targetCPUUtilizationPercentage",
    ),
    ("target_ww_ns", "targetWWNs"),
    ("volume_id", "volumeID"),
    // JSONSchemaProps
    ("ref", "$ref"),
    (
        "x_kubernetes_embedded_resource",
        "x-kubernetes-embedded-resource",
    ),
    ("x_kubernetes_int_or_string", "x-kubernetes-int-or-string"),
    ("x_kubernetes_list_map_keys", "x-kubernetes-list-map-keys"),
    ("x_kubernetes_list_type", "x-kubernetes-list-type"),
    ("x_kubernetes_map_type", "x-kubernetes-map-type"),
    (
        "x_kubernetes_preserve_unknown_fields",
        "x-kubernetes-preserve-unknown-fields",
    ),
    ("x_kubernetes_validations", "x-kubernetes-validations"),
];

/// Exceptions for one message only: (message full name, rust field name, JSON name).
const PER_MESSAGE: &[(&str, &str, &str)] = &[
    ("k8s.io.api.core.v1.DaemonEndpoint", "port", "Port"),
    (
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        "schema",
        "$schema",
    ),
];

pub fn json_name(message: &str, rust_name: &str) -> String {
    if let Some((_, _, json)) = PER_MESSAGE
        .iter()
        .find(|(m, r, _)| *m == message && *r == rust_name)
    {
        return (*json).to_string();
    }
    if let Some((_, json)) = GLOBAL.iter().find(|(r, _)| *r == rust_name) {
        return (*json).to_string();
    }
    lower_camel_case(rust_name)
}

pub fn lower_camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    for (i, word) in snake.split('_').enumerate() {
        let mut chars = word.chars();
        if i == 0 {
            out.push_str(word);
        } else if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_cases_snake_names() {
        assert_eq!(lower_camel_case("generate_name"), "generateName");
        assert_eq!(lower_camel_case("name"), "name");
        assert_eq!(
            lower_camel_case("termination_grace_period_seconds"),
            "terminationGracePeriodSeconds"
        );
    }
}
