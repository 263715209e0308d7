//! Throwaway network namespaces for the real-nft tests and the bench.
//! Never touches the host's own ruleset: everything runs inside the namespace.

use std::process::Command;

/// `ip netns add berth-proxy-test-<random>`, deleted again on drop.
pub struct TestNetns {
    pub name: String,
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Why real-nft tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    if !runs("nft", "--version") {
        return Some("`nft` not found".into());
    }
    if !runs("ip", "-V") {
        return Some("`ip` (iproute2) not found".into());
    }
    None
}

fn random_suffix() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:08x}", h.finish() as u32)
}

impl TestNetns {
    pub fn create() -> Result<Self, String> {
        let name = format!("berth-proxy-test-{}", random_suffix());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let ns = TestNetns { name };
        ns.sh("ip link set lo up")?;
        Ok(ns)
    }

    /// Run `script` with `sh -c` inside the namespace; Err carries stderr.
    pub fn sh(&self, script: &str) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`{script}` failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// An `NftTarget` that runs nft inside this namespace.
    pub fn nft_target(&self) -> crate::config::NftTarget {
        crate::config::NftTarget {
            netns: Some(self.name.clone()),
            ..Default::default()
        }
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
