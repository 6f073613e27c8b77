//! `--rules FILE`: many named command lines in one process. Bad files are
//! refused before any request, naming the rule and the argument; a process
//! of rules shares its watches and each rule tells exactly what its command
//! line alone would.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;
use crate::receiver::Receiver;

pub(crate) fn rules_file(scenario: &Scenario, yaml: &str) -> String {
    let path = scenario.dir.path().join("rules.yaml");
    std::fs::write(&path, yaml).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_rules_are_refused_naming_the_rule_and_the_argument() {
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        (
            "an unknown key",
            "rules:\n  - name: a\n    args: [widgets, --all]\n    sinks: []\n",
            &[],
            &["rules.yaml", "line 4", "unknown field `sinks`"],
        ),
        (
            "an unknown key at the top",
            "rule:\n  - name: a\n    args: [widgets, --all]\n",
            &[],
            &["unknown field `rule`"],
        ),
        (
            "YAML that does not parse",
            "rules: [\n",
            &[],
            &["rules.yaml", "line"],
        ),
        ("no rules", "rules: []\n", &[], &["no rules"]),
        (
            "a name that is not a DNS label",
            "rules:\n  - name: Failed_Widgets\n    args: [widgets, --all]\n",
            &[],
            &["rule name", "Failed_Widgets", "lowercase"],
        ),
        (
            "two rules of one name",
            "rules:\n  - name: a\n    args: [widgets, --all]\n  - name: a\n    args: [configmaps]\n",
            &[],
            &["two rules are named a"],
        ),
        (
            "a quote left open",
            "rules:\n  - name: a\n    args: \"widgets --when '.status.x\"\n",
            &[],
            &["rule a", "column 16", "never closed"],
        ),
        (
            "a process-wide flag inside a rule",
            "rules:\n  - name: a\n    args: \"widgets --all --metrics-addr :9090\"\n",
            &[],
            &["rule a", "--metrics-addr (column 15)", "process-wide"],
        ),
        (
            "a connection flag inside a rule (list form)",
            "rules:\n  - name: a\n    args: [widgets, --all, --context, other]\n",
            &[],
            &["rule a", "args[2] --context", "process-wide"],
        ),
        (
            "a rule's flag beside --rules",
            "rules:\n  - name: a\n    args: [widgets, --all]\n",
            &["-o", "json"],
            &["--output", "belongs to a rule"],
        ),
        (
            "a target beside --rules",
            "rules:\n  - name: a\n    args: [widgets, --all]\n",
            &["configmaps"],
            &["TARGET", "belongs to a rule"],
        ),
        (
            "a wait-mode rule",
            "rules:\n  - name: gate\n    args: \"widgets/foo --until .status.ready\"\n",
            &[],
            &["rule gate", "--until (column 13)", "notify mode"],
        ),
        (
            "a bad expression",
            "rules:\n  - name: ok\n    args: [widgets, --all]\n  - name: b\n    args: [widgets, --all, --when, '.status.x ==']\n",
            &[],
            &["rule b", "args[2] --when: invalid expression"],
        ),
        (
            "a list where the map goes",
            "- name: a\n  args: [widgets, --all]\n",
            &[],
            &["line 1", "expected a map with a `rules:` list"],
        ),
        (
            "a number where a rule goes",
            "rules: [3]\n",
            &[],
            &["rules[0]", "expected a map with `name:` and `args:`"],
        ),
        (
            "a bad value",
            "rules:\n  - name: a\n    args: widgets --all --count 0\n",
            &[],
            &["rule a", "--count (column 15)", "never notify"],
        ),
        (
            "an unknown flag",
            "rules:\n  - name: a\n    args: widgets --all  --bogus\n",
            &[],
            &["rule a", "--bogus (column 16)"],
        ),
    ];
    let scenario = Scenario::new();
    for (what, yaml, extra, says) in cases {
        let file = rules_file(&scenario, yaml);
        let before = scenario.server.requests().len();
        let mut args = vec!["--rules", &file];
        args.extend_from_slice(extra);
        let out = scenario.run(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{what}: {err}");
        // One line; an expression's error adds its caret display below.
        let first = err.lines().next().unwrap_or("");
        assert!(
            err.lines().count() == 1 || err.contains('^'),
            "{what}: one line: {err}"
        );
        for word in *says {
            assert!(first.contains(word), "{what}: wants {word:?} in {err}");
        }
        assert_eq!(
            scenario.server.requests().len(),
            before,
            "{what}: refused before any request"
        );
    }
    let out = scenario.run(&["--rules", "/no/such/rules.yaml"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot read it"), "{}", stderr(&out));
}

/// The rules of one process, each also run as its own command line.
const RULES: &[(&str, &[&str])] = &[
    ("everything", &["widgets", "--all", "-o", "json"]),
    (
        "failed",
        &[
            "widgets",
            "--all",
            "--when",
            ".status.phase == \"Failed\"",
            "-o",
            "json",
        ],
    ),
    (
        "foo-changes",
        &["widgets/foo", "--events", "modified,deleted", "-o", "json"],
    ),
    (
        "foo-born",
        &["widgets/foo", "--events", "created", "-o", "json"],
    ),
];

fn ids(stdout: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_rule: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in stdout.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        let id = format!(
            "{}/{}/{}",
            line["uid"].as_str().unwrap(),
            line["resourceVersion"].as_str().unwrap(),
            line["type"].as_str().unwrap()
        );
        let rule = line["rule"].as_str().unwrap_or("").to_string();
        by_rule.entry(rule).or_default().insert(id);
    }
    by_rule
}

pub(crate) fn watches(scenario: &Scenario) -> usize {
    scenario
        .server
        .requests()
        .iter()
        .filter(|r| r.path_and_query.contains("watch="))
        .count()
}

/// Runs a rules file for `timeout` (a webhook's URL in `HOOK`, if any)
/// and returns once its watch is open and settled.
pub(crate) fn watching(
    scenario: &Scenario,
    file: &str,
    timeout: &str,
    hook: Option<&crate::receiver::Receiver>,
) -> Child {
    let mut command = scenario.notify(&["--rules", file, "--timeout", timeout]);
    if let Some(hook) = hook {
        command.env("HOOK", hook.url());
    }
    let mut child = command.spawn().unwrap();
    wait_until("the watch", &mut child, || watches(scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// Writes the rules file anew and tells the process to reload it.
pub(crate) fn reload(child: &Child, file: &str, yaml: &str) {
    std::fs::write(file, yaml).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
}

pub(crate) fn wait_until(what: &str, child: &mut Child, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        assert!(
            still_running(child, Duration::from_millis(20)),
            "exited early: {what}"
        );
    }
}

#[test]
fn rules_share_watches_and_each_tells_exactly_what_its_line_alone_would() {
    let scenario = Scenario::new();
    scenario.widget("bar", json!({}), json!({"phase": "Pending"}));
    let yaml = RULES
        .iter()
        .map(|(name, args)| {
            format!(
                "  - name: {name}\n    args: {}\n",
                serde_json::to_string(args).unwrap()
            )
        })
        .collect::<String>();
    let file = rules_file(&scenario, &format!("rules:\n{yaml}"));
    let mut together = scenario
        .notify(&["--rules", &file, "--timeout", "6s"])
        .spawn()
        .unwrap();
    // Two distinct requests (every widget; widget foo by name) among four rules.
    wait_until("two watches", &mut together, || watches(&scenario) >= 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(watches(&scenario), 2, "one watch per distinct request");
    let alone: Vec<Child> = RULES
        .iter()
        .map(|(_, args)| {
            let mut args = args.to_vec();
            args.extend(["--timeout", "5s"]);
            scenario.notify(&args).spawn().unwrap()
        })
        .collect();
    wait_until("every process watching", &mut together, || {
        watches(&scenario) >= 2 + RULES.len()
    });
    std::thread::sleep(Duration::from_millis(300));

    scenario.widget("foo", json!({}), json!({"phase": "Pending"}));
    scenario.set_status("bar", json!({"phase": "Failed"}));
    scenario.set_status("foo", json!({"phase": "Running"}));
    scenario.set_status("bar", json!({"phase": "Pending"}));
    scenario.set_status("bar", json!({"phase": "Failed"}));
    scenario.server.delete(WIDGETS, Some("default"), "foo");

    let out = finish(together, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let together = ids(&stdout(&out));
    for ((name, _), child) in RULES.iter().zip(alone) {
        let out = finish(child, Duration::from_secs(20));
        assert_eq!(code(&out), 124, "{name}: {}", stderr(&out));
        let alone = ids(&stdout(&out)).remove("").unwrap_or_default();
        assert!(
            !alone.is_empty(),
            "{name}: the scenario notifies every rule"
        );
        assert_eq!(
            together.get(*name).cloned().unwrap_or_default(),
            alone,
            "{name}: the same notifications, id by id"
        );
    }
    assert_eq!(together.len(), RULES.len(), "every line names its rule");
}

#[test]
fn a_rules_name_reaches_the_human_line_the_command_and_cloudevents() {
    let scenario = Scenario::new();
    let receiver = Receiver::start();
    let seen = scenario.dir.path().join("seen");
    let yaml = format!(
        "rules:
  - name: shown
    args: widgets/foo
  - name: ran
    args: \"widgets/foo -q -- sh -c 'echo \\\"$KUBECTL_NOTIFY_RULE $KUBECTL_NOTIFY_EVENT\\\" >> {}'\"
  - name: sent
    args: [widgets/foo, -q, --sink, 'cloudevents:env:CE_URL']
",
        seen.display()
    );
    let file = rules_file(&scenario, &yaml);
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "4s"])
        .env("CE_URL", receiver.url())
        .spawn()
        .unwrap();
    scenario.wait_for_watch("foo", &mut child);
    std::thread::sleep(Duration::from_millis(200));
    scenario.widget("foo", json!({}), Value::Null);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed
            .lines()
            .any(|l| l.starts_with("shown  ") && l.contains("created")),
        "the header line starts with the rule's name: {printed}"
    );
    assert_eq!(
        printed.lines().count(),
        1,
        "only the rule that prints: {printed}"
    );
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap().trim(),
        "ran created",
        "KUBECTL_NOTIFY_RULE"
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].header("ce-rule"), Some("sent"));
    assert_eq!(received[0].json()["rule"], "sent");
}

/// Every line about a rule's sinks and command starts with the rule's name,
/// as its other lines do: the plain-http warning at start, a rejection, a
/// retry, what was left undelivered at exit, a run skipped as busy, a run
/// that failed. With four rules, a line without the name says nothing.
#[test]
fn a_rules_sink_and_command_lines_name_the_rule() {
    let scenario = Scenario::new();
    let receiver = Receiver::start();
    receiver.always(Some(crate::receiver::Answer::Status(400)));
    // A command there at start and gone by the first notification.
    let script = scenario.dir.path().join("gone.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = rules_file(
        &scenario,
        &format!(
            "rules:
  - name: warned
    args: [widgets/foo, -q, --flush-timeout, 1s, --sink, 'teams:http://0.0.0.0:9/workflows/s3cr3t']
  - name: refused
    args: [widgets/foo, -q, --sink, 'webhook:env:HOOK']
  - name: busy
    args: [widgets/foo, -q, --on-busy, skip, --, sleep, '3']
  - name: failing
    args: [widgets/foo, -q, --, 'false']
  - name: gone
    args: [widgets/foo, -q, --, '{}']
",
            script.display()
        ),
    );
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "5s", "-v"])
        .env("HOOK", receiver.url())
        .spawn()
        .unwrap();
    scenario.wait_for_watch("foo", &mut child);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&script).unwrap();
    scenario.widget("foo", json!({}), Value::Null);
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"phase": "Running"}));
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    let has = |start: &str, words: &str| {
        assert!(
            err.lines()
                .any(|l| l.starts_with(start) && l.contains(words)),
            "no line {start:?}...{words:?}:\n{err}"
        )
    };
    has(
        "warning: warned  teams sink #1: plain http:// to another host, so the hook URL",
        "use https://",
    );
    has("warning: warned  teams sink #1: ", "retrying");
    has(
        "warning: warned  teams sink #1: ",
        "not delivered within --flush-timeout 1s",
    );
    has(
        "warning: refused  webhook sink #1: rejected the notification ",
        "HTTP 400 Bad Request; not retried",
    );
    has(
        "warning: refused  webhook sink #1: ",
        "rejected (not retried)",
    );
    has("busy  ", "the command is busy, skipped (--on-busy skip)");
    has("warning: failing  the command failed for ", "exit code 1");
    has("error: gone  cannot run '", "No such file or directory");
    for line in err.lines() {
        let about = ["sink #", "the command", "cannot run"];
        if about.iter().any(|words| line.contains(words)) {
            let line = line.strip_prefix("warning: ").unwrap_or(line);
            let line = line.strip_prefix("error: ").unwrap_or(line);
            assert!(
                ["warned  ", "refused  ", "busy  ", "failing  ", "gone  "]
                    .iter()
                    .any(|name| line.starts_with(name)),
                "a line without its rule: {line}\n{err}"
            );
        }
    }
    assert!(!err.contains("s3cr3t"), "{err}");
}

/// `SSL_CERT_FILE` is the process's, not a rule's: naming a file that is not
/// there is said once, however many rules deliver over https.
#[test]
fn a_missing_ssl_cert_file_is_said_once_for_all_rules() {
    let scenario = Scenario::new();
    let file = rules_file(
        &scenario,
        "rules:
  - name: one
    args: [widgets/foo, -q, --sink, 'webhook:https://127.0.0.1:9/one']
  - name: two
    args: [widgets/foo, -q, --sink, 'slack:https://127.0.0.1:9/two']
",
    );
    let missing = scenario.dir.path().join("no-such-ca.pem");
    let out = scenario
        .notify(&["--rules", &file, "--timeout", "1s"])
        .env("SSL_CERT_FILE", &missing)
        .output()
        .unwrap();
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let said: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.contains("SSL_CERT_FILE names"))
        .map(String::from)
        .collect();
    assert_eq!(
        said,
        [format!(
            "warning: SSL_CERT_FILE names {}, which does not exist: https sinks cannot verify \
             any certificate; name a PEM file of CAs there, or unset it to use the system's",
            missing.display()
        )],
        "{}",
        stderr(&out)
    );
}

/// A folder laid out as a ConfigMap volume: `rules.yaml` → `..data/rules.yaml`,
/// `..data` → `..v1`. `swap` writes a new version the way the kubelet does.
struct ConfigMapVolume {
    dir: std::path::PathBuf,
    version: u32,
}

impl ConfigMapVolume {
    fn new(scenario: &Scenario, yaml: &str) -> ConfigMapVolume {
        let dir = scenario.dir.path().join("volume");
        std::fs::create_dir(&dir).unwrap();
        let mut volume = ConfigMapVolume { dir, version: 0 };
        volume.swap(yaml);
        std::os::unix::fs::symlink("..data/rules.yaml", volume.dir.join("rules.yaml")).unwrap();
        volume
    }

    fn path(&self) -> String {
        self.dir.join("rules.yaml").to_string_lossy().into_owned()
    }

    fn swap(&mut self, yaml: &str) {
        self.version += 1;
        let version = format!("..v{}", self.version);
        std::fs::create_dir(self.dir.join(&version)).unwrap();
        std::fs::write(self.dir.join(&version).join("rules.yaml"), yaml).unwrap();
        let link = self.dir.join("..data_tmp");
        std::os::unix::fs::symlink(&version, &link).unwrap();
        std::fs::rename(&link, self.dir.join("..data")).unwrap();
    }
}

pub(crate) fn rules_yaml(rules: &[(&str, &str)]) -> String {
    let mut yaml = String::from("rules:\n");
    for (name, args) in rules {
        yaml.push_str(&format!("  - name: {name}\n    args: \"{args}\"\n"));
    }
    yaml
}

/// The rules of `file` run for `timeout` with metrics on a free port, once
/// `/readyz` answers: the child and the port. `env` is set for the child.
pub(crate) fn serving(
    scenario: &Scenario,
    file: &str,
    timeout: &str,
    env: &[(&str, String)],
) -> (std::process::Child, u16) {
    use crate::incluster::{free_port, wait_ready};
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = scenario.notify(&[
        "--rules",
        file,
        "--timeout",
        timeout,
        "--metrics-addr",
        &addr,
    ]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().unwrap();
    wait_ready(port, &mut child);
    (child, port)
}

/// Per rule, the (name, type) of each line printed.
pub(crate) fn told(stdout: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut by_rule: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in stdout.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        by_rule
            .entry(line["rule"].as_str().unwrap_or("").to_string())
            .or_default()
            .push((
                line["name"].as_str().unwrap().to_string(),
                line["type"].as_str().unwrap().to_string(),
            ));
    }
    by_rule
}

fn watching_since(scenario: &Scenario, before: usize, name: &str) -> bool {
    scenario.server.requests().iter().skip(before).any(|r| {
        r.path_and_query.contains("watch=")
            && r.path_and_query
                .contains(&format!("metadata.name%3D{name}"))
    })
}

#[test]
fn a_configmap_swap_reloads_new_rules_start_removed_stop_and_the_rest_stay_untouched() {
    let scenario = Scenario::new();
    for name in ["foo", "bar", "baz", "qux"] {
        scenario.widget(name, json!({}), Value::Null);
    }
    let mut volume = ConfigMapVolume::new(
        &scenario,
        &rules_yaml(&[
            ("keep", "widgets/foo -o json"),
            ("gone", "widgets/bar -o json"),
            ("changed", "widgets/qux -o json"),
        ]),
    );
    let mut child = scenario
        .notify(&["--rules", &volume.path(), "--timeout", "8s"])
        .spawn()
        .unwrap();
    wait_until("three watches", &mut child, || watches(&scenario) >= 3);
    std::thread::sleep(Duration::from_millis(300));
    let before = scenario.server.requests().len();
    volume.swap(&rules_yaml(&[
        ("keep", "widgets/foo -o json"),
        ("changed", "widgets/qux -o json --events deleted"),
        ("new", "widgets/baz -o json"),
    ]));
    wait_until("the new rule watching", &mut child, || {
        watching_since(&scenario, before, "baz")
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !watching_since(&scenario, before, "qux"),
        "a changed rule takes its watch over from its old version: no new request"
    );
    let untouched = !scenario
        .server
        .requests()
        .iter()
        .skip(before)
        .any(|r| r.path_and_query.contains("metadata.name%3Dfoo"));
    assert!(
        untouched,
        "an unchanged rule neither lists nor watches again"
    );
    for name in ["foo", "bar", "baz", "qux"] {
        scenario.set_status(name, json!({"x": 1}));
    }
    scenario.server.delete(WIDGETS, Some("default"), "qux");

    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    let told = told(&stdout(&out));
    assert_eq!(
        told.get("keep"),
        Some(&vec![s("foo", "modified")]),
        "{told:?}"
    );
    assert_eq!(told.get("gone"), None, "a removed rule stops: {told:?}");
    assert_eq!(
        told.get("changed"),
        Some(&vec![s("qux", "deleted")]),
        "a changed rule runs as changed: {told:?}"
    );
    assert_eq!(
        told.get("new"),
        Some(&vec![s("baz", "modified")]),
        "a new rule starts from now: {told:?}"
    );
    assert!(
        stderr(&out)
            .contains("rules reloaded: 1 unchanged; changed: changed; added: new; removed: gone"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_invalid_reload_changes_nothing_and_sighup_reloads_what_polling_cannot_see() {
    use crate::incluster::get;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(&scenario, &rules_yaml(&[("one", "widgets/foo -o json")]));
    let (mut child, port) = serving(&scenario, &file, "8s", &[]);

    let invalid = rules_yaml(&[("one", "widgets/foo -o json --when '.x =='")]);
    std::fs::write(&file, &invalid).unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(get(port, "/readyz").map(|(code, _)| code), Some(200));
    let metrics = get(port, "/metrics").unwrap().1;
    assert!(
        metrics.contains("kubectl_notify_rules_reload_failures_total 1"),
        "{metrics}"
    );
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(500));
    let metrics = get(port, "/metrics").unwrap().1;
    for line in [
        "kubectl_notify_notifications_total{resource=\"widgets.example.com\",change=\"modified\",rule=\"one\"} 1",
        "kubectl_notify_deliveries_total{sink=\"printer\",outcome=\"ok\",rule=\"one\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    // The same size, inode and modification time: only SIGHUP tells.
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut valid = rules_yaml(&[("two", "widgets/foo -o json")]);
    valid.push_str(&format!(
        "#{}\n",
        "-".repeat(invalid.len() - valid.len() - 2)
    ));
    assert_eq!(valid.len(), invalid.len());
    std::fs::write(&file, &valid).unwrap();
    let handle = std::fs::File::options().write(true).open(&file).unwrap();
    handle.set_modified(written).unwrap();
    drop(handle);
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    // The new rule joins the watch already there: no new request.
    wait_until("the reloaded rule running", &mut child, || {
        get(port, "/metrics")
            .is_some_and(|(_, m)| m.contains("kubectl_notify_rule_running{rule=\"two\"} 1"))
    });
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"x": 2}));

    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    let told = told(&stdout(&out));
    assert_eq!(
        told.get("one"),
        Some(&vec![s("foo", "modified")]),
        "{told:?}"
    );
    assert_eq!(
        told.get("two"),
        Some(&vec![s("foo", "modified")]),
        "{told:?}"
    );
    let err = stderr(&out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error: reloading"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    for word in ["rule one, --when (column 21)", "keep running"] {
        assert!(errors[0].contains(word), "wants {word:?} in {err}");
    }
    assert!(
        err.contains("rules reloaded: 0 unchanged; renamed: one to two"),
        "{err}"
    );
}

#[test]
fn each_rules_network_sinks_are_counted_apart_in_the_metrics() {
    use crate::incluster::get;
    use crate::receiver::Answer;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    // Both rules' sinks are `webhook#1`; beta's refuses its first try.
    let (alpha, beta) = (Receiver::start(), Receiver::start());
    beta.script([Answer::Status(503)]);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("alpha", "widgets/foo -q --sink webhook:env:HOOK_A"),
            ("beta", "widgets/foo -q --sink webhook:env:HOOK_B"),
        ]),
    );
    let (mut child, port) = serving(
        &scenario,
        &file,
        "8s",
        &[("HOOK_A", alpha.url()), ("HOOK_B", beta.url())],
    );
    scenario.set_status("foo", json!({"x": 1}));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alpha.delivered().len() + beta.delivered().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "not delivered");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let metrics = get(port, "/metrics").unwrap().1;
    for line in [
        "kubectl_notify_deliveries_total{sink=\"webhook#1\",outcome=\"ok\",rule=\"alpha\"} 1",
        "kubectl_notify_deliveries_total{sink=\"webhook#1\",outcome=\"ok\",rule=\"beta\"} 1",
        "kubectl_notify_delivery_retries_total{sink=\"webhook#1\",rule=\"beta\"} 1",
        "kubectl_notify_delivery_delay_seconds_count{sink=\"webhook#1\",rule=\"alpha\"} 1",
        "kubectl_notify_delivery_delay_seconds_count{sink=\"webhook#1\",rule=\"beta\"} 1",
        "kubectl_notify_sink_queue_length{sink=\"webhook#1\",rule=\"alpha\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(
        !metrics.contains("retries_total{sink=\"webhook#1\",rule=\"alpha\"}"),
        "{metrics}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A rule that ended by itself (`--count`) stays done across a reload of
/// the same file: it never tells more than its count.
#[test]
fn a_rule_done_by_its_count_is_not_started_again_by_a_reload() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    scenario.widget("bar", json!({}), Value::Null);
    let file = rules_file(
        &scenario,
        &rules_yaml(&[
            ("two", "widgets/foo -o json --count 1"),
            ("other", "widgets/bar -o json"),
        ]),
    );
    let mut child = scenario
        .notify(&["--rules", &file, "--timeout", "6s", "-v"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("both rules watching", &mut child, || {
        watches(&scenario) >= 2
    });
    scenario.set_status("foo", json!({"x": 1}));
    std::thread::sleep(Duration::from_millis(800));
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(800));
    scenario.set_status("foo", json!({"x": 2}));
    scenario.set_status("bar", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let s = |name: &str, kind: &str| (name.to_string(), kind.to_string());
    let told = told(&stdout(&out));
    assert_eq!(
        told.get("two"),
        Some(&vec![s("foo", "modified")]),
        "{told:?}"
    );
    assert_eq!(
        told.get("other"),
        Some(&vec![s("bar", "modified")]),
        "{told:?}"
    );
}

/// A rule a reload adds that cannot run (its watch forbidden) is a failed
/// reload: one error line naming it, and the rules running keep running.
#[test]
fn a_forbidden_rule_added_by_a_reload_ends_only_itself() {
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let widgets_only = testserver::Rule {
        verbs: vec!["get".into(), "list".into(), "watch".into()],
        groups: vec!["example.com".into()],
        resources: vec!["widgets".into()],
        ..testserver::Rule::default()
    };
    scenario
        .server
        .add_user("carol", "carol-token", vec![widgets_only]);
    let carol = scenario.dir.path().join("carol");
    scenario
        .server
        .write_kubeconfig(&carol, "carol-token", "default");
    let file = rules_file(&scenario, &rules_yaml(&[("one", "widgets/foo -o json")]));
    let mut child = scenario
        .notify(&[
            "--rules",
            &file,
            "--timeout",
            "6s",
            "--kubeconfig",
            carol.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    wait_until("the rule watching", &mut child, || watches(&scenario) >= 1);
    std::fs::write(
        &file,
        rules_yaml(&[
            ("one", "widgets/foo -o json"),
            ("secret", "configmaps --all -o json"),
        ]),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let told = told(&stdout(&out));
    assert_eq!(
        told.get("one"),
        Some(&vec![("foo".to_string(), "modified".to_string())]),
        "{told:?}"
    );
    let err = stderr(&out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error: rule "))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    for word in ["rule secret", "forbidden", "the other rules keep running"] {
        assert!(errors[0].contains(word), "wants {word:?} in {err}");
    }
}

/// Objects are parsed only as far as the rules read them (a rule reading
/// `.status.x` builds no `.status.y`); a rule a reload adds that reads more
/// gets what it reads, and so does a rule with a command, which reads all.
#[test]
fn a_rule_a_reload_adds_reads_what_it_reads_beside_rules_that_read_less() {
    let scenario = Scenario::new();
    for name in ["foo", "bar", "baz"] {
        scenario.widget(name, json!({}), json!({"x": 0, "y": 0}));
    }
    let out_file = scenario.dir.path().join("whole.json");
    let mut volume = ConfigMapVolume::new(
        &scenario,
        &rules_yaml(&[("x", "widgets/foo -o name --when '.status.x == 1'")]),
    );
    let mut child = scenario
        .notify(&["--rules", &volume.path(), "--timeout", "8s"])
        .spawn()
        .unwrap();
    wait_until("the first watch", &mut child, || watches(&scenario) >= 1);
    std::thread::sleep(Duration::from_millis(300));
    let before = scenario.server.requests().len();
    let command = format!("cat > {}", out_file.display());
    volume.swap(&format!(
        "{}  - name: whole\n    args: [widgets/baz, --when, '.status.y == 2', --count, '1', --, sh, -c, '{command}']\n",
        rules_yaml(&[
            ("x", "widgets/foo -o name --when '.status.x == 1'"),
            ("y", "widgets/bar -o name --when '.status.y == 2'"),
        ])
    ));
    wait_until("the new rules watching", &mut child, || {
        watching_since(&scenario, before, "bar") && watching_since(&scenario, before, "baz")
    });
    std::thread::sleep(Duration::from_millis(300));
    scenario.set_status("foo", json!({"x": 1, "y": 0}));
    scenario.set_status("bar", json!({"x": 0, "y": 2}));
    scenario.set_status("baz", json!({"x": 0, "y": 2}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let stdout = stdout(&out);
    assert!(stdout.contains("widget.example.com/foo"), "{stdout}");
    assert!(
        stdout.contains("widget.example.com/bar"),
        "the added rule sees .status.y: {stdout}"
    );
    let whole: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(whole["status"], json!({"x": 0, "y": 2}), "{whole}");
    assert!(
        whole["metadata"]["creationTimestamp"].is_string(),
        "{whole}"
    );
}

/// A SIGHUP while the process still connects (a ConfigMap edited as the pod
/// starts) is a reload like any other, never the end of the process.
#[cfg(unix)]
#[test]
fn a_sighup_at_start_does_not_end_the_process() {
    use std::os::unix::fs::PermissionsExt;
    let scenario = Scenario::new();
    scenario.widget("foo", json!({}), Value::Null);
    let file = rules_file(&scenario, &rules_yaml(&[("one", "widgets/foo -o name")]));
    // Its credentials take a second to come: it is still connecting then.
    let plugin = scenario.dir.path().join("slow-credentials");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nsleep 1\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            testserver::ADMIN_TOKEN
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = scenario
        .server
        .kubeconfig(testserver::ADMIN_TOKEN, "default")
        .replace(
            &format!("    token: \"{}\"\n", testserver::ADMIN_TOKEN),
            &format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
                plugin.display()
            ),
        );
    let kubeconfig = scenario.dir.path().join("slow.kubeconfig");
    std::fs::write(&kubeconfig, config).unwrap();
    let before = scenario.server.requests().len();
    let mut child = scenario
        .notify(&[
            "--rules",
            &file,
            "--timeout",
            "6s",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    scenario.wait_for_watch_since(before, "widgets", &mut child);
    scenario.set_status("foo", json!({"x": 1}));
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("widget.example.com/foo"),
        "{}",
        stdout(&out)
    );
}
