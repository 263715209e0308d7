//! apps/v1 defaults: Deployment, ReplicaSet, DaemonSet, StatefulSet,
//! ControllerRevision (none). Every workload's pod template gets PodSpec
//! defaults.

use serde_json::{json, Map, Value};

use crate::go_zero_values;
use crate::json::{default_ptr, default_str, each_obj, obj, obj_or_insert, str_of};
use crate::persistent_volume::default_claim;
use crate::pod_spec::default_template;

pub fn default_deployment(spec: &mut Map<String, Value>) {
    default_ptr(spec, "replicas", json!(1));
    if let Some(strategy) = obj_or_insert(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = obj_or_insert(strategy, "rollingUpdate") {
                default_ptr(rolling, "maxUnavailable", json!("25%"));
                default_ptr(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_ptr(spec, "progressDeadlineSeconds", json!(600));
    default_template(spec);
}

pub fn default_replica_set(spec: &mut Map<String, Value>) {
    default_ptr(spec, "replicas", json!(1));
    default_template(spec);
}

pub fn default_daemon_set(spec: &mut Map<String, Value>) {
    if let Some(strategy) = obj_or_insert(spec, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = obj_or_insert(strategy, "rollingUpdate") {
                default_ptr(rolling, "maxUnavailable", json!(1));
                default_ptr(rolling, "maxSurge", json!(0));
            }
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_template(spec);
}

pub fn default_stateful_set(spec: &mut Map<String, Value>) {
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = obj_or_insert(spec, "updateStrategy") {
        // Only an unset type brings a rollingUpdate block with it; an explicit
        // RollingUpdate without one stays without one, as upstream.
        if crate::json::is_unset_str(strategy.get("type")) {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = obj(strategy, "rollingUpdate") {
                default_ptr(rolling, "partition", json!(0));
            }
        }
    }
    if let Some(retention) = obj_or_insert(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(retention, "whenDeleted", "Retain");
        default_str(retention, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_template(spec);
    for claim in each_obj(spec, "volumeClaimTemplates") {
        go_zero_values::template_metadata(claim);
        default_claim(claim);
    }
}
