//! Completion: `kubectl-notify completion SHELL` prints a shell script made
//! from the clap definition; `kubectl-notify __complete WORDS...` answers
//! kubectl's plugin completion (cobra's protocol, kubectl ≥ 1.26), live from
//! the cluster with a short timeout so a shell never hangs.

use std::io::Write;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::Shell;
use kube::api::{Api, DynamicObject, ListParams};
use kube::config::Kubeconfig;

use crate::cli::{Args, ConnectionArgs};
use crate::discovery::ApiType;
use crate::discovery::Discovery;
use crate::exit::{Exit, Result};
use crate::resolve::resolve;

/// Shells `completion` knows, by the name users type.
pub const SHELLS: [(&str, Shell); 5] = [
    ("bash", Shell::Bash),
    ("zsh", Shell::Zsh),
    ("fish", Shell::Fish),
    ("powershell", Shell::PowerShell),
    ("elvish", Shell::Elvish),
];

/// The completion script for `shell`, for the `kubectl-notify` command.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "kubectl-notify", &mut out);
    out
}

/// `kubectl-notify completion SHELL`.
pub fn print_script(args: &[String]) -> Result<()> {
    let names: Vec<&str> = SHELLS.iter().map(|(n, _)| *n).collect();
    let Some(shell) = args
        .first()
        .and_then(|a| SHELLS.iter().find(|(n, _)| n == a))
        .map(|(_, s)| *s)
    else {
        return Err(Exit::Usage(format!(
            "usage: kubectl-notify completion {}",
            names.join("|")
        )));
    };
    let _ = std::io::stdout().write_all(&script(shell));
    Ok(())
}

/// cobra's directive: do not fall back to file names.
const NO_FILE: u32 = 4;
/// cobra's default directive: the shell may complete file names.
const FILES: u32 = 0;

/// `kubectl-notify __complete WORD... CURRENT`: candidates one per line
/// (`value<TAB>description`), then `:<directive>`. Nothing on stderr.
pub async fn answer(words: &[String]) {
    let (done, current) = match words.split_last() {
        Some((current, done)) => (done, current.as_str()),
        None => (&[][..], ""),
    };
    let (candidates, directive) = candidates(done, current).await;
    let mut out = std::io::stdout().lock();
    for candidate in candidates.iter().filter(|c| c.starts_with(current)) {
        let _ = writeln!(out, "{candidate}");
    }
    let _ = writeln!(out, ":{directive}");
}

async fn candidates(done: &[String], current: &str) -> (Vec<String>, u32) {
    let previous = done.last().map(String::as_str).unwrap_or("");
    match previous {
        "--for" => {
            return (
                lines(&["condition=", "delete", "create", "jsonpath=", "ready"]),
                NO_FILE,
            );
        }
        "--on-busy" => return (lines(&["queue", "skip", "restart"]), NO_FILE),
        "-o" | "--output" => return (lines(&["human", "json", "name", "jsonpath="]), NO_FILE),
        "--diff" => return (lines(&["full", "paths", "none"]), NO_FILE),
        "--color" => return (lines(&["auto", "always", "never"]), NO_FILE),
        "--events" => return (lines(&["created", "modified", "deleted"]), NO_FILE),
        "--context" => return (contexts(done), NO_FILE),
        "-n" | "--namespace" => return (live(done, Live::Namespaces).await, NO_FILE),
        _ if takes_file(previous) => return (Vec::new(), FILES),
        _ if takes_value(previous) => return (Vec::new(), NO_FILE),
        _ => {}
    }
    if current.starts_with('-') {
        return (flags(), NO_FILE);
    }
    let positionals = positionals(done);
    match (positionals.first(), current.split_once('/')) {
        (_, Some((type_text, _))) => {
            let prefix = format!("{type_text}/");
            let names = live(done, Live::Names(type_text.to_string())).await;
            (
                names.into_iter().map(|n| format!("{prefix}{n}")).collect(),
                NO_FILE,
            )
        }
        (None, None) => (live(done, Live::Types).await, NO_FILE),
        (Some(first), None) if !first.contains('/') => {
            (live(done, Live::Names(first.clone())).await, NO_FILE)
        }
        _ => (
            live(done, Live::Types)
                .await
                .into_iter()
                .map(|t| format!("{t}/"))
                .collect(),
            NO_FILE,
        ),
    }
}

fn lines(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// Every long flag, with its help as the description.
fn flags() -> Vec<String> {
    Args::command()
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let help = help.lines().next().unwrap_or_default().to_string();
            Some(format!("--{long}\t{help}"))
        })
        .collect()
}

fn value_flag(word: &str) -> Option<clap::Arg> {
    let command = Args::command();
    let arg = if let Some(long) = word.strip_prefix("--") {
        command.get_arguments().find(|a| a.get_long() == Some(long))
    } else if let Some(short) = word
        .strip_prefix('-')
        .and_then(|s| s.chars().next())
        .filter(|_| word.len() == 2)
    {
        command
            .get_arguments()
            .find(|a| a.get_short() == Some(short))
    } else {
        None
    };
    arg.filter(|a| a.get_action().takes_values()).cloned()
}

fn takes_value(word: &str) -> bool {
    value_flag(word).is_some()
}

fn takes_file(word: &str) -> bool {
    matches!(
        word,
        "--kubeconfig"
            | "--certificate-authority"
            | "--client-certificate"
            | "--client-key"
            | "--cache-dir"
    )
}

/// The words that are targets, not flags or flag values.
fn positionals(done: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for word in done {
        if std::mem::take(&mut skip) {
            continue;
        }
        if word == "--" {
            break;
        }
        if word.starts_with('-') {
            skip = !word.contains('=') && takes_value(word);
            continue;
        }
        out.push(word.clone());
    }
    out
}

/// The connection flags among the words, so completion asks the cluster the
/// command will ask.
fn connection(done: &[String]) -> ConnectionArgs {
    let value = |names: &[&str]| {
        let mut found = None;
        for (i, word) in done.iter().enumerate() {
            for name in names {
                if word == name {
                    found = done.get(i + 1).cloned();
                } else if let Some(v) = word.strip_prefix(&format!("{name}=")) {
                    found = Some(v.to_string());
                }
            }
        }
        found
    };
    ConnectionArgs {
        kubeconfig: value(&["--kubeconfig"]).map(Into::into),
        context: value(&["--context"]),
        cluster: value(&["--cluster"]),
        user: value(&["--user"]),
        namespace: value(&["-n", "--namespace"]),
        server: value(&["-s", "--server"]),
        token: value(&["--token"]),
        cache_dir: value(&["--cache-dir"]).map(Into::into),
        ..ConnectionArgs::default()
    }
}

fn contexts(done: &[String]) -> Vec<String> {
    let connection = connection(done);
    let kubeconfig = match &connection.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok(),
        None => Kubeconfig::read().ok(),
    };
    kubeconfig
        .map(|k| k.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

enum Live {
    Types,
    Namespaces,
    Names(String),
}

/// Asks the cluster, giving up quietly after two seconds.
async fn live(done: &[String], what: Live) -> Vec<String> {
    let ask = async {
        let connection = connection(done);
        let conn = crate::connect::connect(&connection, Some(Duration::from_secs(2)), false)
            .await
            .ok()?;
        // kubectl's cache when young enough, as kubectl's own completion does.
        let cache_dir = crate::discovery::cache::base_dir(connection.cache_dir.as_deref());
        let mut discovery = Discovery::open(cache_dir.as_deref(), &conn.server, false);
        let known = |discovery: &Discovery| match &what {
            Live::Names(type_text) => resolve(discovery.types(), type_text).is_ok(),
            _ => !discovery.types().is_empty(),
        };
        if !known(&discovery) {
            discovery.fetch(&conn.client).await.ok()?;
        }
        let types = discovery.types();
        let watchable = |t: &&ApiType| t.verbs.iter().any(|v| v == "watch");
        let (api, namespace) = match what {
            Live::Types => {
                let mut names: Vec<String> = types
                    .iter()
                    .filter(watchable)
                    .map(|t| t.plural.clone())
                    .collect();
                names.extend(
                    types
                        .iter()
                        .filter(watchable)
                        .flat_map(|t| t.short_names.clone()),
                );
                names.sort();
                names.dedup();
                return Some(names);
            }
            Live::Namespaces => (resolve(types, "namespaces").ok()?.clone(), None),
            Live::Names(type_text) => {
                let api = resolve(types, &type_text).ok()?.clone();
                let namespace = api.namespaced.then(|| conn.namespace.clone());
                (api, namespace)
            }
        };
        let resource = kube::api::ApiResource::from(&api);
        let client: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(conn.client.clone(), ns, &resource),
            None => Api::all_with(conn.client.clone(), &resource),
        };
        let list = client
            .list_metadata(&ListParams::default().limit(500))
            .await
            .ok()?;
        Some(
            list.items
                .into_iter()
                .filter_map(|o| o.metadata.name)
                .collect(),
        )
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}
