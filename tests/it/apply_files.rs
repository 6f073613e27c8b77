//! Waiting for what a pipeline applied: the targets kubectl takes (`TYPE,TYPE`
//! lists, `-f FILE|DIR|-`, `-R`, `-k DIR`, the lines `kubectl apply -o name`
//! prints), each object with its own type and namespace, one watch per
//! (type, namespace), and a custom resource whose CRD is applied beside it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

fn configmap(name: &str, namespace: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": namespace, "labels": labels}})
}

fn deployment(name: &str, namespace: &str, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"replicas": 1}})
}

/// What `kubectl apply` would send: the manifest as YAML documents.
fn yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

fn write(dir: &Path, file: &str, body: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The lists and watches of objects a run asked for (discovery aside).
fn reads(s: &Scenario, since: usize) -> Vec<String> {
    s.server
        .requests()
        .into_iter()
        .skip(since)
        .map(|r| r.path_and_query)
        .filter(|p| p.contains("/namespaces/") && !p.contains("/pods?"))
        .collect()
}

fn run_with_stdin(s: &Scenario, args: &[&str], input: &str) -> Output {
    let mut child = s.notify(args).stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    finish(child, Duration::from_secs(30))
}

#[test]
fn a_type_list_with_a_selector_waits_for_every_type_that_has_matches() {
    let s = Scenario::new();
    s.server.create(
        "configmaps",
        Some("default"),
        configmap("web-config", "default", json!({"app": "web"})),
    );
    s.server.create(
        "deployments.apps",
        Some("default"),
        deployment("web", "default", json!({"app": "web"})),
    );
    s.server.create(
        "configmaps",
        Some("default"),
        configmap("other", "default", json!({"app": "db"})),
    );
    // No StatefulSet matches: kubectl lists the others, and so do we.
    let out = s.run(&[
        "cm,deploy,sts",
        "-l",
        "app=web",
        "--for",
        "create",
        "--timeout",
        "20s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "configmap/web-config condition met\ndeployment.apps/web condition met\n"
    );

    // A type list before plain names: every name of every type.
    let out = s.run(&[
        "deploy,cm",
        "web",
        "web-config",
        "--for",
        "create",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("deployment.apps/web-config (not found)")
            && err.contains("configmap/web (not found)"),
        "{err}"
    );
}

#[test]
fn a_type_list_in_type_slash_name_form_is_refused_as_kubectl_refuses_it() {
    let s = Scenario::new();
    let out = s.run(&["deploy,sts/web", "--for", "create"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("error: `deploy,sts/web`: a TYPE/NAME argument names one type"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);
    let kubectl = Command::new(real_kubectl())
        .args(["get", "deploy,sts/web"])
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert_ne!(kubectl.status.code(), Some(0));
    assert!(
        text(&kubectl.stderr).contains("must have a single resource and name"),
        "{}",
        text(&kubectl.stderr)
    );
}

#[test]
fn a_folder_is_waited_for_object_by_object_with_one_watch_per_type_and_namespace() {
    let s = Scenario::new();
    let dir = s.dir.path().join("k8s");
    let mut objects = Vec::new();
    for i in 0..6 {
        objects.push(configmap(&format!("cm-{i}"), "default", json!({})));
    }
    for i in 0..3 {
        objects.push(deployment(&format!("web-{i}"), "default", json!({})));
    }
    objects.push(configmap("cm-prod", "prod", json!({})));
    // Not read: neither .json, .yaml nor .yml, and a sub-folder without -R.
    write(&dir, "10-config.yaml", &yaml(&objects[..6]));
    write(
        &dir,
        "20-apps.json",
        &json!({"kind": "List", "apiVersion": "v1", "items": objects[6..9]}).to_string(),
    );
    write(&dir, "30-prod.yml", &yaml(&objects[9..]));
    write(
        &dir,
        "notes.txt",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: no}\n",
    );
    write(
        &dir,
        "more/x.yaml",
        &yaml(&[configmap("cm-sub", "default", json!({}))]),
    );
    for o in &objects {
        let namespace = o["metadata"]["namespace"].as_str();
        let resource = match o["kind"].as_str() {
            Some("Deployment") => "deployments.apps",
            _ => "configmaps",
        };
        s.server.create(resource, namespace, o.clone());
    }
    let before = s.server.requests().len();
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "create",
        "--timeout",
        "20s",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut expected: Vec<String> = (0..6)
        .map(|i| format!("configmap/cm-{i} condition met"))
        .collect();
    expected.extend((0..3).map(|i| format!("deployment.apps/web-{i} condition met")));
    expected.push("configmap/cm-prod condition met".into());
    assert_eq!(stdout(&out), expected.join("\n") + "\n");
    // One list (then watch) per (type, namespace), not one per object: a
    // streaming list (one watch sending every object) where served.
    let reads = reads(&s, before);
    let mut paths: Vec<&str> = reads
        .iter()
        .filter(|p| !p.contains("watch=") || p.contains("sendInitialEvents=true"))
        .map(|p| p.split('?').next().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/default/configmaps",
            "/api/v1/namespaces/prod/configmaps",
            "/apis/apps/v1/namespaces/default/deployments",
        ],
        "{reads:#?}"
    );
    // The lone object of its type and namespace is read by name.
    assert!(
        reads
            .iter()
            .any(|p| p.starts_with("/api/v1/namespaces/prod/configmaps?")
                && p.contains("fieldSelector=metadata.name%3Dcm-prod")),
        "{reads:#?}"
    );

    // -R reads the sub-folder too; `cm-sub` does not exist: said at the
    // timeout, with its namespace as the objects span two.
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "-R",
        "--for",
        "create",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: timed out after 1s waiting for --for create: \
             configmap/cm-sub (in default) (not found)\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_lines_kubectl_apply_prints_are_read_from_stdin() {
    let s = Scenario::new();
    s.server.create(
        "configmaps",
        Some("team"),
        configmap("web-config", "team", json!({})),
    );
    s.server.create(
        "deployments.apps",
        Some("team"),
        deployment("web", "team", json!({})),
    );
    // No namespace in those lines: it is -n's (else the context's).
    let out = run_with_stdin(
        &s,
        &[
            "-f",
            "-",
            "-n",
            "team",
            "--for",
            "create",
            "--timeout",
            "20s",
        ],
        "configmap/web-config\ndeployment.apps/web\n",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "configmap/web-config condition met\ndeployment.apps/web condition met\n"
    );
}

#[test]
fn a_custom_resource_is_waited_for_until_its_type_is_served() {
    let s = Scenario::new();
    let dir = s.dir.path().join("app");
    let gadget = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g1"}, "spec": {}});
    write(
        &dir,
        "10-config.yaml",
        &yaml(&[configmap("web", "default", json!({}))]),
    );
    write(&dir, "20-gadget.yaml", &yaml(std::slice::from_ref(&gadget)));
    s.server.create(
        "configmaps",
        Some("default"),
        configmap("web", "default", json!({})),
    );

    // Never served: the timeout says so, for that object.
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "create",
        "--timeout",
        "2s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: timed out after 2s waiting for --for create: gadget.example.com/g1 \
             (the server does not serve its type, example.com/v1 Gadget, yet)\n"
        ),
        "{}",
        stderr(&out)
    );

    // A single check says so too, alone or beside a served type.
    for files in [
        &["-f", dir.to_str().unwrap()][..],
        &["-f", &format!("{}/20-gadget.yaml", dir.display())],
    ] {
        let out = s.run(&[files, &["--for", "create", "--timeout", "0"]].concat());
        assert_eq!(code(&out), 124, "{}", stderr(&out));
        assert!(
            stderr(&out).starts_with(
                "error: checked once waiting for --for create: gadget.example.com/g1 \
                 (the server does not serve its type, example.com/v1 Gadget, yet)\n"
            ),
            "{}",
            stderr(&out)
        );
    }

    // Served a moment after start, as when its CRD is applied with it.
    let mut child = s
        .notify(&[
            "-f",
            dir.to_str().unwrap(),
            "--for",
            "create",
            "--timeout",
            "30s",
        ])
        .spawn()
        .unwrap();
    s.wait_for_watch_matching("configmaps", &mut child);
    assert!(still_running(&mut child, Duration::from_millis(1500)));
    s.server.add_crd(testserver::Crd {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
        singular: "gadget".into(),
        short_names: vec![],
        namespaced: true,
    });
    s.server
        .create("gadgets.example.com", Some("default"), gadget);
    let out = finish(child, Duration::from_secs(20));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "configmap/web condition met\ngadget.example.com/g1 condition met\n"
    );
}

#[test]
fn kustomize_builds_the_objects_with_the_kubectl_on_path() {
    let s = Scenario::new();
    let dir = s.dir.path().join("overlay");
    write(
        &dir,
        "kustomization.yaml",
        "namespace: team\nnamePrefix: prod-\nresources:\n- cm.yaml\n",
    );
    write(
        &dir,
        "cm.yaml",
        &yaml(&[configmap("web", "default", json!({}))]),
    );
    s.server.create(
        "configmaps",
        Some("team"),
        configmap("prod-web", "team", json!({})),
    );
    let path = format!(
        "{}:{}",
        real_kubectl().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = finish(
        s.notify(&[
            "-k",
            dir.to_str().unwrap(),
            "--for",
            "create",
            "--timeout",
            "20s",
        ])
        .env("PATH", &path)
        .spawn()
        .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "configmap/prod-web condition met\n");

    // Its failure is ours, with what it said.
    let out = finish(
        s.notify(&["-k", s.dir.path().to_str().unwrap(), "--for", "create"])
            .env("PATH", &path)
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: -k ")
            && err.contains("kubectl kustomize failed: ")
            && err.contains("kustomization"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // No kubectl to run: said, with what to do.
    let out = finish(
        s.notify(&["-k", dir.to_str().unwrap(), "--for", "create"])
            .env("PATH", s.dir.path().join("nothing-here"))
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot run kubectl kustomize")
            && stderr(&out).contains("-k needs kubectl on PATH"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_folder_symlink_into_a_cycle_is_not_followed_as_kubectl_does_not() {
    let s = Scenario::new();
    let dir = s.dir.path().join("d2");
    write(
        &dir,
        "real/cm.yaml",
        &yaml(&[configmap("web", "default", json!({}))]),
    );
    // d2/link -> real, d2/real/loop -> .. (back to d2): a cycle.
    std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
    std::os::unix::fs::symlink("..", dir.join("real/loop")).unwrap();
    s.server.create(
        "configmaps",
        Some("default"),
        configmap("web", "default", json!({})),
    );
    let out = finish(
        s.notify(&[
            "-R",
            "-f",
            dir.to_str().unwrap(),
            "--for",
            "create",
            "--timeout",
            "20s",
        ])
        .spawn()
        .unwrap(),
        Duration::from_secs(10),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Read once, through the real folder only.
    assert_eq!(stdout(&out), "configmap/web condition met\n");
}

#[test]
fn objects_granted_by_name_are_watched_by_name_when_the_shared_watch_is_forbidden() {
    let s = Scenario::new();
    let dir = s.dir.path().join("k8s");
    let objects = [
        configmap("a", "default", json!({})),
        configmap("b", "default", json!({})),
    ];
    write(&dir, "cm.yaml", &yaml(&objects));
    for o in &objects {
        s.server.create("configmaps", Some("default"), o.clone());
    }
    // A Role with resourceNames: get, list, watch of `a` and `b` only.
    s.server.add_user(
        "named",
        "named-token",
        vec![testserver::Rule {
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            groups: vec!["".into()],
            resources: vec!["configmaps".into()],
            namespaces: vec!["default".into()],
            names: vec!["a".into(), "b".into()],
        }],
    );
    let named = s.dir.path().join("named");
    s.server.write_kubeconfig(&named, "named-token", "default");
    let before = s.server.requests().len();
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "create",
        "--timeout",
        "20s",
        "--kubeconfig",
        named.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "configmap/a condition met\nconfigmap/b condition met\n"
    );
    assert!(!stderr(&out).contains("forbidden"), "{}", stderr(&out));
    // Each read by name once the namespace-wide list was refused.
    let reads = reads(&s, before);
    for name in ["a", "b"] {
        assert!(
            reads
                .iter()
                .any(|p| p.contains(&format!("fieldSelector=metadata.name%3D{name}"))),
            "{reads:#?}"
        );
    }
}

#[test]
fn a_timeout_before_the_first_list_says_not_listed_yet() {
    let s = Scenario::new();
    let dir = s.dir.path().join("k8s");
    write(
        &dir,
        "cm.yaml",
        &yaml(&[configmap("web", "default", json!({}))]),
    );
    s.server.create(
        "configmaps",
        Some("default"),
        configmap("web", "default", json!({})),
    );
    // Discovery cached by a first run; then the timeout comes before the
    // first list.
    let out = s.run(&["-f", dir.to_str().unwrap(), "--for", "create"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    s.server.fail_next_requests(1, 429, Some(2));
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "create",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: timed out after 300ms waiting for --for create: configmap/web (not listed yet)\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_custom_resource_whose_type_is_gone_with_its_crd_is_deleted() {
    let s = Scenario::new();
    let dir = s.dir.path().join("app");
    let gadget = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g1"}, "spec": {}});
    write(
        &dir,
        "10-config.yaml",
        &yaml(&[configmap("web", "default", json!({}))]),
    );
    write(&dir, "20-gadget.yaml", &yaml(&[gadget]));
    // All deleted (`kubectl delete -f app/`, its CRD too): Gadget is no
    // longer served. Beside a served type, and alone.
    for (files, met) in [
        (
            dir.display().to_string(),
            "configmap/web condition met\ngadget.example.com/g1 condition met\n",
        ),
        (
            format!("{}/20-gadget.yaml", dir.display()),
            "gadget.example.com/g1 condition met\n",
        ),
    ] {
        let out = s.run(&["-f", &files, "--for", "delete", "--timeout", "5s"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(stdout(&out), met);
    }
}

#[test]
fn objects_of_one_name_in_several_namespaces_are_named_with_their_namespace() {
    let s = Scenario::new();
    let dir = s.dir.path().join("k8s");
    write(
        &dir,
        "cm.yaml",
        &yaml(&[
            configmap("web", "shop", json!({})),
            configmap("web", "blog", json!({})),
        ]),
    );
    s.server.create(
        "configmaps",
        Some("shop"),
        configmap("web", "shop", json!({})),
    );
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "delete",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: timed out after 1s waiting for --for delete: \
             configmap/web (in shop) (still exists)\n"
        ),
        "{err}"
    );
    // The explanation names it so too.
    assert!(err.contains("\n  configmap/web (in shop)\n"), "{err}");

    // An object not found is named with its namespace too.
    let out = s.run(&[
        "-f",
        dir.to_str().unwrap(),
        "--for",
        "create",
        "--timeout",
        "1s",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "error: timed out after 1s waiting for --for create: configmap/web (in blog) (not found)\n"
        ),
        "{}",
        stderr(&out)
    );
}
