//! Label maps and label selectors printed the way apimachinery's `labels` package does.

use serde_json::Value;

use crate::json::{arr_at, obj_at, str_at};

/// `labels.FormatLabels`: "k1=v1,k2=v2" sorted by key, "<none>" when empty.
pub(crate) fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<(&str, &str)> = map
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a `metav1.LabelSelector` could not become a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidSelector;

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key,
/// "" for a nil or empty selector.
pub(crate) fn selector_string(sel: Option<&Value>) -> Result<String, InvalidSelector> {
    let Some(sel) = sel.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    // (key, rendered requirement)
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = obj_at(sel, &["matchLabels"]) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or("");
            reqs.push((k.clone(), format!("{k}={v}")));
        }
    }
    for expr in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .map(|v| v.as_str().unwrap_or(""))
            .collect();
        values.sort_unstable();
        let rendered = match str_at(expr, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(InvalidSelector),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(InvalidSelector),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(InvalidSelector),
        };
        reqs.push((key.to_string(), rendered));
    }
    if reqs.iter().any(|(k, _)| k.is_empty()) {
        return Err(InvalidSelector);
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: "<none>" when empty, "<error>" when invalid.
pub(crate) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(InvalidSelector) => "<error>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_sorted_or_none() {
        assert_eq!(
            format_labels(Some(&json!({"tier": "web", "app": "x"}))),
            "app=x,tier=web"
        );
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn selector_with_expressions() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "DoesNotExist"},
                {"key": "beta", "operator": "Exists"},
                {"key": "tier", "operator": "NotIn", "values": ["cache"]}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,beta,env in (dev,prod),tier notin (cache),!zone"
        );
    }

    #[test]
    fn empty_nil_and_invalid_selectors() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(selector_string(None), Ok(String::new()));
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        let no_values = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert_eq!(selector_string(Some(&no_values)), Err(InvalidSelector));
    }
}
