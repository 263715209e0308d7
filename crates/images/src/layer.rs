//! A filesystem layer described in memory and its deterministic tar form.
//!
//! Entries live in a sorted map; the tar lists directories and files in path
//! order and then hard links in path order (a link's target must come
//! earlier in the stream). Every header has mtime 0, numeric owners only and
//! no extended attributes, so the same layer always gives the same bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::ImageError;

/// One path in a layer. Paths are relative ("bin/sh"), without `.`/`..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Directory,
    File(Cow<'static, [u8]>),
    /// A hard link to the regular file at this path (shares its contents).
    HardLink(String),
    Symlink(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layer {
    entries: BTreeMap<String, LayerEntry>,
}

/// The fixed modification time of every entry (the Unix epoch).
const MTIME: u64 = 0;

impl Layer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory (and any missing parents, mode 0755) owned by root.
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut Self, ImageError> {
        self.insert(path, mode, EntryKind::Directory)
    }

    /// Adds a regular file owned by root; missing parent directories get mode 0755.
    pub fn file(
        &mut self,
        path: &str,
        mode: u32,
        contents: impl Into<Cow<'static, [u8]>>,
    ) -> Result<&mut Self, ImageError> {
        self.insert(path, mode, EntryKind::File(contents.into()))
    }

    /// Adds a hard link at `path` to the regular file already added at `target`.
    pub fn hard_link(&mut self, path: &str, target: &str) -> Result<&mut Self, ImageError> {
        let target = normalize(target)?;
        let mode = match self.entries.get(&target) {
            Some(LayerEntry {
                kind: EntryKind::File(_),
                mode,
                ..
            }) => *mode,
            _ => {
                return Err(ImageError::InvalidEntry {
                    path: path.to_string(),
                    reason: format!(
                        "hard link target {target:?} is not a regular file of this layer"
                    ),
                })
            }
        };
        self.insert(path, mode, EntryKind::HardLink(target))
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut Self, ImageError> {
        if target.is_empty() || target.contains('\0') {
            return Err(ImageError::InvalidEntry {
                path: path.to_string(),
                reason: "symlink target must be non-empty without NUL".to_string(),
            });
        }
        self.insert(path, 0o777, EntryKind::Symlink(target.to_string()))
    }

    /// Sets the numeric owner of an existing entry.
    pub fn chown(&mut self, path: &str, uid: u64, gid: u64) -> Result<&mut Self, ImageError> {
        let key = normalize(path)?;
        let entry = self
            .entries
            .get_mut(&key)
            .ok_or_else(|| ImageError::InvalidEntry {
                path: path.to_string(),
                reason: "no such entry".to_string(),
            })?;
        entry.uid = uid;
        entry.gid = gid;
        Ok(self)
    }

    /// Entries by path, sorted.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &LayerEntry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    fn insert(&mut self, path: &str, mode: u32, kind: EntryKind) -> Result<&mut Self, ImageError> {
        let path = normalize(path)?;
        if mode > 0o7777 {
            return Err(ImageError::InvalidEntry {
                path,
                reason: format!("mode {mode:o} has bits beyond 07777"),
            });
        }
        // Parents first, so a file never lands under a missing directory.
        let mut parent = String::new();
        let components: Vec<&str> = path.split('/').collect();
        for component in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            match self.entries.get(&parent) {
                None => {
                    self.entries
                        .insert(parent.clone(), root_owned(0o755, EntryKind::Directory));
                }
                Some(LayerEntry {
                    kind: EntryKind::Directory,
                    ..
                }) => {}
                Some(_) => {
                    return Err(ImageError::InvalidEntry {
                        path,
                        reason: format!("parent {parent:?} is not a directory"),
                    })
                }
            }
        }
        self.entries.insert(path, root_owned(mode, kind));
        Ok(self)
    }

    /// The layer as an uncompressed tar stream.
    pub fn to_tar(&self) -> Result<Vec<u8>, ImageError> {
        let io = |e| ImageError::io("writing layer tar", e);
        let mut builder = tar::Builder::new(Vec::new());
        let (links, others): (Vec<_>, Vec<_>) = self
            .entries
            .iter()
            .partition(|(_, entry)| matches!(entry.kind, EntryKind::HardLink(_)));
        for (path, entry) in others.into_iter().chain(links) {
            let mut header = tar::Header::new_gnu();
            header.set_mode(entry.mode);
            header.set_uid(entry.uid);
            header.set_gid(entry.gid);
            header.set_mtime(MTIME);
            match &entry.kind {
                EntryKind::Directory => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder
                        .append_data(&mut header, format!("{path}/"), std::io::empty())
                        .map_err(io)?;
                }
                EntryKind::File(contents) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(contents.len() as u64);
                    builder
                        .append_data(&mut header, path, contents.as_ref())
                        .map_err(io)?;
                }
                EntryKind::HardLink(target) => {
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).map_err(io)?;
                }
                EntryKind::Symlink(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).map_err(io)?;
                }
            }
        }
        builder.into_inner().map_err(io)
    }
}

fn root_owned(mode: u32, kind: EntryKind) -> LayerEntry {
    LayerEntry {
        mode,
        uid: 0,
        gid: 0,
        kind,
    }
}

/// "/bin//sh/" → "bin/sh"; rejects empty paths, `.`/`..` and NUL.
fn normalize(path: &str) -> Result<String, ImageError> {
    let invalid = |reason: &str| ImageError::InvalidEntry {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.contains('\0') {
        return Err(invalid("contains NUL"));
    }
    let mut parts = Vec::new();
    for component in path.split('/') {
        match component {
            "" => {}
            "." | ".." => return Err(invalid("`.` and `..` are not allowed")),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(invalid("empty path"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn read_back(layer: &Layer) -> Vec<(String, tar::EntryType, u32, String, Vec<u8>)> {
        let bytes = layer.to_tar().expect("tar");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut out = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let header = entry.header().clone();
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let link = entry
                .link_name()
                .expect("link")
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("data");
            assert_eq!(header.mtime().expect("mtime"), 0);
            out.push((
                path,
                header.entry_type(),
                header.mode().expect("mode"),
                link,
                data,
            ));
        }
        out
    }

    #[test]
    fn parents_are_created_and_links_follow_their_targets() {
        let mut layer = Layer::new();
        layer.file("bin/busybox", 0o755, &b"BB"[..]).expect("file");
        // "[" sorts before "busybox": the link must still come after its target.
        layer.hard_link("bin/[", "bin/busybox").expect("link");
        layer.dir("tmp", 0o1777).expect("dir");
        layer
            .symlink("usr/bin/env", "/bin/busybox")
            .expect("symlink");
        let entries = read_back(&layer);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin/",
                "bin/busybox",
                "tmp/",
                "usr/",
                "usr/bin/",
                "usr/bin/env",
                "bin/["
            ]
        );
        let link = &entries[6];
        assert_eq!(
            (link.1, link.2, link.3.as_str()),
            (tar::EntryType::Link, 0o755, "bin/busybox")
        );
        assert_eq!(entries[1].4, b"BB");
        assert_eq!(entries[2].2, 0o1777);
        assert_eq!(entries[5].1, tar::EntryType::Symlink);
    }

    #[test]
    fn same_layer_gives_same_bytes() {
        let build = || {
            let mut layer = Layer::new();
            layer
                .file("etc/passwd", 0o644, b"root:x:0:0::/:/bin/sh\n".to_vec())
                .expect("file");
            layer.file("a", 0o600, &b"x"[..]).expect("file");
            layer.to_tar().expect("tar")
        };
        assert_eq!(build(), build());
    }

    #[test]
    fn rejects_bad_paths_and_dangling_links() {
        let mut layer = Layer::new();
        assert!(layer.file("../etc/x", 0o644, &b""[..]).is_err());
        assert!(layer.file("/", 0o644, &b""[..]).is_err());
        assert!(layer.hard_link("bin/sh", "bin/busybox").is_err());
        layer.file("f", 0o644, &b""[..]).expect("file");
        assert!(
            layer.file("f/g", 0o644, &b""[..]).is_err(),
            "parent is a file"
        );
        assert!(layer.dir("d", 0o17777).is_err());
    }
}
