//! rbac.authorization.k8s.io/v1 defaults: the role reference and User/Group
//! subjects name the RBAC API group when they leave it empty.

use serde_json::{Map, Value};

use crate::json::{default_str, each_obj, is_unset_str, obj, str_of};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// RoleBinding and ClusterRoleBinding.
pub fn default_binding(binding: &mut Map<String, Value>) {
    if let Some(role_ref) = obj(binding, "roleRef") {
        default_str(role_ref, "apiGroup", RBAC_GROUP);
    }
    for subject in each_obj(binding, "subjects") {
        if is_unset_str(subject.get("apiGroup"))
            && matches!(str_of(subject, "kind"), "User" | "Group")
        {
            subject.insert("apiGroup".into(), Value::from(RBAC_GROUP));
        }
    }
}
