//! Discovery is cached on disk the way kubectl caches it: a second run asks
//! the server nothing but the watch, a new CRD still resolves, a removed one
//! is an unknown type, old or broken caches are ignored, kubectl's own cache
//! files are read, and no cache problem ever breaks a run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::json;
use testserver::{Crd, Rule};

use crate::common::*;

const OURS: &str = "kubectl-notify_discovery.json";

/// kubectl's directory for this server under a cache directory.
fn server_dir(s: &Scenario, base: &Path) -> PathBuf {
    let host = s
        .server
        .url()
        .replace("https://", "")
        .replace("http://", "")
        .replace(':', "_");
    base.join("discovery").join(host)
}

/// The default cache directory of the scenario's user (HOME is the scenario's).
/// Waits for the ready widget `target` with `--cache-dir DIR` and `extra`.
fn wait_cached(s: &Scenario, target: &str, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        target,
        "--until",
        READY,
        "--cache-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    s.run(&args)
}

fn home_cache(s: &Scenario) -> PathBuf {
    s.dir.path().join(".kube").join("cache")
}

/// Discovery requests made after the first `since` requests: `/api`,
/// `/apis`, `/api/v1`, `/apis/<group>[/<version>]`, not object requests.
fn discovery_since(s: &Scenario, since: usize) -> Vec<String> {
    s.server
        .requests()
        .into_iter()
        .skip(since)
        .map(|r| r.path_and_query)
        .filter(|p| {
            let path = p.split('?').next().unwrap_or_default();
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match segments[0] {
                "api" => segments.len() <= 2,
                "apis" => segments.len() <= 3,
                _ => false,
            }
        })
        .collect()
}

fn gadget_crd() -> Crd {
    Crd {
        group: "toys.example.org".into(),
        version: "v1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
        singular: "gadget".into(),
        short_names: vec![],
        namespaced: true,
    }
}

fn make_old(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn a_second_run_asks_the_server_nothing_but_the_watch() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));

    let first = s.run(&["widgets/foo", "--until", READY, "-v"]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    assert!(
        stderr(&first).contains("discovery: fetched from"),
        "{}",
        stderr(&first)
    );
    let file = server_dir(&s, &home_cache(&s)).join(OURS);
    assert!(file.is_file(), "no cache at {}", file.display());

    let before = s.server.requests().len();
    let second = s.run(&["wg/foo", "--until", READY, "-v"]);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(stdout(&second), "widget.example.com/foo condition met\n");
    assert_eq!(discovery_since(&s, before), Vec::<String>::new());
    assert!(
        stderr(&second).contains(&format!("discovery: from {}", file.display())),
        "-v says where the types came from: {}",
        stderr(&second)
    );
    assert!(
        s.server.requests()[before..].iter().any(|r| r
            .path_and_query
            .starts_with("/apis/example.com/v1/namespaces/default/widgets")),
        "the run still lists and watches"
    );
}

#[test]
fn the_cache_directory_comes_from_cache_dir_then_kubecachedir_then_home() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));

    let flag = s.dir.path().join("flag-cache");
    let out = wait_cached(&s, "widgets/foo", &flag, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(server_dir(&s, &flag).join(OURS).is_file());
    assert!(
        !home_cache(&s).exists(),
        "--cache-dir replaces ~/.kube/cache"
    );

    let env = s.dir.path().join("env-cache");
    let out = s
        .notify(&["widgets/foo", "--until", READY])
        .env("KUBECACHEDIR", &env)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(server_dir(&s, &env).join(OURS).is_file());
    assert!(
        !home_cache(&s).exists(),
        "KUBECACHEDIR replaces ~/.kube/cache"
    );

    // An empty --cache-dir turns the cache off: every run asks the server.
    for _ in 0..2 {
        let before = s.server.requests().len();
        let out = s.run(&["widgets/foo", "--until", READY, "--cache-dir", ""]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(!discovery_since(&s, before).is_empty());
    }
    assert!(!home_cache(&s).exists());

    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(server_dir(&s, &home_cache(&s)).join(OURS).is_file());
}

#[test]
fn a_crd_added_after_the_cache_was_written_still_resolves() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    s.server.add_crd(gadget_crd());
    s.server.create(
        "gadgets.toys.example.org",
        Some("default"),
        json!({"metadata": {"name": "g1"}, "spec": {"color": "red"}}),
    );
    let before = s.server.requests().len();
    let out = s.run(&["gadgets/g1", "--until", ".spec.color == red", "-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "gadget.toys.example.org/g1 condition met\n");
    let asked = discovery_since(&s, before);
    assert_eq!(asked.len(), 2, "one aggregated discovery round: {asked:?}");
    assert!(
        stderr(&out).contains("asking the server"),
        "{}",
        stderr(&out)
    );

    // The refreshed cache knows the new type.
    let before = s.server.requests().len();
    let out = s.run(&["gadgets/g1", "--until", ".spec.color == red"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(discovery_since(&s, before), Vec::<String>::new());
}

#[test]
fn a_crd_removed_after_the_cache_was_written_is_an_unknown_type() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    s.server.remove_crd("example.com", "widgets");
    // The cache still has widgets: its list gets 404, the server is asked,
    // and its answer decides. -v tells the story.
    let out = s.run(&["widgets/foo", "--until", READY, "--timeout", "20s", "-v"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("discovery: from "), "{err}");
    assert!(
        err.contains("widgets.example.com answered 404 Not Found"),
        "{err}"
    );
    assert!(err.contains("discovery: fetched from"), "{err}");
    assert!(
        err.ends_with("error: unknown resource type \"widgets\"; run \"kubectl api-resources\" to list the types\n"),
        "{err}"
    );

    // Without -v, only the one error line: after a 404 again (the CRD comes
    // back, is cached, and goes), and from the refreshed cache that no
    // longer has widgets (a miss, which asks the server once more).
    s.server.add_crd(Crd::widget());
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    s.server.remove_crd("example.com", "widgets");
    for args in [
        &["wg", "--all", "--timeout", "20s"][..],
        &["widgets/foo", "--until", READY, "--timeout", "20s"][..],
    ] {
        let out = s.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("error: unknown resource type"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn a_crd_now_served_in_another_version_is_followed() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    s.server.remove_crd("example.com", "widgets");
    s.server.add_crd(Crd {
        version: "v2".into(),
        ..Crd::widget()
    });
    s.server.create(
        WIDGETS,
        Some("default"),
        json!({"apiVersion": "example.com/v2", "kind": "Widget",
               "metadata": {"name": "foo"}, "spec": {}}),
    );
    s.server.patch_status(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"status": {"ready": true}}),
    );
    let before = s.server.requests().len();
    let out = s.run(&["widgets/foo", "--until", READY, "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing but the result");
    let met: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(met["metadata"]["name"], "foo");
    let asked: Vec<(String, u16)> = s.server.requests()[before..]
        .iter()
        .map(|r| (r.path_and_query.clone(), r.status))
        .collect();
    let v1_gone = asked
        .iter()
        .position(|(p, status)| p.starts_with("/apis/example.com/v1/") && *status == 404);
    let v2_listed = asked
        .iter()
        .position(|(p, status)| p.starts_with("/apis/example.com/v2/") && *status == 200);
    assert!(
        matches!((v1_gone, v2_listed), (Some(a), Some(b)) if a < b),
        "the cached v1 first, then v2: {asked:?}"
    );
    assert_eq!(discovery_since(&s, before).len(), 2, "{asked:?}");
}

#[test]
fn an_old_cache_is_not_used_and_is_rewritten() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = server_dir(&s, &home_cache(&s)).join(OURS);

    // Just within kubectl's six hours: still used.
    make_old(&file, Duration::from_secs(6 * 3600 - 120));
    let before = s.server.requests().len();
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(discovery_since(&s, before), Vec::<String>::new());

    make_old(&file, Duration::from_secs(6 * 3600 + 120));
    let before = s.server.requests().len();
    let out = s.run(&["widgets/foo", "--until", READY, "-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(discovery_since(&s, before).len(), 2);
    assert!(
        stderr(&out).contains("6h 2m"),
        "-v says why: {}",
        stderr(&out)
    );
    let age = SystemTime::now()
        .duration_since(std::fs::metadata(&file).unwrap().modified().unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "rewritten: {age:?} old");
}

#[test]
fn kubectls_own_cache_files_are_read_and_left_alone() {
    let s = Scenario::new();
    // kubectl sends no bearer token over plain HTTP; it arrives anonymous.
    s.server.set_anonymous_rules(vec![Rule::allow_all()]);
    s.widget("foo", json!({}), json!({"ready": true}));
    let cache = s.dir.path().join("kubectl-cache");
    let got = Command::new(real_kubectl())
        .args(["get", "widgets"])
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert!(got.status.success(), "kubectl: {}", text(&got.stderr));
    let dir = server_dir(&s, &cache);
    assert!(dir.join("servergroups.json").is_file());
    let theirs = snapshot(&dir);

    let before = s.server.requests().len();
    let out = wait_cached(&s, "wg/foo", &cache, &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
    assert_eq!(discovery_since(&s, before), Vec::<String>::new());
    assert!(
        stderr(&out).contains(&format!(
            "discovery: from kubectl's cache {}",
            dir.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&dir), theirs, "kubectl's files are never written");

    // With one of kubectl's files missing, its cache is not trusted.
    std::fs::remove_file(dir.join("example.com/v1/serverresources.json")).unwrap();
    let before = s.server.requests().len();
    let out = wait_cached(&s, "wg/foo", &cache, &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(discovery_since(&s, before).len(), 2);
    assert!(dir.join(OURS).is_file(), "our own file is written beside");
}

/// Every file under `dir` but ours, with its content and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if !path.ends_with(OURS) {
                let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
                files.push((path.clone(), std::fs::read(&path).unwrap(), modified));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_broken_or_unwritable_cache_never_breaks_a_run() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));

    // A cache directory that cannot be created: a file is in the way.
    let blocked = s.dir.path().join("blocked");
    std::fs::write(&blocked, "not a directory").unwrap();
    let out = wait_cached(&s, "widgets/foo", &blocked, &["-v"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    let out = wait_cached(&s, "widgets/foo", &blocked, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "said only at -v");

    // A garbled file of ours is ignored, then replaced.
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = server_dir(&s, &home_cache(&s)).join(OURS);
    std::fs::write(&file, "{\"kind\": ").unwrap();
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let before = s.server.requests().len();
    let out = s.run(&["widgets/foo", "--until", READY]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(discovery_since(&s, before), Vec::<String>::new());
}
