//! Credentials never appear in any output at any verbosity (SPEC §2, §6):
//! not a token, not an exec plugin's output, not a client key — on success
//! or on failure.

use serde_json::json;

use crate::common::*;

const EXEC_TOKEN: &str = "exec-secret-7f3a9c";
const FLAG_TOKEN: &str = "flag-secret-5d21e8";

/// The base64 body of the test client key, as it would appear if printed.
fn key_material() -> Vec<String> {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/tls/client.key"
    ))
    .unwrap();
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(String::from)
        .collect()
}

fn assert_no_secret(out: &std::process::Output, secrets: &[String]) {
    let all = format!("{}{}", stdout(out), stderr(out));
    for secret in secrets {
        assert!(
            !all.contains(secret.as_str()),
            "printed a secret ({secret}):\n{all}"
        );
    }
}

fn secrets() -> Vec<String> {
    let mut all = vec![
        EXEC_TOKEN.to_string(),
        FLAG_TOKEN.to_string(),
        testserver::ADMIN_TOKEN.to_string(),
    ];
    all.extend(key_material());
    all
}

#[cfg(unix)]
#[test]
fn nothing_secret_is_printed_at_the_highest_verbosity() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scenario::new();
    s.server
        .add_user("exec-user", EXEC_TOKEN, vec![testserver::Rule::allow_all()]);
    s.widget("foo", json!({}), json!({"ready": true}));
    let plugin = s.dir.path().join("credential-plugin");
    std::fs::write(
        &plugin,
        format!("#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{EXEC_TOKEN}\"}}}}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = |name: &str| {
        use std::io::Write;
        let raw = std::fs::read(format!(
            "{}/tests/data/tls/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let mut encoded = Vec::new();
        let mut child = std::process::Command::new("base64")
            .arg("-w0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut encoded).unwrap();
        child.wait().unwrap();
        String::from_utf8(encoded).unwrap()
    };
    let config = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: exec\nclusters:\n- name: c\n  cluster: {}\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\ncontexts:\n- name: exec\n  context: {{cluster: c, user: u, namespace: default}}\n",
        s.cluster_entry(),
        data("client.crt"),
        data("client.key"),
        plugin.display()
    );
    let path = s.dir.path().join("exec-config");
    std::fs::write(&path, config).unwrap();
    let path = path.to_str().unwrap();

    // Success, in every output format, at -vv.
    for format in ["human", "json", "name"] {
        let out = s.run(&[
            "widgets/foo",
            "--kubeconfig",
            path,
            "--until",
            ".status.ready == true",
            "-vv",
            "-o",
            format,
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("request: GET /apis"),
            "-vv shows requests: {}",
            stderr(&out)
        );
        assert_no_secret(&out, &secrets());
    }
    // Notify mode with a command that prints its whole environment.
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path,
        "--initial",
        "--count",
        "1",
        "-vv",
        "--",
        "env",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_no_secret(&out, &secrets());

    // Failure: a token the server rejects, given as a flag.
    let out = s.run(&[
        "widgets/foo",
        "--kubeconfig",
        path,
        "--token",
        FLAG_TOKEN,
        "--until",
        ".a",
        "-vv",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_no_secret(&out, &secrets());
}
