//! Raw command-line input as clap sees it. Nothing here is validated beyond
//! what clap checks; `plan` turns it into what the program will do.

mod connection;

use clap::Parser;

pub use connection::ConnectionArgs;

const ABOUT: &str = "Watch Kubernetes objects and exit when a condition holds";

const AFTER_HELP: &str = "\
Examples:
  # Wait until a custom resource reports ready (exit 0), at most two minutes
  kubectl notify widgets/foo --until '.status.ready == true' --timeout 2m

  # Several objects of one type; all must hold
  kubectl notify wg foo bar --until '.status.replicas >= 3 && .metadata.labels.env == prod'

  # Fully qualified type, another namespace and context, a regex
  kubectl notify widgets.v1.example.com/foo -n team-a --context staging --until '.status.phase =~ \"^Run\"'

  # kubectl wait's forms, generic readiness, and failing fast
  kubectl notify deploy/web --for condition=Available --timeout 5m
  kubectl notify widgets/foo --for ready
  kubectl notify jobs/migrate --for condition=Complete --fail-if '.status.failed >= 1'

  # Every object matching a selector (at least one), or any one of several
  kubectl notify widgets -l team=payments --until '.status.ready == true'
  kubectl notify widgets/a widgets/b --any --until '.status.ready == true'

Exit codes: 0 condition met, 1 --fail-if held or the object failed, 2 bad usage or input,
3 cluster refused or unreachable, 124 timeout, 130/143 interrupted.";

#[derive(Debug, Parser)]
#[command(
    name = "kubectl notify",
    bin_name = "kubectl notify",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Args {
    /// Objects to watch: TYPE/NAME [TYPE/NAME ...], TYPE NAME [NAME ...], or TYPE with -l, --field-selector, --all or -A
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,

    /// Wait until EXPR holds for every target, e.g. '.status.ready == true'
    #[arg(long, value_name = "EXPR", help_heading = "Condition")]
    pub until: Option<String>,

    /// Wait for: condition=TYPE[=STATUS], delete, create, jsonpath='{.path}'[=VALUE], ready
    /// (repeatable; all must hold on the same version of the object)
    #[arg(long = "for", value_name = "SPEC", help_heading = "Condition")]
    pub for_specs: Vec<String>,

    /// Fail at once (exit 1) when EXPR holds for any target, e.g. '.status.failed >= 1'
    #[arg(long, value_name = "EXPR", help_heading = "Condition")]
    pub fail_if: Option<String>,

    /// One target (or one selected object) meeting the condition is enough
    #[arg(long, help_heading = "Condition")]
    pub any: bool,

    /// Ignore the state at start: only a version that arrives later counts
    #[arg(long, help_heading = "Condition")]
    pub changes_only: bool,

    /// Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once
    #[arg(long, value_name = "DURATION", help_heading = "Condition")]
    pub timeout: Option<String>,

    /// Select objects of TYPE by label, e.g. -l team=payments,tier!=cache
    #[arg(short = 'l', long, value_name = "SELECTOR", help_heading = "Targets")]
    pub selector: Option<String>,

    /// Select objects of TYPE by field, e.g. --field-selector metadata.name=foo
    #[arg(long, value_name = "SELECTOR", help_heading = "Targets")]
    pub field_selector: Option<String>,

    /// Select every object of TYPE in the namespace
    #[arg(long, help_heading = "Targets")]
    pub all: bool,

    /// Look in every namespace (implies --all without a selector)
    #[arg(short = 'A', long, help_heading = "Targets")]
    pub all_namespaces: bool,

    /// Print nothing on success
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Report reconnects and retries on stderr (-vv: also requests)
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}
