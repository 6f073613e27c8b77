//! `--sink TYPE:TARGET` read into where a sink delivers, checked before any
//! connection. Sink URLs are secrets: they are kept behind `SecretString`
//! and no message here (or anywhere) repeats them; only the type and host.

use secrecy::{ExposeSecret, SecretString};

/// The kinds of sink `--sink` accepts, as the user spells them.
pub const KINDS: &str = "webhook, cloudevents, slack, nats, kafka, alertmanager, pagerduty, \
                         teams, discord, googlechat, mattermost";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Webhook,
    CloudEvents,
    Slack,
    Nats,
    Kafka,
    Alertmanager,
    PagerDuty,
    Teams,
    Discord,
    GoogleChat,
    Mattermost,
}

impl SinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::CloudEvents => "cloudevents",
            SinkKind::Slack => "slack",
            SinkKind::Nats => "nats",
            SinkKind::Kafka => "kafka",
            SinkKind::Alertmanager => "alertmanager",
            SinkKind::PagerDuty => "pagerduty",
            SinkKind::Teams => "teams",
            SinkKind::Discord => "discord",
            SinkKind::GoogleChat => "googlechat",
            SinkKind::Mattermost => "mattermost",
        }
    }

    /// Every kind, as `--sink` spells it.
    const ALL: [SinkKind; 11] = [
        SinkKind::Webhook,
        SinkKind::CloudEvents,
        SinkKind::Slack,
        SinkKind::Nats,
        SinkKind::Kafka,
        SinkKind::Alertmanager,
        SinkKind::PagerDuty,
        SinkKind::Teams,
        SinkKind::Discord,
        SinkKind::GoogleChat,
        SinkKind::Mattermost,
    ];

    /// A chat: its message is the text of `--message`.
    pub fn is_chat(self) -> bool {
        matches!(
            self,
            SinkKind::Slack
                | SinkKind::Teams
                | SinkKind::Discord
                | SinkKind::GoogleChat
                | SinkKind::Mattermost
        )
    }
}

/// One validated `--sink`.
#[derive(Debug)]
pub struct SinkSpec {
    pub kind: SinkKind,
    /// The whole URL as given (http(s)://… or nats://…/SUBJECT).
    pub url: SecretString,
    /// The host, the most of the URL any output may show (`-vv`).
    pub host: String,
    /// For NATS: the subject published to (the URL's path).
    pub subject: Option<String>,
    /// 1-based, in the order given: how messages name the sink.
    pub number: usize,
}

impl SinkSpec {
    /// `webhook sink #1`, with `(host H)` at `-vv`.
    pub fn label(&self, verbose: bool) -> String {
        let mut label = format!("{} sink #{}", self.kind.as_str(), self.number);
        if verbose {
            label.push_str(&format!(" (host {})", self.host));
        }
        label
    }

    /// What to say at start about this sink, if anything: a secret that
    /// would travel in clear to another machine — plain http:// to a host
    /// that is not a loopback address, for a sink whose URL or request
    /// carries one: a chat's hook URL, PagerDuty's routing key, and a
    /// webhook's, CloudEvents' or Alertmanager's URL when it holds a login
    /// (`user:pass@`) or a query (where tokens ride). It is allowed (relays
    /// and receivers inside a cluster speak http), but the user is told.
    /// Kafka: a SASL PLAIN password over plain kafka://. Only the sink's
    /// type and number are named, never the URL.
    pub fn warning(&self) -> Option<String> {
        let url = self.url.expose_secret();
        let local = is_loopback(&self.host);
        if self.kind == SinkKind::Kafka {
            let clear = super::kafka::password_in_clear(url);
            return (clear && !local).then(|| {
                format!(
                    "warning: {}: SASL PLAIN over plain kafka://, so the password travels \
                     unencrypted (use kafka+ssl://, or ?sasl=scram-sha-512)",
                    self.label(false)
                )
            });
        }
        if !url.starts_with("http://") || local {
            return None;
        }
        let secret = match self.kind {
            kind if kind.is_chat() => "the hook URL",
            SinkKind::PagerDuty => "the routing key",
            SinkKind::Webhook | SinkKind::CloudEvents | SinkKind::Alertmanager
                if carries_credentials(url) =>
            {
                "the login or token in the URL"
            }
            _ => return None,
        };
        Some(format!(
            "warning: {}: plain http:// to another host, so {secret} and the messages travel \
             unencrypted (use https://)",
            self.label(false)
        ))
    }

    /// How `--metrics-addr` names the sink: `slack#1` (type and number).
    pub fn metric_name(&self) -> String {
        format!("{}#{}", self.kind.as_str(), self.number)
    }

    /// The NATS server to connect to, without the subject.
    pub fn nats_server(&self) -> String {
        let url = self.url.expose_secret();
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        match url[after_scheme..].find('/') {
            Some(slash) => url[..after_scheme + slash].to_string(),
            None => url.to_string(),
        }
    }
}

/// A host of this machine, however it is written: `localhost` (also as
/// the absolute name `localhost.`), 127.0.0.0/8 or ::1 (also IPv4-mapped,
/// `[::ffff:127.0.0.1]`), and the short and numeric IPv4 forms the system
/// resolver takes as well (`127.1`, `2130706433`, `0x7f.1`).
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host
        .strip_suffix('.')
        .unwrap_or(host)
        .eq_ignore_ascii_case("localhost")
    {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => ip.to_canonical().is_loopback(),
        Ok(ip) => ip.is_loopback(),
        Err(_) => ipv4_as_resolved(host).is_some_and(|ip| ip.is_loopback()),
    }
}

/// An IPv4 address in the forms the C library's resolver reads besides
/// the dotted quad (`inet_aton`): one to four parts, each decimal, octal
/// (`0` first) or hex (`0x` first), the last filling the bytes left.
fn ipv4_as_resolved(host: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<u32> = host
        .split('.')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let (digits, radix) = match lower.strip_prefix("0x") {
                Some(hex) => (hex.to_string(), 16),
                None if lower.len() > 1 && lower.starts_with('0') => (lower[1..].to_string(), 8),
                None => (lower, 10),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(&digits, radix).ok()
        })
        .collect::<Option<_>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|&part| part > 0xff) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 32 && *last >= 1 << room {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, &part)| acc | part << (24 - 8 * i as u32));
    Some(std::net::Ipv4Addr::from(high | last))
}

/// Whether an http(s) URL holds a login (`user:pass@`) or a query.
fn carries_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@') || rest.contains('?')
}

/// The variable a `--sink TYPE:env:NAME` reads its URL from (no other part
/// of the value, which may be the URL itself).
pub fn env_name(text: &str) -> Option<&str> {
    text.split_once(':')?.1.strip_prefix("env:")
}

/// Reads one `--sink` value; `env` looks a variable up (the process
/// environment in the program, a table in tests).
pub fn parse(
    text: &str,
    number: usize,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SinkSpec, String> {
    let Some((kind, target)) = text.split_once(':') else {
        return Err(format!(
            "--sink needs TYPE:TARGET (TYPE one of {KINDS}; TARGET a URL, env:NAME or file:PATH)"
        ));
    };
    let kind = match SinkKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind.trim())
    {
        Some(kind) => kind,
        None => {
            let other = kind.trim();
            // The type is safe to show; it precedes the first colon.
            return Err(format!(
                "--sink: unknown sink type \"{other}\": use one of {KINDS}"
            ));
        }
    };
    let name = format!("--sink {}", kind.as_str());
    if target.trim().is_empty() {
        return Err(format!(
            "{name}: no TARGET after \"{}:\": give a URL, env:NAME or file:PATH",
            kind.as_str()
        ));
    }
    let url = if let Some(var) = target.strip_prefix("env:") {
        if var.is_empty() {
            return Err(format!("{name}:env: needs a variable name (env:NAME)"));
        }
        match env(var) {
            Some(value) if !value.trim().is_empty() => value,
            Some(_) => return Err(format!("{name}: the environment variable {var} is empty")),
            None => return Err(format!("{name}: the environment variable {var} is not set")),
        }
    } else if let Some(path) = target.strip_prefix("file:") {
        if path.is_empty() {
            return Err(format!("{name}:file: needs a path (file:PATH)"));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{name}: cannot read the file {path}: {}", io_reason(&e)))?;
        if text.trim().is_empty() {
            return Err(format!("{name}: the file {path} is empty"));
        }
        text
    } else {
        if kind == SinkKind::Kafka && super::kafka::has_login(target) {
            // A password in argv is in every process listing.
            return Err(format!(
                "{name}: a user and password in a URL on the command line can be read by \
                 anyone who lists processes; put the URL in an environment variable or a file \
                 and give kafka:env:NAME or kafka:file:PATH"
            ));
        }
        target.to_string()
    };
    let mut url = url.trim().to_string();
    if kind == SinkKind::PagerDuty && !url.contains("://") {
        // A routing key: sent to the public endpoint.
        check_routing_key(&url).map_err(|why| format!("{name}: {why}"))?;
        url = format!("{PAGERDUTY_EVENTS}?routing_key={url}");
    }
    let (host, subject) = check_url(kind, &url).map_err(|why| format!("{name}: {why}"))?;
    if kind == SinkKind::PagerDuty {
        endpoint_routing_key(&url).map_err(|why| format!("{name}: {why}"))?;
    }
    Ok(SinkSpec {
        kind,
        url: SecretString::from(url),
        host,
        subject,
        number,
    })
}

/// PagerDuty's Events API v2: where a routing key alone is sent.
pub const PAGERDUTY_EVENTS: &str = "https://events.pagerduty.com/v2/enqueue";

/// A routing key (an integration key, 32 characters): letters and digits;
/// never quoted back, it is a secret.
fn check_routing_key(key: &str) -> Result<(), String> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(
            "give the routing key (letters and digits), or an http(s) endpoint URL \
                    with ?routing_key=KEY"
                .into(),
        );
    }
    Ok(())
}

/// An endpoint URL's `?routing_key=KEY`: exactly one, and a key as
/// [`check_routing_key`] wants it, as written (no percent-encoding).
fn endpoint_routing_key(url: &str) -> Result<(), String> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    let keys: Vec<&str> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("routing_key="))
        .collect();
    match keys[..] {
        [] => Err("an endpoint URL needs ?routing_key=KEY (or give the routing key alone)".into()),
        [key] if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(()),
        [_] => Err("the URL's routing_key must be the routing key: letters and digits".into()),
        _ => Err("the URL gives routing_key more than once: give it once".into()),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The host, and the subject for NATS; the reasons never quote the URL.
fn check_url(kind: SinkKind, url: &str) -> Result<(String, Option<String>), String> {
    if kind == SinkKind::Kafka {
        // Several brokers in one authority: not a URL `http` reads.
        return super::kafka::Address::parse(url).map(|address| (address.host(), None));
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|_| "the URL is malformed".to_string())?;
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri.host().unwrap_or("").to_string();
    let wanted = match kind {
        SinkKind::Nats => "nats://HOST:PORT/SUBJECT",
        _ => "http:// or https:// and a host",
    };
    if host.is_empty() {
        return Err(format!("the URL has no host: give {wanted}"));
    }
    // `http` reads a port it cannot hold (99999) as no port at all.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let port = authority
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.contains(']') && !port.contains('@'));
    if port.is_some_and(|port| !port.parse::<u16>().is_ok_and(|port| port > 0)) {
        return Err("the URL's port is out of range: give a port from 1 to 65535".into());
    }
    match kind {
        SinkKind::Nats => {
            if scheme != "nats" {
                return Err(format!("the URL must be {wanted}"));
            }
            let subject = uri.path().trim_start_matches('/');
            check_subject(subject)?;
            if uri.query().is_some() {
                return Err("the NATS URL takes no query: give nats://HOST:PORT/SUBJECT".into());
            }
            Ok((host, Some(subject.to_string())))
        }
        _ => {
            if scheme != "http" && scheme != "https" {
                return Err(format!("the URL must start with {wanted}"));
            }
            Ok((host, None))
        }
    }
}

/// A subject to publish to: dot-separated tokens, none empty, no spaces,
/// no wildcards (`*`, `>`), which only subscriptions may use.
fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("the NATS URL names no subject: give nats://HOST:PORT/SUBJECT".into());
    }
    if subject.split('.').any(str::is_empty) {
        return Err("the NATS subject has an empty token (two dots, or a dot at an end)".into());
    }
    if let Some(bad) = subject
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '*' | '>' | '/'))
    {
        return Err(format!(
            "the NATS subject may not contain {bad:?} (wildcards are for subscribers)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<SinkSpec, String> {
        parse(text, 1, |name| {
            (name == "HOOK").then(|| "https://hooks.example.com/T0/B0/s3cr3t\n".to_string())
        })
    }

    #[test]
    fn each_kind_with_a_literal_an_env_or_a_file_target() {
        let spec = read("slack:env:HOOK").unwrap();
        assert_eq!(spec.kind, SinkKind::Slack);
        assert_eq!(spec.host, "hooks.example.com");
        assert_eq!(
            spec.url.expose_secret(),
            "https://hooks.example.com/T0/B0/s3cr3t"
        );
        let nats = read("nats:nats://user:pw@127.0.0.1:4222/k8s.jobs").unwrap();
        assert_eq!(nats.subject.as_deref(), Some("k8s.jobs"));
        assert_eq!(nats.nats_server(), "nats://user:pw@127.0.0.1:4222");
        assert_eq!(nats.label(true), "nats sink #1 (host 127.0.0.1)");
        assert_eq!(nats.label(false), "nats sink #1");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hook-url");
        std::fs::write(&file, "http://10.0.0.1:8080/hook\n").unwrap();
        let spec = read(&format!("webhook:file:{}", file.display())).unwrap();
        assert_eq!(spec.url.expose_secret(), "http://10.0.0.1:8080/hook");
        assert_eq!(
            read("cloudevents:https://events.internal/ingest")
                .unwrap()
                .kind,
            SinkKind::CloudEvents
        );
    }

    #[test]
    fn the_alert_and_chat_sinks_take_urls_and_pagerduty_a_routing_key() {
        for kind in [
            "alertmanager",
            "teams",
            "discord",
            "googlechat",
            "mattermost",
        ] {
            let spec = read(&format!("{kind}:env:HOOK")).unwrap();
            assert_eq!(spec.kind.as_str(), kind);
            assert_eq!(spec.kind.is_chat(), kind != "alertmanager", "{kind}");
        }
        let key = read("pagerduty:R0ut1ngKey0123456789abcdefABCDEF").unwrap();
        assert_eq!(
            key.url.expose_secret(),
            "https://events.pagerduty.com/v2/enqueue?routing_key=R0ut1ngKey0123456789abcdefABCDEF"
        );
        assert_eq!(key.host, "events.pagerduty.com");
        let proxy = read("pagerduty:http://127.0.0.1:8080/v2/enqueue?routing_key=k").unwrap();
        assert_eq!(proxy.host, "127.0.0.1");
    }

    #[test]
    fn slack_over_plain_http_is_allowed_with_a_warning_unless_local() {
        let remote = read("slack:http://relay.internal/hooks/s3cr3t").unwrap();
        let warning = remote.warning().unwrap();
        assert!(
            warning.contains("slack sink #1: plain http://"),
            "{warning}"
        );
        assert!(
            !warning.contains("s3cr3t") && !warning.contains("relay"),
            "{warning}"
        );
        assert_eq!(read("slack:http://127.0.0.1:9/x").unwrap().warning(), None);
        for local in [
            "127.1",
            "127.0.0.2",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "localhost.",
            "LocalHost",
            "2130706433",
            "0x7f.1",
            "0177.0.0.1",
        ] {
            let spec = read(&format!("slack:http://{local}:9/x")).unwrap();
            assert_eq!(spec.warning(), None, "{local}");
        }
        for remote in [
            "128.1",
            "127.1.relay",
            "localhost.relay",
            "[::2]",
            "0x80.1",
            "127.256.0.0.1",
        ] {
            let spec = read(&format!("slack:http://{remote}:9/x")).unwrap();
            assert!(spec.warning().is_some(), "{remote}");
        }
        assert_eq!(read("slack:env:HOOK").unwrap().warning(), None);
        assert_eq!(
            read("webhook:http://relay.internal/x").unwrap().warning(),
            None
        );
    }

    #[test]
    fn a_kafka_login_is_taken_from_env_or_file_only() {
        let env = |name: &str| {
            (name == "KAFKA").then(|| "kafka+ssl://bob:s3cr3t@k1:9093,k2:9093/widgets".to_string())
        };
        let spec = parse("kafka:env:KAFKA", 2, env).unwrap();
        assert_eq!(spec.kind, SinkKind::Kafka);
        assert_eq!(spec.host, "k1");
        assert_eq!(spec.label(true), "kafka sink #2 (host k1)");
        let err = parse("kafka:kafka://bob:s3cr3t@k1:9093/widgets", 1, env).unwrap_err();
        assert!(
            err.contains("give kafka:env:NAME or kafka:file:PATH"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t") && !err.contains("bob"), "{err}");
        let spec = parse("kafka:kafka://k1:9092/widgets", 1, env).unwrap();
        assert_eq!(spec.host, "k1");
        assert_eq!(parse("kafka:env:KAFKA", 2, env).unwrap().warning(), None);
        let clear = |url: &'static str| {
            parse("kafka:env:K", 1, move |_| Some(url.to_string()))
                .unwrap()
                .warning()
        };
        let warning = clear("kafka://bob:s3cr3t@k1:9092/widgets").unwrap();
        assert!(
            warning.contains("kafka sink #1: SASL PLAIN over plain kafka://"),
            "{warning}"
        );
        assert!(
            !warning.contains("s3cr3t") && !warning.contains("k1"),
            "{warning}"
        );
        assert_eq!(clear("kafka://bob:pw@k1/t?sasl=scram-sha-256"), None);
        assert_eq!(clear("kafka://bob:pw@127.0.0.1:9092/t"), None);
        assert_eq!(clear("kafka://k1:9092/t"), None);
        let err = parse("kafka:kafka://k1:9092", 1, env).unwrap_err();
        assert!(
            err.starts_with("--sink kafka: the Kafka URL names no topic"),
            "{err}"
        );
    }

    #[test]
    fn bad_input_is_named_without_the_url() {
        for (text, words) in [
            (
                "msteams:https://x",
                "unknown sink type \"msteams\": use one of webhook",
            ),
            ("webhook", "TYPE:TARGET"),
            ("webhook:env:UNSET", "UNSET is not set"),
            ("webhook:env:", "variable name"),
            (
                "webhook:file:/no/such/file",
                "cannot read the file /no/such/file: no such file",
            ),
            ("webhook:ftp://secret.example/x", "http:// or https://"),
            ("webhook:not a url", "malformed"),
            ("slack:https:///path-secret", "malformed"),
            ("nats:https://h:4222/a", "nats://HOST:PORT/SUBJECT"),
            ("nats:nats://h:4222", "no subject"),
            ("nats:nats://h:4222/a..b", "empty token"),
            ("nats:nats://h:4222/a.*", "wildcards"),
            ("webhook:", "no TARGET after \"webhook:\""),
            ("slack: ", "no TARGET"),
            ("webhook:file:", "needs a path"),
            ("webhook:file:/dev/null", "the file /dev/null is empty"),
            ("pagerduty:not a key secret", "give the routing key"),
            (
                "pagerduty:http://127.0.0.1:9/secret",
                "needs ?routing_key=KEY",
            ),
            ("alertmanager:am.secret:9093", "http:// or https://"),
        ] {
            let err = read(text)
                .err()
                .unwrap_or_else(|| panic!("{text} accepted"));
            assert!(err.contains(words), "{text}: {err}");
            assert!(!err.contains("secret"), "{text}: {err}");
        }
    }
}
