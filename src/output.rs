//! What notify mode prints per notification on stdout (a line a person can
//! read and a pipe can grep), flushed at once so `| while read` sees it.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::tracker::ChangeKind;
use crate::watch::Target;

/// `12:03:04  modified  widget.example.com/foo  (default)  rv 48213` (UTC).
pub fn notification_line(
    now: SystemTime,
    kind: ChangeKind,
    target: &Target,
    object: &Value,
) -> String {
    let meta = &object["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    let mut line = format!(
        "{}  {:<8}  {}",
        clock(now),
        kind.as_str(),
        target.object_name(name)
    );
    if let Some(namespace) = meta["namespace"].as_str() {
        line.push_str(&format!("  ({namespace})"));
    }
    if let Some(rv) = meta["resourceVersion"].as_str() {
        line.push_str(&format!("  rv {rv}"));
    }
    line
}

pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn clock(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Selection;
    use crate::resolve::ApiType;
    use serde_json::json;
    use std::time::Duration;

    fn widgets() -> Target {
        Target {
            api: ApiType {
                group: "example.com".into(),
                version: "v1".into(),
                kind: "Widget".into(),
                plural: "widgets".into(),
                singular: "widget".into(),
                short_names: vec![],
                namespaced: true,
                verbs: vec![],
                categories: vec![],
            },
            namespace: Some("default".into()),
            selection: Selection::Name("foo".into()),
        }
    }

    #[test]
    fn a_line_names_time_change_object_namespace_and_version() {
        let at = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 12 * 3600 + 3 * 60 + 4);
        let object = json!({"metadata": {"name": "foo", "namespace": "default", "resourceVersion": "48213"}});
        assert_eq!(
            notification_line(at, ChangeKind::Modified, &widgets(), &object),
            "12:03:04  modified  widget.example.com/foo  (default)  rv 48213"
        );
        let cluster_scoped = json!({"metadata": {"name": "foo"}});
        assert_eq!(
            notification_line(at, ChangeKind::Created, &widgets(), &cluster_scoped),
            "12:03:04  created   widget.example.com/foo"
        );
    }
}
