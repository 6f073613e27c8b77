//! `--leader-elect` and `--checkpoint` on a real control plane, the stories
//! of `ha.rs`: failover after SIGKILL and SIGTERM on a real Lease, a restart
//! resumed from the checkpoint through the apiserver's watch cache, and a
//! checkpoint older than the server's history (a real 410, see
//! `Namespace::forget_history`).

use crate::ha;
use crate::real::{ControlPlane, Namespace, Options};

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigkill_the_standby_takes_over_within_the_lease_and_delivers_the_gap() {
    ha::after_sigkill_the_standby_takes_over_and_delivers_the_gap(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn after_sigterm_the_standby_takes_over_at_once() {
    ha::after_sigterm_the_standby_takes_over_at_once_on(&Namespace::new());
}

#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_restart_with_a_checkpoint_delivers_exactly_what_changed_while_down() {
    ha::a_restart_with_a_checkpoint_delivers_what_changed_while_down(&Namespace::new());
}

/// Its own control plane: the apiserver is restarted to lose its history.
#[test]
#[cfg_attr(not(real_tier), ignore = "real tier: set KUBEBUILDER_ASSETS")]
fn a_checkpoint_older_than_the_servers_history_falls_back_to_list_and_compare() {
    let plane = ControlPlane::start(Options {
        controller_manager: false,
        ..Options::default()
    });
    ha::a_checkpoint_older_than_the_history_falls_back_to_list_and_compare(&Namespace::on(&plane));
}
