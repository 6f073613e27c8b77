//! Fault injection, as a client sees it on the wire: watch streams that end
//! early, 410 Expired, failing requests, stalls, restarts, bookmarks and
//! ERROR events on demand.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testserver::{Crd, TestServer};

use crate::common::{Client, Stream, reference, wait_until};

const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

fn server() -> (TestServer, Client) {
    let server = TestServer::start();
    server.add_crd(Crd::widget());
    // Periodic bookmarks would only get in the way of exact expectations.
    server.set_bookmark_interval(Duration::from_secs(3600));
    let client = Client::new(&server.url(), Some(TestServer::ADMIN_TOKEN));
    (server, client)
}

fn create(server: &TestServer, name: &str) -> Value {
    server.create(
        "widgets.example.com",
        Some("default"),
        json!({"metadata": {"name": name}, "spec": {"size": 1}}),
    )
}

/// A watch from the current resourceVersion, registered before returning.
fn watch_now(server: &TestServer, client: &Client, extra: &str) -> Stream {
    let before = server.open_watches();
    let rv = server.resource_version();
    let s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={rv}{extra}"));
    wait_until("the watch to be registered", || {
        server.open_watches() > before
    });
    s
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn watches_end_after_n_events() {
    let (server, client) = server();
    // An open stream counts from the call on.
    let open = watch_now(&server, &client, "");
    server.close_watches_after_events(Some(2));
    for name in ["a", "b", "c"] {
        create(&server, name);
    }
    let events = open.collect();
    assert_eq!(types(&events), ["ADDED", "ADDED"]);
    assert_eq!(events[1]["object"]["metadata"]["name"], "b");
    wait_until("the stream to be gone", || server.open_watches() == 0);

    // A new stream counts its initial ADDED events too.
    let s = client.watch(&format!("{WIDGETS}?watch=1"));
    let events = s.collect();
    assert_eq!(types(&events), ["ADDED", "ADDED"]);

    // Some(0) ends open streams at once.
    server.close_watches_after_events(None);
    let mut open = watch_now(&server, &client, "");
    server.close_watches_after_events(Some(0));
    assert!(matches!(open.try_next(), Ok(None)), "a clean end");

    // None: streams run normally again.
    server.close_watches_after_events(None);
    let mut s = watch_now(&server, &client, "");
    for name in ["d", "e", "f"] {
        create(&server, name);
    }
    for name in ["d", "e", "f"] {
        assert_eq!(s.next().unwrap()["object"]["metadata"]["name"], name);
    }
}

#[test]
fn watches_end_after_a_time() {
    let (server, client) = server();
    server.close_watches_after(Some(Duration::from_millis(300)));
    let start = Instant::now();
    let s = client.watch(&format!("{WIDGETS}?watch=1&allowWatchBookmarks=true"));
    let events = s.collect();
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The last bookmark of a timeout, as the apiserver sends it.
    assert_eq!(types(&events), ["BOOKMARK"]);

    server.clear_faults();
    let mut s = client.watch(&format!("{WIDGETS}?watch=1"));
    assert!(
        s.next_within(Duration::from_millis(500)).is_err(),
        "no early end without the fault"
    );
}

fn assert_expired(events: &[Value], requested: &str) {
    assert_eq!(events.len(), 1, "{events:?}");
    let ev = &events[0];
    assert_eq!(ev["type"], "ERROR");
    let o = &ev["object"];
    // The reference answer's shape (err-410-watch-too-old.jsonl).
    let reference: Value =
        serde_json::from_str(reference("err-410-watch-too-old.jsonl").trim()).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(o), keys(&reference["object"]));
    assert_eq!(o["code"], 410);
    assert_eq!(o["reason"], "Expired");
    assert_eq!(o["status"], "Failure");
    let message = o["message"].as_str().unwrap();
    let prefix = format!("too old resource version: {requested} (");
    assert!(
        message.starts_with(&prefix) && message.ends_with(')'),
        "{message}"
    );
}

#[test]
fn next_watches_expire_then_work_again() {
    let (server, client) = server();
    let w = create(&server, "a");
    let rv = w["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    server.expire_next_watches(2);
    for _ in 0..2 {
        let s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={rv}"));
        assert_eq!(s.status, 200);
        assert_expired(&s.collect(), &rv);
    }
    assert_eq!(server.open_watches(), 0);
    // The third watch is normal: nothing was really compacted.
    let mut s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={rv}"));
    create(&server, "b");
    assert_eq!(s.next().unwrap()["object"]["metadata"]["name"], "b");
}

#[test]
fn compaction_expires_older_resource_versions() {
    let (server, client) = server();
    let old = create(&server, "a")["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    create(&server, "b");
    let mut open = watch_now(&server, &client, "");
    server.compact();
    // Open watches go on.
    create(&server, "c");
    assert_eq!(open.next().unwrap()["object"]["metadata"]["name"], "c");
    // Watching from before the compaction: 410.
    let s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={old}"));
    assert_expired(&s.collect(), &old);
    // An exact list from before it too.
    let r = client.get(&format!(
        "{WIDGETS}?resourceVersion={old}&resourceVersionMatch=Exact"
    ));
    assert_eq!(r.status, 410);
    // From now on all is well.
    let now = server.resource_version();
    let mut s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={now}"));
    create(&server, "d");
    assert_eq!(s.next().unwrap()["object"]["metadata"]["name"], "d");
}

#[test]
fn next_requests_fail_with_retry_after() {
    let (server, client) = server();
    create(&server, "a");
    server.fail_next_requests(2, 503, Some(2));
    // Discovery and /version are not object requests and do not count.
    assert_eq!(client.get("/apis").status, 200);
    assert_eq!(client.get("/version").status, 200);
    // A bad token is refused first, and does not count either.
    let stranger = Client::new(&server.url(), Some("nope"));
    assert_eq!(stranger.get(WIDGETS).status, 401);
    for path in [format!("{WIDGETS}/a"), format!("{WIDGETS}?watch=1")] {
        let r = client.get(&path);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.header("Retry-After"), Some("2"));
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(
            r.json(),
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server is currently unable to handle the request",
                "reason": "ServiceUnavailable", "details": {"retryAfterSeconds": 2},
                "code": 503
            })
        );
    }
    assert_eq!(client.get(&format!("{WIDGETS}/a")).status, 200);

    server.fail_next_requests(1, 429, Some(1));
    let r = client.post(WIDGETS, &json!({"metadata": {"name": "b"}}));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.json()["reason"], "TooManyRequests");
    assert!(
        server
            .get("widgets.example.com", Some("default"), "b")
            .is_none()
    );
    assert_eq!(
        client
            .post(WIDGETS, &json!({"metadata": {"name": "b"}}))
            .status,
        201
    );

    server.fail_next_requests(1, 500, None);
    let r = client.get(WIDGETS);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("Retry-After"), None);
    assert_eq!(r.json()["reason"], "InternalError");
    assert_eq!(
        r.json()["message"],
        "Internal error occurred: injected fault"
    );
    assert_eq!(client.get(WIDGETS).status, 200);

    server.fail_next_requests(5, 503, None);
    server.clear_faults();
    assert_eq!(client.get(WIDGETS).status, 200);
    let failed: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(failed.iter().filter(|s| **s == 503).count(), 2);
}

#[test]
fn stalled_streams_send_nothing_then_catch_up() {
    let (server, client) = server();
    let mut open = watch_now(&server, &client, "&allowWatchBookmarks=true");
    server.stall_watches(true);
    create(&server, "a");
    server.send_bookmark();
    let silent = open.next_within(Duration::from_millis(700));
    assert!(
        matches!(&silent, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "{silent:?}"
    );
    // A new watch is accepted, but its body stays silent too.
    let mut fresh = client.watch(&format!("{WIDGETS}?watch=1"));
    assert_eq!(fresh.status, 200);
    assert!(fresh.next_within(Duration::from_millis(300)).is_err());
    assert_eq!(server.open_watches(), 2);

    // Nothing was lost: the held-back events come, in order.
    create(&server, "b");
    server.stall_watches(false);
    let ev = open.next().unwrap();
    assert_eq!(
        (
            ev["type"].as_str(),
            ev["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("a"))
    );
    assert_eq!(open.next().unwrap()["type"], "BOOKMARK");
    assert_eq!(open.next().unwrap()["object"]["metadata"]["name"], "b");
    let names: Vec<Value> = (0..2)
        .map(|_| fresh.next().unwrap()["object"]["metadata"]["name"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("b")]);
}

#[test]
fn restart_refuses_connections_then_serves_the_same_state() {
    let (server, client) = server();
    let w = create(&server, "a");
    let rv_before = server.resource_version();
    let mut open = watch_now(&server, &client, "");
    let start = Instant::now();
    server.restart(Duration::from_millis(1500));
    // The open watch ends abruptly, and nothing is open any more.
    assert!(open.ended());
    assert_eq!(server.open_watches(), 0);
    // Connections are refused during the window.
    let err = TcpStream::connect(client.addr()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    // Then the same port answers again.
    wait_until("the server to listen again", || {
        TcpStream::connect(client.addr()).is_ok()
    });
    assert!(
        start.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        start.elapsed()
    );
    let r = client.get(&format!("{WIDGETS}/a"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), w, "same object, same resourceVersion");
    assert_eq!(server.resource_version(), rv_before);
    // A watch resumes from before the restart.
    let mut s = client.watch(&format!("{WIDGETS}?watch=1&resourceVersion={rv_before}"));
    create(&server, "b");
    assert_eq!(s.next().unwrap()["object"]["metadata"]["name"], "b");
}

#[test]
fn bookmark_and_error_events_on_demand() {
    let (server, client) = server();
    let mut with = watch_now(&server, &client, "&allowWatchBookmarks=true");
    let mut without = watch_now(&server, &client, "");
    assert_eq!(server.open_watches(), 2);
    create(&server, "a");
    server.send_bookmark();
    server.send_error_event(500, "etcd is on fire");

    assert_eq!(with.next().unwrap()["type"], "ADDED");
    let bookmark = with.next().unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        server.resource_version().to_string()
    );
    assert_eq!(bookmark["object"]["kind"], "Widget");

    assert_eq!(without.next().unwrap()["type"], "ADDED");
    for s in [&mut with, &mut without] {
        let err = s.next().unwrap();
        assert_eq!(err["type"], "ERROR");
        assert_eq!(
            err["object"],
            json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Internal error occurred: etcd is on fire", "reason": "InternalError",
                "details": {"causes": [{"message": "etcd is on fire"}]}, "code": 500
            })
        );
        assert!(matches!(s.try_next(), Ok(None)), "the stream ends cleanly");
    }
    wait_until("the streams to be gone", || server.open_watches() == 0);

    // A 410 ERROR event reads as the apiserver's Expired.
    let s = watch_now(&server, &client, "");
    server.send_error_event(410, "too old resource version: 1 (5)");
    let events = s.collect();
    assert_eq!(events[0]["object"]["reason"], "Expired");
    assert_eq!(events[0]["object"]["code"], 410);
}
