//! The `paths` of a group-version document, shaped like kube-apiserver's:
//! collection and item paths per resource, one path per subresource, with
//! operation ids, `x-kubernetes-action`, `x-kubernetes-group-version-kind`
//! and the query parameters clients look for. kubectl's validation reads
//! the PATCH operation of a kind and requires `fieldValidation` among that
//! operation's own parameters, so every write operation carries it.

use berth_api::{ResourceInfo, Subresource};
use serde_json::{json, Map, Value};

/// Definition names a path builder needs, resolved by the document builder.
pub(crate) trait Definitions {
    /// Definition of (group, version, kind), if it has a schema.
    fn kind(&self, group: &str, version: &str, kind: &str) -> Option<String>;
    fn list(&self, group: &str, version: &str, kind: &str) -> Option<String>;
    fn delete_options(&self) -> &str;
    fn status(&self) -> &str;
    fn patch(&self) -> &str;
}

const PATCH_MEDIA_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const RESPONSE_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn schema_ref(definition: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{definition}") })
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": kind, "uniqueItems": true },
    })
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn pretty() -> Value {
    query("pretty", "string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).")
}

fn dry_run() -> Value {
    query("dryRun", "string", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed")
}

fn field_manager() -> Value {
    query("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.")
}

fn field_validation() -> Value {
    query("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: unknown fields are silently dropped. - Warn: a warning is sent for each unknown field. - Strict: the request fails with a BadRequest error if any unknown field is present.")
}

fn write_parameters() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation()]
}

fn list_parameters() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers may ignore it."),
        query("continue", "string", "The continue option should be set when retrieving more results from the server, with the value returned by the previous list call."),
        query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        query("limit", "integer", "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata."),
        query("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset."),
        query("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
        query("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`: the stream begins with synthetic events for the current state of all objects."),
        query("timeoutSeconds", "integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity."),
        query("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
    ]
}

fn delete_parameters() -> Vec<Value> {
    vec![
        dry_run(),
        query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. Value must be non-negative integer. Zero means delete immediately."),
        query("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error."),
        query("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned."),
        query("propagationPolicy", "string", "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."),
    ]
}

fn content(schema: Value, media_types: &[&str]) -> Value {
    let mut out = Map::new();
    for media in media_types {
        out.insert((*media).to_string(), json!({ "schema": schema.clone() }));
    }
    Value::Object(out)
}

/// Responses keyed by status code, all with the same body schema.
fn responses(codes: &[(&str, &str)], schema: Option<Value>) -> Value {
    let mut out = Map::new();
    for (code, description) in codes {
        let mut response = Map::new();
        response.insert("description".into(), Value::String((*description).into()));
        if let Some(schema) = &schema {
            response.insert(
                "content".into(),
                content(schema.clone(), RESPONSE_MEDIA_TYPES),
            );
        }
        out.insert((*code).to_string(), Value::Object(response));
    }
    out.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

fn request_body(schema: Value, media_types: &[&str]) -> Value {
    json!({ "content": content(schema, media_types), "required": true })
}

/// "rbac.authorization.k8s.io" -> "RbacAuthorization", "" -> "Core".
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group
        .trim_end_matches(".k8s.io")
        .split('.')
        .map(capitalize)
        .collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The tag upstream groups operations under: "core_v1", "rbacAuthorization_v1".
fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lower: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lower}_{version}")
}

struct Operation {
    id: String,
    action: &'static str,
    description: String,
    gvk: (String, String, String),
    parameters: Vec<Value>,
    request: Option<Value>,
    responses: Value,
}

impl Operation {
    fn into_value(self, tag: &str) -> Value {
        let mut op = Map::new();
        op.insert("tags".into(), json!([tag]));
        op.insert("description".into(), Value::String(self.description));
        op.insert("operationId".into(), Value::String(self.id));
        if !self.parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(self.parameters));
        }
        if let Some(body) = self.request {
            op.insert("requestBody".into(), body);
        }
        op.insert("responses".into(), self.responses);
        op.insert(
            "x-kubernetes-action".into(),
            Value::String(self.action.into()),
        );
        let (group, version, kind) = self.gvk;
        op.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({ "group": group, "version": version, "kind": kind }),
        );
        Value::Object(op)
    }
}

/// Builds the paths of every resource of one group version.
pub(crate) fn build(
    group: &str,
    version: &str,
    resources: &[&ResourceInfo],
    definitions: &dyn Definitions,
) -> Map<String, Value> {
    let mut paths = Map::new();
    let tag = tag(group, version);
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    for resource in resources {
        add_resource(&mut paths, &prefix, &tag, resource, definitions);
    }
    paths
}

fn add_resource(
    paths: &mut Map<String, Value>,
    prefix: &str,
    tag: &str,
    r: &ResourceInfo,
    definitions: &dyn Definitions,
) {
    let gv_camel = format!("{}{}", group_camel(r.group), capitalize(r.version));
    let scope = if r.namespaced() { "Namespaced" } else { "" };
    let gvk = (
        r.group.to_string(),
        r.version.to_string(),
        r.kind.to_string(),
    );
    let kind_schema = definitions
        .kind(r.group, r.version, r.kind)
        .map(|d| schema_ref(&d));
    let list_schema = definitions
        .list(r.group, r.version, r.kind)
        .map(|d| schema_ref(&d));
    let status_schema = schema_ref(definitions.status());
    let delete_body = request_body(schema_ref(definitions.delete_options()), &["*/*"]);
    let base = if r.namespaced() {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let namespace_parameter = path_parameter(
        "namespace",
        "object name and auth scope, such as for teams and projects",
    );
    let name_parameter = path_parameter("name", &format!("name of the {}", r.kind));
    let mut collection_parameters = Vec::new();
    let mut item_parameters = vec![name_parameter.clone()];
    if r.namespaced() {
        collection_parameters.push(namespace_parameter.clone());
        item_parameters.push(namespace_parameter);
    }
    collection_parameters.push(pretty());
    item_parameters.push(pretty());

    // Collection: list, create, deletecollection.
    let mut collection = Vec::new();
    if r.has_verb("list") {
        let mut parameters = list_parameters();
        parameters.retain(|p| p["name"] != "watch" || r.has_verb("watch"));
        collection.push((
            "get",
            Operation {
                id: format!("list{gv_camel}{scope}{}", r.kind),
                action: "list",
                description: format!("list or watch objects of kind {}", r.kind),
                gvk: gvk.clone(),
                parameters,
                request: None,
                responses: responses(&[("200", "OK")], list_schema.clone()),
            },
        ));
    }
    if r.has_verb("create") {
        collection.push((
            "post",
            Operation {
                id: format!("create{gv_camel}{scope}{}", r.kind),
                action: "post",
                description: format!("create a {}", r.kind),
                gvk: gvk.clone(),
                parameters: write_parameters(),
                request: kind_schema.clone().map(|s| request_body(s, &["*/*"])),
                responses: responses(
                    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                    kind_schema.clone(),
                ),
            },
        ));
    }
    if r.has_verb("deletecollection") {
        let mut parameters = delete_parameters();
        parameters.extend(
            list_parameters()
                .into_iter()
                .filter(|p| !matches!(p["name"].as_str(), Some("watch" | "allowWatchBookmarks"))),
        );
        collection.push((
            "delete",
            Operation {
                id: format!("delete{gv_camel}Collection{scope}{}", r.kind),
                action: "deletecollection",
                description: format!("delete collection of {}", r.kind),
                gvk: gvk.clone(),
                parameters,
                request: Some(delete_body.clone()),
                responses: responses(&[("200", "OK")], Some(status_schema.clone())),
            },
        ));
    }
    insert_path(paths, &base, collection_parameters, collection, tag);

    // Item: read, replace, patch, delete.
    let mut item = Vec::new();
    if r.has_verb("get") {
        item.push((
            "get",
            Operation {
                id: format!("read{gv_camel}{scope}{}", r.kind),
                action: "get",
                description: format!("read the specified {}", r.kind),
                gvk: gvk.clone(),
                parameters: Vec::new(),
                request: None,
                responses: responses(&[("200", "OK")], kind_schema.clone()),
            },
        ));
    }
    if r.has_verb("update") {
        item.push((
            "put",
            replace_operation(
                &gv_camel,
                scope,
                r.kind,
                "",
                gvk.clone(),
                kind_schema.clone(),
            ),
        ));
    }
    if r.has_verb("patch") {
        item.push((
            "patch",
            patch_operation(
                &gv_camel,
                scope,
                r.kind,
                "",
                gvk.clone(),
                kind_schema.clone(),
                definitions,
            ),
        ));
    }
    if r.has_verb("delete") {
        item.push((
            "delete",
            Operation {
                id: format!("delete{gv_camel}{scope}{}", r.kind),
                action: "delete",
                description: format!("delete a {}", r.kind),
                gvk: gvk.clone(),
                parameters: delete_parameters(),
                request: Some(delete_body),
                responses: responses(&[("200", "OK"), ("202", "Accepted")], Some(status_schema)),
            },
        ));
    }
    insert_path(
        paths,
        &format!("{base}/{{name}}"),
        item_parameters.clone(),
        item,
        tag,
    );

    // Namespaced resources can also be listed across all namespaces.
    if r.namespaced() && r.has_verb("list") {
        let mut parameters = list_parameters();
        parameters.retain(|p| p["name"] != "watch" || r.has_verb("watch"));
        let all = Operation {
            id: format!("list{gv_camel}{}ForAllNamespaces", r.kind),
            action: "list",
            description: format!("list or watch objects of kind {}", r.kind),
            gvk: gvk.clone(),
            parameters,
            request: None,
            responses: responses(&[("200", "OK")], list_schema),
        };
        insert_path(
            paths,
            &format!("{prefix}/{}", r.plural),
            vec![pretty()],
            vec![("get", all)],
            tag,
        );
    }

    for sub in r.subresources {
        add_subresource(
            paths,
            &base,
            tag,
            &gv_camel,
            scope,
            r,
            sub,
            &item_parameters,
            definitions,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn add_subresource(
    paths: &mut Map<String, Value>,
    base: &str,
    tag: &str,
    gv_camel: &str,
    scope: &str,
    r: &ResourceInfo,
    sub: &Subresource,
    item_parameters: &[Value],
    definitions: &dyn Definitions,
) {
    let path = format!("{base}/{{name}}/{}", sub.name);
    let suffix = capitalize(sub.name);
    let gvk = (
        sub.group.to_string(),
        sub.version.to_string(),
        sub.kind.to_string(),
    );
    let mut operations = Vec::new();
    // Connect subresources (exec, attach, portforward, proxy) take options
    // as query parameters and stream; they have no object schema.
    if sub.kind.ends_with("Options") {
        for verb in sub.verbs {
            let method = match *verb {
                "get" => "get",
                "create" => "post",
                "update" => "put",
                "patch" => "patch",
                "delete" => "delete",
                _ => continue,
            };
            operations.push((
                method,
                Operation {
                    id: format!(
                        "connect{gv_camel}{}{scope}{}{suffix}",
                        capitalize(method),
                        r.kind
                    ),
                    action: "connect",
                    description: format!(
                        "connect {} requests to {} of {}",
                        method.to_uppercase(),
                        sub.name,
                        r.kind
                    ),
                    gvk: gvk.clone(),
                    parameters: Vec::new(),
                    request: None,
                    responses: responses(&[("200", "OK")], Some(json!({ "type": "string" }))),
                },
            ));
        }
        insert_path(paths, &path, item_parameters.to_vec(), operations, tag);
        return;
    }
    // The log subresource answers text, not a Pod.
    let schema = if sub.name == "log" {
        Some(json!({ "type": "string" }))
    } else {
        definitions
            .kind(sub.group, sub.version, sub.kind)
            .map(|d| schema_ref(&d))
    };
    for verb in sub.verbs {
        let operation = match *verb {
            "get" => (
                "get",
                Operation {
                    id: format!("read{gv_camel}{scope}{}{suffix}", r.kind),
                    action: "get",
                    description: format!("read {} of the specified {}", sub.name, r.kind),
                    gvk: gvk.clone(),
                    parameters: if sub.name == "log" {
                        log_parameters()
                    } else {
                        Vec::new()
                    },
                    request: None,
                    responses: responses(&[("200", "OK")], schema.clone()),
                },
            ),
            "update" => (
                "put",
                replace_operation(
                    gv_camel,
                    scope,
                    r.kind,
                    &suffix,
                    gvk.clone(),
                    schema.clone(),
                ),
            ),
            "patch" => (
                "patch",
                patch_operation(
                    gv_camel,
                    scope,
                    r.kind,
                    &suffix,
                    gvk.clone(),
                    schema.clone(),
                    definitions,
                ),
            ),
            "create" => (
                "post",
                Operation {
                    id: format!("create{gv_camel}{scope}{}{suffix}", r.kind),
                    action: "post",
                    description: format!("create {} of a {}", sub.name, r.kind),
                    gvk: gvk.clone(),
                    parameters: write_parameters(),
                    request: schema.clone().map(|s| request_body(s, &["*/*"])),
                    responses: responses(
                        &[("200", "OK"), ("201", "Created"), ("202", "Accepted")],
                        schema.clone(),
                    ),
                },
            ),
            _ => continue,
        };
        operations.push(operation);
    }
    insert_path(paths, &path, item_parameters.to_vec(), operations, tag);
}

fn replace_operation(
    gv_camel: &str,
    scope: &str,
    kind: &str,
    suffix: &str,
    gvk: (String, String, String),
    schema: Option<Value>,
) -> Operation {
    Operation {
        id: format!("replace{gv_camel}{scope}{kind}{suffix}"),
        action: "put",
        description: format!("replace the specified {kind}"),
        gvk,
        parameters: write_parameters(),
        request: schema.clone().map(|s| request_body(s, &["*/*"])),
        responses: responses(&[("200", "OK"), ("201", "Created")], schema),
    }
}

fn patch_operation(
    gv_camel: &str,
    scope: &str,
    kind: &str,
    suffix: &str,
    gvk: (String, String, String),
    schema: Option<Value>,
    definitions: &dyn Definitions,
) -> Operation {
    let mut parameters = write_parameters();
    parameters.push(query("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."));
    Operation {
        id: format!("patch{gv_camel}{scope}{kind}{suffix}"),
        action: "patch",
        description: format!("partially update the specified {kind}"),
        gvk,
        parameters,
        request: Some(request_body(
            schema_ref(definitions.patch()),
            PATCH_MEDIA_TYPES,
        )),
        responses: responses(&[("200", "OK"), ("201", "Created")], schema),
    }
}

fn log_parameters() -> Vec<Value> {
    vec![
        query("container", "string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
        query("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
        query("insecureSkipTLSVerifyBackend", "boolean", "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to."),
        query("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating the log output."),
        query("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
        query("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs."),
        query("sinceTime", "string", "An RFC3339 timestamp from which to show logs."),
        query("stream", "string", "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\"."),
        query("tailLines", "integer", "If set, the number of lines from the end of the logs to show."),
        query("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
    ]
}

fn insert_path(
    paths: &mut Map<String, Value>,
    path: &str,
    parameters: Vec<Value>,
    operations: Vec<(&'static str, Operation)>,
    tag: &str,
) {
    if operations.is_empty() {
        return;
    }
    let mut item = Map::new();
    for (method, operation) in operations {
        item.insert(method.into(), operation.into_value(tag));
    }
    item.insert("parameters".into(), Value::Array(parameters));
    paths.insert(path.to_string(), Value::Object(item));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream_operation_ids_and_tags() {
        assert_eq!(group_camel(""), "Core");
        assert_eq!(
            group_camel("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
        assert_eq!(group_camel("apps"), "Apps");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
    }
}
