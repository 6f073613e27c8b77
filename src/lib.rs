//! kubectl-notify: watch Kubernetes objects and exit when a condition holds.
//! `main` parses flags into a `Plan`, `run` carries it out; see SPEC.md.

// In the order data flows: argv → cli → plan → resolve → watch → tracker →
// decide → sink → exit code; the rest serves them.
pub mod cli;
pub(crate) mod decide;
pub(crate) mod exit;
pub(crate) mod explain;
pub(crate) mod ha;
pub(crate) mod manifests;
pub(crate) mod metrics;
pub(crate) mod plan;
pub(crate) mod resolve;
pub(crate) mod sink;
pub mod tracker;
pub(crate) mod watch;

pub(crate) mod color;
pub(crate) mod complete;
pub(crate) mod condition;
pub(crate) mod connect;
pub(crate) mod discovery;
pub(crate) mod duration;
pub mod expr;
pub(crate) mod log;
pub(crate) mod managed_fields;
pub(crate) mod os;
pub(crate) mod run;
pub(crate) mod target;
pub(crate) mod template_path;
pub(crate) mod term;
pub(crate) mod trouble;

#[cfg(test)]
mod docs_tests;

use std::process::ExitCode;

use clap::error::ErrorKind;

/// Parse, run, and turn the outcome into an exit code and at most one line
/// (or, for an expression error, the caret display) on stderr.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        crate::term::stderr_line!("error: internal error: {info}; please report this");
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
        .and_then(plan::Process::from_args)
        .inspect(|process| {
            if let Some(rule) = process.rules.first() {
                log::set_format(rule.plan.incluster.log_format)
            }
        })
        .and_then(|process| runtime()?.block_on(run::run(process)));
    finish(outcome)
}

fn runtime() -> exit::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::Exit::Internal(format!("cannot start the async runtime: {e}")))
}

fn finish(outcome: exit::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(exit) => {
            if let Some(line) = exit.report() {
                if let Some(json) = log::error_line(&line) {
                    crate::term::stderr_line!("{json}");
                    return ExitCode::from(exit.code());
                }
                let on = color::enabled(color::choice_from_argv(), color::Stream::Stderr);
                match line.strip_prefix("error:") {
                    Some(rest) if on => {
                        crate::term::stderr_line!(
                            "{}{rest}",
                            color::paint(true, owo_colors::Style::new().red().bold(), "error:")
                        )
                    }
                    _ => crate::term::stderr_line!("{line}"),
                }
            }
            ExitCode::from(exit.code())
        }
    }
}

/// clap's own usage errors, cut to one line with a pointer to `--help`;
/// `--help` and `--version` print as usual.
fn parse_args() -> exit::Result<cli::Args> {
    cli::Args::read(std::env::args_os()).or_else(|err| match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => err.exit(),
        _ => Err(exit::Exit::Usage(format!(
            "{}; see 'kubectl notify --help'",
            cli::one_line(&err)
        ))),
    })
}
