//! `$(VAR)` expansion for subPathExpr, with upstream's rules: `$$` is a literal `$`, an
//! unclosed `$(` or a `$` before anything else is kept as written, and every referenced
//! variable must be set to a non-empty value.

use std::collections::{BTreeMap, BTreeSet};

/// Expands `expr` with `env`; fails with `missing value for A, B` like the kubelet.
pub fn expand_sub_path(expr: &str, env: &[(String, String)]) -> Result<String, String> {
    // Later entries win, as in a container's env list.
    let env: BTreeMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut missing = BTreeSet::new();
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(close) => {
                    let name = &inner[..close];
                    match env.get(name).filter(|v| !v.is_empty()) {
                        Some(value) => out.push_str(value),
                        None => {
                            missing.insert(name.to_string());
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
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "missing value for {}",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn expands_and_escapes() {
        let e = env(&[("POD_NAME", "web-0"), ("NS", "prod")]);
        assert_eq!(
            expand_sub_path("logs/$(NS)/$(POD_NAME)", &e).unwrap(),
            "logs/prod/web-0"
        );
        assert_eq!(expand_sub_path("$$(NS)", &e).unwrap(), "$(NS)");
        assert_eq!(expand_sub_path("a$b", &e).unwrap(), "a$b");
        assert_eq!(expand_sub_path("x$(NS", &e).unwrap(), "x$(NS");
    }

    #[test]
    fn missing_or_empty_variables_fail() {
        let e = env(&[("EMPTY", "")]);
        assert_eq!(
            expand_sub_path("$(B)/$(EMPTY)/$(A)", &e).unwrap_err(),
            "missing value for A, B, EMPTY"
        );
    }
}
