//! Notify mode and the `-- COMMAND` action (SPEC §3 notify mode, §5), told
//! through small shell scripts that record what they were given.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// A script that records each run in `dir`: stdin, the KUBECTL_NOTIFY_*
/// environment and a copy of the object file, then sleeps for the number of
/// seconds in `dir/delay` (read at start) and marks the run done.
fn recorder(dir: &Path) -> PathBuf {
    let script = dir.join("record.sh");
    std::fs::write(
        &script,
        r#"#!/bin/sh
run="$OUT/run-$(date +%s%N)"
delay=$(cat "$OUT/delay" 2>/dev/null || echo 0)
cat > "$run.stdin"
env | grep '^KUBECTL_NOTIFY_' | sort > "$run.env"
cp "$KUBECTL_NOTIFY_OBJECT_FILE" "$run.file"
sleep "$delay"
touch "$run.done"
"#,
    )
    .unwrap();
    make_executable(&script);
    script
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn out_dir(s: &Scenario) -> PathBuf {
    let dir = s.dir.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Recorded runs, oldest first, by the name prefix of their files.
fn runs(dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .map(|p| p.with_extension(""))
        .collect();
    runs.sort();
    runs
}

fn wait_for_runs(dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while runs(dir).len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} runs happened",
            runs(dir).len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdin_of(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.with_extension("stdin")).unwrap()).unwrap()
}

fn env_of(run: &Path) -> String {
    std::fs::read_to_string(run.with_extension("env")).unwrap()
}

#[test]
fn each_change_runs_the_command_once_with_the_object_on_stdin_and_in_env() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.widget("foo", json!({}), json!({"step": 0}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--count",
            "3",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    for step in 1..=3 {
        s.set_status("foo", json!({"step": step}));
        wait_for_runs(&out, step);
    }
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let runs = runs(&out);
    assert_eq!(runs.len(), 3);
    for (i, run) in runs.iter().enumerate() {
        let object = stdin_of(run);
        assert_eq!(object["status"]["step"], i + 1);
        let file: Value =
            serde_json::from_slice(&std::fs::read(run.with_extension("file")).unwrap()).unwrap();
        assert_eq!(file, object, "the object file holds the same JSON");
        let env = env_of(run);
        let meta = &object["metadata"];
        for line in [
            "KUBECTL_NOTIFY_EVENT=modified".to_string(),
            "KUBECTL_NOTIFY_KIND=Widget".into(),
            "KUBECTL_NOTIFY_API_VERSION=example.com/v1".into(),
            "KUBECTL_NOTIFY_RESOURCE=widgets.example.com".into(),
            "KUBECTL_NOTIFY_NAMESPACE=default".into(),
            "KUBECTL_NOTIFY_NAME=foo".into(),
            format!("KUBECTL_NOTIFY_UID={}", meta["uid"].as_str().unwrap()),
            format!(
                "KUBECTL_NOTIFY_RESOURCE_VERSION={}",
                meta["resourceVersion"].as_str().unwrap()
            ),
        ] {
            assert!(
                env.lines().any(|l| l == line),
                "{line} missing from:\n{env}"
            );
        }
        let file_var = env
            .lines()
            .find_map(|l| l.strip_prefix("KUBECTL_NOTIFY_OBJECT_FILE="))
            .unwrap();
        assert!(!Path::new(file_var).exists(), "{file_var} left behind");
    }
    let printed = stdout(&output);
    assert_eq!(
        printed
            .lines()
            .filter(|l| l.contains("modified  widget.example.com/foo"))
            .count(),
        3,
        "{printed}"
    );
}

#[test]
fn object_content_never_reaches_a_shell() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    let marker = s.dir.path().join("pwned");
    let nasty = format!("$(touch {0}) `touch {0}`; touch {0}", marker.display());
    s.widget("foo", json!({}), json!({}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--count",
            "1",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server.merge_patch(
        WIDGETS,
        Some("default"),
        "foo",
        json!({"metadata": {"annotations": {"x": nasty}}}),
    );
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(
        stdin_of(&runs(&out)[0])["metadata"]["annotations"]["x"],
        nasty
    );
    assert!(!marker.exists(), "object content was executed");
}

#[test]
fn when_fires_only_on_false_to_true_edges() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.widget("foo", json!({}), json!({"ready": false}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--when",
            ".status.ready == true",
            "--count",
            "2",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"ready": true, "note": "first"}));
    wait_for_runs(&out, 1);
    s.set_status("foo", json!({"ready": true, "note": "still true"}));
    s.set_status("foo", json!({"ready": false, "note": "down"}));
    s.set_status("foo", json!({"ready": true, "note": "second"}));
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let notes: Vec<Value> = runs(&out)
        .iter()
        .map(|r| stdin_of(r)["status"]["note"].clone())
        .collect();
    assert_eq!(notes, [json!("first"), json!("second")]);
}

#[test]
fn on_change_ignores_changes_elsewhere() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app-config"}, "data": {"level": "info"}}),
    );
    let mut child = s
        .notify(&[
            "configmaps/app-config",
            "--on-change",
            ".data",
            "--count",
            "1",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("app-config", &mut child);
    s.server.merge_patch(
        "configmaps",
        Some("default"),
        "app-config",
        json!({"metadata": {"labels": {"team": "a"}}}),
    );
    s.server.merge_patch(
        "configmaps",
        Some("default"),
        "app-config",
        json!({"data": {"level": "debug"}}),
    );
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let runs = runs(&out);
    assert_eq!(runs.len(), 1);
    assert_eq!(stdin_of(&runs[0])["data"]["level"], "debug");
    assert!(env_of(&runs[0]).contains("KUBECTL_NOTIFY_RESOURCE=configmaps\n"));
}

#[test]
fn on_change_paths_end_where_the_targets_begin() {
    let s = Scenario::new();
    let script = recorder(s.dir.path());
    for name in ["app", "other"] {
        s.server.create(
            "configmaps",
            Some("default"),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": {"level": "info"}}),
        );
    }
    // The targets after the paths, or on both sides of them.
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &["-n", "default", "--on-change", ".data", "cm/app"],
            &["app"],
        ),
        (
            &["cm/app", "--on-change", ".data", "cm/other"],
            &["app", "other"],
        ),
        (
            &[
                "--on-change",
                ".data",
                "$.metadata.labels",
                "cm",
                "app",
                "other",
            ],
            &["app", "other"],
        ),
    ];
    for (round, (args, names)) in cases.into_iter().enumerate() {
        let out = s.dir.path().join(format!("out-{round}"));
        std::fs::create_dir_all(&out).unwrap();
        let mut argv = args.to_vec();
        let count = names.len().to_string();
        argv.extend(["--count", &count, "--", script.to_str().unwrap()]);
        let before = s.server.requests().len();
        let mut child = s.notify(&argv).env("OUT", &out).spawn().unwrap();
        for name in names {
            let selector = format!("fieldSelector=metadata.name%3D{name}");
            s.wait_for_watch_since(before, &selector, &mut child);
        }
        for name in names {
            s.server.merge_patch(
                "configmaps",
                Some("default"),
                name,
                json!({"data": {"level": format!("debug-{round}")}}),
            );
        }
        let output = finish(child, Duration::from_secs(20));
        assert_eq!(code(&output), 0, "{args:?}: {}", stderr(&output));
        let mut seen: Vec<String> = runs(&out)
            .iter()
            .map(|run| {
                stdin_of(run)["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        seen.sort();
        assert_eq!(seen, names, "{args:?}");
    }
}

#[test]
fn the_same_object_named_twice_runs_the_command_once_per_change() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.server.create(
        "configmaps",
        Some("default"),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app"}, "data": {"level": "info"}}),
    );
    let mut child = s
        .notify(&[
            "cm/app",
            "cm/app",
            "configmaps.v1./app",
            "--count",
            "2",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("app", &mut child);
    for level in ["debug", "trace"] {
        s.server.merge_patch(
            "configmaps",
            Some("default"),
            "app",
            json!({"data": {"level": level}}),
        );
        wait_for_runs(&out, if level == "debug" { 1 } else { 2 });
    }
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let levels: Vec<Value> = runs(&out)
        .iter()
        .map(|run| stdin_of(run)["data"]["level"].clone())
        .collect();
    assert_eq!(levels, ["debug", "trace"], "one run per change");
    // In wait mode, one line and one run for the one object.
    let out = s.run(&["cm/app", "configmaps/app", "--for", "create"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "configmap/app condition met\n");
}

#[test]
fn events_initial_and_count() {
    let s = Scenario::new();
    for name in ["a", "b"] {
        s.widget(name, json!({}), json!({}));
    }
    let output = s.run(&["widgets", "--all", "--initial", "--count", "2"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines = stdout(&output);
    assert_eq!(
        lines.lines().filter(|l| l.contains("initial ")).count(),
        2,
        "{lines}"
    );

    // The first run's list was a watch too (a streaming list): wait for this one's.
    let before = s.server.requests().len();
    let mut child = s
        .notify(&["widgets", "--all", "--events", "deleted", "--count", "1"])
        .spawn()
        .unwrap();
    s.wait_for_watch_since(before, "/widgets?", &mut child);
    s.set_status("a", json!({"x": 1}));
    s.server.delete(WIDGETS, Some("default"), "b");
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let lines = stdout(&output);
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("deleted   widget.example.com/b"), "{lines}");
}

#[test]
fn notify_mode_times_out_with_124() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({}));
    let output = s.run(&["widgets/foo", "--timeout", "1s"]);
    assert_eq!(code(&output), 124, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("0 notifications"),
        "{}",
        stderr(&output)
    );
}

/// Starts a slow first run, then makes four more changes while it sleeps.
fn busy_scenario(policy: &str) -> (Scenario, PathBuf, std::process::Output) {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    std::fs::write(out.join("delay"), "2").unwrap();
    s.widget("foo", json!({}), json!({"step": 0}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--count",
            "5",
            "--on-busy",
            policy,
            "--stop-timeout",
            "1s",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"step": 1}));
    wait_for_runs(&out, 1);
    std::fs::write(out.join("delay"), "0").unwrap();
    for step in 2..=5 {
        s.set_status("foo", json!({"step": step}));
    }
    let output = finish(child, Duration::from_secs(30));
    (s, out, output)
}

#[test]
fn queued_notifications_for_one_object_coalesce_to_the_newest() {
    let (_s, out, output) = busy_scenario("queue");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let steps: Vec<Value> = runs(&out)
        .iter()
        .map(|r| stdin_of(r)["status"]["step"].clone())
        .collect();
    assert_eq!(steps, [json!(1), json!(5)]);
    assert!(
        runs(&out).iter().all(|r| r.with_extension("done").exists()),
        "a queued run was cut short"
    );
}

#[test]
fn skip_drops_notifications_while_busy() {
    let (_s, out, output) = busy_scenario("skip");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let steps: Vec<Value> = runs(&out)
        .iter()
        .map(|r| stdin_of(r)["status"]["step"].clone())
        .collect();
    assert_eq!(steps, [json!(1)]);
}

#[test]
fn restart_stops_the_running_command_and_runs_the_newest() {
    let (_s, out, output) = busy_scenario("restart");
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let runs = runs(&out);
    assert!(
        !runs[0].with_extension("done").exists(),
        "the first run was not stopped"
    );
    assert_eq!(stdin_of(runs.last().unwrap())["status"]["step"], 5);
    assert!(runs.last().unwrap().with_extension("done").exists());
}

#[test]
fn exec_timeout_stops_a_hung_run() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({}));
    let started = Instant::now();
    let output = s.run(&[
        "widgets/foo",
        "--initial",
        "--count",
        "1",
        "--exec-timeout",
        "300ms",
        "--stop-timeout",
        "1s",
        "--",
        "sleep",
        "60",
    ]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr(&output).contains("exit code 124"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_failed_run_is_retried_with_backoff() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = s.dir.path().join("flaky.sh");
    // Fails twice, then succeeds; records when each attempt started.
    std::fs::write(
        &script,
        "#!/bin/sh\ndate +%s%N >> \"$OUT/attempts\"\n[ $(wc -l < \"$OUT/attempts\") -ge 3 ]\n",
    )
    .unwrap();
    make_executable(&script);
    s.widget("foo", json!({}), json!({}));
    let output = s
        .notify(&[
            "widgets/foo",
            "--initial",
            "--count",
            "1",
            "--retries",
            "3",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let times: Vec<u128> = std::fs::read_to_string(out.join("attempts"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(times.len(), 3, "three attempts");
    let (first_gap, second_gap) = (times[1] - times[0], times[2] - times[1]);
    assert!(first_gap >= 200_000_000, "no backoff: {first_gap} ns");
    assert!(
        second_gap > first_gap,
        "backoff does not grow: {first_gap} then {second_gap}"
    );
}

#[test]
fn max_failures_ends_with_the_commands_code() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--max-failures",
            "2",
            "--",
            "sh",
            "-c",
            "exit 7",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.set_status("foo", json!({"n": 1}));
    std::thread::sleep(Duration::from_millis(300));
    s.set_status("foo", json!({"n": 2}));
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 7, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--max-failures"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sigterm_reaches_the_command_group_and_leaves_no_orphans() {
    let s = Scenario::new();
    let out = out_dir(&s);
    s.widget("foo", json!({}), json!({}));
    let script = "trap 'echo term > \"$OUT/term\"; exit 0' TERM; sleep 100 & echo $! > \"$OUT/grandchild\"; wait";
    let child = s
        .notify(&["widgets/foo", "--initial", "--", "sh", "-c", script])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !out.join("grandchild").exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    std::process::Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = finish(child, Duration::from_secs(20));
    assert_eq!(code(&output), 143, "{}", stderr(&output));
    assert!(out.join("term").exists(), "the command never got SIGTERM");
    let pid = std::fs::read_to_string(out.join("grandchild")).unwrap();
    // A killed process may linger a moment as a zombie until it is reaped.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid.trim()) {
        assert!(
            Instant::now() < deadline,
            "the command's child {pid} outlived it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the process exists and is not a zombie.
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

#[test]
fn a_command_that_reads_no_stdin_gets_a_big_object_without_deadlock() {
    let s = Scenario::new();
    s.widget("big", json!({"blob": "x".repeat(1024 * 1024)}), json!({}));
    let output = s.run(&["widgets/big", "--initial", "--count", "1", "--", "true"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
}

#[test]
fn in_wait_mode_the_command_runs_once_and_its_code_is_ours() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.widget("foo", json!({}), json!({"ready": true}));
    let output = s
        .notify(&[
            "widgets/foo",
            "--until",
            ".status.ready == true",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert_eq!(runs(&out).len(), 1);
    assert_eq!(stdin_of(&runs(&out)[0])["metadata"]["name"], "foo");
    let output = s.run(&[
        "widgets/foo",
        "--until",
        ".status.ready == true",
        "--",
        "sh",
        "-c",
        "exit 5",
    ]);
    assert_eq!(code(&output), 5, "{}", stderr(&output));
}

#[test]
fn for_delete_hands_the_command_the_last_known_state() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    s.widget("foo", json!({"size": 3}), json!({"ready": true}));
    let mut child = s
        .notify(&[
            "widgets/foo",
            "--for",
            "delete",
            "--timeout",
            "30s",
            "-o",
            "json",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .spawn()
        .unwrap();
    s.wait_for_watch("foo", &mut child);
    s.server
        .delete("widgets.example.com", Some("default"), "foo")
        .unwrap();
    let output = finish(child, Duration::from_secs(30));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let run = &runs(&out)[0];
    let object = stdin_of(run);
    assert_eq!(object["metadata"]["name"], "foo");
    assert_eq!(object["spec"]["size"], 3, "the last known state: {object}");
    let env = env_of(run);
    for line in [
        "KUBECTL_NOTIFY_EVENT=deleted",
        "KUBECTL_NOTIFY_KIND=Widget",
        "KUBECTL_NOTIFY_API_VERSION=example.com/v1",
        "KUBECTL_NOTIFY_NAME=foo",
        "KUBECTL_NOTIFY_NAMESPACE=default",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing in {env}");
    }
    assert!(
        env.lines()
            .any(|l| l.starts_with("KUBECTL_NOTIFY_UID=") && l.len() > 19),
        "{env}"
    );
    let printed: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(printed["spec"]["size"], 3, "-o json prints the same state");
}

#[test]
fn for_delete_of_an_object_never_seen_hands_over_its_identity() {
    let s = Scenario::new();
    let out = out_dir(&s);
    let script = recorder(s.dir.path());
    let output = s
        .notify(&[
            "widgets/ghost",
            "--for",
            "delete",
            "-o",
            "json",
            "--",
            script.to_str().unwrap(),
        ])
        .env("OUT", &out)
        .output()
        .unwrap();
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let run = &runs(&out)[0];
    assert_eq!(
        stdin_of(run),
        json!({"apiVersion": "example.com/v1", "kind": "Widget",
               "metadata": {"name": "ghost", "namespace": "default"}})
    );
    let env = env_of(run);
    for line in [
        "KUBECTL_NOTIFY_EVENT=deleted",
        "KUBECTL_NOTIFY_KIND=Widget",
        "KUBECTL_NOTIFY_NAME=ghost",
        "KUBECTL_NOTIFY_NAMESPACE=default",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing in {env}");
    }
    assert_ne!(stdout(&output).trim(), "null");
}
