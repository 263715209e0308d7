//! Keeps the kernel table equal to the latest rendered `Ruleset`: the first
//! sync (and any after a failure or a changed skeleton) recreates the whole
//! table; later ones apply only `diff_script`.

use crate::diff::diff_script;
use crate::error::ProxyError;
use crate::nft::Nft;
use crate::ruleset::Ruleset;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncKind {
    Full,
    Partial,
    Unchanged,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub kind: SyncKind,
    /// Bytes of nft script sent to the kernel.
    pub script_bytes: usize,
}

pub struct Syncer {
    nft: Nft,
    applied: Option<Ruleset>,
}

impl Syncer {
    pub fn new(nft: Nft) -> Self {
        Syncer { nft, applied: None }
    }

    /// Make the next sync a full one.
    pub fn force_full(&mut self) {
        self.applied = None;
    }

    pub fn nft(&self) -> &Nft {
        &self.nft
    }

    pub fn sync(&mut self, desired: Ruleset) -> Result<SyncReport, ProxyError> {
        let partial = self
            .applied
            .as_ref()
            .and_then(|old| diff_script(old, &desired));
        let (kind, script) = match partial {
            Some(script) if script.is_empty() => {
                return Ok(SyncReport {
                    kind: SyncKind::Unchanged,
                    script_bytes: 0,
                })
            }
            Some(script) => (SyncKind::Partial, script),
            None => (SyncKind::Full, desired.full_script()),
        };
        // Whatever fails, the kernel state is unknown to us: rebuild next time.
        self.applied = None;
        self.nft.apply(&script)?;
        self.applied = Some(desired);
        Ok(SyncReport {
            kind,
            script_bytes: script.len(),
        })
    }
}
