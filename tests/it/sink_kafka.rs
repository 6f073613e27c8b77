//! The `kafka:` sink (SPEC §11) against a real Kafka-protocol broker, tansu,
//! read back with Kafka's reference client, librdkafka (PyPI's
//! confluent-kafka, through `tests/data/kafka_reader.py`): keys, values,
//! CloudEvents headers, order per key, and nothing lost across a restart.

use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;
use crate::tansu::{Kept, Tansu};

const LONG: Duration = Duration::from_secs(60);

/// `kubectl notify widgets --all ARGS` with `$KAFKA` = `url`, watching when
/// this returns.
fn notify_kafka(s: &Scenario, url: &str, args: &[&str]) -> Child {
    let mut all = vec!["widgets", "--all"];
    all.extend_from_slice(args);
    let mut child = s.notify(&all).env("KAFKA", url).spawn().unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    child
}

/// Each object's records in the order they were stored, by key; asserts
/// that all of one key went to one partition.
fn by_key(records: &[Kept]) -> std::collections::BTreeMap<String, Vec<&Kept>> {
    let mut keys: std::collections::BTreeMap<String, Vec<&Kept>> = Default::default();
    for record in records {
        keys.entry(record.key.clone()).or_default().push(record);
    }
    for (key, records) in &keys {
        assert!(
            records.iter().all(|r| r.partition == records[0].partition),
            "{key} spread over partitions: {records:?}"
        );
    }
    keys
}

#[test]
fn each_change_is_a_record_keyed_by_uid_with_cloudevents_headers_in_order_per_object() {
    let tansu = Tansu::start();
    tansu.create_topic("widgets", 3);
    let s = Scenario::new();
    let child = notify_kafka(
        &s,
        &format!("kafka://{}/widgets", tansu.bootstrap()),
        &["--sink", "kafka:env:KAFKA", "--count", "7", "-o", "json"],
    );
    let foo = s.widget("foo", json!({}), json!(null));
    let bar = s.widget("bar", json!({}), json!(null));
    s.set_status("foo", json!({"n": 1}));
    s.set_status("bar", json!({"n": 1}));
    s.set_status("foo", json!({"n": 2}));
    s.set_status("bar", json!({"n": 2}));
    s.server.delete(WIDGETS, Some("default"), "foo");
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let printed = stdout(&out);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 7, "{lines:?}");

    let records = tansu.read("widgets", 7, 20);
    assert_eq!(records.len(), 7, "{records:#?}");
    // The value is the -o json line, byte for byte.
    let mut values: Vec<&str> = records.iter().map(|r| r.value.as_str()).collect();
    let mut sorted = lines.clone();
    values.sort();
    sorted.sort();
    assert_eq!(values, sorted);

    let keys = by_key(&records);
    let uid = |o: &Value| o["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(keys.keys().cloned().collect::<Vec<_>>(), {
        let mut uids = vec![uid(&foo), uid(&bar)];
        uids.sort();
        uids
    });
    // Per object, the order it changed in (as printed).
    for (key, kept) in &keys {
        let stored: Vec<&str> = kept.iter().map(|r| r.value.as_str()).collect();
        let expected: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| serde_json::from_str::<Value>(l).unwrap()["uid"] == key.as_str())
            .collect();
        assert_eq!(stored, expected, "order of {key}");
    }
    for record in &records {
        let line = record.json();
        let id = match line["type"].as_str().unwrap() {
            "deleted" => format!("{}/deleted", record.key),
            kind => format!(
                "{}/{}/{kind}",
                record.key,
                line["resourceVersion"].as_str().unwrap()
            ),
        };
        assert_eq!(record.header("ce_specversion"), Some("1.0"));
        assert_eq!(record.header("ce_id"), Some(id.as_str()));
        assert_eq!(
            record.header("ce_type"),
            Some(format!("kubectl-notify.{}", line["type"].as_str().unwrap()).as_str())
        );
        assert_eq!(
            record.header("ce_source"),
            Some("/apis/example.com/v1/namespaces/default/widgets")
        );
        assert_eq!(record.header("ce_subject"), line["name"].as_str());
        assert_eq!(record.header("content-type"), Some("application/json"));
        let time = humantime::parse_rfc3339(record.header("ce_time").unwrap()).unwrap();
        let millis = time
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert_eq!(record.timestamp, millis, "the record's time is ce_time");
        assert_eq!(record.headers.len(), 7, "{:?}", record.headers);
    }
}

/// Records read until `count` distinct ids arrived (a re-send after a lost
/// acknowledgement may store one twice: at least once, the same `ce_id`).
fn wait_for_ids(tansu: &Tansu, topic: &str, count: usize) -> Vec<Kept> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let records = tansu.read(topic, usize::MAX >> 1, 2);
        let ids: std::collections::BTreeSet<&str> =
            records.iter().filter_map(|r| r.header("ce_id")).collect();
        if ids.len() >= count {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} ids stored: {records:#?}",
            ids.len()
        );
    }
}

#[test]
fn a_broker_restarted_mid_stream_loses_nothing() {
    let mut tansu = Tansu::start();
    tansu.create_topic("widgets", 2);
    let s = Scenario::new();
    let child = notify_kafka(
        &s,
        &format!("kafka://{}/widgets", tansu.bootstrap()),
        &[
            "--sink",
            "kafka:env:KAFKA",
            "--count",
            "15",
            "-q",
            "--flush-timeout",
            "40s",
        ],
    );
    s.widget("foo", json!({}), json!(null));
    s.widget("bar", json!({}), json!(null));
    for n in 1..=3 {
        s.set_status(if n % 2 == 0 { "bar" } else { "foo" }, json!({"n": n}));
    }
    // Five acknowledged: read back before the broker forgets them.
    let before = wait_for_ids(&tansu, "widgets", 5);
    tansu.stop();
    for n in 4..=8 {
        s.set_status(if n % 2 == 0 { "bar" } else { "foo" }, json!({"n": n}));
    }
    // Down for a while: the sink's retries say so.
    std::thread::sleep(Duration::from_secs(3));
    // Memory storage: the topic is gone with the broker, so make it again.
    tansu.restart();
    tansu.create_topic("widgets", 2);
    for n in 9..=12 {
        s.set_status(if n % 2 == 0 { "bar" } else { "foo" }, json!({"n": n}));
    }
    s.server.delete(WIDGETS, Some("default"), "foo");
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: kafka sink #1:"), "{err}");
    assert!(err.contains("retrying"), "{err}");
    assert!(!err.contains("not delivered"), "{err}");
    assert!(!err.contains(&tansu.port.to_string()), "{err}");
    let after = wait_for_ids(&tansu, "widgets", 10);

    // Every notification was acknowledged by one broker or the other, in
    // order per object (a re-send may repeat one: its first place counts).
    let mut stored = before.clone();
    stored.extend(after);
    let mut seen = std::collections::BTreeSet::new();
    let first: Vec<&Kept> = stored
        .iter()
        .filter(|r| seen.insert(r.header("ce_id").unwrap().to_string()))
        .collect();
    assert_eq!(first.len(), 15, "{first:#?}");
    for (key, kept) in by_key(&first.iter().map(|r| (*r).clone()).collect::<Vec<_>>()) {
        let versions: Vec<u64> = kept
            .iter()
            .filter(|r| r.json()["type"] != "deleted")
            .map(|r| {
                r.json()["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "{key}: out of order {versions:?}"
        );
    }
    let ns: Vec<u64> = first
        .iter()
        .filter_map(|r| r.json()["object"]["status"]["n"].as_u64())
        .collect();
    for n in 1..=12 {
        assert!(ns.contains(&n), "change {n} lost: {ns:?}");
    }
}

#[test]
fn a_login_in_a_kafka_url_on_the_command_line_is_refused_and_never_echoed() {
    let s = Scenario::new();
    for (args, words) in [
        (
            &["--sink", "kafka:kafka://bob:s3cr3t@127.0.0.1:9092/widgets"][..],
            "give kafka:env:NAME or kafka:file:PATH",
        ),
        (
            &["--sink", "kafka:kafka://127.0.0.1:9092"],
            "the Kafka URL names no topic",
        ),
        (
            &["--sink", "kafka:kafka://127.0.0.1:9092/s3cr3t*"],
            "the Kafka topic may not contain '*'",
        ),
        (
            &["--sink", "kafka:http://127.0.0.1:9092/s3cr3t"],
            "kafka://HOST:PORT[,HOST:PORT...]/TOPIC",
        ),
    ] {
        let mut argv = vec!["widgets/foo"];
        argv.extend_from_slice(args);
        let out = s.run(&argv);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            !err.contains("s3cr3t") && !err.contains("bob"),
            "{args:?}: {err}"
        );
    }
    assert!(s.server.requests().is_empty(), "connected before refusing");
}

#[test]
fn print_manifests_reads_a_kafka_url_from_a_secret() {
    let s = Scenario::new();
    let out = s.run(&[
        "wg",
        "-A",
        "--sink",
        "kafka:env:KAFKA_URL",
        "--name",
        "events",
        "--print-manifests",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("kubectl create secret generic events-sinks -n default"),
        "{text}"
    );
    assert!(text.contains("--from-file=KAFKA_URL=./KAFKA_URL"), "{text}");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "KAFKA_URL",
            "valueFrom": {"secretKeyRef": {"name": "events-sinks", "key": "KAFKA_URL"}}})),
        "{container}"
    );
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.windows(2)
            .any(|w| w == ["--sink", "kafka:env:KAFKA_URL"]),
        "{args:?}"
    );
    // A file of this machine is not in the pod; a literal URL would be
    // written into the manifests.
    for (sink, words) in [
        ("kafka:file:/etc/kafka-url", "not in the pod"),
        ("kafka:kafka://k1:9092/s3cr3t", "kafka:env:NAME"),
    ] {
        let out = s.run(&["wg", "--all", "--sink", sink, "--print-manifests"]);
        assert_eq!(code(&out), 2, "{sink}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{sink}: {}", stderr(&out));
        assert!(!stderr(&out).contains("s3cr3t"), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn kafka_over_tls_verifies_the_broker_against_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let tansu = Tansu::start_tls(&ca);
    tansu.create_topic("widgets", 1);
    let s = Scenario::new();
    let url = format!("kafka+ssl://{}/widgets", tansu.bootstrap());
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--sink",
            "kafka:env:KAFKA",
            "--count",
            "1",
            "-q",
        ])
        .env("KAFKA", &url)
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR")
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("widgets", &mut child);
    s.widget("foo", json!({}), json!(null));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let records = tansu.read("widgets", 1, 20);
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].json()["name"], "foo");

    // Not trusted (the system's roots only): retried, never delivered.
    let before = s.server.requests().len();
    let mut child = s
        .notify(&[
            "widgets",
            "--all",
            "--sink",
            "kafka:env:KAFKA",
            "--count",
            "1",
            "-q",
            "--flush-timeout",
            "2s",
        ])
        .env("KAFKA", &url)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "widgets", &mut child);
    s.set_status("foo", json!({"n": 1}));
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 notification not delivered"), "{err}");
    assert!(err.contains("invalid peer certificate"), "{err}");
    assert_eq!(tansu.read("widgets", 2, 3).len(), 1);
}

/// A resolution by deletion (`--resolve`) goes under the key its firing
/// had, the object's UID, so it follows the firing in its partition, with
/// `ce_type` saying resolved and an id of its own.
#[test]
fn a_resolution_by_deletion_keeps_the_key_of_its_firing_and_says_resolved() {
    let tansu = Tansu::start();
    tansu.create_topic("alerts", 3);
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"phase": "Running"}));
    let child = notify_kafka(
        &s,
        &format!("kafka://{}/alerts", tansu.bootstrap()),
        &[
            "--when",
            ".status.phase == \"Failed\"",
            "--resolve",
            "--sink",
            "kafka:env:KAFKA",
            "--count",
            "2",
            "-q",
        ],
    );
    let fired = s.set_status("foo", json!({"phase": "Failed"}));
    s.server.delete(WIDGETS, Some("default"), "foo");
    let out = finish(child, LONG);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records = tansu.read("alerts", 2, 20);
    let uid = fired["metadata"]["uid"].as_str().unwrap();
    let keys = by_key(&records);
    let kept = &keys[uid];
    assert_eq!(kept.len(), 2, "{records:#?}");
    assert_eq!(kept[0].header("ce_type"), Some("kubectl-notify.modified"));
    assert_eq!(kept[1].header("ce_type"), Some("kubectl-notify.resolved"));
    assert_eq!(
        kept[1].header("ce_id"),
        Some(format!("{uid}/resolved").as_str())
    );
    assert_eq!(kept[1].header("ce_subject"), Some("foo"));
    assert_eq!(kept[1].json()["type"], "resolved");
}
