//! Server-side apply and field ownership (`metadata.managedFields`),
//! following sigs.k8s.io/structured-merge-diff and kube-apiserver's
//! fieldmanager:
//!
//! - [`apply`]: merge an applied configuration into the live object, prune
//!   fields the applier stopped applying, detect conflicts with other
//!   managers, and record the applier's fields (operation `Apply`);
//! - [`track_update`]: after a create, update or patch, give the fields that
//!   changed to the writing manager (operation `Update`), taking them from
//!   everyone else.

mod entries;
mod fieldpath;
mod last_applied;
mod typed;

use serde_json::{json, Value};
use thiserror::Error;

use crate::schema::Schemas;
use entries::{
    cap_update_managers, decode_entries, is_reset_request, raw_managed_fields, store_entries,
    without_managed_fields, ManagedEntry, APPLY,
};
pub use fieldpath::{display_path, FieldSet, Path, PathElement};
use typed::Typed;

/// Manager kube-apiserver credits with an object's fields when it is first
/// applied to but has no managed fields yet.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// A field another manager owns whose value the apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's name (e.g. `kubectl-client-side-apply`).
    pub manager: String,
    /// The field, spelled like kube (`.spec.replicas`,
    /// `.spec.containers[name="web"].image`).
    pub field: String,
    /// The other manager's operation (`Apply` or `Update`).
    pub operation: String,
    /// The other manager's apiVersion (part of how kube names Update managers).
    pub api_version: String,
    /// The other manager's subresource (empty for the main resource).
    pub subresource: String,
}

impl Conflict {
    /// How kube names the manager: `"m"`, `"m" using apps/v1`,
    /// `"m" with subresource "status" using v1`.
    pub fn manager_label(&self) -> String {
        let mut label = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            label.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation != APPLY {
            label.push_str(&format!(" using {}", self.api_version));
        }
        label
    }

    /// The `message` of the `FieldManagerConflict` Status cause (its
    /// `field` is [`Conflict::field`]).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.manager_label())
    }
}

/// Why an apply was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// Fields owned by other managers would change (409 Conflict, causes of
    /// type `FieldManagerConflict`).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The request itself is wrong, e.g. it carries `metadata.managedFields`
    /// (400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// The applied configuration does not fit the schema, e.g. an item of a
    /// keyed list without its key (422).
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// HTTP status kube-apiserver answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::Invalid(_) => 422,
        }
    }
}

/// kube-apiserver's message for apply conflicts.
pub fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager_label(),
            only.field
        );
    }
    let mut labels: Vec<String> = conflicts.iter().map(Conflict::manager_label).collect();
    labels.sort();
    labels.dedup();
    let mut lines = Vec::new();
    for label in &labels {
        lines.push(format!("conflicts with {label}:"));
        for conflict in conflicts.iter().filter(|c| &c.manager_label() == label) {
            lines.push(format!("- {}", conflict.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Fields nobody owns: identity and bookkeeping metadata (exact paths, as
/// kube's strip-meta manager) and, recursively, `status` (reset by the main
/// resource's strategy) and the managed fields themselves.
fn ownership_filter(set: FieldSet) -> FieldSet {
    let field = |name: &str| PathElement::Field(name.to_string());
    let mut exact = FieldSet::new();
    exact.insert(&[field("apiVersion")]);
    exact.insert(&[field("kind")]);
    exact.insert(&[field("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        exact.insert(&[field("metadata"), field(name)]);
    }
    let mut recursive = FieldSet::new();
    recursive.insert(&[field("status")]);
    recursive.insert(&[field("metadata"), field("managedFields")]);
    set.difference(&exact).recursive_difference(&recursive)
}

fn api_version_of(object: &Value) -> String {
    object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Server-side apply of `applied` by `manager` onto `live` (`None`: the
/// object does not exist yet). Returns the new object with
/// `metadata.managedFields` updated.
///
/// Fields the applier set are set; fields it applied before but no longer
/// does are removed unless another manager owns them; a field whose value
/// would change while another manager owns it is a conflict unless `force`
/// (which moves ownership to the applier).
///
/// For the `kubectl` manager, as kube-apiserver does: conflicts on fields the
/// live `kubectl.kubernetes.io/last-applied-configuration` annotation shows
/// were applied client-side (values unchanged since) are forgiven, and an
/// existing annotation is rewritten to the applied configuration.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schemas: &Schemas,
    root_def: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::BadRequest(
            "apply patch must be a JSON or YAML object".to_string(),
        ));
    }
    if raw_managed_fields(applied).is_some() {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    let attempt = |force: bool| apply_once(live, applied, manager, force, schemas, root_def, now);
    let mut result = match (attempt(force), live) {
        (Err(ApplyError::Conflicts(conflicts)), Some(live_object))
            if manager == last_applied::KUBECTL =>
        {
            let typed = Typed { schemas };
            let api_version = api_version_of(applied);
            let forgiven = last_applied::forgiven_fields(
                &typed,
                live_object,
                &api_version,
                schemas.root(root_def),
            );
            let Some(forgiven) = forgiven else {
                return Err(ApplyError::Conflicts(conflicts));
            };
            let forgiven: Vec<String> = forgiven.paths().iter().map(|p| display_path(p)).collect();
            let remaining: Vec<Conflict> = conflicts
                .into_iter()
                .filter(|conflict| !forgiven.contains(&conflict.field))
                .collect();
            if !remaining.is_empty() {
                return Err(ApplyError::Conflicts(remaining));
            }
            attempt(true)?
        }
        (outcome, _) => outcome?,
    };
    if manager == last_applied::KUBECTL {
        last_applied::sync_annotation(&mut result, applied);
    }
    Ok(result)
}

/// One server-side apply attempt (no client-side-apply bridge).
fn apply_once(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    schemas: &Schemas,
    root_def: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    let ty = schemas.root(root_def);
    let typed = Typed { schemas };
    let api_version = api_version_of(applied);
    let live_clean = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));

    let mut entries = live
        .map(|object| decode_entries(raw_managed_fields(object)))
        .unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        // An object nobody tracked yet: its current fields belong to a
        // placeholder Update manager, so the apply can conflict with them.
        let set = typed
            .field_set(&live_clean, ty)
            .map_err(ApplyError::Invalid)?;
        let live_api_version = api_version_of(&live_clean);
        entries.push(ManagedEntry {
            manager: BEFORE_FIRST_APPLY.to_string(),
            operation: "Update".to_string(),
            api_version: if live_api_version.is_empty() {
                api_version.clone()
            } else {
                live_api_version
            },
            time: Some(now.to_string()),
            subresource: String::new(),
            set: ownership_filter(set),
        });
    }

    // Unfiltered, the applied set still names `metadata` (through
    // `.metadata.name`), as inside structured-merge-diff's Apply; pruning
    // needs that so `metadata` itself is never seen as abandoned.
    let applied_full = typed.field_set(applied, ty).map_err(ApplyError::Invalid)?;
    let applied_set = ownership_filter(applied_full.clone());
    let mut merged = typed
        .merge(Some(&live_clean), applied, ty)
        .map_err(ApplyError::Invalid)?;

    let mine = entries.iter().position(|e| e.is(manager, APPLY, "", ""));
    let previously_applied = mine.map(|index| entries[index].set.clone());
    let previous_time = mine.and_then(|index| entries[index].time.clone());
    let mine = match mine {
        Some(index) => {
            let entry = &mut entries[index];
            entry.set = applied_set;
            entry.api_version = api_version;
            entry.time = Some(now.to_string());
            index
        }
        None => {
            entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: APPLY.to_string(),
                api_version,
                time: Some(now.to_string()),
                subresource: String::new(),
                set: applied_set,
            });
            entries.len() - 1
        }
    };

    if let Some(previous) = previously_applied {
        // structured-merge-diff's prune: remove what the applier applied
        // last time unless anyone (this applier's new configuration, other
        // appliers, updaters) still owns it, comparing both sides with named
        // struct fields as members. Without that, a `.` node such as
        // `.spec.ports` (recorded by an Update, then moved into this
        // applier's set by kubectl's csaupgrade) would look abandoned while
        // the applier still sets `.spec.ports[...].port`, and be removed.
        let owned = entries
            .iter()
            .fold(applied_full, |all, entry| all.union(&entry.set));
        let abandoned = typed
            .with_named_fields_as_members(&previous, ty)
            .difference(&typed.with_named_fields_as_members(&owned, ty));
        if !abandoned.is_empty() {
            typed.remove(&mut merged, ty, &abandoned);
        }
    }

    let comparison = typed
        .compare(live.map(|_| &live_clean), &merged, ty)
        .map_err(ApplyError::Invalid)?;
    let changed = ownership_filter(comparison.modified.union(&comparison.added));
    let removed = ownership_filter(comparison.removed);

    let mut conflicts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if index == mine {
            continue;
        }
        for path in entry.set.intersection(&changed).paths() {
            conflicts.push(Conflict {
                manager: entry.manager.clone(),
                field: display_path(&path),
                operation: entry.operation.clone(),
                api_version: entry.api_version.clone(),
                subresource: entry.subresource.clone(),
            });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(conflicts));
    }
    for (index, entry) in entries.iter_mut().enumerate() {
        if index != mine {
            entry.set = entry.set.difference(&changed).difference(&removed);
        }
    }
    if merged == live_clean && previous_time.is_some() {
        // A no-op apply leaves the record's time alone, so the object does
        // not change at all (kube then skips the write).
        entries[mine].time = previous_time;
    }
    store_entries(&mut merged, entries);
    Ok(merged)
}

/// Records a non-apply write (`operation` is `"Update"`) by `manager`:
/// returns `new` with `metadata.managedFields` giving the fields that differ
/// from `old` (`None` for a create) to `manager` and taking them from every
/// other manager.
///
/// Like kube-apiserver: managed fields the client sent are used instead of
/// the stored ones; `[]` or `[{}]` clears them; an existing object without
/// managed fields stays untracked.
#[allow(clippy::too_many_arguments)]
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    operation: &str,
    api_version: &str,
    schemas: &Schemas,
    root_def: &str,
    now: &str,
) -> Value {
    let sent = raw_managed_fields(new);
    let mut result = without_managed_fields(new);
    let mut entries = if is_reset_request(sent) {
        Vec::new()
    } else {
        let sent_entries = decode_entries(sent);
        if sent_entries.is_empty() {
            old.map(|object| decode_entries(raw_managed_fields(object)))
                .unwrap_or_default()
        } else {
            sent_entries
        }
    };
    if old.is_some() && entries.is_empty() {
        return result;
    }

    let ty = schemas.root(root_def);
    let typed = Typed { schemas };
    let old_clean = old.map(without_managed_fields);
    let Ok(comparison) = typed.compare(old_clean.as_ref(), &result, ty) else {
        // Not representable with this schema (e.g. a keyed list item without
        // its key): keep the previous records rather than guess.
        store_entries(&mut result, entries);
        return result;
    };
    let changed = ownership_filter(comparison.modified.union(&comparison.added));
    let removed = ownership_filter(comparison.removed);

    let mine = entries
        .iter()
        .position(|e| e.is(manager, operation, api_version, ""));
    for (index, entry) in entries.iter_mut().enumerate() {
        entry.set = if Some(index) == mine {
            entry.set.difference(&removed)
        } else {
            entry.set.difference(&changed).difference(&removed)
        };
    }
    if !changed.is_empty() {
        match mine {
            Some(index) => {
                let entry = &mut entries[index];
                entry.set = entry.set.union(&changed);
                entry.time = Some(now.to_string());
            }
            None => entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: operation.to_string(),
                api_version: api_version.to_string(),
                time: Some(now.to_string()),
                subresource: String::new(),
                set: changed,
            }),
        }
    }
    store_entries(&mut result, cap_update_managers(entries));
    result
}

#[cfg(test)]
mod real_schema_tests;
#[cfg(test)]
mod tests;
