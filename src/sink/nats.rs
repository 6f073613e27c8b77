//! One publish per attempt to NATS. When a JetStream stream covers the
//! subject, the message carries `Nats-Msg-Id` (so a re-send is dropped as a
//! duplicate) and counts as delivered only once JetStream acknowledges it;
//! otherwise a core publish counts once the server has it (flushed).
//! Publishes go out in order on one connection, up to [`WINDOW`] of them
//! awaiting their acknowledgement at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::delivery::{Attempt, CONNECT_TIMEOUT, Message, Started, Transport};

/// Publishes awaiting their acknowledgement at once.
pub const WINDOW: usize = 256;

pub struct NatsPublish {
    server: SecretString,
    subject: String,
    connection: Option<Connection>,
    /// An acknowledgement failed: connect and ask for the stream again.
    stale: Arc<AtomicBool>,
}

struct Connection {
    client: async_nats::Client,
    /// Set when a stream covers the subject.
    jetstream: Option<async_nats::jetstream::Context>,
}

impl NatsPublish {
    pub fn new(server: SecretString, subject: String) -> NatsPublish {
        NatsPublish {
            server,
            subject,
            connection: None,
            stale: Arc::default(),
        }
    }

    async fn connect(&mut self) -> Result<&Connection, String> {
        if self.connection.is_none() {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(CONNECT_TIMEOUT)
                .connect(self.server.expose_secret())
                .await
                // The kind only: the error's text may hold the address.
                .map_err(|e| format!("cannot connect to NATS: {}", e.kind()))?;
            let jetstream = async_nats::jetstream::new(client.clone());
            let jetstream = match jetstream.stream_by_subject(self.subject.clone()).await {
                Ok(_) => Some(jetstream),
                Err(e) => match e.kind() {
                    async_nats::jetstream::context::GetStreamByNameErrorKind::NotFound => None,
                    // JetStream not enabled on the server: core NATS.
                    async_nats::jetstream::context::GetStreamByNameErrorKind::Request => None,
                    kind => {
                        return Err(format!("cannot ask NATS for the subject's stream: {kind}"));
                    }
                },
            };
            self.connection = Some(Connection { client, jetstream });
        }
        Ok(self.connection.as_ref().expect("set above"))
    }

    /// Hands the message to the connection, in order; the acknowledgement
    /// (or core NATS's flush) comes later.
    async fn publish(&mut self, message: &Message) -> Started {
        if self.stale.swap(false, Ordering::Relaxed) {
            self.connection = None;
        }
        let subject = self.subject.clone();
        let stale = self.stale.clone();
        let connection = match self.connect().await {
            Ok(connection) => connection,
            Err(reason) => return retry(reason),
        };
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in &message.headers {
            headers.insert(*name, value.as_str());
        }
        // After a failure, ask again which stream covers the subject: a
        // stream may have been created or removed.
        let failed = move |reason: String| {
            stale.store(true, Ordering::Relaxed);
            Attempt::Retry {
                reason,
                after: None,
            }
        };
        match &connection.jetstream {
            Some(jetstream) => {
                headers.insert(async_nats::header::NATS_MESSAGE_ID, message.id.as_str());
                match jetstream
                    .publish_with_headers(subject, headers, message.body.clone())
                    .await
                {
                    Ok(ack) => Started::Waiting(Box::pin(async move {
                        match ack.await {
                            Ok(_) => Attempt::Delivered,
                            Err(e) => {
                                failed(format!("JetStream did not acknowledge: {}", e.kind()))
                            }
                        }
                    })),
                    Err(e) => {
                        Started::Done(failed(format!("cannot publish to JetStream: {}", e.kind())))
                    }
                }
            }
            None => {
                let sent = connection
                    .client
                    .publish_with_headers(subject, headers, message.body.clone())
                    .await;
                if let Err(e) = sent {
                    return Started::Done(failed(format!("cannot publish to NATS: {}", e.kind())));
                }
                let client = connection.client.clone();
                Started::Waiting(Box::pin(async move {
                    match client.flush().await {
                        Ok(()) => Attempt::Delivered,
                        Err(e) => failed(format!("cannot publish to NATS: {}", e.kind())),
                    }
                }))
            }
        }
    }
}

fn retry(reason: String) -> Started {
    Started::Done(Attempt::Retry {
        reason,
        after: None,
    })
}

impl Transport for NatsPublish {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(async move {
            match self.publish(message).await {
                Started::Done(attempt) => attempt,
                Started::Waiting(answer) => answer.await,
            }
        })
    }

    fn window(&self) -> usize {
        WINDOW
    }

    fn start<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Started> {
        Box::pin(self.publish(message))
    }
}
