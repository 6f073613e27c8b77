//! Flags for running in a cluster (SPEC §12): printing the manifests that run
//! this command line there, the metrics endpoint, and the log format.

use clap::Args;

#[derive(Debug, Default, Args)]
#[command(next_help_heading = "In a cluster")]
pub struct InClusterArgs {
    /// Print the manifests that run this command in the cluster (ServiceAccount, least-privilege
    /// RBAC, a Deployment in notify mode or a Job in wait mode) instead of running it
    #[arg(long)]
    pub print_manifests: bool,

    /// With --print-manifests: the name of every object [default: kubectl-notify-<hash of the rule>]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Serve /metrics (Prometheus text format), /healthz and /readyz on ADDR, e.g. :9090 or 127.0.0.1:9090
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,

    /// Run many rules in one process: a YAML file of named `kubectl notify` command lines
    /// (notify mode), sharing one connection, its watches and this line's process-wide flags
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub rules: Option<std::path::PathBuf>,

    /// Warnings and errors on stderr: text, or json (one object per line: time, level, message, target)
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    pub log_format: String,
}
