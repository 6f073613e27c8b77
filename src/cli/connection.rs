//! kubectl's connection flags (SPEC §2), spelled and defaulted as kubectl does.

use clap::Args;
use clap::builder::TypedValueParser;
use std::path::PathBuf;

#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Connection (as kubectl)")]
pub struct ConnectionArgs {
    /// Path to the kubeconfig file to use
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The namespace of the targets (default: the context's)
    #[arg(short, long, value_name = "NAME")]
    pub namespace: Option<String>,

    /// The address and port of the Kubernetes API server
    #[arg(short = 's', long, value_name = "URL")]
    pub server: Option<String>,

    /// Bearer token for authentication to the API server
    #[arg(long, value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Username to impersonate for the operation
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,

    /// Group to impersonate (repeatable)
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_group: Vec<String>,

    /// UID to impersonate
    #[arg(long = "as-uid", value_name = "UID")]
    pub as_uid: Option<String>,

    /// Path to a certificate file for the certificate authority
    #[arg(long, value_name = "PATH")]
    pub certificate_authority: Option<PathBuf>,

    /// Path to a client certificate file for TLS
    #[arg(long, value_name = "PATH")]
    pub client_certificate: Option<PathBuf>,

    /// Path to a client key file for TLS
    #[arg(long, value_name = "PATH")]
    pub client_key: Option<PathBuf>,

    /// Do not verify the server's certificate (insecure)
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,

    /// Server name to use for server certificate validation
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// How long to wait for a single request to the server (0: no limit)
    #[arg(long, value_name = "DURATION")]
    pub request_timeout: Option<String>,

    /// Cache directory for API discovery, shared with kubectl (default: $KUBECACHEDIR, else ~/.kube/cache; '' for none)
    #[arg(long, value_name = "DIR", value_parser = empty_allowed(), value_hint = clap::ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,
}

/// A path that may be empty (clap's own path parser refuses `''`).
fn empty_allowed() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}
