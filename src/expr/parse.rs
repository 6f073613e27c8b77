//! The recursive-descent parser: text in, syntax tree out, with errors that
//! say what was meant. Paths are parsed while lexing, filters in them included.

use super::error::ParseError;
use super::lex::{Cursor, Tok, Token, is_name_char, is_word_char};
use super::syntax::{Operand, PathSyntax, Root, Segment, Selector, Syn};
use regex::Regex;
use serde_json::Value;

/// Where an expression appears; paths and literals are checked accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The whole `--until` expression: paths start with `.` or `$`.
    Top,
    /// Inside `[? ... ]`: paths start with `@` or `$`.
    Filter,
    /// An argument of a filter function such as `length(@.items)`.
    FnArg,
}

struct Parser {
    src: Cursor,
    peeked: Option<Token>,
    /// The last thing parsed was an operand with no operator after it, so a
    /// comparison operator could have come next (for the error message).
    lone_operand: bool,
    /// End of the last token taken, for quoting source text back.
    last_end: usize,
    /// Current nesting of parentheses, `!` and filters; bounded so a
    /// pathological expression cannot overflow the stack.
    depth: usize,
}

const MAX_DEPTH: usize = 64;

/// Which side of a comparison an operand is on: bare words are strings only
/// on the right.
#[derive(Clone, Copy)]
enum Side {
    Left,
    Right(&'static str),
}

/// Parses a whole expression.
pub(super) fn parse(src: &str) -> Result<Syn, ParseError> {
    if src.trim().is_empty() {
        return Err(ParseError::at(0, "empty expression")
            .hint("write a condition, e.g. `.status.ready == true`"));
    }
    let mut p = Parser {
        src: Cursor::new(src),
        peeked: None,
        lone_operand: false,
        last_end: 0,
        depth: 0,
    };
    let syn = p.parse_or(Mode::Top)?;
    let token = p.next_token()?;
    match token.kind {
        Tok::Eof => Ok(syn),
        _ => Err(p.unexpected(&token, &p.expectation("the end of the expression"))),
    }
}

impl Parser {
    fn parse_or(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        self.enter()?;
        let syn = self.parse_or_terms(mode);
        self.depth -= 1;
        syn
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::at(
                self.src.pos,
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn parse_or_terms(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        let mut terms = vec![self.parse_and(mode)?];
        while matches!(self.peek()?.kind, Tok::Or) {
            self.next_token()?;
            terms.push(self.parse_and(mode)?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Syn::Or(terms)
        })
    }

    fn parse_and(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        let mut terms = vec![self.parse_unary(mode)?];
        while matches!(self.peek()?.kind, Tok::And) {
            self.next_token()?;
            terms.push(self.parse_unary(mode)?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Syn::And(terms)
        })
    }

    fn parse_unary(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        if !matches!(self.peek()?.kind, Tok::Not) {
            return self.parse_primary(mode);
        }
        let bang = self.next_token()?;
        let inner = match self.peek()?.kind {
            Tok::Not => {
                self.enter()?;
                let inner = self.parse_unary(mode)?;
                self.depth -= 1;
                inner
            }
            Tok::LParen => self.parse_paren(mode)?,
            _ => {
                let at = self.peek()?.start;
                let operand = self.parse_operand(mode, Side::Left)?;
                if matches!(operand, Operand::Lit(_)) {
                    return Err(ParseError::at(
                        at,
                        "`!` needs a path or a parenthesised condition",
                    )
                    .hint("e.g. `!.spec.paused` or `!(.status.phase == Running)`"));
                }
                if matches!(self.peek()?.kind, Tok::Cmp(_) | Tok::Match | Tok::NotMatch) {
                    // Parse the comparison only to quote it back in the hint.
                    self.next_token()?;
                    let end = match self.parse_operand(mode, Side::Right("the operator")) {
                        Ok(_) => self.last_end,
                        Err(_) => self.src.len(),
                    };
                    let comparison = self.src.text(at, end);
                    return Err(ParseError::at(
                        bang.start,
                        "`!` applies to a path or a parenthesised condition, not to one side of a comparison",
                    )
                    .hint(format!("write `!({})`", comparison.trim())));
                }
                Syn::Operand(operand)
            }
        };
        self.lone_operand = false;
        Ok(Syn::Not(Box::new(inner)))
    }

    fn parse_paren(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        let open = self.next_token()?;
        let inner = self.parse_or(mode)?;
        let close = self.next_token()?;
        match close.kind {
            Tok::RParen => {
                self.lone_operand = false;
                Ok(inner)
            }
            Tok::Eof => Err(ParseError::at(
                open.start,
                "unbalanced parentheses: this `(` is never closed",
            )
            .hint("add `)`")),
            _ => Err(self.unexpected(&close, &self.expectation("`)`"))),
        }
    }

    fn parse_primary(&mut self, mode: Mode) -> Result<Syn, ParseError> {
        if matches!(self.peek()?.kind, Tok::LParen) {
            return self.parse_paren(mode);
        }
        let lhs_at = self.peek()?.start;
        let lhs = self.parse_operand(mode, Side::Left)?;
        let op = match self.peek()?.kind {
            Tok::Cmp(op) => op,
            Tok::Match | Tok::NotMatch => return self.parse_regex(mode, lhs, lhs_at),
            _ => {
                if let Operand::Lit(value) = &lhs
                    && mode != Mode::FnArg
                {
                    return Err(ParseError::at(
                        lhs_at,
                        format!("a literal alone is not a condition: expected a comparison after `{value}`"),
                    )
                    .hint("compare a path with it, e.g. `.status.ready == true`"));
                }
                self.lone_operand = true;
                return Ok(Syn::Operand(lhs));
            }
        };
        self.next_token()?;
        let rhs_at = self.peek()?.start;
        let rhs = self.parse_operand(mode, Side::Right(op.as_str()))?;
        self.lone_operand = false;
        if matches!((&lhs, &rhs), (Operand::Lit(_), Operand::Lit(_))) {
            return Err(
                ParseError::at(lhs_at, "a comparison needs a path on at least one side")
                    .hint("paths start with `.`, e.g. `.status.phase`"),
            );
        }
        if mode != Mode::Top {
            for (operand, at) in [(&lhs, lhs_at), (&rhs, rhs_at)] {
                if let Operand::Path(path) = operand
                    && !path.is_singular()
                {
                    return Err(ParseError::at(
                        at,
                        format!("`{}` may select several values; inside a filter a comparison needs a path to a single value", path.text),
                    )
                    .hint("use only keys and indices here, e.g. `@.status` or `@.ports[0].port`"));
                }
            }
        }
        Ok(Syn::Cmp(lhs, op, rhs))
    }

    fn parse_regex(&mut self, mode: Mode, lhs: Operand, lhs_at: usize) -> Result<Syn, ParseError> {
        let op = self.next_token()?;
        let negate = matches!(op.kind, Tok::NotMatch);
        let op_text = if negate { "!~" } else { "=~" };
        let Operand::Path(path) = lhs else {
            return Err(ParseError::at(
                lhs_at,
                format!("the left side of `{op_text}` must be a path"),
            )
            .hint("e.g. `.metadata.name =~ '^web-'`"));
        };
        self.src.skip_ws();
        if self.src.cur().is_some_and(|c| c != '\'' && c != '"') {
            // An unquoted regex would not even lex (`^web-`), so catch it here.
            let start = self.src.pos;
            while self.src.cur().is_some_and(|c| !c.is_whitespace()) {
                self.src.pos += 1;
            }
            let raw = self.src.text(start, self.src.pos);
            return Err(ParseError::at(
                start,
                format!("expected a quoted regex after `{op_text}`, found `{raw}`"),
            )
            .hint(format!("quote the regex: '{raw}'")));
        }
        let token = self.next_token()?;
        self.lone_operand = false;
        match token.kind {
            Tok::Str(pattern) => {
                if mode != Mode::Top {
                    // Filters hand the regex to jsonpath-rust; check it here
                    // so a bad one is reported at parse time all the same.
                    Regex::new(&pattern).map_err(|e| ParseError::invalid_regex(token.start, &e))?;
                }
                Ok(Syn::Regex {
                    path,
                    negate,
                    pattern,
                    at: token.start,
                })
            }
            _ => Err(ParseError::at(
                token.start,
                format!(
                    "expected a quoted regex after `{op_text}`, found {}",
                    self.describe(&token)
                ),
            )
            .hint("e.g. `.metadata.name =~ '^web-[0-9]+$'`")),
        }
    }

    fn parse_operand(&mut self, mode: Mode, side: Side) -> Result<Operand, ParseError> {
        let token = self.next_token()?;
        match token.kind {
            Tok::Path(path) => {
                let rest = path.text.trim_start_matches(['.', '$', '@']);
                match (mode, path.root) {
                    (Mode::Top, Root::At) => Err(ParseError::at(
                        token.start,
                        "`@` (the current item) only exists inside a filter `[?...]`",
                    )
                    .hint(format!("paths start with `.`: `.{rest}`"))),
                    (Mode::Filter | Mode::FnArg, Root::Dot) => Err(ParseError::at(
                        token.start,
                        "inside a filter, paths start with `@` (the current item) or `$` (the object)",
                    )
                    .hint(format!("write `@{}`", path.text))),
                    _ => Ok(Operand::Path(path)),
                }
            }
            Tok::Str(s) => Ok(Operand::Lit(Value::String(s))),
            Tok::Num(n) => Ok(Operand::Lit(Value::Number(n))),
            Tok::Word(ref word) => match word.as_str() {
                "true" => Ok(Operand::Lit(Value::Bool(true))),
                "false" => Ok(Operand::Lit(Value::Bool(false))),
                "null" => Ok(Operand::Lit(Value::Null)),
                _ if mode != Mode::Top
                    && matches!(self.peek()?, Token { kind: Tok::LParen, start, .. } if *start == token.end) =>
                {
                    self.parse_call(word.clone())
                }
                _ => match side {
                    Side::Right(_) => Ok(Operand::Lit(Value::String(word.clone()))),
                    Side::Left => Err(self.unexpected(&token, "a path")),
                },
            },
            _ => {
                let expected = match side {
                    Side::Left => "a path or a value".to_string(),
                    Side::Right(op) => format!("a value after `{op}`"),
                };
                Err(self.unexpected(&token, &expected))
            }
        }
    }

    fn parse_call(&mut self, name: String) -> Result<Operand, ParseError> {
        const FUNCTIONS: [&str; 5] = ["length", "count", "value", "match", "search"];
        let open = self.next_token()?;
        if !FUNCTIONS.contains(&name.as_str()) {
            let at = open.start - name.chars().count();
            return Err(
                ParseError::at(at, format!("unknown filter function `{name}`"))
                    .hint("filters know length(), count(), value(), match() and search()"),
            );
        }
        let mut args = Vec::new();
        if matches!(self.peek()?.kind, Tok::RParen) {
            self.next_token()?;
            return Ok(Operand::Call(name, args));
        }
        loop {
            args.push(self.parse_or(Mode::FnArg)?);
            let token = self.next_token()?;
            match token.kind {
                Tok::Comma => {}
                Tok::RParen => break,
                Tok::Eof => {
                    return Err(ParseError::at(
                        open.start,
                        "unbalanced parentheses: this `(` is never closed",
                    )
                    .hint("add `)`"));
                }
                _ => return Err(self.unexpected(&token, "`,` or `)`")),
            }
        }
        self.lone_operand = false;
        Ok(Operand::Call(name, args))
    }

    /// What could have come next after a complete condition, ended by `closer`.
    fn expectation(&self, closer: &str) -> String {
        match (self.lone_operand, closer) {
            (true, "the end of the expression") => "a comparison operator or `&&`/`||`".to_string(),
            (true, _) => format!("a comparison operator, `&&`/`||` or {closer}"),
            (false, _) => format!("`&&`/`||` or {closer}"),
        }
    }

    fn describe(&self, token: &Token) -> String {
        match token.kind {
            Tok::Eof => "the end of the expression".to_string(),
            _ => format!("`{}`", self.src.text(token.start, token.end)),
        }
    }

    /// "expected X, found Y", with a hint for the mistakes we recognise.
    fn unexpected(&self, token: &Token, expected: &str) -> ParseError {
        let found = self.describe(token);
        let err = ParseError::at(token.start, format!("expected {expected}, found {found}"));
        let hint = match &token.kind {
            Tok::Assign => "did you mean `==`?".to_string(),
            Tok::TripleEq => "did you mean `==`? (there is no `===`)".to_string(),
            Tok::BangEqEq => "did you mean `!=`? (there is no `!==`)".to_string(),
            Tok::Amp => "did you mean `&&`?".to_string(),
            Tok::Pipe => "did you mean `||`?".to_string(),
            Tok::RParen => {
                "unbalanced parentheses: remove this `)` or add a matching `(`".to_string()
            }
            Tok::RBracket => {
                "unbalanced brackets: remove this `]` or add a matching `[`".to_string()
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("and") => "use `&&` for “and”".to_string(),
            Tok::Word(w) if w.eq_ignore_ascii_case("or") => "use `||` for “or”".to_string(),
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                "use `!` for “not”, e.g. `!.spec.paused`".to_string()
            }
            Tok::Word(w) if expected == "a path" => format!("paths start with `.`: `.{w}`"),
            Tok::Eof => return err,
            _ if expected.contains("`&&`/`||`") => "join conditions with `&&` or `||`".to_string(),
            _ => return err,
        };
        err.hint(hint)
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            let token = self.lex_token()?;
            self.peeked = Some(token);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        let token = match self.peeked.take() {
            Some(token) => token,
            None => self.lex_token()?,
        };
        self.last_end = token.end;
        Ok(token)
    }

    /// The next token. Paths are lexed here, not by the cursor, because a
    /// filter in one is parsed as it is read.
    fn lex_token(&mut self) -> Result<Token, ParseError> {
        self.src.skip_ws();
        let start = self.src.pos;
        if matches!(self.src.cur(), Some('.' | '$' | '@')) {
            let path = self.lex_path()?;
            return Ok(Token {
                kind: Tok::Path(path),
                start,
                end: self.src.pos,
            });
        }
        self.src.lex_token()
    }

    /// Lexes a path starting at `.`, `$` or `@`.
    fn lex_path(&mut self) -> Result<PathSyntax, ParseError> {
        let start = self.src.pos;
        let root = match self.src.cur() {
            Some('$') => Root::Dollar,
            Some('@') => Root::At,
            _ => Root::Dot,
        };
        if root != Root::Dot {
            self.src.pos += 1;
        }
        let mut segments = Vec::new();
        loop {
            match self.src.cur() {
                Some('.') if self.src.at(1) == Some('.') => {
                    self.src.pos += 2;
                    let sels = match self.src.cur() {
                        Some('[') => self.lex_brackets()?,
                        Some('*') => {
                            self.src.pos += 1;
                            vec![Selector::Wildcard]
                        }
                        Some(c) if is_name_char(c) => {
                            vec![Selector::Name(self.src.lex_name(start)?)]
                        }
                        _ => {
                            return Err(ParseError::at(
                                self.src.pos,
                                format!(
                                    "expected a key, `*` or `[` after `..`, found {}",
                                    self.src.describe_char()
                                ),
                            ));
                        }
                    };
                    segments.push(Segment::Descendant(sels));
                }
                Some('.') => {
                    let dot = self.src.pos;
                    self.src.pos += 1;
                    match self.src.cur() {
                        Some(c) if is_name_char(c) => {
                            segments.push(Segment::Child(vec![Selector::Name(
                                self.src.lex_name(start)?,
                            )]))
                        }
                        Some('*') => {
                            self.src.pos += 1;
                            segments.push(Segment::Child(vec![Selector::Wildcard]));
                        }
                        // jq style `.[0]`, `.['a.b']`
                        Some('[') => segments.push(Segment::Child(self.lex_brackets()?)),
                        // `.` alone is the whole object.
                        c if dot == start
                            && c.is_none_or(|c| c.is_whitespace() || "=!<>&|)],~".contains(c)) =>
                        {
                            break;
                        }
                        next => {
                            let err = ParseError::at(
                                self.src.pos,
                                format!(
                                    "expected a key after `.`, found {}",
                                    self.src.describe_char()
                                ),
                            );
                            return Err(match next {
                                None => err,
                                Some(_) => err.hint(
                                    "quote unusual keys in brackets: `.metadata.labels['app.kubernetes.io/name']`",
                                ),
                            });
                        }
                    }
                }
                Some('[') => segments.push(Segment::Child(self.lex_brackets()?)),
                _ => break,
            }
        }
        if self.src.cur() == Some('/') {
            return Err(ParseError::at(self.src.pos, "found `/` in a path")
                .hint("keys containing `.`, `/` or `-` need brackets: `.metadata.labels['app.kubernetes.io/name']`"));
        }
        Ok(PathSyntax {
            root,
            segments,
            text: self.src.text(start, self.src.pos),
            start,
        })
    }

    /// `[sel, sel, ...]`, starting at `[`.
    fn lex_brackets(&mut self) -> Result<Vec<Selector>, ParseError> {
        let open = self.src.pos;
        self.src.pos += 1;
        let unclosed = || {
            ParseError::at(open, "unbalanced brackets: this `[` is never closed").hint("add `]`")
        };
        let mut sels = Vec::new();
        loop {
            self.src.skip_ws();
            let sel = match self.src.cur() {
                None => return Err(unclosed()),
                Some('\'' | '"') => Selector::Name(self.src.lex_string()?),
                Some('*') => {
                    self.src.pos += 1;
                    Selector::Wildcard
                }
                Some('?') => {
                    self.src.pos += 1;
                    let filter = self.parse_or(Mode::Filter)?;
                    sels.push(Selector::Filter(Box::new(filter)));
                    // The filter parser stops on a token it does not own.
                    let token = self.next_token()?;
                    match token.kind {
                        Tok::RBracket => return Ok(sels),
                        Tok::Comma => continue,
                        Tok::Eof => return Err(unclosed()),
                        _ => return Err(self.unexpected(&token, &self.expectation("`]`"))),
                    }
                }
                Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => {
                    self.src.lex_index_or_slice()?
                }
                Some(']') => {
                    return Err(ParseError::at(self.src.pos, "empty brackets `[]`").hint(
                        "put a quoted key, an index, `*` or a `?` filter inside: `['key']`, `[0]`",
                    ));
                }
                Some(c) if is_word_char(c) => {
                    let word_start = self.src.pos;
                    while self.src.cur().is_some_and(is_word_char) {
                        self.src.pos += 1;
                    }
                    let word = self.src.text(word_start, self.src.pos);
                    return Err(ParseError::at(
                        word_start,
                        format!("unquoted key `{word}` in brackets"),
                    )
                    .hint(format!("quote keys in brackets: `['{word}']`")));
                }
                Some(c) => {
                    return Err(ParseError::at(self.src.pos, format!("unexpected `{c}` in brackets"))
                        .hint("brackets hold a quoted key, an index, `*` or a `?` filter: `['key']`, `[0]`"));
                }
            };
            sels.push(sel);
            self.src.skip_ws();
            match self.src.cur() {
                Some(',') => self.src.pos += 1,
                Some(']') => {
                    self.src.pos += 1;
                    return Ok(sels);
                }
                None => return Err(unclosed()),
                Some(c) => {
                    return Err(ParseError::at(
                        self.src.pos,
                        format!("expected `]` or `,` in brackets, found `{c}`"),
                    )
                    .hint("add `]`"));
                }
            }
        }
    }
}
