//! Deployment controller: one ReplicaSet per pod template (named
//! `<deployment>-<pod-template-hash>`), rolled forward by RollingUpdate or
//! Recreate, old ones trimmed to revisionHistoryLimit, status summarised.

use crate::auto_rollback;
use crate::error::{ControllerError, Result};
use crate::events;
use crate::owner::owner_reference;
use crate::rollout::{
    available_replicas, deployment_replicas, is_rolling_update, max_old_scale_down, max_surge,
    max_unavailable, new_rs_replicas, spec_replicas,
};
use crate::runner::Context;
use crate::template_hash;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const COMPONENT: &str = "deployment-controller";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const DEFAULT_HISTORY_LIMIT: i32 = 10;

pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One reconcile's view: the deployment, its API handles, and its
/// ReplicaSets (the new one, if it exists yet, and the old ones).
struct Sync<'a> {
    ctx: &'a Context,
    d: &'a Deployment,
    rs_api: Api<ReplicaSet>,
    new_rs: Option<ReplicaSet>,
    old: Vec<ReplicaSet>,
    /// Progressing condition reason set by this reconcile, if any.
    progress_note: Option<(&'static str, String)>,
}

pub async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = d.namespace().unwrap_or_else(|| "default".into());
    let uid = d
        .uid()
        .ok_or_else(|| ControllerError::MissingField(d.name_any(), "metadata.uid"))?;
    let spec = d
        .spec
        .as_ref()
        .ok_or_else(|| ControllerError::MissingField(d.name_any(), "spec"))?;
    let rs_api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let rs_cache = ctx.informers.replicasets();
    // Expectations: decide only on a cache that shows our own RS writes.
    if !rs_cache.caught_up(&uid) || !ctx.informers.deployments().caught_up(&status_key(&uid)) {
        return Ok(Action::requeue(std::time::Duration::from_millis(500)));
    }
    let owned: Vec<ReplicaSet> = rs_cache
        .controlled_by(&uid)
        .into_iter()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .map(|rs| (*rs).clone())
        .collect();

    let hash = template_hash::compute(
        &spec.template,
        d.status.as_ref().and_then(|s| s.collision_count),
    );
    let new_name = format!("{}-{hash}", d.name_any());
    let (mut new_rs, mut old) = (None, Vec::new());
    for rs in owned {
        let same_template = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| template_hash::equal_ignoring_hash(t, &spec.template));
        if new_rs.is_none() && (same_template || rs.name_any() == new_name) {
            new_rs = Some(rs);
        } else {
            old.push(rs);
        }
    }
    // Oldest first: the order old ReplicaSets are scaled down in.
    old.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));

    let mut sync = Sync {
        ctx: &ctx,
        d: &d,
        rs_api,
        new_rs,
        old,
        progress_note: None,
    };
    if spec.paused == Some(true) {
        sync.scale_only().await?;
    } else if is_rolling_update(&d) {
        sync.ensure_new_rs(&new_name, &hash).await?;
        if !sync.rolling_new().await? {
            sync.rolling_old().await?;
        }
    } else {
        sync.recreate(&new_name, &hash).await?;
    }
    sync.cleanup().await?;
    let status = sync.compute_status()?;
    let complete = is_complete(&d, &status);
    sync.record_revision().await?;
    if complete {
        sync.mark_available().await?;
    } else if sync.auto_rollback(&status).await? {
        return Ok(Action::requeue(ctx.resync));
    }
    sync.update_status(status.clone()).await?;
    // Come back when the progress deadline would pass, not only at the resync.
    let wake = progress_deadline_in(&d, &status).map_or(ctx.resync, |left| left.min(ctx.resync));
    Ok(Action::requeue(wake))
}

/// The rollout is done: every replica updated, available, and no old ones left.
fn is_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let replicas = deployment_replicas(d);
    status.updated_replicas == Some(replicas)
        && status.replicas == Some(replicas)
        && status.available_replicas == Some(replicas)
}

fn progress_deadline(d: &Deployment) -> Option<std::time::Duration> {
    let secs = d.spec.as_ref()?.progress_deadline_seconds?;
    // MaxInt32 means "no deadline", as upstream.
    (secs != i32::MAX && secs > 0).then(|| std::time::Duration::from_secs(secs as u64))
}

/// Time left until the Progressing condition times out, while it can.
fn progress_deadline_in(d: &Deployment, status: &DeploymentStatus) -> Option<std::time::Duration> {
    let deadline = progress_deadline(d)?;
    let cond = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing")?;
    if cond.status != "True" || cond.reason.as_deref() == Some("NewReplicaSetAvailable") {
        return None;
    }
    let since = cond.last_update_time.as_ref()?.0;
    let elapsed =
        std::time::Duration::try_from(Timestamp::now().duration_since(since)).unwrap_or_default();
    Some(deadline.saturating_sub(elapsed) + std::time::Duration::from_millis(100))
}

impl Sync<'_> {
    /// Remember a ReplicaSet write: the next reconcile waits for the cache to show it.
    fn wrote(&self, rs: &ReplicaSet) {
        let uid = self.d.uid().unwrap_or_default();
        self.ctx.informers.replicasets().expect_written(&uid, rs);
    }

    fn all(&self) -> Vec<&ReplicaSet> {
        self.new_rs.iter().chain(self.old.iter()).collect()
    }

    fn max_old_revision(&self) -> i64 {
        self.old.iter().map(revision).max().unwrap_or(0)
    }

    fn replicas(&self) -> i32 {
        deployment_replicas(self.d)
    }

    fn max_replicas_annotation(&self) -> Result<String> {
        Ok((self.replicas() + max_surge(self.d)?).to_string())
    }

    /// Find-or-create the ReplicaSet for the current template; an existing
    /// one (e.g. after `rollout undo`) gets revision max(old)+1.
    async fn ensure_new_rs(&mut self, name: &str, hash: &str) -> Result<()> {
        let next_revision = (self.max_old_revision() + 1).to_string();
        if let Some(rs) = self.new_rs.clone() {
            let mut wanted = BTreeMap::new();
            if revision(&rs) <= self.max_old_revision() {
                wanted.insert(REVISION.to_string(), next_revision);
            }
            wanted.insert(DESIRED_REPLICAS.to_string(), self.replicas().to_string());
            wanted.insert(MAX_REPLICAS.to_string(), self.max_replicas_annotation()?);
            let changed = wanted
                .iter()
                .any(|(k, v)| rs.annotations().get(k) != Some(v));
            if changed {
                let patch = json!({ "metadata": { "annotations": wanted } });
                let updated = self
                    .rs_api
                    .patch(
                        &rs.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(patch),
                    )
                    .await?;
                self.wrote(&updated);
                self.new_rs = Some(updated);
            }
            if !has_progressing(self.d) {
                self.progress_note = Some((
                    "FoundNewReplicaSet",
                    format!("Found new replica set \"{}\"", rs.name_any()),
                ));
            }
            return Ok(());
        }
        let spec = self
            .d
            .spec
            .as_ref()
            .ok_or_else(|| ControllerError::MissingField(self.d.name_any(), "spec"))?;
        let mut template = spec.template.clone();
        let tmeta = template.metadata.get_or_insert_with(Default::default);
        tmeta
            .labels
            .get_or_insert_with(Default::default)
            .insert(template_hash::LABEL.into(), hash.into());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(template_hash::LABEL.into(), hash.into());
        let all = self.all();
        let replicas = new_rs_replicas(self.d, &all, 0)?;
        let replicas = if is_rolling_update(self.d) {
            replicas
        } else {
            0
        };
        let annotations = BTreeMap::from([
            (REVISION.to_string(), next_revision),
            (DESIRED_REPLICAS.to_string(), self.replicas().to_string()),
            (MAX_REPLICAS.to_string(), self.max_replicas_annotation()?),
        ]);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: self.d.namespace(),
                labels: tmeta.labels.clone(),
                annotations: Some(annotations),
                owner_references: Some(vec![owner_reference(self.d)?]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let created = self.rs_api.create(&PostParams::default(), &rs).await?;
        self.wrote(&created);
        if replicas > 0 {
            let msg = format!("Scaled up replica set {name} to {replicas} from 0");
            events::record(
                &self.ctx.client,
                COMPONENT,
                self.d,
                "Normal",
                "ScalingReplicaSet",
                msg,
            )
            .await;
        }
        self.progress_note = Some((
            "NewReplicaSetCreated",
            format!("Created new replica set \"{name}\""),
        ));
        self.new_rs = Some(created);
        Ok(())
    }

    /// Set `rs` to `to` replicas (and the size annotations); event on change.
    async fn scale(&self, rs: &ReplicaSet, to: i32) -> Result<ReplicaSet> {
        let from = spec_replicas(rs);
        let desired = self.replicas().to_string();
        let max = self.max_replicas_annotation()?;
        let annotations_ok = rs.annotations().get(DESIRED_REPLICAS) == Some(&desired)
            && rs.annotations().get(MAX_REPLICAS) == Some(&max);
        if from == to && annotations_ok {
            return Ok(rs.clone());
        }
        let patch = json!({
            "metadata": { "annotations": { DESIRED_REPLICAS: desired, MAX_REPLICAS: max } },
            "spec": { "replicas": to },
        });
        let updated = self
            .rs_api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        self.wrote(&updated);
        if from != to {
            let dir = if to > from { "up" } else { "down" };
            let msg = format!(
                "Scaled {dir} replica set {} to {to} from {from}",
                rs.name_any()
            );
            events::record(
                &self.ctx.client,
                COMPONENT,
                self.d,
                "Normal",
                "ScalingReplicaSet",
                msg,
            )
            .await;
        }
        Ok(updated)
    }

    async fn scale_new(&mut self, to: i32) -> Result<bool> {
        let Some(rs) = self.new_rs.clone() else {
            return Ok(false);
        };
        if spec_replicas(&rs) == to {
            return Ok(false);
        }
        self.new_rs = Some(self.scale(&rs, to).await?);
        Ok(true)
    }

    async fn scale_old(&mut self, index: usize, to: i32) -> Result<()> {
        let updated = self.scale(&self.old[index], to).await?;
        self.old[index] = updated;
        Ok(())
    }

    /// Grow (or shrink to size) the new ReplicaSet; true if it changed.
    async fn rolling_new(&mut self) -> Result<bool> {
        let Some(rs) = &self.new_rs else {
            return Ok(false);
        };
        let current = spec_replicas(rs);
        let replicas = self.replicas();
        if current == replicas {
            return Ok(false);
        }
        if current > replicas {
            return self.scale_new(replicas).await;
        }
        let target = new_rs_replicas(self.d, &self.all(), current)?;
        self.scale_new(target).await
    }

    /// Shrink old ReplicaSets as far as availability allows: first their
    /// unhealthy pods, then healthy ones down to minAvailable.
    async fn rolling_old(&mut self) -> Result<bool> {
        let Some(new_rs) = self.new_rs.clone() else {
            return Ok(false);
        };
        if self.old.iter().all(|rs| spec_replicas(rs) == 0) {
            return Ok(false);
        }
        let max_down = max_old_scale_down(self.d, &self.all(), &new_rs)?;
        if max_down <= 0 {
            return Ok(false);
        }
        let mut cleaned = 0;
        for i in 0..self.old.len() {
            if cleaned >= max_down {
                break;
            }
            let rs = &self.old[i];
            let unhealthy = spec_replicas(rs) - available_replicas(rs);
            if spec_replicas(rs) == 0 || unhealthy <= 0 {
                continue;
            }
            let down = unhealthy.min(max_down - cleaned);
            let to = spec_replicas(rs) - down;
            self.scale_old(i, to).await?;
            cleaned += down;
        }
        let min_available = self.replicas() - max_unavailable(self.d)?;
        let available: i32 = self.all().iter().map(|rs| available_replicas(rs)).sum();
        let budget = available - min_available;
        let mut scaled = 0;
        for i in 0..self.old.len() {
            if scaled >= budget {
                break;
            }
            let current = spec_replicas(&self.old[i]);
            if current == 0 {
                continue;
            }
            let down = current.min(budget - scaled);
            self.scale_old(i, current - down).await?;
            scaled += down;
        }
        Ok(cleaned + scaled.max(0) > 0)
    }

    /// Recreate: old ReplicaSets to 0, wait for their pods to go, then the
    /// new ReplicaSet straight to full size.
    async fn recreate(&mut self, name: &str, hash: &str) -> Result<()> {
        for i in 0..self.old.len() {
            if spec_replicas(&self.old[i]) > 0 {
                self.scale_old(i, 0).await?;
            }
        }
        self.ensure_new_rs(name, hash).await?;
        let old_pods: i32 = self
            .old
            .iter()
            .map(|rs| rs.status.as_ref().map_or(0, |s| s.replicas))
            .sum();
        if old_pods > 0 {
            return Ok(());
        }
        let replicas = self.replicas();
        self.scale_new(replicas).await?;
        Ok(())
    }

    /// Paused: no rollout, but a lone active ReplicaSet follows spec.replicas.
    async fn scale_only(&mut self) -> Result<()> {
        let replicas = self.replicas();
        let active_old = self.old.iter().filter(|rs| spec_replicas(rs) > 0).count();
        if self.new_rs.is_some() && active_old == 0 {
            self.scale_new(replicas).await?;
        } else if self.new_rs.is_none() && active_old == 1 {
            if let Some(i) = self.old.iter().position(|rs| spec_replicas(rs) > 0) {
                self.scale_old(i, replicas).await?;
            }
        }
        Ok(())
    }

    /// Delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit.
    async fn cleanup(&mut self) -> Result<()> {
        let limit = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(DEFAULT_HISTORY_LIMIT);
        let limit = usize::try_from(limit).unwrap_or(0);
        let mut idle: Vec<&ReplicaSet> = self
            .old
            .iter()
            .filter(|rs| {
                spec_replicas(rs) == 0 && rs.status.as_ref().is_none_or(|s| s.replicas == 0)
            })
            .collect();
        if idle.len() <= limit {
            return Ok(());
        }
        idle.sort_by_key(|rs| revision(rs));
        let doomed: Vec<String> = idle[..idle.len() - limit]
            .iter()
            .map(|rs| rs.name_any())
            .collect();
        let uid = self.d.uid().unwrap_or_default();
        let cache = self.ctx.informers.replicasets();
        for name in &doomed {
            match self.rs_api.delete(name, &DeleteParams::background()).await {
                Ok(outcome) => {
                    if let Some(rs) = self.old.iter().find(|rs| rs.name_any() == *name) {
                        cache.expect_deleted(&uid, rs, outcome.left().as_ref());
                    }
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.old.retain(|rs| !doomed.contains(&rs.name_any()));
        Ok(())
    }

    /// The Deployment carries its current revision, as upstream (`kubectl rollout status`).
    async fn record_revision(&self) -> Result<()> {
        let Some(rs) = &self.new_rs else {
            return Ok(());
        };
        let rev = revision(rs).to_string();
        if revision(rs) == 0 || self.d.annotations().get(REVISION) == Some(&rev) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        let patch = json!({ "metadata": { "annotations": { REVISION: rev } } });
        api.patch(
            &self.d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
        Ok(())
    }

    /// Remember that this ReplicaSet's rollout completed: a revision to roll back to.
    async fn mark_available(&mut self) -> Result<()> {
        let Some(rs) = &self.new_rs else {
            return Ok(());
        };
        if rs.annotations().contains_key(auto_rollback::AVAILABLE_AT) {
            return Ok(());
        }
        let patch = json!({ "metadata": { "annotations": {
            auto_rollback::AVAILABLE_AT: Timestamp::now().to_string()
        } } });
        let updated = self
            .rs_api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        self.wrote(&updated);
        self.new_rs = Some(updated);
        Ok(())
    }

    /// Roll back a failing rollout when asked to. True when it did.
    async fn auto_rollback(&self, status: &DeploymentStatus) -> Result<bool> {
        if !auto_rollback::enabled(self.d, self.ctx.auto_rollback_default) {
            return Ok(false);
        }
        let Some(new_rs) = &self.new_rs else {
            return Ok(false);
        };
        if self.d.spec.as_ref().and_then(|s| s.paused) == Some(true) {
            return Ok(false);
        }
        let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
        let new_uid = new_rs.uid().unwrap_or_default();
        let pods: Vec<Arc<Pod>> = self.ctx.informers.pods().controlled_by(&new_uid);
        let Some(failure) =
            auto_rollback::rollout_failure(self.d, deadline_exceeded, &pods, Timestamp::now())
        else {
            return Ok(false);
        };
        let Some(target) = auto_rollback::rollback_target(&self.old) else {
            // Nothing known-good to go back to: say so once, keep the rollout.
            let already = self
                .d
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| {
                    c.type_ == auto_rollback::CONDITION
                        && c.reason.as_deref() == Some("NoAvailableRevision")
                });
            if !already {
                let mut status = status.clone();
                set_condition(
                    status.conditions.get_or_insert_with(Vec::new),
                    auto_rollback::CONDITION,
                    "False",
                    "NoAvailableRevision",
                    &format!(
                        "rollout is failing ({}) but no earlier revision was ever fully available",
                        failure.message
                    ),
                    true,
                );
                self.update_status(status).await?;
            }
            return Ok(false);
        };
        let Some(mut template) = target.spec.as_ref().and_then(|s| s.template.clone()) else {
            return Ok(false);
        };
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(template_hash::LABEL);
        }
        let from = revision(new_rs);
        let to = revision(target);
        let message = format!(
            "Rolled back from revision {from} to revision {to} ({}): {}",
            failure.reason, failure.message
        );
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        // Like `kubectl rollout undo`: the template goes back; the controller
        // then finds the old ReplicaSet as the new one and scales it up.
        let patch = json!({ "spec": { "template": template } });
        api.patch(
            &self.d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?;
        let mut status = status.clone();
        set_condition(
            status.conditions.get_or_insert_with(Vec::new),
            auto_rollback::CONDITION,
            "True",
            failure.reason,
            &message,
            true,
        );
        self.update_status(status).await?;
        events::record(
            &self.ctx.client,
            COMPONENT,
            self.d,
            "Warning",
            "AutoRollback",
            message,
        )
        .await;
        Ok(true)
    }

    async fn update_status(&self, status: DeploymentStatus) -> Result<()> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        api.patch_status(
            &self.d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .map(|written| {
            // The next reconcile must see this status (conditions are
            // computed from the cached copy; a stale one would drop
            // RolledBack): wait for the cache like for owned ReplicaSets.
            if let Some(uid) = self.d.uid() {
                self.ctx
                    .informers
                    .deployments()
                    .expect_written(&status_key(&uid), &written);
            }
        })?;
        Ok(())
    }

    fn compute_status(&self) -> Result<DeploymentStatus> {
        let all = self.all();
        let sum = |f: &dyn Fn(&ReplicaSet) -> i32| all.iter().map(|rs| f(rs)).sum::<i32>();
        let actual = |rs: &ReplicaSet| rs.status.as_ref().map_or(0, |s| s.replicas);
        let available = sum(&available_replicas);
        let total_spec = sum(&spec_replicas);
        let previous = self.d.status.clone().unwrap_or_default();
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: Some(sum(&actual)),
            updated_replicas: Some(self.new_rs.as_ref().map_or(0, actual)),
            ready_replicas: Some(sum(&|rs| {
                rs.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0)
            })),
            available_replicas: Some(available),
            unavailable_replicas: Some((total_spec - available).max(0)),
            collision_count: previous.collision_count,
            conditions: previous.conditions.clone(),
            terminating_replicas: previous.terminating_replicas,
        };
        let replicas = self.replicas();
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        if available >= replicas - max_unavailable(self.d)? {
            set_condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                false,
            );
        } else {
            set_condition(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                false,
            );
        }
        let paused = self.d.spec.as_ref().and_then(|s| s.paused) == Some(true);
        let progressing = conditions
            .iter()
            .find(|c| c.type_ == "Progressing")
            .map(|c| c.reason.clone());
        let new_name = self
            .new_rs
            .as_ref()
            .map(|rs| rs.name_any())
            .unwrap_or_default();
        if paused {
            set_condition(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                false,
            );
        } else if progressing.flatten().as_deref() == Some("DeploymentPaused") {
            set_condition(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                false,
            );
        } else if let Some((reason, message)) = &self.progress_note {
            set_condition(conditions, "Progressing", "True", reason, message, true);
        } else if self.new_rs.is_some() {
            let complete = status.updated_replicas == Some(replicas)
                && status.replicas == Some(replicas)
                && available == replicas;
            let moved = status.updated_replicas > previous.updated_replicas
                || status.ready_replicas > previous.ready_replicas
                || status.available_replicas > previous.available_replicas
                || status.replicas < previous.replicas;
            if complete {
                let msg = format!("ReplicaSet \"{new_name}\" has successfully progressed.");
                set_condition(
                    conditions,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &msg,
                    true,
                );
            } else if moved {
                let msg = format!("ReplicaSet \"{new_name}\" is progressing.");
                set_condition(
                    conditions,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &msg,
                    true,
                );
            } else if timed_out(self.d, conditions) {
                let msg = format!("ReplicaSet \"{new_name}\" has timed out progressing.");
                set_condition(
                    conditions,
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &msg,
                    true,
                );
            }
        }
        if matches!(self.progress_note, Some(("NewReplicaSetCreated", _))) {
            // A new rollout: an earlier automatic rollback is history.
            conditions.retain(|c| c.type_ != auto_rollback::CONDITION);
        }
        Ok(status)
    }
}

/// Expectations key for a Deployment's own status writes.
fn status_key(uid: &str) -> String {
    format!("status:{uid}")
}

/// Progressing has not moved for progressDeadlineSeconds.
fn timed_out(d: &Deployment, conditions: &[DeploymentCondition]) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(cond) = conditions.iter().find(|c| c.type_ == "Progressing") else {
        return false;
    };
    if cond.status != "True" || cond.reason.as_deref() == Some("NewReplicaSetAvailable") {
        return false;
    }
    let Some(since) = cond.last_update_time.as_ref().map(|t| t.0) else {
        return false;
    };
    std::time::Duration::try_from(Timestamp::now().duration_since(since))
        .is_ok_and(|elapsed| elapsed >= deadline)
}

fn has_progressing(d: &Deployment) -> bool {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Progressing"))
}

/// Add or replace a condition. The transition time moves only when status
/// changes; `touch` also refreshes lastUpdateTime when reason/message change.
fn set_condition(
    conds: &mut Vec<DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    touch: bool,
) {
    let now = Time(Timestamp::now());
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        let same = c.status == status
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message);
        if same {
            return;
        }
        if c.status != status {
            c.last_transition_time = Some(now.clone());
        }
        if touch || c.status != status || c.reason.as_deref() != Some(reason) {
            c.last_update_time = Some(now);
        }
        c.status = status.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        return;
    }
    conds.push(DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(now.clone()),
        last_update_time: Some(now),
    });
}
