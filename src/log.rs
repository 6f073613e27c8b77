//! Warnings and errors on stderr: a line of text, or with `--log-format json`
//! one JSON object per line (time, level, message, target) for a log collector.

use std::fmt::Display;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(text: &str) -> Result<LogFormat, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "--log-format {other:?}: not a log format (text or json)"
            )),
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Chosen once, when the plan is made; text until then.
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// `warning: MESSAGE`, or its JSON line. `target` names the part of the
/// program that speaks (`watch`, `lease`, `checkpoint`, `command`, ...).
pub fn warning(target: &str, message: impl Display) {
    line("warning", target, &message.to_string());
}

/// `error: MESSAGE` (or its JSON line) for an error the run survives.
pub fn error(target: &str, message: impl Display) {
    line("error", target, &message.to_string());
}

/// A line that is neither a warning nor an error (a reconnection).
pub fn info(target: &str, message: impl Display) {
    line("info", target, &message.to_string());
}

/// A line written as text (`warning: ...` or a notice), in the chosen
/// format: for code that words its own lines.
pub fn line_as_said(target: &str, text: &str) {
    match text.strip_prefix("warning: ") {
        Some(message) => warning(target, message),
        None => info(target, text),
    }
}

/// The final `error: ...` line (or a result line such as `... failed: ...`).
pub fn error_line(text: &str) -> Option<String> {
    match format() {
        LogFormat::Text => None,
        LogFormat::Json => {
            let message = text.strip_prefix("error: ").unwrap_or(text);
            Some(json("error", "main", message))
        }
    }
}

fn line(level: &str, target: &str, message: &str) {
    crate::term::erase();
    match format() {
        LogFormat::Text if level == "info" => crate::term::stderr_line!("{message}"),
        LogFormat::Text => crate::term::stderr_line!("{level}: {message}"),
        LogFormat::Json => crate::term::stderr_line!("{}", json(level, target, message)),
    }
}

fn json(level: &str, target: &str, message: &str) -> String {
    serde_json::json!({
        "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "level": level,
        "message": message,
        "target": target,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_has_time_level_message_and_target() {
        let line: serde_json::Value =
            serde_json::from_str(&json("warning", "watch", "it \"broke\"\nthen")).unwrap();
        assert_eq!(line["level"], "warning");
        assert_eq!(line["target"], "watch");
        assert_eq!(line["message"], "it \"broke\"\nthen");
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn only_text_and_json_are_formats() {
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert!(
            LogFormat::parse("xml")
                .unwrap_err()
                .contains("text or json")
        );
    }
}
