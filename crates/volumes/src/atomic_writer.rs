//! Atomic projection of a set of files into a volume directory, with the on-disk layout of
//! kubelet's AtomicWriter so applications that watch `..data` keep working:
//!
//! ```text
//! <dir>/..2024_01_02_03_04_05.1234567/   real files (a fresh directory per version)
//! <dir>/..data -> ..2024_01_02_03_04_05.1234567
//! <dir>/<key>  -> ..data/<key>            one symlink per top-level name
//! ```
//!
//! An update writes a whole new timestamped directory, points a `..data_tmp` symlink at it and
//! renames that over `..data` (rename(2) is atomic), so readers see either all old or all new
//! contents. Names starting with `..` are reserved.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const DATA_DIR_NAME: &str = "..data";
const NEW_DATA_DIR_NAME: &str = "..data_tmp";
const MAX_FILE_NAME_LENGTH: usize = 255;
const MAX_PATH_LENGTH: usize = 4096;

/// One file's contents and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProjection {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Relative path → file, as built by the configMap/secret/downwardAPI/projected plugins.
pub type Payload = BTreeMap<String, FileProjection>;

/// Called on the new timestamped directory before it becomes visible (fsGroup ownership).
pub type PrepareHook<'a> = &'a dyn Fn(&Path) -> io::Result<()>;

/// Checks a payload path the way upstream does: relative, no `..` element, not starting with
/// `..`, element and total lengths bounded.
pub fn validate_path(target: &str) -> Result<(), String> {
    if target.is_empty() {
        return Err(format!("invalid path: must not be empty: {target:?}"));
    }
    if target.starts_with('/') {
        return Err(format!("invalid path: must be relative path: {target}"));
    }
    if target.len() > MAX_PATH_LENGTH {
        return Err(format!(
            "invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"
        ));
    }
    let items: Vec<&str> = target.split('/').collect();
    for item in &items {
        if *item == ".." {
            return Err(format!("invalid path: must not contain '..': {target}"));
        }
        if item.len() > MAX_FILE_NAME_LENGTH {
            return Err(format!(
                "invalid path: filenames must be less than or equal to {MAX_FILE_NAME_LENGTH} characters"
            ));
        }
    }
    if items[0].starts_with("..") && items[0].len() > 2 {
        return Err(format!("invalid path: must not start with '..': {target}"));
    }
    Ok(())
}

/// `filepath.Clean` for the relative paths we accept (drops `.` and empty elements).
fn clean(target: &str) -> String {
    Path::new(target)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes `payload` into `target_dir` atomically. Returns whether anything changed.
/// Not safe to call concurrently for the same directory (the volume manager serialises
/// per pod).
pub fn write(target_dir: &Path, payload: &Payload, prepare: PrepareHook<'_>) -> io::Result<bool> {
    let mut clean_payload: BTreeMap<String, &FileProjection> = BTreeMap::new();
    for (path, file) in payload {
        validate_path(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        clean_payload.insert(clean(path), file);
    }

    let data_dir = target_dir.join(DATA_DIR_NAME);
    let old_ts_name = match std::fs::read_link(&data_dir) {
        Ok(name) => Some(name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };

    let mut to_remove = BTreeSet::new();
    if let Some(old_ts_name) = &old_ts_name {
        let old_ts = target_dir.join(old_ts_name);
        to_remove = paths_to_remove(&clean_payload, &old_ts)?;
        if !payload_differs(&clean_payload, &old_ts)? && to_remove.is_empty() {
            return Ok(false);
        }
    }

    // A crash between steps can leave a stale ..data_tmp behind; it would block the symlink.
    let new_data_dir = target_dir.join(NEW_DATA_DIR_NAME);
    if std::fs::symlink_metadata(&new_data_dir).is_ok() {
        std::fs::remove_file(&new_data_dir)?;
    }

    let ts_dir = new_timestamp_dir(target_dir)?;
    let finish = || -> io::Result<()> {
        write_payload(&clean_payload, &ts_dir)?;
        prepare(&ts_dir)?;
        let ts_name = ts_dir
            .file_name()
            .ok_or_else(|| io::Error::other("timestamped directory has no name"))?;
        std::os::unix::fs::symlink(ts_name, &new_data_dir)?;
        std::fs::rename(&new_data_dir, &data_dir)
    };
    if let Err(e) = finish() {
        let _ = std::fs::remove_file(&new_data_dir);
        let _ = std::fs::remove_dir_all(&ts_dir);
        return Err(e);
    }

    create_user_visible_links(&clean_payload, target_dir)?;
    for path in &to_remove {
        // Only top-level names are links of ours; deeper paths live inside the old ts dir.
        if !path.contains('/') {
            match std::fs::remove_file(target_dir.join(path)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    remove_stale_timestamp_dirs(target_dir, &ts_dir)?;
    Ok(true)
}

/// Every path (files and their directories) present in the old version but absent from the
/// new payload.
fn paths_to_remove(
    payload: &BTreeMap<String, &FileProjection>,
    old_ts: &Path,
) -> io::Result<BTreeSet<String>> {
    let mut old_paths = BTreeSet::new();
    if old_ts.exists() {
        walk_relative(old_ts, old_ts, &mut old_paths)?;
    }
    let mut new_paths = BTreeSet::new();
    for file in payload.keys() {
        let mut sub = file.as_str();
        loop {
            new_paths.insert(sub.to_string());
            match sub.rfind('/') {
                Some(i) => sub = &sub[..i],
                None => break,
            }
        }
    }
    Ok(old_paths.difference(&new_paths).cloned().collect())
}

fn walk_relative(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if let Ok(rel) = path.strip_prefix(root) {
            out.insert(rel.to_string_lossy().into_owned());
        }
        if entry.file_type()?.is_dir() {
            walk_relative(root, &path, out)?;
        }
    }
    Ok(())
}

/// Whether any file's contents or mode differ from what is on disk in the old version.
fn payload_differs(payload: &BTreeMap<String, &FileProjection>, old_ts: &Path) -> io::Result<bool> {
    for (path, file) in payload {
        let on_disk = old_ts.join(path);
        let meta = match std::fs::symlink_metadata(&on_disk) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        if !meta.is_file() || meta.permissions().mode() & 0o7777 != file.mode & 0o7777 {
            return Ok(true);
        }
        if std::fs::read(&on_disk)? != file.data {
            return Ok(true);
        }
    }
    Ok(false)
}

static TS_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates `..YYYY_MM_DD_HH_MM_SS.<unique>` with mode 0755 (group/other must traverse it).
fn new_timestamp_dir(target_dir: &Path) -> io::Result<PathBuf> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let stamp = format_utc(now.as_secs());
    loop {
        let unique = (u64::from(std::process::id()) << 32)
            ^ u64::from(now.subsec_nanos())
            ^ TS_COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9);
        let dir = target_dir.join(format!("..{stamp}.{}", unique % 10_000_000_000));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `2006_01_02_15_04_05` for a Unix time, in UTC.
fn format_utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}_{month:02}_{day:02}_{:02}_{:02}_{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn write_payload(payload: &BTreeMap<String, &FileProjection>, dir: &Path) -> io::Result<()> {
    for (path, file) in payload {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(file.mode)
            .open(&full)
            .and_then(|mut f| io::Write::write_all(&mut f, &file.data))?;
        // The umask narrowed the mode at open; set exactly what was asked.
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(file.mode))?;
    }
    Ok(())
}

/// `<dir>/<first element>` → `..data/<first element>` for every payload path.
fn create_user_visible_links(
    payload: &BTreeMap<String, &FileProjection>,
    target_dir: &Path,
) -> io::Result<()> {
    for path in payload.keys() {
        let first = path.split('/').next().unwrap_or(path);
        let link = target_dir.join(first);
        if std::fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(Path::new(DATA_DIR_NAME).join(first), &link)?;
    }
    Ok(())
}

/// Removes every `..<timestamp>` directory except the current one (the previous version, and
/// leftovers of an interrupted write).
fn remove_stale_timestamp_dirs(target_dir: &Path, current: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(target_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_ts_dir = name.starts_with("..")
            && name.as_bytes().get(2).is_some_and(u8::is_ascii_digit)
            && entry.file_type()?.is_dir();
        if is_ts_dir && entry.path() != current {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn file(data: &str, mode: u32) -> FileProjection {
        FileProjection {
            data: data.as_bytes().to_vec(),
            mode,
        }
    }

    fn no_hook(_: &Path) -> io::Result<()> {
        Ok(())
    }

    fn ts_dirs(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("..") && n != DATA_DIR_NAME)
            .collect()
    }

    #[test]
    fn validates_paths_like_upstream() {
        assert!(validate_path("a/b").is_ok());
        assert!(validate_path("..a").is_err());
        assert!(validate_path("a/../b").is_err());
        assert!(validate_path("/abs").is_err());
        assert!(validate_path("").is_err());
        assert!(validate_path(&"x".repeat(256)).is_err());
    }

    #[test]
    fn formats_timestamps() {
        assert_eq!(format_utc(0), "1970_01_01_00_00_00");
        assert_eq!(format_utc(1_709_251_199), "2024_02_29_23_59_59");
    }

    #[test]
    fn first_write_creates_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut payload = Payload::new();
        payload.insert("a".into(), file("1", 0o644));
        payload.insert("nested/b".into(), file("2", 0o400));
        assert!(write(dir.path(), &payload, &no_hook).unwrap());

        let data = std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap();
        assert!(data.to_string_lossy().starts_with("..20"));
        assert_eq!(
            std::fs::read_link(dir.path().join("a")).unwrap(),
            Path::new("..data/a")
        );
        assert_eq!(
            std::fs::read_link(dir.path().join("nested")).unwrap(),
            Path::new("..data/nested")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("nested/b")).unwrap(),
            "2"
        );
        let meta = std::fs::metadata(dir.path().join("nested/b")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o400);
        let ts_meta = std::fs::metadata(dir.path().join(&data)).unwrap();
        assert_eq!(ts_meta.mode() & 0o777, 0o755);
    }

    #[test]
    fn unchanged_payload_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut payload = Payload::new();
        payload.insert("a".into(), file("1", 0o644));
        write(dir.path(), &payload, &no_hook).unwrap();
        let before = std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap();
        assert!(!write(dir.path(), &payload, &no_hook).unwrap());
        assert_eq!(
            std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap(),
            before
        );
        // A mode change alone is an update.
        payload.insert("a".into(), file("1", 0o600));
        assert!(write(dir.path(), &payload, &no_hook).unwrap());
    }

    #[test]
    fn update_swaps_data_and_prunes_removed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut v1 = Payload::new();
        v1.insert("keep".into(), file("old", 0o644));
        v1.insert("gone".into(), file("bye", 0o644));
        write(dir.path(), &v1, &no_hook).unwrap();
        let old_ts = std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap();

        let mut v2 = Payload::new();
        v2.insert("keep".into(), file("new", 0o644));
        v2.insert("added".into(), file("hi", 0o644));
        assert!(write(dir.path(), &v2, &no_hook).unwrap());

        let new_ts = std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap();
        assert_ne!(old_ts, new_ts);
        assert!(!dir.path().join(&old_ts).exists(), "old version removed");
        assert_eq!(
            ts_dirs(dir.path()),
            vec![new_ts.to_string_lossy().into_owned()]
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep")).unwrap(),
            "new"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("added")).unwrap(),
            "hi"
        );
        assert!(std::fs::symlink_metadata(dir.path().join("gone")).is_err());
        assert!(std::fs::symlink_metadata(dir.path().join(NEW_DATA_DIR_NAME)).is_err());
    }

    #[test]
    fn readers_never_see_a_mix_of_versions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let payload_for = |n: u32| {
            let mut p = Payload::new();
            p.insert("a".into(), file(&format!("v{n}"), 0o644));
            p.insert("b".into(), file(&format!("v{n}"), 0o644));
            p
        };
        write(&root, &payload_for(0), &no_hook).unwrap();

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let root = root.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut consistent_reads = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    // Resolve ..data once, then read both keys from that version.
                    let Ok(ts) = std::fs::read_link(root.join(DATA_DIR_NAME)) else {
                        continue;
                    };
                    let a = std::fs::read_to_string(root.join(&ts).join("a"));
                    let b = std::fs::read_to_string(root.join(&ts).join("b"));
                    if let (Ok(a), Ok(b)) = (a, b) {
                        assert_eq!(a, b, "one version's files must agree");
                        assert!(a.starts_with('v'), "never a partial file: {a:?}");
                        consistent_reads += 1;
                    }
                    // The user-visible path resolves to a complete file (or, racing the
                    // removal of the version it resolved to, to nothing at all).
                    if let Ok(visible) = std::fs::read_to_string(root.join("a")) {
                        assert!(visible.starts_with('v'), "partial file: {visible:?}");
                    }
                }
                consistent_reads
            })
        };
        for n in 1..200 {
            write(&root, &payload_for(n), &no_hook).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let reads = reader.join().unwrap();
        assert!(reads > 0);
        assert_eq!(std::fs::read_to_string(root.join("b")).unwrap(), "v199");
    }

    #[test]
    fn prepare_hook_runs_before_swap_and_failure_leaves_old_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut v1 = Payload::new();
        v1.insert("a".into(), file("1", 0o644));
        write(dir.path(), &v1, &no_hook).unwrap();
        let before = std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap();

        let mut v2 = Payload::new();
        v2.insert("a".into(), file("2", 0o644));
        let failing = |_: &Path| -> io::Result<()> { Err(io::Error::other("boom")) };
        assert!(write(dir.path(), &v2, &failing).is_err());
        assert_eq!(
            std::fs::read_link(dir.path().join(DATA_DIR_NAME)).unwrap(),
            before
        );
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(
            ts_dirs(dir.path()).len(),
            1,
            "the failed version was cleaned up"
        );
    }
}
