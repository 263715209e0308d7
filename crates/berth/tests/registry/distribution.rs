//! A private Docker Registry v2 (Debian's `docker-registry`, Distribution 2.8)
//! on 127.0.0.1:<free port>, started as this test's child with its own
//! config and storage, and a pusher speaking the Registry HTTP API v2.
//!
//! ```text
//! tempdir/config.yml ─▶ docker-registry serve (child) ─▶ GET /v2/ = 200
//! push: each blob: POST /v2/<repo>/blobs/uploads/ ─▶ 202 Location ─▶ PUT Location&digest= ─▶ 201
//!       then PUT /v2/<repo>/manifests/<tag> (manifest media type) ─▶ 201 Docker-Content-Digest
//! drop ─▶ kill + wait the child (only ours)
//! ```

use super::http::{self, Response};
use berth_images::Image;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

pub struct LocalRegistry {
    pub addr: SocketAddr,
    /// Holds config.yml, the storage and the registry's log.
    dir: tempfile::TempDir,
    child: Child,
}

impl LocalRegistry {
    /// Starts the registry and waits until `GET /v2/` answers 200.
    pub fn start() -> Result<LocalRegistry, String> {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let addr = free_loopback_port()?;
        let storage = dir.path().join("storage");
        let config = dir.path().join("config.yml");
        // Access logs on: the test reads them to see which blobs containerd fetched.
        let yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            storage.display()
        );
        std::fs::write(&config, yaml).map_err(|e| format!("writing {}: {e}", config.display()))?;
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .map_err(|e| format!("registry log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("registry log: {e}"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning {REGISTRY_BIN}: {e}"))?;
        let mut registry = LocalRegistry { addr, dir, child };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = registry.child.try_wait() {
                return Err(format!(
                    "docker-registry exited ({status}); its log:\n{}",
                    registry.log()
                ));
            }
            match http::request(addr, "GET", "/v2/", &[], &[]) {
                Ok(r) if r.status == 200 => return Ok(registry),
                _ if started.elapsed() > Duration::from_secs(10) => {
                    return Err(format!(
                        "docker-registry on {addr} not ready after 10 s; its log:\n{}",
                        registry.log()
                    ))
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// What the registry wrote so far (access log lines included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes every blob of `image`, then its manifest as `repository:tag`;
    /// returns the manifest digest the registry reports.
    pub fn push(&self, image: &Image, repository: &str, tag: &str) -> Result<String, String> {
        let mut manifest = None;
        for blob in image.blobs() {
            if blob.digest == image.digest() {
                manifest = Some(blob);
                continue;
            }
            self.push_blob(repository, &blob.digest, &blob.bytes)?;
        }
        let manifest = manifest.ok_or("the image has no manifest blob")?;
        let path = format!("/v2/{repository}/manifests/{tag}");
        let r = self.call(
            "PUT",
            &path,
            &[("Content-Type", manifest.media_type.as_str())],
            &manifest.bytes,
        )?;
        expect_status(&r, 201, &format!("PUT {path}"))?;
        r.header("docker-content-digest")
            .map(str::to_string)
            .ok_or_else(|| format!("PUT {path}: no Docker-Content-Digest: {r:?}"))
    }

    fn push_blob(&self, repository: &str, digest: &str, bytes: &[u8]) -> Result<(), String> {
        let start = format!("/v2/{repository}/blobs/uploads/");
        let r = self.call("POST", &start, &[], &[])?;
        expect_status(&r, 202, &format!("POST {start}"))?;
        let location = r
            .header("location")
            .ok_or_else(|| format!("POST {start}: no Location: {r:?}"))?;
        let upload = path_of(location);
        let separator = if upload.contains('?') { '&' } else { '?' };
        let finish = format!("{upload}{separator}digest={digest}");
        let r = self.call(
            "PUT",
            &finish,
            &[("Content-Type", "application/octet-stream")],
            bytes,
        )?;
        expect_status(&r, 201, &format!("PUT blob {digest}"))
    }

    /// Whether `GET /v2/<repository>/blobs/<digest>` shows up in the access log.
    pub fn served_blob(&self, repository: &str, digest: &str) -> bool {
        let wanted = format!("\"GET /v2/{repository}/blobs/{digest} ");
        self.log().lines().any(|l| l.contains(&wanted))
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        http::request(self.addr, method, path, headers, body)
            .map_err(|e| format!("{method} http://{}{path}: {e}", self.addr))
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        // Only our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the registry binary is installed (scripts/install-deps.sh installs it).
pub fn installed() -> bool {
    PathBuf::from(REGISTRY_BIN).is_file()
}

fn free_loopback_port() -> Result<SocketAddr, String> {
    // Bound and released at once: a small race with other programs, acceptable in a test.
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `http://host:port/v2/...?x` or `/v2/...?x` → `/v2/...?x`.
fn path_of(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => location,
    }
}

fn expect_status(r: &Response, want: u16, what: &str) -> Result<(), String> {
    if r.status == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: status {} (want {want}): {}",
            r.status,
            r.text()
        ))
    }
}
