//! Which dead containers and sandboxes to remove (the kubelet's containerGC
//! policy, MinAge 0): per pod and container name keep the newest
//! `max_dead` dead instances — never fewer than one, so restart decisions,
//! `lastState` and `kubectl logs --previous` keep working — and remove the
//! rest, oldest first. Pods the agent no longer runs lose all of them.

use std::collections::{HashMap, HashSet};

/// A container as the GC sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadOrAlive {
    pub id: String,
    pub pod_uid: String,
    pub name: String,
    pub running: bool,
    pub created_at: i64,
}

/// Ids of dead containers to remove. `active` holds the uids of pods the agent runs.
pub fn evictable(
    containers: &[DeadOrAlive],
    active: &HashSet<String>,
    max_dead: usize,
) -> Vec<String> {
    let mut groups: HashMap<(&str, &str), Vec<&DeadOrAlive>> = HashMap::new();
    for c in containers.iter().filter(|c| !c.running) {
        groups
            .entry((c.pod_uid.as_str(), c.name.as_str()))
            .or_default()
            .push(c);
    }
    let mut out = Vec::new();
    for ((uid, _), mut dead) in groups {
        // Newest first; those past the limit go.
        dead.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        let keep = if active.contains(uid) {
            max_dead.max(1)
        } else {
            0
        };
        out.extend(dead.into_iter().skip(keep).map(|c| c.id.clone()));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, uid: &str, name: &str, running: bool, at: i64) -> DeadOrAlive {
        DeadOrAlive {
            id: id.into(),
            pod_uid: uid.into(),
            name: name.into(),
            running,
            created_at: at,
        }
    }

    #[test]
    fn keeps_the_newest_dead_instance_per_container_of_live_pods() {
        let all = vec![
            c("a0", "p1", "app", false, 1),
            c("a1", "p1", "app", false, 2),
            c("a2", "p1", "app", false, 3),
            c("a3", "p1", "app", true, 4),
            c("i0", "p1", "init", false, 0),
            c("g0", "gone", "app", false, 1),
            c("g1", "gone", "app", true, 2),
        ];
        let active: HashSet<String> = ["p1".to_string()].into();
        assert_eq!(evictable(&all, &active, 1), ["a0", "a1", "g0"]);
        assert_eq!(evictable(&all, &active, 2), ["a0", "g0"]);
        // A limit of 0 still keeps the last one: the worker needs it.
        assert_eq!(evictable(&all, &active, 0), ["a0", "a1", "g0"]);
    }
}
