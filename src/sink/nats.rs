//! One publish per attempt to NATS. When a JetStream stream covers the
//! subject, the message carries `Nats-Msg-Id` (so a re-send is dropped as a
//! duplicate) and counts as delivered only once JetStream acknowledges it;
//! otherwise a core publish counts once the server has it (flushed).

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::delivery::{Attempt, CONNECT_TIMEOUT, Message, Transport};

pub struct NatsPublish {
    server: SecretString,
    subject: String,
    connection: Option<Connection>,
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

    async fn publish(&mut self, message: &Message) -> Attempt {
        let subject = self.subject.clone();
        let connection = match self.connect().await {
            Ok(connection) => connection,
            Err(reason) => {
                return Attempt::Retry {
                    reason,
                    after: None,
                };
            }
        };
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in &message.headers {
            headers.insert(*name, value.as_str());
        }
        let outcome = match &connection.jetstream {
            Some(jetstream) => {
                headers.insert(async_nats::header::NATS_MESSAGE_ID, message.id.as_str());
                match jetstream
                    .publish_with_headers(subject, headers, message.body.clone())
                    .await
                {
                    Ok(ack) => ack
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("JetStream did not acknowledge: {}", e.kind())),
                    Err(e) => Err(format!("cannot publish to JetStream: {}", e.kind())),
                }
            }
            None => {
                let sent = connection
                    .client
                    .publish_with_headers(subject, headers, message.body.clone())
                    .await
                    .map_err(|e| format!("cannot publish to NATS: {}", e.kind()));
                match sent {
                    Ok(()) => connection
                        .client
                        .flush()
                        .await
                        .map_err(|e| format!("cannot publish to NATS: {}", e.kind())),
                    Err(e) => Err(e),
                }
            }
        };
        match outcome {
            Ok(()) => Attempt::Delivered,
            Err(reason) => {
                // Ask again which stream covers the subject after a failure:
                // a stream may have been created or removed.
                self.connection = None;
                Attempt::Retry {
                    reason,
                    after: None,
                }
            }
        }
    }
}

impl Transport for NatsPublish {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(self.publish(message))
    }
}
