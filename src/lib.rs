//! kubectl-notify: watch Kubernetes objects and exit when a condition holds.
//! `main` parses flags into a `Plan`, `run` carries it out; see SPEC.md.

pub mod cli;
pub mod color;
pub mod command;
pub mod complete;
pub mod condition;
pub mod connect;
pub mod decide;
pub mod diff;
pub mod discovery;
pub mod exit;
pub mod expr;
pub mod notify;
pub mod output;
pub mod plan;
pub mod resolve;
pub mod run;
pub mod status;
pub mod template;
pub mod tracker;
pub mod trouble;
pub mod watch;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

/// Parse, run, and turn the outcome into an exit code and at most one line
/// (or, for an expression error, the caret display) on stderr.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}; please report this");
    }));
    // Lossy: a non-UTF-8 argument must reach clap's own error, not a panic.
    let words: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match words.first().map(String::as_str) {
        Some("completion") => return finish(complete::print_script(&words[1..])),
        Some("__complete") => {
            return finish(runtime().map(|rt| rt.block_on(complete::answer(&words[1..]))));
        }
        _ => {}
    }
    let outcome = parse_args()
        .and_then(plan::Plan::from_args)
        .and_then(|plan| runtime()?.block_on(run::run(plan)));
    finish(outcome)
}

fn runtime() -> exit::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Exit::Usage(format!("cannot start the runtime: {e}")))
}

fn finish(outcome: exit::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            if let Some(line) = exit.report() {
                let on = color::enabled(color::choice_from_argv(), color::Stream::Stderr);
                match line.strip_prefix("error:") {
                    Some(rest) if on => {
                        eprintln!(
                            "{}{rest}",
                            color::paint(true, owo_colors::Style::new().red().bold(), "error:")
                        )
                    }
                    _ => eprintln!("{line}"),
                }
            }
            ExitCode::from(exit.code())
        }
    }
}

/// clap's own usage errors, cut to one line with a pointer to `--help`;
/// `--help` and `--version` print as usual.
fn parse_args() -> exit::Result<cli::Args> {
    cli::Args::try_parse().or_else(|err| match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => err.exit(),
        _ => {
            let rendered = err.to_string();
            let paragraph: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let text = paragraph.join(" ");
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            Err(exit::Exit::Usage(format!(
                "{text}; see 'kubectl notify --help'"
            )))
        }
    })
}
