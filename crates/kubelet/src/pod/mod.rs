//! Pods on this node: a source of desired pods, one worker per pod that
//! makes the runtime match it, and the status it reports back.

pub mod backoff;
pub mod hooks;
pub mod manager;
pub mod runtime;
pub mod status;
pub mod termination;
pub mod worker;

#[cfg(test)]
mod tests;
