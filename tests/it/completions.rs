//! Completions and the man page come from the clap definition and are
//! checked in; this fails when they drift (regenerate with
//! `UPDATE_COMPLETIONS=1 cargo test --test it completions`). And kubectl's own
//! plugin completion reaches `kubectl notify <TAB>` answers from the cluster.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use serde_json::json;

use crate::common::*;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `generated` with the checked-in file, or rewrites it on request.
fn check_in_sync(path: PathBuf, generated: &[u8]) {
    if std::env::var_os("UPDATE_COMPLETIONS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date with the flags: run `UPDATE_COMPLETIONS=1 cargo test --test it completions`",
        path.display()
    );
}

#[test]
fn shell_completions_match_the_flags() {
    for (shell, file) in [
        ("bash", "kubectl-notify.bash"),
        ("zsh", "_kubectl-notify"),
        ("fish", "kubectl-notify.fish"),
        ("powershell", "_kubectl-notify.ps1"),
        ("elvish", "kubectl-notify.elv"),
    ] {
        let out = Command::new(bin())
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("until"),
            "{shell} script lacks --until"
        );
        check_in_sync(repo().join("completions").join(file), &out.stdout);
    }
    let out = Command::new(bin())
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bash|zsh|fish|powershell|elvish"));
}

#[test]
fn the_man_page_matches_the_flags() {
    let mut page = Vec::new();
    clap_mangen::Man::new(kubectl_notify::cli::Args::command())
        .render(&mut page)
        .unwrap();
    assert!(String::from_utf8_lossy(&page).contains("\\-\\-until"));
    check_in_sync(repo().join("man").join("kubectl-notify.1"), &page);
}

/// A PATH holding the plugin and its kubectl completer, as after install.
fn installed(s: &Scenario) -> std::ffi::OsString {
    let dir = s.dir.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(bin(), dir.join("kubectl-notify")).unwrap();
    std::fs::copy(
        repo().join("completions/kubectl_complete-notify"),
        dir.join("kubectl_complete-notify"),
    )
    .unwrap();
    let mut dirs = vec![dir];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}

fn kubectl_complete(
    s: &Scenario,
    path: &std::ffi::OsString,
    words: &[&str],
) -> (Vec<String>, String) {
    let out = Command::new(real_kubectl())
        .args(["__complete", "notify"])
        .args(words)
        .env("PATH", path)
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .env_remove("KUBECACHEDIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines: Vec<String> = stdout.lines().map(String::from).collect();
    let directive = lines.pop().unwrap_or_default();
    (lines, directive)
}

#[test]
fn kubectl_completes_types_names_and_flag_values_through_the_plugin() {
    let s = Scenario::new();
    s.widget("foo", json!({}), json!({}));
    s.widget("bar", json!({}), json!({}));
    let path = installed(&s);

    let (types, directive) = kubectl_complete(&s, &path, &["wid"]);
    assert_eq!(types, ["widgets"]);
    assert_eq!(directive, ":4", "file completion must be off");

    let (names, _) = kubectl_complete(&s, &path, &["widgets", ""]);
    assert_eq!(names, ["bar", "foo"]);

    let (slash, _) = kubectl_complete(&s, &path, &["wg/f"]);
    assert_eq!(slash, ["wg/foo"]);

    let (forms, _) = kubectl_complete(&s, &path, &["widgets/foo", "--for", ""]);
    assert_eq!(
        forms,
        ["condition=", "delete", "create", "jsonpath=", "ready"]
    );

    let (busy, _) = kubectl_complete(&s, &path, &["widgets/foo", "--on-busy", "re"]);
    assert_eq!(busy, ["restart"]);

    let (formats, _) = kubectl_complete(&s, &path, &["widgets/foo", "-o", ""]);
    assert_eq!(formats, ["human", "json", "name", "jsonpath="]);

    let (colors, _) = kubectl_complete(&s, &path, &["widgets/foo", "--color", ""]);
    assert_eq!(colors, ["auto", "always", "never"]);

    let (flags, _) = kubectl_complete(&s, &path, &["widgets/foo", "--unt"]);
    assert_eq!(flags.len(), 1);
    assert!(flags[0].starts_with("--until\t"), "{flags:?}");

    let (contexts, _) = kubectl_complete(&s, &path, &["widgets/foo", "--context", ""]);
    assert_eq!(contexts, ["test"]);
}

#[test]
fn completion_gives_up_quietly_when_the_cluster_is_away() {
    let s = Scenario::new();
    let unreachable = s.dir.path().join("away");
    std::fs::write(
        &unreachable,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: \"http://127.0.0.1:9\"}\ncontexts:\n- name: c\n  context: {cluster: c}\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["__complete", "wid"])
        .env("KUBECONFIG", &unreachable)
        .env("HOME", s.dir.path())
        .env_remove("KUBECACHEDIR")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), ":4\n");
    assert_eq!(text(&out.stderr), "", "completion must not write to stderr");
}
