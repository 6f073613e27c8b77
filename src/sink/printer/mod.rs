//! What is printed per notification or met object on stdout, in the format
//! `-o` chose: human (header line and field diff), JSON lines, names, or a
//! kubectl jsonpath template. Each write is flushed, so pipes see it at once.

mod diff;
mod template;

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use owo_colors::Style;

use super::{Notification, Occasion, Sink};
use crate::color::paint;
use crate::exit::{Exit, Result};
use crate::target::Target;
use crate::tracker::{ChangeKind, Previous};
pub use diff::{FieldChange, diff};
pub use template::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffMode {
    Full,
    Paths,
    None,
}

#[derive(Debug)]
pub enum Format {
    Human { diff: DiffMode },
    Json,
    Name,
    JsonPath(Template),
}

impl Format {
    /// `-o human|json|name|jsonpath=TEMPLATE`.
    pub fn parse(text: &str, diff: DiffMode) -> std::result::Result<Format, String> {
        match text {
            "human" | "" => Ok(Format::Human { diff }),
            "json" => Ok(Format::Json),
            "name" => Ok(Format::Name),
            _ => match text.split_once('=') {
                Some(("jsonpath", template)) => Template::parse(template).map(Format::JsonPath),
                _ => Err(format!(
                    "-o {text}: unknown output format; use human, json, name or jsonpath=TEMPLATE"
                )),
            },
        }
    }
}

/// Long values are cut on a terminal, never in a pipe.
const SHORTEN_AT: usize = 60;

#[derive(Debug)]
pub struct Printer {
    pub format: Format,
    pub shorten: bool,
    pub color: bool,
}

impl Printer {
    /// The text for one notification (one or more lines, no final newline).
    pub fn text(&self, n: &Notification) -> String {
        let kind = match n.occasion {
            Occasion::Met { .. } => return self.met(n.target, n.object),
            Occasion::Changed(kind) => kind,
        };
        match &self.format {
            Format::Human { diff: mode } => {
                let mut text = notification_line(n.time, kind, n.target, n.object, self.color);
                if let Some(rule) = n.rule {
                    text = format!("{rule}  {text}");
                }
                if let (true, Some(previous), DiffMode::Full | DiffMode::Paths) =
                    (kind.shows_diff(), n.previous, mode)
                {
                    let changes = diff(&previous.value(), n.object);
                    for line in diff_lines(&changes, *mode, self.shorten, self.color) {
                        text.push('\n');
                        text.push_str(&line);
                    }
                }
                text
            }
            Format::Json => json_line(n.time, kind, n.object, n.previous, n.rule),
            Format::Name => object_name(n.target, n.object),
            Format::JsonPath(template) => template.render_line(n.object),
        }
    }

    /// Whether a notification shows what changed, so the tracker must keep
    /// each object's previous version.
    pub fn shows_changes(&self) -> bool {
        matches!(
            self.format,
            Format::Human {
                diff: DiffMode::Full | DiffMode::Paths
            } | Format::Json
        )
    }

    /// Wait mode: the line for an object that met the condition (for a
    /// deletion, its last known state or identity).
    fn met(&self, target: &Target, object: &Value) -> String {
        match &self.format {
            Format::Human { .. } => {
                format!(
                    "{} {}",
                    paint(
                        self.color,
                        Style::new().bold(),
                        &object_name(target, object)
                    ),
                    paint(self.color, Style::new().green(), "condition met")
                )
            }
            Format::Json => object.to_string(),
            Format::Name => object_name(target, object),
            Format::JsonPath(template) => template.render_line(object),
        }
    }
}

/// When stdout's reader went away (a write failed: `| head -1`), for every
/// printer of the process: they share stdout.
static READER_GONE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// How long after stdout's reader went away a printer stops the run itself:
/// the session sees the reader gone first (it looks every 200 ms).
const GONE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

impl Sink for Printer {
    /// A closed stdout stops the printing, not the delivery: the notification
    /// whose line could not be written (and any handed over until the run
    /// ends, as the session sees the reader gone) still goes to the command
    /// and the `--sink`s, which the end then flushes (SPEC §7, 141).
    fn deliver(&mut self, n: &Notification) -> Result<()> {
        if let Some(gone) = READER_GONE.get() {
            return match gone.elapsed() < GONE_GRACE {
                true => Ok(()),
                false => Err(Exit::Closed),
            };
        }
        match crate::term::write_line(&self.text(n)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                READER_GONE.get_or_init(std::time::Instant::now);
                Ok(())
            }
            Err(e) => Err(Exit::Internal(format!("cannot write to stdout: {e}"))),
        }
    }
}

fn object_name(target: &Target, object: &Value) -> String {
    target.object_name(object["metadata"]["name"].as_str().unwrap_or(""))
}

/// `12:03:04  modified  widget.example.com/foo  (default)  rv 48213` (local time).
pub fn notification_line(
    now: SystemTime,
    kind: ChangeKind,
    target: &Target,
    object: &Value,
    color: bool,
) -> String {
    let meta = &object["metadata"];
    let style = match kind {
        ChangeKind::Created => Style::new().green(),
        ChangeKind::Modified => Style::new().yellow(),
        ChangeKind::Deleted => Style::new().red(),
        ChangeKind::Initial => Style::new().blue(),
        ChangeKind::Resolved { .. } => Style::new().cyan(),
    };
    let mut line = format!(
        "{}  {}  {}",
        paint(color, Style::new().dimmed(), &clock(now)),
        paint(color, style, &format!("{:<8}", kind.as_str())),
        paint(color, Style::new().bold(), &object_name(target, object))
    );
    if let Some(namespace) = meta["namespace"].as_str() {
        line.push_str(&format!("  ({namespace})"));
    }
    if let Some(rv) = meta["resourceVersion"].as_str() {
        line.push_str(&format!("  rv {rv}"));
    }
    line
}

/// `~ .status.ready   false → true`, `+ .status.message   "ok"`, `- .spec.paused`.
fn diff_lines(changes: &[FieldChange], mode: DiffMode, shorten: bool, color: bool) -> Vec<String> {
    let width = changes
        .iter()
        .map(|c| c.path.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let show = |v: &Value| {
        let text = v.to_string();
        if shorten && text.chars().count() > SHORTEN_AT {
            format!("{}…", text.chars().take(SHORTEN_AT - 1).collect::<String>())
        } else {
            text
        }
    };
    changes
        .iter()
        .map(|c| {
            let (sign, style, values) = match (&c.old, &c.new) {
                (Some(old), Some(new)) => (
                    "~",
                    Style::new().yellow(),
                    format!("{} → {}", show(old), show(new)),
                ),
                (None, Some(new)) => ("+", Style::new().green(), show(new)),
                (Some(_), None) | (None, None) => ("-", Style::new().red(), String::new()),
            };
            let sign = paint(color, style, sign);
            if mode == DiffMode::Paths || values.is_empty() {
                format!("          {sign} {}", c.path)
            } else {
                format!("          {sign} {:<width$}  {values}", c.path)
            }
        })
        .collect()
}

/// One `-o json` line; the field names are a stable interface (written in
/// this order). Borrowed, so the object is serialised once, never copied.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLine<'a> {
    api_version: &'a Value,
    changes: Vec<JsonChange>,
    kind: &'a Value,
    name: &'a Value,
    namespace: &'a Value,
    object: &'a Value,
    resource_version: &'a Value,
    /// Only in a process of named rules (`--rules`).
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    time: String,
    #[serde(rename = "type")]
    change: &'static str,
    uid: &'a Value,
}

#[derive(Serialize)]
struct JsonChange {
    new: Option<Value>,
    old: Option<Value>,
    path: String,
    pointer: String,
}

/// The `-o json` line of any notification, for the sinks that carry it;
/// an object that met the condition is told as modified (or deleted).
pub fn json_line_of(n: &Notification) -> String {
    let kind = match n.occasion {
        Occasion::Changed(kind) => kind,
        Occasion::Met { absent: true } => ChangeKind::Deleted,
        Occasion::Met { absent: false } => ChangeKind::Modified,
    };
    json_line(n.time, kind, n.object, n.previous, n.rule)
}

fn json_line(
    now: SystemTime,
    kind: ChangeKind,
    object: &Value,
    previous: Option<&Previous>,
    rule: Option<&str>,
) -> String {
    let meta = &object["metadata"];
    let changes = match previous {
        Some(previous) if kind.shows_diff() => diff(&previous.value(), object)
            .into_iter()
            .map(|c| JsonChange {
                new: c.new,
                old: c.old,
                path: c.path,
                pointer: c.pointer,
            })
            .collect(),
        _ => Vec::new(),
    };
    let line = JsonLine {
        api_version: &object["apiVersion"],
        changes,
        kind: &object["kind"],
        name: &meta["name"],
        namespace: &meta["namespace"],
        object,
        resource_version: &meta["resourceVersion"],
        rule,
        time: humantime::format_rfc3339_seconds(now).to_string(),
        change: kind.as_str(),
        uid: &meta["uid"],
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// The wall-clock time of day in the local time zone (TZ honoured), as a
/// person at a terminal reads it; the JSON output carries UTC instead.
fn clock(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (h, m, s) = crate::os::local_time_of_day(secs).unwrap_or_else(|| {
        let day = secs % 86_400;
        (
            (day / 3600) as u32,
            (day / 60 % 60) as u32,
            (day % 60) as u32,
        )
    });
    format!("{h:02}:{m:02}:{s:02}")
}

/// The changes a `-o json` line carries (a null `old`/`new` read as absent),
/// so a notification folded into a newer one can hand its paths on.
pub fn json_line_changes(line: &[u8]) -> Vec<FieldChange> {
    let line: Value = serde_json::from_slice(line).unwrap_or_default();
    let value = |v: &Value| (!v.is_null()).then(|| v.clone());
    line["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| FieldChange {
                    path: c["path"].as_str().unwrap_or_default().to_string(),
                    pointer: c["pointer"].as_str().unwrap_or_default().to_string(),
                    old: value(&c["old"]),
                    new: value(&c["new"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The same `-o json` line carrying `changes` instead of its own.
pub fn json_line_with_changes(line: &[u8], changes: &[FieldChange]) -> bytes::Bytes {
    let Ok(mut line) = serde_json::from_slice::<Value>(line) else {
        return bytes::Bytes::copy_from_slice(line);
    };
    let changes: Vec<JsonChange> = changes
        .iter()
        .map(|c| JsonChange {
            new: c.new.clone(),
            old: c.old.clone(),
            path: c.path.clone(),
            pointer: c.pointer.clone(),
        })
        .collect();
    line["changes"] = serde_json::to_value(changes).unwrap_or_default();
    serde_json::to_string(&line).unwrap_or_default().into()
}

/// A header line followed by the changed paths, as `--diff paths` shows
/// them (no colour, nothing cut): Slack's default text.
pub fn header_and_paths(header: &str, changes: &[FieldChange]) -> String {
    let mut text = header.to_string();
    for line in diff_lines(changes, DiffMode::Paths, false, false) {
        text.push('\n');
        text.push_str(&line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::ApiType;
    use crate::target::Selection;
    use crate::tracker::{Change, Previous};
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
            served: true,
            manifest: false,
            spread: false,
        }
    }

    #[test]
    fn a_line_names_time_change_object_namespace_and_version() {
        let at = UNIX_EPOCH + Duration::from_secs(86_400 * 3 + 12 * 3600 + 3 * 60 + 4);
        let object = json!({"metadata": {"name": "foo", "namespace": "default", "resourceVersion": "48213"}});
        assert_eq!(
            notification_line(at, ChangeKind::Modified, &widgets(), &object, false),
            format!(
                "{}  modified  widget.example.com/foo  (default)  rv 48213",
                clock(at)
            )
        );
        let cluster_scoped = json!({"metadata": {"name": "foo"}});
        assert_eq!(
            notification_line(at, ChangeKind::Created, &widgets(), &cluster_scoped, false),
            format!("{}  created   widget.example.com/foo", clock(at))
        );
    }

    #[test]
    fn the_clock_reads_hours_minutes_seconds() {
        let text = clock(SystemTime::now());
        let parts: Vec<u32> = text.split(':').map(|p| p.parse().unwrap()).collect();
        assert_eq!(text.len(), 8, "{text}");
        assert!(parts[0] < 24 && parts[1] < 60 && parts[2] < 61, "{text}");
    }

    fn modified() -> Change {
        Change {
            kind: ChangeKind::Modified,
            previous: Some(Previous::of(
                &json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "foo", "namespace": "default", "uid": "u1", "resourceVersion": "7"},
                "spec": {"paused": true, "size": 1}, "status": {"ready": false, "note": "x".repeat(100)}}),
            )),
            object: json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "foo", "namespace": "default", "uid": "u1", "resourceVersion": "8"},
                "spec": {"size": 1}, "status": {"ready": true, "message": "reconciled", "note": "y".repeat(100)}})
            .into(),
        }
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(12 * 3600 + 3 * 60 + 4)
    }

    fn printer(format: &str, diff: DiffMode, shorten: bool) -> Printer {
        Printer {
            format: Format::parse(format, diff).unwrap(),
            shorten,
            color: false,
        }
    }

    #[test]
    fn human_output_shows_the_field_diff() {
        let text = printer("human", DiffMode::Full, false).text(&Notification::change(
            at(),
            &widgets(),
            &modified(),
        ));
        let y = "y".repeat(100);
        let x = "x".repeat(100);
        assert_eq!(
            text,
            format!(
                "{}  modified  widget.example.com/foo  (default)  rv 8\n\
                 \x20         - .spec.paused\n\
                 \x20         + .status.message  \"reconciled\"\n\
                 \x20         ~ .status.note     \"{x}\" → \"{y}\"\n\
                 \x20         ~ .status.ready    false → true",
                clock(at())
            )
        );
    }

    #[test]
    fn long_values_are_cut_only_on_a_terminal_and_paths_mode_drops_values() {
        let text = printer("human", DiffMode::Full, true).text(&Notification::change(
            at(),
            &widgets(),
            &modified(),
        ));
        assert!(text.contains("…"), "{text}");
        assert!(!text.contains(&"y".repeat(100)));
        let text = printer("human", DiffMode::Paths, false).text(&Notification::change(
            at(),
            &widgets(),
            &modified(),
        ));
        assert!(
            text.lines().any(|l| l.trim() == "~ .status.ready"),
            "{text}"
        );
        let text = printer("human", DiffMode::None, false).text(&Notification::change(
            at(),
            &widgets(),
            &modified(),
        ));
        assert_eq!(text.lines().count(), 1);
    }

    /// The keys of a JSON object in the order they appear in the text.
    struct TopLevelKeys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for TopLevelKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Keys;
            impl<'de> serde::de::Visitor<'de> for Keys {
                type Value = TopLevelKeys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<TopLevelKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(TopLevelKeys(keys))
                }
            }
            d.deserialize_map(Keys)
        }
    }

    #[test]
    fn json_lines_keep_their_field_names() {
        let text = printer("json", DiffMode::Full, false).text(&Notification::change(
            at(),
            &widgets(),
            &modified(),
        ));
        let line: Value = serde_json::from_str(&text).unwrap();
        // The order as written on the line (a parsed `Value` sorts its keys).
        let TopLevelKeys(keys) = serde_json::from_str(&text).unwrap();
        assert_eq!(
            keys,
            [
                "apiVersion",
                "changes",
                "kind",
                "name",
                "namespace",
                "object",
                "resourceVersion",
                "time",
                "type",
                "uid"
            ]
        );
        assert_eq!(line["type"], "modified");
        assert_eq!(line["time"], "1970-01-01T12:03:04Z");
        assert_eq!(
            line["changes"][3],
            json!({"path": ".status.ready", "pointer": "/status/ready", "old": false, "new": true})
        );
        assert_eq!(
            line["changes"][0],
            json!({"path": ".spec.paused", "pointer": "/spec/paused", "old": true, "new": null})
        );
        assert_eq!(line["object"]["status"]["message"], "reconciled");
    }

    #[test]
    fn name_and_jsonpath_formats() {
        assert_eq!(
            printer("name", DiffMode::Full, false).text(&Notification::change(
                at(),
                &widgets(),
                &modified()
            )),
            "widget.example.com/foo"
        );
        assert_eq!(
            printer(
                "jsonpath={.metadata.name} {.status.ready}",
                DiffMode::Full,
                false
            )
            .text(&Notification::change(at(), &widgets(), &modified())),
            "foo true"
        );
        assert!(
            Format::parse("yaml", DiffMode::Full)
                .unwrap_err()
                .contains("human, json, name or jsonpath")
        );
    }
}
