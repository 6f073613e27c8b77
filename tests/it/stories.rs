//! Stories told on both tiers: each is one function over `&dyn Cluster`, run
//! here on the project's test server and in `real::` on a real control plane.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, Watching};
use crate::common::*;
use testserver::{Options, StreamingLists, TestServer};

/// A wait that holds at start ends at once with kubectl's line; one that does
/// not yet hold ends when the status is written.
pub fn a_wait_ends_when_the_status_is_written(c: &dyn Cluster) {
    c.create_widget("early", json!({"size": 1}));
    c.set_widget_status("early", json!({"ready": true}));
    let out = c.run(&["widgets/early", "--until", READY, "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/early condition met\n");

    c.create_widget("late", json!({"size": 1}));
    let run = Watching::start(
        c,
        &["widgets/late", "--until", READY, "--timeout", "30s"],
        1,
    );
    c.set_widget_status("late", json!({"ready": true}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/late condition met\n");
}

/// Every `--for` form kubectl wait knows (and one it refuses), checked once
/// (`--timeout 0`) on objects that meet it, do not, are stale
/// (observedGeneration behind) or are absent: real kubectl 1.37 and we give
/// the same verdict and, when met, the same line; where kubectl exits 1 (not
/// met) we exit 124 (SPEC §7), where it refuses a form so do we (exit 2).
pub fn every_form_kubectl_wait_knows_gets_the_same_verdict_at_once(c: &dyn Cluster) {
    c.create_widget("ready", json!({}));
    c.set_widget_status(
        "ready",
        json!({"phase": "Running", "replicas": 3, "conditions": [
            {"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}),
    );
    c.patch_widget(
        "ready",
        json!({"metadata": {"labels": {"a.b/c": "x", "app-name": "web"}}}),
    );
    c.create_widget("stale", json!({"size": 1}));
    let stale = c.patch_widget("stale", json!({"spec": {"size": 2}}));
    assert_eq!(stale["metadata"]["generation"], 2);
    c.set_widget_status(
        "stale",
        json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    c.create_widget("bare", json!({}));

    let forms = [
        "condition=Ready",
        "condition=ready",
        "condition=Ready=True",
        "condition=Ready=False",
        "condition=Synced=false",
        "condition=Missing",
        "jsonpath={.status.phase}=Running",
        "jsonpath={.status.phase}=Pending",
        "jsonpath={.status.replicas}=3",
        "jsonpath={.status.phase}",
        "jsonpath={.status.nothing}",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}=True",
        "jsonpath={.metadata.labels.a\\.b/c}=x",
        "jsonpath={.metadata.labels.a\\.b/c}",
        "jsonpath={.metadata.labels.app-name}=web",
        "jsonpath={.status.conditions[*].type}=Ready",
        "delete",
        "create",
    ];
    let mut met = 0;
    for object in ["ready", "stale", "bare", "absent"] {
        for form in forms {
            let target = format!("widgets/{object}");
            let theirs = finish(
                c.kubectl_cmd(&["wait", &format!("--for={form}"), &target, "--timeout=0s"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap(),
                Duration::from_secs(30),
            );
            let ours = c.run(&[&target, "--for", form, "--timeout", "0"]);
            let case = format!(
                "{target} --for {form}: kubectl exit {} ({}{}), ours exit {} ({})",
                code(&theirs),
                text(&theirs.stdout),
                text(&theirs.stderr),
                code(&ours),
                stderr(&ours)
            );
            match code(&theirs) {
                0 => {
                    assert_eq!(code(&ours), 0, "{case}");
                    if object == "absent" && form == "delete" {
                        // kubectl prints nothing for what it never found;
                        // we print the line for every target (SPEC §5).
                        assert_eq!(stdout(&theirs), "", "{case}");
                        assert_eq!(
                            stdout(&ours),
                            "widget.example.com/absent condition met\n",
                            "{case}"
                        );
                    } else {
                        assert_eq!(stdout(&ours), stdout(&theirs), "{case}");
                    }
                    met += 1;
                }
                1 if text(&theirs.stderr).contains("more than one value") => {
                    // Several values: kubectl refuses, and so do we, as bad input.
                    assert_eq!(code(&ours), 2, "{case}");
                }
                1 => assert_eq!(code(&ours), 124, "{case}"),
                _ => panic!("{case}"),
            }
        }
    }
    // Not a vacuous agreement: each object meets some forms.
    assert!(met >= 12, "only {met} met");
}

#[test]
fn every_form_kubectl_wait_knows_gets_the_same_verdict_at_once_on_the_test_server() {
    every_form_kubectl_wait_knows_gets_the_same_verdict_at_once(&Scenario::new());
}

/// Notify mode with `--on-change` and `-o json`: one line per change of the
/// watched path, with the change's old and new values; other changes are quiet.
pub fn on_change_prints_each_change_of_the_path_as_json(c: &dyn Cluster) {
    c.create_widget("w", json!({"size": 1, "color": "red"}));
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--on-change",
            ".spec.size",
            "-o",
            "json",
            "--count",
            "2",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.patch_widget("w", json!({"spec": {"color": "blue"}}));
    c.patch_widget("w", json!({"spec": {"size": 2}}));
    c.patch_widget("w", json!({"spec": {"size": 3}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    for (line, (old, new)) in lines.iter().zip([(1, 2), (2, 3)]) {
        assert_eq!(line["type"], "modified");
        assert_eq!(line["name"], "w");
        assert_eq!(line["namespace"], c.namespace());
        assert_eq!(line["object"]["spec"]["size"], new);
        let change = line["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ch| ch["path"] == ".spec.size")
            .unwrap_or_else(|| panic!("no .spec.size change in {line}"));
        assert_eq!(
            (change["old"].clone(), change["new"].clone()),
            (json!(old), json!(new))
        );
    }
}

#[test]
fn a_wait_ends_when_the_status_is_written_on_the_test_server() {
    a_wait_ends_when_the_status_is_written(&Scenario::new());
}

#[test]
fn on_change_prints_each_change_of_the_path_as_json_on_the_test_server() {
    on_change_prints_each_change_of_the_path_as_json(&Scenario::new());
}

/// `--for delete` ends when the object goes, with kubectl's line, and at once
/// for an object that is already gone.
pub fn for_delete_ends_when_the_object_goes(c: &dyn Cluster) {
    c.create_widget("doomed", json!({}));
    let run = Watching::start(
        c,
        &["widgets/doomed", "--for", "delete", "--timeout", "30s"],
        1,
    );
    c.delete_widget("doomed");
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/doomed condition met\n");

    let out = c.run(&["widgets/never", "--for", "delete", "--timeout", "30s"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/never condition met\n");
}

#[test]
fn for_delete_ends_when_the_object_goes_on_the_test_server() {
    for_delete_ends_when_the_object_goes(&Scenario::new());
}

/// `-o json` lines of a finished run, parsed.
fn json_lines(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `type name` of each `-o json` line.
fn seen(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["type"].as_str().unwrap(),
                l["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// With a label selector the set is live: an object relabelled into it is
/// created for the user, one relabelled out of it is deleted, and a change
/// to a member is a modification.
pub fn selected_objects_join_and_leave(c: &dyn Cluster) {
    c.create_widget("joiner", json!({"size": 1}));
    c.create_widget("leaver", json!({"size": 1}));
    c.patch_widget("leaver", json!({"metadata": {"labels": {"team": "a"}}}));
    let run = Watching::start(
        c,
        &[
            "widgets",
            "-l",
            "team=a",
            "-o",
            "json",
            "--count",
            "3",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.patch_widget("joiner", json!({"metadata": {"labels": {"team": "a"}}}));
    c.patch_widget("leaver", json!({"metadata": {"labels": {"team": "b"}}}));
    let resized = c.patch_widget("joiner", json!({"spec": {"size": 2}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        seen(&lines),
        ["created joiner", "deleted leaver", "modified joiner"]
    );
    assert_eq!(lines[2]["object"]["spec"]["size"], 2);
    assert_eq!(
        lines[2]["resourceVersion"],
        resized["metadata"]["resourceVersion"]
    );
}

/// A deleted object created again under the same name is a new object: its
/// own UID, a creation, never a modification of the old one.
pub fn a_recreated_object_is_a_new_object(c: &dyn Cluster) {
    let old = c.create_widget("phoenix", json!({"size": 1}));
    let run = Watching::start(
        c,
        &[
            "widgets/phoenix",
            "-o",
            "json",
            "--count",
            "3",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.delete_widget("phoenix");
    // The deletion must be seen before the name is taken again.
    std::thread::sleep(Duration::from_millis(300));
    let new = c.create_widget("phoenix", json!({"size": 2}));
    c.patch_widget("phoenix", json!({"spec": {"size": 3}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(
        seen(&lines),
        ["deleted phoenix", "created phoenix", "modified phoenix"]
    );
    assert_eq!(lines[0]["uid"], old["metadata"]["uid"]);
    assert_ne!(old["metadata"]["uid"], new["metadata"]["uid"]);
    assert_eq!(lines[1]["uid"], new["metadata"]["uid"]);
    assert_eq!(lines[2]["uid"], new["metadata"]["uid"]);
    // The new object's changes are against itself, not the old one.
    let changed: Vec<&Value> = lines[2]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| &ch["path"])
        .collect();
    assert_eq!(changed, [".spec.size"], "{}", lines[2]);
    assert_eq!(lines[2]["changes"][0]["old"], 2);
}

/// `--initial` makes the state at start one notification per object, then
/// changes follow as usual.
pub fn initial_reports_the_state_at_start(c: &dyn Cluster) {
    c.create_widget("a", json!({"size": 1}));
    c.create_widget("b", json!({"size": 1}));
    let run = Watching::start(
        c,
        &[
            "widgets",
            "--all",
            "--initial",
            "-o",
            "json",
            "--count",
            "3",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.patch_widget("b", json!({"spec": {"size": 2}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    let mut first_two = seen(&lines[..2]);
    first_two.sort();
    assert_eq!(first_two, ["initial a", "initial b"]);
    assert_eq!(seen(&lines[2..]), ["modified b"]);
}

/// `--when` fires on the edge: when the expression becomes true, not on
/// every version where it holds; it fires again after it stopped holding.
pub fn when_fires_when_the_expression_becomes_true(c: &dyn Cluster) {
    c.create_widget("w", json!({"size": 1}));
    c.set_widget_status("w", json!({"ready": false}));
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--when",
            READY,
            "-o",
            "json",
            "--count",
            "2",
            "--timeout",
            "30s",
        ],
        1,
    );
    let first = c.set_widget_status("w", json!({"ready": true}));
    c.patch_widget("w", json!({"spec": {"size": 2}}));
    c.set_widget_status("w", json!({"ready": false}));
    let second = c.set_widget_status("w", json!({"ready": true}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    let versions: Vec<&Value> = lines.iter().map(|l| &l["resourceVersion"]).collect();
    assert_eq!(
        versions,
        [
            &first["metadata"]["resourceVersion"],
            &second["metadata"]["resourceVersion"]
        ]
    );
}

/// A command runs once per change, with the object's JSON on stdin and the
/// object named in `KUBECTL_NOTIFY_*`.
pub fn a_command_gets_the_object_on_stdin_and_in_its_environment(c: &dyn Cluster) {
    c.create_widget("w", json!({"size": 1}));
    let out_dir = c.home().join("runs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let dir = out_dir.to_str().unwrap();
    let script = "cat > \"$0/$KUBECTL_NOTIFY_RESOURCE_VERSION.json\"; \
                  env | grep '^KUBECTL_NOTIFY_' | sort > \"$0/$KUBECTL_NOTIFY_RESOURCE_VERSION.env\"";
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--count",
            "1",
            "--timeout",
            "30s",
            "--",
            "sh",
            "-c",
            script,
            dir,
        ],
        1,
    );
    let changed = c.patch_widget("w", json!({"spec": {"size": 2}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rv = changed["metadata"]["resourceVersion"].as_str().unwrap();
    let stdin: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join(format!("{rv}.json"))).unwrap())
            .unwrap();
    assert_eq!(stdin["spec"]["size"], 2);
    assert_eq!(stdin["metadata"]["uid"], changed["metadata"]["uid"]);
    assert_eq!(stdin["kind"], "Widget");
    let env = std::fs::read_to_string(out_dir.join(format!("{rv}.env"))).unwrap();
    for line in [
        "KUBECTL_NOTIFY_EVENT=modified".to_string(),
        "KUBECTL_NOTIFY_KIND=Widget".into(),
        "KUBECTL_NOTIFY_API_VERSION=example.com/v1".into(),
        "KUBECTL_NOTIFY_RESOURCE=widgets.example.com".into(),
        format!("KUBECTL_NOTIFY_NAMESPACE={}", c.namespace()),
        "KUBECTL_NOTIFY_NAME=w".into(),
        format!(
            "KUBECTL_NOTIFY_UID={}",
            changed["metadata"]["uid"].as_str().unwrap()
        ),
        format!("KUBECTL_NOTIFY_RESOURCE_VERSION={rv}"),
    ] {
        assert!(
            env.lines().any(|l| l == line),
            "{line} missing from:\n{env}"
        );
    }
}

/// A webhook and a CloudEvents sink each get every change, as the JSON line
/// (and the CloudEvents headers, `ce-id` = uid/resourceVersion/type).
pub fn webhook_and_cloudevents_sinks_get_each_change(c: &dyn Cluster) {
    use crate::receiver::Receiver;
    let hook = Receiver::start();
    let events = Receiver::start();
    let hook_file = c.home().join("hook-url");
    let events_file = c.home().join("events-url");
    std::fs::write(&hook_file, hook.url()).unwrap();
    std::fs::write(&events_file, events.url()).unwrap();
    let created = c.create_widget("w", json!({"size": 1}));
    let webhook = format!("webhook:file:{}", hook_file.display());
    let cloudevents = format!("cloudevents:file:{}", events_file.display());
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--sink",
            &webhook,
            "--sink",
            &cloudevents,
            "--count",
            "2",
            "-q",
            "--timeout",
            "30s",
        ],
        1,
    );
    let one = c.patch_widget("w", json!({"spec": {"size": 2}}));
    c.delete_widget("w");
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let uid = created["metadata"]["uid"].as_str().unwrap();
    for receiver in [&hook, &events] {
        let got = receiver.delivered();
        let kinds: Vec<Value> = got.iter().map(|r| r.json()["type"].clone()).collect();
        assert_eq!(kinds, [json!("modified"), json!("deleted")]);
        let first = got[0].json();
        assert_eq!(first["object"]["spec"]["size"], 2);
        assert_eq!(first["namespace"], c.namespace());
        assert_eq!(first["uid"], uid);
    }
    let ce = events.delivered();
    assert_eq!(ce[0].header("ce-specversion"), Some("1.0"));
    assert_eq!(
        ce[0].header("ce-id").unwrap(),
        format!(
            "{uid}/{}/modified",
            one["metadata"]["resourceVersion"].as_str().unwrap()
        )
    );
    assert_eq!(ce[0].header("ce-type"), Some("kubectl-notify.modified"));
    assert_eq!(ce[1].header("ce-type"), Some("kubectl-notify.deleted"));
    assert_eq!(ce[0].header("ce-subject"), Some("w"));
}

#[test]
fn selected_objects_join_and_leave_on_the_test_server() {
    selected_objects_join_and_leave(&Scenario::new());
}

#[test]
fn a_recreated_object_is_a_new_object_on_the_test_server() {
    a_recreated_object_is_a_new_object(&Scenario::new());
}

#[test]
fn initial_reports_the_state_at_start_on_the_test_server() {
    initial_reports_the_state_at_start(&Scenario::new());
}

#[test]
fn when_fires_when_the_expression_becomes_true_on_the_test_server() {
    when_fires_when_the_expression_becomes_true(&Scenario::new());
}

#[test]
fn a_command_gets_the_object_on_stdin_and_in_its_environment_on_the_test_server() {
    a_command_gets_the_object_on_stdin_and_in_its_environment(&Scenario::new());
}

#[test]
fn webhook_and_cloudevents_sinks_get_each_change_on_the_test_server() {
    webhook_and_cloudevents_sinks_get_each_change(&Scenario::new());
}

/// A deletion held by a finalizer is a modification (`deletionTimestamp`
/// set, the generation moved); the object goes, as one deletion, when its
/// last finalizer is removed — and only then does `--for delete` end.
pub fn a_finalizer_holds_a_deletion_until_it_is_removed(c: &dyn Cluster) {
    let created = c.create_widget("held", json!({"size": 1}));
    c.patch_widget(
        "held",
        json!({"metadata": {"finalizers": ["example.com/hold"]}}),
    );
    let changes = Watching::start(
        c,
        &[
            "widgets/held",
            "-o",
            "json",
            "--count",
            "2",
            "--timeout",
            "30s",
        ],
        1,
    );
    let mut gone = Watching::start(
        c,
        &["widgets/held", "--for", "delete", "--timeout", "30s"],
        1,
    );
    c.delete_widget("held");
    std::thread::sleep(Duration::from_millis(500));
    assert!(gone.running(), "--for delete ended with a finalizer left");
    c.patch_widget("held", json!({"metadata": {"finalizers": null}}));
    let out = gone.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/held condition met\n");

    let out = changes.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(seen(&lines), ["modified held", "deleted held"]);
    let deleting = &lines[0]["object"]["metadata"];
    assert!(deleting["deletionTimestamp"].is_string(), "{}", lines[0]);
    assert_eq!(deleting["generation"], 2, "{}", lines[0]);
    let paths: Vec<&str> = lines[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ch| ch["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&".metadata.deletionTimestamp"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["uid"], created["metadata"]["uid"]);
}

#[test]
fn a_finalizer_holds_a_deletion_until_it_is_removed_on_the_test_server() {
    a_finalizer_holds_a_deletion_until_it_is_removed(&Scenario::new());
}

/// A user who may not read the type is refused at start: exit 3, one line
/// naming the verbs and the resource needed, where, and what the server said.
pub fn a_user_without_rights_is_refused_at_start(c: &dyn Cluster) {
    let config = c.kubeconfig_without_rights();
    let ns = c.namespace();
    let run = |args: &[&str]| {
        finish(
            plugin(&config, c.home(), args).spawn().unwrap(),
            Duration::from_secs(30),
        )
    };
    for (args, wanted) in [
        (
            &["widgets/w", "--until", READY, "--timeout", "10s"][..],
            format!(
                "error: forbidden: watching needs the verbs get, list, watch on widgets.example.com in namespace \"{ns}\"; \
                 ask for them or use another --context (server said: widgets.example.com \"w\" is forbidden: \
                 User \"limited\" cannot list resource \"widgets\" in API group \"example.com\" in the namespace \"{ns}\")\n"
            ),
        ),
        (
            &["widgets", "-A", "--timeout", "10s"][..],
            "error: forbidden: watching needs the verbs get, list, watch on widgets.example.com cluster-wide; \
             ask for them or use another --context (server said: widgets.example.com is forbidden: \
             User \"limited\" cannot list resource \"widgets\" in API group \"example.com\" at the cluster scope)\n"
                .to_string(),
        ),
    ] {
        let out = run(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), wanted, "{args:?}");
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn a_user_without_rights_is_refused_at_start_on_the_test_server() {
    a_user_without_rights_is_refused_at_start(&Scenario::new());
}

/// The default output: a header per change and a field-level diff that
/// leaves out what the server itself moves (managedFields,
/// resourceVersion, generation).
pub fn human_output_shows_what_changed_and_nothing_the_server_moved(c: &dyn Cluster) {
    c.create_widget("h", json!({"size": 1}));
    let run = Watching::start(
        c,
        &[
            "widgets/h",
            "--count",
            "3",
            "--timeout",
            "30s",
            "--color",
            "never",
        ],
        1,
    );
    let resized = c.patch_widget(
        "h",
        json!({"spec": {"size": 2}, "metadata": {"labels": {"a": "b"}}}),
    );
    let ready = c.set_widget_status("h", json!({"ready": true}));
    c.delete_widget("h");
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // The time of day and the deletion's resourceVersion vary.
    let printed: Vec<String> = stdout(&out)
        .lines()
        .map(|l| match l.split_once("  ") {
            Some((time, rest)) if time.len() == 8 && time.as_bytes()[2] == b':' => {
                let rest = rest.trim_start();
                match rest.rsplit_once("  rv ") {
                    Some((head, _)) if rest.starts_with("deleted") => format!("{head}  rv *"),
                    _ => rest.to_string(),
                }
            }
            _ => l.to_string(),
        })
        .collect();
    let ns = c.namespace();
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        printed,
        [
            format!(
                "modified  widget.example.com/h  ({ns})  rv {}",
                rv(&resized)
            ),
            "          + .metadata.labels  {\"a\":\"b\"}".to_string(),
            "          ~ .spec.size        1 → 2".to_string(),
            format!("modified  widget.example.com/h  ({ns})  rv {}", rv(&ready)),
            "          + .status  {\"ready\":true}".to_string(),
            format!("deleted   widget.example.com/h  ({ns})  rv *"),
        ],
        "{}",
        stdout(&out)
    );
}

#[test]
fn human_output_shows_what_changed_and_nothing_the_server_moved_on_the_test_server() {
    human_output_shows_what_changed_and_nothing_the_server_moved(&Scenario::new());
}

/// A built-in type: `--on-change .data` on a ConfigMap is one notification
/// per change of its data (a label is not one), and the object handed on is
/// the server's — a ConfigMap has no `metadata.generation`.
pub fn a_configmaps_data_change_is_one_notification(c: &dyn Cluster) {
    c.create_object(
        "configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "app"}, "data": {"k": "1"}}),
    );
    let run = Watching::start(
        c,
        &[
            "configmaps/app",
            "--on-change",
            ".data",
            "-o",
            "json",
            "--count",
            "1",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.patch_object(
        "configmaps",
        "app",
        json!({"metadata": {"labels": {"a": "b"}}}),
    );
    let changed = c.patch_object("configmaps", "app", json!({"data": {"k": "2"}}));
    let out = run.finish(Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(seen(&lines), ["modified app"]);
    let line = &lines[0];
    assert_eq!(line["kind"], "ConfigMap");
    assert_eq!(line["apiVersion"], "v1");
    assert_eq!(
        line["resourceVersion"],
        changed["metadata"]["resourceVersion"]
    );
    assert_eq!(line["object"]["data"], json!({"k": "2"}));
    let change = line["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ch| ch["path"] == ".data.k")
        .unwrap_or_else(|| panic!("no .data.k change in {line}"));
    assert_eq!((&change["old"], &change["new"]), (&json!("1"), &json!("2")));
    assert!(
        line["object"]["metadata"].get("generation").is_none(),
        "{line}"
    );
}

#[test]
fn a_configmaps_data_change_is_one_notification_on_the_test_server() {
    a_configmaps_data_change_is_one_notification(&Scenario::new());
}

/// A Namespace carries its name as a label (`kubernetes.io/metadata.name`,
/// set by the server), so a selector can wait for one to be created.
pub fn a_namespace_is_selected_by_its_name_label(c: &dyn Cluster) {
    let name = format!("{}-extra", c.namespace());
    let selector = format!("kubernetes.io/metadata.name={name}");
    let run = Watching::start(
        c,
        &[
            "namespaces",
            "-l",
            &selector,
            "--until",
            ".status.phase == Active",
            "--timeout",
            "30s",
        ],
        1,
    );
    c.create_object(
        "namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    );
    let out = run.finish(Duration::from_secs(30));
    c.delete_object("namespaces", &name);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("namespace/{name} condition met\n"));
}

#[test]
fn a_namespace_is_selected_by_its_name_label_on_the_test_server() {
    a_namespace_is_selected_by_its_name_label(&Scenario::new());
}

/// The apiserver killed mid-watch and started again: the change made before
/// the restart is printed once, the one after it too. The restarted server
/// no longer has the history the watch was at (its watch cache starts from
/// a fresh list), so the watch resumes through a re-list.
pub fn a_watch_cut_by_an_apiserver_restart_resumes(c: &dyn Cluster) {
    c.create_widget("w", json!({"size": 1}));
    let run = Watching::start(
        c,
        &[
            "widgets/w",
            "--on-change",
            ".spec.size",
            "-o",
            "name",
            "--count",
            "2",
            "--timeout",
            "90s",
        ],
        1,
    );
    c.patch_widget("w", json!({"spec": {"size": 2}}));
    std::thread::sleep(Duration::from_millis(500));
    // Something else written meanwhile: the history moves on.
    c.create_widget("other", json!({}));
    c.restart_apiserver();
    c.patch_widget("w", json!({"spec": {"size": 3}}));
    let out = run.finish(Duration::from_secs(90));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/w\nwidget.example.com/w\n");
    assert!(stderr(&out).contains("re-listing"), "{}", stderr(&out));
}

#[test]
fn a_watch_cut_by_an_apiserver_restart_resumes_on_the_test_server() {
    a_watch_cut_by_an_apiserver_restart_resumes(&Scenario::new());
}

/// However the server answers the first list — a streaming list, or a
/// refusal of it followed by paginated list + watch — every object is
/// listed once and every change after is seen, with nothing said on stderr
/// about the refusal.
pub fn every_object_is_listed_and_every_change_after_seen(c: &dyn Cluster) {
    const OBJECTS: usize = 30;
    const CHANGED: usize = 10;
    for n in 0..OBJECTS {
        c.create_widget(&format!("w{n:02}"), json!({"i": 0}));
    }
    let count = (OBJECTS + CHANGED).to_string();
    let run = Watching::start(
        c,
        &[
            "widgets",
            "--all",
            "--initial",
            "--on-change",
            ".spec.i",
            "-o",
            "json",
            "--count",
            &count,
            "--timeout",
            "60s",
        ],
        1,
    );
    for n in 0..CHANGED {
        c.patch_widget(&format!("w{n:02}"), json!({"spec": {"i": 1}}));
    }
    let out = run.finish(Duration::from_secs(60));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    let mut listed = seen(&lines[..OBJECTS]);
    listed.sort();
    let want: Vec<String> = (0..OBJECTS).map(|n| format!("initial w{n:02}")).collect();
    assert_eq!(listed, want);
    let changed: Vec<String> = (0..CHANGED).map(|n| format!("modified w{n:02}")).collect();
    assert_eq!(seen(&lines[OBJECTS..]), changed);
    let said = stderr(&out);
    assert!(
        !said.contains("warning") && !said.contains("error"),
        "{said}"
    );
    // One list, said once at -v, however it was read.
    assert_eq!(said.matches(": listing\n").count(), 1, "{said}");
}

#[test]
fn a_streaming_list_sees_every_object_and_change_on_the_test_server() {
    let c = Scenario::new();
    every_object_is_listed_and_every_change_after_seen(&c);
    // One watch listed them: no paginated list was asked for.
    let requests = c.server.requests();
    let widgets = || {
        requests
            .iter()
            .filter(|r| r.path_and_query.contains("/widgets"))
    };
    assert!(
        widgets().any(|r| r.path_and_query.contains("sendInitialEvents=true")),
        "{requests:?}"
    );
    assert!(
        !widgets().any(|r| !r.path_and_query.contains("watch=")),
        "{requests:?}"
    );
}

#[test]
fn refused_streaming_lists_fall_back_to_list_and_watch_on_the_test_server() {
    for refusal in [StreamingLists::NoWatchProgress, StreamingLists::GateOff] {
        let c = Scenario::on(TestServer::start_with(Options {
            tls: true,
            streaming_lists: refusal,
            ..Options::default()
        }));
        every_object_is_listed_and_every_change_after_seen(&c);
        let requests = c.server.requests();
        assert!(
            requests
                .iter()
                .any(|r| r.path_and_query.contains("/widgets?")
                    && r.path_and_query.contains("limit=")),
            "{refusal:?}: {requests:?}"
        );
    }
}

/// Changed again and again, rules with `--resolve` hand their open alerts
/// from each version to the next: an alert that fired before the first
/// reload is resolved once, after the last, and an object failing and
/// recovering all along is told each time, once, in order. Two rules of
/// two targets each change too: their new versions, reading at once, let
/// the process's other tasks run before the old versions heard their
/// stop, so that a shared watch let an old version go first (it then
/// ended as if its watch had failed, and its open alerts were lost).
pub fn open_alerts_survive_many_reloads_in_a_row(c: &dyn Cluster) {
    const RULES: usize = 8;
    const RELOADS: usize = 20;
    let labels: serde_json::Map<String, Value> = (1..=RULES)
        .map(|i| (format!("r{i}"), json!("reloads")))
        .collect();
    for name in ["foo", "bar"] {
        c.create_widget(name, json!({}));
        c.patch_widget(name, json!({"metadata": {"labels": labels}}));
        c.set_widget_status(name, json!({"phase": "Running"}));
    }
    // Each version spelled apart from the one before; each alerting rule
    // reads a watch of its own.
    let version = |n: usize| {
        let (diff, events) = match n % 2 {
            1 => (", --diff, paths", ", --events, 'created,modified,deleted'"),
            _ => ("", ""),
        };
        let mut rules = String::from("rules:\n");
        for i in 1..=RULES {
            rules += &format!(
                "  - name: r{i}\n    args: [widgets, -l, r{i}=reloads, -o, json, --resolve, --when, '.status.phase == \"Failed\"'{diff}]\n"
            );
        }
        for j in 1..=2 {
            rules += &format!("  - name: both{j}\n    args: [widgets, foo, bar, -q{events}]\n");
        }
        rules
    };
    let file = c.home().join("rules.yaml");
    std::fs::write(&file, version(0)).unwrap();
    // More than a pipe holds: to a file, which nothing needs to drain.
    let printed = c.home().join("told");
    let lines = || std::fs::read_to_string(&printed).unwrap_or_default();
    let child = c
        .notify(&[
            "--rules",
            &file.to_string_lossy(),
            "-v",
            "--timeout",
            "120s",
        ])
        .stdout(std::fs::File::create(&printed).unwrap())
        .spawn()
        .unwrap();
    let mut run = Watching::of(child);
    run.until(
        |said| said.matches("list complete, watching").count() >= RULES + 4,
        Duration::from_secs(30),
        "start watching",
    );
    let until = |count: usize, what: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while lines().lines().count() < count {
            assert!(std::time::Instant::now() < deadline, "{what}: {}", lines());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    c.set_widget_status("foo", json!({"phase": "Failed"}));
    until(RULES, "foo's alerts");
    // bar fails and recovers all along as the rules change (kubectl
    // writes it, at its own pace).
    let mut flips: Vec<std::process::Command> = (0..2 * RELOADS)
        .map(|n| {
            let phase = ["Failed", "Running"][n % 2];
            let patch = format!("{{\"status\":{{\"phase\":\"{phase}\"}}}}");
            let mut kubectl = c.kubectl_cmd(&[
                "patch",
                "widgets.example.com/bar",
                "--subresource=status",
                "--type=merge",
                "-p",
                &patch,
            ]);
            kubectl.stdout(std::process::Stdio::null());
            kubectl
        })
        .collect();
    let flipping = std::thread::spawn(move || {
        for kubectl in &mut flips {
            assert!(kubectl.status().unwrap().success());
        }
    });
    for n in 1..=RELOADS {
        std::fs::write(&file, version(n)).unwrap();
        run.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(300));
    }
    flipping.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    c.set_widget_status("foo", json!({"phase": "Running"}));
    // Each rule: foo's firing and resolution, and bar's, each time.
    until(RULES * (2 + 2 * RELOADS), "every notification");
    std::thread::sleep(Duration::from_millis(300));
    run.signal(libc::SIGTERM);
    let out = run.finish(Duration::from_secs(30));
    let told = crate::rules::told(&lines());
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    let bar: Vec<_> = (0..RELOADS)
        .flat_map(|_| [s("bar", "modified"), s("bar", "resolved")])
        .collect();
    for i in 1..=RULES {
        let lines = told.get(&format!("r{i}")).cloned().unwrap_or_default();
        let (fired, others): (Vec<_>, Vec<_>) =
            lines.into_iter().partition(|(name, _)| name == "foo");
        assert_eq!(
            fired,
            [s("foo", "modified"), s("foo", "resolved")],
            "rule r{i}: {}",
            stderr(&out)
        );
        assert_eq!(others, bar, "rule r{i}: {}", stderr(&out));
    }
}
