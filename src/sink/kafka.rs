//! `kafka:kafka://HOST:PORT[,HOST:PORT...]/TOPIC`: one produce request per
//! attempt, acknowledged by every in-sync replica (`acks=all`). The key is
//! the object's UID, so one object's changes stay in one partition, in order;
//! the value is the `-o json` line; the headers follow the CloudEvents Kafka
//! protocol binding, binary mode (`ce_id`, ...: the same values as `ce-id`).
//!
//! rskafka has no idempotent producer: a re-send after a lost acknowledgement
//! can be stored twice, and carries the same `ce_id`, by which a consumer
//! drops it (at least once, as every sink).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::BoxFuture;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;
use secrecy::{ExposeSecret, SecretString};

use super::Notification;
use super::cloudevents::{self, Names};
use super::delivery::{Attempt, Message, Transport};

/// The CloudEvents Kafka binding's header names, in [`cloudevents::HTTP`]'s
/// order.
const KAFKA: Names = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_subject",
    "ce_time",
    "ce_rule",
];

/// The usual Kafka port, for a broker given without one.
const DEFAULT_PORT: u16 = 9092;

/// rskafka tries once and says why it failed; retries are the delivery
/// machinery's (its backoff, breaker and reports), not a second loop inside.
const CLIENT_RETRIES: Duration = Duration::ZERO;

pub fn message(n: &Notification, json_line: &Bytes) -> Message {
    let mut headers = cloudevents::headers(n, &KAFKA);
    headers.push(("content-type", "application/json".to_string()));
    super::webhook::with_changes(
        n,
        Message::new(n.object_key(), n.delivery_id(), headers, json_line.clone()),
    )
}

/// A `kafka://` or `kafka+ssl://` URL, read.
#[derive(Debug)]
pub struct Address {
    /// `HOST:PORT` of each bootstrap broker.
    pub brokers: Vec<String>,
    pub topic: String,
    pub tls: bool,
    pub sasl: Option<Sasl>,
}

/// The SASL login from the URL's `user:password@`.
#[derive(Debug)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub user: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

const WANTED: &str = "kafka://HOST:PORT[,HOST:PORT...]/TOPIC (or kafka+ssl://)";

impl Address {
    /// Reads the URL; the reasons never quote it (it may hold a password).
    pub fn parse(url: &str) -> Result<Address, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("the URL must be {WANTED}"))?;
        let tls = match scheme {
            "kafka" => false,
            "kafka+ssl" => true,
            _ => return Err(format!("the URL must be {WANTED}")),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        if rest.contains('#') {
            return Err("the Kafka URL takes no #fragment".into());
        }
        let (authority, topic) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let brokers = hosts
            .split(',')
            .map(broker)
            .collect::<Result<Vec<_>, _>>()?;
        check_topic(topic)?;
        let mut mechanism = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("sasl", name)) => {
                    mechanism = Some(match name.to_ascii_lowercase().as_str() {
                        "plain" => Mechanism::Plain,
                        "scram-sha-256" => Mechanism::ScramSha256,
                        "scram-sha-512" => Mechanism::ScramSha512,
                        _ => {
                            return Err("?sasl= takes plain, scram-sha-256 or scram-sha-512".into());
                        }
                    })
                }
                _ => {
                    return Err(
                        "the Kafka URL takes only ?sasl=plain|scram-sha-256|scram-sha-512".into(),
                    );
                }
            }
        }
        let sasl = match userinfo {
            None if mechanism.is_some() => {
                return Err(
                    "?sasl= needs a user and password in the URL (kafka://USER:PASSWORD@HOST:PORT/TOPIC)"
                        .into(),
                );
            }
            None => None,
            Some(userinfo) => {
                let Some((user, password)) = userinfo.split_once(':') else {
                    return Err(
                        "the Kafka URL has a user but no password: give USER:PASSWORD@".into(),
                    );
                };
                let decode = |text: &str, what: &str| {
                    percent_encoding::percent_decode_str(text)
                        .decode_utf8()
                        .map(|text| text.into_owned())
                        .map_err(|_| format!("the Kafka URL's {what} is not UTF-8 once decoded"))
                };
                let user = decode(user, "user")?;
                if user.is_empty() {
                    return Err("the Kafka URL's user is empty: give USER:PASSWORD@".into());
                }
                Some(Sasl {
                    mechanism: mechanism.unwrap_or(Mechanism::Plain),
                    user,
                    password: SecretString::from(decode(password, "password")?),
                })
            }
        };
        Ok(Address {
            brokers,
            topic: topic.to_string(),
            tls,
            sasl,
        })
    }

    /// The first broker's host: the most of the URL any output may show.
    pub fn host(&self) -> String {
        let first = &self.brokers[0];
        first
            .rsplit_once(':')
            .map_or(first.as_str(), |(host, _)| host)
            .to_string()
    }
}

/// Whether a Kafka URL carries `user:password@` (looked at before it is
/// read, to refuse it on the command line).
pub fn has_login(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

/// Whether the URL logs in with SASL PLAIN without TLS: the password then
/// crosses the network as it is.
pub fn password_in_clear(url: &str) -> bool {
    Address::parse(url).is_ok_and(|address| {
        !address.tls
            && address
                .sasl
                .is_some_and(|sasl| sasl.mechanism == Mechanism::Plain)
    })
}

/// One `HOST[:PORT]`, as `HOST:PORT` (an IPv6 address in brackets).
fn broker(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err(format!("the URL names an empty broker: give {WANTED}"));
    }
    let (host, port) = match text.rfind(':') {
        Some(colon) if !text[colon..].contains(']') => (&text[..colon], Some(&text[colon + 1..])),
        _ => (text, None),
    };
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty()
        || (!bracketed
            && host
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))))
    {
        return Err(format!("a broker's host is malformed: give {WANTED}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or("a broker's port is out of range: give a port from 1 to 65535")?,
    };
    Ok(format!("{host}:{port}"))
}

/// Kafka's rule for topic names: 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.`
/// or `..`.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err(format!("the Kafka URL names no topic: give {WANTED}"));
    }
    if topic.len() > 249 {
        return Err("the Kafka topic is longer than 249 characters".into());
    }
    if topic == "." || topic == ".." {
        return Err("the Kafka topic may not be \".\" or \"..\"".into());
    }
    if let Some(bad) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "the Kafka topic may not contain {bad:?} (only letters, digits, '.', '_' and '-')"
        ));
    }
    Ok(())
}

pub struct KafkaProduce {
    address: Address,
    connection: Option<Connection>,
}

struct Connection {
    client: Client,
    partitions: i32,
    leaders: HashMap<i32, PartitionClient>,
}

impl KafkaProduce {
    /// `url` was read by [`Address::parse`] when the plan was made.
    pub fn new(url: &SecretString) -> KafkaProduce {
        KafkaProduce {
            address: Address::parse(url.expose_secret()).expect("checked by the plan"),
            connection: None,
        }
    }

    async fn connect(&mut self) -> Result<&mut Connection, Attempt> {
        if self.connection.is_none() {
            let address = &self.address;
            let mut builder = ClientBuilder::new(address.brokers.clone())
                .client_id("kubectl-notify")
                .backoff_config(rskafka::BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                    deadline: Some(CLIENT_RETRIES),
                });
            if address.tls {
                let config = super::http::tls_config().map_err(retry)?;
                builder = builder.tls_config(Arc::new(config));
            }
            if let Some(sasl) = &address.sasl {
                let credentials =
                    Credentials::new(sasl.user.clone(), sasl.password.expose_secret().to_string());
                builder = builder.sasl_config(match sasl.mechanism {
                    Mechanism::Plain => SaslConfig::Plain(credentials),
                    Mechanism::ScramSha256 => SaslConfig::ScramSha256(credentials),
                    Mechanism::ScramSha512 => SaslConfig::ScramSha512(credentials),
                });
            }
            let client = builder
                .build()
                .await
                .map_err(|e| judge("cannot connect to Kafka", &e))?;
            let topics = client
                .list_topics()
                .await
                .map_err(|e| judge("cannot read the brokers' topics", &e))?;
            let Some(topic) = topics.iter().find(|t| t.name == address.topic) else {
                return Err(retry(
                    "the topic does not exist on the brokers (create it, or let them create it)"
                        .to_string(),
                ));
            };
            self.connection = Some(Connection {
                client,
                partitions: topic.partitions.len().max(1) as i32,
                leaders: HashMap::new(),
            });
        }
        Ok(self.connection.as_mut().expect("set above"))
    }

    async fn produce(&mut self, message: &Message) -> Attempt {
        let topic = self.address.topic.clone();
        let connection = match self.connect().await {
            Ok(connection) => connection,
            Err(attempt) => return attempt,
        };
        let partition = partition_of(message.key.as_bytes(), connection.partitions);
        if !connection.leaders.contains_key(&partition) {
            match connection
                .client
                .partition_client(topic, partition, UnknownTopicHandling::Retry)
                .await
            {
                Ok(leader) => {
                    connection.leaders.insert(partition, leader);
                }
                Err(e) => {
                    self.connection = None;
                    return judge("cannot find the partition's leader", &e);
                }
            }
        }
        let leader = &connection.leaders[&partition];
        match leader
            .produce(vec![record(message)], Compression::NoCompression)
            .await
        {
            Ok(_) => Attempt::Delivered,
            Err(e) => {
                let attempt = judge("the brokers did not take the record", &e);
                if matches!(attempt, Attempt::Retry { .. }) {
                    // Read the topic again: partitions may have been added,
                    // the topic re-created, the brokers restarted.
                    self.connection = None;
                }
                attempt
            }
        }
    }
}

impl Transport for KafkaProduce {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(self.produce(message))
    }
}

fn record(message: &Message) -> Record {
    let headers: BTreeMap<String, Vec<u8>> = message
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    // The record's time is the notification's (`ce_time`).
    let millis = message
        .headers
        .iter()
        .find(|(name, _)| *name == "ce_time")
        .and_then(|(_, time)| humantime::parse_rfc3339(time).ok())
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_millis() as i64);
    Record {
        key: Some(message.key.as_bytes().to_vec()),
        value: Some(message.body.to_vec()),
        headers,
        timestamp: rskafka::chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default(),
    }
}

/// The partition for a key, as Kafka's Java client and librdkafka's
/// `murmur2_random` choose it, so other producers of the same objects agree.
fn partition_of(key: &[u8], partitions: i32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) as i32) % partitions.max(1)
}

/// Kafka's murmur2 (seed 0x9747b28c), as `org.apache.kafka.common.utils.Utils`.
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

fn retry(reason: String) -> Attempt {
    Attempt::Retry {
        reason,
        after: None,
    }
}

/// Retried or final, by the Kafka error code where the brokers gave one
/// (the protocol's "retriable" column); a connection that failed is retried,
/// a login refused is final. The reason names no broker: rskafka's own
/// texts do.
fn judge(doing: &str, error: &ClientError) -> Attempt {
    match error {
        ClientError::ServerError { protocol_error, .. } => code(doing, *protocol_error),
        ClientError::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
            match source.downcast_ref::<ClientError>() {
                Some(inner) => judge(doing, inner),
                None => every_broker_failed(doing, &source.to_string()),
            }
        }
        ClientError::Connection(e) => connection(doing, e),
        ClientError::Timeout => retry(format!("{doing}: no answer in time")),
        ClientError::InvalidResponse(_) => {
            retry(format!("{doing}: the brokers' answer could not be read"))
        }
        other => retry(format!("{doing}: {}", cause(other))),
    }
}

fn connection(doing: &str, error: &rskafka::ConnectionError) -> Attempt {
    use rskafka::ConnectionError as E;
    match error {
        E::SaslFailed(e) => Attempt::Rejected(format!(
            "{doing}: the SASL login was refused ({})",
            match e {
                rskafka::SaslError::ApiError(_) =>
                    "a wrong user or password, or a mechanism the brokers do not offer",
                rskafka::SaslError::UnsupportedSaslMechanism =>
                    "a mechanism the brokers do not offer",
                _ => "the exchange failed",
            }
        )),
        E::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
            match source.downcast_ref::<rskafka::ConnectionError>() {
                Some(inner) => connection(doing, inner),
                None => match source.downcast_ref::<ClientError>() {
                    Some(inner) => judge(doing, inner),
                    None => every_broker_failed(doing, &source.to_string()),
                },
            }
        }
        E::SyncVersions(_) => Attempt::Rejected(format!(
            "{doing}: the brokers speak no protocol version this client knows"
        )),
        other => retry(format!("{doing}: {}", cause(other))),
    }
}

/// rskafka's list of every bootstrap broker's error, which it gives only as
/// text naming the brokers: what failed is told by known phrases of it
/// (rskafka 0.6), never by repeating it.
fn every_broker_failed(doing: &str, text: &str) -> Attempt {
    if text.contains("Sasl handshake failed") {
        return Attempt::Rejected(format!("{doing}: the SASL login was refused"));
    }
    if let Some(at) = text.find("invalid peer certificate") {
        let what: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ':' | '_'))
            .collect();
        return retry(format!(
            "{doing}: {} (the broker's certificate is not trusted by this system: add its CA \
             to the system's roots, or name a PEM file in SSL_CERT_FILE)",
            what.trim_end()
        ));
    }
    let why = [
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("early eof", "the broker closed the connection"),
        ("Connection reset", "connection reset"),
    ]
    .into_iter()
    .find(|(phrase, _)| text.contains(phrase))
    .map_or("no broker could be reached", |(_, why)| why);
    retry(format!("{doing}: {why}"))
}

/// What went wrong, from the I/O error at the bottom if there is one
/// (`connection refused`); never the error's own text, which may name a broker.
fn cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                // Most often a private CA: say how to trust it, TLS stays on.
                Some(tls @ rustls::Error::InvalidCertificate(_)) => {
                    return format!(
                        "{tls} (the broker's certificate is not trusted by this system: add \
                         its CA to the system's roots, or name a PEM file in SSL_CERT_FILE)"
                    );
                }
                Some(tls) => return format!("TLS: {tls}"),
                None => {}
            }
            return format!("I/O error: {}", io.kind());
        }
        source = e.source();
    }
    "the connection failed".to_string()
}

/// The protocol's retriable error codes are retried; the rest are final for
/// this record (an authorization failure, a record too large, ...).
fn code(doing: &str, error: ProtocolError) -> Attempt {
    use ProtocolError as P;
    let reason = format!("{doing}: Kafka error {error}");
    match error {
        P::CorruptMessage
        | P::UnknownTopicOrPartition
        | P::LeaderNotAvailable
        | P::NotLeaderOrFollower
        | P::RequestTimedOut
        | P::ReplicaNotAvailable
        | P::NetworkException
        | P::CoordinatorLoadInProgress
        | P::CoordinatorNotAvailable
        | P::NotCoordinator
        | P::NotEnoughReplicas
        | P::NotEnoughReplicasAfterAppend
        | P::NotController
        | P::ConcurrentTransactions
        | P::KafkaStorageError
        | P::FetchSessionIdNotFound
        | P::InvalidFetchSessionEpoch
        | P::ListenerNotFound
        | P::FencedLeaderEpoch
        | P::UnknownLeaderEpoch
        | P::OffsetNotAvailable
        | P::PreferredLeaderNotAvailable
        | P::EligibleLeadersNotAvailable
        | P::UnstableOffsetCommit
        | P::ThrottlingQuotaExceeded
        | P::UnknownTopicId
        | P::InconsistentTopicId => retry(reason),
        _ => Attempt::Rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_is_kafkas() {
        // The cases of Kafka's own UtilsTest.testMurmur2.
        for (key, hash) in [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key.as_bytes()) as i32, hash, "{key}");
        }
    }

    #[test]
    fn one_key_one_partition_within_range() {
        let uid = "5b0c8d7e-2f4a-4c1e-9a77-0d6f1c2b3a4e";
        let p = partition_of(uid.as_bytes(), 6);
        assert!((0..6).contains(&p));
        assert_eq!(partition_of(uid.as_bytes(), 6), p);
        assert_eq!(partition_of(uid.as_bytes(), 1), 0);
        // A negative hash still lands in range (Kafka's toPositive).
        assert!(murmur2(b"21") as i32 <= 0);
        assert!((0..7).contains(&partition_of(b"21", 7)));
    }

    #[test]
    fn urls_with_brokers_topic_tls_and_login() {
        let a = Address::parse("kafka://k1:9092,k2:19092,[::1]:9093,k4/widgets.events").unwrap();
        assert_eq!(a.brokers, ["k1:9092", "k2:19092", "[::1]:9093", "k4:9092"]);
        assert_eq!(a.topic, "widgets.events");
        assert_eq!(a.host(), "k1");
        assert!(!a.tls && a.sasl.is_none());
        let a = Address::parse("kafka+ssl://u%40x:p%3Aw@k1:9093/t?sasl=SCRAM-SHA-512").unwrap();
        assert!(a.tls);
        let sasl = a.sasl.unwrap();
        assert_eq!(sasl.mechanism, Mechanism::ScramSha512);
        assert_eq!(sasl.user, "u@x");
        assert_eq!(sasl.password.expose_secret(), "p:w");
        let a = Address::parse("kafka://u:p@k1:9092/t").unwrap();
        assert_eq!(a.sasl.unwrap().mechanism, Mechanism::Plain);
        assert!(has_login("kafka://u:p@k1/t"));
        assert!(!has_login("kafka://k1/t?x=a@b"));
    }

    #[test]
    fn bad_urls_are_named_without_the_url() {
        for (url, words) in [
            ("https://k1:9092/t", "must be kafka://"),
            ("kafka://k1:9092", "names no topic"),
            ("kafka://k1:9092/", "names no topic"),
            ("kafka://k1:9092/a/b", "may not contain '/'"),
            ("kafka://k1:9092/a b", "may not contain ' '"),
            ("kafka://k1:9092/..", "\"..\""),
            ("kafka://k1:0/t", "out of range"),
            ("kafka://k1:99999/t", "out of range"),
            ("kafka://k1:x/t", "out of range"),
            ("kafka://k1:9092,,k2/t", "empty broker"),
            ("kafka:///t", "empty broker"),
            ("kafka://k$1/t", "host is malformed"),
            (
                "kafka://k1/t?sasl=gssapi",
                "plain, scram-sha-256 or scram-sha-512",
            ),
            ("kafka://k1/t?acks=1", "takes only ?sasl="),
            ("kafka://k1/t?sasl=plain", "needs a user and password"),
            ("kafka://secretuser@k1/t", "no password"),
            ("kafka://:secretpw@k1/t", "user is empty"),
            ("kafka://k1/t#x", "no #fragment"),
        ] {
            let err = Address::parse(url).expect_err(url);
            assert!(err.contains(words), "{url}: {err}");
            assert!(
                !err.contains("secret") && !err.contains("k1"),
                "{url}: {err}"
            );
        }
        assert!(Address::parse(&format!("kafka://k1/{}", "t".repeat(250))).is_err());
        assert!(Address::parse(&format!("kafka://k1/{}", "t".repeat(249))).is_ok());
    }

    #[test]
    fn failures_of_every_broker_are_named_without_the_brokers() {
        let text = "Multiple errors occured: error connecting to broker \"k1.secret:9093\": \
                    IO Error: invalid peer certificate: UnknownIssuer, error connecting to \
                    broker \"k2.secret:9093\": IO Error: Connection refused (os error 111)";
        match every_broker_failed("cannot connect to Kafka", text) {
            Attempt::Retry { reason, .. } => {
                assert!(
                    reason.starts_with(
                        "cannot connect to Kafka: invalid peer certificate: UnknownIssuer (the"
                    ),
                    "{reason}"
                );
                assert!(!reason.contains("secret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let refused = "error connecting to broker \"k1.secret:9092\": IO Error: Connection refused";
        assert!(matches!(
            every_broker_failed("x", refused),
            Attempt::Retry { reason, .. } if reason == "x: connection refused"
        ));
        let login = "error connecting to broker \"k1:9092\": Sasl handshake failed: API error";
        assert!(matches!(
            every_broker_failed("x", login),
            Attempt::Rejected(reason) if reason == "x: the SASL login was refused"
        ));
    }

    #[test]
    fn retriable_kafka_errors_are_retried_the_rest_rejected() {
        for (error, retried) in [
            (ProtocolError::NotLeaderOrFollower, true),
            (ProtocolError::UnknownTopicOrPartition, true),
            (ProtocolError::NotEnoughReplicas, true),
            (ProtocolError::RequestTimedOut, true),
            (ProtocolError::KafkaStorageError, true),
            (ProtocolError::MessageTooLarge, false),
            (ProtocolError::TopicAuthorizationFailed, false),
            (ProtocolError::InvalidRecord, false),
            (ProtocolError::UnknownServerError, false),
        ] {
            match code("produce", error) {
                Attempt::Retry { reason, .. } => {
                    assert!(retried, "{error:?} retried");
                    assert!(reason.contains(&format!("{error:?}")), "{reason}");
                }
                Attempt::Rejected(reason) => {
                    assert!(!retried, "{error:?} rejected");
                    assert!(reason.contains(&format!("{error:?}")), "{reason}");
                }
                Attempt::Delivered => panic!("{error:?} delivered"),
            }
        }
    }

    #[test]
    fn headers_are_the_cloudevents_kafka_binding_with_the_http_values() {
        use crate::discovery::ApiType;
        use crate::target::{Selection, Target};
        use crate::tracker::{Change, ChangeKind};
        let target = Target {
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
        };
        let change = Change {
            kind: ChangeKind::Created,
            previous: None,
            object: serde_json::json!({"metadata": {"name": "foo", "namespace": "default",
                "uid": "u1", "resourceVersion": "7"}})
            .into(),
        };
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let n = Notification::change(at, &target, &change);
        let line = Bytes::from_static(b"{}");
        let kafka = message(&n, &line);
        let http = cloudevents::message(&n, &line);
        let names: Vec<&str> = kafka.headers.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "ce_specversion",
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_subject",
                "ce_time",
                "content-type"
            ]
        );
        for ((_, ours), (_, theirs)) in kafka.headers.iter().zip(&http.headers) {
            assert_eq!(ours, theirs);
        }
        assert_eq!(kafka.headers[1].1, "u1/7/created");
        assert_eq!(kafka.headers[6].1, "application/json");
        assert_eq!(kafka.key, "u1");
        let record = record(&kafka);
        assert_eq!(record.key.as_deref(), Some(&b"u1"[..]));
        assert_eq!(record.timestamp.timestamp_millis(), 1_700_000_000_123);
        assert_eq!(record.headers["ce_type"], b"kubectl-notify.created");
    }
}
