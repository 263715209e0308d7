//! containerd's config.toml (version 2) as berth needs it.
//!
//! Every setting here answers something observed on these machines (see the crate README):
//! own root/state/sockets so docker's containerd is never touched, `restrict_oom_score_adj`
//! because root lacks CAP_SYS_RESOURCE in these VMs, a local sandbox image, a loopback-only
//! streaming server, a `certs.d` registry folder, and runc with cgroupfs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::process::ContainerdError;

/// Where Debian's containernetworking-plugins installs the CNI plugins.
pub const DEFAULT_CNI_BIN_DIR: &str = "/usr/lib/cni";

/// The default socket of the machine's own containerd (docker's may be there): never ours.
pub const SHARED_DEFAULT_SOCKET: &str = "/run/containerd/containerd.sock";

/// What berth decides about its containerd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdConfig {
    /// Holds config.toml, the log, and containerd's root and state.
    pub data_dir: PathBuf,
    /// The gRPC (and CRI) socket; the ttrpc socket sits next to it.
    pub socket: PathBuf,
    /// Image for pod sandboxes; must exist locally (no internet registry is reachable).
    pub pause_image: String,
    pub cni_bin_dir: PathBuf,
    /// Where the node agent writes its CNI conflist.
    pub cni_conf_dir: PathBuf,
    /// A `certs.d` folder: `<registry host>/hosts.toml` per registry.
    pub registry_config_dir: PathBuf,
}

impl ContainerdConfig {
    /// Everything under `data_dir`: socket `containerd.sock`, CNI configs `cni/net.d`, registry
    /// configs `certs.d`; CNI plugins from [`DEFAULT_CNI_BIN_DIR`].
    pub fn new(data_dir: impl Into<PathBuf>, pause_image: impl Into<String>) -> Self {
        let data_dir = data_dir.into();
        ContainerdConfig {
            socket: data_dir.join("containerd.sock"),
            pause_image: pause_image.into(),
            cni_bin_dir: PathBuf::from(DEFAULT_CNI_BIN_DIR),
            cni_conf_dir: data_dir.join("cni").join("net.d"),
            registry_config_dir: data_dir.join("certs.d"),
            data_dir,
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.data_dir.join("config.toml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("containerd.log")
    }

    pub fn root_dir(&self) -> PathBuf {
        self.data_dir.join("root")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("state")
    }

    pub fn ttrpc_socket(&self) -> PathBuf {
        let mut name = self.socket.clone().into_os_string();
        name.push(".ttrpc");
        PathBuf::from(name)
    }

    /// The config.toml text.
    pub fn render(&self) -> Result<String, ContainerdError> {
        let root = toml_path(&self.root_dir())?;
        let state = toml_path(&self.state_dir())?;
        let grpc = toml_path(&self.socket)?;
        let ttrpc = toml_path(&self.ttrpc_socket())?;
        let opt = toml_path(&self.data_dir.join("opt"))?;
        let sandbox_image = toml_string(&self.pause_image);
        let cni_bin = toml_path(&self.cni_bin_dir)?;
        let cni_conf = toml_path(&self.cni_conf_dir)?;
        let certs = toml_path(&self.registry_config_dir)?;

        let cri = r#"plugins."io.containerd.grpc.v1.cri""#;
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            r#"# Written by berth; regenerated on every start.
version = 2
root = {root}
state = {state}
# Unused snapshotters only add noise to the log.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
]

[grpc]
  address = {grpc}

[ttrpc]
  address = {ttrpc}

[plugins."io.containerd.internal.v1.opt"]
  path = {opt}

[{cri}]
  sandbox_image = {sandbox_image}
  # Root here lacks CAP_SYS_RESOURCE; without this every sandbox fails to start.
  restrict_oom_score_adj = true
  # exec/attach/port-forward streams stay on loopback; the node agent proxies them.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = {cni_bin}
  conf_dir = {cni_conf}

[{cri}.registry]
  config_path = {certs}
"#
        );
        Ok(text)
    }

    /// Creates the folders containerd and the node agent expect, and writes config.toml.
    pub fn write(&self) -> Result<PathBuf, ContainerdError> {
        for dir in [
            &self.data_dir,
            &self.cni_conf_dir,
            &self.registry_config_dir,
        ] {
            std::fs::create_dir_all(dir).map_err(|source| ContainerdError::Io {
                what: format!("create {}", dir.display()),
                source,
            })?;
        }
        let path = self.config_path();
        std::fs::write(&path, self.render()?).map_err(|source| ContainerdError::Io {
            what: format!("write {}", path.display()),
            source,
        })?;
        Ok(path)
    }
}

impl ContainerdConfig {
    /// Lets containerd pull from a plain-HTTP registry at `host` (e.g. `127.0.0.1:5000`) by
    /// writing `<registry_config_dir>/<host>/hosts.toml`. containerd reads it on each pull.
    pub fn add_plain_http_registry(&self, host: &str) -> Result<PathBuf, ContainerdError> {
        if host.is_empty() || host.contains('/') || host.contains("..") {
            return Err(ContainerdError::Config(format!(
                "registry host {host:?} must be host[:port]"
            )));
        }
        let dir = self.registry_config_dir.join(host);
        std::fs::create_dir_all(&dir).map_err(|source| ContainerdError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        let server = toml_string(&format!("http://{host}"));
        let text = format!(
            "server = {server}\n\n[host.{server}]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n"
        );
        let path = dir.join("hosts.toml");
        std::fs::write(&path, text).map_err(|source| ContainerdError::Io {
            what: format!("write {}", path.display()),
            source,
        })?;
        Ok(path)
    }
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_path(path: &Path) -> Result<String, ContainerdError> {
    path.to_str()
        .map(toml_string)
        .ok_or_else(|| ContainerdError::Config(format!("path is not UTF-8: {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ContainerdConfig {
        ContainerdConfig::new("/var/lib/berth/containerd", "berth.local/pause:3.10")
    }

    #[test]
    fn defaults_live_under_the_data_dir() {
        let c = config();
        assert_eq!(
            c.socket,
            PathBuf::from("/var/lib/berth/containerd/containerd.sock")
        );
        assert_eq!(
            c.ttrpc_socket(),
            PathBuf::from("/var/lib/berth/containerd/containerd.sock.ttrpc")
        );
        assert_eq!(c.cni_bin_dir, PathBuf::from("/usr/lib/cni"));
        assert_eq!(
            c.cni_conf_dir,
            PathBuf::from("/var/lib/berth/containerd/cni/net.d")
        );
        assert_eq!(
            c.registry_config_dir,
            PathBuf::from("/var/lib/berth/containerd/certs.d")
        );
    }

    #[test]
    fn render_has_every_setting_the_notes_require() {
        let text = config().render().expect("render");
        for needle in [
            "version = 2\n",
            r#"root = "/var/lib/berth/containerd/root""#,
            r#"state = "/var/lib/berth/containerd/state""#,
            r#"address = "/var/lib/berth/containerd/containerd.sock""#,
            r#"address = "/var/lib/berth/containerd/containerd.sock.ttrpc""#,
            r#"sandbox_image = "berth.local/pause:3.10""#,
            "restrict_oom_score_adj = true",
            r#"stream_server_address = "127.0.0.1""#,
            r#"stream_server_port = "0""#,
            r#"snapshotter = "overlayfs""#,
            r#"runtime_type = "io.containerd.runc.v2""#,
            "SystemdCgroup = false",
            r#"bin_dir = "/usr/lib/cni""#,
            r#"conf_dir = "/var/lib/berth/containerd/cni/net.d""#,
            r#"config_path = "/var/lib/berth/containerd/certs.d""#,
            r#""io.containerd.snapshotter.v1.aufs""#,
            r#""io.containerd.snapshotter.v1.btrfs""#,
            r#""io.containerd.snapshotter.v1.zfs""#,
            r#""io.containerd.snapshotter.v1.devmapper""#,
            r#"[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]"#,
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("/run/containerd"), "{text}");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        let mut c = config();
        c.pause_image = "x\"\ny".into();
        let text = c.render().expect("render");
        assert!(text.contains(r#"sandbox_image = "x\"\ny""#), "{text}");
    }

    #[test]
    fn plain_http_registry_hosts_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = ContainerdConfig::new(dir.path(), "p:1");
        let path = c.add_plain_http_registry("127.0.0.1:5000").expect("write");
        assert_eq!(path, dir.path().join("certs.d/127.0.0.1:5000/hosts.toml"));
        let text = std::fs::read_to_string(path).expect("read");
        assert!(
            text.starts_with("server = \"http://127.0.0.1:5000\"\n"),
            "{text}"
        );
        assert!(text.contains("[host.\"http://127.0.0.1:5000\"]"), "{text}");
        assert!(text.contains("skip_verify = true"), "{text}");
        assert!(c.add_plain_http_registry("../etc").is_err());
    }

    #[test]
    fn write_creates_folders_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = ContainerdConfig::new(dir.path().join("ctrd"), "p:1");
        let path = c.write().expect("write");
        assert!(path.is_file());
        assert!(c.cni_conf_dir.is_dir());
        assert!(c.registry_config_dir.is_dir());
    }
}
