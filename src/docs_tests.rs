//! The docs cannot drift from the CLI: every `kubectl notify ...` command in
//! README.md and docs/*.md is parsed by the real flag definitions and turned
//! into a `Plan`, as the binary would before connecting. A command whose next
//! line in its block starts with `error:` must be refused with exactly that
//! line (and exit 2). `--help`'s examples likewise. The exit-code table is
//! checked against `Exit`.

use std::path::{Path, PathBuf};

use crate::cli::Args;
use crate::exit::Exit;
use crate::plan::Process;

/// One documented command: where it is, its words after `kubectl notify`,
/// and the error line the text says it gets, if any.
#[derive(Debug)]
struct Documented {
    place: String,
    words: Vec<String>,
    refused_with: Option<String>,
}

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
        let mut pages: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        pages.sort();
        files.extend(pages);
    }
    files
}

/// Shell words of `text` up to the end of the first simple command: an
/// unquoted `|`, `&&`, `||`, `;`, `>`, `<`, `)`, `#` or `$(` ends it.
/// Quotes and backslashes as a POSIX shell reads them; `$VAR` stays as
/// written (the flag still parses with a placeholder value).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars.next().unwrap_or('\\'))
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            // `2>&1`: the digits were the redirection's, not a word.
            '>' | '<' if in_word && word.chars().all(|d| d.is_ascii_digit()) => {
                return words;
            }
            '|' | ';' | '>' | '<' | ')' | '&' => break,
            '#' if !in_word => break,
            '$' if chars.peek() == Some(&'(') => break,
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Every command in fenced blocks of `text`: a line (with `\` continuations
/// joined) holding `kubectl notify `, at its start (after an optional `$ `)
/// or after `|`, `&&` or `;`.
fn documented_commands(name: &str, text: &str) -> Vec<Documented> {
    let mut found = Vec::new();
    let mut in_block = false;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            i += 1;
            continue;
        }
        if !in_block {
            i += 1;
            continue;
        }
        let first = i;
        let mut joined = String::new();
        let mut current = line;
        while let Some(head) = current.trim_end().strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            i += 1;
            current = lines.get(i).copied().unwrap_or("");
        }
        joined.push_str(current);
        i += 1;
        let next = lines.get(i).map(|l| l.trim()).unwrap_or("");
        let refused_with = next.starts_with("error:").then(|| next.to_string());
        let mut rest = joined.as_str();
        while let Some(at) = rest.find("kubectl notify ") {
            let before = rest[..at].trim_end();
            let at_start = before.is_empty() || before == "$";
            let after_operator = ["|", "&&", ";", "||"].iter().any(|op| before.ends_with(op));
            let command = &rest[at + "kubectl notify ".len()..];
            if at_start || after_operator {
                found.push(Documented {
                    place: format!("{name}:{}", first + 1),
                    words: shell_words(command),
                    refused_with: refused_with.clone(),
                });
            }
            rest = command;
        }
    }
    found
}

/// Refusals that are about the reader's machine, not the command line: a
/// sink's `env:` variable unset, its `file:` missing, a `--rules` file, an
/// `-f` manifest or a `-k` folder absent, nothing piped to `-f -`. The flags before them
/// were parsed; these lines are right on a machine set up as the text says.
fn about_the_readers_machine(line: &str) -> bool {
    line.contains("the environment variable") && line.ends_with("is not set")
        || line.contains(": cannot read the file ")
        || line.starts_with("error: --rules ") && line.contains(": cannot read it: ")
        || line.starts_with("error: -f ") && line.contains(": cannot read it: ")
        || line.starts_with("error: no objects in -f -:")
        || line.starts_with("error: -k ") && line.contains(": kubectl kustomize failed: ")
}

/// What the binary would do with `words` before connecting: `Ok` when it
/// gets a plan, else the exit code and the line it would print. A relative
/// command (`-- ./deploy.sh`) is the reader's script: `true` stands in.
fn check(words: &[String]) -> Result<(), (u8, String)> {
    let mut words = words.to_vec();
    if let Some(dash) = words.iter().position(|w| w == "--")
        && let Some(program) = words.get_mut(dash + 1)
        && program.starts_with("./")
    {
        *program = "true".into();
    }
    let argv = std::iter::once("kubectl-notify".to_string()).chain(words);
    let args = match Args::read(argv) {
        Ok(args) => args,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp) => return Ok(()),
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayVersion) => return Ok(()),
        Err(e) => {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            return Err((2, first));
        }
    };
    Process::from_args(args)
        .map(drop)
        .map_err(|exit| (exit.code(), exit.report().unwrap_or_default()))
}

/// A flag of ours written after `-- COMMAND`: the shell hands it to the
/// command, a mistake the parser cannot see.
fn our_flag_after_the_command(words: &[String]) -> Option<String> {
    use clap::CommandFactory;
    let dash = words.iter().position(|w| w == "--")?;
    let ours: Vec<String> = Args::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    words[dash + 1..]
        .iter()
        .find(|w| ours.iter().any(|o| o == w.split('=').next().unwrap_or(w)))
        .cloned()
}

#[test]
fn every_documented_command_line_parses_as_the_text_says() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&file)
            .display()
            .to_string();
        for doc in documented_commands(name.trim_start_matches('/'), &text) {
            // A synopsis (`TYPE/NAME [TYPE/NAME ...]`), not a command.
            if doc.words.iter().any(|w| w.contains("...")) {
                continue;
            }
            checked += 1;
            if let Some(flag) = our_flag_after_the_command(&doc.words) {
                wrong.push(format!(
                    "{}: `kubectl notify {}`: {flag} comes after `-- COMMAND`, so the command gets it, not kubectl notify",
                    doc.place,
                    doc.words.join(" ")
                ));
                continue;
            }
            match (check(&doc.words), &doc.refused_with) {
                // An `error:` after an accepted command is what it printed
                // when it ran (a timeout, a failure): the flags are right.
                (Ok(()), _) => {}
                (Err((2, line)), Some(said)) if line == *said => {}
                (Err((2, line)), _) if about_the_readers_machine(&line) => {}
                (Err((code, line)), _) => wrong.push(format!(
                    "{}: `kubectl notify {}` is refused (exit {code}): {line}",
                    doc.place,
                    doc.words.join(" ")
                )),
            }
        }
    }
    // `--help`'s examples, as a user reads them.
    use clap::CommandFactory;
    let help = Args::command().render_long_help().to_string();
    for doc in documented_commands("--help", &format!("```\n{help}\n```")) {
        checked += 1;
        if let Err((code, line)) = check(&doc.words) {
            wrong.push(format!(
                "{}: `kubectl notify {}` is refused (exit {code}): {line}",
                doc.place,
                doc.words.join(" ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} documented commands drifted:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The docs hold dozens of commands: finding few means the scan broke.
    assert!(checked >= 30, "only {checked} documented commands found");
}

/// The rows of the README's exit-code table: `| CODE | meaning |`.
fn exit_code_rows(readme: &str) -> Vec<String> {
    let section = readme
        .split("\n## Exit codes")
        .nth(1)
        .expect("README has an `## Exit codes` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|l| l.strip_prefix('|'))
        .filter_map(|l| l.split('|').next())
        .map(|c| c.trim().trim_matches('`').to_string())
        .filter(|c| c.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect()
}

#[test]
fn the_exit_code_table_lists_every_code_exit_gives_and_no_other() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let rows = exit_code_rows(&readme);
    // Each fixed code `Exit` decides, and the two families (a command's own
    // code, 128 + a signal), as the table writes them.
    let fixed = [
        Exit::Failed(String::new()),
        Exit::Usage(String::new()),
        Exit::Refused(String::new()),
        Exit::Timeout(String::new()),
        Exit::Closed,
        Exit::Internal(String::new()),
    ];
    // 0: no `Exit` at all, the run succeeded.
    let mut expected: Vec<String> = vec!["0".into()];
    expected.extend(fixed.iter().map(|e| e.code().to_string()));
    expected.push(Exit::Signal(2).code().to_string()); // 130, SIGINT
    expected.push(Exit::Signal(15).code().to_string()); // 143, SIGTERM
    for code in &expected {
        assert!(
            rows.iter()
                .any(|r| r.split(['/', ',', ' ']).any(|c| c == code)),
            "README's exit-code table has no row for {code}: rows {rows:?}"
        );
    }
    for row in &rows {
        let known = row
            .split(['/', ',', ' '])
            .filter(|c| !c.is_empty())
            .all(|c| expected.iter().any(|e| e == c) || c.contains('N') || c.contains('-'));
        assert!(
            known,
            "README's exit-code row `{row}` is no code `Exit` gives"
        );
    }
}

#[test]
fn the_scanner_reads_commands_as_a_shell_would() {
    let text = "```sh\n$ kubectl notify widgets/a --until '.x == \"y z\"' 2>&1 | head\nkubectl apply -f k && kubectl notify -f k \\\n  --for ready # a comment\n```\nkubectl notify outside/a block\n";
    let found = documented_commands("t.md", text);
    let words: Vec<Vec<String>> = found.iter().map(|d| d.words.clone()).collect();
    assert_eq!(
        words,
        vec![
            vec!["widgets/a", "--until", ".x == \"y z\""],
            vec!["-f", "k", "--for", "ready"],
        ]
        .into_iter()
        .map(|w| w.into_iter().map(String::from).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    assert_eq!(found[1].place, "t.md:3");
}
