//! `webhook:URL`: an HTTP POST of the `-o json` line, as it is.

use bytes::Bytes;

use super::Notification;
use super::delivery::{Changes, Message};

pub fn message(n: &Notification, json_line: &Bytes) -> Message {
    with_changes(
        n,
        Message::new(
            n.object_key(),
            n.delivery_id(),
            Vec::new(),
            json_line.clone(),
        ),
    )
}

/// A modification's `-o json` line holds its changes, which a fold hands on.
pub fn with_changes(n: &Notification, message: Message) -> Message {
    if n.shows_changes() {
        message.with_changes(Changes::in_json_line())
    } else {
        message
    }
}
