//! Who a real kube-apiserver says we are (a SelfSubjectReview, as `kubectl
//! auth whoami` asks it) for kubeconfig users where kubectl and kube-rs once
//! disagreed: kubectl-notify must act as that same user.

use serde_json::json;

use crate::cluster::Cluster;
use crate::common::{READY, code, stderr, text};
use crate::real::Namespace;

/// A kubeconfig for the shared control plane whose one user is `user`
/// (flow-style YAML) and whose context is the test's namespace.
fn kubeconfig(ns: &Namespace, name: &str, user: &str) -> std::path::PathBuf {
    let path = ns.dir.path().join(name);
    let config = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {{server: \"{}\", certificate-authority: \"{}\"}}\nusers:\n- name: u\n  user: {user}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u, namespace: {}}}\n",
        ns.plane.url,
        ns.plane.ca_file.display(),
        ns.name
    );
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn kubectl_notify_is_who_kubectl_is() {
    let ns = Namespace::new();
    ns.create_widget("w", json!({}));
    ns.set_widget_status("w", json!({"ready": true}));
    let file = |name: &str, token: &str| {
        let path = ns.dir.path().join(name);
        // A trailing newline, as editors and `echo` leave it.
        std::fs::write(&path, format!("{token}\n")).unwrap();
        path.display().to_string()
    };
    let admin_file = file("admin-token", &ns.plane.admin_token);
    let limited_file = file("limited-token", &ns.plane.limited_token);
    let rows = [
        (
            "token and tokenFile: the file",
            kubeconfig(
                &ns,
                "both",
                &format!(
                    "{{token: {}, tokenFile: \"{limited_file}\"}}",
                    ns.plane.admin_token
                ),
            ),
            vec![],
        ),
        (
            "--token '' keeps the kubeconfig user",
            kubeconfig(&ns, "file", &format!("{{tokenFile: \"{admin_file}\"}}")),
            vec!["--token", ""],
        ),
        (
            "--token beside a kubeconfig tokenFile: the file",
            kubeconfig(
                &ns,
                "file-again",
                &format!("{{tokenFile: \"{admin_file}\"}}"),
            ),
            vec!["--token", ns.plane.limited_token.as_str()],
        ),
    ];
    for (what, config, flags) in rows {
        let mut whoami = ns.kubectl_cmd(&[
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ]);
        whoami.args(&flags).env("KUBECONFIG", &config);
        let out = whoami.output().unwrap();
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        let user = text(&out.stdout);

        let mut args = vec!["widgets/w", "--until", READY, "--timeout", "0"];
        args.extend(flags.iter().copied());
        let out = ns
            .notify(&args)
            .env("KUBECONFIG", &config)
            .output()
            .unwrap();
        match user.as_str() {
            "admin" => assert_eq!(code(&out), 0, "{what}: {}", stderr(&out)),
            "limited" => {
                assert_eq!(code(&out), 3, "{what}: {}", stderr(&out));
                assert!(
                    stderr(&out).contains("User \"limited\""),
                    "{what}: {}",
                    stderr(&out)
                );
            }
            other => panic!("{what}: kubectl is {other:?}"),
        }
    }
}
