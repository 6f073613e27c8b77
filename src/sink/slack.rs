//! `slack:URL`: a Slack incoming webhook, `{"text": ...}`. The text is
//! `--message TEMPLATE` on the object, or the human header line and the
//! changed paths — the printer's own lines, without colour.

use super::Notification;
use super::delivery::Message;
use super::printer::{DiffMode, Format, Printer, Template};

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
        Message::new(n.object_key(), n.delivery_id(), Vec::new(), body)
    }
}
