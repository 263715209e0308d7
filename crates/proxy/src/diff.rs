//! The smallest nft script that turns the table from one `Ruleset` into
//! another, as one transaction:
//!
//! ```text
//!  1. add chain    (new chains, empty: later statements may point at them)
//!  2. add set      (new affinity sets)
//!  3. flush chain + add rule   (new and changed chains)
//!  4. delete element           (gone keys, and keys whose value changed)
//!  5. add element              (new keys, and the changed ones again)
//!  6. flush, then delete chain; delete set (nothing points at them any more)
//! ```
//! A changed skeleton cannot be patched: the caller does a full sync then.

use crate::ruleset::{write_elements, Elements, Ruleset, FAMILY, TABLE};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One element of a container: key and optional value.
type ElementRef<'a> = (&'a String, &'a Option<String>);

/// The script from `old` to `new`; empty when nothing changed.
/// Returns `None` when the static part differs and only a full sync will do.
pub fn diff_script(old: &Ruleset, new: &Ruleset) -> Option<String> {
    if old.skeleton != new.skeleton {
        return None;
    }
    let mut out = String::new();

    let mut rewritten: Vec<(&String, &Vec<String>)> = Vec::new();
    for (name, rules) in &new.chains {
        match old.chains.get(name) {
            None => {
                let _ = writeln!(out, "add chain {FAMILY} {TABLE} {name}");
                rewritten.push((name, rules));
            }
            Some(old_rules) if old_rules != rules => rewritten.push((name, rules)),
            Some(_) => {}
        }
    }
    for (name, body) in &new.sets {
        // A set's name carries its whole declaration (see names.rs), so an
        // existing name never needs its declaration changed.
        if !old.sets.contains_key(name) {
            let _ = writeln!(out, "add set {FAMILY} {TABLE} {name} {{ {body} }}");
        }
    }
    for (name, rules) in rewritten {
        let _ = writeln!(out, "flush chain {FAMILY} {TABLE} {name}");
        for rule in rules {
            let _ = writeln!(out, "add rule {FAMILY} {TABLE} {name} {rule}");
        }
    }

    let empty = Elements::new();
    let containers: BTreeMap<&str, ()> = old
        .elements
        .keys()
        .chain(new.elements.keys())
        .map(|c| (*c, ()))
        .collect();
    let mut additions: Vec<(&str, Vec<ElementRef>)> = Vec::new();
    for container in containers.keys() {
        let before = old.elements.get(container).unwrap_or(&empty);
        let after = new.elements.get(container).unwrap_or(&empty);
        let removed = before
            .iter()
            .filter(|(k, v)| after.get(*k) != Some(*v))
            .collect::<Vec<_>>();
        write_elements(&mut out, "delete", container, removed.into_iter(), false);
        let added = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v))
            .collect::<Vec<_>>();
        if !added.is_empty() {
            additions.push((container, added));
        }
    }
    for (container, added) in additions {
        write_elements(&mut out, "add", container, added.into_iter(), true);
    }

    // Flush every removed chain before deleting any: a removed service
    // chain still points at its removed endpoint chains until flushed.
    let removed: Vec<&String> = old
        .chains
        .keys()
        .filter(|n| !new.chains.contains_key(*n))
        .collect();
    for name in &removed {
        let _ = writeln!(out, "flush chain {FAMILY} {TABLE} {name}");
    }
    for name in &removed {
        let _ = writeln!(out, "delete chain {FAMILY} {TABLE} {name}");
    }
    for name in old.sets.keys().filter(|n| !new.sets.contains_key(*n)) {
        let _ = writeln!(out, "delete set {FAMILY} {TABLE} {name}");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Ruleset {
        let mut rs = Ruleset {
            skeleton: "S".into(),
            ..Default::default()
        };
        rs.chains.insert("svc-A".into(), vec!["goto ep-A1".into()]);
        rs.chains
            .insert("ep-A1".into(), vec!["dnat to 10.42.0.1:80".into()]);
        rs.add_element(
            "service-ips",
            "10.96.0.1 . tcp . 80".into(),
            Some("goto svc-A".into()),
        );
        rs.add_element("cluster-ips", "10.96.0.1".into(), None);
        rs
    }

    #[test]
    fn no_change_means_empty_script() {
        assert_eq!(diff_script(&base(), &base()).unwrap(), "");
    }

    #[test]
    fn changed_skeleton_needs_full_sync() {
        let mut new = base();
        new.skeleton = "T".into();
        assert!(diff_script(&base(), &new).is_none());
    }

    #[test]
    fn new_endpoint_touches_only_its_chains() {
        let mut new = base();
        new.chains
            .insert("ep-A2".into(), vec!["dnat to 10.42.0.2:80".into()]);
        new.chains.insert(
            "svc-A".into(),
            vec![
                "numgen random mod 2 == 0 goto ep-A1".into(),
                "goto ep-A2".into(),
            ],
        );
        let script = diff_script(&base(), &new).unwrap();
        assert_eq!(
            script,
            "add chain ip berth ep-A2\n\
             flush chain ip berth ep-A2\n\
             add rule ip berth ep-A2 dnat to 10.42.0.2:80\n\
             flush chain ip berth svc-A\n\
             add rule ip berth svc-A numgen random mod 2 == 0 goto ep-A1\n\
             add rule ip berth svc-A goto ep-A2\n"
        );
    }

    #[test]
    fn removed_service_deletes_elements_before_chains() {
        let mut new = base();
        new.chains.clear();
        new.elements.clear();
        let script = diff_script(&base(), &new).unwrap();
        assert_eq!(
            script,
            "delete element ip berth cluster-ips { 10.96.0.1 }\n\
             delete element ip berth service-ips { 10.96.0.1 . tcp . 80 }\n\
             flush chain ip berth ep-A1\n\
             flush chain ip berth svc-A\n\
             delete chain ip berth ep-A1\n\
             delete chain ip berth svc-A\n"
        );
    }

    #[test]
    fn changed_verdict_is_deleted_then_added() {
        let mut new = base();
        new.add_element(
            "service-ips",
            "10.96.0.1 . tcp . 80".into(),
            Some("goto svc-B".into()),
        );
        new.chains.insert("svc-B".into(), vec![]);
        let script = diff_script(&base(), &new).unwrap();
        let del = script.find("delete element ip berth service-ips { 10.96.0.1 . tcp . 80 }");
        let add =
            script.find("add element ip berth service-ips { 10.96.0.1 . tcp . 80 : goto svc-B }");
        let chain = script.find("add chain ip berth svc-B");
        assert!(chain < del && del < add, "{script}");
    }
}
