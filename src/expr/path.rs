//! Paths: our `.a['b'][0]` syntax, its translation to an RFC 9535 query, and
//! evaluation — direct lookup of the leading keys/indices, then `query.rs` or
//! jsonpath-rust for the rest.

use super::error::ParseError;
use super::lexer::{Tok, is_word_char};
use super::parser::{Mode, Parser, Syn, write_rfc_string};
use super::query::Query;
use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    /// `$`: the object.
    Dollar,
    /// A leading `.`: the object.
    Dot,
    /// `@`: the current item inside a filter.
    At,
}

#[derive(Debug, Clone)]
pub(super) enum Segment {
    Child(Vec<Selector>),
    Descendant(Vec<Selector>),
}

#[derive(Debug, Clone)]
pub(super) enum Selector {
    Name(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Filter(Box<Syn>),
}

/// A path as written, before compilation.
#[derive(Debug, Clone)]
pub(super) struct PathSyntax {
    pub root: Root,
    pub segments: Vec<Segment>,
    /// The source text, as the user wrote it.
    pub text: String,
    /// 0-based character index of the path's first character.
    pub start: usize,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl PathSyntax {
    /// Splits the path into leading keys/indices, looked up directly, and the
    /// rest (from the first wildcard, filter, slice or `..`), if any, as a
    /// `$`-rooted query. The rest is evaluated against the node the leading
    /// steps reach, which is cheaper than a query from the top — unless a
    /// filter in it refers to the object with `$`.
    fn split_direct(&self) -> (Vec<Step>, Option<PathSyntax>) {
        let steps: Vec<Step> = self
            .segments
            .iter()
            .map_while(|segment| match segment {
                Segment::Child(sels) => match sels.as_slice() {
                    [Selector::Name(name)] => Some(Step::Key(name.clone())),
                    [Selector::Index(i)] => Some(Step::Index(*i)),
                    _ => None,
                },
                Segment::Descendant(_) => None,
            })
            .collect();
        if steps.len() == self.segments.len() {
            return (steps, None);
        }
        let rest = &self.segments[steps.len()..];
        let (steps, rest) = if rest.iter().any(segment_mentions_root) {
            (Vec::new(), self.segments.clone())
        } else {
            (steps, rest.to_vec())
        };
        let rest = PathSyntax {
            root: Root::Dollar,
            segments: rest,
            text: String::new(),
            start: self.start,
        };
        (steps, Some(rest))
    }

    /// Selects at most one node (RFC 9535 "singular query").
    pub(super) fn is_singular(&self) -> bool {
        self.segments.iter().all(|segment| {
            matches!(segment, Segment::Child(sels)
                if matches!(sels.as_slice(), [Selector::Name(_) | Selector::Index(_)]))
        })
    }

    /// The equivalent RFC 9535 query, in normalized bracket form.
    pub(super) fn write_rfc(&self, out: &mut String) {
        out.push(if self.root == Root::At { '@' } else { '$' });
        for segment in &self.segments {
            let sels = match segment {
                Segment::Child(sels) => sels,
                Segment::Descendant(sels) => {
                    out.push_str("..");
                    sels
                }
            };
            out.push('[');
            for (i, sel) in sels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match sel {
                    Selector::Name(name) => write_rfc_string(name, out),
                    Selector::Index(i) => out.push_str(&i.to_string()),
                    Selector::Wildcard => out.push('*'),
                    Selector::Slice(start, end, step) => {
                        let opt = |n: &Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
                        out.push_str(&format!("{}:{}", opt(start), opt(end)));
                        if step.is_some() {
                            out.push_str(&format!(":{}", opt(step)));
                        }
                    }
                    Selector::Filter(syn) => {
                        out.push('?');
                        syn.write_rfc(out);
                    }
                }
            }
            out.push(']');
        }
    }

    pub(super) fn to_rfc(&self) -> String {
        let mut out = String::new();
        self.write_rfc(&mut out);
        out
    }
}

impl Parser {
    /// Lexes a path starting at `.`, `$` or `@`.
    pub(super) fn lex_path(&mut self) -> Result<PathSyntax, ParseError> {
        let start = self.pos;
        let root = match self.cur() {
            Some('$') => Root::Dollar,
            Some('@') => Root::At,
            _ => Root::Dot,
        };
        if root != Root::Dot {
            self.pos += 1;
        }
        let mut segments = Vec::new();
        loop {
            match self.cur() {
                Some('.') if self.at(1) == Some('.') => {
                    self.pos += 2;
                    let sels = match self.cur() {
                        Some('[') => self.lex_brackets()?,
                        Some('*') => {
                            self.pos += 1;
                            vec![Selector::Wildcard]
                        }
                        Some(c) if is_name_char(c) => vec![Selector::Name(self.lex_name(start)?)],
                        _ => {
                            return Err(ParseError::at(
                                self.pos,
                                format!(
                                    "expected a key, `*` or `[` after `..`, found {}",
                                    self.describe_char()
                                ),
                            ));
                        }
                    };
                    segments.push(Segment::Descendant(sels));
                }
                Some('.') => {
                    let dot = self.pos;
                    self.pos += 1;
                    match self.cur() {
                        Some(c) if is_name_char(c) => segments
                            .push(Segment::Child(vec![Selector::Name(self.lex_name(start)?)])),
                        Some('*') => {
                            self.pos += 1;
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
                                self.pos,
                                format!("expected a key after `.`, found {}", self.describe_char()),
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
        if self.cur() == Some('/') {
            return Err(ParseError::at(self.pos, "found `/` in a path")
                .hint("keys containing `.`, `/` or `-` need brackets: `.metadata.labels['app.kubernetes.io/name']`"));
        }
        Ok(PathSyntax {
            root,
            segments,
            text: self.text(start, self.pos),
            start,
        })
    }

    fn describe_char(&self) -> String {
        match self.cur() {
            Some(c) => format!("`{c}`"),
            None => "the end of the expression".to_string(),
        }
    }

    /// A bare key after `.`: letters, digits and `_`. A `-` inside is the
    /// most common mistake (`.metadata.labels.app-name`), so it gets a hint.
    fn lex_name(&mut self, path_start: usize) -> Result<String, ParseError> {
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

    /// `[sel, sel, ...]`, starting at `[`.
    fn lex_brackets(&mut self) -> Result<Vec<Selector>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let unclosed = || {
            ParseError::at(open, "unbalanced brackets: this `[` is never closed").hint("add `]`")
        };
        let mut sels = Vec::new();
        loop {
            self.skip_ws();
            let sel = match self.cur() {
                None => return Err(unclosed()),
                Some('\'' | '"') => Selector::Name(self.lex_string()?),
                Some('*') => {
                    self.pos += 1;
                    Selector::Wildcard
                }
                Some('?') => {
                    self.pos += 1;
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
                    self.lex_index_or_slice()?
                }
                Some(']') => {
                    return Err(ParseError::at(self.pos, "empty brackets `[]`").hint(
                        "put a quoted key, an index, `*` or a `?` filter inside: `['key']`, `[0]`",
                    ));
                }
                Some(c) if is_word_char(c) => {
                    let word_start = self.pos;
                    while self.cur().is_some_and(is_word_char) {
                        self.pos += 1;
                    }
                    let word = self.text(word_start, self.pos);
                    return Err(ParseError::at(
                        word_start,
                        format!("unquoted key `{word}` in brackets"),
                    )
                    .hint(format!("quote keys in brackets: `['{word}']`")));
                }
                Some(c) => {
                    return Err(ParseError::at(self.pos, format!("unexpected `{c}` in brackets"))
                        .hint("brackets hold a quoted key, an index, `*` or a `?` filter: `['key']`, `[0]`"));
                }
            };
            sels.push(sel);
            self.skip_ws();
            match self.cur() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    return Ok(sels);
                }
                None => return Err(unclosed()),
                Some(c) => {
                    return Err(ParseError::at(
                        self.pos,
                        format!("expected `]` or `,` in brackets, found `{c}`"),
                    )
                    .hint("add `]`"));
                }
            }
        }
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

    fn lex_index_or_slice(&mut self) -> Result<Selector, ParseError> {
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

#[derive(Debug, Clone)]
pub(super) enum Step {
    Key(String),
    Index(i64),
}

/// A path compiled for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledPath {
    source: String,
    query: String,
    /// Keys and indices walked directly in the `Value`.
    direct: Box<[Step]>,
    /// Wildcards, filters, slices, descendants from there on: compiled once.
    rest: Option<Rest>,
}

#[derive(Debug, Clone)]
enum Rest {
    /// Wildcards and simple filters, evaluated in place.
    Native(Query),
    /// Everything else.
    Jsonpath(Box<JpQuery>),
}

impl CompiledPath {
    pub(super) fn compile(path: &PathSyntax) -> Result<Self, ParseError> {
        let query = path.to_rfc();
        let (direct, rest) = path.split_direct();
        let rest = match rest {
            None => None,
            Some(rest) => {
                // Check the whole query, so errors speak of what the user wrote.
                let full = parse_json_path(&query).map_err(|e| {
                    // pest's message spans several lines; its last says what was expected.
                    let text = e.to_string();
                    let reason = text
                        .lines()
                        .map(|l| l.trim().trim_start_matches("= "))
                        .rfind(|l| !l.is_empty() && !l.starts_with('|'))
                        .unwrap_or_default()
                        .to_string();
                    ParseError::at(
                        path.start,
                        format!("invalid path `{}` (as `{query}`): {reason}", path.text),
                    )
                })?;
                match Query::compile(&rest.segments) {
                    Some(native) => Some(Rest::Native(native)),
                    None if direct.is_empty() => Some(Rest::Jsonpath(Box::new(full))),
                    None => Some(Rest::Jsonpath(Box::new(
                        parse_json_path(&rest.to_rfc()).map_err(|e| {
                            ParseError::at(path.start, format!("invalid path `{}`: {e}", path.text))
                        })?,
                    ))),
                }
            }
        };
        Ok(CompiledPath {
            source: path.text.clone(),
            query,
            direct: direct.into_boxed_slice(),
            rest,
        })
    }

    /// The path as the user wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `$`-rooted RFC 9535 query this path stands for.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// Whether `f` holds for any selected node; false when nothing is selected.
    pub(super) fn any(&self, obj: &Value, mut f: impl FnMut(&Value) -> bool) -> bool {
        let Some(node) = lookup(&self.direct, obj) else {
            return false;
        };
        match &self.rest {
            None => f(node),
            Some(Rest::Native(query)) => query.any(node, obj, &mut f),
            Some(Rest::Jsonpath(query)) => match js_path_process(query, node) {
                Ok(nodes) => nodes.iter().any(|node| f(node.val)),
                Err(_) => false,
            },
        }
    }

    /// Every node the path selects, in document order.
    pub fn select<'v>(&self, obj: &'v Value) -> Vec<&'v Value> {
        let Some(node) = lookup(&self.direct, obj) else {
            return Vec::new();
        };
        match &self.rest {
            None => vec![node],
            Some(Rest::Native(query)) => {
                let mut nodes = Vec::new();
                query.any(node, obj, &mut |node| {
                    nodes.push(node);
                    false
                });
                nodes
            }
            Some(Rest::Jsonpath(query)) => js_path_process(query, node)
                .map(|nodes| nodes.into_iter().map(|node| node.val).collect())
                .unwrap_or_default(),
        }
    }

    pub(super) fn is_direct(&self) -> bool {
        self.rest.is_none()
    }

    /// Whether evaluation goes through jsonpath-rust.
    #[cfg(test)]
    pub(super) fn uses_jsonpath(&self) -> bool {
        matches!(self.rest, Some(Rest::Jsonpath(_)))
    }
}

/// Whether a filter in this segment refers to the object (`$`).
fn segment_mentions_root(segment: &Segment) -> bool {
    let (Segment::Child(sels) | Segment::Descendant(sels)) = segment;
    sels.iter()
        .any(|sel| matches!(sel, Selector::Filter(syn) if syn.mentions_root()))
}

impl PathSyntax {
    pub(super) fn mentions_root(&self) -> bool {
        self.root == Root::Dollar || self.segments.iter().any(segment_mentions_root)
    }
}

fn lookup<'v>(steps: &[Step], obj: &'v Value) -> Option<&'v Value> {
    steps.iter().try_fold(obj, |node, s| step(s, node))
}

/// A key of an object or an index into an array (`-1` is the last item).
pub(super) fn step<'v>(step: &Step, node: &'v Value) -> Option<&'v Value> {
    match (step, node) {
        (Step::Key(key), Value::Object(map)) => map.get(key),
        (Step::Index(i), Value::Array(items)) => {
            let i = if *i < 0 {
                i.checked_add(items.len() as i64)?
            } else {
                *i
            };
            items.get(usize::try_from(i).ok()?)
        }
        _ => None,
    }
}
