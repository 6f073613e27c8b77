//! Label and field selectors, parsed from the query string and matched against
//! objects, with the apiserver's error messages for what it refuses.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct LabelSelector {
    reqs: Vec<(String, LabelOp)>,
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { reqs })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.reqs.iter().all(|(k, op)| {
            let v = get(k);
            match op {
                LabelOp::Eq(x) => v == Some(x.as_str()),
                LabelOp::NotEq(x) => v != Some(x.as_str()),
                LabelOp::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                LabelOp::NotIn(xs) => !v.is_some_and(|v| xs.iter().any(|x| x == v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::NotExists => v.is_none(),
                LabelOp::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                LabelOp::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

/// Splits on commas that are not inside parentheses (`a in (x,y),b`).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn parse_requirement(part: &str) -> Result<(String, LabelOp), String> {
    let bad = || format!("unable to parse requirement: found '{part}', expected: identifier");
    if let Some(k) = part.strip_prefix('!') {
        let k = k.trim();
        return if valid_key(k) {
            Ok((k.to_string(), LabelOp::NotExists))
        } else {
            Err(bad())
        };
    }
    for (sep, set_op) in [(" notin ", false), (" in ", true)] {
        if let Some(i) = part.find(sep) {
            let k = part[..i].trim();
            let rest = part[i + sep.len()..].trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            let vals: Vec<String> = inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect();
            if !valid_key(k) {
                return Err(bad());
            }
            let op = if set_op {
                LabelOp::In(vals)
            } else {
                LabelOp::NotIn(vals)
            };
            return Ok((k.to_string(), op));
        }
    }
    for sep in ["!=", "==", "=", ">", "<"] {
        if let Some(i) = part.find(sep) {
            let k = part[..i].trim();
            let v = part[i + sep.len()..].trim().to_string();
            if !valid_key(k) {
                return Err(bad());
            }
            let op = match sep {
                "!=" => LabelOp::NotEq(v),
                "==" | "=" => LabelOp::Eq(v),
                ">" => LabelOp::Gt(v.parse().map_err(|_| bad())?),
                _ => LabelOp::Lt(v.parse().map_err(|_| bad())?),
            };
            return Ok((k.to_string(), op));
        }
    }
    if valid_key(part) {
        Ok((part.to_string(), LabelOp::Exists))
    } else {
        Err(bad())
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct FieldSelector {
    /// (JSON pointer, wanted value, equal?)
    reqs: Vec<(String, String, bool)>,
}

impl FieldSelector {
    /// `extra` lists the type's field labels beyond metadata.name/namespace.
    /// Read as apimachinery's `fields.ParseSelector`: terms split at commas
    /// not escaped by `\`, each at its first operator, the value unescaped
    /// (`\\`, `\,`, `\=`); a bare `,` or `=` in a value is refused.
    pub fn parse(s: &str, extra: &[(&str, &str)]) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in split_terms(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, value, eq) = split_term(part)
                .ok_or_else(|| format!("invalid selector: '{s}'; can't understand '{part}'"))?;
            let value = unescape_value(value)?;
            let field = field.trim();
            let pointer = match field {
                "metadata.name" => "/metadata/name",
                "metadata.namespace" => "/metadata/namespace",
                other => extra
                    .iter()
                    .find(|(label, _)| *label == other)
                    .map(|(_, p)| *p)
                    .ok_or_else(|| format!("field label not supported: {other}"))?,
            };
            reqs.push((pointer.to_string(), value.trim().to_string(), eq));
        }
        Ok(FieldSelector { reqs })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(p, want, eq)| {
            let got = match obj.pointer(p) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            };
            (got == *want) == *eq
        })
    }

    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// The name a `metadata.name=NAME` (or `==`) term pins, as
    /// apimachinery's `RequiresExactMatch("metadata.name")` reads it.
    pub fn exact_name(&self) -> Option<&str> {
        self.reqs
            .iter()
            .find(|(pointer, _, eq)| pointer == "/metadata/name" && *eq)
            .map(|(_, name, _)| name.as_str())
    }
}

/// Splits at commas that are not escaped (`fields.splitTerms`).
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `field OP value` at the first operator from the left, `!=` before `==`
/// before `=` at each position (`fields.splitTerm`).
fn split_term(term: &str) -> Option<(&str, &str, bool)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, eq) in [("!=", false), ("==", true), ("=", true)] {
            if rest.starts_with(op) {
                return Some((&term[..i], &term[i + op.len()..], eq));
            }
        }
    }
    None
}

/// `fields.UnescapeValue`, with its error messages (a rune printed by Go's
/// `%v` is its number).
fn unescape_value(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    if escaped {
        return Err("invalid field selector: invalid escape sequence: \\".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "w1", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn label_operators() {
        let o = obj(json!({"app": "demo", "tier": "web", "n": "5"}));
        let ok = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(ok("app=demo"));
        assert!(ok("app==demo"));
        assert!(!ok("app!=demo"));
        assert!(ok("app in (demo, other),tier"));
        assert!(!ok("app notin (demo)"));
        assert!(ok("!missing"));
        assert!(!ok("!app"));
        assert!(ok("n>4,n<6"));
        assert!(ok(""));
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn field_selectors() {
        let o = obj(json!({}));
        let ok = |s: &str| FieldSelector::parse(s, &[]).unwrap().matches(&o);
        assert!(ok("metadata.name=w1"));
        assert!(ok("metadata.name==w1,metadata.namespace=ns"));
        assert!(ok("metadata.name!=w2"));
        assert!(!ok("metadata.name=w2"));
        assert_eq!(
            FieldSelector::parse("spec.size=1", &[]).unwrap_err(),
            "field label not supported: spec.size"
        );
    }

    #[test]
    fn escaped_field_values_as_the_apiserver_reads_them() {
        let named = |name: &str| json!({"metadata": {"name": name, "namespace": "ns"}});
        let ok = |s: &str, o: &Value| FieldSelector::parse(s, &[]).unwrap().matches(o);
        assert!(ok(r"metadata.name=app\,", &named("app,")));
        assert!(!ok(r"metadata.name=app\,", &named("app")));
        assert!(ok(r"metadata.name=a\=b", &named("a=b")));
        assert!(ok(r"metadata.name=a\\b", &named(r"a\b")));
        assert!(ok(
            r"metadata.name=app\,metadata.name!\=x",
            &named("app,metadata.name!=x")
        ));
        assert!(!ok(r"metadata.name=app\,metadata.name!\=x", &named("app")));
        // Unescaped, `,` starts another requirement; `=` in a value is refused.
        assert!(ok("metadata.name=app,metadata.name!=x", &named("app")));
        assert_eq!(
            FieldSelector::parse("metadata.name=a=b", &[]).unwrap_err(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            FieldSelector::parse(r"metadata.name=a\b", &[]).unwrap_err(),
            r"invalid field selector: invalid escape sequence: \b"
        );
        assert_eq!(
            FieldSelector::parse(r"metadata.name=a\", &[]).unwrap_err(),
            r"invalid field selector: invalid escape sequence: \"
        );
    }
}
