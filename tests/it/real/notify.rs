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
