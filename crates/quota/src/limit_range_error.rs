//! LimitRanger rejections: upstream's message text plus the field it is
//! about, so the API server can answer 403 Forbidden with
//! `pods "x" is forbidden: <message>`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitViolation {
    /// e.g. `spec.containers[0].resources.limits.cpu`.
    pub field: String,
    /// Upstream's text, e.g. `maximum cpu usage per Container is 1, but limit is 2`.
    pub message: String,
}

/// All violations of one LimitRange (upstream stops at the first LimitRange
/// that rejects).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LimitRangeError {
    pub limit_range: String,
    pub violations: Vec<LimitViolation>,
}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message as is, several
/// de-duplicated, joined by ", " and wrapped in brackets.
impl fmt::Display for LimitRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen: Vec<&str> = Vec::new();
        for v in &self.violations {
            if !seen.contains(&v.message.as_str()) {
                seen.push(&v.message);
            }
        }
        match seen.as_slice() {
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl LimitRangeError {
    /// The whole 403 message, e.g. `pods "x" is forbidden: …`.
    pub fn forbidden_message(&self, resource: &str, name: &str) -> String {
        format!("{resource} \"{name}\" is forbidden: {self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(message: &str) -> LimitViolation {
        LimitViolation {
            field: "spec".into(),
            message: message.into(),
        }
    }

    #[test]
    fn one_violation_prints_bare() {
        let err = LimitRangeError {
            limit_range: "lr".into(),
            violations: vec![violation(
                "maximum cpu usage per Container is 1, but limit is 2",
            )],
        };
        assert_eq!(
            err.forbidden_message("pods", "x"),
            "pods \"x\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        );
    }

    #[test]
    fn several_print_as_a_deduplicated_list() {
        let err = LimitRangeError {
            limit_range: "lr".into(),
            violations: vec![violation("a"), violation("b"), violation("a")],
        };
        assert_eq!(err.to_string(), "[a, b]");
    }
}
