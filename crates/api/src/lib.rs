//! The object model shared by every berth component: which resources exist
//! (the registry), label and field selectors, and Kubernetes `Status` errors.

pub mod registry;
pub mod selector;

pub mod status;

pub use registry::{ResourceInfo, Scope, Subresource, REGISTRY};
