//! Reads the k8s-openapi sources (one file per definition) for the JSON field names that its
//! serde code uses, so the generator can report where the camelCase rule plus the exception
//! table disagrees with Kubernetes, and can list the counterpart types for the name test.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct OpenApiType {
    /// e.g. `io.k8s.api.core.v1.PodStatus`
    pub definition: String,
    /// e.g. `k8s_openapi::api::core::v1::PodStatus`
    pub rust_path: String,
    /// JSON property names as the serde code reads them.
    pub json_names: Vec<String>,
}

impl OpenApiType {
    /// The proto full name this definition corresponds to (same package, same name up to case):
    /// `io.k8s.api.core.v1.X` -> `k8s.io.api.core.v1.X`, `-` in package names -> `_`.
    pub fn proto_package_and_name(&self) -> Option<(String, String)> {
        let rest = self.definition.strip_prefix("io.k8s.")?;
        let (package, name) = rest.rsplit_once('.')?;
        Some((
            format!("k8s.io.{}", package.replace('-', "_")),
            name.to_string(),
        ))
    }
}

/// Scans `<k8s-openapi>/src/<version_dir>`, e.g. `v1_33`.
pub fn read_types(version_dir: &Path) -> Result<Vec<OpenApiType>, String> {
    let mut files = Vec::new();
    collect_rs_files(version_dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let Some(definition) = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("// Generated from definition "))
            .map(str::trim)
        else {
            continue;
        };
        let Some(struct_name) = text
            .lines()
            .find_map(|l| l.strip_prefix("pub struct "))
            .map(|r| {
                r.split([' ', '{', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
        else {
            continue;
        };
        let json_names: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let (name, rest) = l.strip_prefix('"')?.split_once('"')?;
                rest.trim_start()
                    .starts_with("=> Field::Key_")
                    .then(|| name.to_string())
            })
            .collect();
        let rel = file
            .parent()
            .and_then(|p| p.strip_prefix(version_dir).ok())
            .ok_or("bad path")?;
        let mut path = vec!["k8s_openapi".to_string()];
        path.extend(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
        path.push(struct_name);
        out.push(OpenApiType {
            definition: definition.to_string(),
            rust_path: path.join("::"),
            json_names,
        });
    }
    Ok(out)
}

fn collect_rs_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_rs_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}
