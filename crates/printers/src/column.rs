//! One Table column definition, as `meta.k8s.io/v1 TableColumnDefinition` carries it.

use serde_json::{json, Value};

use crate::descriptions as desc;

/// A column of a server-side Table. Field meanings follow `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Human-readable header; kubectl upper-cases it ("Name" prints as NAME).
    pub name: &'static str,
    /// OpenAPI type: "string", "integer", "number", "boolean" or "date".
    pub type_: &'static str,
    /// OpenAPI format hint; "name" marks the column holding the object name.
    pub format: &'static str,
    /// What the column shows (upstream takes it from the API field docs).
    pub description: &'static str,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

impl Column {
    pub(crate) const fn new(
        name: &'static str,
        type_: &'static str,
        description: &'static str,
    ) -> Self {
        Column {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    /// The same column, shown only with `-o wide`.
    pub(crate) const fn wide(self) -> Self {
        Column {
            priority: 1,
            ..self
        }
    }

    /// The same column with an OpenAPI format hint.
    pub(crate) const fn formatted(self, format: &'static str) -> Self {
        Column { format, ..self }
    }

    /// The JSON object kube-apiserver sends in `columnDefinitions`.
    pub fn to_definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The object-name column every upstream printer starts with.
pub(crate) const NAME: Column = Column::new("Name", "string", desc::NAME).formatted("name");
/// The age column (a human duration computed from creationTimestamp).
pub(crate) const AGE: Column = Column::new("Age", "string", desc::CREATION_TIMESTAMP);
/// Wide-only container names of a pod template.
pub(crate) const CONTAINERS: Column =
    Column::new("Containers", "string", desc::TEMPLATE_CONTAINERS).wide();
/// Wide-only container images of a pod template.
pub(crate) const IMAGES: Column = Column::new("Images", "string", desc::TEMPLATE_IMAGES).wide();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_has_the_wire_field_names() {
        let def = NAME.to_definition();
        assert_eq!(def["name"], "Name");
        assert_eq!(def["type"], "string");
        assert_eq!(def["format"], "name");
        assert_eq!(def["priority"], 0);
        assert_eq!(CONTAINERS.to_definition()["priority"], 1);
    }
}
