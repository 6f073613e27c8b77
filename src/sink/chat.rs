//! `slack:URL`: a Slack incoming webhook, `{"text": ...}`. The text is
//! `--message TEMPLATE` on the object, or the human header line and the
//! changed paths — the printer's own lines, without colour.

use bytes::Bytes;
use serde_json::Value;

use super::Notification;
use super::delivery::{Changes, Message};
use super::printer::{DiffMode, FieldChange, Format, Printer, Template, diff, header_and_paths};

pub struct SlackText(Printer);

impl SlackText {
    pub fn new(message: Option<Template>) -> SlackText {
        let format = match message {
            Some(template) => Format::JsonPath(template),
            None => Format::Human {
                diff: DiffMode::Paths,
            },
        };
        SlackText(Printer {
            format,
            shorten: false,
            color: false,
        })
    }

    pub fn message(&self, n: &Notification) -> Message {
        let body = serde_json::json!({ "text": self.0.text(n) }).to_string();
        let message = Message::new(n.object_key(), n.delivery_id(), Vec::new(), body);
        match (&self.0.format, n.previous) {
            // The default text lists paths without values: keep the changes
            // beside it, so a fold can hand them on.
            (Format::Human { .. }, Some(previous)) if n.shows_changes() => {
                message.with_changes(Changes {
                    kept: Some(diff(&previous.value(), n.object)),
                    read: |_| Vec::new(),
                    write: with_paths,
                })
            }
            // A --message template shows the newest state, no changes.
            _ => message,
        }
    }
}

/// The default text again: its header line, and these changed paths.
fn with_paths(body: &[u8], changes: &[FieldChange]) -> Bytes {
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let header = body["text"]
        .as_str()
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    serde_json::json!({ "text": header_and_paths(header, changes) })
        .to_string()
        .into()
}
