//! The part of a path after its leading keys, evaluated in place for the
//! shapes conditions use: wildcards and filters that compare or match single values.
//!
//! jsonpath-rust builds a path string for every node it visits, a `Value`
//! for every literal, and compiles a filter's regex for every item: on four
//! conditions a kubectl-style filter took 1.5 µs, 75 µs with a regex. Here
//! nothing allocates and regexes are compiled once: 0.1–0.2 µs
//! (`cargo bench --bench expr`). Anything else (slices, `..`, unions, filter
//! functions) stays with jsonpath-rust; tests check the two select the same
//! nodes, quirks included: these are jsonpath-rust's semantics, not ours.

use super::lexer::CmpOp;
use super::parser::{Operand, Syn};
use super::path::{PathSyntax, Root, Segment, Selector, Step, step};
use regex::Regex;
use serde_json::Value;

/// Single-selector segments, applied in turn.
#[derive(Debug, Clone)]
pub(super) struct Query(Box<[Select]>);

#[derive(Debug, Clone)]
enum Select {
    Step(Step),
    Wildcard,
    Filter(Test),
}

/// A filter's logical expression.
#[derive(Debug, Clone)]
enum Test {
    Or(Box<[Test]>),
    And(Box<[Test]>),
    Not(Box<Test>),
    Exists(Singular),
    Cmp(Comparable, CmpOp, Comparable),
    /// RFC 9535 `search()`: an unanchored match of a string.
    Search(Singular, Regex),
}

#[derive(Debug, Clone)]
enum Comparable {
    Path(Singular),
    Lit(Value),
}

/// A path to at most one value, from the current item (`@`) or the object (`$`).
#[derive(Debug, Clone)]
struct Singular {
    from_root: bool,
    steps: Box<[Step]>,
}

impl Query {
    /// The segments as a `Query`, or `None` if jsonpath-rust must evaluate them.
    pub(super) fn compile(segments: &[Segment]) -> Option<Query> {
        let selects = segments.iter().map(|segment| match segment {
            Segment::Child(sels) => match sels.as_slice() {
                [Selector::Name(name)] => Some(Select::Step(Step::Key(name.clone()))),
                [Selector::Index(i)] => Some(Select::Step(Step::Index(*i))),
                [Selector::Wildcard] => Some(Select::Wildcard),
                [Selector::Filter(syn)] => Test::compile(syn).map(Select::Filter),
                _ => None,
            },
            Segment::Descendant(_) => None,
        });
        selects.collect::<Option<_>>().map(Query)
    }

    /// Whether `f` holds for any node selected from `node`, in document
    /// order; `root` is what `$` means in filters.
    pub(super) fn any<'v>(
        &self,
        node: &'v Value,
        root: &Value,
        f: &mut dyn FnMut(&'v Value) -> bool,
    ) -> bool {
        visit(&self.0, node, root, f)
    }
}

fn visit<'v>(
    selects: &[Select],
    node: &'v Value,
    root: &Value,
    f: &mut dyn FnMut(&'v Value) -> bool,
) -> bool {
    let Some((select, rest)) = selects.split_first() else {
        return f(node);
    };
    match select {
        Select::Step(s) => step(s, node).is_some_and(|child| visit(rest, child, root, f)),
        Select::Wildcard => any_child(node, |child| visit(rest, child, root, f)),
        Select::Filter(test) => any_child(node, |child| {
            test.holds(child, root) && visit(rest, child, root, f)
        }),
    }
}

/// An array's items or an object's member values; scalars have none.
fn any_child<'v>(node: &'v Value, f: impl FnMut(&'v Value) -> bool) -> bool {
    match node {
        Value::Array(items) => items.iter().any(f),
        Value::Object(members) => members.values().any(f),
        _ => false,
    }
}

impl Test {
    fn compile(syn: &Syn) -> Option<Test> {
        let all = |terms: &[Syn]| terms.iter().map(Test::compile).collect::<Option<_>>();
        Some(match syn {
            Syn::Or(terms) => Test::Or(all(terms)?),
            Syn::And(terms) => Test::And(all(terms)?),
            Syn::Not(inner) => Test::Not(Box::new(Test::compile(inner)?)),
            Syn::Operand(Operand::Path(path)) => Test::Exists(Singular::compile(path)?),
            Syn::Operand(_) => return None,
            Syn::Cmp(lhs, op, rhs) => {
                Test::Cmp(Comparable::compile(lhs)?, *op, Comparable::compile(rhs)?)
            }
            Syn::Regex {
                path,
                negate,
                pattern,
                ..
            } => {
                let search = Test::Search(
                    Singular::compile(path)?,
                    Regex::new(&iregexp(pattern)).ok()?,
                );
                if *negate {
                    Test::Not(Box::new(search))
                } else {
                    search
                }
            }
        })
    }

    fn holds(&self, item: &Value, root: &Value) -> bool {
        match self {
            Test::Or(terms) => terms.iter().any(|t| t.holds(item, root)),
            Test::And(terms) => terms.iter().all(|t| t.holds(item, root)),
            Test::Not(inner) => !inner.holds(item, root),
            // A node exists even if it is null (RFC 9535 2.3.5.2).
            Test::Exists(path) => path.lookup(item, root).is_some(),
            Test::Cmp(lhs, op, rhs) => {
                let (a, b) = (lhs.value(item, root), rhs.value(item, root));
                match op {
                    CmpOp::Eq => eq(a, b),
                    CmpOp::Ne => !eq(a, b),
                    CmpOp::Lt => lt(a, b),
                    CmpOp::Le => lt(a, b) || eq(a, b),
                    CmpOp::Gt => lt(b, a),
                    CmpOp::Ge => lt(b, a) || eq(a, b),
                }
            }
            Test::Search(path, regex) => path
                .lookup(item, root)
                .and_then(Value::as_str)
                .is_some_and(|text| regex.is_match(text)),
        }
    }
}

/// Equality as jsonpath-rust has it: numbers as `f64` within an epsilon,
/// anything else strictly; two missing values are equal.
fn eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() < f64::EPSILON,
            _ => x == y,
        },
        (Some(x), Some(y)) => x == y,
        (None, None) => true,
        _ => false,
    }
}

/// Numbers as `f64`, strings by code point; nothing else is ordered.
fn lt(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if x < y)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x < y,
        _ => false,
    }
}

impl Comparable {
    fn compile(operand: &Operand) -> Option<Comparable> {
        match operand {
            Operand::Path(path) => Singular::compile(path).map(Comparable::Path),
            Operand::Lit(value) => Some(Comparable::Lit(value.clone())),
            Operand::Call(..) => None,
        }
    }

    fn value<'v>(&'v self, item: &'v Value, root: &'v Value) -> Option<&'v Value> {
        match self {
            Comparable::Path(path) => path.lookup(item, root),
            Comparable::Lit(value) => Some(value),
        }
    }
}

impl Singular {
    fn compile(path: &PathSyntax) -> Option<Singular> {
        let steps = path.segments.iter().map(|segment| match segment {
            Segment::Child(sels) => match sels.as_slice() {
                [Selector::Name(name)] => Some(Step::Key(name.clone())),
                [Selector::Index(i)] => Some(Step::Index(*i)),
                _ => None,
            },
            Segment::Descendant(_) => None,
        });
        Some(Singular {
            from_root: path.root == Root::Dollar,
            steps: steps.collect::<Option<_>>()?,
        })
    }

    fn lookup<'v>(&self, item: &'v Value, root: &'v Value) -> Option<&'v Value> {
        let start = if self.from_root { root } else { item };
        self.steps.iter().try_fold(start, |node, s| step(s, node))
    }
}

/// An RFC 9485 I-Regexp in `regex` syntax, translated as jsonpath-rust does
/// for `search()`: `.` outside a class matches neither `\n` nor `\r`.
fn iregexp(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                out.extend(chars.next());
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '.' if !in_class => out.push_str(r"[^\n\r]"),
            _ => out.push(c),
        }
    }
    out
}
