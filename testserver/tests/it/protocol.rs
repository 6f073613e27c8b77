//! The server speaks the Kubernetes API as the reference captures of a real
//! kube-apiserver 1.32 show it: discovery, reads, writes, watches, errors.

use std::time::Duration;

use serde_json::{Value, json};
use testserver::{Crd, Options, Rule, StreamingLists, TestServer};

use crate::common::{AGGREGATED, Client, TABLE, reference, reference_json};

const WIDGETS: &str = "/apis/example.com/v1/namespaces/ref/widgets";

fn server() -> (TestServer, Client) {
    let s = TestServer::start();
    s.add_crd(Crd::widget());
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    (s, c)
}

fn widget(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
           "metadata": {"name": name, "labels": labels}, "spec": {"size": 1}})
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The entry for `resource` in an aggregated discovery document's group/version.
fn aggregated_entry(doc: &Value, group: Option<&str>, resource: &str) -> Value {
    let item = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"].as_str() == group)
        .unwrap_or_else(|| panic!("group {group:?} in discovery"))
        .clone();
    item["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == resource)
        .unwrap_or_else(|| panic!("{resource} in discovery"))
        .clone()
}

/// The entries named `resource` or `resource/...` in an APIResourceList.
fn legacy_entries(doc: &Value, resource: &str) -> Vec<Value> {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let n = r["name"].as_str().unwrap();
            n == resource || n.starts_with(&format!("{resource}/"))
        })
        .cloned()
        .collect()
}

#[test]
fn aggregated_discovery_matches_the_reference() {
    let (_s, c) = server();
    let api = c.get_accept("/api", AGGREGATED);
    assert_eq!(api.status, 200);
    let want_headers = reference("discovery-api-aggregated.headers");
    assert!(want_headers.contains(&format!(
        "content-type: {}",
        api.header("content-type").unwrap()
    )));
    assert_eq!(api.header("vary"), Some("Accept"));
    assert_eq!(api.header("cache-control"), Some("public"));
    assert!(api.header("etag").is_some());
    let got = api.json();
    let want = reference_json("discovery-api-aggregated.json");
    assert_eq!(got["kind"], want["kind"]);
    assert_eq!(got["apiVersion"], want["apiVersion"]);
    assert_eq!(got["items"][0]["metadata"], want["items"][0]["metadata"]);
    assert_eq!(got["items"][0]["versions"][0]["freshness"], "Current");
    for r in ["namespaces", "configmaps", "pods"] {
        assert_eq!(
            aggregated_entry(&got, None, r),
            aggregated_entry(&want, None, r),
            "{r}"
        );
    }

    let apis = c.get_accept("/apis", AGGREGATED);
    assert_eq!(apis.header("content-type"), api.header("content-type"));
    let got = apis.json();
    let want = reference_json("discovery-apis-aggregated.json");
    for (g, r) in [
        ("apps", "deployments"),
        ("batch", "jobs"),
        ("example.com", "widgets"),
    ] {
        assert_eq!(
            aggregated_entry(&got, Some(g), r),
            aggregated_entry(&want, Some(g), r),
            "{g}/{r}"
        );
    }
}

#[test]
fn legacy_discovery_matches_the_reference() {
    let (s, c) = server();
    let mut want = reference_json("discovery-api-legacy.json");
    want["serverAddressByClientCIDRs"][0]["serverAddress"] =
        json!(s.url().trim_start_matches("http://"));
    assert_eq!(c.get("/api").json(), want);

    let got = c.get("/api/v1").json();
    let want = reference_json("discovery-api-v1-legacy.json");
    assert_eq!(got["kind"], want["kind"]);
    assert_eq!(got["groupVersion"], want["groupVersion"]);
    assert!(
        got.get("apiVersion").is_none(),
        "the real /api/v1 has no apiVersion"
    );
    for r in ["namespaces", "configmaps", "pods"] {
        assert_eq!(legacy_entries(&got, r), legacy_entries(&want, r), "{r}");
    }
    let got = c.get("/apis/apps/v1").json();
    let want = reference_json("discovery-apps-v1-legacy.json");
    assert_eq!(
        legacy_entries(&got, "deployments"),
        legacy_entries(&want, "deployments")
    );
    assert_eq!(got["groupVersion"], "apps/v1");

    let got = c.get("/apis/example.com/v1").json();
    let mut want = reference_json("discovery-example.com-v1-legacy.json");
    // storageVersionHash is opaque; only its presence matters.
    assert!(got["resources"][0]["storageVersionHash"].is_string());
    want["resources"][0]["storageVersionHash"] = got["resources"][0]["storageVersionHash"].clone();
    assert_eq!(got, want);

    let got = c.get("/apis").json();
    let want = reference_json("discovery-apis-legacy.json");
    assert_eq!(got["kind"], "APIGroupList");
    for g in ["apps", "batch", "example.com"] {
        let find = |doc: &Value| {
            doc["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == g)
                .cloned()
        };
        assert_eq!(find(&got), find(&want), "{g}");
    }
    let group = c.get("/apis/example.com").json();
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["preferredVersion"]["groupVersion"], "example.com/v1");

    let version = c.get("/version").json();
    assert_eq!(version["gitVersion"], "v1.32.13");
    assert_eq!(c.get("/apis/nope.io/v1").status, 404);
}

#[test]
fn an_old_server_answers_only_legacy_discovery() {
    let s = TestServer::start_with(Options {
        aggregated_discovery: false,
        ..Options::default()
    });
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    let api = c.get_accept("/api", AGGREGATED);
    assert_eq!(api.header("content-type"), Some("application/json"));
    assert_eq!(api.json()["kind"], "APIVersions");
    assert_eq!(
        c.get_accept("/apis", AGGREGATED).json()["kind"],
        "APIGroupList"
    );
}

#[test]
fn crds_appear_in_discovery_when_added() {
    let s = TestServer::start();
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    let before = c.get_accept("/apis", AGGREGATED).json();
    assert!(!before.to_string().contains("example.com"));
    assert_eq!(c.get("/apis/example.com/v1/widgets").status, 404);
    s.add_crd(Crd {
        group: "ops.io".into(),
        version: "v1alpha1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
        singular: "gadget".into(),
        short_names: vec![],
        namespaced: false,
    });
    let entry = aggregated_entry(
        &c.get_accept("/apis", AGGREGATED).json(),
        Some("ops.io"),
        "gadgets",
    );
    assert_eq!(entry["scope"], "Cluster");
    assert!(entry.get("shortNames").is_none());
    let created = c.post(
        "/apis/ops.io/v1alpha1/gadgets",
        &json!({"metadata": {"name": "g1"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.json()["metadata"].get("namespace").is_none());
    assert_eq!(c.get("/apis/ops.io/v1alpha1/gadgets/g1").status, 200);
}

#[test]
fn create_fills_metadata_and_get_returns_the_object() {
    let (s, c) = server();
    let r = c.post(WIDGETS, &widget("w1", json!({"app": "demo"})));
    assert_eq!(r.status, 201);
    let w = r.json();
    assert_eq!(w["apiVersion"], "example.com/v1");
    assert_eq!(w["kind"], "Widget");
    assert_eq!(w["metadata"]["namespace"], "ref");
    assert_eq!(w["metadata"]["generation"], 1);
    assert_eq!(w["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(
        w["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(c.get(&format!("{WIDGETS}/w1")).json(), w);
    assert_eq!(
        s.get("widgets.example.com", Some("ref"), "w1"),
        Some(w.clone())
    );

    let again = c.post(WIDGETS, &widget("w1", json!({})));
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["reason"], "AlreadyExists");
    assert_eq!(
        again.json()["message"],
        "widgets.example.com \"w1\" already exists"
    );

    let generated = c
        .post(WIDGETS, &json!({"metadata": {"generateName": "w-"}}))
        .json();
    assert!(
        generated["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("w-")
    );

    // The default namespace exists from the start; namespaces are cluster-scoped.
    let ns = c.get("/api/v1/namespaces/default").json();
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(ns["metadata"].get("namespace").is_none());
}

#[test]
fn lists_mirror_the_reference_and_apply_selectors() {
    let (s, c) = server();
    let w1 = s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w1", json!({"app": "demo", "tier": "web"})),
    );
    s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w2", json!({"app": "other"})),
    );
    s.create("widgets.example.com", Some("ref"), widget("w3", json!({})));
    s.create(
        "widgets.example.com",
        Some("elsewhere"),
        widget("w4", json!({"app": "demo"})),
    );

    let r = c.get(&format!("{WIDGETS}?limit=500"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let list = r.json();
    let want = reference_json("list-widgets.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&list), keys(&want));
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(list["apiVersion"], "example.com/v1");
    assert_eq!(keys(&list["metadata"]), keys(&want["metadata"]));
    assert_eq!(list["metadata"]["continue"], "");
    assert_eq!(
        list["metadata"]["resourceVersion"],
        s.resource_version().to_string()
    );
    assert_eq!(names(&list), ["w1", "w2", "w3"]);
    assert_eq!(list["items"][0], w1);

    let sel = |q: &str| names(&c.get(&format!("{WIDGETS}?labelSelector={q}")).json());
    assert_eq!(sel("app=demo"), ["w1"]);
    assert_eq!(sel("app==demo"), ["w1"]);
    assert_eq!(sel("app!=demo"), ["w2", "w3"]);
    assert_eq!(sel("app%20in%20(demo,other)"), ["w1", "w2"]);
    assert_eq!(sel("app%20notin%20(demo)"), ["w2", "w3"]);
    assert_eq!(sel("app"), ["w1", "w2"]);
    assert_eq!(sel("!app"), ["w3"]);
    assert_eq!(sel("app=demo,tier=web"), ["w1"]);

    let field = |q: &str| names(&c.get(&format!("{WIDGETS}?fieldSelector={q}")).json());
    assert_eq!(field("metadata.name=w2"), ["w2"]);
    assert_eq!(field("metadata.name==w2"), ["w2"]);
    assert_eq!(field("metadata.name!=w2"), ["w1", "w3"]);
    assert_eq!(field("metadata.namespace=ref"), ["w1", "w2", "w3"]);

    let all = names(
        &c.get("/apis/example.com/v1/widgets?labelSelector=app%3Ddemo")
            .json(),
    );
    assert_eq!(all, ["w4", "w1"], "all namespaces, in namespace/name order");

    let bad = c.get(&format!("{WIDGETS}?fieldSelector=spec.size%3D1"));
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json(),
        reference_json("err-400-crd-field-selector.json")
    );
    let bad = c.get("/api/v1/namespaces/default/configmaps?fieldSelector=spec.bogus%3Dx");
    assert_eq!(bad.json(), reference_json("err-400-field-selector.json"));
}

#[test]
fn paging_walks_a_consistent_snapshot() {
    let (s, c) = server();
    for i in 0..5 {
        s.create(
            "configmaps",
            Some("default"),
            json!({"metadata": {"name": format!("c{i}")}}),
        );
    }
    let base = "/api/v1/namespaces/default/configmaps";
    let first = c.get(&format!("{base}?limit=2")).json();
    assert_eq!(names(&first), ["c0", "c1"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    assert!(first["metadata"].get("continue").is_some());
    let rv = first["metadata"]["resourceVersion"].clone();

    // A write between pages does not show up in the rest of the list.
    s.delete("configmaps", Some("default"), "c3");
    s.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "c9"}}),
    );

    let token = first["metadata"]["continue"].as_str().unwrap();
    let second = c.get(&format!("{base}?limit=2&continue={token}")).json();
    assert_eq!(names(&second), ["c2", "c3"]);
    assert_eq!(second["metadata"]["resourceVersion"], rv);
    let token = second["metadata"]["continue"].as_str().unwrap();
    let third = c.get(&format!("{base}?limit=2&continue={token}")).json();
    assert_eq!(names(&third), ["c4"]);
    assert!(
        third["metadata"].get("continue").is_none(),
        "built-in lists omit an empty continue"
    );

    let fresh = c.get(base).json();
    assert_eq!(names(&fresh), ["c0", "c1", "c2", "c4", "c9"]);
}

#[test]
fn watch_from_a_resource_version_replays_changes_in_order() {
    let (s, c) = server();
    // Only the bookmark sent as the watch times out, as in the reference.
    s.set_bookmark_interval(Duration::from_secs(60));
    s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w1", json!({"app": "demo"})),
    );
    let list = c.get(WIDGETS).json();
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    // The reference sequence: spec patch, status patch, w2 created and deleted.
    s.merge_patch(
        "widgets.example.com",
        Some("ref"),
        "w1",
        json!({"spec": {"size": 2}}),
    );
    s.patch_status(
        "widgets.example.com",
        Some("ref"),
        "w1",
        json!({"status": {"ready": true}}),
    );
    s.create(
        "widgets.example.com",
        Some("ref"),
        json!({"metadata": {"name": "w2"}, "spec": {}}),
    );
    s.delete("widgets.example.com", Some("ref"), "w2");

    let w = c.watch(&format!(
        "{WIDGETS}?watch=1&allowWatchBookmarks=true&resourceVersion={from}&timeoutSeconds=1"
    ));
    assert_eq!(
        w.headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str()),
        Some("application/json")
    );
    let events = w.collect();
    let want: Vec<Value> = reference("watch-widgets.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types = |evs: &[Value]| {
        evs.iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&events), types(&want), "{events:#?}");
    let rvs: Vec<u64> = events.iter().map(|e| rv_of(&e["object"])).collect();
    assert!(rvs.windows(2).all(|p| p[0] <= p[1]), "{rvs:?}");
    assert_eq!(rvs[0], from.parse::<u64>().unwrap() + 1);
    for (got, want) in events.iter().zip(&want).take(4) {
        assert_eq!(
            got["object"]["metadata"]["generation"],
            want["object"]["metadata"]["generation"]
        );
        assert_eq!(got["object"]["spec"], want["object"]["spec"]);
        assert_eq!(got["object"].get("status"), want["object"].get("status"));
    }
    // The closing bookmark carries only apiVersion, kind and the resourceVersion.
    let bookmark = events.last().unwrap();
    assert_eq!(
        bookmark["object"],
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"resourceVersion": s.resource_version().to_string()}})
    );
}

#[test]
fn watch_without_resource_version_starts_with_the_current_objects() {
    let (s, c) = server();
    s.create("widgets.example.com", Some("ref"), widget("w1", json!({})));
    s.create(
        "widgets.example.com",
        Some("other"),
        widget("w2", json!({})),
    );
    for q in ["", "&resourceVersion=0"] {
        let mut w = c.watch(&format!("{WIDGETS}?watch=true{q}"));
        let first = w.next().unwrap();
        assert_eq!(first["type"], "ADDED");
        assert_eq!(first["object"]["metadata"]["name"], "w1");
        s.merge_patch(
            "widgets.example.com",
            Some("other"),
            "w2",
            json!({"spec": {"size": 7}}),
        );
        s.merge_patch(
            "widgets.example.com",
            Some("ref"),
            "w1",
            json!({"spec": {"size": 8}}),
        );
        let next = w.next().unwrap();
        assert_eq!(next["type"], "MODIFIED", "other namespaces are not seen");
        assert_eq!(next["object"]["spec"]["size"], 8);
        s.merge_patch(
            "widgets.example.com",
            Some("ref"),
            "w1",
            json!({"spec": {"size": 1}}),
        );
        w.next().unwrap();
    }
}

#[test]
fn streaming_list_ends_initial_events_with_an_annotated_bookmark() {
    let (s, c) = server();
    s.create("widgets.example.com", Some("ref"), widget("w1", json!({})));
    let mut w = c.watch(&format!(
        "{WIDGETS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Dw1"
    ));
    assert_eq!(w.next().unwrap()["type"], "ADDED");
    let end = w.next().unwrap();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(
        end["object"]["metadata"]["resourceVersion"],
        s.resource_version().to_string()
    );
}

/// A streaming list as kube-rs and client-go ask for it.
const STREAMING: &str = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=0";

#[test]
fn a_streaming_list_without_not_older_than_is_invalid() {
    let (_s, c) = server();
    let r = c.get(&format!(
        "{WIDGETS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
    ));
    assert_eq!(r.status, 422);
    assert_eq!(
        r.json()["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
    );
}

#[test]
fn without_the_watch_list_gate_a_streaming_list_is_refused_as_the_real_server_does() {
    let s = TestServer::start_with(Options {
        streaming_lists: StreamingLists::GateOff,
        ..Options::default()
    });
    s.add_crd(Crd::widget());
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    let r = c.get(&format!("{WIDGETS}?{STREAMING}"));
    assert_eq!(r.status, 422);
    assert_eq!(r.json(), reference_json("err-422-watch-list-gate-off.json"));
    // A plain watch is served.
    let mut w = c.watch(&format!("{WIDGETS}?watch=true"));
    s.create("widgets.example.com", Some("ref"), widget("w1", json!({})));
    assert_eq!(w.next().unwrap()["type"], "ADDED");
}

#[test]
fn on_etcd_without_watch_progress_a_streaming_list_ends_with_the_real_server_s_error() {
    let s = TestServer::start_with(Options {
        streaming_lists: StreamingLists::NoWatchProgress,
        ..Options::default()
    });
    s.add_crd(Crd::widget());
    s.create("widgets.example.com", Some("ref"), widget("w1", json!({})));
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    let events = c.watch(&format!("{WIDGETS}?{STREAMING}")).collect();
    let want: Value =
        serde_json::from_str(reference("watch-list-no-watch-progress.jsonl").trim()).unwrap();
    assert_eq!(events, vec![want], "one ERROR event, then the end");
}

#[test]
fn bookmarks_arrive_periodically_with_the_current_resource_version() {
    let (s, c) = server();
    s.set_bookmark_interval(Duration::from_millis(100));
    let rv = s.resource_version();
    let mut w = c.watch(&format!(
        "{WIDGETS}?watch=1&allowWatchBookmarks=true&resourceVersion={rv}"
    ));
    s.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "other-type"}}),
    );
    let b = w.next().unwrap();
    assert_eq!(b["type"], "BOOKMARK");
    let meta = b["object"]["metadata"].as_object().unwrap();
    assert_eq!(meta.len(), 1);
    assert_eq!(b["object"]["kind"], "Widget");
    // Changes to other types move the bookmark's resourceVersion too.
    assert!(rv_of(&b["object"]) >= rv);
    let later = w.next().unwrap();
    assert_eq!(rv_of(&later["object"]), rv + 1);

    // Without allowWatchBookmarks, none are sent.
    let mut quiet = c.watch(&format!(
        "{WIDGETS}?watch=1&resourceVersion={}&timeoutSeconds=1",
        rv + 1
    ));
    assert!(quiet.next().is_none());
}

#[test]
fn watch_selectors_turn_label_changes_into_added_and_deleted() {
    let (s, c) = server();
    s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w1", json!({"app": "demo"})),
    );
    let rv = s.resource_version();
    let mut w = c.watch(&format!(
        "{WIDGETS}?watch=1&labelSelector=app%3Ddemo&resourceVersion={rv}"
    ));
    s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w2", json!({"app": "other"})),
    );
    s.merge_patch(
        "widgets.example.com",
        Some("ref"),
        "w1",
        json!({"metadata": {"labels": {"app": "gone"}}}),
    );
    let left = w.next().unwrap();
    assert_eq!(left["type"], "DELETED");
    assert_eq!(
        left["object"]["metadata"]["labels"]["app"], "demo",
        "the last matching state"
    );
    assert_eq!(
        rv_of(&left["object"]),
        s.resource_version(),
        "at the change's resourceVersion"
    );
    s.merge_patch(
        "widgets.example.com",
        Some("ref"),
        "w2",
        json!({"metadata": {"labels": {"app": "demo"}}}),
    );
    let joined = w.next().unwrap();
    assert_eq!(joined["type"], "ADDED");
    assert_eq!(joined["object"]["metadata"]["name"], "w2");
}

#[test]
fn too_old_resource_versions_get_410_expired() {
    let s = TestServer::start_with(Options {
        history_limit: 3,
        ..Options::default()
    });
    s.add_crd(Crd::widget());
    let c = Client::new(&s.url(), Some(TestServer::ADMIN_TOKEN));
    for i in 0..6 {
        s.create(
            "widgets.example.com",
            Some("ref"),
            widget(&format!("w{i}"), json!({})),
        );
    }
    let w = c.watch(&format!("{WIDGETS}?watch=1&resourceVersion=2"));
    let events = w.collect();
    assert_eq!(events.len(), 1, "one ERROR event, then the stream closes");
    let want: Value =
        serde_json::from_str(reference("err-410-watch-too-old.jsonl").trim()).unwrap();
    assert_eq!(events[0]["type"], "ERROR");
    let (got, want) = (&events[0]["object"], &want["object"]);
    for k in ["kind", "apiVersion", "metadata", "status", "reason", "code"] {
        assert_eq!(got[k], want[k], "{k}");
    }
    let compacted = s.resource_version() - 3;
    assert_eq!(
        got["message"],
        format!("too old resource version: 2 ({compacted})")
    );

    // Still in the history: fine.
    let mut ok = c.watch(&format!("{WIDGETS}?watch=1&resourceVersion={compacted}"));
    assert_eq!(ok.next().unwrap()["type"], "ADDED");

    let r = c.get(&format!(
        "{WIDGETS}?resourceVersion=2&resourceVersionMatch=Exact"
    ));
    assert_eq!(r.status, 410);
    assert_eq!(r.json(), reference_json("err-410-list-exact.json"));
    let r = c.get(&format!(
        "{WIDGETS}?resourceVersion={}&resourceVersionMatch=Exact",
        compacted + 1
    ));
    assert_eq!(r.status, 200);
    assert_eq!(names(&r.json()).len(), 4, "the list as it was then");
}

#[test]
fn auth_failures_have_the_reference_bodies() {
    let (s, _c) = server();
    let bad = Client::new(&s.url(), Some("wrong"));
    let r = bad.get(WIDGETS);
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), reference_json("err-401.json"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(bad.get("/api").status, 401);

    s.add_user("limited", "limited-token", vec![]);
    let limited = Client::new(&s.url(), Some("limited-token"));
    let r = limited.get(&format!("{WIDGETS}?watch=1"));
    assert_eq!(r.status, 403);
    assert_eq!(r.json(), reference_json("err-403-forbidden.json"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Discovery is open to every authenticated user.
    assert_eq!(limited.get_accept("/apis", AGGREGATED).status, 200);

    let r = limited.get(&format!("{WIDGETS}/w1"));
    assert_eq!(
        r.json()["message"],
        "widgets.example.com \"w1\" is forbidden: User \"limited\" cannot get resource \"widgets\" in API group \"example.com\" in the namespace \"ref\""
    );
    assert_eq!(
        r.json()["details"],
        json!({"name": "w1", "group": "example.com", "kind": "widgets"})
    );
    let r = limited.get("/api/v1/configmaps");
    assert_eq!(
        r.json()["message"],
        "configmaps is forbidden: User \"limited\" cannot list resource \"configmaps\" in API group \"\" at the cluster scope"
    );
    assert_eq!(r.json()["details"], json!({"kind": "configmaps"}));
}

#[test]
fn rules_grant_verbs_per_resource_and_namespace() {
    let (s, _c) = server();
    s.add_user(
        "reader",
        "reader-token",
        vec![Rule {
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            groups: vec!["example.com".into()],
            resources: vec!["widgets".into()],
            namespaces: vec!["ref".into()],
            names: vec![],
        }],
    );
    let c = Client::new(&s.url(), Some("reader-token"));
    assert_eq!(c.get(WIDGETS).status, 200);
    assert_eq!(
        c.get(&format!("{WIDGETS}?watch=1&timeoutSeconds=1")).status,
        200
    );
    assert_eq!(
        c.get("/apis/example.com/v1/namespaces/other/widgets")
            .status,
        403
    );
    assert_eq!(c.get("/apis/example.com/v1/widgets").status, 403);
    assert_eq!(c.post(WIDGETS, &widget("w1", json!({}))).status, 403);
    let r = c.merge_patch(&format!("{WIDGETS}/w1/status"), &json!({}));
    assert_eq!(r.status, 403);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("cannot patch resource \"widgets/status\"")
    );

    let records = s.requests();
    let last = records.last().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(last.path_and_query, format!("{WIDGETS}/w1/status"));
    assert_eq!(last.user.as_deref(), Some("reader"));
    assert_eq!(last.status, 403);
    assert_eq!(records[0].accept.as_deref(), Some("application/json"));
}

#[test]
fn anonymous_callers_and_impersonation() {
    let (s, _c) = server();
    let anon = Client::new(&s.url(), None);
    let r = anon.get("/api");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "forbidden: User \"system:anonymous\" cannot get path \"/api\""
    );
    assert_eq!(anon.get("/version").status, 200);
    let r = anon.get(WIDGETS);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("User \"system:anonymous\" cannot list")
    );
    assert_eq!(s.requests().last().unwrap().user, None);

    // What real kubectl needs over plain HTTP: anonymous rights, `--as` for others.
    s.set_anonymous_rules(vec![Rule::allow_all()]);
    assert_eq!(anon.get(WIDGETS).status, 200);
    s.add_user("limited", "limited-token", vec![]);
    let mut as_limited = Client::new(&s.url(), None);
    as_limited
        .extra_headers
        .push(("Impersonate-User".into(), "limited".into()));
    let r = as_limited.get(WIDGETS);
    assert_eq!(r.status, 403);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("User \"limited\"")
    );
    assert_eq!(
        s.requests().last().unwrap().user.as_deref(),
        Some("limited")
    );

    let mut sneaky = Client::new(&s.url(), Some("limited-token"));
    sneaky
        .extra_headers
        .push(("Impersonate-User".into(), "admin".into()));
    let r = sneaky.get(WIDGETS);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "users \"admin\" is forbidden: User \"limited\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
}

#[test]
fn not_found_bodies_match_the_reference() {
    let (_s, c) = server();
    let r = c.get(&format!("{WIDGETS}/nope"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), reference_json("err-404-object.json"));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let r = c.get("/api/v1/namespaces/default/configmaps/x");
    assert_eq!(r.json()["message"], "configmaps \"x\" not found");
    assert_eq!(
        r.json()["details"],
        json!({"name": "x", "kind": "configmaps"})
    );

    for path in [
        "/apis/example.com/v1/namespaces/ref/gizmos",
        "/apis/example.com/v2/namespaces/ref/widgets",
        "/api/v1/namespaces/default/widgets",
        "/apis/example.com/v1/namespaces/ref/widgets/w1/scale",
        "/nonsense",
    ] {
        let r = c.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.text(), reference("err-404-resource.json"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
}

#[test]
fn status_subresource_semantics() {
    let (_s, c) = server();
    let w = c.post(WIDGETS, &widget("w1", json!({}))).json();
    let path = format!("{WIDGETS}/w1");

    // The main resource ignores .status and bumps generation on spec changes.
    let mut changed = w.clone();
    changed["spec"]["size"] = json!(2);
    changed["status"] = json!({"ready": true});
    let r = c.put(&path, &changed).json();
    assert_eq!(r["metadata"]["generation"], 2);
    assert!(r.get("status").is_none());

    // /status takes only .status, and leaves generation alone.
    let r = c
        .merge_patch(
            &format!("{path}/status"),
            &json!({"status": {"ready": true}, "spec": {"size": 9}}),
        )
        .json();
    assert_eq!(r["status"]["ready"], true);
    assert_eq!(r["spec"]["size"], 2);
    assert_eq!(r["metadata"]["generation"], 2);
    assert_eq!(c.get(&format!("{path}/status")).json(), r);

    let mut st = r.clone();
    st["status"]["ready"] = json!(false);
    let r = c.put(&format!("{path}/status"), &st).json();
    assert_eq!(r["status"]["ready"], false);

    // A patch that changes nothing writes nothing.
    let again = c.merge_patch(&path, &json!({"spec": {"size": 2}})).json();
    assert_eq!(
        again["metadata"]["resourceVersion"],
        r["metadata"]["resourceVersion"]
    );

    // Metadata-only changes keep the generation.
    let labelled = c
        .merge_patch(&path, &json!({"metadata": {"labels": {"x": "y"}}}))
        .json();
    assert_eq!(labelled["metadata"]["generation"], 2);
}

#[test]
fn stale_updates_conflict() {
    let (_s, c) = server();
    let w = c.post(WIDGETS, &widget("w1", json!({}))).json();
    let path = format!("{WIDGETS}/w1");
    c.merge_patch(&path, &json!({"spec": {"size": 5}}));
    let mut stale = w.clone();
    stale["spec"]["size"] = json!(6);
    let r = c.put(&path, &stale);
    assert_eq!(r.status, 409);
    let body = r.json();
    assert_eq!(body["reason"], "Conflict");
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on widgets.example.com \"w1\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // A patch with a resourceVersion precondition conflicts too.
    let r = c.merge_patch(
        &path,
        &json!({"metadata": {"resourceVersion": "1"}, "spec": {"size": 1}}),
    );
    assert_eq!(r.status, 409);
}

#[test]
fn patch_formats_and_delete() {
    let (_s, c) = server();
    c.post(WIDGETS, &widget("w1", json!({"a": "b"})));
    let path = format!("{WIDGETS}/w1");
    let r = c.send_json("PATCH", &path, "application/json-patch+json",
        &json!([{"op": "replace", "path": "/spec/size", "value": 4}, {"op": "remove", "path": "/metadata/labels/a"}]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["spec"]["size"], 4);
    let r = c.send_json(
        "PATCH",
        &path,
        "application/strategic-merge-patch+json",
        &json!({"spec": {"color": "red"}}),
    );
    assert_eq!(r.json()["spec"], json!({"size": 4, "color": "red"}));
    let r = c.send_json("PATCH", &path, "application/apply-patch+yaml", &json!({}));
    assert_eq!(r.status, 415);
    let r = c.send_json(
        "POST",
        WIDGETS,
        "application/vnd.kubernetes.protobuf",
        &json!({}),
    );
    assert_eq!(r.status, 415);

    let deleted = c.delete(&path);
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.json()["metadata"]["name"],
        "w1",
        "CRDs answer the deleted object"
    );
    assert_eq!(c.delete(&path).status, 404);

    c.post(
        "/api/v1/namespaces/default/configmaps",
        &json!({"metadata": {"name": "c"}}),
    );
    let r = c.delete("/api/v1/namespaces/default/configmaps/c").json();
    assert_eq!(r["kind"], "Status");
    assert_eq!(r["status"], "Success");
}

#[test]
fn tables_for_kubectl_get() {
    let (s, c) = server();
    s.create("widgets.example.com", Some("ref"), widget("w1", json!({})));
    let t = c.get_accept(WIDGETS, TABLE).json();
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Age"]);
    assert_eq!(t["rows"][0]["cells"][0], "w1");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "w1");
    let one = c.get_accept(&format!("{WIDGETS}/w1"), TABLE).json();
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);

    // Watch events carry one-row tables; column definitions only in the first.
    let mut w = c.open(
        "GET",
        &format!("{WIDGETS}?watch=true"),
        &[("Accept", TABLE)],
        None,
    );
    let first = w.next().unwrap();
    assert_eq!(first["object"]["kind"], "Table");
    assert_eq!(
        first["object"]["columnDefinitions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    s.merge_patch(
        "widgets.example.com",
        Some("ref"),
        "w1",
        json!({"spec": {"size": 3}}),
    );
    let next = w.next().unwrap();
    assert_eq!(next["type"], "MODIFIED");
    assert_eq!(next["object"]["columnDefinitions"], json!([]));
    assert_eq!(next["object"]["rows"][0]["cells"][0], "w1");

    let cm = c.get_accept("/api/v1/namespaces", TABLE).json();
    assert_eq!(cm["rows"][0]["cells"][1], "Active");
}

#[test]
fn helpers_share_the_write_path_with_http() {
    let (s, c) = server();
    let rv = s.resource_version();
    let mut w = c.watch(&format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
    ));
    let created = s.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "c"}, "data": {"k": "v"}}),
    );
    assert_eq!(rv_of(&created), rv + 1);
    let patched = s.merge_patch(
        "configmaps",
        Some("default"),
        "c",
        json!({"data": {"k": "w"}}),
    );
    let deleted = s.delete("configmaps", Some("default"), "c").unwrap();
    assert!(s.delete("configmaps", Some("default"), "c").is_none());
    assert!(s.get("configmaps", Some("default"), "c").is_none());
    let evs: Vec<Value> = (0..3).map(|_| w.next().unwrap()).collect();
    assert_eq!(evs[0]["object"], created);
    assert_eq!(evs[1]["object"], patched);
    assert_eq!(evs[2]["type"], "DELETED");
    assert_eq!(rv_of(&evs[2]["object"]), rv_of(&deleted));
    assert_eq!(s.resource_version(), rv + 3);

    let d = s.create(
        "deployments.apps",
        Some("default"),
        json!({"metadata": {"name": "d"}, "spec": {"replicas": 1}}),
    );
    let d2 = s.patch_status(
        "deployments.apps",
        Some("default"),
        "d",
        json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 5}}),
    );
    assert_eq!(d2["spec"], d["spec"]);
    assert_eq!(d2["metadata"]["generation"], 1);
    assert_eq!(d2["status"]["readyReplicas"], 1);
}

#[test]
#[should_panic(expected = "already exists")]
fn the_create_helper_panics_on_conflict() {
    let (s, _c) = server();
    s.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "c"}}),
    );
    s.create(
        "configmaps",
        Some("default"),
        json!({"metadata": {"name": "c"}}),
    );
}

#[test]
fn kubeconfig_names_everything_test() {
    let (s, _c) = server();
    let k = s.kubeconfig("tok", "ns1");
    assert!(k.contains(&format!("server: \"{}\"", s.url())));
    assert!(k.contains("token: \"tok\""));
    assert!(k.contains("namespace: \"ns1\""));
    assert!(k.contains("current-context: test"));
    assert!(s.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn dropping_the_server_closes_watches() {
    let (s, c) = server();
    let mut w = c.watch(&format!(
        "{WIDGETS}?watch=1&resourceVersion={}",
        s.resource_version()
    ));
    drop(s);
    assert!(w.next().is_none());
}

#[test]
fn metadata_only_answers() {
    let (s, c) = server();
    s.create(
        "widgets.example.com",
        Some("ref"),
        widget("w1", json!({"app": "demo"})),
    );
    let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let list = c.get_accept(WIDGETS, accept).json();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["labels"]["app"], "demo");
    assert!(list["items"][0].get("spec").is_none());
    let one = c
        .get_accept(
            &format!("{WIDGETS}/w1"),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
        .json();
    assert_eq!(one["kind"], "PartialObjectMetadata");
    let mut w = c.open(
        "GET",
        &format!("{WIDGETS}?watch=1"),
        &[(
            "Accept",
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )],
        None,
    );
    let ev = w.next().unwrap();
    assert_eq!(ev["object"]["kind"], "PartialObjectMetadata");
}

/// Events by the object's UID, through both APIs, with the field labels a
/// real server accepts for each, and the 400 a label of the other API gets.
#[test]
fn events_are_found_by_uid_through_both_apis_as_the_reference_shows() {
    let (s, c) = server();
    let deployment = s.create(
        "deployments.apps",
        Some("ref2"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"selector": {"matchLabels": {"app": "web"}}}}),
    );
    let uid = deployment["metadata"]["uid"].as_str().unwrap();
    s.event(
        &deployment,
        "Normal",
        "ScalingReplicaSet",
        "Scaled up replica set web-84c57f4879 from 0 to 1",
        1,
        Duration::ZERO,
    );

    let core = c
        .get(&format!(
            "/api/v1/namespaces/ref2/events?fieldSelector=involvedObject.uid%3D{uid}"
        ))
        .json();
    let want = reference_json("events-core-v1-by-uid.json");
    // Items of a built-in list carry no apiVersion/kind on a real server;
    // the test server keeps them on every item (a known difference).
    let keys = |v: &Value| {
        let mut k: Vec<String> = v
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !matches!(k.as_str(), "apiVersion" | "kind"))
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(core["kind"], want["kind"]);
    assert_eq!(names(&core).len(), 1);
    assert_eq!(keys(&core["items"][0]), keys(&want["items"][0]));
    assert_eq!(
        keys(&core["items"][0]["involvedObject"]),
        keys(&want["items"][0]["involvedObject"])
    );
    assert_eq!(core["items"][0]["involvedObject"]["uid"], uid);

    let v1 = c
        .get(&format!(
            "/apis/events.k8s.io/v1/namespaces/ref2/events?fieldSelector=regarding.uid%3D{uid}"
        ))
        .json();
    let want = reference_json("events-k8s-io-v1-by-uid.json");
    assert_eq!(v1["apiVersion"], want["apiVersion"]);
    assert_eq!(keys(&v1["items"][0]), keys(&want["items"][0]));
    assert_eq!(v1["items"][0]["note"], core["items"][0]["message"]);

    let other = c
        .get(&format!(
            "/apis/events.k8s.io/v1/namespaces/ref2/events?fieldSelector=involvedObject.uid%3D{uid}"
        ))
        .json();
    assert_eq!(other, reference_json("err-400-events-field-selector.json"));
    let none = c
        .get("/api/v1/namespaces/ref2/events?fieldSelector=involvedObject.uid%3Dnot-this-one")
        .json();
    assert!(names(&none).is_empty());
}

#[test]
fn workload_types_are_discovered_as_the_reference_lists_them() {
    let (_s, c) = server();
    let got = c.get("/apis/apps/v1").json();
    let want = reference_json("discovery-apps-v1-legacy.json");
    for r in ["replicasets", "statefulsets", "daemonsets"] {
        assert_eq!(legacy_entries(&got, r), legacy_entries(&want, r), "{r}");
    }
    let got = c.get_accept("/apis", AGGREGATED).json();
    let want = reference_json("discovery-apis-aggregated.json");
    assert_eq!(
        aggregated_entry(&got, Some("events.k8s.io"), "events"),
        aggregated_entry(&want, Some("events.k8s.io"), "events")
    );
    let got = c.get("/api/v1").json();
    let want = reference_json("discovery-api-v1-legacy.json");
    assert_eq!(
        legacy_entries(&got, "events"),
        legacy_entries(&want, "events")
    );
}
