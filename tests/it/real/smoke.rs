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

/// Its own control plane: the apiserver is restarted.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_watch_cut_by_an_apiserver_restart_resumes() {
    use crate::real::{ControlPlane, Options};

    let plane = ControlPlane::start(Options {
        controller_manager: false,
        ..Options::default()
    });
    stories::a_watch_cut_by_an_apiserver_restart_resumes(&Namespace::on(&plane));
}
