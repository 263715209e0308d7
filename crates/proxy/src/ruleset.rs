//! The desired content of `table ip berth` as data, and its full nft script.
//!
//! The table has a static part (base chains, dispatch maps, helper chains:
//! see `skeleton.rs`), which only changes with the node facts, and a dynamic
//! part: chains, affinity sets and map/set elements derived from the cluster
//! objects. Keeping the dynamic part as sorted maps lets `diff.rs` emit only
//! what changed.

use std::collections::BTreeMap;
use std::fmt::Write;

pub const FAMILY: &str = "ip";
pub const TABLE: &str = "berth";

/// Elements of one named map or set: key → value (`None` for plain sets).
pub type Elements = BTreeMap<String, Option<String>>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    /// The static declarations inside the table block.
    pub skeleton: String,
    /// Dynamic regular chains: name → rules in order.
    pub chains: BTreeMap<String, Vec<String>>,
    /// Dynamic sets (session affinity): name → declaration body.
    pub sets: BTreeMap<String, String>,
    /// Elements of the static maps and sets, by container name.
    pub elements: BTreeMap<&'static str, Elements>,
}

impl Ruleset {
    pub(crate) fn add_element(
        &mut self,
        container: &'static str,
        key: String,
        value: Option<String>,
    ) {
        self.elements
            .entry(container)
            .or_default()
            .insert(key, value);
    }

    /// Total number of dynamic rules (for logs and benches).
    pub fn rule_count(&self) -> usize {
        self.chains.values().map(Vec::len).sum()
    }

    /// A script that deletes and recreates the whole table in one transaction.
    pub fn full_script(&self) -> String {
        let mut out = String::with_capacity(self.estimated_size());
        // `add` first so that `delete` never fails on a fresh host.
        let _ = writeln!(out, "add table {FAMILY} {TABLE}");
        let _ = writeln!(out, "delete table {FAMILY} {TABLE}");
        let _ = writeln!(out, "table {FAMILY} {TABLE} {{");
        out.push_str(&self.skeleton);
        for (name, body) in &self.sets {
            let _ = writeln!(out, "\tset {name} {{ {body} }}");
        }
        for (name, rules) in &self.chains {
            let _ = write!(out, "\tchain {name} {{");
            for rule in rules {
                out.push_str("\n\t\t");
                out.push_str(rule);
            }
            out.push_str("\n\t}\n");
        }
        out.push_str("}\n");
        for (container, elements) in &self.elements {
            write_elements(&mut out, "add", container, elements.iter(), true);
        }
        out
    }

    fn estimated_size(&self) -> usize {
        let rules: usize = self
            .chains
            .iter()
            .map(|(n, r)| n.len() + 16 + r.iter().map(|x| x.len() + 4).sum::<usize>())
            .sum();
        let elements: usize = self.elements.values().map(|e| e.len() * 64).sum();
        self.skeleton.len() + rules + elements + 1024
    }
}

/// `VERB element ip berth NAME { k : v, ... }` in chunks, so one huge
/// statement never becomes a problem for the parser.
pub(crate) fn write_elements<'a>(
    out: &mut String,
    verb: &str,
    container: &str,
    elements: impl Iterator<Item = (&'a String, &'a Option<String>)>,
    with_values: bool,
) {
    const CHUNK: usize = 2000;
    let mut in_chunk = 0;
    for (key, value) in elements {
        if in_chunk == 0 {
            let _ = write!(out, "{verb} element {FAMILY} {TABLE} {container} {{ ");
        } else {
            out.push_str(", ");
        }
        out.push_str(key);
        if let (true, Some(value)) = (with_values, value) {
            out.push_str(" : ");
            out.push_str(value);
        }
        in_chunk += 1;
        if in_chunk == CHUNK {
            out.push_str(" }\n");
            in_chunk = 0;
        }
    }
    if in_chunk > 0 {
        out.push_str(" }\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_script_recreates_the_table_in_one_go() {
        let mut rs = Ruleset {
            skeleton: "\tchain services {\n\t}\n".into(),
            ..Default::default()
        };
        rs.chains.insert("svc-A".into(), vec!["goto ep-A".into()]);
        rs.chains.insert("ep-A".into(), vec![]);
        rs.add_element(
            "service-ips",
            "10.96.0.1 . tcp . 80".into(),
            Some("goto svc-A".into()),
        );
        let script = rs.full_script();
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[0], "add table ip berth");
        assert_eq!(lines[1], "delete table ip berth");
        assert!(script.contains("\tchain svc-A {\n\t\tgoto ep-A\n\t}\n"));
        assert!(script.contains("\tchain ep-A {\n\t}\n"));
        assert!(script
            .ends_with("add element ip berth service-ips { 10.96.0.1 . tcp . 80 : goto svc-A }\n"));
    }

    #[test]
    fn elements_are_chunked() {
        let elements: Elements = (0..4001).map(|i| (format!("k{i}"), None)).collect();
        let mut out = String::new();
        write_elements(&mut out, "add", "cluster-ips", elements.iter(), false);
        assert_eq!(out.lines().count(), 3);
    }
}
