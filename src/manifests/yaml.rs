//! A small YAML writer for the manifests: block style, keys sorted (as
//! kubectl prints them), strings plain where YAML reads them back as the same string and
//! JSON-quoted otherwise (a JSON string is a valid YAML double-quoted one).

use serde_json::Value;

/// One document, without the `---` that separates documents.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn mapping(out: &mut String, map: &serde_json::Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        nested(out, value, indent);
    }
}

/// What follows `key:` or `-`: a scalar on the same line, or a block below.
fn nested(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(out, items, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// Items at the parent's indentation, as kubectl prints them.
fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut first = String::new();
                mapping(&mut first, map, indent + 2);
                out.push(' ');
                out.push_str(&first[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => string(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// Plain when it cannot be read as anything but this string.
fn string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-".contains(&b))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
        );
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_back_as_the_same_value() {
        let value = json!({
            "apiVersion": "v1",
            "kind": "Thing",
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "kubectl-notify"}},
            "args": ["widgets", "--when", ".status.phase == \"Failed\"", "-A", "", "true", "0x1", "a: b", "# c", "ü"],
            "nested": [{"a": 1, "b": [{"c": null}], "d": {}}, [1, 2], [], "x"],
            "numbers": [0, -1, 2.5, true, false],
            "empty": {},
            "multi": "line one\nline two",
        });
        let text = document(&value);
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }

    #[test]
    fn looks_as_kubectl_prints_it() {
        let text = document(&json!({"spec": {"containers": [{"name": "c", "args": ["-A"]}]}}));
        assert_eq!(
            text,
            "spec:\n  containers:\n  - args:\n    - \"-A\"\n    name: c\n"
        );
    }
}
