//! Pure rollout arithmetic, as upstream's deployment utilities do it:
//! maxSurge/maxUnavailable resolution and how far new/old ReplicaSets move.

use crate::error::{ControllerError, Result};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

pub fn available_replicas(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub fn deployment_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// An int, or a percent of `total` rounded up or down.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| ControllerError::Invalid("int-or-percent", s.clone()))?;
            let product = pct * i64::from(total);
            let v = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            Ok(i32::try_from(v).unwrap_or(i32::MAX))
        }
    }
}

/// (maxSurge, maxUnavailable) for a RollingUpdate deployment: surge rounds
/// up, unavailable down, and both 0 means unavailable 1 so rollouts move.
pub fn resolve_fenceposts(d: &Deployment) -> Result<(i32, i32)> {
    let replicas = deployment_replicas(d);
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter);
    let unavailable = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&quarter);
    let surge = scaled_value(surge, replicas, true)?;
    let unavailable = scaled_value(unavailable, replicas, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

pub fn max_unavailable(d: &Deployment) -> Result<i32> {
    let replicas = deployment_replicas(d);
    if !is_rolling_update(d) || replicas == 0 {
        return Ok(0);
    }
    Ok(resolve_fenceposts(d)?.1.min(replicas))
}

pub fn max_surge(d: &Deployment) -> Result<i32> {
    if !is_rolling_update(d) {
        return Ok(0);
    }
    Ok(resolve_fenceposts(d)?.0)
}

/// Target size of the new ReplicaSet this step: as far as maxSurge allows.
pub fn new_rs_replicas(d: &Deployment, all: &[&ReplicaSet], new_current: i32) -> Result<i32> {
    let replicas = deployment_replicas(d);
    if !is_rolling_update(d) {
        return Ok(replicas);
    }
    let current: i32 = all.iter().map(|rs| spec_replicas(rs)).sum();
    let max_total = replicas + max_surge(d)?;
    if current >= max_total {
        return Ok(new_current);
    }
    let up = (max_total - current).min(replicas - new_current).max(0);
    Ok(new_current + up)
}

/// How many old pods may go now without dropping below minAvailable,
/// counting the new ReplicaSet's not-yet-available pods as already missing.
pub fn max_old_scale_down(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> Result<i32> {
    let total: i32 = all.iter().map(|rs| spec_replicas(rs)).sum();
    let min_available = deployment_replicas(d) - max_unavailable(d)?;
    let new_unavailable = spec_replicas(new_rs) - available_replicas(new_rs);
    Ok(total - min_available - new_unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(
        replicas: i32,
        surge: serde_json::Value,
        unavailable: serde_json::Value,
    ) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
                     "template": {}},
        }))
        .expect("deployment")
    }

    #[test]
    fn percent_rounding_matches_upstream() {
        // 25% of 10: surge ceil(2.5)=3, unavailable floor(2.5)=2.
        assert_eq!(
            resolve_fenceposts(&deployment(10, json!("25%"), json!("25%"))).ok(),
            Some((3, 2))
        );
        // 25% of 3: surge 1, unavailable 0.
        assert_eq!(
            resolve_fenceposts(&deployment(3, json!("25%"), json!("25%"))).ok(),
            Some((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(&deployment(3, json!(0), json!(0))).ok(),
            Some((0, 1))
        );
        assert!(resolve_fenceposts(&deployment(3, json!("x%"), json!(0))).is_err());
    }

    fn rs(replicas: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "r"}, "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "availableReplicas": available},
        }))
        .expect("rs")
    }

    #[test]
    fn new_rs_grows_only_within_surge() {
        let d = deployment(3, json!(1), json!(0));
        let old = rs(3, 3);
        let new = rs(0, 0);
        assert_eq!(new_rs_replicas(&d, &[&old, &new], 0).ok(), Some(1));
        let new1 = rs(1, 0);
        assert_eq!(new_rs_replicas(&d, &[&old, &new1], 1).ok(), Some(1));
        // New pod not available yet: no old pod may go (maxUnavailable 0).
        assert_eq!(max_old_scale_down(&d, &[&old, &new1], &new1).ok(), Some(0));
        let new1_ready = rs(1, 1);
        assert_eq!(
            max_old_scale_down(&d, &[&old, &new1_ready], &new1_ready).ok(),
            Some(1)
        );
    }
}
