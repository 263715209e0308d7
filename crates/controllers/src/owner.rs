//! Controller ownerReferences: who controls an object, and the reference a
//! controller stamps on what it creates or adopts.

use crate::error::{ControllerError, Result};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

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
