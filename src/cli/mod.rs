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

Exit codes: 0 condition met, 2 bad usage or input, 3 cluster refused or unreachable,
124 timeout, 130/143 interrupted.";

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
    /// Objects to watch: TYPE/NAME [TYPE/NAME ...] or TYPE NAME [NAME ...]
    #[arg(value_name = "TARGET", required = true)]
    pub targets: Vec<String>,

    /// Wait until EXPR holds for every target, e.g. '.status.ready == true'
    #[arg(long, value_name = "EXPR", help_heading = "Condition")]
    pub until: Option<String>,

    /// Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once
    #[arg(long, value_name = "DURATION", help_heading = "Condition")]
    pub timeout: Option<String>,

    /// Print nothing on success
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Report reconnects and retries on stderr (-vv: also requests)
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    #[command(flatten)]
    pub connection: ConnectionArgs,
}
