//! The chat sinks — `slack:`, `mattermost:` (Slack-compatible), `googlechat:`
//! (`{"text"}`), `discord:` (`{"content"}`, at most 2,000 characters) and
//! `teams:` (a Workflows webhook: a message holding one Adaptive Card).
//! The text is `--message TEMPLATE` on the object (a resolution says so
//! first), or the human header line and the changed paths — the printer's
//! own lines, without colour.

use std::rc::Rc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::Notification;
use super::address::SinkKind;
use super::delivery::{Changes, Message};
use super::printer::{DiffMode, FieldChange, Format, Printer, Template, diff, header_and_paths};
use crate::tracker::ChangeKind;

/// Discord refuses a `content` longer than this (characters).
pub const DISCORD_LIMIT: usize = 2000;

/// How one chat service wants its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chat {
    /// `{"text": ...}`: Slack, Mattermost, Google Chat.
    Text,
    Discord,
    Teams,
}

impl Chat {
    pub fn of(kind: SinkKind) -> Chat {
        match kind {
            SinkKind::Discord => Chat::Discord,
            SinkKind::Teams => Chat::Teams,
            _ => Chat::Text,
        }
    }

    /// The request body carrying `text`.
    fn body(self, text: &str) -> Value {
        match self {
            Chat::Text => json!({ "text": text }),
            Chat::Discord => json!({ "content": cut(text, DISCORD_LIMIT) }),
            Chat::Teams => {
                // The header line stands out; the paths below it keep their lines.
                let (head, rest) = text.split_once('\n').unwrap_or((text, ""));
                let mut blocks = vec![json!({
                    "type": "TextBlock", "text": head, "wrap": true, "weight": "Bolder"
                })];
                if !rest.is_empty() {
                    blocks.push(json!({
                        "type": "TextBlock", "text": rest, "wrap": true, "fontType": "Monospace"
                    }));
                }
                json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": null,
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": blocks,
                        }
                    }]
                })
            }
        }
    }

    /// The text a body carries (see [`Chat::body`]).
    fn text_of(self, body: &Value) -> String {
        let part = |v: &Value| v.as_str().unwrap_or("").to_string();
        match self {
            Chat::Text => part(&body["text"]),
            Chat::Discord => part(&body["content"]),
            Chat::Teams => {
                let blocks = &body["attachments"][0]["content"]["body"];
                let lines: Vec<String> = blocks
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| part(&b["text"]))
                    .collect();
                lines.join("\n")
            }
        }
    }
}

/// At most `limit` characters, the last an ellipsis when cut.
fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut short: String = text.chars().take(limit - 1).collect();
    short.push('…');
    short
}

pub struct ChatText {
    chat: Chat,
    template: Option<Rc<Template>>,
    /// The default text: the human header line and changed paths.
    printer: Printer,
}

impl ChatText {
    pub fn new(chat: Chat, template: Option<Rc<Template>>) -> ChatText {
        ChatText {
            chat,
            template,
            printer: Printer {
                format: Format::Human {
                    diff: DiffMode::Paths,
                },
                shorten: false,
                color: false,
            },
        }
    }

    /// The text alone (`--message`, or the header and paths).
    pub fn text(&self, n: &Notification) -> String {
        text(self.template.as_deref(), &self.printer, n)
    }

    pub fn message(&self, n: &Notification) -> Message {
        let body = self.chat.body(&self.text(n)).to_string();
        let message = Message::new(n.object_key(), n.delivery_id(), Vec::new(), body);
        match (&self.template, n.previous) {
            // The default text lists paths without values: keep the changes
            // beside it, so a fold can hand them on.
            (None, Some(previous)) if n.shows_changes() => message.with_changes(Changes {
                kept: Some(diff(&previous.value(), n.object)),
                read: |_| Vec::new(),
                write: match self.chat {
                    Chat::Text => |b, c| with_paths(Chat::Text, b, c),
                    Chat::Discord => |b, c| with_paths(Chat::Discord, b, c),
                    Chat::Teams => |b, c| with_paths(Chat::Teams, b, c),
                },
            }),
            // A --message template shows the newest state, no changes.
            _ => message,
        }
    }
}

/// A notification's text: `--message` on the object (a resolution says
/// `resolved: ` first, as the template was written for the alert), or the
/// printer's header line and changed paths — also when `--message` renders
/// empty on this object, which every chat service would refuse for good.
pub fn text(template: Option<&Template>, printer: &Printer, n: &Notification) -> String {
    let rendered = template.map(|template| template.render_line(n.object));
    match rendered.filter(|text| !text.trim().is_empty()) {
        Some(text) => {
            let text = text.strip_suffix('\n').unwrap_or(&text);
            match n.occasion {
                super::Occasion::Changed(ChangeKind::Resolved { .. }) => {
                    format!("resolved: {text}")
                }
                _ => text.to_string(),
            }
        }
        None => printer.text(n),
    }
}

/// The default text again: its header line, and these changed paths.
fn with_paths(chat: Chat, body: &[u8], changes: &[FieldChange]) -> Bytes {
    let body: Value = serde_json::from_slice(body).unwrap_or_default();
    let text = chat.text_of(&body);
    let header = text.lines().next().unwrap_or("");
    chat.body(&header_and_paths(header, changes))
        .to_string()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discord_content_is_cut_to_its_limit_and_teams_is_one_adaptive_card() {
        let long = "é".repeat(2500);
        let body = Chat::Discord.body(&long);
        let content = body["content"].as_str().unwrap();
        assert_eq!(content.chars().count(), DISCORD_LIMIT);
        assert!(content.ends_with('…'));
        let card = Chat::Teams.body("head\n  ~ .a\n  ~ .b");
        assert_eq!(card["type"], "message");
        let attachments = card["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(attachments[0]["content"]["type"], "AdaptiveCard");
        assert_eq!(Chat::Teams.text_of(&card), "head\n  ~ .a\n  ~ .b");
        assert_eq!(Chat::Text.text_of(&Chat::Text.body("x")), "x");
    }
}
