//! Raw command-line input as clap sees it. Nothing here is validated beyond
//! what clap checks; `plan` turns it into what the program will do.

mod connection;
mod incluster;

use clap::{CommandFactory, FromArgMatches, Parser};

use crate::color::ColorChoice;

pub use connection::ConnectionArgs;
pub use incluster::InClusterArgs;

const ABOUT: &str = "Watch Kubernetes objects: exit when a condition holds, or run a command on every matching change";

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
  kubectl notify jobs/migrate --for condition=Complete --fail-if '.status.conditions[?@.type==\"Failed\"].status == \"True\"'

  # Every object matching a selector (at least one), or any one of several
  kubectl notify widgets -l team=payments --until '.status.ready == true'
  kubectl notify widgets/a widgets/b --any --until '.status.ready == true'

  # Notify mode: every change, or only some, handed to a command
  kubectl notify configmaps/app-config --on-change .data -- ./reload.sh
  kubectl notify widgets -A --when '.status.phase == \"Failed\"' -- ./page-oncall.sh
  kubectl notify jobs -l app=etl --events deleted --count 1

Exit codes: 0 condition met, 1 --fail-if held or the object failed, 2 bad usage or input,
3 cluster refused or unreachable, 124 timeout, 130/143 interrupted, 141 stdout closed,
70 internal failure; with a command in wait mode, the command's own code.

The guide (install, waiting, notifying, sinks, running in a cluster, expressions,
same as kubectl, performance, development):
https://github.com/kubectl-notify/kubectl-notify/tree/main/docs";

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
    /// Objects to watch: TYPE/NAME [TYPE/NAME ...], TYPE[,TYPE...] NAME [NAME ...], or
    /// TYPE[,TYPE...] with -l, --field-selector, --all or -A (or -f/-k instead)
    // Not `required` for clap: targets may also follow `--on-change`'s paths
    // (see `Args::read`); `plan` says when there are none.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Wait until EXPR holds for every target, e.g. '.status.ready == true'
    #[arg(long, value_name = "EXPR", help_heading = "Condition")]
    pub until: Option<String>,

    /// Wait for: condition=TYPE[=STATUS], delete, create, jsonpath='{.path}'[=VALUE], ready
    /// (repeatable; all must hold on the same version of the object)
    #[arg(long = "for", value_name = "SPEC", help_heading = "Condition")]
    pub for_specs: Vec<String>,

    /// Fail at once (exit 1) when EXPR holds for any target, e.g. '.status.phase == "Failed"'
    #[arg(long, value_name = "EXPR", help_heading = "Condition")]
    pub fail_if: Option<String>,

    /// One target (or one selected object) meeting the condition is enough
    #[arg(long, help_heading = "Condition")]
    pub any: bool,

    /// With a selector: at least N of the selected objects must hold (default: all)
    #[arg(long, value_name = "N", help_heading = "Condition")]
    pub min: Option<u64>,

    /// Ignore the state at start: only a version that arrives later counts
    #[arg(long, help_heading = "Condition")]
    pub changes_only: bool,

    /// Give up after this long (exit 124): 30s, 5m, 1h30m; 0 checks once
    #[arg(long, value_name = "DURATION", help_heading = "Condition")]
    pub timeout: Option<String>,

    /// The condition (--until/--for, or --when) must stay true this long, with no
    /// version in between breaking it, before it counts: 30s, 5m
    #[arg(long, value_name = "DURATION", help_heading = "Condition")]
    pub hold: Option<String>,

    /// Notify only when EXPR becomes true for an object (false → true)
    #[arg(
        long,
        value_name = "EXPR",
        help_heading = "Notify mode (no --until/--for)"
    )]
    pub when: Option<String>,

    /// With --when: also notify (event "resolved") when EXPR stops holding for an
    /// object that fired, or that object is deleted: alerts close themselves
    #[arg(long, help_heading = "Notify mode (no --until/--for)")]
    pub resolve: bool,

    /// Notify only when the value at one of these paths changed, e.g. --on-change .data .spec;
    /// the paths start with `.` or `$`, and the first value after them that does not is a target
    #[arg(long, value_name = "PATH", num_args = 1.., help_heading = "Notify mode (no --until/--for)")]
    pub on_change: Vec<String>,

    /// Notify only for these kinds of change: created,modified,deleted
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        help_heading = "Notify mode (no --until/--for)"
    )]
    pub events: Vec<String>,

    /// Count the state at start as changes (event "initial")
    #[arg(long, help_heading = "Notify mode (no --until/--for)")]
    pub initial: bool,

    /// At most one notification per object per DURATION; changes inside the window
    /// are folded into one trailing notification with the newest state
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Notify mode (no --until/--for)"
    )]
    pub throttle: Option<String>,

    /// Exit 0 after N notifications
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = whole_number,
        help_heading = "Notify mode (no --until/--for)"
    )]
    pub count: Option<u64>,

    /// Run as one of several replicas: only the holder of a coordination.k8s.io/v1 Lease in the
    /// namespace watches and delivers (client-go's timings: 15s lease, 10s renew deadline, 2s retry)
    #[arg(long, help_heading = "High availability (notify mode)")]
    pub leader_elect: bool,

    /// The Lease --leader-elect holds [default: kubectl-notify]
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "High availability (notify mode)"
    )]
    pub lease: Option<String>,

    /// Keep what was delivered in this ConfigMap (in the namespace) and resume from it on start
    /// and takeover: nothing missed across restarts
    #[arg(
        long,
        value_name = "NAME",
        help_heading = "High availability (notify mode)"
    )]
    pub checkpoint: Option<String>,

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

    /// Watch every object of these manifests: a file, a folder (files ending .json, .yaml,
    /// .yml), or - for stdin (also the lines `kubectl apply -o name` prints); repeatable
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR|-",
        help_heading = "Targets"
    )]
    pub filenames: Vec<String>,

    /// Read the folders given with -f and their sub-folders
    #[arg(short = 'R', long, help_heading = "Targets")]
    pub recursive: bool,

    /// Watch every object `kubectl kustomize DIR` builds
    #[arg(short = 'k', long, value_name = "DIR", help_heading = "Targets")]
    pub kustomize: Option<String>,

    /// On a notification while the command runs: queue (default), skip, restart
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = OnBusyArg::Queue, help_heading = "Command (after --)")]
    pub on_busy: OnBusyArg,

    /// Grace between SIGTERM and SIGKILL when stopping the command
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Command (after --)"
    )]
    pub stop_timeout: String,

    /// Stop a run of the command that takes longer than this (counts as failed)
    #[arg(long, value_name = "DURATION", help_heading = "Command (after --)")]
    pub exec_timeout: Option<String>,

    /// Retry a failed run up to N times, with exponential backoff
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        help_heading = "Command (after --)"
    )]
    pub retries: u32,

    /// Exit with the command's code after N failed notifications in a row
    #[arg(long, value_name = "N", help_heading = "Command (after --)")]
    pub max_failures: Option<u32>,

    /// Run this for the condition (once) or for every notification: no shell,
    /// the object's JSON on stdin, KUBECTL_NOTIFY_* in the environment
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Output: human (default), json (one object per line), name, jsonpath=TEMPLATE
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        default_value = "human",
        help_heading = "Output"
    )]
    pub output: String,

    /// In human output, how to show what changed: full, paths, none
    #[arg(long, value_name = "MODE", value_enum, default_value_t = DiffArg::Full, help_heading = "Output")]
    pub diff: DiffArg,

    /// Colour: auto (terminals only; NO_COLOR and CLICOLOR_FORCE honoured), always, never
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, help_heading = "Output")]
    pub color: ColorChoice,

    /// Print nothing on success
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Report reconnects and retries on stderr (-vv: also requests)
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// Also deliver every notification (wait mode: the met one) to TYPE:TARGET, repeatable;
    /// TYPE is webhook, cloudevents, slack, nats, kafka, alertmanager, pagerduty, teams,
    /// discord, googlechat or mattermost; TARGET the URL, or env:NAME or file:PATH
    /// holding it (sink URLs are secrets: keep them out of argv)
    #[arg(long = "sink", value_name = "TYPE:TARGET", help_heading = "Sinks")]
    pub sinks: Vec<String>,

    /// The text of chat messages (slack, teams, discord, googlechat, mattermost) and of
    /// alerts' summaries (alertmanager, pagerduty), in -o jsonpath's template syntax,
    /// e.g. '{.metadata.name} failed: {.status.message}' (default: the header line and changed paths)
    #[arg(long, value_name = "TEMPLATE", help_heading = "Sinks")]
    pub message: Option<String>,

    /// The alertname label of alertmanager alerts, also in pagerduty's dedup_key
    /// [default: KubectlNotify]
    #[arg(long, value_name = "NAME", help_heading = "Sinks")]
    pub alert_name: Option<String>,

    /// A label on alertmanager alerts (and a custom detail of pagerduty events), repeatable
    #[arg(long = "label", value_name = "K=V", help_heading = "Sinks")]
    pub labels: Vec<String>,

    /// The severity of pagerduty events (and alertmanager's severity label):
    /// critical, error, warning or info [default: error]
    #[arg(long, value_name = "LEVEL", help_heading = "Sinks")]
    pub severity: Option<String>,

    /// Notifications waiting per sink; when full, older ones of an object fold into its newest
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10_000,
        help_heading = "Sinks"
    )]
    pub sink_queue: usize,

    /// On exit, keep delivering what is pending for up to this long
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        help_heading = "Sinks"
    )]
    pub flush_timeout: String,

    #[command(flatten)]
    pub connection: ConnectionArgs,

    #[command(flatten)]
    pub incluster: InClusterArgs,

    /// The words of the command line after the program's name, as given
    /// (`--print-manifests` builds the pod's arguments from them).
    #[arg(skip)]
    pub words: Vec<String>,
}

/// Runs `f` with the command line's clap definition, built once for the
/// process: a rules file parses every rule with it (built anew for each
/// rule, it was about a third of a short run of 50 rules).
pub fn with_command<R>(f: impl FnOnce(&mut clap::Command) -> R) -> R {
    static COMMAND: std::sync::OnceLock<std::sync::Mutex<clap::Command>> =
        std::sync::OnceLock::new();
    let command = COMMAND.get_or_init(|| std::sync::Mutex::new(Args::command()));
    f(&mut command.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Args {
    /// Parses `argv` as clap does, then ends `--on-change`'s list of paths at
    /// the first value after them that is not a path (one not starting with
    /// `.` or `$`): that value and the rest are targets, in their place on the
    /// command line — `--on-change .data cm/app` watches `cm/app`.
    pub fn read<I, T>(argv: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
        let matches = with_command(|command| command.try_get_matches_from_mut(&argv))?;
        let mut args = Args::from_arg_matches(&matches)?;
        args.words = argv
            .iter()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let at = |id: &str| -> Vec<usize> {
            matches
                .indices_of(id)
                .map(Iterator::collect)
                .unwrap_or_default()
        };
        // The first value stays a path even if it does not look like one,
        // so `--on-change data` is told what a path looks like.
        let is_path = |v: &String| v.is_empty() || v.starts_with(['.', '$']);
        if let Some(end) = args.on_change.iter().skip(1).position(|v| !is_path(v)) {
            let end = end + 1;
            let mut targets: Vec<(usize, String)> = at("targets")
                .into_iter()
                .zip(std::mem::take(&mut args.targets))
                .chain(
                    at("on_change")
                        .into_iter()
                        .skip(end)
                        .zip(args.on_change.drain(end..)),
                )
                .collect();
            targets.sort_by_key(|(index, _)| *index);
            args.targets = targets.into_iter().map(|(_, target)| target).collect();
        }
        if let Some(message) = args.unpaired() {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("{message}\n"),
            ));
        }
        Ok(args)
    }

    /// A flag that only names something of another flag, given without it:
    /// said with what to add, or, where that flag cannot be added (wait
    /// mode has no lease), what to drop — never a refusal pointing back.
    fn unpaired(&self) -> Option<&'static str> {
        let waits = self.until.is_some() || !self.for_specs.is_empty();
        match (self.lease.is_some() && !self.leader_elect, waits) {
            (true, true) => {
                return Some(
                    "--lease names the Lease of --leader-elect, which is for notify mode \
                     (no --until or --for): drop --lease",
                );
            }
            (true, false) => {
                return Some(
                    "--lease NAME names the Lease --leader-elect holds: add --leader-elect",
                );
            }
            (false, _) => {}
        }
        if self.incluster.name.is_some() && !self.incluster.print_manifests {
            return Some(
                "--name NAME names the objects --print-manifests prints: add --print-manifests",
            );
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnBusyArg {
    Queue,
    Skip,
    Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffArg {
    Full,
    Paths,
    None,
}

/// `--count N`: read here so that `-1` is a value, not taken for a flag,
/// and said to be one that cannot be (0 is refused by the plan, with why).
fn whole_number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| "N must be a whole number ≥ 1".to_string())
}

/// clap's error as one line, without its `error: ` and the usage and
/// `--help` lines clap adds below it.
pub fn one_line(err: &clap::Error) -> String {
    let rendered = err.to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let text = paragraph.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(argv: &[&str]) -> (Vec<String>, Vec<String>) {
        let args =
            Args::read(std::iter::once("kubectl-notify").chain(argv.iter().copied())).unwrap();
        (args.targets, args.on_change)
    }

    #[test]
    fn on_change_paths_end_at_the_first_target() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (argv, targets, paths) in [
            (
                &["-n", "ns", "--on-change", ".data", "cm/app"][..],
                &["cm/app"][..],
                &[".data"][..],
            ),
            (
                &["cm/app", "--on-change", ".data", "cm/other"],
                &["cm/app", "cm/other"],
                &[".data"],
            ),
            (
                &["--on-change", ".data", "$.spec", "cm", "a", "b"],
                &["cm", "a", "b"],
                &[".data", "$.spec"],
            ),
            (
                &["--on-change", ".data", "cm", "-q", "a"],
                &["cm", "a"],
                &[".data"],
            ),
            (
                &["cm/app", "--on-change", ".data", ".spec"],
                &["cm/app"],
                &[".data", ".spec"],
            ),
            (
                &["cm/app", "--on-change", ".data", "--on-change", ".spec"],
                &["cm/app"],
                &[".data", ".spec"],
            ),
            (&["cm/app", "--on-change", "data"], &["cm/app"], &["data"]),
        ] {
            assert_eq!(read(argv), (s(targets), s(paths)), "{argv:?}");
        }
    }
}
