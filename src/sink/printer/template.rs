//! kubectl's `-o jsonpath=TEMPLATE`: literal text with `{.path}` parts (and
//! `{"text"}` literals), one line per object. A missing field prints nothing,
//! as kubectl does with `--allow-missing-template-keys`.

use serde_json::Value;

use crate::expr::Expr;
use crate::template_path::{to_expr_path, unquoted};

#[derive(Debug)]
enum Part {
    Text(String),
    Path(Expr),
}

#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = closing_brace(after).ok_or_else(|| {
                format!(
                    "-o jsonpath: `{{` at column {} is never closed",
                    text.len() - rest.len() + open + 1
                )
            })?;
            let inner = after[..close].trim();
            parts.push(part(inner)?);
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        if parts.is_empty() {
            return Err(
                "-o jsonpath: the template is empty; e.g. -o jsonpath='{.metadata.name}'".into(),
            );
        }
        Ok(Template { parts })
    }

    /// The text of one `-o jsonpath` line, its end left to the writer: a
    /// template that ends with `{"\n"}`, as kubectl users write it, is not
    /// given a second newline; one that does not still gets one, so each
    /// notification is one line (kubectl itself adds none).
    pub fn render_line(&self, object: &Value) -> String {
        let mut text = self.render(object);
        if text.ends_with('\n') {
            text.pop();
        }
        text
    }

    pub fn render(&self, object: &Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Path(path) => {
                    let values: Vec<String> = path
                        .path_values(object)
                        .into_iter()
                        .flat_map(|(_, nodes)| nodes)
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    out.push_str(&values.join(" "));
                }
            }
        }
        out
    }
}

/// The `}` that ends a `{...}` part (its text starts after the `{`),
/// skipping brackets and quoted text.
fn closing_brace(text: &str) -> Option<usize> {
    unquoted(text)
        .find(|&(_, c, depth)| c == '}' && depth == -1)
        .map(|(at, ..)| at)
}

fn part(inner: &str) -> Result<Part, String> {
    if let Some(literal) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Ok(Part::Text(
            literal.replace("\\n", "\n").replace("\\t", "\t"),
        ));
    }
    // kubectl's loops walk a list; a notification is one object, whose
    // fields are named directly.
    let keyword = inner.split_whitespace().next().unwrap_or("");
    if keyword == "range" || keyword == "end" {
        return Err(format!(
            "-o jsonpath: {{{keyword}}} is not supported: each line is one object, so name \
             its fields directly, e.g. {{.metadata.name}}, or a list's items with \
             {{.status.conditions[*].type}}"
        ));
    }
    let path = to_expr_path(inner);
    if path.is_empty() || path == "." || path == "$" {
        return Err("-o jsonpath: `{}` names no field; e.g. {.metadata.name}".into());
    }
    let expr = Expr::parse(&path).map_err(|e| format!("-o jsonpath: {{{inner}}}: {e}"))?;
    if !expr.is_path() {
        return Err(format!(
            "-o jsonpath: {{{inner}}} is not a path; ranges and expressions are not supported"
        ));
    }
    Ok(Part::Path(expr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, object: &Value) -> String {
        Template::parse(template).unwrap().render(object)
    }

    #[test]
    fn text_and_paths_like_kubectl() {
        let w = json!({"metadata": {"name": "foo", "labels": {"app.kubernetes.io/name": "web"}},
            "status": {"phase": "Running", "replicas": 3, "ok": true, "conditions": [{"type": "A"}, {"type": "B"}]}});
        assert_eq!(
            render("{.metadata.name} {.status.phase}", &w),
            "foo Running"
        );
        assert_eq!(
            render("name={.metadata.name}{\"\\t\"}n={.status.replicas}", &w),
            "name=foo\tn=3"
        );
        assert_eq!(render("{.status.ok}", &w), "true");
        assert_eq!(render("{.status.conditions[*].type}", &w), "A B");
        assert_eq!(
            render("{.metadata.labels['app.kubernetes.io/name']}", &w),
            "web"
        );
        assert_eq!(render("{metadata.name}", &w), "foo");
        assert_eq!(
            render("{.status.conditions[?(@.type==\"B\")].type}", &w),
            "B"
        );
        assert_eq!(
            render("{.status.missing}|", &w),
            "|",
            "a missing field prints nothing"
        );
        assert_eq!(
            render("{.metadata.labels}", &w),
            "{\"app.kubernetes.io/name\":\"web\"}"
        );
    }

    #[test]
    fn keys_as_kubectl_spells_them() {
        let w = json!({"metadata": {"labels": {"new.label/x": "1", "app-name": "web"}}});
        assert_eq!(
            render(
                "{.metadata.labels.new\\.label/x} {.metadata.labels.app-name}",
                &w
            ),
            "1 web"
        );
    }

    #[test]
    fn malformed_templates_are_rejected() {
        for (bad, needle) in [
            ("{.a", "never closed"),
            ("", "empty"),
            ("{}", "names no field"),
            ("{.a == 1}", "not a path"),
            ("{.a b}", ""),
        ] {
            let err = Template::parse(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
