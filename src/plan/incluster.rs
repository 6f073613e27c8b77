//! The in-cluster part of the plan (SPEC §12): where metrics are served, how
//! warnings are written, and, for `--print-manifests`, the command line the
//! pod runs: this one without its connection flags, plus what a pod needs.

use std::net::{Ipv4Addr, SocketAddr};

use clap::{Args as _, CommandFactory};

use super::{DnsName, check_object_name};
use crate::cli::{Args, ConnectionArgs, InClusterArgs};
use crate::exit::{Exit, Result};
use crate::log::LogFormat;
use crate::manifests::{self, METRICS_PORT};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InCluster {
    /// `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    pub log_format: LogFormat,
    /// `--print-manifests`: print these instead of running.
    pub manifests: Option<manifests::Request>,
}

/// Flags of this command line that the pod's does not carry: how to reach
/// the cluster (the pod has its service account), and what the manifests
/// set themselves.
const POD_SETS: &[&str] = &[
    "leader_elect",
    "lease",
    "checkpoint",
    "metrics_addr",
    "log_format",
];

pub fn in_cluster(args: &Args, wait: bool) -> Result<InCluster> {
    let own = &args.incluster;
    let log_format = LogFormat::parse(&own.log_format).map_err(Exit::Usage)?;
    let metrics_addr = own
        .metrics_addr
        .as_deref()
        .map(parse_addr)
        .transpose()
        .map_err(Exit::Usage)?;
    let manifests = match own.print_manifests {
        false => None,
        true => Some(request(args, wait)?),
    };
    Ok(InCluster {
        metrics_addr,
        log_format,
        manifests,
    })
}

/// `:9090` (every interface), `127.0.0.1:9090`, `[::1]:9090`, `localhost:9090`.
pub fn parse_addr(text: &str) -> std::result::Result<SocketAddr, String> {
    let bad =
        || format!("--metrics-addr {text:?}: expected [HOST]:PORT, e.g. :9090 or 127.0.0.1:9090");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host {
        "" => Ipv4Addr::UNSPECIFIED.into(),
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        host => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn request(args: &Args, wait: bool) -> Result<manifests::Request> {
    if !args.command.is_empty() {
        return Err(Exit::Usage(
            "--print-manifests: the image holds only kubectl-notify, so a command after -- \
             could not run in the pod; deliver with -o json to the pod's log (or a sink)"
                .into(),
        ));
    }
    let sinks = manifests::secret_refs(&args.sinks).map_err(Exit::Usage)?;
    let rule = rule_words(&args.words);
    let name = match &args.incluster.name {
        // A name every object can take: a Service's must be a DNS label.
        Some(name) => {
            check_object_name("--name", name, DnsName::Label)?;
            name.clone()
        }
        None => format!("kubectl-notify-{:08x}", fnv1a(&rule.join("\0"))),
    };
    let mut pod_args = rule;
    let (mut lease, mut checkpoint) = (None, None);
    if !wait {
        (lease, checkpoint) = notifier_flags(args, &name, &mut pod_args);
    }
    pod_args.extend(["--log-format".to_string(), "json".into()]);
    Ok(manifests::Request {
        name,
        args: pod_args,
        wait,
        for_ready: args.for_specs.iter().any(|s| s.trim() == "ready"),
        all_namespaces: args.all_namespaces,
        lease,
        checkpoint,
        sinks,
        rules: None,
    })
}

/// What a notifier's pod adds to its command line: one replica active at a
/// time (`--leader-elect`), its checkpoint, its metrics; the Lease's and the
/// checkpoint's names.
fn notifier_flags(
    args: &Args,
    name: &str,
    pod_args: &mut Vec<String>,
) -> (Option<String>, Option<String>) {
    let lease = args.lease.clone().unwrap_or_else(|| name.to_string());
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| name.to_string());
    pod_args.extend([
        "--leader-elect".to_string(),
        "--lease".into(),
        lease.clone(),
        "--checkpoint".into(),
        checkpoint.clone(),
        "--metrics-addr".into(),
        format!(":{METRICS_PORT}"),
    ]);
    (Some(lease), Some(checkpoint))
}

/// `--print-manifests --rules FILE`: one notifier for every rule. The pod
/// runs this command line (without its connection flags) with `--rules` on
/// the file mounted from a ConfigMap holding `text`; the rules' `env:` sinks
/// read one Secret. Each rule's own plan has already refused what the pod
/// could not run (a command, a literal URL), naming the rule.
pub fn rules_request(
    args: &Args,
    path: &std::path::Path,
    text: String,
    rules: &[super::Rule],
) -> Result<manifests::Request> {
    let name = match &args.incluster.name {
        Some(name) => {
            check_object_name("--name", name, DnsName::Label)?;
            name.clone()
        }
        None => default_rules_name(path),
    };
    let mut pod_args = rule_words(&args.words);
    pod_args.extend([
        "--rules".to_string(),
        format!("{}/{}", manifests::RULES_DIR, manifests::RULES_KEY),
    ]);
    let (lease, checkpoint) = notifier_flags(args, &name, &mut pod_args);
    pod_args.extend(["--log-format".to_string(), "json".into()]);
    let mut sinks: Vec<manifests::SinkSecret> = Vec::new();
    for rule in rules {
        let own = rule.plan.incluster.manifests.iter();
        for sink in own.flat_map(|request| &request.sinks) {
            if !sinks.iter().any(|s| s.env == sink.env) {
                sinks.push(sink.clone());
            }
        }
    }
    let request = manifests::Request {
        name,
        args: pod_args,
        wait: false,
        // Rules are notify mode: no `--for ready`.
        for_ready: false,
        all_namespaces: false,
        lease,
        checkpoint,
        sinks,
        rules: Some(text),
    };
    if request.checkpoint.as_deref() == Some(manifests::rules_name(&request).as_str()) {
        return Err(Exit::Usage(format!(
            "--checkpoint {}: that is the ConfigMap holding the rules; give the checkpoint \
             another name",
            manifests::rules_name(&request)
        )));
    }
    Ok(request)
}

/// `kubectl-notify-`, the rules file's folder and its name, as a DNS label
/// (`team-a/rules.yaml`: `kubectl-notify-team-a-rules`): two teams' files
/// of one name in one namespace are two notifiers, not one overwriting the
/// other. Not the content, nor the whole path (another checkout elsewhere
/// must print the same names), so printing the manifests again after an
/// edit updates the same objects (the ConfigMap, reloaded live). The folder
/// is the one the file is in after symlinks (`.` is the current folder's
/// name); standard input (`-`) has none.
fn default_rules_name(path: &std::path::Path) -> String {
    let folder = match path.as_os_str() == "-" {
        true => None,
        false => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            std::fs::canonicalize(parent.unwrap_or(std::path::Path::new(".")))
                .ok()
                .and_then(|dir| dir.file_name().map(|name| name.to_os_string()))
        }
    };
    rules_name_of(folder.as_deref(), path.file_stem())
}

/// The name from the folder's and the file's names, each as a DNS label;
/// the file's name is kept whole and the folder's cut to fit.
fn rules_name_of(folder: Option<&std::ffi::OsStr>, stem: Option<&std::ffi::OsStr>) -> String {
    let label = |text: Option<&std::ffi::OsStr>| {
        let text = text.map(|s| s.to_string_lossy().to_lowercase());
        let mut label = String::new();
        for c in text.unwrap_or_default().chars() {
            match c {
                'a'..='z' | '0'..='9' => label.push(c),
                _ if !label.ends_with('-') => label.push('-'),
                _ => {}
            }
        }
        label
    };
    // Room for `kubectl-notify-` in a 63-character label.
    const ROOM: usize = 48;
    let mut file = label(stem);
    file.truncate(ROOM);
    let file = file.trim_matches('-');
    let file = if file.is_empty() { "rules" } else { file };
    let mut folder = label(folder);
    folder.truncate(ROOM.saturating_sub(file.len() + 1));
    match folder.trim_matches('-') {
        "" => format!("kubectl-notify-{file}"),
        folder => format!("kubectl-notify-{folder}-{file}"),
    }
}

/// 32-bit FNV-1a: short, and stable across builds and platforms.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The command line's words without the flags the pod does not carry, each
/// with its value, whichever way it was written (`-n ns`, `-nns`, `-An ns`,
/// `--namespace=ns`). Everything else stays as written and in its place.
fn rule_words(words: &[String]) -> Vec<String> {
    let command = Args::command();
    let dropped: Vec<String> = ConnectionArgs::augment_args(clap::Command::new("c"))
        .get_arguments()
        .chain(InClusterArgs::augment_args(clap::Command::new("c")).get_arguments())
        .map(|a| a.get_id().to_string())
        .chain(POD_SETS.iter().map(|s| s.to_string()))
        .collect();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let drops = |arg: &clap::Arg| dropped.iter().any(|id| id == arg.get_id().as_str());
    let mut out = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            out.push(word.clone());
            out.extend(words.by_ref().cloned());
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let arg = command.get_arguments().find(|a| a.get_long() == Some(name));
            match arg {
                Some(arg) if drops(arg) => {
                    if takes_value(arg) && !inline {
                        words.next();
                    }
                }
                _ => out.push(word.clone()),
            }
            continue;
        }
        let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) else {
            out.push(word.clone());
            continue;
        };
        // A cluster of short flags; the first that takes a value takes the
        // rest of the word, or the next word.
        let mut kept = String::new();
        for (at, c) in shorts.char_indices() {
            let arg = command.get_arguments().find(|a| a.get_short() == Some(c));
            let Some(arg) = arg else {
                kept.push(c);
                continue;
            };
            if !takes_value(arg) {
                if !drops(arg) {
                    kept.push(c);
                }
                continue;
            }
            let rest = &shorts[at + c.len_utf8()..];
            if drops(arg) {
                if rest.is_empty() {
                    words.next();
                }
            } else {
                kept.push(c);
                kept.push_str(rest);
                if rest.is_empty() {
                    if !kept.is_empty() {
                        out.push(format!("-{kept}"));
                        kept.clear();
                    }
                    out.extend(words.next().cloned());
                }
            }
            break;
        }
        if !kept.is_empty() {
            out.push(format!("-{kept}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(words: &[&str]) -> Vec<String> {
        rule_words(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn connection_flags_and_print_manifests_are_left_out_however_written() {
        assert_eq!(
            rule(&[
                "widgets",
                "-A",
                "--when",
                ".status.phase == \"Failed\"",
                "-n",
                "notify-system",
                "--context=prod",
                "--kubeconfig",
                "/k",
                "--print-manifests",
                "--name",
                "alerts",
                "--token",
                "secret",
            ]),
            ["widgets", "-A", "--when", ".status.phase == \"Failed\""]
        );
        assert_eq!(
            rule(&["-Anns", "wg", "-qo", "name"]),
            ["-A", "wg", "-qo", "name"]
        );
        assert_eq!(rule(&["-nns", "wg", "-oname"]), ["wg", "-oname"]);
        assert_eq!(
            rule(&["-An", "ns", "wg", "-l", "a=b"]),
            ["-A", "wg", "-l", "a=b"]
        );
        assert_eq!(
            rule(&[
                "wg",
                "--all",
                "--leader-elect",
                "--lease=x",
                "--checkpoint",
                "y",
                "-v"
            ]),
            ["wg", "--all", "-v"]
        );
    }

    fn plan(words: &[impl AsRef<str>]) -> crate::plan::Plan {
        let argv = std::iter::once("kubectl-notify").chain(words.iter().map(AsRef::as_ref));
        crate::plan::Plan::from_args(Args::read(argv).unwrap()).unwrap()
    }

    /// Everything the rule decides (the connection, high availability and
    /// the in-cluster flags are what the pod's command line may change).
    fn rule_of(plan: &crate::plan::Plan) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {} {} {}",
            plan.targets,
            plan.mode,
            plan.command,
            plan.printer,
            plan.timeout,
            plan.noise,
            plan.all_namespaces,
            plan.quiet,
            plan.verbosity
        )
    }

    #[test]
    fn the_pods_command_line_plans_the_same_rule() {
        for words in [
            &[
                "widgets",
                "-A",
                "--when",
                ".status.phase == \"Failed\"",
                "-n",
                "ops",
                "--print-manifests",
                "-o",
                "json",
            ][..],
            &[
                "jobs/migrate",
                "--for",
                "condition=Complete",
                "--timeout",
                "5m",
                "--context",
                "x",
                "--print-manifests",
            ],
            &[
                "-nns",
                "cm",
                "--on-change",
                ".data",
                "app",
                "--throttle",
                "30s",
                "--print-manifests",
                "--name",
                "cm-watch",
                "-v",
            ],
        ] {
            let original = plan(words);
            let request = original.incluster.manifests.clone().unwrap();
            let pod = plan(&request.args);
            assert_eq!(rule_of(&pod), rule_of(&original), "{:?}", request.args);
            assert!(pod.incluster.manifests.is_none());
            assert_eq!(pod.incluster.log_format, LogFormat::Json);
            assert_eq!(pod.ha.checkpoint, request.checkpoint);
        }
    }

    #[test]
    fn the_default_name_is_a_hash_of_the_rule_alone() {
        let name = |words: &[&str]| plan(words).incluster.manifests.unwrap().name;
        let a = name(&["wg", "--all", "--print-manifests"]);
        assert_eq!(a, name(&["-n", "x", "wg", "--all", "--print-manifests"]));
        assert_ne!(a, name(&["wg", "--all", "-q", "--print-manifests"]));
        assert!(a.starts_with("kubectl-notify-") && a.len() == 23, "{a}");
    }

    #[test]
    fn metrics_addresses() {
        assert_eq!(parse_addr(":9090").unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!(
            parse_addr("localhost:80").unwrap().to_string(),
            "127.0.0.1:80"
        );
        assert_eq!(parse_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        for bad in ["nonsense", "9090", ":http", "host:1", ":70000"] {
            assert!(parse_addr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rules_files_default_name_is_its_folder_and_file_name_as_a_label() {
        let name = |folder: Option<&str>, file: &str| {
            rules_name_of(
                folder.map(std::ffi::OsStr::new),
                std::path::Path::new(file).file_stem(),
            )
        };
        assert_eq!(
            name(Some("team-a"), "rules.yaml"),
            "kubectl-notify-team-a-rules"
        );
        assert_eq!(
            name(Some("team-b"), "rules.yaml"),
            "kubectl-notify-team-b-rules"
        );
        assert_eq!(name(None, "rules.yaml"), "kubectl-notify-rules");
        assert_eq!(name(Some("/"), "rules.yaml"), "kubectl-notify-rules");
        assert_eq!(
            name(Some("Ops"), "Team_A Alerts.yml"),
            "kubectl-notify-ops-team-a-alerts"
        );
        assert_eq!(name(Some("x"), "..."), "kubectl-notify-x-rules");
        for (folder, file) in [
            ("f".repeat(100), "x".repeat(100)),
            ("f".repeat(100), "x".into()),
        ] {
            let long = name(Some(&folder), &file);
            assert!(long.len() <= 63, "{long}");
            assert!(long.ends_with('x') && !long.contains("--"), "{long}");
        }
        // The folder the file is in, the current one for a bare name.
        let dir = std::env::temp_dir().join("kubectl-notify-Team_C");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            default_rules_name(&dir.join("rules.yaml")),
            "kubectl-notify-kubectl-notify-team-c-rules"
        );
        assert_eq!(
            default_rules_name(std::path::Path::new("-")),
            "kubectl-notify-rules"
        );
    }

    #[test]
    fn the_hash_is_stable() {
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }
}
