//! Which Rust type carries the schema of each (group, version, kind).
//! Driven by k8s-openapi's `Resource` constants so a typo cannot map a kind
//! to the wrong type; kinds the registry may add later are listed already.

use k8s_openapi::api;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::Resource;
use schemars::{JsonSchema, SchemaGenerator};

/// Adds `T` (and everything it references) to the generator's definitions
/// and returns its definition name.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

macro_rules! resource_types {
    ($($t:ty),* $(,)?) => {
        /// Adds the schema of a kind to the generator; `None` when k8s-openapi
        /// has no type for it (connect options such as PodExecOptions).
        pub(crate) fn add_kind(
            generator: &mut SchemaGenerator,
            group: &str,
            version: &str,
            kind: &str,
        ) -> Option<String> {
            $(
                if <$t as Resource>::GROUP == group
                    && <$t as Resource>::VERSION == version
                    && <$t as Resource>::KIND == kind
                {
                    return Some(add::<$t>(generator));
                }
            )*
            None
        }

        /// The definition name of a kind, without generating its schema.
        pub(crate) fn definition_name(group: &str, version: &str, kind: &str) -> Option<String> {
            $(
                if <$t as Resource>::GROUP == group
                    && <$t as Resource>::VERSION == version
                    && <$t as Resource>::KIND == kind
                {
                    return Some(<$t as JsonSchema>::schema_name().into_owned());
                }
            )*
            None
        }
    };
}

resource_types!(
    api::core::v1::Binding,
    api::core::v1::ComponentStatus,
    api::core::v1::ConfigMap,
    api::core::v1::Endpoints,
    api::core::v1::Event,
    api::core::v1::LimitRange,
    api::core::v1::Namespace,
    api::core::v1::Node,
    api::core::v1::PersistentVolume,
    api::core::v1::PersistentVolumeClaim,
    api::core::v1::Pod,
    api::core::v1::PodTemplate,
    api::core::v1::ReplicationController,
    api::core::v1::ResourceQuota,
    api::core::v1::Secret,
    api::core::v1::Service,
    api::core::v1::ServiceAccount,
    api::admissionregistration::v1::MutatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingAdmissionPolicy,
    api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    api::apps::v1::ControllerRevision,
    api::apps::v1::DaemonSet,
    api::apps::v1::Deployment,
    api::apps::v1::ReplicaSet,
    api::apps::v1::StatefulSet,
    api::authentication::v1::SelfSubjectReview,
    api::authentication::v1::TokenRequest,
    api::authentication::v1::TokenReview,
    api::authorization::v1::LocalSubjectAccessReview,
    api::authorization::v1::SelfSubjectAccessReview,
    api::authorization::v1::SelfSubjectRulesReview,
    api::authorization::v1::SubjectAccessReview,
    api::autoscaling::v1::HorizontalPodAutoscaler,
    api::autoscaling::v1::Scale,
    api::autoscaling::v2::HorizontalPodAutoscaler,
    api::batch::v1::CronJob,
    api::batch::v1::Job,
    api::certificates::v1::CertificateSigningRequest,
    api::coordination::v1::Lease,
    api::discovery::v1::EndpointSlice,
    api::events::v1::Event,
    api::flowcontrol::v1::FlowSchema,
    api::flowcontrol::v1::PriorityLevelConfiguration,
    api::networking::v1::IPAddress,
    api::networking::v1::Ingress,
    api::networking::v1::IngressClass,
    api::networking::v1::NetworkPolicy,
    api::networking::v1::ServiceCIDR,
    api::node::v1::RuntimeClass,
    api::policy::v1::Eviction,
    api::policy::v1::PodDisruptionBudget,
    api::rbac::v1::ClusterRole,
    api::rbac::v1::ClusterRoleBinding,
    api::rbac::v1::Role,
    api::rbac::v1::RoleBinding,
    api::scheduling::v1::PriorityClass,
    api::storage::v1::CSIDriver,
    api::storage::v1::CSINode,
    api::storage::v1::CSIStorageCapacity,
    api::storage::v1::StorageClass,
    api::storage::v1::VolumeAttachment,
);

/// Definitions of the meta types every group-version document carries.
pub(crate) struct MetaDefinitions {
    pub delete_options: String,
    pub status: String,
    pub watch_event: String,
    pub patch: String,
    pub list_meta: String,
}

pub(crate) fn add_meta(generator: &mut SchemaGenerator) -> MetaDefinitions {
    MetaDefinitions {
        delete_options: add::<meta::DeleteOptions>(generator),
        status: add::<meta::Status>(generator),
        // WatchEvent's schema does not depend on its type parameter.
        watch_event: add::<meta::WatchEvent<api::core::v1::Pod>>(generator),
        patch: add::<meta::Patch>(generator),
        list_meta: add::<meta::ListMeta>(generator),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_kind_and_subresource_body_with_a_type_is_mapped() {
        let mut generator = SchemaGenerator::default();
        for r in berth_api::REGISTRY {
            assert!(
                add_kind(&mut generator, r.group, r.version, r.kind).is_some(),
                "no schema type for {}/{} {}",
                r.group,
                r.version,
                r.kind
            );
        }
        assert_eq!(
            add_kind(&mut generator, "autoscaling", "v1", "Scale").as_deref(),
            Some("io.k8s.api.autoscaling.v1.Scale")
        );
        assert_eq!(add_kind(&mut generator, "", "v1", "PodExecOptions"), None);
        assert_eq!(add_kind(&mut generator, "apps", "v1", "Pod"), None);
    }
}
