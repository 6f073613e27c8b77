//! The `--until`/`--when`/`--fail-if` expression language: text in, a compiled
//! predicate out, `eval(&Value) -> bool` on the hot path. No Kubernetes, no I/O.
//!
//! # Grammar
//!
//! ```text
//! expr       := or
//! or         := and ( "||" and )*
//! and        := unary ( "&&" unary )*
//! unary      := "!" ( unary | "(" or ")" | path )  |  primary
//! primary    := "(" or ")"  |  operand [ cmpop operand ]  |  path ( "=~" | "!~" ) string
//! cmpop      := "==" | "!=" | "<" | "<=" | ">" | ">="
//! operand    := path | string | number | "true" | "false" | "null" | bareword
//! path       := ( "." | "$" ) segment*            -- `.` alone is the whole object
//! segment    := "." key | ".*" | ".." ( key | "*" | brackets ) | "."? brackets
//! key        := ( letter | digit | "_" )+         -- unicode letters allowed; no `-`
//! brackets   := "[" selector ( "," selector )* "]"
//! selector   := string | int | "*" | int? ":" int? ( ":" int? )? | "?" filter
//! filter     := RFC 9535 logical expression: `&&` `||` `!` `( )`, comparisons of
//!               `@`/`$` paths and literals, functions (`length(@.x) > 0`), `=~`/`!~`
//! string     := '...' | "..."   escapes \' \" \\ \/ \n \t \r \uXXXX (surrogate
//!               pairs joined); any other backslash is kept as written, so
//!               '^v\d+$' is a working regex (and '\\d' means the same)
//! number     := -?digits(.digits)?([eE][+-]?digits)?
//! bareword   := (letter | "_") (letter | digit | "_" | "." | "-")*   -- right side only
//! ```
//!
//! Precedence: `!` binds tightest, then comparisons, then `&&`, then `||`.
//! `!` applies to a path, a parenthesised condition or another `!`;
//! `!.a == 1` is rejected (write `!(.a == 1)` or `.a != 1`).
//!
//! # Semantics
//!
//! - A path is translated to a `$`-rooted RFC 9535 query and compiled once.
//!   Leading keys and indices are looked up directly in the `Value`; from the
//!   first wildcard, filter, slice or `..` on, the rest is evaluated from the
//!   node reached (the whole query if a filter uses `$`): in place for
//!   wildcards and filters of comparisons, existence tests and regexes, by
//!   jsonpath-rust otherwise. Tests check all give what jsonpath-rust gives
//!   for the whole query.
//! - `.a.0` is the *key* `"0"`; an array index is written `.a[0]` (`[-1]` is the last).
//! - A path that selects several nodes: a comparison holds if **any** node
//!   satisfies it (two paths: any pair). `.a[*] != 1` holds if some node differs.
//! - A path that selects nothing makes every comparison false, `!=` and `!~`
//!   included. It is never an error: the field may appear later. A missing
//!   field is not `null`: `.missing == null` is false, `!.missing` is true.
//! - A path alone is an existence test: some selected node is not `null`.
//!   `false`, `0`, `""`, `[]` and `{}` all exist. `!.spec.paused` means "absent or null".
//! - `==`/`!=`: strict JSON equality by type and value; numbers by value
//!   (`3 == 3.0`), the string `"3"` never equals the number `3`, `"true"` never
//!   equals `true`. Arrays and objects compare structurally.
//! - A bare word is a string (`Running`, `prod-eu`, `v1.2.3`), except `true`,
//!   `false`, `null`, which are those literals. Numbers are numbers (`3`,
//!   `-1.5`, `1e3`); quote them to compare as strings (`'3'`). A bare word is
//!   only accepted on the right of a comparison; on the left it is an error
//!   (most likely a path missing its leading `.`). A literal alone (`true`) and
//!   a comparison of two literals (`1 == 1`) are rejected as mistakes.
//! - `< <= > >=`: numbers numerically, strings by Unicode code point; any other
//!   pairing (mixed types, bools, null, arrays, objects) is false.
//! - `=~`/`!~` take a quoted regex (Rust `regex` syntax, unanchored: use `^`/`$`),
//!   compiled once at parse time. Strings are matched as is, numbers and bools
//!   by their JSON text (`3`, `1.5`, `true`); null, arrays and objects never
//!   match, for `!~` too. Inside a filter they become RFC 9535 `search()` /
//!   `!search()`.
//! - Inside a filter, paths start with `@` (current item) or `$` (the object),
//!   and a comparison needs paths that select one value (keys and indices
//!   only), as RFC 9535 requires.

// The stages, each importing only those before it: error, syntax (the tree),
// lex and parse (text to tree), select (compiled paths), eval (compiled
// expressions), compile (tree to compiled form).
mod compile;
mod error;
mod eval;
mod lex;
mod parse;
mod select;
mod syntax;
#[cfg(test)]
mod tests;

pub use error::ParseError;
pub use eval::Clause;

use select::CompiledPath;
use serde_json::Value;
use std::collections::BTreeSet;

/// A compiled expression. Cheap to evaluate, safe to share across threads.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    root: eval::Node,
    /// Each distinct path operand once, in order of appearance.
    paths: Vec<CompiledPath>,
    /// See `top_level_fields`.
    top_level_fields: Option<BTreeSet<String>>,
    /// See `key_prefixes`.
    key_prefixes: Option<Vec<Vec<String>>>,
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        let syn = parse::parse(src)?;
        let top_level_fields = syn.top_level_fields();
        let key_prefixes = syn.key_prefixes();
        let mut paths = Vec::new();
        let root = compile::compile(syn, &mut paths)?;
        Ok(Expr {
            source: src.to_string(),
            root,
            paths,
            top_level_fields,
            key_prefixes,
        })
    }

    pub fn eval(&self, obj: &Value) -> bool {
        self.root.eval(&self.paths, obj)
    }

    /// The source text of each path operand, in order, without duplicates.
    pub fn paths(&self) -> Vec<String> {
        self.paths.iter().map(|p| p.source().to_string()).collect()
    }

    /// For a lone path of keys and indices (`.spec.replicas`): puts
    /// `value` at it in `obj`, or removes what is there (`None`). False for
    /// any other expression.
    pub fn put(&self, obj: &mut Value, value: Option<Value>) -> bool {
        match self.paths.as_slice() {
            [path] if self.is_path() => path.put(obj, value),
            _ => false,
        }
    }

    /// Each path operand with the nodes it currently selects (for a status line).
    pub fn path_values<'v>(&self, obj: &'v Value) -> Vec<(&str, Vec<&'v Value>)> {
        self.paths
            .iter()
            .map(|p| (p.source(), p.select(obj)))
            .collect()
    }

    /// Each comparison, regex and existence test with what the object holds
    /// at its path, in order of appearance (for a wait that did not succeed).
    pub fn clauses(&self, obj: &Value) -> Vec<Clause> {
        let mut out = Vec::new();
        self.root.clauses(&self.paths, obj, &mut out);
        out
    }

    /// The top-level fields of an object the expression reads (`metadata`
    /// for `.metadata.labels['app']`), or `None` if it may read any part of
    /// it: a path that starts with `..`, `*`, an index or a filter, is `.`
    /// alone, has a filter that refers to the object with `$`, or may reach
    /// `metadata.managedFields`. What a watch parses of each object.
    pub fn top_level_fields(&self) -> Option<&BTreeSet<String>> {
        self.top_level_fields.as_ref()
    }

    /// For each path of the expression, its leading keys, below which it
    /// may read anything (`status`, `conditions` for
    /// `.status.conditions[?@.type=='Ready'].status`); `None` whenever
    /// `top_level_fields` is. What a watch parses of each object.
    pub fn key_prefixes(&self) -> Option<&[Vec<String>]> {
        self.key_prefixes.as_deref()
    }

    /// Whether the whole expression is one path (an existence test), as
    /// `--on-change`, `--for jsonpath=` and `-o jsonpath=` take.
    pub fn is_path(&self) -> bool {
        matches!(self.paths.as_slice(), [path] if path.source() == self.source.trim())
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}
