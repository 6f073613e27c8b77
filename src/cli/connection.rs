//! kubectl's connection flags (SPEC §2), spelled and defaulted as kubectl does.

use clap::Args;
use clap::builder::TypedValueParser;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Connection (as kubectl)")]
pub struct ConnectionArgs {
    /// Path to the kubeconfig file to use
    #[arg(long, value_name = "PATH", value_parser = empty_allowed(), overrides_with = "kubeconfig")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, value_name = "NAME", overrides_with = "context")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use
    #[arg(long, value_name = "NAME", overrides_with = "cluster")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, value_name = "NAME", overrides_with = "user")]
    pub user: Option<String>,

    /// The namespace of the targets (default: the context's)
    #[arg(short, long, value_name = "NAME", overrides_with = "namespace")]
    pub namespace: Option<String>,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, value_name = "URL", overrides_with = "server")]
    pub server: Option<String>,

    /// Bearer token for authentication to the API server
    #[arg(
        long,
        value_name = "TOKEN",
        hide_env_values = true,
        overrides_with = "token"
    )]
    pub token: Option<String>,

    /// Username to impersonate for the operation
    #[arg(long = "as", value_name = "USER", overrides_with = "as_user")]
    pub as_user: Option<String>,

    /// Group to impersonate (repeatable)
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_group: Vec<String>,

    /// UID to impersonate
    #[arg(long = "as-uid", value_name = "UID", overrides_with = "as_uid")]
    pub as_uid: Option<String>,

    /// Path to a certificate file for the certificate authority
    #[arg(long, value_name = "PATH", value_parser = empty_allowed(), overrides_with = "certificate_authority")]
    pub certificate_authority: Option<PathBuf>,

    /// Path to a client certificate file for TLS
    #[arg(long, value_name = "PATH", value_parser = empty_allowed(), overrides_with = "client_certificate")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS
    #[arg(long, value_name = "PATH", value_parser = empty_allowed(), overrides_with = "client_key")]
    pub client_key: Option<PathBuf>,

    /// Do not verify the server's certificate (insecure)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false", action = clap::ArgAction::Set, value_name = "BOOL",
          overrides_with = "insecure_skip_tls_verify")]
    pub insecure_skip_tls_verify: bool,

    /// Server name to use for server certificate validation
    #[arg(long, value_name = "NAME", overrides_with = "tls_server_name")]
    pub tls_server_name: Option<String>,

    /// How long to wait for a single request to the server (0: no limit)
    #[arg(long, value_name = "DURATION", overrides_with = "request_timeout")]
    pub request_timeout: Option<String>,

    /// Cache directory for API discovery, shared with kubectl (default: $KUBECACHEDIR, else ~/.kube/cache; '' for none)
    #[arg(long, value_name = "DIR", value_parser = empty_allowed(), value_hint = clap::ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}

/// A path that may be empty (clap's own path parser refuses `''`).
fn empty_allowed() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}
