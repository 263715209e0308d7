//! Controller ownerReferences: who controls an object, and the reference a
//! controller stamps on what it creates or adopts.

use crate::error::{ControllerError, Result};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// The ownerReference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// `{apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}` for `owner`.
pub fn owner_reference<K>(owner: &K) -> Result<OwnerReference>
where
    K: Resource<DynamicType = ()>,
{
    let uid = owner
        .uid()
        .ok_or_else(|| ControllerError::MissingField(owner.name_any(), "metadata.uid"))?;
    Ok(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Adopt an orphan pod: add `owner`'s controller reference. The uid in the
/// patch makes it fail if the pod was replaced meanwhile.
pub async fn adopt<K>(api: &Api<Pod>, owner: &K, pod: Pod) -> Result<Pod>
where
    K: Resource<DynamicType = ()>,
{
    let mut refs = pod.metadata.owner_references.clone().unwrap_or_default();
    refs.push(owner_reference(owner)?);
    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": pod.metadata.uid } });
    Ok(api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await?)
}

/// Release a pod that no longer matches: drop the reference to owner `uid`.
/// A pod already gone is released.
pub async fn release(api: &Api<Pod>, pod: &Pod, uid: &str) -> Result<()> {
    let refs: Vec<_> = pod
        .owner_references()
        .iter()
        .filter(|r| r.uid != uid)
        .collect();
    let patch = json!({ "metadata": { "ownerReferences": refs, "uid": pod.metadata.uid } });
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Create `count` copies of `pod` for `owner` in slow-start batches (1, 2, 4,
/// …): a failing template (quota, validation) costs one request, not
/// hundreds. Each created pod is expected in the pod cache and recorded as a
/// SuccessfulCreate event; the first error (after a FailedCreate event) stops.
pub async fn create_pods_slow_start<K>(
    ctx: &crate::runner::Context,
    api: &Api<Pod>,
    owner: &K,
    component: &str,
    pod: &Pod,
    count: usize,
) -> Result<()>
where
    K: Resource<DynamicType = ()>,
{
    let params = kube::api::PostParams::default();
    let owner_uid = owner.uid().unwrap_or_default();
    let mut remaining = count;
    let mut batch = 1;
    while remaining > 0 {
        let size = batch.min(remaining);
        let results = futures::future::join_all((0..size).map(|_| api.create(&params, pod))).await;
        let mut first_error = None;
        let mut events = Vec::with_capacity(size);
        for result in results {
            match result {
                Ok(created) => {
                    ctx.informers.pods().expect_written(&owner_uid, &created);
                    let msg = format!("Created pod: {}", created.name_any());
                    events.push(("Normal", "SuccessfulCreate", msg));
                }
                Err(err) => {
                    events.push(("Warning", "FailedCreate", format!("Error creating: {err}")));
                    first_error.get_or_insert(err);
                }
            }
        }
        // A batch's events at once, like its creates: one after another they
        // held the next batch back by a round trip per pod.
        futures::future::join_all(events.into_iter().map(|(type_, reason, msg)| {
            crate::events::record(&ctx.client, component, owner, type_, reason, msg)
        }))
        .await;
        if let Some(err) = first_error {
            return Err(err.into());
        }
        remaining -= size;
        batch *= 2;
    }
    Ok(())
}
