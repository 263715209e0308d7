//! kube-rs — a real client none of us wrote — drives berth's API server:
//! typed CRUD, errors, patches (incl. server-side apply), lists, dry-run,
//! subresources, deletion semantics, and the runtime watcher/reflector.
//!
//! ```text
//! kube::Api<T> / kube::runtime ──HTTPS──▶ berth_apiserver (in process, memory|sqlite store)
//! ```
//! Asynchronous effects (garbage collection, namespace cleanup) are awaited by
//! polling with a deadline, never by fixed sleeps.

mod support;

#[path = "kube_client/client_features.rs"]
mod client_features;
#[path = "kube_client/common.rs"]
mod common;
#[path = "kube_client/crud.rs"]
mod crud;
#[path = "kube_client/delete.rs"]
mod delete;
#[path = "kube_client/list.rs"]
mod list;
#[path = "kube_client/patch.rs"]
mod patch;
#[path = "kube_client/subresources.rs"]
mod subresources;
#[path = "kube_client/watch.rs"]
mod watch;
