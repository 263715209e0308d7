//! The error kube-apiserver's JSON decode into the Go type would give a
//! body, before any validation: a value of the wrong JSON type, an integer
//! that is not one or overflows, a malformed Quantity, Time or base64
//! string. The server answers those 400 BadRequest with
//! `<Kind> in version "<v>" cannot be handled as a <Kind>: <this message>`.
//!
//! Reproduces sigs.k8s.io/json (a fork of encoding/json) as kube uses it:
//! - a type mismatch is remembered and decoding goes on; the first one in
//!   document order is reported: "json: cannot unmarshal string into Go
//!   struct field DeploymentSpec.spec.replicas of type int32" (the struct
//!   owning the field, then every field name from the root, no array
//!   indexes, no map keys);
//! - an error from a type's own `UnmarshalJSON` (Quantity, Time,
//!   MicroTime, IntOrString) stops decoding at once and wins over a
//!   remembered mismatch; IntOrString and Time delegate to
//!   `json.Unmarshal` into an int32/string, so theirs read like mismatches
//!   of those types, with the field context added;
//! - `null` is always accepted; unknown fields are skipped (strict.rs).

use serde_json::{Number, Value};

use crate::go_base64::{corrupt_input_message, corrupt_input_offset};
use crate::go_quantity::{quantity_error, FORMAT_WRONG};
use crate::go_time::{micro_time_error, time_error};
use crate::shape::{Leaf, Shape, Shapes};

/// The first decode error of `value` as definition `root`, or None.
pub(crate) fn decode_error(shapes: &Shapes, root: usize, value: &Value) -> Option<String> {
    let mut decoder = Decoder {
        shapes,
        saved: None,
    };
    match decoder.value(&Shape::Ref(root), value, Context::default(), 0) {
        Err(stopped) => Some(stopped),
        Ok(()) => decoder.saved,
    }
}

/// One field name on the path from the root, linked to its parent so the
/// walk builds no path unless it reports one.
struct Frame<'a> {
    name: &'a str,
    parent: Option<&'a Frame<'a>>,
}

/// encoding/json's `errorContext`: the struct owning the current field and
/// the field names leading to it.
#[derive(Clone, Copy, Default)]
struct Context<'a> {
    owner: Option<&'a str>,
    path: Option<&'a Frame<'a>>,
}

impl Context<'_> {
    /// `UnmarshalTypeError.Error()` with this context added.
    fn type_error(&self, json_value: &str, go_type: &str) -> String {
        if self.owner.is_none() && self.path.is_none() {
            return format!("json: cannot unmarshal {json_value} into Go value of type {go_type}");
        }
        let mut names = Vec::new();
        let mut frame = self.path;
        while let Some(f) = frame {
            names.push(f.name);
            frame = f.parent;
        }
        names.reverse();
        format!(
            "json: cannot unmarshal {json_value} into Go struct field {}.{} of type {go_type}",
            self.owner.unwrap_or_default(),
            names.join(".")
        )
    }
}

/// How Go names a JSON value in `UnmarshalTypeError`.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a JSON number fits a Go integer of the given range the way
/// `strconv.ParseInt` + `OverflowInt` decide: no fraction, no exponent.
fn fits(number: &Number, min: i64, max: i64) -> bool {
    number.as_i64().is_some_and(|n| (min..=max).contains(&n))
}

/// The number as Go's error quotes it: the literal of the request body.
/// serde_json keeps no literal; integers and floats that read back as
/// written ("1.5", "2.0") are exact; integral floats of 2^63 and beyond came
/// from an integer literal too long for 64 bits, which Go marshals (kubectl)
/// positionally below 1e21 and as "1e+21" above.
fn go_literal(number: &Number) -> String {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        Some(x) if number.is_f64() && x.fract() == 0.0 && x.abs() >= TWO_POW_63 => {
            if x.abs() < 1e21 {
                format!("{x}")
            } else {
                let text = format!("{x:e}");
                match text.split_once('e') {
                    Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                        format!("{mantissa}e+{exponent}")
                    }
                    _ => text,
                }
            }
        }
        _ => number.to_string(),
    }
}

/// A hard error: decoding stops with this message.
type Stop = String;

struct Decoder<'s> {
    shapes: &'s Shapes,
    /// The first type mismatch, reported if nothing stops decoding later.
    saved: Option<String>,
}

impl<'s> Decoder<'s> {
    fn save(&mut self, message: impl FnOnce() -> String) {
        if self.saved.is_none() {
            self.saved = Some(message());
        }
    }

    fn value(
        &mut self,
        declared: &'s Shape,
        value: &Value,
        context: Context<'_>,
        depth: usize,
    ) -> Result<(), Stop> {
        // A bound keeps a hostile deeply nested body from exhausting the stack.
        if value.is_null() || depth > 256 {
            return Ok(());
        }
        let (shape, named) = self.shapes.resolve(declared);
        let mismatch = |decoder: &mut Self| {
            let go_type = decoder.shapes.go_type(declared);
            decoder.save(|| context.type_error(json_kind(value), &go_type));
        };
        match (shape, value) {
            (Shape::Any | Shape::Ref(_), _) => {}
            (Shape::Leaf(leaf), _) => return self.leaf(*leaf, value, context),
            (Shape::Array(item), Value::Array(elements)) => {
                for element in elements {
                    self.value(item, element, context, depth + 1)?;
                }
            }
            (Shape::Map(item), Value::Object(entries)) => {
                for element in entries.values() {
                    self.value(item, element, context, depth + 1)?;
                }
            }
            (Shape::Object(fields), Value::Object(entries)) => {
                let owner = named
                    .and_then(|index| self.shapes.definition(index))
                    .map(|definition| &*definition.go_name)
                    .or(context.owner);
                for (name, element) in entries {
                    // Unknown fields are skipped, as encoding/json does.
                    let Some(field) = fields.get(name) else {
                        continue;
                    };
                    let frame = Frame {
                        name,
                        parent: context.path,
                    };
                    let inner = Context {
                        owner,
                        path: Some(&frame),
                    };
                    self.value(field, element, inner, depth + 1)?;
                }
            }
            (Shape::Array(_) | Shape::Map(_) | Shape::Object(_), _) => mismatch(self),
        }
        Ok(())
    }

    fn leaf(&mut self, leaf: Leaf, value: &Value, context: Context<'_>) -> Result<(), Stop> {
        let kind = json_kind(value);
        match (leaf, value) {
            (Leaf::String, Value::String(_))
            | (Leaf::Bool, Value::Bool(_))
            | (Leaf::Float64, Value::Number(_))
            | (Leaf::IntOrString, Value::String(_))
            | (Leaf::Quantity, Value::Number(_)) => {}
            (Leaf::Int32, Value::Number(n)) => {
                if !fits(n, i32::MIN.into(), i32::MAX.into()) {
                    self.save(|| context.type_error(&format!("number {}", go_literal(n)), "int32"));
                }
            }
            (Leaf::Int64, Value::Number(n)) => {
                if !fits(n, i64::MIN, i64::MAX) {
                    self.save(|| context.type_error(&format!("number {}", go_literal(n)), "int64"));
                }
            }
            (Leaf::Bytes, Value::String(s)) => {
                if let Some(offset) = corrupt_input_offset(s.as_bytes()) {
                    self.save(|| corrupt_input_message(offset));
                }
            }
            // encoding/json also fills a []byte from an array of numbers.
            (Leaf::Bytes, Value::Array(elements)) => {
                for element in elements {
                    match element {
                        Value::Null => {}
                        Value::Number(n) if fits(n, 0, 255) => {}
                        Value::Number(n) => self.save(|| {
                            context.type_error(&format!("number {}", go_literal(n)), "uint8")
                        }),
                        other => self.save(|| context.type_error(json_kind(other), "uint8")),
                    }
                }
            }
            // IntOrString decodes anything but a string into its int32.
            (Leaf::IntOrString, Value::Number(n)) => {
                if !fits(n, i32::MIN.into(), i32::MAX.into()) {
                    return Err(context.type_error(&format!("number {}", go_literal(n)), "int32"));
                }
            }
            (Leaf::IntOrString, _) => return Err(context.type_error(kind, "int32")),
            (Leaf::Quantity, Value::String(s)) => {
                if let Some(error) = quantity_error(s) {
                    return Err(error.to_string());
                }
            }
            // `true`, `{`, `[` can never start a quantity.
            (Leaf::Quantity, _) => return Err(FORMAT_WRONG.to_string()),
            (Leaf::Time, Value::String(s)) => return time_error(s).map_or(Ok(()), Err),
            (Leaf::MicroTime, Value::String(s)) => return micro_time_error(s).map_or(Ok(()), Err),
            // Time's UnmarshalJSON first decodes a string.
            (Leaf::Time | Leaf::MicroTime, _) => return Err(context.type_error(kind, "string")),
            (
                Leaf::String | Leaf::Bool | Leaf::Int32 | Leaf::Int64 | Leaf::Float64 | Leaf::Bytes,
                _,
            ) => self.save(|| context.type_error(kind, leaf.go_type())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::sample;
    use serde_json::json;

    fn check(obj: Value) -> Option<String> {
        let shapes = sample();
        let root = shapes.index_of("io.k8s.test.v1.Root").unwrap_or(usize::MAX);
        decode_error(&shapes, root, &obj)
    }

    #[test]
    fn first_mismatch_in_document_order_is_reported() {
        assert_eq!(
            check(json!({"count": "3", "kind": 1})).as_deref(),
            Some("json: cannot unmarshal string into Go struct field Root.count of type int32")
        );
        assert_eq!(
            check(json!({"kind": 1, "count": "3"})).as_deref(),
            Some("json: cannot unmarshal number into Go struct field Root.kind of type string")
        );
    }

    #[test]
    fn an_unmarshaler_error_stops_decoding_and_wins() {
        assert_eq!(
            check(json!({"count": "3", "limits": {"cpu": "lots"}})).as_deref(),
            Some(FORMAT_WRONG)
        );
    }

    #[test]
    fn array_elements_and_map_values_add_no_path_segment() {
        assert_eq!(
            check(json!({"items": [{"name": "a"}, {"name": 2}]})).as_deref(),
            Some(
                "json: cannot unmarshal number into Go struct field Item.items.name of type string"
            )
        );
        assert_eq!(
            check(json!({"labels": {"a": "b", "c": true}})).as_deref(),
            Some("json: cannot unmarshal bool into Go struct field Root.labels of type string")
        );
        assert_eq!(
            check(json!({"items": {"name": "a"}})).as_deref(),
            Some("json: cannot unmarshal object into Go struct field Root.items of type []v1.Item")
        );
    }

    #[test]
    fn free_form_null_and_unknown_fields_are_accepted() {
        assert_eq!(
            check(
                json!({"raw": [1, "x", {"y": true}], "count": null, "items": null,
                         "labels": {"a": null}, "bogus": {"count": "x"}, "surge": null})
            ),
            None
        );
    }

    #[test]
    fn a_root_of_the_wrong_type_has_no_field_context() {
        assert_eq!(
            check(json!("text")).as_deref(),
            Some("json: cannot unmarshal string into Go value of type v1.Root")
        );
    }

    #[test]
    fn integers_must_be_integral_and_in_range() {
        for (count, literal) in [(json!(1.5), "1.5"), (json!(3000000000u64), "3000000000")] {
            assert_eq!(
                check(json!({ "count": count })),
                Some(format!(
                    "json: cannot unmarshal number {literal} into Go struct field Root.count of type int32"
                ))
            );
        }
        assert_eq!(check(json!({"count": -2147483648i64})), None);
    }
}
