//! `$(VAR)` expansion of exec probe commands from the container's env, as kubelet does before
//! running an exec probe (only the literal `value`s count; `valueFrom` variables expand to "").

use k8s_openapi::api::core::v1::EnvVar;
use std::collections::HashMap;

/// Expands every argument of `command` with the container's static env.
pub fn expand_command(command: &[String], env: &[EnvVar]) -> Vec<String> {
    let vars: HashMap<&str, &str> = env
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
        .collect();
    command.iter().map(|arg| expand(arg, &vars)).collect()
}

/// Kubernetes' expansion rules: `$$` is an escaped `$`; `$(NAME)` is replaced when NAME is known
/// and left untouched otherwise; any other `$` stays as written.
fn expand(input: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(close) => {
                    let name = &inner[..close];
                    match vars.get(name) {
                        Some(value) => out.push_str(value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str, value: Option<&str>) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn expands_known_and_keeps_unknown() {
        let vars = [env("PORT", Some("8080")), env("FROM_SECRET", None)];
        let cmd: Vec<String> = ["check", "--port=$(PORT)", "$(MISSING)", "x$(FROM_SECRET)y"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            expand_command(&cmd, &vars),
            ["check", "--port=8080", "$(MISSING)", "xy"]
        );
    }

    #[test]
    fn escapes_and_stray_dollars() {
        let vars = [env("A", Some("1"))];
        let cmd: Vec<String> = ["$$(A)", "$A", "cost $", "$(A", "$(A)$(A)"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            expand_command(&cmd, &vars),
            ["$(A)", "$A", "cost $", "$(A", "11"]
        );
    }
}
