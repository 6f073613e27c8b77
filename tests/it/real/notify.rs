//! Notify mode on a real control plane: the stories of `stories.rs` that
//! the test server tells too (selectors, re-created objects, `--initial`,
//! `--when`, a command, webhook and CloudEvents sinks).

use crate::real::Namespace;
use crate::stories;

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn selected_objects_join_and_leave() {
    stories::selected_objects_join_and_leave(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_recreated_object_is_a_new_object() {
    stories::a_recreated_object_is_a_new_object(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn initial_reports_the_state_at_start() {
    stories::initial_reports_the_state_at_start(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn when_fires_when_the_expression_becomes_true() {
    stories::when_fires_when_the_expression_becomes_true(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_command_gets_the_object_on_stdin_and_in_its_environment() {
    stories::a_command_gets_the_object_on_stdin_and_in_its_environment(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn webhook_and_cloudevents_sinks_get_each_change() {
    stories::webhook_and_cloudevents_sinks_get_each_change(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_finalizer_holds_a_deletion_until_it_is_removed() {
    stories::a_finalizer_holds_a_deletion_until_it_is_removed(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_user_without_rights_is_refused_at_start() {
    stories::a_user_without_rights_is_refused_at_start(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn human_output_shows_what_changed_and_nothing_the_server_moved() {
    stories::human_output_shows_what_changed_and_nothing_the_server_moved(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_configmaps_data_change_is_one_notification() {
    stories::a_configmaps_data_change_is_one_notification(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_namespace_is_selected_by_its_name_label() {
    stories::a_namespace_is_selected_by_its_name_label(&Namespace::new());
}

/// 1.32's WatchList is on, but the project's etcd 3.4 cannot serve a
/// streaming list (no watch progress): 200, then an ERROR event.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_refused_streaming_list_falls_back_to_list_and_watch() {
    stories::every_object_is_listed_and_every_change_after_seen(&Namespace::new());
}

/// With the WatchList gate off the apiserver refuses a streaming list with 422.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn without_the_watch_list_gate_lists_are_paginated() {
    use crate::real::{ControlPlane, Options};

    let plane = ControlPlane::start(Options {
        controller_manager: false,
        apiserver_args: vec!["--feature-gates=WatchList=false".into()],
    });
    stories::every_object_is_listed_and_every_change_after_seen(&Namespace::on(&plane));
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn open_alerts_survive_many_reloads_in_a_row() {
    stories::open_alerts_survive_many_reloads_in_a_row(&Namespace::new());
}
