//! Reusing the kubectl context (SPEC §2): merged KUBECONFIG files, flag
//! overrides, exec credential plugins.

use serde_json::json;

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
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster: {{server: \"{}\"}}\nusers:\n- name: u1\n  user: {{token: {}}}\ncurrent-context: ignored\n", s.server.url(), testserver::ADMIN_TOKEN),
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
        "apiVersion: v1\nkind: Config\ncurrent-context: broken\nclusters:\n- name: real\n  cluster: {{server: \"{}\"}}\n- name: nowhere\n  cluster: {{server: \"http://127.0.0.1:9\"}}\nusers:\n- name: admin\n  user: {{token: {}}}\ncontexts:\n- name: broken\n  context: {{cluster: nowhere, user: admin}}\n- name: staging\n  context: {{cluster: real, user: admin, namespace: team-a}}\n",
        s.server.url(),
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
        "apiVersion: v1\nkind: Config\ncurrent-context: exec\nclusters:\n- name: c\n  cluster: {{server: \"{}\"}}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\ncontexts:\n- name: exec\n  context: {{cluster: c, user: u, namespace: default}}\n",
        s.server.url(),
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
