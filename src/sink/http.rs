//! One HTTP POST per attempt, for every sink over HTTP (webhook,
//! CloudEvents, the chats, Alertmanager, PagerDuty):
//! hyper's pooled client (keep-alive; one connection per request in
//! flight, [`HttpPost::pipelined`]), TLS verified with the system's
//! roots, loaded only for an https URL and only at the first attempt;
//! `user:pass@` in the URL sent as Basic auth, as curl does.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretString};

use super::delivery::{Attempt, CONNECT_TIMEOUT, Message, Started, Transport};

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Requests in flight at once to a webhook or CloudEvents sink (so at most
/// this many connections to it).
pub const WINDOW: usize = 16;

#[derive(Clone)]
enum Pool {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<Https, Full<Bytes>>),
}

pub struct HttpPost {
    /// Without its `user:pass@`, which is in `authorization`.
    url: SecretString,
    authorization: Option<SecretString>,
    pool: Option<Pool>,
    /// Requests in flight at once (see [`Transport::window`]).
    window: usize,
    /// What a receiver's words about a refusal must never show: the URL's
    /// path and query, its password, a key sent in the body.
    secrets: Arc<Vec<SecretString>>,
}

impl HttpPost {
    pub fn new(url: SecretString) -> HttpPost {
        let secrets = Arc::new(secrets_of(url.expose_secret()));
        let (url, authorization) = split_credentials(url.expose_secret());
        HttpPost {
            url,
            authorization,
            pool: None,
            window: 1,
            secrets,
        }
    }

    /// One more secret the answers' words must not show (a key the sink
    /// sends in the body).
    pub fn hiding(mut self, secret: &SecretString) -> HttpPost {
        let mut secrets = self.secrets.as_ref().clone();
        secrets.push(secret.clone());
        self.secrets = Arc::new(secrets);
        self
    }

    /// Up to `window` requests in flight at once, each on its own
    /// keep-alive connection (HTTP/1.1 answers one request at a time).
    pub fn pipelined(self, window: usize) -> HttpPost {
        HttpPost { window, ..self }
    }

    fn pool(&mut self, uri: &Uri) -> Result<&Pool, String> {
        if self.pool.is_none() {
            let mut tcp = HttpConnector::new();
            tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
            tcp.set_nodelay(true);
            let builder = Client::builder(TokioExecutor::new());
            self.pool = Some(if uri.scheme_str() == Some("https") {
                tcp.enforce_http(false);
                let config = tls_config()?;
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_only()
                    .enable_http1()
                    .wrap_connector(tcp);
                Pool::Tls(builder.build(https))
            } else {
                Pool::Plain(builder.build(tcp))
            });
        }
        Ok(self.pool.as_ref().expect("set above"))
    }

    pub(super) async fn post(&mut self, message: &Message) -> Attempt {
        match self.begin(message) {
            Started::Done(attempt) => attempt,
            Started::Waiting(answer) => answer.await,
        }
    }

    /// The request, made and handed to the pool; the answer comes later.
    fn begin(&mut self, message: &Message) -> Started {
        let done = Started::Done;
        let uri: Uri = match self.url.expose_secret().parse() {
            Ok(uri) => uri,
            Err(_) => return done(Attempt::Rejected("the URL is malformed".into())),
        };
        let mut request =
            Request::post(uri.clone()).header(header::CONTENT_TYPE, "application/json");
        for (name, value) in &message.headers {
            request = request.header(*name, value);
        }
        if let Some(authorization) = &self.authorization {
            let Ok(mut value) = HeaderValue::from_str(authorization.expose_secret()) else {
                return done(Attempt::Rejected(
                    "the URL's user or password is not valid text".into(),
                ));
            };
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = match request.body(Full::new(message.body.clone())) {
            Ok(request) => request,
            Err(e) => return done(Attempt::Rejected(format!("cannot build the request: {e}"))),
        };
        let pool = match self.pool(&uri) {
            Ok(pool) => pool.clone(),
            Err(reason) => {
                return done(Attempt::Retry {
                    reason,
                    after: None,
                });
            }
        };
        Started::Waiting(Box::pin(answer(pool, request, self.secrets.clone())))
    }
}

/// Sends the request and judges the answer.
async fn answer(
    pool: Pool,
    request: Request<Full<Bytes>>,
    secrets: Arc<Vec<SecretString>>,
) -> Attempt {
    let answer = match pool {
        Pool::Plain(client) => client.request(request).await,
        Pool::Tls(client) => client.request(request).await,
    };
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            let mut reason = error_chain(&e);
            if reason.contains("invalid peer certificate") {
                // Most often a private CA: say how to trust it, TLS stays on.
                reason.push_str(
                    " (the sink's certificate is not trusted by this system: \
                     add its CA to the system's roots, or name a PEM file in SSL_CERT_FILE)",
                );
            }
            return Attempt::Retry {
                reason,
                after: None,
            };
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, SystemTime::now()));
    // Read the body to the end so the connection can be used again.
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let retry_after = retry_after.or_else(|| match status {
        StatusCode::TOO_MANY_REQUESTS => retry_after_in_body(&body),
        _ => None,
    });
    match judge(status, retry_after) {
        // A refusal for good: the receiver's own words say why (PagerDuty's
        // "Event object is invalid", Slack's `invalid_payload`).
        Attempt::Rejected(reason) => match said_in_body(&body, &secrets) {
            Some(said) => Attempt::Rejected(format!("{reason}: {said}")),
            None => Attempt::Rejected(reason),
        },
        attempt => attempt,
    }
}

impl Transport for HttpPost {
    fn send<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Attempt> {
        Box::pin(self.post(message))
    }

    fn window(&self) -> usize {
        self.window
    }

    fn start<'a>(&'a mut self, message: &'a Message) -> BoxFuture<'a, Started> {
        Box::pin(std::future::ready(self.begin(message)))
    }
}

/// TLS for a sink (https, kafka+ssl): the system's roots (or
/// `SSL_CERT_FILE`'s), verified; loaded at a sink's first attempt only.
pub fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    Ok(
        rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(config)
            .map_err(|e| format!("cannot load the system's trusted certificates: {e}"))?
            .with_no_client_auth(),
    )
}

/// What to say at start about `SSL_CERT_FILE`, which replaces the system's
/// roots: naming a file that is not there, it would fail every https
/// delivery, and the user would hear only at the first one.
pub fn ca_file_warning() -> Option<String> {
    let path = std::path::PathBuf::from(std::env::var_os("SSL_CERT_FILE")?);
    let what = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => return None,
        Ok(_) => "which is not a file",
        Err(_) if path.as_os_str().is_empty() => return None,
        Err(_) => "which does not exist",
    };
    Some(format!(
        "SSL_CERT_FILE names {}, {what}: https sinks cannot verify any certificate; \
         name a PEM file of CAs there, or unset it to use the system's",
        path.display()
    ))
}

/// `scheme://user:pass@host/...`: the URL without the credentials, and the
/// `Authorization: Basic` value they make (percent-decoded, as curl sends
/// them; a user without `:` has an empty password).
fn split_credentials(url: &str) -> (SecretString, Option<SecretString>) {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return (SecretString::from(url), None);
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else {
        return (SecretString::from(url), None);
    };
    let userinfo = &url[start..at];
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut pair: Vec<u8> = percent_encoding::percent_decode_str(user).collect();
    pair.push(b':');
    pair.extend(percent_encoding::percent_decode_str(password));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    let bare = format!("{}{}", &url[..start], &url[at + 1..]);
    (SecretString::from(bare), Some(SecretString::from(value)))
}

/// 2xx delivered; 408, 429 and 5xx retried; any other answer is final.
fn judge(status: StatusCode, retry_after: Option<Duration>) -> Attempt {
    let reason = status.to_string();
    match status.as_u16() {
        200..=299 => Attempt::Delivered,
        408 | 429 | 500..=599 => Attempt::Retry {
            reason: format!("HTTP {reason}"),
            after: retry_after,
        },
        _ => Attempt::Rejected(format!("HTTP {reason}")),
    }
}

/// The longest account of a refusal told from a receiver's answer.
const SAID_AT_MOST: usize = 300;

/// Why a receiver refused, in its own words: a JSON body's `message`,
/// `error` (or `error.message`) and `errors`, or a short line of plain text;
/// never a page of HTML. Whatever of the sink's secrets it echoes is hidden.
fn said_in_body(body: &[u8], secrets: &[SecretString]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let said = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => {
            let mut parts: Vec<String> = Vec::new();
            let mut take = |value: &serde_json::Value| match value {
                serde_json::Value::String(s) if !s.trim().is_empty() => {
                    parts.push(s.trim().to_string())
                }
                serde_json::Value::Array(items) => parts.extend(
                    items
                        .iter()
                        .filter_map(|item| item.as_str())
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty()),
                ),
                serde_json::Value::Object(inner) => {
                    if let Some(s) = inner.get("message").and_then(|m| m.as_str()) {
                        parts.push(s.trim().to_string());
                    }
                }
                _ => {}
            };
            for key in ["message", "error", "errors"] {
                if let Some(value) = json.get(key) {
                    take(value);
                }
            }
            parts.join("; ")
        }
        Err(_) if text.starts_with('<') || text.contains('\n') => return None,
        Err(_) => text.to_string(),
    };
    let mut said: String = said.chars().filter(|c| !c.is_control()).collect();
    for secret in secrets {
        let secret = secret.expose_secret();
        if !secret.is_empty() {
            said = said.replace(secret, "…");
        }
    }
    if said.is_empty() {
        return None;
    }
    if said.chars().count() > SAID_AT_MOST {
        said = said.chars().take(SAID_AT_MOST).collect::<String>() + "…";
    }
    Some(said)
}

/// The parts of a sink's URL that are secret: its path and query (a Slack
/// or Discord hook's token, a key in the query) piece by piece, its
/// password. The scheme and host are not.
fn secrets_of(url: &str) -> Vec<SecretString> {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return vec![SecretString::from(url)];
    };
    let rest = &url[start..];
    let (authority, tail) = rest
        .find(['/', '?', '#'])
        .map_or((rest, ""), |i| rest.split_at(i));
    let mut secrets = Vec::new();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        secrets.push(userinfo.to_string());
        if let Some((_, password)) = userinfo.split_once(':') {
            secrets.push(password.to_string());
        }
    }
    if tail.len() > 1 {
        secrets.push(tail.to_string());
    }
    // Each piece of the path and each query value long enough to be a
    // token: a receiver may echo one alone.
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let query = query.split('#').next().unwrap_or("");
    if path.len() > 1 {
        secrets.push(path.to_string());
    }
    let values = query
        .split('&')
        .map(|pair| pair.split_once('=').map_or(pair, |(_, value)| value));
    secrets.extend(
        path.split('/')
            .chain(values)
            .filter(|piece| piece.len() >= 8)
            .map(str::to_string),
    );
    // The longest first, so a piece inside a longer one is not left half.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets.into_iter().map(SecretString::from).collect()
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A 429 without `Retry-After` whose JSON body says `retry_after`, in
/// seconds (Discord's, which may be fractional).
fn retry_after_in_body(body: &[u8]) -> Option<Duration> {
    let body: serde_json::Value = serde_json::from_slice(body).ok()?;
    let seconds = body["retry_after"].as_f64()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// The error and its causes (`client error (Connect): tcp connect error:
/// Connection refused`); hyper's errors do not carry the URL.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_answers_are_retried() {
        for (code, retried) in [
            (408, true),
            (429, true),
            (500, true),
            (503, true),
            (400, false),
            (401, false),
            (404, false),
            (410, false),
            (301, false),
        ] {
            let attempt = judge(StatusCode::from_u16(code).unwrap(), None);
            match attempt {
                Attempt::Retry { .. } => assert!(retried, "{code}"),
                Attempt::Rejected(_) => assert!(!retried, "{code}"),
                Attempt::Delivered => panic!("{code} delivered"),
            }
        }
        assert!(matches!(
            judge(StatusCode::ACCEPTED, None),
            Attempt::Delivered
        ));
    }

    #[test]
    fn user_and_password_become_basic_auth_and_leave_the_url() {
        let split = |url: &str| {
            let (url, auth) = split_credentials(url);
            (
                url.expose_secret().to_string(),
                auth.map(|a| a.expose_secret().to_string()),
            )
        };
        assert_eq!(
            split("https://u:p@h:8443/a@b?c=@"),
            (
                "https://h:8443/a@b?c=@".to_string(),
                Some("Basic dTpw".to_string())
            )
        );
        // base64("u@x:p:q"), from percent-encoded parts.
        assert_eq!(
            split("http://u%40x:p%3Aq@h/").1.as_deref(),
            Some("Basic dUB4OnA6cQ==")
        );
        assert_eq!(
            split("http://token@h/").1.as_deref(),
            Some("Basic dG9rZW46")
        );
        assert_eq!(split("http://h/p@q"), ("http://h/p@q".to_string(), None));
    }

    #[test]
    fn a_refusal_is_told_in_the_receivers_words_without_the_sinks_secrets() {
        let secrets = secrets_of(
            "https://u:pa55word@hooks.example.com/services/T0001/B0002/XyZsecretToken?key=AbCdEfGh12&x=1",
        );
        let said = |body: &str| said_in_body(body.as_bytes(), &secrets);
        assert_eq!(
            said(r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#).as_deref(),
            Some("Event object is invalid; Length of 'routing_key' is incorrect (should be 32 characters)")
        );
        assert_eq!(said("invalid_payload").as_deref(), Some("invalid_payload"));
        assert_eq!(
            said(r#"{"error": {"message": "bad field"}}"#).as_deref(),
            Some("bad field")
        );
        assert_eq!(
            said("<html><body>400</body></html>"),
            None,
            "no page of HTML"
        );
        assert_eq!(said("line one\nline two"), None);
        assert_eq!(said(r#"{"ok": false}"#), None);
        assert_eq!(said(""), None);
        let echoed = said(r#"{"message":"no hook XyZsecretToken at /services/T0001/B0002/XyZsecretToken for pa55word, key AbCdEfGh12"}"#).unwrap();
        for secret in ["XyZsecretToken", "T0001/B0002", "pa55word", "AbCdEfGh12"] {
            assert!(!echoed.contains(secret), "{echoed}");
        }
        assert!(said(&"x".repeat(1000)).unwrap().chars().count() <= SAID_AT_MOST + 1);
        let keyed = secrets_of("https://example.com/hook?access_token=0123456789abcdef");
        let said = said_in_body(b"access_token 0123456789abcdef is unknown", &keyed).unwrap();
        assert_eq!(said, "access_token … is unknown", "a query's names stay");
    }

    #[test]
    fn a_429_body_may_say_retry_after_in_seconds() {
        assert_eq!(
            retry_after_in_body(br#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(retry_after_in_body(b"{}"), None);
        assert_eq!(retry_after_in_body(b"not json"), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
