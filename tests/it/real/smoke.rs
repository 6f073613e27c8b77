//! The shared stories (`stories.rs`) on a real control plane.

use crate::real::Namespace;
use crate::stories;

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_wait_ends_when_the_status_is_written() {
    stories::a_wait_ends_when_the_status_is_written(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn on_change_prints_each_change_of_the_path_as_json() {
    stories::on_change_prints_each_change_of_the_path_as_json(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn for_delete_ends_when_the_object_goes() {
    stories::for_delete_ends_when_the_object_goes(&Namespace::new());
}

/// The apiserver killed mid-watch and started again: the watch resumes and
/// the change made after the restart is printed, the one before it once.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_watch_cut_by_an_apiserver_restart_resumes() {
    use std::time::Duration;

    use serde_json::json;

    use crate::cluster::{Cluster, Watching};
    use crate::common::{code, stderr, stdout};
    use crate::real::{ControlPlane, Options};

    let plane = ControlPlane::start(Options {
        controller_manager: false,
        ..Options::default()
    });
    let ns = Namespace::on(&plane);
    ns.apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": ns.name}, "spec": {"size": 1}}));
    let run = Watching::start(
        &ns,
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
    ns.patch_widget("w", json!({"spec": {"size": 2}}));
    std::thread::sleep(Duration::from_millis(500));
    ns.plane.restart_apiserver(Duration::from_secs(2));
    ns.patch_widget("w", json!({"spec": {"size": 3}}));
    let out = run.finish(Duration::from_secs(90));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "widget.example.com/w\nwidget.example.com/w\n");
}
