//! The `--for` forms: kubectl wait's (`condition=`, `delete`, `create`,
//! `jsonpath=`) and our generic `ready`.

use serde_json::Value;

use super::Verdict;
use super::ready::readiness;
use crate::expr::Expr;
use crate::template_path::{to_expr_path, unquoted};

const FORMS: &str =
    "use condition=TYPE[=STATUS], delete, create, jsonpath='{.path}'[=VALUE] or ready";

#[derive(Debug)]
pub enum ForSpec {
    Condition {
        kind: String,
        status: String,
        text: String,
    },
    Delete,
    Create,
    /// `path` is a lone-path expression; `value` absent means "exists".
    JsonPath {
        path: Expr,
        value: Option<String>,
        text: String,
    },
    Ready,
}

impl ForSpec {
    pub fn parse(text: &str) -> Result<ForSpec, String> {
        let (form, rest) = match text.split_once('=') {
            Some((form, rest)) => (form, Some(rest)),
            None => (text, None),
        };
        match (form.trim().to_ascii_lowercase().as_str(), rest) {
            ("ready", None) => Ok(ForSpec::Ready),
            ("delete", None) => Ok(ForSpec::Delete),
            ("create", None) => Ok(ForSpec::Create),
            ("condition", Some(rest)) => parse_condition(rest),
            ("jsonpath", Some(rest)) => parse_jsonpath(rest),
            _ => Err(format!("--for {text}: unknown form; {FORMS}")),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ForSpec::Condition { text, .. } => format!("condition={text}"),
            ForSpec::Delete => "delete".into(),
            ForSpec::Create => "create".into(),
            ForSpec::JsonPath { text, .. } => format!("jsonpath={text}"),
            ForSpec::Ready => "ready".into(),
        }
    }

    /// Judge one version of an object, or its absence (`None`: not found,
    /// or deleted).
    pub fn judge(&self, group: &str, kind: &str, obj: Option<&Value>) -> Verdict {
        let Some(obj) = obj else {
            return match self {
                ForSpec::Delete => Verdict::Met,
                _ => Verdict::NotMet("not found".into()),
            };
        };
        match self {
            ForSpec::Condition {
                kind: wanted,
                status,
                ..
            } => condition_met(obj, wanted, status),
            ForSpec::Delete => Verdict::NotMet("still exists".into()),
            ForSpec::Create => Verdict::Met,
            ForSpec::JsonPath { path, value, text } => {
                jsonpath_met(path, value.as_deref(), text, obj)
            }
            ForSpec::Ready => readiness(group, kind, obj),
        }
    }
}

fn parse_condition(rest: &str) -> Result<ForSpec, String> {
    let parts: Vec<&str> = rest.split('=').collect();
    let (kind, status) = match parts.as_slice() {
        [kind] => (*kind, "True"),
        [kind, status] => (*kind, *status),
        _ => {
            return Err(format!(
                "--for condition={rest}: write condition=TYPE or condition=TYPE=STATUS"
            ));
        }
    };
    if kind.trim().is_empty() || status.trim().is_empty() {
        return Err(format!(
            "--for condition={rest}: the condition type or status is empty; {FORMS}"
        ));
    }
    Ok(ForSpec::Condition {
        kind: kind.trim().to_string(),
        status: status.trim().to_string(),
        text: rest.to_string(),
    })
}

/// As kubectl's wait `checkCondition`: the first condition of that type with
/// a status decides, unless it (or the status) was observed for an older
/// generation than the object's.
fn condition_met(obj: &Value, wanted: &str, status: &str) -> Verdict {
    let conditions = obj["status"]["conditions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for condition in conditions {
        let Some(kind) = condition["type"].as_str() else {
            continue;
        };
        if !kind.eq_ignore_ascii_case(wanted) {
            continue;
        }
        let Some(actual) = condition["status"].as_str() else {
            continue;
        };
        if let Some(generation) = obj["metadata"]["generation"].as_i64() {
            let observed = condition["observedGeneration"]
                .as_i64()
                .or_else(|| obj["status"]["observedGeneration"].as_i64());
            if let Some(observed) = observed
                && observed < generation
            {
                return Verdict::NotMet(format!(
                    "{kind} was observed for generation {observed}, the object is at {generation}"
                ));
            }
        }
        return if actual.eq_ignore_ascii_case(status) {
            Verdict::Met
        } else {
            Verdict::NotMet(format!("{kind}={actual}"))
        };
    }
    Verdict::NotMet(format!("no {wanted} condition"))
}

fn parse_jsonpath(rest: &str) -> Result<ForSpec, String> {
    let (path_text, value) = split_jsonpath(rest)?;
    let relaxed = relax(path_text);
    if relaxed == "." || relaxed.is_empty() {
        return Err(format!(
            "--for jsonpath={rest}: the path is empty; e.g. jsonpath='{{.status.phase}}'=Running"
        ));
    }
    let path = Expr::parse(&relaxed).map_err(|e| format!("--for jsonpath={rest}: {e}"))?;
    if !path.is_path() {
        return Err(format!(
            "--for jsonpath={rest}: give one path, e.g. jsonpath='{{.status.phase}}'=Running"
        ));
    }
    let value = value.map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string());
    // As kubectl: `jsonpath={.path}=` is most often an empty `$EXPECTED` in a
    // script, not a wish to compare with nothing.
    if value.as_deref() == Some("") {
        return Err(format!(
            "--for jsonpath={rest}: jsonpath wait has to have a value after equal sign, \
             like --for jsonpath='{{.status.readyReplicas}}'=3; to wait for the path to exist, \
             leave out the `=`"
        ));
    }
    Ok(ForSpec::JsonPath {
        path,
        value,
        text: rest.to_string(),
    })
}

/// Splits `{.path}=value` at the `=` after the template, or, without braces,
/// at the last `=` that is outside brackets and quotes and not part of a
/// comparison operator.
fn split_jsonpath(rest: &str) -> Result<(&str, Option<&str>), String> {
    let mut split = None;
    for (at, c, depth) in unquoted(rest) {
        if c != '=' || depth != 0 {
            continue;
        }
        let before = rest[..at].chars().next_back();
        let after = rest[at + 1..].chars().next();
        let operator = matches!(before, Some('=' | '!' | '<' | '>')) || after == Some('=');
        if !operator {
            split = Some(at);
            if rest.starts_with('{') {
                break;
            }
        }
    }
    match split {
        Some(at) => Ok((&rest[..at], Some(&rest[at + 1..]))),
        None if rest.starts_with('{') && !rest.trim_end().ends_with('}') => Err(format!(
            "--for jsonpath={rest}: the template is not closed; write jsonpath='{{.path}}'=VALUE"
        )),
        None => Ok((rest, None)),
    }
}

/// kubectl's relaxed template: `{.a.b}`, `.a.b`, `{$.a.b}`, `a.b` all mean
/// `.a.b`; kubectl's keys (`a\.b/c`) become ours (`['a.b/c']`).
fn relax(template: &str) -> String {
    let inner = template.trim();
    let inner = inner
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(inner);
    to_expr_path(inner)
}

/// As kubectl: the value printed the way Go's `%v` prints it, trimmed,
/// compared case-sensitively; maps and lists never match. A path selecting
/// several values is refused, as kubectl wait refuses it: `--until` is the
/// form whose any-of rule is documented.
fn jsonpath_met(path: &Expr, value: Option<&str>, text: &str, obj: &Value) -> Verdict {
    let nodes: Vec<&Value> = path
        .path_values(obj)
        .into_iter()
        .flat_map(|(_, nodes)| nodes)
        .collect();
    if nodes.is_empty() {
        return Verdict::NotMet(format!("{text}: the path selects nothing"));
    }
    if nodes.len() > 1 {
        return Verdict::Invalid(several_values(path, value, text, &nodes));
    }
    let Some(expected) = value else {
        return Verdict::Met;
    };
    let printed: Vec<String> = nodes.iter().filter_map(|v| go_print(v)).collect();
    if printed.iter().any(|p| p.trim() == expected.trim()) {
        return Verdict::Met;
    }
    if printed.is_empty() {
        return Verdict::NotMet(format!(
            "{text}: the path leads to an object or list, which cannot be compared"
        ));
    }
    Verdict::NotMet(format!("the path holds {}", printed.join(", ")))
}

/// Why a template selecting several values is refused, with the `--until`
/// that says what the user most likely meant: any one of them.
fn several_values(path: &Expr, value: Option<&str>, text: &str, nodes: &[&Value]) -> String {
    let shown: Vec<String> = nodes
        .iter()
        .map(|v| go_print(v).unwrap_or_else(|| v.to_string()))
        .collect();
    let path = path.source();
    let until = match value {
        None => path.to_string(),
        Some(v) if v.parse::<f64>().is_ok() || v == "true" || v == "false" => {
            format!("{path} == {v}")
        }
        Some(v) => format!(
            "{path} == \"{}\"",
            v.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    };
    format!(
        "--for jsonpath={text}: the template selects several values ({}), and kubectl wait \
         refuses that too; to accept any one of them, use --until {}",
        shown.join(", "),
        shell_quote(&until)
    )
}

/// `text` as one shell word, so the suggestion can be pasted.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn go_print(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("<nil>".into()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn judge(form: &str, obj: &Value) -> Verdict {
        ForSpec::parse(form)
            .unwrap()
            .judge("example.com", "Widget", Some(obj))
    }

    fn met(form: &str, obj: &Value) -> bool {
        judge(form, obj) == Verdict::Met
    }

    #[test]
    fn unknown_and_malformed_forms_list_the_valid_ones() {
        for bad in ["happy", "ready=yes", "conditions=Ready", "", "delete=now"] {
            let err = ForSpec::parse(bad).unwrap_err();
            assert!(
                err.contains("unknown form") && err.contains("jsonpath="),
                "{bad}: {err}"
            );
        }
        assert!(ForSpec::parse("condition=").unwrap_err().contains("empty"));
        assert!(
            ForSpec::parse("condition=Ready=")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            ForSpec::parse("condition=A=B=C")
                .unwrap_err()
                .contains("condition=TYPE=STATUS")
        );
        assert!(ForSpec::parse("jsonpath=").unwrap_err().contains("empty"));
        for empty in [
            "jsonpath={.metadata.labels.app}=",
            "jsonpath={.metadata.labels.app}=''",
            "jsonpath={.metadata.labels.app}=\"\"",
            "jsonpath=.metadata.labels.app=",
        ] {
            assert!(
                ForSpec::parse(empty)
                    .unwrap_err()
                    .contains("has to have a value after equal sign"),
                "{empty}"
            );
        }
        assert!(
            ForSpec::parse("jsonpath={.a")
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            ForSpec::parse("jsonpath={.a == 1}")
                .unwrap_err()
                .contains("one path")
        );
        assert!(matches!(ForSpec::parse("Ready").unwrap(), ForSpec::Ready));
    }

    #[test]
    fn condition_is_case_insensitive_and_defaults_to_true() {
        let obj = json!({"status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "False"}]}});
        assert!(met("condition=Available", &obj));
        assert!(met("condition=available=true", &obj));
        assert!(met("condition=Progressing=False", &obj));
        assert!(!met("condition=Progressing", &obj));
        assert_eq!(
            judge("condition=Ready", &obj),
            Verdict::NotMet("no Ready condition".into())
        );
        assert!(!met("condition=Available", &json!({})));
    }

    #[test]
    fn condition_observed_for_an_older_generation_does_not_count() {
        let stale_condition = json!({"metadata": {"generation": 2},
            "status": {"conditions": [{"type": "Ready", "status": "True", "observedGeneration": 1}]}});
        assert!(!met("condition=Ready", &stale_condition));
        let stale_status = json!({"metadata": {"generation": 2},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(!met("condition=Ready", &stale_status));
        let current = json!({"metadata": {"generation": 2},
            "status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True", "observedGeneration": 2}]}});
        assert!(
            met("condition=Ready", &current),
            "the condition's own generation wins"
        );
        let no_generation = json!({"status": {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(met("condition=Ready", &no_generation));
    }

    #[test]
    fn a_condition_without_status_is_skipped() {
        let obj = json!({"status": {"conditions": [{"type": "Ready"}, {"type": "Ready", "status": "True"}]}});
        assert!(met("condition=Ready", &obj));
    }

    #[test]
    fn jsonpath_templates_in_every_relaxed_spelling() {
        let obj = json!({"status": {"phase": "Running", "replicas": 3, "ratio": 1.5, "ok": true, "gone": null,
            "message": "  spaced  ", "nested": {"a": 1},
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        for form in [
            "jsonpath={.status.phase}=Running",
            "jsonpath=.status.phase=Running",
            "jsonpath={$.status.phase}=Running",
            "jsonpath=status.phase=Running",
            "jsonpath={.status.phase}='Running'",
            "jsonpath={.status.phase}=\"Running\"",
        ] {
            assert!(met(form, &obj), "{form}");
        }
        assert!(
            !met("jsonpath={.status.phase}=running", &obj),
            "values are case-sensitive"
        );
        assert!(met("jsonpath={.status.replicas}=3", &obj));
        assert!(met("jsonpath={.status.ratio}=1.5", &obj));
        assert!(met("jsonpath={.status.ok}=true", &obj));
        assert!(met("jsonpath={.status.message}=spaced", &obj), "trimmed");
        assert!(!met("jsonpath={.status.nested}={\"a\":1}", &obj));
        assert!(
            matches!(judge("jsonpath={.status.nested}=x", &obj), Verdict::NotMet(m) if m.contains("object or list"))
        );
    }

    #[test]
    fn jsonpath_keys_as_kubectl_spells_them() {
        let obj = json!({"metadata": {"labels": {"a.b/c": "x", "app-name": "web", "a.b": "y"}},
            "top.level": 1});
        for form in [
            "jsonpath={.metadata.labels.a\\.b/c}=x",
            "jsonpath=.metadata.labels.a\\.b/c=x",
            "jsonpath=metadata.labels.a\\.b/c=x",
            "jsonpath={.metadata.labels.app-name}=web",
            "jsonpath={.metadata.labels['a.b']}=y",
            "jsonpath={.metadata.labels.a\\.b}",
            "jsonpath={.top\\.level}=1",
            "jsonpath={$.top\\.level}=1",
        ] {
            assert!(met(form, &obj), "{form}");
        }
        assert!(!met("jsonpath={.metadata.labels.a\\.b/c}=y", &obj));
    }

    #[test]
    fn jsonpath_filters_keep_their_double_equals() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        assert!(met(
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}=True",
            &obj
        ));
        assert!(!met(
            "jsonpath={.status.conditions[?(@.type==\"Synced\")].status}=True",
            &obj
        ));
        assert!(met(
            "jsonpath=.status.conditions[?(@.type=='Ready')].status=True",
            &obj
        ));
        assert!(met(
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            &obj
        ));
    }

    #[test]
    fn jsonpath_without_a_value_tests_existence_even_of_null() {
        let obj = json!({"status": {"phase": "Running", "gone": null}});
        assert!(met("jsonpath={.status.phase}", &obj));
        assert!(
            met("jsonpath={.status.gone}", &obj),
            "kubectl finds a null field"
        );
        assert!(!met("jsonpath={.status.missing}", &obj));
    }

    #[test]
    fn several_values_are_refused_as_kubectl_refuses_them() {
        let obj = json!({"items": [{"v": "a"}, {"v": "b"}], "one": [{"v": "a"}]});
        for (form, until) in [
            ("jsonpath={.items[*].v}=b", "--until '.items[*].v == \"b\"'"),
            ("jsonpath={.items[*].v}", "--until '.items[*].v'"),
            ("jsonpath={.items[*].v}=3", "--until '.items[*].v == 3'"),
        ] {
            let Verdict::Invalid(why) = judge(form, &obj) else {
                panic!("{form}: not refused");
            };
            assert!(why.contains("several values (a, b)"), "{form}: {why}");
            assert!(why.contains(until), "{form}: {why}");
        }
        assert!(met("jsonpath={.one[*].v}=a", &obj), "one value is fine");
        assert!(met("jsonpath={.items}", &obj), "one list is one value");
    }

    #[test]
    fn create_and_delete_on_an_existing_object() {
        assert!(met("create", &json!({})));
        assert!(!met("delete", &json!({})));
    }

    #[test]
    fn describe_gives_the_form_back() {
        assert_eq!(
            ForSpec::parse("condition=Available").unwrap().describe(),
            "condition=Available"
        );
        assert_eq!(
            ForSpec::parse("jsonpath={.a}=b").unwrap().describe(),
            "jsonpath={.a}=b"
        );
    }
}
