//! JSON, merge, strategic merge patch and server-side apply on JSON objects.
//!
//! Pure functions over `serde_json::Value`; type knowledge (patch strategies,
//! merge keys, list and map types) comes from OpenAPI v3 `components.schemas`
//! through [`Schemas`].

mod error;
mod jsonpatch;
pub mod managed;
mod mergepatch;
mod precondition;
mod schema;
mod strategic;
#[cfg(test)]
mod test_schemas;

pub use error::PatchError;
pub use jsonpatch::json_patch;
pub use mergepatch::merge_patch;
pub use precondition::check_resource_version;
pub use schema::{Kind, ListKind, PatchStrategy, Schemas, Ty};
pub use strategic::strategic_merge_patch;
