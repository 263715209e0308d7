//! Container log rotation (the kubelet's containerLogManager): a running
//! container's log file bigger than containerLogMaxSize is renamed to
//! `<log>.<YYYYMMDD-HHMMSS>`, the runtime is asked to reopen its log
//! (CRI ReopenContainerLog), and rotated files beyond
//! containerLogMaxFiles − 1 are removed, oldest first. Rotated files are
//! not compressed.

use std::path::{Path, PathBuf};

/// Rotated siblings of `log` (`<log>.<suffix>`), oldest first.
pub fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&prefix) && !n.ends_with(".tmp"))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    // The timestamp suffix sorts by time.
    out.sort();
    out
}

/// The name a log rotated at `now` gets.
pub fn rotated_name(log: &Path, now: chrono::DateTime<chrono::Utc>) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(format!(".{}", now.format("%Y%m%d-%H%M%S")));
    PathBuf::from(s)
}

/// Remove rotated files beyond `max_files − 1` (the live file counts as one).
pub fn prune(log: &Path, max_files: usize) -> Vec<PathBuf> {
    let rotated = rotated_files(log);
    let keep = max_files.saturating_sub(1);
    let excess = rotated.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for f in rotated.into_iter().take(excess) {
        if std::fs::remove_file(&f).is_ok() {
            removed.push(f);
        }
    }
    removed
}

/// Rename the live file if it is too big; returns the new name.
pub fn rotate_if_big(
    log: &Path,
    max_size: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<PathBuf> {
    let size = std::fs::metadata(log).ok()?.len();
    if size <= max_size {
        return None;
    }
    let to = rotated_name(log, now);
    std::fs::rename(log, &to).ok()?;
    Some(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_logs_rotate_and_old_rotations_are_pruned() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let log = dir.path().join("0.log");
        let _ = std::fs::write(&log, vec![b'x'; 100]);
        let t = |s: i64| chrono::DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap_or_default();
        assert_eq!(
            rotate_if_big(&log, 100, t(0)),
            None,
            "not bigger than the limit"
        );
        let _ = std::fs::write(&log, vec![b'x'; 101]);
        let rotated = rotate_if_big(&log, 100, t(0));
        assert!(rotated.as_ref().is_some_and(|r| r.exists()) && !log.exists());
        for s in 1..6 {
            let _ = std::fs::write(rotated_name(&log, t(s)), "old");
        }
        assert_eq!(rotated_files(&log).len(), 6);
        let removed = prune(&log, 5);
        assert_eq!(removed.len(), 2);
        let left = rotated_files(&log);
        assert_eq!(left.len(), 4);
        assert_eq!(left[0], rotated_name(&log, t(2)), "the oldest went first");
    }
}
