//! ResourceQuota usage and admission, and LimitRange defaulting and
//! validation, as upstream's ResourceQuota and LimitRanger admission plugins
//! and the resource-quota controller compute them. Pure: no I/O.

pub mod limit_range;
mod limit_range_error;
mod pod_resources;
pub mod quantity;
pub mod quota_check;
mod quota_error;
pub mod recalculate;
pub mod resource_list;
pub mod scopes;
#[cfg(test)]
mod testing;
pub mod usage;

pub use limit_range::{
    admit_pod, apply_pod_defaults, default_limit_range_item, default_requests_from_limits,
    validate_pod, validate_pvc, LIMIT_RANGER_ANNOTATION,
};
pub use limit_range_error::{LimitRangeError, LimitViolation};
pub use quantity::{Amount, Format, QuantityError};
pub use quota_check::{admit, check, pod_constraints, QuotaUpdate};
pub use quota_error::{QuotaError, QuotaExceeded};
pub use recalculate::{kinds_to_list, recalculate, GroupResource};
pub use resource_list::ResourceList;
pub use scopes::{hard_of, matches, matches_scope, matching_resources};
pub use usage::{
    object_count_name, pod_counts_for_compute, usage_of_pod, usage_of_pvc, usage_of_service,
    QuotaObject,
};
