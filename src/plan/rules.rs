//! `--rules FILE`: many named command lines in one process. Each rule is read
//! by the same clap definitions and `Plan` as the command line itself.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap::parser::ValueSource;
use serde::Deserialize;

use super::{DnsName, Mode, Plan, check_object_name};
use crate::cli::{Args, ConnectionArgs};
use crate::exit::{Exit, Result};

/// One rule of a process. A plain command line is a process with one rule,
/// which has no name.
#[derive(Debug)]
pub struct Rule {
    pub name: Option<String>,
    pub plan: Plan,
    /// The rule's own words as the file gives them: a reload keeps a rule
    /// whose name and words are the same running untouched.
    pub words: Vec<String>,
}

/// What a process runs: its rules, and the file they come from (read again
/// on a reload).
#[derive(Debug)]
pub struct Process {
    pub rules: Vec<Rule>,
    pub source: Option<Source>,
    /// `--print-manifests`: the one notifier to print for every rule.
    pub manifests: Option<crate::manifests::Request>,
}

/// `--rules FILE` and the command line's process-wide words.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    words: Vec<String>,
}

impl Source {
    /// Reads and checks every rule of the file as it is now.
    pub fn read(&self) -> Result<Vec<Rule>> {
        read(&self.path, &self.words).map(|(rules, _)| rules)
    }
}

impl Process {
    /// The rules this command line runs: those of `--rules FILE`, or itself.
    pub fn from_args(args: Args) -> Result<Process> {
        match args.incluster.rules.clone() {
            Some(path) => {
                let (rules, text) = read(&path, &args.words)?;
                let manifests = match args.incluster.print_manifests {
                    true => Some(super::incluster::rules_request(&args, &path, text, &rules)?),
                    false => None,
                };
                Ok(Process {
                    rules,
                    source: Some(Source {
                        path,
                        words: args.words,
                    }),
                    manifests,
                })
            }
            None => {
                let plan = Plan::from_args(args)?;
                Ok(Process {
                    manifests: plan.incluster.manifests.clone(),
                    rules: vec![Rule {
                        name: None,
                        plan,
                        words: Vec::new(),
                    }],
                    source: None,
                })
            }
        }
    }
}

/// The file as written: unknown keys are refused, not ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rules: Vec<RuleText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    name: String,
    /// A list of arguments, or one line split as a POSIX shell splits it;
    /// read as YAML wrote it, so a number or a boolean written unquoted is
    /// taken as its text and anything else refused naming the rule.
    args: serde_yaml_ng::Value,
}

/// A list of arguments, or one line split as a POSIX shell splits it.
enum ArgsText {
    List(Vec<String>),
    Line(String),
}

impl ArgsText {
    /// A rule's `args` as written; what cannot be an argument is said with
    /// its position (`args[2]`).
    fn read(value: &serde_yaml_ng::Value) -> std::result::Result<ArgsText, (String, String)> {
        use serde_yaml_ng::Value;
        match value {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    word(item).ok_or_else(|| {
                        (
                            format!("args[{index}]"),
                            format!(
                                "{} is not an argument: write each argument as text \
                                 (a string, a number or true/false)",
                                what_yaml(item)
                            ),
                        )
                    })
                })
                .collect::<std::result::Result<_, _>>()
                .map(ArgsText::List),
            Value::String(line) => Ok(ArgsText::Line(line.clone())),
            other => Err((
                "args".to_string(),
                format!(
                    "{} is not a command line: give a list of arguments or one line of text",
                    what_yaml(other)
                ),
            )),
        }
    }
}

/// One argument of a list: a string, or a number or boolean YAML read
/// unquoted (`--count 3`), as its text.
fn word(item: &serde_yaml_ng::Value) -> Option<String> {
    use serde_yaml_ng::Value;
    match item {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn what_yaml(value: &serde_yaml_ng::Value) -> &'static str {
    use serde_yaml_ng::Value;
    match value {
        Value::Null => "an empty value (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Flags of the process, not of one rule: given beside `--rules`, refused
/// inside a rule.
fn process_wide() -> Vec<String> {
    let mut ids: Vec<String> =
        <ConnectionArgs as clap::Args>::augment_args(clap::Command::new("c"))
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
    ids.extend(
        [
            "timeout",
            "leader_elect",
            "lease",
            "checkpoint",
            "metrics_addr",
            "log_format",
            "print_manifests",
            "name",
            "rules",
            "verbose",
        ]
        .map(String::from),
    );
    ids
}

/// How a flag is written, for messages: `--metrics-addr`, `-n`.
fn spelled(id: &str) -> String {
    let command = Args::command();
    command
        .get_arguments()
        .find(|a| a.get_id() == id)
        .map(|a| match (a.get_long(), a.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => a.get_value_names().map_or_else(
                || id.to_string(),
                |names| names.iter().map(|n| n.to_string()).collect(),
            ),
        })
        .unwrap_or_else(|| id.to_string())
}

/// Every way of writing a flag: `--namespace`, `-n`.
fn flag_names(command: &clap::Command, id: &str) -> Vec<String> {
    command
        .get_arguments()
        .filter(|a| a.get_id() == id)
        .flat_map(|a| {
            let long = a.get_long().map(|l| format!("--{l}"));
            let short = a.get_short().map(|s| format!("-{s}"));
            long.into_iter().chain(short)
        })
        .collect()
}

/// The ids given in `words` (the arguments after the program's name), each
/// with the index of its first word; `None` if clap refuses the words.
fn given(words: &[String]) -> Option<Vec<(String, usize)>> {
    let argv = std::iter::once("kubectl notify".to_string()).chain(words.iter().cloned());
    crate::cli::with_command(|command| {
        let matches = command.try_get_matches_from_mut(argv).ok()?;
        let mut ids: Vec<(String, usize)> = matches
            .ids()
            // Arguments only, not the groups a flattened struct adds.
            .filter(|id| command.get_arguments().any(|a| a.get_id() == *id))
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| {
                // clap's index is the value's; the flag is the word naming it.
                let value_at = matches
                    .indices_of(id.as_str())
                    .and_then(|mut i| i.next())
                    .unwrap_or(1)
                    .saturating_sub(1);
                let names = flag_names(command, id.as_str());
                let at = words
                    .iter()
                    .position(|w| {
                        let flag = w.split('=').next().unwrap_or(w);
                        names.iter().any(|n| n == flag)
                    })
                    .unwrap_or(value_at);
                (id.to_string(), at)
            })
            .collect();
        ids.sort_by_key(|(_, at)| *at);
        Some(ids)
    })
}

/// Reads and checks every rule; the process's own words (this command line
/// without `--rules FILE`) are given to each rule's plan, so connection,
/// timeout and the other process-wide flags are read once, the same way.
/// The file's text comes with them.
pub fn read(path: &Path, words: &[String]) -> Result<(Vec<Rule>, String)> {
    let shown = path.display();
    let process_words = without_rules(words);
    let wide = process_wide();
    let given_here = given(&process_words).unwrap_or_default();
    if let Some((id, _)) = given_here.into_iter().find(|(id, _)| !wide.contains(id)) {
        return Err(Exit::Usage(format!(
            "{} belongs to a rule: with --rules, give it in a rule of {shown} \
             (only connection flags, --timeout, --leader-elect, --lease, --checkpoint, \
             --metrics-addr, --log-format and -v stay on the command line)",
            spelled(&id)
        )));
    }
    // Process-wide flags that only go with another (`--lease`) are said
    // once, here, not as a rule's mistake.
    Args::read(std::iter::once("kubectl notify".to_string()).chain(process_words.iter().cloned()))
        .map_err(|err| Exit::Usage(crate::cli::one_line(&err)))?;
    let text = match from_stdin(path) {
        // As kubectl's `-f -`: the rules come from stdin, read once.
        true => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| Exit::Usage(format!("--rules -: cannot read stdin: {e}")))?;
            text
        }
        false => std::fs::read_to_string(path)
            .map_err(|e| Exit::Usage(format!("--rules {shown}: cannot read it: {e}")))?,
    };
    let file: File = serde_yaml_ng::from_str(&text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message);
        // Said as the file's shapes, not as our types' names.
        let message = message
            .replace("struct File", "a map with a `rules:` list")
            .replace("struct RuleText", "a map with `name:` and `args:`");
        Exit::Usage(format!("--rules {shown}{at}: {message}"))
    })?;
    if file.rules.is_empty() {
        return Err(Exit::Usage(format!(
            "--rules {shown}: no rules: add at least one under `rules:`"
        )));
    }
    let mut names: Vec<&str> = Vec::new();
    for rule in &file.rules {
        check_object_name("name", &rule.name, DnsName::Label)
            .map_err(|e| Exit::Usage(format!("--rules {shown}: rule {e}")))?;
        if names.contains(&rule.name.as_str()) {
            return Err(Exit::Usage(format!(
                "--rules {shown}: two rules are named {}: give each rule its own name",
                rule.name
            )));
        }
        names.push(&rule.name);
    }
    let rules = file
        .rules
        .into_iter()
        .map(|rule| {
            let said = |argument: String, message: String| {
                Exit::Usage(format!(
                    "--rules {shown}: rule {}, {argument}: {message}",
                    rule.name
                ))
            };
            let args = ArgsText::read(&rule.args).map_err(|(at, why)| said(at, why))?;
            let (words, columns): (Vec<String>, Option<Vec<usize>>) = match &args {
                ArgsText::List(list) => (list.clone(), None),
                ArgsText::Line(line) => {
                    let split = split(line)
                        .map_err(|(column, why)| said(format!("column {column}"), why))?;
                    let (words, columns) = split.into_iter().unzip();
                    (words, Some(columns))
                }
            };
            let argument = |index: usize| match &columns {
                Some(columns) => format!(
                    "{} (column {})",
                    words.get(index).map(String::as_str).unwrap_or(""),
                    columns.get(index).copied().unwrap_or(1)
                ),
                None => format!(
                    "args[{index}] {}",
                    words.get(index).map(String::as_str).unwrap_or("")
                ),
            };
            if let Some((id, at)) = given(&words)
                .unwrap_or_default()
                .into_iter()
                .find(|(id, _)| wide.contains(id))
            {
                return Err(said(
                    argument(at),
                    format!(
                        "{} is process-wide: give it once, on the command line beside --rules",
                        spelled(&id)
                    ),
                ));
            }
            let argv = std::iter::once("kubectl notify".to_string())
                .chain(process_words.iter().cloned())
                .chain(words.iter().cloned());
            let args = Args::read(argv).map_err(|err| {
                let (index, message) = clap_said(&err, &words);
                said(index.map_or_else(|| "args".to_string(), argument), message)
            })?;
            let plan = Plan::from_args(args).map_err(|exit| {
                let message = exit.to_string();
                let index = words.iter().position(|w| {
                    w.starts_with('-') && message.starts_with(w.split('=').next().unwrap_or(w))
                });
                // A process-wide flag's value is the command line's
                // mistake, not the rule's.
                if index.is_none() && about_a_flag_of(&message, &process_words) {
                    return Exit::Usage(message);
                }
                // The argument named says the flag: not again.
                let message = index
                    .and_then(|i| {
                        let flag = words[i].split('=').next().unwrap_or(&words[i]);
                        message.strip_prefix(flag)?.strip_prefix(": ")
                    })
                    .map_or_else(|| message.clone(), str::to_string);
                said(index.map_or_else(|| "args".to_string(), argument), message)
            })?;
            if matches!(plan.mode, Mode::Wait { .. }) {
                let index = words
                    .iter()
                    .position(|w| w == "--until" || w == "--for" || w.starts_with("--for="))
                    .or_else(|| words.iter().position(|w| w.starts_with("--until")));
                return Err(said(
                    index.map_or_else(|| "args".to_string(), argument),
                    "rules are notify mode (--until and --for wait and exit): \
                     a gate stays a Job of its own"
                        .to_string(),
                ));
            }
            Ok(Rule {
                name: Some(rule.name),
                plan,
                words,
            })
        })
        .collect::<Result<Vec<Rule>>>()?;
    Ok((rules, text))
}

/// Whether `message` is about a flag given in `words` (`--lease "Lr3": ...`
/// about `--lease Lr3` or `--lease=Lr3`).
fn about_a_flag_of(message: &str, words: &[String]) -> bool {
    let about = message.split([' ', '=', ':']).next().unwrap_or("");
    about.starts_with('-')
        && words
            .iter()
            .any(|w| w.split('=').next().unwrap_or(w) == about)
}

/// `--rules -`: the rules are read from stdin.
pub fn from_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// The command line's words without `--rules FILE` (or `--rules=FILE`).
fn without_rules(words: &[String]) -> Vec<String> {
    let mut kept = Vec::with_capacity(words.len());
    let mut skip = false;
    for word in words {
        if std::mem::take(&mut skip) {
            continue;
        }
        if word == "--rules" {
            skip = true;
            continue;
        }
        if word.starts_with("--rules=") {
            continue;
        }
        kept.push(word.clone());
    }
    kept
}

/// clap's error in one line, and the index of the rule's word it is about.
fn clap_said(err: &clap::Error, words: &[String]) -> (Option<usize>, String) {
    use clap::error::ContextKind;
    let text = crate::cli::one_line(err);
    let about = [ContextKind::InvalidArg, ContextKind::InvalidValue]
        .into_iter()
        .filter_map(|kind| match err.get(kind) {
            Some(clap::error::ContextValue::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect::<Vec<_>>();
    let index = about.iter().find_map(|about| {
        let flag = about.split([' ', '=']).next().unwrap_or(about);
        words
            .iter()
            .position(|w| w == about || w == flag || w.starts_with(&format!("{flag}=")))
    });
    (index, text)
}

/// Splits a line into words as a POSIX shell would, without expanding
/// anything: blanks separate, '…' is literal, "…" keeps `\"`, `\\`, `\$` and
/// `` \` `` escapes, a backslash outside quotes escapes the next character.
/// Each word comes with the (1-based) column it starts at; an error names
/// the column of the quote or backslash left open.
pub fn split(line: &str) -> std::result::Result<Vec<(String, usize)>, (usize, String)> {
    let mut words = Vec::new();
    let mut word: Option<(String, usize)> = None;
    let mut chars = line.chars().enumerate().map(|(i, c)| (i + 1, c)).peekable();
    while let Some((column, c)) = chars.next() {
        fn current(word: &mut Option<(String, usize)>, column: usize) -> &mut String {
            &mut word.get_or_insert_with(|| (String::new(), column)).0
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let text = current(&mut word, column);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => text.push(c),
                        None => return Err((column, "this ' is never closed".into())),
                    }
                }
            }
            '"' => {
                let text = current(&mut word, column);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.peek() {
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => {
                                text.push(*c);
                                chars.next();
                            }
                            Some((_, '\n')) => {
                                chars.next();
                            }
                            _ => text.push('\\'),
                        },
                        Some((_, c)) => text.push(c),
                        None => return Err((column, "this \" is never closed".into())),
                    }
                }
            }
            '\\' => match chars.next() {
                Some((_, '\n')) => {}
                Some((_, c)) => current(&mut word, column).push(c),
                None => {
                    return Err((column, "a \\ at the end escapes nothing".into()));
                }
            },
            c => current(&mut word, column).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    fn words(line: &str) -> Vec<String> {
        split(line).unwrap().into_iter().map(|(w, _)| w).collect()
    }

    #[test]
    fn a_line_splits_as_a_shell_would_without_expanding() {
        assert_eq!(
            words(r#"widgets -A --when '.status.phase == "Failed"' --sink slack:env:URL"#),
            [
                "widgets",
                "-A",
                "--when",
                ".status.phase == \"Failed\"",
                "--sink",
                "slack:env:URL"
            ]
        );
        assert_eq!(
            words(r#"a\ b "c \"d\" \$HOME" 'e\f' g"h"i"#),
            ["a b", "c \"d\" $HOME", "e\\f", "ghi"]
        );
        assert_eq!(words("$HOME ~ *"), ["$HOME", "~", "*"]);
        assert_eq!(words("''  x"), ["", "x"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn each_word_knows_its_column_and_an_open_quote_is_pointed_at() {
        let split = split("cm/app  --on-change .data").unwrap();
        let columns: Vec<usize> = split.iter().map(|(_, c)| *c).collect();
        assert_eq!(columns, [1, 9, 21]);
        assert_eq!(super::split("a --when 'x").unwrap_err().0, 10);
        assert_eq!(super::split("a \"b").unwrap_err().0, 3);
        assert_eq!(super::split("a \\").unwrap_err().0, 3);
    }
}
