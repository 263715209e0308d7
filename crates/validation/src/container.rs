//! One container of a pod spec: name, image, ports, env, resources, mounts,
//! probes, lifecycle and security context (core validation.go).

use std::cmp::Ordering;
use std::collections::HashSet;

use berth_api::status::FieldError;
use serde_json::Value;

use crate::json::{not_found, Errors, Obj};
use crate::meta::non_negative;
use crate::names::{
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_relaxed_env_var_name, is_valid_id, is_valid_port_name, is_valid_port_num,
};
use crate::path::Path;
use crate::quantity::{self, Quantity};

pub const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Which list a container sits in; the rules differ a little.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Regular,
    Init,
    Ephemeral,
}

/// Facts about the pod that container rules need.
pub struct PodContext<'a> {
    pub volume_names: HashSet<&'a str>,
    pub grace_period: Option<i64>,
    pub host_network: bool,
}

pub fn validate_container(c: &Obj, kind: ContainerKind, ctx: &PodContext, errs: &mut Errors) {
    let name = c.str_or_empty("name", errs);
    if name.is_empty() {
        errs.push(FieldError::required(c.at("name"), ""));
    } else {
        for msg in is_dns1123_label(name) {
            errs.push(FieldError::invalid(c.at("name"), name, msg));
        }
    }
    let image = c.str_or_empty("image", errs);
    if image.is_empty() && kind != ContainerKind::Ephemeral {
        errs.push(FieldError::required(c.at("image"), ""));
    }
    if let Some(p) = c.str("imagePullPolicy", errs).filter(|s| !s.is_empty()) {
        if !matches!(p, "Always" | "IfNotPresent" | "Never") {
            errs.push(FieldError::not_supported(
                c.at("imagePullPolicy"),
                p,
                &["Always", "IfNotPresent", "Never"],
            ));
        }
    }
    if let Some(p) = c
        .str("terminationMessagePolicy", errs)
        .filter(|s| !s.is_empty())
    {
        if !matches!(p, "File" | "FallbackToLogsOnError") {
            errs.push(FieldError::not_supported(
                c.at("terminationMessagePolicy"),
                p,
                &["File", "FallbackToLogsOnError"],
            ));
        }
    }
    validate_ports(c, ctx, errs);
    validate_env(c, errs);
    validate_env_from(c, errs);
    validate_volume_mounts(c, ctx, errs);
    if let Some(r) = c.obj("resources", errs) {
        validate_resource_requirements(&r, errs);
    }
    if let Some(sc) = c.obj("securityContext", errs) {
        validate_security_context(&sc, errs);
    }

    let restart_policy = c.str("restartPolicy", errs);
    let restartable_init = kind == ContainerKind::Init && restart_policy == Some("Always");
    match kind {
        ContainerKind::Regular | ContainerKind::Ephemeral => {
            if restart_policy.is_some() {
                let msg = if kind == ContainerKind::Regular {
                    "may not be set for non-init containers"
                } else {
                    "cannot be set for an Ephemeral Container"
                };
                errs.push(FieldError::forbidden(c.at("restartPolicy"), msg));
            }
        }
        ContainerKind::Init => {
            if let Some(p) = restart_policy.filter(|p| *p != "Always") {
                errs.push(FieldError::not_supported(
                    c.at("restartPolicy"),
                    p,
                    &["Always"],
                ));
            }
        }
    }
    let probes_allowed = kind == ContainerKind::Regular || restartable_init;
    for probe in [
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "lifecycle",
    ] {
        if !c.has(probe) {
            continue;
        }
        if !probes_allowed {
            let msg = if kind == ContainerKind::Init {
                "may not be set for init containers without restartPolicy=Always"
            } else {
                "cannot be set for an Ephemeral Container"
            };
            errs.push(FieldError::forbidden(c.at(probe), msg));
            continue;
        }
        let Some(p) = c.obj(probe, errs) else {
            continue;
        };
        if probe == "lifecycle" {
            for hook in ["postStart", "preStop"] {
                if let Some(h) = p.obj(hook, errs) {
                    validate_handler(&h, true, ctx, errs);
                }
            }
        } else {
            validate_probe(&p, probe, ctx, errs);
        }
    }
}

fn validate_ports(c: &Obj, ctx: &PodContext, errs: &mut Errors) {
    let mut names = HashSet::new();
    for port in c.objs("ports", errs) {
        let name = port.str_or_empty("name", errs);
        if !name.is_empty() {
            let msgs = is_valid_port_name(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(port.at("name"), name, msg));
                }
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(port.at("name"), name));
            }
        }
        let container_port = port.int("containerPort", errs).unwrap_or(0);
        if container_port == 0 {
            errs.push(FieldError::required(port.at("containerPort"), ""));
        } else {
            for msg in is_valid_port_num(container_port) {
                errs.push(FieldError::invalid(
                    port.at("containerPort"),
                    container_port,
                    msg,
                ));
            }
        }
        let host_port = port.int("hostPort", errs).unwrap_or(0);
        if host_port != 0 {
            for msg in is_valid_port_num(host_port) {
                errs.push(FieldError::invalid(port.at("hostPort"), host_port, msg));
            }
            if ctx.host_network && host_port != container_port {
                errs.push(FieldError::invalid(
                    port.at("containerPort"),
                    container_port,
                    "must match `hostPort` when `hostNetwork` is true",
                ));
            }
        }
        if let Some(p) = port.str("protocol", errs) {
            if p.is_empty() {
                errs.push(FieldError::required(port.at("protocol"), ""));
            } else if !PROTOCOLS.contains(&p) {
                errs.push(FieldError::not_supported(port.at("protocol"), p, PROTOCOLS));
            }
        }
        if let Some(ip) = port.str("hostIP", errs).filter(|s| !s.is_empty()) {
            if ip.parse::<std::net::IpAddr>().is_err() {
                errs.push(FieldError::invalid(
                    port.at("hostIP"),
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                ));
            }
        }
    }
}

fn validate_env(c: &Obj, errs: &mut Errors) {
    for ev in c.objs("env", errs) {
        let name = ev.str_or_empty("name", errs);
        if name.is_empty() {
            errs.push(FieldError::required(ev.at("name"), ""));
        } else {
            for msg in is_relaxed_env_var_name(name) {
                errs.push(FieldError::invalid(ev.at("name"), name, msg));
            }
        }
        let Some(from) = ev.obj("valueFrom", errs) else {
            continue;
        };
        let mut sources = 0;
        if let Some(f) = from.obj("fieldRef", errs) {
            sources += 1;
            validate_object_field_selector(&f, ENV_FIELD_PATHS, errs);
        }
        if let Some(r) = from.obj("resourceFieldRef", errs) {
            sources += 1;
            validate_resource_field_selector(&r, errs);
        }
        for key in ["configMapKeyRef", "secretKeyRef"] {
            if let Some(k) = from.obj(key, errs) {
                sources += 1;
                validate_key_selector(&k, errs);
            }
        }
        let value = ev.str_or_empty("value", errs);
        if sources == 0 {
            errs.push(FieldError::invalid(
                from.path(),
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ));
        } else if !value.is_empty() {
            errs.push(FieldError::invalid(
                from.path(),
                "",
                "may not be specified when `value` is not empty",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                from.path(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

pub fn validate_object_field_selector(f: &Obj, allowed: &[&str], errs: &mut Errors) {
    if f.str_or_empty("apiVersion", errs).is_empty() && f.has("apiVersion") {
        errs.push(FieldError::required(f.at("apiVersion"), ""));
    }
    let path = f.str_or_empty("fieldPath", errs);
    if path.is_empty() {
        errs.push(FieldError::required(f.at("fieldPath"), ""));
        return;
    }
    // metadata.labels['key'] and metadata.annotations['key'] select one entry.
    if let Some((base, rest)) = path.split_once('[') {
        if matches!(base, "metadata.labels" | "metadata.annotations") {
            let key = rest.trim_end_matches(']').trim_matches('\'');
            for msg in is_qualified_name(key) {
                errs.push(FieldError::invalid(f.at("fieldPath"), path, msg));
            }
            return;
        }
    }
    if !allowed.contains(&path) {
        errs.push(FieldError::not_supported(f.at("fieldPath"), path, allowed));
    }
}

fn validate_resource_field_selector(r: &Obj, errs: &mut Errors) {
    const ALLOWED: &[&str] = &[
        "limits.cpu",
        "limits.ephemeral-storage",
        "limits.memory",
        "requests.cpu",
        "requests.ephemeral-storage",
        "requests.memory",
    ];
    let res = r.str_or_empty("resource", errs);
    if res.is_empty() {
        errs.push(FieldError::required(r.at("resource"), ""));
    } else if !ALLOWED.contains(&res)
        && !res.starts_with("limits.hugepages-")
        && !res.starts_with("requests.hugepages-")
    {
        errs.push(FieldError::not_supported(r.at("resource"), res, ALLOWED));
    }
    if let Some(d) = r.raw("divisor") {
        quantity::read(d, &r.at("divisor"), errs);
    }
}

fn validate_key_selector(k: &Obj, errs: &mut Errors) {
    let name = k.str_or_empty("name", errs);
    if !name.is_empty() {
        for msg in is_dns1123_subdomain(name) {
            errs.push(FieldError::invalid(k.at("name"), name, msg));
        }
    }
    let key = k.str_or_empty("key", errs);
    if key.is_empty() {
        errs.push(FieldError::required(k.at("key"), ""));
    } else {
        for msg in is_config_map_key(key) {
            errs.push(FieldError::invalid(k.at("key"), key, msg));
        }
    }
}

fn validate_env_from(c: &Obj, errs: &mut Errors) {
    for ef in c.objs("envFrom", errs) {
        let prefix = ef.str_or_empty("prefix", errs);
        if !prefix.is_empty() {
            for msg in is_relaxed_env_var_name(prefix) {
                errs.push(FieldError::invalid(ef.at("prefix"), prefix, msg));
            }
        }
        let mut sources = 0;
        for key in ["configMapRef", "secretRef"] {
            if let Some(r) = ef.obj(key, errs) {
                sources += 1;
                let name = r.str_or_empty("name", errs);
                if name.is_empty() {
                    errs.push(FieldError::required(r.at("name"), ""));
                } else {
                    for msg in is_dns1123_subdomain(name) {
                        errs.push(FieldError::invalid(r.at("name"), name, msg));
                    }
                }
            }
        }
        if sources == 0 {
            errs.push(FieldError::invalid(
                ef.path(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if sources > 1 {
            errs.push(FieldError::invalid(
                ef.path(),
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
}

fn validate_volume_mounts(c: &Obj, ctx: &PodContext, errs: &mut Errors) {
    let mut mount_points = HashSet::new();
    for m in c.objs("volumeMounts", errs) {
        let name = m.str_or_empty("name", errs);
        if name.is_empty() {
            errs.push(FieldError::required(m.at("name"), ""));
        }
        if !ctx.volume_names.contains(name) {
            errs.push(not_found(&m.at("name"), name));
        }
        let mount_path = m.str_or_empty("mountPath", errs);
        if mount_path.is_empty() {
            errs.push(FieldError::required(m.at("mountPath"), ""));
        }
        if !mount_points.insert(mount_path) {
            errs.push(FieldError::invalid(
                m.at("mountPath"),
                mount_path,
                "must be unique",
            ));
        }
        let sub_path = m.str_or_empty("subPath", errs);
        if !sub_path.is_empty() {
            validate_local_descending_path(sub_path, &m.at("subPath"), errs);
        }
        if let Some(p) = m.str("mountPropagation", errs) {
            const MODES: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&p) {
                errs.push(FieldError::not_supported(
                    m.at("mountPropagation"),
                    p,
                    MODES,
                ));
            }
        }
    }
}

/// Relative path without `..` steps (subPath, key-to-path items).
pub fn validate_local_descending_path(p: &str, path: &Path, errs: &mut Errors) {
    if p.starts_with('/') {
        errs.push(FieldError::invalid(path, p, "must be a relative path"));
    }
    if p.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(path, p, "must not contain '..'"));
    }
}

/// Standard container resources and the overcommit rule for requests/limits.
pub fn validate_resource_requirements(r: &Obj, errs: &mut Errors) {
    let mut limits = Vec::new();
    if let Some(l) = r.obj("limits", errs) {
        for (name, v) in l.map {
            let p = l.path.key(name);
            validate_container_resource_name(name, &p, errs);
            if let Some(q) = quantity::read_non_negative(v, &p, errs) {
                check_integer_resource(name, &q, &p, errs);
                limits.push((name.as_str(), q));
            }
        }
    }
    let req_path = r.at("requests");
    if let Some(rq) = r.obj("requests", errs) {
        for (name, v) in rq.map {
            let p = rq.path.key(name);
            validate_container_resource_name(name, &p, errs);
            let Some(q) = quantity::read_non_negative(v, &p, errs) else {
                continue;
            };
            check_integer_resource(name, &q, &p, errs);
            match limits.iter().find(|(n, _)| *n == name) {
                Some((_, limit)) => {
                    if !overcommit_allowed(name) && q.cmp_q(limit) != Ordering::Equal {
                        errs.push(FieldError::invalid(
                            &req_path,
                            q.text.clone(),
                            format!("must be equal to {name} limit of {}", limit.text),
                        ));
                    } else if q.cmp_q(limit) == Ordering::Greater {
                        errs.push(FieldError::invalid(
                            &req_path,
                            q.text.clone(),
                            format!(
                                "must be less than or equal to {name} limit of {}",
                                limit.text
                            ),
                        ));
                    }
                }
                None if !overcommit_allowed(name) => errs.push(FieldError::required(
                    r.at("limits"),
                    "Limit must be set for non overcommitable resources",
                )),
                None => {}
            }
        }
    }
}

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !name.starts_with("hugepages-")
}

fn check_integer_resource(name: &str, q: &Quantity, path: &Path, errs: &mut Errors) {
    if !is_native(name) && !q.is_integer() {
        errs.push(FieldError::invalid(
            path,
            q.text.clone(),
            "must be an integer",
        ));
    }
}

fn validate_container_resource_name(name: &str, path: &Path, errs: &mut Errors) {
    for msg in is_qualified_name(name) {
        errs.push(FieldError::invalid(path, name, msg));
    }
    if !name.contains('/') {
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage")
            && !name.starts_with("hugepages-")
        {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && name.starts_with("requests.") {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
}

fn validate_probe(p: &Obj, which: &str, ctx: &PodContext, errs: &mut Errors) {
    validate_handler(p, false, ctx, errs);
    for f in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        if let Some(n) = p.int(f, errs) {
            non_negative(n, &p.at(f), errs);
        }
    }
    if which != "readinessProbe" {
        if let Some(n) = p.int("successThreshold", errs).filter(|n| *n != 1) {
            errs.push(FieldError::invalid(
                p.at("successThreshold"),
                n,
                "must be 1",
            ));
        }
    }
    if let Some(n) = p.int("terminationGracePeriodSeconds", errs) {
        if which == "readinessProbe" {
            errs.push(FieldError::invalid(
                p.at("terminationGracePeriodSeconds"),
                n,
                "must not be set for readinessProbes",
            ));
        } else if n <= 0 {
            errs.push(FieldError::invalid(
                p.at("terminationGracePeriodSeconds"),
                n,
                "must be greater than 0",
            ));
        }
    }
}

/// Exactly one of exec/httpGet/tcpSocket/grpc (probes) or exec/httpGet/tcpSocket/sleep (hooks).
fn validate_handler(h: &Obj, lifecycle: bool, ctx: &PodContext, errs: &mut Errors) {
    let kinds: &[&str] = if lifecycle {
        &["exec", "httpGet", "tcpSocket", "sleep"]
    } else {
        &["exec", "httpGet", "tcpSocket", "grpc"]
    };
    let mut count = 0;
    for kind in kinds {
        let Some(a) = h.obj(kind, errs) else { continue };
        if count > 0 {
            errs.push(FieldError::forbidden(
                h.at(kind),
                "may not specify more than 1 handler type",
            ));
            continue;
        }
        count += 1;
        match *kind {
            "exec" if a.arr("command", errs).is_none_or(|c| c.is_empty()) => {
                errs.push(FieldError::required(a.at("command"), ""));
            }
            "httpGet" => {
                if a.str("path", errs) == Some("") {
                    errs.push(FieldError::required(a.at("path"), ""));
                }
                validate_port_num_or_name(a.raw("port"), &a.at("port"), errs);
                if let Some(s) = a.str("scheme", errs).filter(|s| !s.is_empty()) {
                    if !matches!(s, "HTTP" | "HTTPS") {
                        errs.push(FieldError::not_supported(
                            a.at("scheme"),
                            s,
                            &["HTTP", "HTTPS"],
                        ));
                    }
                }
            }
            "tcpSocket" => validate_port_num_or_name(a.raw("port"), &a.at("port"), errs),
            "grpc" => {
                let port = a.int("port", errs).unwrap_or(0);
                for msg in is_valid_port_num(port) {
                    errs.push(FieldError::invalid(a.at("port"), port, msg));
                }
            }
            "sleep" => {
                let secs = a.int("seconds", errs).unwrap_or(0);
                if secs < 0 {
                    errs.push(FieldError::invalid(
                        a.at("seconds"),
                        secs,
                        "must be non-negative integer",
                    ));
                } else if ctx.grace_period.is_some_and(|g| secs > g) {
                    errs.push(FieldError::invalid(
                        a.at("seconds"),
                        secs,
                        "must be less than terminationGracePeriodSeconds",
                    ));
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(
            h.path(),
            "must specify a handler type",
        ));
    }
}

/// An IntOrString port: a number 1-65535 or an IANA service name.
pub fn validate_port_num_or_name(v: Option<&Value>, path: &Path, errs: &mut Errors) {
    match v {
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in is_valid_port_num(n) {
                errs.push(FieldError::invalid(path, n, msg));
            }
        }
        Some(Value::String(s)) => {
            for msg in is_valid_port_name(s) {
                errs.push(FieldError::invalid(path, s.as_str(), msg));
            }
        }
        None | Some(Value::Null) => {
            for msg in is_valid_port_num(0) {
                errs.push(FieldError::invalid(path, 0, msg));
            }
        }
        Some(other) => errs.push(FieldError::invalid(
            path,
            other.clone(),
            "must be an integer or a string",
        )),
    }
}

const SECCOMP_TYPES: &[&str] = &["Localhost", "RuntimeDefault", "Unconfined"];

/// Container-level securityContext.
pub fn validate_security_context(sc: &Obj, errs: &mut Errors) {
    for f in ["runAsUser", "runAsGroup"] {
        if let Some(id) = sc.int(f, errs) {
            for msg in is_valid_id(id) {
                errs.push(FieldError::invalid(sc.at(f), id, msg));
            }
        }
    }
    if let Some(pm) = sc.str("procMount", errs) {
        if !matches!(pm, "Default" | "Unmasked") {
            errs.push(FieldError::not_supported(
                sc.at("procMount"),
                pm,
                &["Default", "Unmasked"],
            ));
        }
    }
    validate_seccomp(sc, errs);
    let privileged = sc.bool("privileged", errs) == Some(true);
    if sc.bool("allowPrivilegeEscalation", errs) == Some(false) {
        if privileged {
            errs.push(FieldError::invalid(
                sc.path(),
                Value::Object(sc.map.clone()),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        if let Some(caps) = sc.obj("capabilities", errs) {
            if caps
                .strs("add", errs)
                .iter()
                .any(|(_, c)| *c == "CAP_SYS_ADMIN")
            {
                errs.push(FieldError::invalid(
                    sc.path(),
                    Value::Object(sc.map.clone()),
                    "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
                ));
            }
        }
    }
}

pub fn validate_seccomp(sc: &Obj, errs: &mut Errors) {
    let Some(sp) = sc.obj("seccompProfile", errs) else {
        return;
    };
    let t = sp.str_or_empty("type", errs);
    let localhost = sp.str("localhostProfile", errs);
    if t.is_empty() {
        errs.push(FieldError::required(sp.at("type"), ""));
    } else if !SECCOMP_TYPES.contains(&t) {
        errs.push(FieldError::not_supported(sp.at("type"), t, SECCOMP_TYPES));
    } else if t == "Localhost" && localhost.is_none_or(str::is_empty) {
        errs.push(FieldError::required(
            sp.at("localhostProfile"),
            "must be set when seccomp type is Localhost",
        ));
    } else if t != "Localhost" && localhost.is_some() {
        errs.push(FieldError::forbidden(
            sp.at("localhostProfile"),
            "can only be set when seccomp type is Localhost",
        ));
    }
}
