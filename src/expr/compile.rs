//! Compilation: the syntax tree becomes evaluation nodes, each distinct path
//! and regex compiled once, each path split into direct lookups and the rest.

use super::error::ParseError;
use super::eval::{Node, Term};
use super::select::{Comparable, CompiledPath, Query, Rest, Select, Singular, Step, Test};
use super::syntax::{Operand, PathSyntax, Root, Segment, Selector, Syn};
use jsonpath_rust::parser::parse_json_path;
use regex::Regex;

/// Turns the syntax tree into nodes, compiling each distinct path and regex once.
pub(super) fn compile(syn: Syn, paths: &mut Vec<CompiledPath>) -> Result<Node, ParseError> {
    let mut intern = |path: &PathSyntax| -> Result<usize, ParseError> {
        if let Some(i) = paths.iter().position(|p| p.source() == path.text) {
            return Ok(i);
        }
        paths.push(compile_path(path)?);
        Ok(paths.len() - 1)
    };
    compile_with(syn, &mut intern)
}

type Intern<'a> = dyn FnMut(&PathSyntax) -> Result<usize, ParseError> + 'a;

fn compile_with(syn: Syn, intern: &mut Intern<'_>) -> Result<Node, ParseError> {
    let mut all = |terms: Vec<Syn>| -> Result<Box<[Node]>, ParseError> {
        terms.into_iter().map(|t| compile_with(t, intern)).collect()
    };
    Ok(match syn {
        Syn::Or(terms) => Node::Or(all(terms)?),
        Syn::And(terms) => Node::And(all(terms)?),
        Syn::Not(inner) => Node::Not(Box::new(compile_with(*inner, intern)?)),
        Syn::Operand(Operand::Path(path)) => Node::Exists(intern(&path)?),
        Syn::Cmp(lhs, op, rhs) => {
            let mut term = |operand: Operand| match operand {
                Operand::Path(path) => intern(&path).map(Term::Path),
                Operand::Lit(value) => Ok(Term::Lit(value)),
                Operand::Call(..) => unreachable!("function calls only parse inside filters"),
            };
            Node::Cmp(term(lhs)?, op, term(rhs)?)
        }
        Syn::Regex {
            path,
            negate,
            pattern,
            at,
        } => Node::Match {
            path: intern(&path)?,
            regex: Regex::new(&pattern).map_err(|e| ParseError::invalid_regex(at, &e))?,
            negate,
        },
        Syn::Operand(_) => {
            unreachable!("the parser rejects lone literals and calls at the top level")
        }
    })
}

/// A path for evaluation: its leading keys and indices for direct lookup, the
/// rest for in-place evaluation or, failing that, jsonpath-rust.
fn compile_path(path: &PathSyntax) -> Result<CompiledPath, ParseError> {
    let query = path.to_rfc();
    let (direct, rest) = split_direct(path);
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
            match compile_query(&rest.segments) {
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
        direct: direct.into_boxed_slice(),
        rest,
    })
}

/// Splits the path into leading keys/indices, looked up directly, and the
/// rest (from the first wildcard, filter, slice or `..`), if any, as a
/// `$`-rooted query. The rest is evaluated against the node the leading
/// steps reach, which is cheaper than a query from the top — unless a
/// filter in it refers to the object with `$`.
fn split_direct(path: &PathSyntax) -> (Vec<Step>, Option<PathSyntax>) {
    let steps: Vec<Step> = path.segments.iter().map_while(direct_step).collect();
    if steps.len() == path.segments.len() {
        return (steps, None);
    }
    let rest = &path.segments[steps.len()..];
    let (steps, rest) = if rest.iter().any(Segment::mentions_root) {
        (Vec::new(), path.segments.clone())
    } else {
        (steps, rest.to_vec())
    };
    let rest = PathSyntax {
        root: Root::Dollar,
        segments: rest,
        text: String::new(),
        start: path.start,
    };
    (steps, Some(rest))
}

/// A segment that is one key or one index, as a step looked up directly.
fn direct_step(segment: &Segment) -> Option<Step> {
    match segment {
        Segment::Child(sels) => match sels.as_slice() {
            [Selector::Name(name)] => Some(Step::Key(name.clone())),
            [Selector::Index(i)] => Some(Step::Index(*i)),
            _ => None,
        },
        Segment::Descendant(_) => None,
    }
}

/// The segments as a `Query`, or `None` if jsonpath-rust must evaluate them.
fn compile_query(segments: &[Segment]) -> Option<Query> {
    let selects = segments.iter().map(|segment| {
        if let Some(step) = direct_step(segment) {
            return Some(Select::Step(step));
        }
        match segment {
            Segment::Child(sels) => match sels.as_slice() {
                [Selector::Wildcard] => Some(Select::Wildcard),
                [Selector::Filter(syn)] => compile_test(syn).map(Select::Filter),
                _ => None,
            },
            Segment::Descendant(_) => None,
        }
    });
    selects.collect::<Option<_>>().map(Query)
}

/// A filter evaluated in place, or `None` if jsonpath-rust must evaluate it.
fn compile_test(syn: &Syn) -> Option<Test> {
    let all = |terms: &[Syn]| terms.iter().map(compile_test).collect::<Option<_>>();
    Some(match syn {
        Syn::Or(terms) => Test::Or(all(terms)?),
        Syn::And(terms) => Test::And(all(terms)?),
        Syn::Not(inner) => Test::Not(Box::new(compile_test(inner)?)),
        Syn::Operand(Operand::Path(path)) => Test::Exists(compile_singular(path)?),
        Syn::Operand(_) => return None,
        Syn::Cmp(lhs, op, rhs) => {
            Test::Cmp(compile_comparable(lhs)?, *op, compile_comparable(rhs)?)
        }
        Syn::Regex {
            path,
            negate,
            pattern,
            ..
        } => {
            let search = Test::Search(compile_singular(path)?, Regex::new(&iregexp(pattern)).ok()?);
            if *negate {
                Test::Not(Box::new(search))
            } else {
                search
            }
        }
    })
}

fn compile_comparable(operand: &Operand) -> Option<Comparable> {
    match operand {
        Operand::Path(path) => compile_singular(path).map(Comparable::Path),
        Operand::Lit(value) => Some(Comparable::Lit(value.clone())),
        Operand::Call(..) => None,
    }
}

fn compile_singular(path: &PathSyntax) -> Option<Singular> {
    Some(Singular {
        from_root: path.root == Root::Dollar,
        steps: path
            .segments
            .iter()
            .map(direct_step)
            .collect::<Option<_>>()?,
    })
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
