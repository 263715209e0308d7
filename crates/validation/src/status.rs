//! Status subresource rules: counters are non-negative and consistent.

use berth_api::status::FieldError;

use crate::cluster::validate_node_status;
use crate::json::{Errors, Obj};
use crate::meta::non_negative;
use crate::quantity;

fn counters(status: &Obj, fields: &[&str], errs: &mut Errors) {
    for f in fields {
        if let Some(n) = status.int(f, errs) {
            non_negative(n, &status.at(f), errs);
        }
    }
}

/// `field ≤ bound` with upstream's wording (bound is "replicas" or another counter).
fn at_most(status: &Obj, field: &str, bound: &str, errs: &mut Errors) {
    let value = status.int(field, &mut Vec::new()).unwrap_or(0);
    let limit = status.int(bound, &mut Vec::new()).unwrap_or(0);
    if value > limit {
        let msg = if bound == "replicas" {
            "cannot be greater than status.replicas".to_string()
        } else {
            format!("cannot be greater than {bound}")
        };
        errs.push(FieldError::invalid(status.at(field), value, msg));
    }
}

pub fn validate_status_of(group: &str, kind: &str, status: &Obj, errs: &mut Errors) {
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => {
            counters(
                status,
                &[
                    "observedGeneration",
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                    "unavailableReplicas",
                    "collisionCount",
                    "terminatingReplicas",
                ],
                errs,
            );
            for f in ["updatedReplicas", "readyReplicas", "availableReplicas"] {
                at_most(status, f, "replicas", errs);
            }
            at_most(status, "availableReplicas", "readyReplicas", errs);
        }
        ("apps" | "extensions", "ReplicaSet") | ("", "ReplicationController") => {
            counters(
                status,
                &[
                    "replicas",
                    "fullyLabeledReplicas",
                    "readyReplicas",
                    "availableReplicas",
                    "observedGeneration",
                    "terminatingReplicas",
                ],
                errs,
            );
            for f in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
                at_most(status, f, "replicas", errs);
            }
            at_most(status, "availableReplicas", "readyReplicas", errs);
        }
        ("apps", "StatefulSet") => {
            counters(
                status,
                &[
                    "replicas",
                    "readyReplicas",
                    "currentReplicas",
                    "updatedReplicas",
                    "availableReplicas",
                    "observedGeneration",
                    "collisionCount",
                ],
                errs,
            );
            for f in [
                "readyReplicas",
                "currentReplicas",
                "updatedReplicas",
                "availableReplicas",
            ] {
                at_most(status, f, "replicas", errs);
            }
            at_most(status, "availableReplicas", "readyReplicas", errs);
        }
        ("apps" | "extensions", "DaemonSet") => counters(
            status,
            &[
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
                "observedGeneration",
                "updatedNumberScheduled",
                "numberAvailable",
                "numberUnavailable",
                "collisionCount",
            ],
            errs,
        ),
        ("batch", "Job") => counters(
            status,
            &["active", "succeeded", "failed", "ready", "terminating"],
            errs,
        ),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            counters(status, &["currentReplicas", "desiredReplicas"], errs)
        }
        ("policy", "PodDisruptionBudget") => counters(
            status,
            &[
                "disruptionsAllowed",
                "currentHealthy",
                "desiredHealthy",
                "expectedPods",
                "observedGeneration",
            ],
            errs,
        ),
        ("", "Node") => validate_node_status(status, errs),
        ("", "Pod") => {
            for f in ["podIP", "hostIP"] {
                if let Some(ip) = status.str(f, errs).filter(|s| !s.is_empty()) {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        errs.push(FieldError::invalid(
                            status.at(f),
                            ip,
                            "must be a valid IP address",
                        ));
                    }
                }
            }
            for list in ["podIPs", "hostIPs"] {
                for entry in status.objs(list, errs) {
                    let ip = entry.str_or_empty("ip", errs);
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        errs.push(FieldError::invalid(
                            entry.at("ip"),
                            ip,
                            "must be a valid IP address",
                        ));
                    }
                }
            }
        }
        ("", "Service") => {
            if let Some(lb) = status.obj("loadBalancer", errs) {
                for ing in lb.objs("ingress", errs) {
                    if let Some(ip) = ing.str("ip", errs).filter(|s| !s.is_empty()) {
                        if ip.parse::<std::net::IpAddr>().is_err() {
                            errs.push(FieldError::invalid(
                                ing.at("ip"),
                                ip,
                                "must be a valid IP address",
                            ));
                        }
                    }
                    if let Some(host) = ing.str("hostname", errs).filter(|s| !s.is_empty()) {
                        for msg in crate::names::is_dns1123_subdomain(host) {
                            errs.push(FieldError::invalid(ing.at("hostname"), host, msg));
                        }
                    }
                }
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(cap) = status.obj("capacity", errs) {
                for (k, v) in cap.map {
                    quantity::read_non_negative(v, &cap.path.key(k), errs);
                }
            }
        }
        _ => {}
    }
}
