//! Running as one of several replicas: `--leader-elect` (only the lease
//! holder watches and delivers) and `--checkpoint` (resume where the last
//! active replica stopped). The notify loop drives both through
//! `run::replica::Replica`; nothing here knows how watching is done.

pub mod checkpoint;
pub mod lease;

use lease::Timings;

/// What the plan asks of high availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaPlan {
    /// `--leader-elect`: the Lease's name and the timings.
    pub lease: Option<(String, Timings)>,
    /// `--checkpoint NAME`.
    pub checkpoint: Option<String>,
}

/// The lease name without `--lease`.
pub const DEFAULT_LEASE: &str = "kubectl-notify";
