//! Why no node fits, worded exactly as kube-scheduler words it:
//!
//! `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated
//! taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are
//! available: 1 No preemption victims found for incoming pod, 2 Preemption is
//! not helpful for scheduling.`
//!
//! Each node contributes the reasons of the first filter that turned it down;
//! equal reasons are counted, and the "count reason" strings are sorted as
//! strings (so "10 …" sorts before "2 …", as upstream's do).

use crate::plugins::Rejection;
use crate::pod_info::PodInfo;
use crate::preemption::{Candidate, PostFilterResult};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Message when the cluster has no nodes at all.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

#[derive(Clone, Debug)]
pub struct FitError {
    /// "namespace/name" of the pod.
    pub pod: String,
    pub num_all_nodes: usize,
    /// Node name → the rejection of the first filter that failed there.
    pub rejections: BTreeMap<String, Rejection>,
    /// A PreFilter turned the pod down everywhere: its reasons replace the
    /// per-node histogram (as upstream's PreFilterMsg).
    pub pre_filter_message: String,
    /// What preemption said ("preemption: …"), appended after the filters;
    /// empty when it found victims.
    pub post_filter_message: String,
    /// Victims to evict and the node that frees, when preemption can help.
    pub preemption: Option<Box<Candidate>>,
}

impl FitError {
    pub fn new(pod: &PodInfo, num_all_nodes: usize) -> Self {
        FitError {
            pod: pod.key.clone(),
            num_all_nodes,
            rejections: BTreeMap::new(),
            pre_filter_message: String::new(),
            post_filter_message: String::new(),
            preemption: None,
        }
    }

    pub fn set_post_filter(&mut self, result: PostFilterResult) {
        match result {
            PostFilterResult::Preempt(candidate) => self.preemption = Some(Box::new(candidate)),
            PostFilterResult::NotPossible(message) => self.post_filter_message = message,
        }
    }
}

/// "1 Insufficient cpu, 2 node(s) were unschedulable": counted, sorted.
pub fn reasons_histogram<'a>(rejections: impl IntoIterator<Item = &'a Rejection>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in rejections {
        for reason in &r.reasons {
            *counts.entry(reason.as_ref()).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = counts
        .into_iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    parts.sort();
    parts.join(", ")
}

/// "0/N nodes are available: <histogram>." as both the filter and the
/// preemption parts print it.
pub fn nodes_available_message<'a>(
    num_all_nodes: usize,
    rejections: impl IntoIterator<Item = &'a Rejection>,
) -> String {
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    let histogram = reasons_histogram(rejections);
    if !histogram.is_empty() {
        msg.push(' ');
        msg.push_str(&histogram);
        msg.push('.');
    }
    msg
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            return f.write_str(NO_NODES_AVAILABLE);
        }
        if self.pre_filter_message.is_empty() {
            f.write_str(&nodes_available_message(
                self.num_all_nodes,
                self.rejections.values(),
            ))?;
        } else {
            write!(
                f,
                "0/{} nodes are available: {}.",
                self.num_all_nodes, self.pre_filter_message
            )?;
        }
        if !self.post_filter_message.is_empty() {
            write!(f, " {}", self.post_filter_message)?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_sorts_as_strings() {
        let r = |s: &'static str| Rejection::unresolvable(s);
        let mut rejections = vec![r("node(s) were unschedulable"); 10];
        rejections.push(r("Insufficient cpu"));
        rejections.push(r("Insufficient cpu"));
        assert_eq!(
            reasons_histogram(&rejections),
            "10 node(s) were unschedulable, 2 Insufficient cpu"
        );
    }

    #[test]
    fn message_parts() {
        let mut rejections = BTreeMap::new();
        rejections.insert(
            "a".to_string(),
            Rejection::unschedulable(vec!["Insufficient cpu", "Insufficient memory"]),
        );
        let e = FitError {
            pod: "default/p".into(),
            num_all_nodes: 1,
            rejections,
            pre_filter_message: String::new(),
            post_filter_message: "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into(),
            preemption: None,
        };
        assert_eq!(
            e.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. \
             preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        );
        let none = FitError {
            num_all_nodes: 0,
            rejections: BTreeMap::new(),
            post_filter_message: String::new(),
            ..e
        };
        assert_eq!(none.to_string(), "no nodes available to schedule pods");
        let pre = FitError {
            num_all_nodes: 3,
            pre_filter_message: "persistentvolumeclaim \"data\" not found".into(),
            post_filter_message:
                "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
                    .into(),
            ..none
        };
        assert_eq!(
            pre.to_string(),
            "0/3 nodes are available: persistentvolumeclaim \"data\" not found. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }
}
