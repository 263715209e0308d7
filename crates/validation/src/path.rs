//! Field paths written the way Kubernetes prints them:
//! `spec.containers[0].image`, `metadata.labels[app]`.

use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// A top-level path such as `metadata` or `spec`.
    pub fn root(name: &str) -> Self {
        Path(name.to_string())
    }

    /// `self.name` (or `name` alone at the root).
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    /// Several nested children at once: `p.children(&["template", "spec"])`.
    pub fn children(&self, names: &[&str]) -> Self {
        names.iter().fold(self.clone(), |p, n| p.child(n))
    }

    /// `self[i]` for list elements.
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{i}]", self.0))
    }

    /// `self[key]` for map entries (Kubernetes does not quote the key).
    pub fn key(&self, key: &str) -> Self {
        Path(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.0
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> String {
        p.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_kubernetes() {
        let p = Path::root("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(p.as_str(), "spec.containers[0].image");
        assert_eq!(
            Path::root("metadata").child("labels").key("app").as_str(),
            "metadata.labels[app]"
        );
        assert_eq!(Path::default().child("data").as_str(), "data");
    }
}
