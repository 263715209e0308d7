//! Pod traffic through a FORWARD policy of DROP (dockerd sets one): two
//! iptables rules for the node's pod CIDR, added once when the agent starts,
//! as flannel does. The CNI firewall plugin did the same per pod, at seven
//! iptables runs for every pod start and stop — a tenth of the CPU a rolling
//! update spent on this 2-core machine.
//!
//! ```text
//! agent start ─▶ ensure(cidr, owner): -C each rule ─▶ missing? -I FORWARD 1
//!   -s CIDR                                  -j ACCEPT   (pods' own traffic out)
//!   -d CIDR ctstate RELATED,ESTABLISHED      -j ACCEPT   (its replies)
//! berth down ─▶ remove(owner): every FORWARD rule with our comment, deleted
//! ```
//!
//! The comment names the owner (the node's data dir) so two clusters on one
//! machine never delete each other's rules.

use std::io;
use std::process::Command;

const IPTABLES: &str = "iptables";

/// The comment marking this owner's rules: no spaces or quotes, so a rule
/// read back from `iptables -S` splits into its arguments on whitespace.
pub fn comment(owner: &str) -> String {
    let clean: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\'' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // iptables allows 256 bytes; keep the end, which tells dirs apart.
    let tail = clean.len().saturating_sub(200);
    format!("berth:{}", &clean[tail..])
}

/// The two rules, as arguments after `-C FORWARD` / `-I FORWARD 1`.
pub fn rules(pod_cidr: &str, owner: &str) -> [Vec<String>; 2] {
    let c = comment(owner);
    let rule = |matches: &[&str]| {
        matches
            .iter()
            .chain(&["-m", "comment", "--comment", c.as_str(), "-j", "ACCEPT"])
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    [
        rule(&["-s", pod_cidr]),
        rule(&[
            "-d",
            pod_cidr,
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
        ]),
    ]
}

fn prefixed(command: &[&str], rule: &[String]) -> Vec<String> {
    command
        .iter()
        .map(|s| s.to_string())
        .chain(rule.iter().cloned())
        .collect()
}

fn iptables(args: &[String]) -> io::Result<bool> {
    Ok(Command::new(IPTABLES)
        .arg("-w")
        .args(args)
        .output()?
        .status
        .success())
}

/// Add the rules unless present. An error means iptables is missing or
/// refused; the caller logs it (with FORWARD policy ACCEPT nothing is lost).
pub fn ensure(pod_cidr: &str, owner: &str) -> io::Result<()> {
    for rule in rules(pod_cidr, owner) {
        if iptables(&prefixed(&["-C", "FORWARD"], &rule))? {
            continue;
        }
        let insert = prefixed(&["-I", "FORWARD", "1"], &rule);
        if !iptables(&insert)? {
            return Err(io::Error::other(format!(
                "iptables -I FORWARD for {pod_cidr} failed"
            )));
        }
    }
    Ok(())
}

/// The `-D` argument lists for every rule of `listing` (`iptables -S FORWARD`)
/// that carries this owner's comment.
pub fn deletions(listing: &str, owner: &str) -> Vec<Vec<String>> {
    let c = comment(owner);
    listing
        .lines()
        .filter(|l| l.starts_with("-A FORWARD "))
        .filter(|l| words(l).any(|w| w == c))
        .map(|l| {
            let mut args: Vec<String> = words(l).map(str::to_string).collect();
            args[0] = "-D".into();
            args
        })
        .collect()
}

/// A listed rule's words; iptables quotes a comment with a slash in it.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split_whitespace().map(|w| w.trim_matches('"'))
}

/// Remove this owner's rules; the number removed.
pub fn remove(owner: &str) -> usize {
    let Ok(out) = Command::new(IPTABLES)
        .args(["-w", "-S", "FORWARD"])
        .output()
    else {
        return 0;
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    deletions(&listing, owner)
        .into_iter()
        .filter(|args| iptables(args).unwrap_or(false))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_is_one_word_and_bounded() {
        assert_eq!(
            comment("/var/lib/berth/agent"),
            "berth:/var/lib/berth/agent"
        );
        assert_eq!(comment("/tmp/a b\"c"), "berth:/tmp/a_b_c");
        let long = format!("/{}", "x".repeat(400));
        assert!(comment(&long).len() <= 206);
    }

    #[test]
    fn rules_accept_the_pod_cidr_out_and_its_replies_in() {
        let [out, back] = rules("10.42.3.0/24", "/d");
        assert_eq!(out[..2], ["-s", "10.42.3.0/24"]);
        assert!(out.ends_with(&["-j".to_string(), "ACCEPT".to_string()]));
        assert_eq!(back[..2], ["-d", "10.42.3.0/24"]);
        assert!(back.contains(&"RELATED,ESTABLISHED".to_string()));
        assert!(out.contains(&"berth:/d".to_string()) && back.contains(&"berth:/d".to_string()));
    }

    #[test]
    fn deletions_pick_only_this_owners_rules() {
        let listing = r#"-P FORWARD ACCEPT
-A FORWARD -d 10.42.0.0/24 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "berth:/a" -j ACCEPT
-A FORWARD -s 10.42.0.0/24 -m comment --comment "berth:/a" -j ACCEPT
-A FORWARD -s 10.42.0.0/24 -m comment --comment berth:/ab -j ACCEPT
-A FORWARD -j DOCKER-USER
"#;
        let d = deletions(listing, "/a");
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|a| a[0] == "-D" && a[1] == "FORWARD"));
        assert_eq!(d[1][2..4], ["-s", "10.42.0.0/24"]);
        assert!(
            d[1].contains(&"berth:/a".to_string()),
            "quotes stripped: {:?}",
            d[1]
        );
    }
}
