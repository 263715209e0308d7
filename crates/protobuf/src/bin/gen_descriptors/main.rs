//! Generates `src/descriptors.rs` (the message/field table the decoder walks) from the
//! prost sources of `k8s-pb`, and `tests/generated/openapi_counterparts.rs` (every k8s-openapi
//! type that has a proto counterpart, for the JSON-name test).
//!
//! Usage (from the workspace root, after `cargo fetch` so the sources are in ~/.cargo):
//!   cargo run -p berth-protobuf --bin gen_descriptors
//!   cargo run -p berth-protobuf --bin gen_descriptors -- --k8s-pb DIR --k8s-openapi DIR
//! then `cargo fmt -p berth-protobuf` (the output is nearly, not exactly, rustfmt-clean).

mod embedded;
mod emit;
mod json_names;
mod openapi_source;
mod prost_source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Packages in k8s-pb that are test fixtures, not API.
const SKIPPED_PACKAGES: &[&str] = &["k8s.io.apimachinery.pkg.apis.testapigroup.v1"];

/// The k8s-openapi version module the workspace builds with (feature `v1_33`).
const OPENAPI_VERSION_DIR: &str = "v1_33";

struct Args {
    k8s_pb: PathBuf,
    k8s_openapi: PathBuf,
    out: PathBuf,
    counterparts: PathBuf,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_descriptors: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let mut krate = prost_source::read_crate(&args.k8s_pb.join("src"))?;
    krate
        .messages
        .retain(|m| !SKIPPED_PACKAGES.contains(&m.package.as_str()));
    let openapi =
        openapi_source::read_types(&args.k8s_openapi.join("src").join(OPENAPI_VERSION_DIR))?;

    // prost renames messages to UpperCamelCase (HostIP -> HostIp); k8s-openapi keeps the
    // Kubernetes spelling, which is also the proto's. Use it wherever a counterpart exists.
    let mut openapi_by_key: HashMap<(String, String), &openapi_source::OpenApiType> =
        HashMap::new();
    for t in &openapi {
        if let Some((package, name)) = t.proto_package_and_name() {
            openapi_by_key.insert((package, name.to_lowercase()), t);
        }
    }
    let mut renames: HashMap<String, String> = HashMap::new();
    for m in &krate.messages {
        if let Some(t) = openapi_by_key.get(&(m.package.clone(), m.name.to_lowercase())) {
            if let Some((_, name)) = t.proto_package_and_name() {
                if name != m.name {
                    renames.insert(m.full_name(), format!("{}.{}", m.package, name));
                }
            }
        }
    }
    let mut messages = emit::build_messages(&krate.messages, &renames)?;
    let mut openapi_names: HashMap<String, Vec<String>> = HashMap::new();
    for m in &messages {
        if let Some((package, name)) = m.full_name.rsplit_once('.') {
            if let Some(t) = openapi_by_key.get(&(package.to_string(), name.to_lowercase())) {
                if !t.json_names.is_empty() && !emit::is_special(&m.full_name) {
                    openapi_names.insert(m.full_name.clone(), t.json_names.clone());
                }
            }
        }
    }
    let embedded_count = embedded::mark_embedded(&mut messages, &openapi_names);
    let no_marks = std::collections::HashSet::new();
    let resources = emit::build_resources(&krate.resources, &renames);

    // Pair every generated message with its k8s-openapi type and report JSON-name differences.
    let mut counterparts = Vec::new();
    let mut problems = 0usize;
    for m in &messages {
        let (package, name) = m.full_name.rsplit_once('.').ok_or("bad full name")?;
        let Some(t) = openapi_by_key.get(&(package.to_string(), name.to_lowercase())) else {
            continue;
        };
        if t.json_names.is_empty() || emit::is_special(&m.full_name) {
            continue;
        }
        counterparts.push((m.full_name.clone(), t.rust_path.clone()));
        for f in &m.fields {
            if f.cardinality == embedded::EMBEDDED {
                println!("EMBEDDED {}.{}", m.full_name, f.rust_name);
                continue;
            }
            if t.json_names.contains(&f.json_name) {
                continue;
            }
            let normalized = normalize(&f.json_name);
            match t.json_names.iter().find(|n| normalize(n) == normalized) {
                Some(expected) => {
                    problems += 1;
                    println!(
                        "NAME  {}.{}: generated {:?}, k8s-openapi {:?}",
                        m.full_name, f.rust_name, f.json_name, expected
                    );
                }
                None => println!(
                    "ONLY-PROTO {}.{} ({})",
                    m.full_name, f.json_name, f.rust_name
                ),
            }
        }
        let flat = embedded::flattened_names(&messages, &m.full_name, &no_marks, 0);
        for n in &t.json_names {
            if !flat.iter().any(|f| normalize(f) == normalize(n)) {
                println!("ONLY-OPENAPI {}.{n}", m.full_name);
            }
        }
    }

    std::fs::write(
        &args.out,
        emit::descriptors_file(&messages, &resources, &args.k8s_pb),
    )
    .map_err(|e| format!("{}: {e}", args.out.display()))?;
    if let Some(dir) = args.counterparts.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&args.counterparts, emit::counterparts_file(&counterparts))
        .map_err(|e| format!("{}: {e}", args.counterparts.display()))?;
    println!(
        "wrote {} messages, {} resource kinds to {}; {} counterparts to {}; {embedded_count} embedded fields; {problems} JSON-name differences",
        messages.len(),
        resources.len(),
        args.out.display(),
        counterparts.len(),
        args.counterparts.display()
    );
    Ok(())
}

/// Names equal up to case and separators are the same field spelled differently.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn parse_args() -> Result<Args, String> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut k8s_pb = None;
    let mut k8s_openapi = None;
    let mut out = manifest_dir.join("src/descriptors.rs");
    let mut counterparts = manifest_dir.join("tests/generated/openapi_counterparts.rs");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or(format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--k8s-pb" => k8s_pb = Some(value()?),
            "--k8s-openapi" => k8s_openapi = Some(value()?),
            "--out" => out = value()?,
            "--counterparts" => counterparts = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let k8s_pb = match k8s_pb {
        Some(p) => p,
        None => find_registry_crate("k8s-pb-0.9.")?,
    };
    let k8s_openapi = match k8s_openapi {
        Some(p) => p,
        None => find_registry_crate("k8s-openapi-0.29.")?,
    };
    Ok(Args {
        k8s_pb,
        k8s_openapi,
        out,
        counterparts,
    })
}

/// The newest `$CARGO_HOME/registry/src/*/<prefix>*` folder.
fn find_registry_crate(prefix: &str) -> Result<PathBuf, String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = cargo_home.join("registry/src");
    let mut found = Vec::new();
    for index in std::fs::read_dir(&registry).map_err(|e| format!("{}: {e}", registry.display()))? {
        let index = index.map_err(|e| e.to_string())?.path();
        for entry in std::fs::read_dir(&index).map_err(|e| format!("{}: {e}", index.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found.pop().ok_or(format!(
        "no {prefix}* under {}; run `cargo fetch` first",
        registry.display()
    ))
}
