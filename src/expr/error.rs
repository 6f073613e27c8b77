//! The one error of the expression language: a rejected expression, with the
//! column and a hint, rendered with a caret under the mistake.

use std::fmt;

/// A rejected expression: what was found, what was expected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 1-based, counted in characters (not bytes).
    pub column: usize,
    pub hint: Option<String>,
}

impl ParseError {
    /// An error at the 0-based character index `idx`.
    pub(super) fn at(idx: usize, message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
            column: idx + 1,
            hint: None,
        }
    }

    /// A regex the `regex` crate rejects, reported at its literal (0-based
    /// character index `at`).
    pub(super) fn invalid_regex(at: usize, err: &regex::Error) -> Self {
        // The regex crate's message spans several lines; keep the last one,
        // which says what is wrong.
        let text = err.to_string();
        let reason = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.trim())
            .to_string();
        ParseError::at(at, format!("invalid regex: {reason}"))
            .hint("regexes use Rust `regex` syntax, e.g. '^web-[0-9]+$'")
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The message, the expression, and a caret under the offending column
    /// followed by the hint, ready for stderr.
    pub fn render(&self, src: &str) -> String {
        // One display cell per character, so the caret lines up: newlines and
        // tabs become spaces.
        let line: String = src
            .chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let mut out = format!(
            "{self}\n  {}\n  {}^",
            line.trim_end(),
            " ".repeat(self.column.saturating_sub(1))
        );
        if let Some(hint) = &self.hint {
            out.push(' ');
            out.push_str(hint);
        }
        out
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid expression: {} (column {})",
            self.message, self.column
        )
    }
}

impl std::error::Error for ParseError {}
