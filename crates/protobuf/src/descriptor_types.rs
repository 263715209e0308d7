//! The shape of the generated descriptor table (`descriptors.rs`) and lookups into it.

/// Protobuf scalar types (the wire encoding and the JSON rendering follow from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Double,
    Float,
}

/// What one value of a field is: a scalar or a message (by full proto name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Scalar(Scalar),
    Message(&'static str),
}

/// Whether a field holds one value, a list, or a map (`map<key, value>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    Optional,
    Repeated,
    Map(Scalar),
    /// A Go embedded struct (`json:",inline"`): one message on the wire whose fields appear
    /// directly in the parent's JSON object.
    Embedded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescriptor {
    pub tag: u32,
    /// The Kubernetes JSON name, e.g. `podIPs`.
    pub json_name: &'static str,
    pub value: ValueKind,
    pub cardinality: Cardinality,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageDescriptor {
    /// e.g. `k8s.io.api.core.v1.Pod`
    pub full_name: &'static str,
    /// Sorted by tag.
    pub fields: &'static [FieldDescriptor],
}

impl MessageDescriptor {
    pub fn field_by_tag(&self, tag: u32) -> Option<&'static FieldDescriptor> {
        self.fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .map(|i| &self.fields[i])
    }

    pub fn field_by_json_name(&self, json_name: &str) -> Option<&'static FieldDescriptor> {
        self.fields.iter().find(|f| f.json_name == json_name)
    }
}

/// A top-level kind with `impl Resource` in k8s-pb: apiVersion + kind -> message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub message: &'static str,
}

/// Constructors that keep the generated table short.
pub(crate) const fn field(
    tag: u32,
    json_name: &'static str,
    value: ValueKind,
    cardinality: Cardinality,
) -> FieldDescriptor {
    FieldDescriptor {
        tag,
        json_name,
        value,
        cardinality,
    }
}

pub(crate) const fn message(
    full_name: &'static str,
    fields: &'static [FieldDescriptor],
) -> MessageDescriptor {
    MessageDescriptor { full_name, fields }
}

/// Every message, sorted by full name.
pub fn messages() -> &'static [MessageDescriptor] {
    crate::descriptors::MESSAGES
}

/// Every top-level resource kind k8s-pb knows.
pub fn resource_kinds() -> &'static [ResourceKind] {
    crate::descriptors::RESOURCES
}

pub fn find_message(full_name: &str) -> Option<&'static MessageDescriptor> {
    let all = messages();
    all.binary_search_by(|m| m.full_name.cmp(full_name))
        .ok()
        .map(|i| &all[i])
}
