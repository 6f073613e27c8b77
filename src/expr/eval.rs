//! The compiled form of an expression and its evaluation against an object.
//! Nothing here allocates, except paths left to jsonpath-rust.

use super::select::CompiledPath;
use super::syntax::CmpOp;
use regex::Regex;
use serde_json::{Number, Value};
use std::cmp::Ordering;
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub(super) enum Node {
    Or(Box<[Node]>),
    And(Box<[Node]>),
    Not(Box<Node>),
    /// Index into the expression's path table.
    Exists(usize),
    Cmp(Term, CmpOp, Term),
    Match {
        path: usize,
        regex: Regex,
        negate: bool,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Term {
    Path(usize),
    Lit(Value),
}

impl Node {
    pub(super) fn eval(&self, paths: &[CompiledPath], obj: &Value) -> bool {
        match self {
            Node::Or(terms) => terms.iter().any(|t| t.eval(paths, obj)),
            Node::And(terms) => terms.iter().all(|t| t.eval(paths, obj)),
            Node::Not(inner) => !inner.eval(paths, obj),
            Node::Exists(p) => paths[*p].any(obj, |v| !v.is_null()),
            Node::Cmp(lhs, op, rhs) => match (lhs, rhs) {
                (Term::Path(p), Term::Lit(lit)) => paths[*p].any(obj, |v| compare(v, *op, lit)),
                (Term::Lit(lit), Term::Path(p)) => paths[*p].any(obj, |v| compare(lit, *op, v)),
                (Term::Path(a), Term::Path(b)) => {
                    let (a, b) = (&paths[*a], &paths[*b]);
                    if b.is_direct() {
                        a.any(obj, |x| b.any(obj, |y| compare(x, *op, y)))
                    } else {
                        let right = b.select(obj);
                        a.any(obj, |x| right.iter().any(|y| compare(x, *op, y)))
                    }
                }
                (Term::Lit(a), Term::Lit(b)) => compare(a, *op, b),
            },
            Node::Match {
                path,
                regex,
                negate,
            } => paths[*path].any(obj, |v| {
                with_scalar_text(v, |text| regex.is_match(text) != *negate).unwrap_or(false)
            }),
        }
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    match op {
        CmpOp::Eq => json_eq(a, b),
        CmpOp::Ne => !json_eq(a, b),
        CmpOp::Lt => order(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// JSON equality where numbers compare by value (`3 == 3.0`), recursively.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Numbers order numerically, strings by code point; nothing else is ordered.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Option<Ordering> {
    let int = |n: &Number| n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
    match (int(x), int(y)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

/// Calls `f` with the text a regex is matched against: a string as is, a
/// number or bool in its JSON form. Null, arrays and objects have none.
fn with_scalar_text<R>(v: &Value, f: impl FnOnce(&str) -> R) -> Option<R> {
    match v {
        Value::String(s) => Some(f(s)),
        Value::Bool(b) => Some(f(if *b { "true" } else { "false" })),
        Value::Number(n) => {
            let mut buf = StackText::default();
            if write!(buf, "{n}").is_ok() {
                Some(f(buf.as_str()))
            } else {
                Some(f(&n.to_string()))
            }
        }
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A number's text without a heap allocation.
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("written from &str")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// One comparison, regex or existence test of an expression, with what the
/// object holds at its path: the "why not" of a wait that did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The path the clause reads (the left one, for two paths).
    pub path: String,
    /// The values the path selects now (none: absent).
    pub seen: Vec<Value>,
    /// What it wants, as written: `== true`, `=~ "^Run"`, `exists`, `absent`.
    pub wants: String,
    /// Whether this clause holds on its own.
    pub holds: bool,
}

impl Node {
    /// The leaves of the expression in order of appearance, each judged on
    /// its own; a `!` in front flips what the leaf wants.
    pub(super) fn clauses(&self, paths: &[CompiledPath], obj: &Value, out: &mut Vec<Clause>) {
        self.clauses_negated(paths, obj, false, out);
    }

    fn clauses_negated(
        &self,
        paths: &[CompiledPath],
        obj: &Value,
        negated: bool,
        out: &mut Vec<Clause>,
    ) {
        let not = if negated { "not " } else { "" };
        let clause = |path: usize, wants: String| Clause {
            path: paths[path].source().to_string(),
            seen: paths[path].select(obj).into_iter().cloned().collect(),
            wants,
            holds: self.eval(paths, obj) != negated,
        };
        match self {
            Node::Or(terms) | Node::And(terms) => {
                for term in terms.iter() {
                    term.clauses_negated(paths, obj, negated, out);
                }
            }
            Node::Not(inner) => inner.clauses_negated(paths, obj, !negated, out),
            Node::Exists(p) => out.push(clause(
                *p,
                if negated { "absent" } else { "exists" }.to_string(),
            )),
            Node::Cmp(lhs, op, rhs) => match (lhs, rhs) {
                (Term::Path(p), Term::Lit(lit)) => {
                    out.push(clause(*p, format!("{not}{} {lit}", op.as_str())))
                }
                (Term::Lit(lit), Term::Path(p)) => {
                    out.push(clause(*p, format!("{not}{lit} {} it", op.as_str())))
                }
                (Term::Path(a), Term::Path(b)) => out.push(clause(
                    *a,
                    format!("{not}{} {}", op.as_str(), paths[*b].source()),
                )),
                (Term::Lit(_), Term::Lit(_)) => {}
            },
            Node::Match {
                path,
                regex,
                negate,
            } => {
                let op = if *negate { "!~" } else { "=~" };
                out.push(clause(*path, format!("{not}{op} {:?}", regex.as_str())))
            }
        }
    }
}
