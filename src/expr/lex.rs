//! Tokens, and the character-level scanning of strings, numbers, words and
//! keys. Paths are one token, but lexed by the parser: they hold filters.

use super::error::ParseError;
use super::syntax::{CmpOp, PathSyntax, Selector};
use serde_json::Number;

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub kind: Tok,
    /// 0-based character indices into the source, `end` exclusive.
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Tok {
    Path(PathSyntax),
    Str(String),
    Num(Number),
    Word(String),
    Cmp(CmpOp),
    Match,
    NotMatch,
    And,
    Or,
    Not,
    LParen,
    RParen,
    Comma,
    RBracket,
    // Mistakes we recognise so the error can say what was meant.
    Assign,
    TripleEq,
    BangEqEq,
    Amp,
    Pipe,
    Eof,
}

/// First character of a bare word (`Running`, `true`, `and`).
fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// Later characters of a bare word: `prod-eu`, `v1.2.3` are one word.
pub(super) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Characters of a key after `.`.
pub(super) fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The source text and the position of the next character to read.
pub(super) struct Cursor {
    chars: Vec<char>,
    /// Character index of the next character to lex.
    pub(super) pos: usize,
}

impl Cursor {
    pub(super) fn new(src: &str) -> Self {
        Cursor {
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    /// The length of the source, in characters.
    pub(super) fn len(&self) -> usize {
        self.chars.len()
    }

    pub(super) fn cur(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    pub(super) fn skip_ws(&mut self) {
        while self.cur().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Source text between two character indices.
    pub(super) fn text(&self, start: usize, end: usize) -> String {
        self.chars[start..end.min(self.chars.len())]
            .iter()
            .collect()
    }

    /// The next token, which is not a path: the parser lexes those.
    pub(super) fn lex_token(&mut self) -> Result<Token, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(c) = self.cur() else {
            return Ok(Token {
                kind: Tok::Eof,
                start,
                end: start,
            });
        };
        let (kind, len) = match (c, self.at(1), self.at(2)) {
            ('\'' | '"', _, _) => (Tok::Str(self.lex_string()?), 0),
            ('-' | '0'..='9', _, _) => (Tok::Num(self.lex_number()?), 0),
            (c, _, _) if is_word_start(c) => (Tok::Word(self.lex_word()), 0),
            ('=', Some('='), Some('=')) => (Tok::TripleEq, 3),
            ('=', Some('='), _) => (Tok::Cmp(CmpOp::Eq), 2),
            ('=', Some('~'), _) => (Tok::Match, 2),
            ('=', _, _) => (Tok::Assign, 1),
            ('!', Some('='), Some('=')) => (Tok::BangEqEq, 3),
            ('!', Some('='), _) => (Tok::Cmp(CmpOp::Ne), 2),
            ('!', Some('~'), _) => (Tok::NotMatch, 2),
            ('!', _, _) => (Tok::Not, 1),
            ('<', Some('='), _) => (Tok::Cmp(CmpOp::Le), 2),
            ('<', _, _) => (Tok::Cmp(CmpOp::Lt), 1),
            ('>', Some('='), _) => (Tok::Cmp(CmpOp::Ge), 2),
            ('>', _, _) => (Tok::Cmp(CmpOp::Gt), 1),
            ('&', Some('&'), _) => (Tok::And, 2),
            ('&', _, _) => (Tok::Amp, 1),
            ('|', Some('|'), _) => (Tok::Or, 2),
            ('|', _, _) => (Tok::Pipe, 1),
            ('(', _, _) => (Tok::LParen, 1),
            (')', _, _) => (Tok::RParen, 1),
            (',', _, _) => (Tok::Comma, 1),
            (']', _, _) => (Tok::RBracket, 1),
            ('[', _, _) => {
                return Err(ParseError::at(start, "found `[` without a path before it")
                    .hint("brackets follow a path: `.items[0]`, `.metadata.labels['app']`"));
            }
            (c, _, _) => {
                return Err(ParseError::at(start, format!("unexpected character `{c}`")));
            }
        };
        self.pos += len;
        Ok(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    /// A quoted string. Known escapes are decoded; an unknown one (`\d`, `\.`,
    /// `\b`) is kept as written so regexes need no doubled backslashes.
    pub(super) fn lex_string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let quote = self.cur().expect("called on a quote");
        let unterminated = || {
            ParseError::at(
                start,
                format!("unterminated string: this `{quote}` is never closed"),
            )
            .hint(format!("add a closing `{quote}`"))
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.cur() else {
                return Err(unterminated());
            };
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let escape_at = self.pos - 1;
            let Some(e) = self.cur() else {
                return Err(unterminated());
            };
            self.pos += 1;
            match e {
                '\'' | '"' | '\\' | '/' => out.push(e),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => out.push(self.lex_unicode_escape(escape_at)?),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    /// The `XXXX` after `\u`, joining a UTF-16 surrogate pair.
    fn lex_unicode_escape(&mut self, escape_at: usize) -> Result<char, ParseError> {
        let bad = || {
            ParseError::at(escape_at, "invalid `\\u` escape")
                .hint("write `\\u` and four hex digits, e.g. `\\u00e9` for `é`")
        };
        let hex4 = |p: &mut Self| -> Result<u32, ParseError> {
            let mut code = 0;
            for _ in 0..4 {
                let digit = p.cur().and_then(|c| c.to_digit(16)).ok_or_else(bad)?;
                code = code * 16 + digit;
                p.pos += 1;
            }
            Ok(code)
        };
        let first = hex4(self)?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.cur() != Some('\\') || self.at(1) != Some('u') {
                return Err(bad());
            }
            self.pos += 2;
            let low = hex4(self)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(bad());
            }
            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(bad)
    }

    fn lex_number(&mut self) -> Result<Number, ParseError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.cur().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.cur() == Some('-') {
            self.pos += 1;
        }
        if !digits(self) {
            return Err(ParseError::at(start, "expected a number after `-`")
                .hint("there is no arithmetic; a negative number is written `-1`"));
        }
        if self.cur() == Some('.') && self.at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            digits(self);
        }
        if matches!(self.cur(), Some('e' | 'E')) {
            let sign = usize::from(matches!(self.at(1), Some('+' | '-')));
            if self.at(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let mut bad = self.cur().is_some_and(is_word_char);
        while self.cur().is_some_and(is_word_char) {
            self.pos += 1;
        }
        let text = self.text(start, self.pos);
        let number = if bad {
            None
        } else {
            text.parse::<Number>().ok()
        };
        bad |= number.is_none();
        match number {
            Some(n) if !bad => Ok(n),
            _ => Err(ParseError::at(start, format!("invalid number `{text}`"))
                .hint(format!("quote it to compare as a string: '{text}'"))),
        }
    }

    fn lex_word(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        while self.cur().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.text(start, self.pos)
    }

    pub(super) fn describe_char(&self) -> String {
        match self.cur() {
            Some(c) => format!("`{c}`"),
            None => "the end of the expression".to_string(),
        }
    }

    /// A bare key after `.`: letters, digits and `_`. A `-` inside is the
    /// most common mistake (`.metadata.labels.app-name`), so it gets a hint.
    pub(super) fn lex_name(&mut self, path_start: usize) -> Result<String, ParseError> {
        let key_start = self.pos;
        while self.cur().is_some_and(is_name_char) {
            self.pos += 1;
        }
        if self.cur() == Some('-') && self.at(1).is_some_and(is_word_char) {
            let dash = self.pos;
            while self.cur().is_some_and(|c| is_name_char(c) || c == '-') {
                self.pos += 1;
            }
            let key = self.text(key_start, self.pos);
            let mut prefix = self.text(path_start, key_start - 1);
            if prefix.is_empty() {
                prefix.push('.');
            }
            return Err(ParseError::at(
                dash,
                format!("found `-` in the unquoted key `{key}`; a bare key holds only letters, digits and `_`"),
            )
            .hint(format!("keys containing `-` need brackets: `{prefix}['{key}']`")));
        }
        Ok(self.text(key_start, self.pos))
    }

    fn lex_int(&mut self) -> Result<Option<i64>, ParseError> {
        let start = self.pos;
        if self.cur() == Some('-') {
            self.pos += 1;
        }
        while self.cur().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text = self.text(start, self.pos);
        text.parse()
            .map(Some)
            .map_err(|_| ParseError::at(start, format!("invalid index `{text}`")))
    }

    pub(super) fn lex_index_or_slice(&mut self) -> Result<Selector, ParseError> {
        let first = self.lex_int()?;
        self.skip_ws();
        if self.cur() != Some(':') {
            return Ok(Selector::Index(first.expect("starts with a digit or `-`")));
        }
        self.pos += 1;
        self.skip_ws();
        let end = self.lex_int()?;
        self.skip_ws();
        let step = if self.cur() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            self.lex_int()?
        } else {
            None
        };
        Ok(Selector::Slice(first, end, step))
    }
}
