//! Running the `nft` binary: one script per call = one kernel transaction.

use crate::config::NftTarget;
use crate::error::ProxyError;
use crate::ruleset::{FAMILY, TABLE};
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Clone, Debug)]
pub struct Nft {
    target: NftTarget,
}

/// nft's error output for a huge script can be huge too; keep the start.
const STDERR_KEEP: usize = 4096;

impl Nft {
    pub fn new(target: NftTarget) -> Self {
        Nft { target }
    }

    pub fn target(&self) -> &NftTarget {
        &self.target
    }

    fn command(&self) -> Command {
        match &self.target.netns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(&self.target.program);
                cmd
            }
            None => Command::new(&self.target.program),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Vec<u8>, ProxyError> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_err = |source| ProxyError::Spawn {
            program: self.target.program.display().to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A write error shows up again as nft's exit status below.
            let _ = pipe.write_all(input.as_bytes());
        }
        let output = child.wait_with_output().map_err(spawn_err)?;
        if !output.status.success() {
            let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            if stderr.len() > STDERR_KEEP {
                let mut cut = STDERR_KEEP;
                while !stderr.is_char_boundary(cut) {
                    cut -= 1;
                }
                stderr.truncate(cut);
                stderr.push('…');
            }
            return Err(ProxyError::Nft {
                status: output.status.to_string(),
                stderr,
            });
        }
        Ok(output.stdout)
    }

    /// Apply `script` atomically (`nft -f -`).
    pub fn apply(&self, script: &str) -> Result<(), ProxyError> {
        self.run(&["-f", "-"], Some(script)).map(|_| ())
    }

    /// `nft -j list table ip berth`, parsed.
    pub fn list_table_json(&self) -> Result<serde_json::Value, ProxyError> {
        let out = self.run(&["-j", "list", "table", FAMILY, TABLE], None)?;
        Ok(serde_json::from_slice(&out)?)
    }

    /// `nft list table ip berth` as text.
    pub fn list_table(&self) -> Result<String, ProxyError> {
        let out = self.run(&["list", "table", FAMILY, TABLE], None)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Remove our table; a missing table is fine.
    pub fn delete_table(&self) -> Result<(), ProxyError> {
        self.apply(&format!(
            "add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
        ))
    }

    /// Whether the binary runs at all (`nft --version`).
    pub fn available(&self) -> bool {
        self.run(&["--version"], None).is_ok()
    }
}

/// Delete `table ip berth` from the host (for `berth down`); needs no client.
pub fn cleanup_table() -> Result<(), ProxyError> {
    Nft::new(NftTarget::default()).delete_table()
}
