//! Field-level differences between two versions of an object, with paths in
//! the expression language's syntax (so a user can paste one into `--until`)
//! and as JSON pointers. Bookkeeping fields are left out.

use serde_json::Value;

/// One changed field. `old`/`new` are `None` where the field is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub pointer: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// Paths (as JSON pointers) that change on every write and say nothing.
const IGNORED: [&str; 4] = [
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
];

pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(
        &mut String::new(),
        &mut String::new(),
        Some(old),
        Some(new),
        &mut out,
    );
    out
}

fn walk(
    path: &mut String,
    pointer: &mut String,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<FieldChange>,
) {
    if IGNORED.contains(&pointer.as_str()) || old == new {
        return;
    }
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a
                .keys()
                .chain(b.keys().filter(|k| !a.contains_key(*k)))
                .collect();
            keys.sort();
            for key in keys {
                let (path_len, pointer_len) = (path.len(), pointer.len());
                push_key(path, pointer, key);
                walk(path, pointer, a.get(key), b.get(key), out);
                path.truncate(path_len);
                pointer.truncate(pointer_len);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                let (path_len, pointer_len) = (path.len(), pointer.len());
                path.push_str(&format!("[{i}]"));
                pointer.push_str(&format!("/{i}"));
                walk(path, pointer, a.get(i), b.get(i), out);
                path.truncate(path_len);
                pointer.truncate(pointer_len);
            }
        }
        _ => out.push(FieldChange {
            path: if path.is_empty() {
                ".".into()
            } else {
                path.clone()
            },
            pointer: pointer.clone(),
            old: old.cloned(),
            new: new.cloned(),
        }),
    }
}

fn push_key(path: &mut String, pointer: &mut String, key: &str) {
    let bare = key
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_alphanumeric() || c == '_');
    if bare {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str("['");
        path.push_str(&key.replace('\\', "\\\\").replace('\'', "\\'"));
        path.push_str("']");
    }
    pointer.push('/');
    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expr;
    use serde_json::json;

    fn paths(changes: &[FieldChange]) -> Vec<(&str, &str)> {
        changes
            .iter()
            .map(|c| (c.path.as_str(), c.pointer.as_str()))
            .collect()
    }

    #[test]
    fn changed_added_and_removed_leaves() {
        let old = json!({"spec": {"paused": true, "size": 1}, "status": {"ready": false}});
        let new = json!({"spec": {"size": 1}, "status": {"ready": true, "message": "reconciled"}});
        let changes = diff(&old, &new);
        assert_eq!(
            paths(&changes),
            [
                (".spec.paused", "/spec/paused"),
                (".status.message", "/status/message"),
                (".status.ready", "/status/ready")
            ]
        );
        assert_eq!(changes[0].new, None);
        assert_eq!(changes[1].old, None);
        assert_eq!(changes[2].old, Some(json!(false)));
    }

    #[test]
    fn awkward_keys_get_brackets_and_escaped_pointers() {
        let old = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a", "héllo": 1, "it's": 1, "a~b": 1}}});
        let new = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b", "héllo": 2, "it's": 2, "a~b": 2}}});
        assert_eq!(
            paths(&diff(&old, &new)),
            [
                (
                    ".metadata.labels['app.kubernetes.io/name']",
                    "/metadata/labels/app.kubernetes.io~1name"
                ),
                (".metadata.labels['a~b']", "/metadata/labels/a~0b"),
                (".metadata.labels.héllo", "/metadata/labels/héllo"),
                (".metadata.labels['it\\'s']", "/metadata/labels/it's"),
            ]
        );
    }

    #[test]
    fn every_path_can_be_pasted_into_an_expression() {
        let old = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a", "it's": 1}}, "list": [1, {"x": 1}]});
        let new = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b", "it's": 2}}, "list": [1, {"x": 2}, 3]});
        for change in diff(&old, &new) {
            let expr = Expr::parse(&change.path).unwrap_or_else(|e| panic!("{}: {e}", change.path));
            assert!(
                expr.eval(&new),
                "{} selects nothing in the new object",
                change.path
            );
        }
    }

    #[test]
    fn lists_compare_by_index_and_type_changes_are_one_change() {
        let old = json!({"items": [1, 2], "x": {"a": 1}});
        let new = json!({"items": [1, 3, 4], "x": "flat"});
        let changes = diff(&old, &new);
        assert_eq!(
            paths(&changes),
            [
                (".items[1]", "/items/1"),
                (".items[2]", "/items/2"),
                (".x", "/x")
            ]
        );
        assert_eq!(changes[2].old, Some(json!({"a": 1})));
        assert_eq!(changes[2].new, Some(json!("flat")));
    }

    #[test]
    fn bookkeeping_fields_are_left_out() {
        let old = json!({"metadata": {"resourceVersion": "1", "generation": 1, "managedFields": [1],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "a", "keep": "a"}}});
        let new = json!({"metadata": {"resourceVersion": "2", "generation": 2, "managedFields": [2],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "b", "keep": "b"}}});
        assert_eq!(
            paths(&diff(&old, &new)),
            [(".metadata.annotations.keep", "/metadata/annotations/keep")]
        );
    }
}
