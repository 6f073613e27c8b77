//! `webhook:URL`: an HTTP POST of the `-o json` line, as it is.

use bytes::Bytes;

use super::Notification;
use super::delivery::Message;

pub fn message(n: &Notification, json_line: &Bytes) -> Message {
    Message::new(
        n.object_key(),
        n.delivery_id(),
        Vec::new(),
        json_line.clone(),
    )
}
