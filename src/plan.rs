//! Turns raw flags into what the program will do, validated before any
//! connection is made: targets split into type and selection, condition compiled.

mod files;
mod incluster;
mod rules;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Args, ConnectionArgs, DiffArg, OnBusyArg};
use crate::color::{self, Stream};
use crate::condition::{Condition, ForSpec};
use crate::decide::filter::Filter;
use crate::exit::{Exit, Result};
use crate::expr::Expr;
use crate::ha::lease::Timings;
use crate::ha::{DEFAULT_LEASE, HaPlan};
use crate::sink::address::{self, SinkKind, SinkSpec};
use crate::sink::alert::{self, Alerting};
use crate::sink::command::{CommandSpec, OnBusy, Policy, check_command};
use crate::sink::network::DeliveryPolicy;
use crate::sink::printer::{DiffMode, Format, Printer, Template};
use crate::target::{Selection, TargetSpec};
use crate::tracker::ChangeKind;

pub use incluster::InCluster;
pub use rules::{Process, Rule, Source, from_stdin};

/// How the target-selecting flags were set.
#[derive(Debug, Default, Clone)]
pub struct SelectorFlags {
    pub labels: Option<String>,
    pub fields: Option<String>,
    pub all: bool,
    pub all_namespaces: bool,
}

impl SelectorFlags {
    fn selects(&self) -> bool {
        self.labels.is_some() || self.fields.is_some() || self.all || self.all_namespaces
    }
}

/// `--hold` and `--throttle`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Noise {
    /// How long the condition (or `--when`) must stay true before it counts.
    pub hold: Option<Duration>,
    /// Notify mode: the shortest time between two notifications of one object.
    pub throttle: Option<Duration>,
}

/// The longest `--hold` or `--throttle`: a week is already more than any
/// watch is expected to stay open; beyond it a value is a typo.
const LONGEST_NOISE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// What ends the run and when something happens.
#[derive(Debug)]
pub enum Mode {
    /// `--until`/`--for`: exit once the condition holds.
    Wait {
        condition: Condition,
        /// One met target (or selected object) is enough.
        any: bool,
        /// `--min N`: with a selector, N met objects are enough.
        min: Option<usize>,
        /// Only versions that arrive after start count.
        changes_only: bool,
    },
    /// Every matching change is a notification; `--count` ends it.
    Notify { filter: Filter, count: Option<u64> },
}

#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<TargetSpec>,
    pub mode: Mode,
    /// The command after `--`, with how its runs are bounded.
    pub command: Option<(CommandSpec, Policy)>,
    pub all_namespaces: bool,
    pub printer: Printer,
    /// `None` waits for ever; `Some(ZERO)` checks once.
    pub timeout: Option<Duration>,
    pub noise: Noise,
    pub quiet: bool,
    pub verbosity: u8,
    pub connection: ConnectionArgs,
    pub request_timeout: Option<Duration>,
    /// Where kubectl's discovery cache lives; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// `--leader-elect`, `--checkpoint`.
    pub ha: HaPlan,
    /// `--sink`s, `--message`, `--sink-queue`, `--flush-timeout`.
    pub sinks: Sinks,
    /// `--metrics-addr`, `--log-format`, `--print-manifests`.
    pub incluster: InCluster,
}

#[derive(Debug, Default)]
pub struct Sinks {
    pub specs: Vec<SinkSpec>,
    pub message: Option<Template>,
    /// `--alert-name`, `--label`, `--severity`.
    pub alerting: Alerting,
    pub policy: DeliveryPolicy,
}

impl Plan {
    pub fn from_args(args: Args) -> Result<Plan> {
        let selector = SelectorFlags {
            labels: args.selector.clone(),
            fields: args.field_selector.clone(),
            all: args.all,
            all_namespaces: args.all_namespaces,
        };
        // `--on-change .data cm/app .spec`: the paths ended at `cm/app`.
        if let Some(path) = args.targets.iter().find(|a| a.starts_with(['.', '$']))
            && !args.on_change.is_empty()
        {
            return Err(Exit::Usage(format!(
                "`{path}` is a path, not a target: give --on-change its paths together, \
                 before the targets (--on-change .data .spec TYPE/NAME)"
            )));
        }
        let targets = targets(&args, &selector)?;
        let mode = if args.until.is_some() || !args.for_specs.is_empty() {
            wait_mode(&args, selector.selects())?
        } else {
            notify_mode(&args)?
        };
        // Before the command is looked for: the pod could not run it anyway.
        let incluster = incluster::in_cluster(&args, matches!(mode, Mode::Wait { .. }))?;
        let command = command(&args)?;
        let diff = match args.diff {
            DiffArg::Full => DiffMode::Full,
            DiffArg::Paths => DiffMode::Paths,
            DiffArg::None => DiffMode::None,
        };
        let format = Format::parse(&args.output, diff).map_err(Exit::Usage)?;
        let printer = Printer {
            format,
            shorten: std::io::stdout().is_terminal(),
            color: color::enabled(args.color, Stream::Stdout),
        };
        let timeout = args
            .timeout
            .as_deref()
            .map(|t| parse_duration("--timeout", t))
            .transpose()?;
        let request_timeout = args
            .connection
            .request_timeout
            .as_deref()
            .map(parse_request_timeout)
            .transpose()?
            .filter(|d| !d.is_zero());
        let noise = noise(&args, &mode, timeout)?;
        let cache_dir = crate::discovery::cache::base_dir(args.connection.cache_dir.as_deref());
        let ha = ha_plan(&args)?;
        let sinks = sinks(&args, incluster.manifests.is_some())?;
        Ok(Plan {
            targets,
            mode,
            command,
            all_namespaces: args.all_namespaces,
            printer,
            timeout,
            noise,
            quiet: args.quiet,
            verbosity: args.verbose,
            connection: args.connection,
            request_timeout,
            cache_dir,
            ha,
            sinks,
            incluster,
        })
    }
}

/// `for_the_pod` (`--print-manifests`): the sinks' variables are the pod's,
/// set from its Secret, not this shell's; a stand-in URL checks the rest.
fn sinks(args: &Args, for_the_pod: bool) -> Result<Sinks> {
    let specs = args
        .sinks
        .iter()
        .enumerate()
        .map(|(i, text)| {
            address::parse(text, i + 1, |name| match for_the_pod {
                true if text.starts_with("nats:") => Some("nats://in-the-pod:4222/s".into()),
                true if text.starts_with("pagerduty:") => Some("RoutingKeyInThePod".into()),
                true if text.starts_with("kafka:") => Some("kafka://in-the-pod:9092/t".into()),
                true => Some("https://in-the-pod/".into()),
                false => std::env::var(name).ok(),
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Exit::Usage)?;
    let defaults = DeliveryPolicy::default();
    if specs.is_empty() {
        let sink_only = [
            ("--message", args.message.is_some()),
            ("--alert-name", args.alert_name.is_some()),
            ("--label", !args.labels.is_empty()),
            ("--severity", args.severity.is_some()),
            ("--sink-queue", args.sink_queue != defaults.queue),
            ("--flush-timeout", args.flush_timeout != "10s"),
        ];
        if let Some((flag, _)) = sink_only.iter().find(|(_, given)| *given) {
            return Err(Exit::Usage(format!(
                "{flag} needs a sink: add --sink TYPE:TARGET"
            )));
        }
    }
    let alerts = specs
        .iter()
        .any(|s| matches!(s.kind, SinkKind::Alertmanager | SinkKind::PagerDuty));
    let message = match &args.message {
        Some(_) if !alerts && !specs.iter().any(|s| s.kind.is_chat()) => {
            return Err(Exit::Usage(
                "--message is the text of chat messages and alert summaries: add a --sink \
                 slack:, teams:, discord:, googlechat:, mattermost:, alertmanager: or pagerduty:"
                    .into(),
            ));
        }
        Some(text) => Some(
            Template::parse(text)
                .map_err(|e| Exit::Usage(e.replace("-o jsonpath", "--message")))?,
        ),
        None => None,
    };
    if args.sink_queue == 0 {
        return Err(Exit::Usage(
            "--sink-queue 0 would hold nothing: give 1 or more (default 10000)".into(),
        ));
    }
    let flush_timeout = parse_duration("--flush-timeout", &args.flush_timeout)?;
    if flush_timeout.is_zero() {
        return Err(Exit::Usage(
            "--flush-timeout 0 would drop whatever is pending at exit: give a duration such as 1s (default 10s)".into(),
        ));
    }
    let alerting = alerting(args, alerts)?;
    Ok(Sinks {
        specs,
        message,
        alerting,
        policy: DeliveryPolicy {
            queue: args.sink_queue,
            flush_timeout,
        },
    })
}

/// `--alert-name`, `--label K=V`, `--severity` for the alert sinks. The
/// re-send interval to Alertmanager is Prometheus's minute;
/// `KUBECTL_NOTIFY_ALERTMANAGER_RESEND=DURATION` shortens it for tests only.
fn alerting(args: &Args, alerts: bool) -> Result<Alerting> {
    let given = [
        ("--alert-name", args.alert_name.is_some()),
        ("--label", !args.labels.is_empty()),
        ("--severity", args.severity.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, given)| *given && !alerts) {
        return Err(Exit::Usage(format!(
            "{flag} is for alerts: add --sink alertmanager:TARGET or pagerduty:TARGET"
        )));
    }
    let mut alerting = Alerting {
        condition: args.when.clone(),
        keep_alive: args.resolve,
        ..Alerting::default()
    };
    if let Some(name) = &args.alert_name {
        if name.trim().is_empty() {
            return Err(Exit::Usage(
                "--alert-name is empty: give a name such as WidgetFailed".into(),
            ));
        }
        alerting.name = name.clone();
    }
    for text in &args.labels {
        let Some((key, value)) = text.split_once('=') else {
            return Err(Exit::Usage(format!(
                "--label {text}: give KEY=VALUE, e.g. --label team=payments"
            )));
        };
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Exit::Usage(format!(
                "--label {text}: {key:?} is not a label name (letters, digits and _, \
                 not starting with a digit)"
            )));
        }
        if ["alertname", "namespace", "kind", "name", "severity"].contains(&key) {
            return Err(Exit::Usage(format!(
                "--label {text}: {key} is set by kubectl-notify (use --alert-name or \
                 --severity for those)"
            )));
        }
        if value.trim().is_empty() {
            // Alertmanager takes an empty label for no label at all, and
            // PagerDuty would show an empty detail: a slip, not a meaning.
            return Err(Exit::Usage(format!(
                "--label {text}: the value of {key} is empty: give {key}=VALUE, or leave \
                 the label out"
            )));
        }
        if let Some((_, first)) = alerting.labels.iter().find(|(k, _)| k == key) {
            return Err(Exit::Usage(format!(
                "--label {text}: {key} is given twice (first {key}={first}): give each label once"
            )));
        }
        alerting.labels.push((key.to_string(), value.to_string()));
    }
    if let Some(severity) = &args.severity {
        if !alert::SEVERITIES.contains(&severity.as_str()) {
            return Err(Exit::Usage(format!(
                "--severity {severity}: use critical, error, warning or info"
            )));
        }
        alerting.severity = Some(severity.clone());
    }
    if let Ok(text) = std::env::var("KUBECTL_NOTIFY_ALERTMANAGER_RESEND") {
        let resend = parse_duration("KUBECTL_NOTIFY_ALERTMANAGER_RESEND", &text)?;
        if !resend.is_zero() {
            alerting.resend = resend;
        }
    }
    Ok(alerting)
}

/// `--leader-elect [--lease NAME]` and `--checkpoint NAME`. The lease timings
/// are client-go's; `KUBECTL_NOTIFY_LEASE_TIMINGS=LEASE,RENEW,RETRY` shortens
/// them for tests only (undocumented in --help on purpose).
fn ha_plan(args: &Args) -> Result<HaPlan> {
    let lease = match args.leader_elect {
        false => None,
        true => {
            let name = args
                .lease
                .clone()
                .unwrap_or_else(|| DEFAULT_LEASE.to_string());
            check_object_name("--lease", &name, DnsName::Subdomain)?;
            let timings = match std::env::var("KUBECTL_NOTIFY_LEASE_TIMINGS") {
                Ok(text) => Timings::parse(&text)
                    .map_err(|e| Exit::Usage(format!("KUBECTL_NOTIFY_LEASE_TIMINGS: {e}")))?,
                Err(_) => Timings::CLIENT_GO,
            };
            Some((name, timings))
        }
    };
    if let Some(name) = &args.checkpoint {
        check_object_name("--checkpoint", name, DnsName::Subdomain)?;
    }
    // The replica's name goes into the Lease and the checkpoint: it must
    // never be read from where a sink's secret URL is.
    let replicated = args.leader_elect || args.checkpoint.is_some();
    if let Some(text) = args
        .sinks
        .iter()
        .find(|text| replicated && address::env_name(text) == Some("POD_NAME"))
    {
        return Err(Exit::Usage(format!(
            "--sink {text}: POD_NAME names this replica (in the Lease and the checkpoint), \
             so it cannot hold a sink's URL; give the URL another variable name"
        )));
    }
    Ok(HaPlan {
        lease,
        checkpoint: args.checkpoint.clone(),
    })
}

/// The two name rules of objects we create: a DNS subdomain (a Lease's or
/// ConfigMap's name) or the stricter DNS label (a Service's name).
#[derive(Clone, Copy, PartialEq, Eq)]
enum DnsName {
    Subdomain,
    Label,
}

/// A name for an object we create, checked against `rule`.
fn check_object_name(flag: &str, name: &str, rule: DnsName) -> Result<()> {
    let (longest, dots) = match rule {
        DnsName::Subdomain => (253, true),
        DnsName::Label => (63, false),
    };
    let valid = !name.is_empty()
        && name.len() <= longest
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.')
        })
        && match rule {
            DnsName::Subdomain => name.starts_with(|c: char| c.is_ascii_alphanumeric()),
            DnsName::Label => name.starts_with(|c: char| c.is_ascii_lowercase()),
        }
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        return Ok(());
    }
    Err(Exit::Usage(match rule {
        DnsName::Subdomain => format!(
            "{flag} {name:?}: not a valid object name (lowercase letters, digits, '-' and '.')"
        ),
        DnsName::Label => format!(
            "{flag} {name:?}: not a valid name (at most 63 lowercase letters, digits and '-', \
             starting with a letter)"
        ),
    }))
}

fn wait_mode(args: &Args, selects: bool) -> Result<Mode> {
    let notify_only = [
        ("--when", args.when.is_some()),
        ("--on-change", !args.on_change.is_empty()),
        ("--events", !args.events.is_empty()),
        ("--initial", args.initial),
        ("--resolve", args.resolve),
        ("--count", args.count.is_some()),
        ("--throttle", args.throttle.is_some()),
        ("--leader-elect", args.leader_elect),
        ("--checkpoint", args.checkpoint.is_some()),
    ];
    if let Some((flag, _)) = notify_only.iter().find(|(_, given)| *given) {
        return Err(Exit::Usage(format!(
            "{flag} is for notify mode and cannot be combined with --until or --for"
        )));
    }
    let fors = args
        .for_specs
        .iter()
        .map(|text| ForSpec::parse(text).map_err(Exit::Usage))
        .collect::<Result<Vec<_>>>()?;
    let until = compile("--until", args.until.as_deref())?;
    let fail_if = compile("--fail-if", args.fail_if.as_deref())?;
    let condition = Condition::new(fors, until, fail_if).map_err(Exit::Usage)?;
    let min = match args.min {
        None => None,
        Some(_) if !selects => {
            return Err(Exit::Usage(
                "--min counts the objects a selector picks: give -l, --field-selector, --all or -A"
                    .into(),
            ));
        }
        Some(_) if args.any => {
            return Err(Exit::Usage("--any is --min 1: give one of them".into()));
        }
        Some(0) => {
            return Err(Exit::Usage(
                "--min 0 would hold with nothing met: give 1 or more".into(),
            ));
        }
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    Ok(Mode::Wait {
        condition,
        any: args.any,
        min,
        changes_only: args.changes_only,
    })
}

fn notify_mode(args: &Args) -> Result<Mode> {
    let wait_only = [
        ("--fail-if", args.fail_if.is_some()),
        ("--any", args.any),
        ("--min", args.min.is_some()),
        ("--changes-only", args.changes_only),
    ];
    if let Some((flag, _)) = wait_only.iter().find(|(_, given)| *given) {
        return Err(Exit::Usage(format!(
            "{flag} needs a condition to wait for: add --until EXPR or --for SPEC"
        )));
    }
    let when = compile("--when", args.when.as_deref())?;
    if args.resolve && when.is_none() {
        return Err(Exit::Usage(
            "--resolve tells when an alert's condition stops holding: add --when EXPR".into(),
        ));
    }
    let on_change = args
        .on_change
        .iter()
        .map(|text| {
            let path = Expr::parse(text)
                .map_err(|e| Exit::Usage(format!("--on-change: {}", e.render(text))))?;
            if !path.is_path() {
                return Err(Exit::Usage(format!(
                    "--on-change {text}: give paths such as .data or .spec.replicas"
                )));
            }
            Ok(path)
        })
        .collect::<Result<Vec<_>>>()?;
    let events = args
        .events
        .iter()
        .map(|kind| match kind.trim() {
            "created" => Ok(ChangeKind::Created),
            "modified" => Ok(ChangeKind::Modified),
            "deleted" => Ok(ChangeKind::Deleted),
            other => Err(Exit::Usage(format!(
                "--events: unknown kind of change \"{other}\": use created, modified, deleted \
                 (and --initial for the state at start)"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    if args.count == Some(0) {
        return Err(Exit::Usage(
            "--count 0 would never notify: give 1 or more".into(),
        ));
    }
    Ok(Mode::Notify {
        filter: Filter::new(when, on_change, &events, args.initial).resolving(args.resolve),
        count: args.count,
    })
}

fn noise(args: &Args, mode: &Mode, timeout: Option<Duration>) -> Result<Noise> {
    let window = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(|text| noise_window(flag, text))
            .transpose()
    };
    let noise = Noise {
        hold: window("--hold", &args.hold)?,
        throttle: window("--throttle", &args.throttle)?,
    };
    if let Some(hold) = noise.hold {
        if matches!(mode, Mode::Notify { .. }) && args.when.is_none() {
            return Err(Exit::Usage(
                "--hold needs a condition to hold: --when EXPR in notify mode, \
                 or --until/--for to wait"
                    .into(),
            ));
        }
        if let Some(timeout) = timeout.filter(|t| hold >= *t) {
            return Err(Exit::Usage(format!(
                "--hold {} is not shorter than --timeout {}: the condition could never \
                 hold long enough; shorten --hold or lengthen --timeout",
                crate::duration::show(hold),
                crate::duration::show(timeout)
            )));
        }
    }
    Ok(noise)
}

/// A `--hold` or `--throttle` duration: more than zero, at most a week.
fn noise_window(flag: &str, text: &str) -> Result<Duration> {
    let window = parse_duration(flag, text)?;
    if window.is_zero() {
        return Err(Exit::Usage(format!(
            "{flag} {text}: give a duration above zero, e.g. 30s (or leave {flag} out)"
        )));
    }
    if window > LONGEST_NOISE_WINDOW {
        return Err(Exit::Usage(format!(
            "{flag} {text} is too long: at most 168h (a week)"
        )));
    }
    Ok(window)
}

fn command(args: &Args) -> Result<Option<(CommandSpec, Policy)>> {
    let Some((program, rest)) = args.command.split_first() else {
        let command_only = [
            ("--on-busy", args.on_busy != OnBusyArg::Queue),
            ("--exec-timeout", args.exec_timeout.is_some()),
            ("--retries", args.retries > 0),
            ("--max-failures", args.max_failures.is_some()),
        ];
        if let Some((flag, _)) = command_only.iter().find(|(_, given)| *given) {
            return Err(Exit::Usage(format!(
                "{flag} needs a command: add -- COMMAND [ARG...]"
            )));
        }
        return Ok(None);
    };
    let spec = CommandSpec {
        program: program.clone(),
        args: rest.to_vec(),
    };
    check_command(&spec).map_err(Exit::Usage)?;
    if args.max_failures == Some(0) {
        return Err(Exit::Usage(
            "--max-failures 0 would stop before the first run: give 1 or more".into(),
        ));
    }
    let policy = Policy {
        on_busy: match args.on_busy {
            OnBusyArg::Queue => OnBusy::Queue,
            OnBusyArg::Skip => OnBusy::Skip,
            OnBusyArg::Restart => OnBusy::Restart,
        },
        stop_timeout: parse_duration("--stop-timeout", &args.stop_timeout)?,
        exec_timeout: args
            .exec_timeout
            .as_deref()
            .map(|t| parse_duration("--exec-timeout", t))
            .transpose()?
            .filter(|d| !d.is_zero()),
        retries: args.retries,
        max_failures: args.max_failures,
        ..Policy::default()
    };
    Ok(Some((spec, policy)))
}

fn compile(flag: &str, text: Option<&str>) -> Result<Option<Expr>> {
    text.map(|text| {
        Expr::parse(text).map_err(|e| Exit::Usage(format!("{flag}: {}", e.render(text))))
    })
    .transpose()
}

/// The targets the arguments name, or every object of `-f`/`-k`'s manifests.
fn targets(args: &Args, selector: &SelectorFlags) -> Result<Vec<TargetSpec>> {
    if args.recursive && args.filenames.is_empty() {
        return Err(Exit::Usage(
            "-R reads the folders given with -f and their sub-folders: add -f DIR".into(),
        ));
    }
    if args.filenames.is_empty() && args.kustomize.is_none() {
        return parse_targets(&args.targets, selector);
    }
    let flag = if args.kustomize.is_some() { "-k" } else { "-f" };
    if !args.filenames.is_empty() && args.kustomize.is_some() {
        return Err(Exit::Usage(
            "-f and -k both name the objects to watch: give one of them".into(),
        ));
    }
    if let Some(arg) = args.targets.first() {
        return Err(Exit::Usage(format!(
            "`{arg}`: {flag} names the objects to watch, so TYPE or TYPE/NAME arguments \
             cannot be given too (kubectl refuses this as well): drop one or the other"
        )));
    }
    let selecting = [
        ("-l", selector.labels.is_some()),
        ("--field-selector", selector.fields.is_some()),
        ("--all", selector.all),
        ("-A", selector.all_namespaces),
    ];
    if let Some((given, _)) = selecting.iter().find(|(_, given)| *given) {
        return Err(Exit::Usage(format!(
            "{given} selects among a TYPE's objects, but {flag} names each object \
             and its namespace: drop {given}, or give a TYPE instead of {flag}"
        )));
    }
    let sources = files::Sources {
        files: &args.filenames,
        recursive: args.recursive,
        kustomize: args.kustomize.as_deref(),
    };
    files::read(&sources, &mut std::io::stdin().lock())
}

/// `TYPE/NAME [TYPE/NAME ...]`, `TYPE NAME [NAME ...]`, or `TYPE` with a
/// selector, `--all` or `-A`, as kubectl reads them.
pub fn parse_targets(args: &[String], selector: &SelectorFlags) -> Result<Vec<TargetSpec>> {
    let Some(first) = args.first() else {
        return Err(Exit::Usage(
            "name the objects to watch: TYPE/NAME or TYPE NAME...".into(),
        ));
    };
    if selector.selects() {
        return parse_selected(args, selector);
    }
    if first.contains('/') {
        return args.iter().map(|arg| parse_slash_form(arg)).collect();
    }
    let type_text = first.trim();
    if type_text.is_empty() {
        return Err(Exit::Usage(
            "the resource type is empty: write TYPE/NAME or TYPE NAME".into(),
        ));
    }
    let names = &args[1..];
    if names.is_empty() {
        return Err(Exit::Usage(format!(
            "say which {type_text} to watch: `{type_text} NAME`, `{type_text}/NAME`, \
             or `{type_text}` with -l SELECTOR or --all"
        )));
    }
    let names = names
        .iter()
        .map(|name| {
            if name.contains('/') {
                return Err(Exit::Usage(format!(
                    "`{name}` mixes forms: after a TYPE argument give plain names, \
                     or write every target as TYPE/NAME"
                )));
            }
            check_name(name)
        })
        .collect::<Result<Vec<_>>>()?;
    // `deploy,sts web db`: every name of every type, type by type, as kubectl.
    let mut specs = Vec::new();
    for type_text in type_list(type_text)? {
        specs.extend(
            names
                .iter()
                .map(|name| TargetSpec::named(type_text.clone(), Selection::Name(name.clone()))),
        );
    }
    Ok(specs)
}

/// `TYPE1,TYPE2[,...]` as kubectl reads it: every element a type, none empty.
fn type_list(text: &str) -> Result<Vec<String>> {
    let types: Vec<String> = text.split(',').map(|t| t.trim().to_string()).collect();
    if types.len() > 1 && types.iter().any(String::is_empty) {
        return Err(Exit::Usage(format!(
            "`{text}` has an empty type in its list: write TYPE1,TYPE2"
        )));
    }
    Ok(types)
}

/// With a selector the only argument is the type, as in kubectl.
fn parse_selected(args: &[String], selector: &SelectorFlags) -> Result<Vec<TargetSpec>> {
    let first = &args[0];
    if args.len() > 1 || first.contains('/') {
        return Err(Exit::Usage(
            if selector.labels.is_some() || selector.fields.is_some() || selector.all {
                "names cannot be given with a selector or --all: pass only the TYPE".to_string()
            } else {
                "a named object cannot be watched across all namespaces: drop -A or the name, \
             or give its namespace with -n"
                    .to_string()
            },
        ));
    }
    for (flag, value) in [
        ("-l", &selector.labels),
        ("--field-selector", &selector.fields),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(Exit::Usage(format!(
                "{flag} is empty: give a selector such as app=web"
            )));
        }
    }
    if first.trim().is_empty() {
        return Err(Exit::Usage("the resource type is empty".into()));
    }
    Ok(type_list(first.trim())?
        .into_iter()
        .map(|type_text| {
            TargetSpec::named(
                type_text,
                Selection::Query {
                    labels: selector.labels.clone(),
                    fields: selector.fields.clone(),
                },
            )
        })
        .collect())
}

fn parse_slash_form(arg: &str) -> Result<TargetSpec> {
    let Some((type_text, name)) = arg.split_once('/') else {
        return Err(Exit::Usage(format!(
            "`{arg}` has no type: when one target is TYPE/NAME, write every target that way"
        )));
    };
    if type_text.is_empty() {
        return Err(Exit::Usage(format!(
            "`{arg}` has an empty type: write TYPE/NAME"
        )));
    }
    // kubectl: "arguments in resource/name form must have a single resource and name".
    if type_text.contains(',') {
        let first = type_text.split(',').next().unwrap_or_default();
        return Err(Exit::Usage(format!(
            "`{arg}`: a TYPE/NAME argument names one type; write each as TYPE/NAME \
             (`{first}/{name} ...`) or list the types before plain names (`{type_text} {name}`)"
        )));
    }
    if name.contains('/') {
        return Err(Exit::Usage(format!(
            "`{arg}` has more than one `/`: write TYPE/NAME"
        )));
    }
    if name.is_empty() {
        return Err(Exit::Usage(format!(
            "`{arg}` has an empty name: write TYPE/NAME"
        )));
    }
    Ok(TargetSpec::named(
        type_text.to_string(),
        Selection::Name(check_name(name)?),
    ))
}

/// An object name is one segment of the object's URL, so the apiserver's
/// path-segment rule (`path.IsValidPathSegmentName`) holds for every kind:
/// no `/` or `%`, not `.` or `..`. Anything else is left for the server to
/// judge — a name it would never accept simply matches no object, as in
/// `kubectl wait`.
fn check_name(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Exit::Usage(
            "an object name is empty: write TYPE/NAME or TYPE NAME".into(),
        ));
    }
    if name == "." || name == ".." {
        return Err(Exit::Usage(format!(
            "'{name}' is not an object name (a Kubernetes name may not be '.' or '..'): \
             give the object's name"
        )));
    }
    if let Some(bad) = name.chars().find(|c| matches!(c, '/' | '%')) {
        return Err(Exit::Usage(format!(
            "object name `{name}` contains '{bad}', which no Kubernetes object name may contain: \
             check the name (with `kubectl get TYPE`), or select objects with -l or --field-selector"
        )));
    }
    Ok(name.to_string())
}

/// kubectl-style durations: `30s`, `5m`, `1h30m`, `250ms`, or `0`.
/// As kubectl (clientcmd's `ParseTimeout`): a bare integer is seconds.
fn parse_request_timeout(text: &str) -> Result<Duration> {
    match text.trim().parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => parse_duration("--request-timeout", text),
    }
}

pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Exit::Usage(format!(
            "{flag} {text}: give a unit, e.g. {text}s or {text}m"
        )));
    }
    humantime::parse_duration(text).map_err(|e| {
        Exit::Usage(format!(
            "{flag} {text:?} is not a duration ({e}): use e.g. 30s, 5m, 1h30m"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(args: &[&str]) -> Result<Vec<TargetSpec>> {
        with(args, &SelectorFlags::default())
    }

    fn with(args: &[&str], selector: &SelectorFlags) -> Result<Vec<TargetSpec>> {
        parse_targets(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            selector,
        )
    }

    fn spec(t: &str, n: &str) -> TargetSpec {
        TargetSpec::named(t.into(), Selection::Name(n.into()))
    }

    #[test]
    fn a_selector_takes_only_the_type() {
        let labels = SelectorFlags {
            labels: Some("team=payments".into()),
            ..Default::default()
        };
        assert_eq!(
            with(&["widgets"], &labels).unwrap(),
            vec![TargetSpec::named(
                "widgets".into(),
                Selection::Query {
                    labels: Some("team=payments".into()),
                    fields: None
                }
            )]
        );
        for bad in [&["widgets", "foo"][..], &["widgets/foo"]] {
            let err = with(bad, &labels).unwrap_err();
            assert!(err.to_string().contains("only the TYPE"), "{err}");
        }
        let across = SelectorFlags {
            all_namespaces: true,
            ..Default::default()
        };
        let err = with(&["widgets/foo"], &across).unwrap_err();
        assert!(err.to_string().contains("across all namespaces"), "{err}");
        assert!(with(&["widgets"], &across).is_ok());
        let empty = SelectorFlags {
            labels: Some(" ".into()),
            ..Default::default()
        };
        assert!(
            with(&["widgets"], &empty)
                .unwrap_err()
                .to_string()
                .contains("-l is empty")
        );
    }

    #[test]
    fn slash_form_allows_different_types() {
        assert_eq!(
            specs(&["widgets/foo", "cm/bar"]).unwrap(),
            vec![spec("widgets", "foo"), spec("cm", "bar")]
        );
    }

    #[test]
    fn type_lists_as_kubectl_takes_them() {
        assert_eq!(
            specs(&["deploy,cm", "web", "db"]).unwrap(),
            vec![
                spec("deploy", "web"),
                spec("deploy", "db"),
                spec("cm", "web"),
                spec("cm", "db")
            ]
        );
        let labels = SelectorFlags {
            labels: Some("app=web".into()),
            ..Default::default()
        };
        let types: Vec<String> = with(&["deploy,sts"], &labels)
            .unwrap()
            .into_iter()
            .map(|s| s.type_text)
            .collect();
        assert_eq!(types, ["deploy", "sts"]);
        for bad in [&["deploy,sts/web"][..], &["deploy/web", "cm,sts/web"]] {
            let err = specs(bad).unwrap_err().to_string();
            assert!(err.contains("names one type"), "{bad:?}: {err}");
        }
        for bad in [
            &["deploy,", "web"][..],
            &[",deploy", "web"],
            &["a,,b", "web"],
        ] {
            let err = specs(bad).unwrap_err().to_string();
            assert!(err.contains("empty type in its list"), "{bad:?}: {err}");
        }
        let err = with(&["deploy,,sts"], &labels).unwrap_err().to_string();
        assert!(err.contains("empty type in its list"), "{err}");
    }

    #[test]
    fn type_then_names() {
        assert_eq!(
            specs(&["wg", "foo", "bar"]).unwrap(),
            vec![spec("wg", "foo"), spec("wg", "bar")]
        );
    }

    #[test]
    fn malformed_targets_are_usage_errors() {
        for bad in [
            &["widgets/"][..],
            &["/foo"],
            &["widgets/foo", "bar"],
            &["widgets", "x/y"],
            &["widgets"],
            &["a/b/c"],
            &["widgets/a%b"],
            &["widgets/.."],
            &["widgets", "."],
            &["widgets", "50%"],
        ] {
            let err = specs(bad).unwrap_err();
            assert_eq!(err.code(), 2, "{bad:?}: {err}");
        }
        assert!(
            specs(&["widgets"])
                .unwrap_err()
                .to_string()
                .contains("widgets NAME")
        );
    }

    #[test]
    fn names_are_kept_whole_whatever_they_hold() {
        for odd in ["app,", "a=b", "app,metadata.name!=x", "x\\y", "..a", "a b"] {
            assert_eq!(
                specs(&[&format!("cm/{odd}")]).unwrap(),
                vec![spec("cm", odd)]
            );
            assert_eq!(specs(&["cm", odd]).unwrap(), vec![spec("cm", odd)]);
        }
    }

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(parse_duration("--timeout", "0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("--timeout", "2m").unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            parse_duration("--timeout", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("--timeout", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        for text in ["168h", "1h30m", "2m5s", "250ms", "1s500ms", "45s"] {
            let duration = parse_duration("--hold", text).unwrap();
            assert_eq!(crate::duration::show(duration), text);
        }
        let err = parse_duration("--timeout", "30").unwrap_err().to_string();
        assert!(err.contains("30s"), "{err}");
        let err = parse_duration("--timeout", "soon").unwrap_err().to_string();
        assert!(err.contains("--timeout") && err.contains("5m"), "{err}");
    }
}
