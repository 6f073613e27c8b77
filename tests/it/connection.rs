//! Reusing the kubectl context (SPEC §2): merged KUBECONFIG files, flag
//! overrides, exec credential plugins.

use serde_json::json;
use testserver::Rule;

use crate::common::*;

fn ready_widget() -> Scenario {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    s
}

#[test]
fn kubeconfig_files_in_kubeconfig_are_merged_like_kubectl() {
    let s = ready_widget();
    let dir = s.dir.path();
    // The first file to set a value wins; missing files are skipped.
    std::fs::write(
        dir.join("contexts"),
        "apiVersion: v1\nkind: Config\ncurrent-context: merged\ncontexts:\n- name: merged\n  context: {cluster: c1, user: u1, namespace: default}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("clusters"),
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {}\nusers:\n- name: u1\n  user: {{token: {}}}\ncurrent-context: ignored\n", s.cluster_entry(), testserver::ADMIN_TOKEN),
    )
    .unwrap();
    let list = format!(
        "{}:{}:{}",
        dir.join("contexts").display(),
        dir.join("missing").display(),
        dir.join("clusters").display()
    );
    let out = s
        .notify(&["widgets/foo", "--until", READY])
        .env("KUBECONFIG", list)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/foo condition met\n");
}

#[test]
fn flags_alone_can_describe_the_cluster() {
    let s = ready_widget();
    let out = s
        .notify(&[
            "widgets/foo",
            "-s",
            &s.server.url(),
            "--certificate-authority",
            s.ca_file().to_str().unwrap(),
            "--token",
            testserver::ADMIN_TOKEN,
            "-n",
            "default",
            "--until",
            READY,
        ])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn token_flag_overrides_the_kubeconfig_user() {
    let s = ready_widget();
    let bad = s.dir.path().join("bad-token");
    s.server.write_kubeconfig(&bad, "wrong-token", "default");
    let path = bad.to_str().unwrap();
    let out = s.run(&["widgets/foo", "--kubeconfig", path, "--until", READY]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path,
        "--token",
        testserver::ADMIN_TOKEN,
        "--until",
        READY,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_context_flag_selects_cluster_user_and_namespace() {
    let s = Scenario::new();
    s.widget_in("team-a", "foo", json!({}), json!({"ready": true}));
    let config = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: broken\nclusters:\n- name: real\n  cluster: {}\n- name: nowhere\n  cluster: {{server: \"http://127.0.0.1:9\"}}\nusers:\n- name: admin\n  user: {{token: {}}}\ncontexts:\n- name: broken\n  context: {{cluster: nowhere, user: admin}}\n- name: staging\n  context: {{cluster: real, user: admin, namespace: team-a}}\n",
        s.cluster_entry(),
        testserver::ADMIN_TOKEN
    );
    let path = s.dir.path().join("two-contexts");
    std::fs::write(&path, config).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path.to_str().unwrap(),
        "--context",
        "staging",
        "--until",
        READY,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn exec_credential_plugins_supply_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let s = ready_widget();
    let plugin = s.dir.path().join("credential-plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            testserver::ADMIN_TOKEN
        ),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: exec\nclusters:\n- name: c\n  cluster: {}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\ncontexts:\n- name: exec\n  context: {{cluster: c, user: u, namespace: default}}\n",
        s.cluster_entry(),
        plugin.display()
    );
    let path = s.dir.path().join("exec-config");
    std::fs::write(&path, config).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path.to_str().unwrap(),
        "--until",
        READY,
        "-vv",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains(testserver::ADMIN_TOKEN),
        "the plugin's token was printed"
    );
}

/// An exec plugin that logs each run (whether KUBERNETES_EXEC_INFO says
/// interactive, and what it read on stdin) to `runs`, then does what `body` says.
#[cfg(unix)]
fn plugin(s: &Scenario, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = s.dir.path().join(name);
    let runs = s.dir.path().join(format!("{name}.runs"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nstdin=$(cat 2>/dev/null)\nmode=$(echo \"$KUBERNETES_EXEC_INFO\" | grep -o '\"interactive\":[a-z]*')\necho \"run $mode stdin=$stdin\" >> {}\n{body}\n",
            runs.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[cfg(unix)]
fn exec_kubeconfig(s: &Scenario, command: &std::path::Path, extra: &str) -> std::path::PathBuf {
    let config = s
        .server
        .kubeconfig(testserver::ADMIN_TOKEN, "default")
        .replace(
            &format!("    token: \"{}\"\n", testserver::ADMIN_TOKEN),
            &format!(
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n{extra}",
                command.display()
            ),
        );
    let path = s.dir.path().join(format!(
        "{}.kubeconfig",
        command.display().to_string().replace('/', "_")
    ));
    std::fs::write(&path, config).unwrap();
    path
}

#[cfg(unix)]
fn runs(s: &Scenario, name: &str) -> Vec<String> {
    std::fs::read_to_string(s.dir.path().join(format!("{name}.runs")))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs with a piped stdin, as in a script.
#[cfg(unix)]
fn with_stdin(mut cmd: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd.stdin(std::process::Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    finish(child, std::time::Duration::from_secs(30))
}

/// As kubectl: the plugin runs once per start and its token is kept while
/// it has not expired; without a terminal it is told `interactive: false`
/// and gets no stdin (the caller's piped data stays the caller's).
#[cfg(unix)]
#[test]
fn an_exec_plugin_runs_once_per_start_without_the_callers_stdin() {
    let s = ready_widget();
    let later = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    for (name, status) in [
        (
            "lasting",
            format!("{{\"token\":\"{}\"}}", testserver::ADMIN_TOKEN),
        ),
        (
            "expiring",
            format!(
                "{{\"token\":\"{}\",\"expirationTimestamp\":\"{later}\"}}",
                testserver::ADMIN_TOKEN
            ),
        ),
    ] {
        let body = format!(
            "echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{status}}}'"
        );
        let command = plugin(&s, name, &body);
        let config = exec_kubeconfig(&s, &command, "      interactiveMode: IfAvailable\n");
        let mut kubectl = std::process::Command::new(real_kubectl());
        kubectl
            .args(["get", "widgets.example.com", "foo", "-o", "name"])
            .env("KUBECONFIG", &config)
            .env("HOME", s.dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let theirs = with_stdin(kubectl, "caller's data\n");
        assert_eq!(code(&theirs), 0, "{}", stderr(&theirs));
        let kubectl_runs = runs(&s, name);
        std::fs::remove_file(s.dir.path().join(format!("{name}.runs"))).unwrap();

        let mut ours = s.notify(&["widgets/foo", "--until", READY, "--timeout", "0"]);
        ours.env("KUBECONFIG", &config);
        let out = with_stdin(ours, "caller's data\n");
        assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
        assert_eq!(
            runs(&s, name),
            kubectl_runs,
            "{name}: runs and what each saw"
        );
        assert_eq!(kubectl_runs.len(), 1, "{kubectl_runs:?}");
        assert!(
            kubectl_runs[0].contains("\"interactive\":false"),
            "{kubectl_runs:?}"
        );
        assert!(kubectl_runs[0].ends_with("stdin="), "{kubectl_runs:?}");
    }
}

/// A failing plugin: kubectl's message (the executable and its exit code),
/// the plugin's own stderr, exit 3; none of the `env` values the kubeconfig
/// gives it, in text or JSON logs.
#[cfg(unix)]
#[test]
fn a_failing_exec_plugin_is_named_and_its_env_never_printed() {
    let s = ready_widget();
    let command = plugin(&s, "failing", "echo 'token service says no' >&2\nexit 7");
    let env = "      env:\n      - name: PLUGIN_SECRET\n        value: hunter2-secret-value\n      interactiveMode: Never\n";
    let config = exec_kubeconfig(&s, &command, env);
    for format in ["text", "json"] {
        let out = s.run(&[
            "widgets/foo",
            "--until",
            READY,
            "--kubeconfig",
            config.to_str().unwrap(),
            "--log-format",
            format,
            "-vv",
        ]);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(code(&out), 3, "{all}");
        assert!(
            all.contains(&format!(
                "exec: executable {} failed with exit code 7",
                command.display()
            )),
            "{all}"
        );
        assert!(all.contains("token service says no"), "{all}");
        assert!(
            !all.contains("hunter2"),
            "the plugin's env was printed: {all}"
        );
        assert!(!all.contains("Output {"), "a Debug dump: {all}");
    }
}

#[cfg(unix)]
#[test]
fn a_missing_exec_plugin_is_named() {
    let s = ready_widget();
    let missing = s.dir.path().join("no-such-plugin");
    let config = exec_kubeconfig(&s, &missing, "      interactiveMode: Never\n");
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("exec: executable {} not found", missing.display())),
        "{}",
        stderr(&out)
    );
}

/// kubectl refuses a v1 plugin without interactiveMode, and so do we.
#[cfg(unix)]
#[test]
fn a_v1_exec_plugin_needs_an_interactive_mode() {
    let s = ready_widget();
    let command = plugin(&s, "modeless", "exit 0");
    let config = exec_kubeconfig(&s, &command, "");
    let theirs = std::process::Command::new(real_kubectl())
        .args(["get", "widgets.example.com", "foo"])
        .env("KUBECONFIG", &config)
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert!(!theirs.status.success());
    assert!(text(&theirs.stderr).contains("interactiveMode must be specified"));
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs interactiveMode"),
        "{}",
        stderr(&out)
    );
    assert!(runs(&s, "modeless").is_empty(), "the plugin ran");

    // interactiveMode: Always with no terminal: refused by both, not run.
    let config = exec_kubeconfig(&s, &command, "      interactiveMode: Always\n");
    let theirs = std::process::Command::new(real_kubectl())
        .args(["get", "widgets.example.com", "foo"])
        .env("KUBECONFIG", &config)
        .env("HOME", s.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!theirs.status.success());
    assert!(text(&theirs.stderr).contains("standard input is not a terminal"));
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("standard input is not one"),
        "{}",
        stderr(&out)
    );
    assert!(runs(&s, "modeless").is_empty(), "the plugin ran");
}

/// Messages that point at the setting to fix: a right to impersonate, a
/// certificate for another name, a KUBECONFIG naming a missing file.
#[test]
fn connection_failures_name_what_to_fix() {
    let s = ready_widget();
    let watcher = Rule {
        verbs: vec!["get".into(), "list".into(), "watch".into()],
        groups: vec!["*".into()],
        resources: vec!["*".into()],
        ..Rule::default()
    };
    s.server.add_user("limited", "limited-token", vec![watcher]);
    let limited = s.dir.path().join("limited");
    s.server
        .write_kubeconfig(&limited, "limited-token", "default");
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        limited.to_str().unwrap(),
        "--as",
        "bob",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs the verb impersonate on users"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("get, list, watch"),
        "{}",
        stderr(&out)
    );

    let elsewhere = s.dir.path().join("elsewhere");
    let text = s
        .server
        .kubeconfig(testserver::ADMIN_TOKEN, "default")
        .replace(
            "    certificate-authority-data:",
            "    tls-server-name: elsewhere.example\n    certificate-authority-data:",
        );
    std::fs::write(&elsewhere, text).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        elsewhere.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("tls-server-name"), "{}", stderr(&out));

    // Verification turned off: the warning says by what.
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--insecure-skip-tls-verify=true",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not checked (--insecure-skip-tls-verify)"),
        "{}",
        stderr(&out)
    );
    let insecure = s.dir.path().join("insecure");
    let text = s
        .server
        .kubeconfig_with_ca(testserver::ADMIN_TOKEN, "default", None)
        .replace(
            "  cluster:\n",
            "  cluster:\n    insecure-skip-tls-verify: true\n",
        );
    std::fs::write(&insecure, text).unwrap();
    let out = s.run(&[
        "widgets/foo",
        "--until",
        READY,
        "--kubeconfig",
        insecure.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("true in the kubeconfig's cluster"),
        "{}",
        stderr(&out)
    );

    let missing = s.dir.path().join("no-such-config");
    let out = s
        .notify(&["widgets/foo", "--until", READY])
        .env("KUBECONFIG", &missing)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("kubeconfig {} does not exist", missing.display())),
        "{}",
        stderr(&out)
    );
}
