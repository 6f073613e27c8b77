//! Whether to colour a stream: `--color always|never` decides; `auto` (the
//! default) honours NO_COLOR, then CLICOLOR_FORCE, then whether that stream
//! is a terminal — stdout piped while stderr is a terminal is common.

use std::io::IsTerminal;

use owo_colors::{OwoColorize, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

pub fn enabled(choice: ColorChoice, stream: Stream) -> bool {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if env("NO_COLOR").is_some() => false,
        ColorChoice::Auto if env("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto => {
            let terminal = match stream {
                Stream::Stdout => std::io::stdout().is_terminal(),
                Stream::Stderr => std::io::stderr().is_terminal(),
            };
            terminal && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// `--color` as given on the command line, read before clap parses it, for
/// error lines printed when parsing fails.
pub fn choice_from_argv() -> ColorChoice {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    choice_from(&args)
}

/// Our `--color`: the words after `--` belong to the command.
fn choice_from(args: &[String]) -> ColorChoice {
    let ours = args.split(|a| a == "--").next().unwrap_or_default();
    let value = ours
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--color") {
            Some("") => ours.get(i + 1).cloned(),
            Some(rest) => rest.strip_prefix('=').map(String::from),
            None => None,
        });
    match value.as_deref() {
        Some("always") => ColorChoice::Always,
        Some("never") => ColorChoice::Never,
        _ => ColorChoice::Auto,
    }
}

/// `text` in `style` when colour is on.
pub fn paint(on: bool, style: Style, text: &str) -> String {
    if on {
        text.style(style).to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_only_when_on() {
        let red = Style::new().red();
        assert_eq!(paint(false, red, "x"), "x");
        assert_eq!(paint(true, red, "x"), "\u{1b}[31mx\u{1b}[0m");
        assert!(enabled(ColorChoice::Always, Stream::Stdout));
        assert!(!enabled(ColorChoice::Never, Stream::Stderr));
    }

    #[test]
    fn the_commands_words_are_not_our_flags() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            choice_from(&argv(&[
                "kubectl-notify",
                "cm/a",
                "--",
                "sh",
                "--color=always"
            ])),
            ColorChoice::Auto
        );
        assert_eq!(
            choice_from(&argv(&[
                "kubectl-notify",
                "cm/a",
                "--",
                "ls",
                "--color",
                "always"
            ])),
            ColorChoice::Auto
        );
        assert_eq!(
            choice_from(&argv(&[
                "kubectl-notify",
                "--color",
                "never",
                "cm/a",
                "--",
                "x"
            ])),
            ColorChoice::Never
        );
        assert_eq!(
            choice_from(&argv(&["kubectl-notify", "cm/a", "--color=always"])),
            ColorChoice::Always
        );
    }
}
