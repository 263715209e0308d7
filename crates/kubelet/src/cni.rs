//! The CNI configuration containerd uses for pod networks: a bridge with
//! host-local IPAM on the node's pod CIDR and portmap for hostPort. Not the
//! firewall plugin: a FORWARD policy of DROP (set by dockerd) is met by two
//! rules per node (forward_rules.rs), not seven iptables runs per pod.
//! No masquerade here: pods reach pods on other nodes with their own IPs
//! (routes.rs), and berth-proxy masquerades only traffic leaving the cluster CIDR.

use serde_json::json;
use std::path::Path;

pub const BRIDGE: &str = "berth0";
pub const CONFLIST: &str = "10-berth.conflist";

/// The conflist for `pod_cidr` (e.g. 10.42.0.0/24); the gateway is its first address.
pub fn conflist(pod_cidr: &str, ipam_dir: &Path) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "berth",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    // Per node, not /var/lib/cni: several nodes may share a machine (tests).
                    "dataDir": ipam_dir,
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
}

/// Write the conflist atomically (containerd watches the directory).
pub fn write(conf_dir: &Path, pod_cidr: &str, ipam_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(conf_dir)?;
    let body = serde_json::to_vec_pretty(&conflist(pod_cidr, ipam_dir)).unwrap_or_default();
    let path = conf_dir.join(CONFLIST);
    if std::fs::read(&path).ok().as_deref() == Some(&body[..]) {
        return Ok(());
    }
    let tmp = conf_dir.join(format!(".{CONFLIST}.tmp"));
    std::fs::write(&tmp, &body)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_uses_the_pod_cidr_and_is_written_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "10.42.3.0/24", &dir.path().join("ipam"))
            .unwrap_or_else(|e| panic!("{e}"));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(CONFLIST)).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.42.3.0/24"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
        assert_eq!(v["plugins"][0]["ipMasq"], false);
        assert_eq!(
            v["plugins"][0]["ipam"]["dataDir"],
            dir.path().join("ipam").display().to_string()
        );
    }
}
