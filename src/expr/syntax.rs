//! The syntax tree of an expression as written, before compilation, and the
//! questions answered from it alone: RFC 9535 text, singular paths, fields read.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;

#[derive(Debug, Clone)]
pub(super) enum Syn {
    Or(Vec<Syn>),
    And(Vec<Syn>),
    Not(Box<Syn>),
    /// A lone path (existence test) or function call.
    Operand(Operand),
    Cmp(Operand, CmpOp, Operand),
    Regex {
        path: PathSyntax,
        negate: bool,
        pattern: String,
        /// 0-based character index of the regex literal.
        at: usize,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Operand {
    Path(PathSyntax),
    Lit(Value),
    Call(String, Vec<Syn>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

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

impl PathSyntax {
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

    /// Whether the path refers to the object (`$`), itself or in a filter.
    pub(super) fn mentions_root(&self) -> bool {
        self.root == Root::Dollar || self.segments.iter().any(Segment::mentions_root)
    }

    /// The top-level field of the object this path reads within, or `None`
    /// if it may read anything: its first step is not a key (`.` alone,
    /// `..`, `*`, `[0]`, a filter), a filter in it refers to the object with
    /// `$`, or it may read `metadata.managedFields`. Only for paths of the
    /// whole expression, not `@` paths inside a filter.
    pub(super) fn top_level_field(&self) -> Option<&str> {
        if self.segments.iter().any(Segment::mentions_root) {
            return None;
        }
        let mut keys = self.segments.iter().map(|segment| match segment {
            Segment::Child(sels) => match sels.as_slice() {
                [Selector::Name(name)] => Some(name.as_str()),
                _ => None,
            },
            Segment::Descendant(_) => None,
        });
        let field = keys.next()??;
        // A projection drops managedFields, so a path that may reach them
        // (`.metadata`, `.metadata.*`, `.metadata..x`) needs the whole object.
        if field == "metadata" && !matches!(keys.next(), Some(Some(key)) if key != "managedFields")
        {
            return None;
        }
        Some(field)
    }
}

impl PathSyntax {
    /// The leading keys of this path, below which it may read anything
    /// (`status`, `conditions` for `.status.conditions[?@.type=='Ready']`),
    /// or `None` if it may read anything at all (see `top_level_field`).
    pub(super) fn key_prefix(&self) -> Option<Vec<String>> {
        self.top_level_field()?;
        let prefix = self
            .segments
            .iter()
            .map_while(|segment| match segment {
                Segment::Child(sels) => match sels.as_slice() {
                    [Selector::Name(name)] => Some(name.clone()),
                    _ => None,
                },
                Segment::Descendant(_) => None,
            })
            .collect();
        Some(prefix)
    }
}

impl Segment {
    /// Whether a filter in this segment refers to the object (`$`).
    pub(super) fn mentions_root(&self) -> bool {
        let (Segment::Child(sels) | Segment::Descendant(sels)) = self;
        sels.iter()
            .any(|sel| matches!(sel, Selector::Filter(syn) if syn.mentions_root()))
    }
}

impl Syn {
    /// Whether a filter refers to the object (`$`) rather than only to `@`.
    pub(super) fn mentions_root(&self) -> bool {
        match self {
            Syn::Or(terms) | Syn::And(terms) => terms.iter().any(Syn::mentions_root),
            Syn::Not(inner) => inner.mentions_root(),
            Syn::Operand(operand) => operand.mentions_root(),
            Syn::Cmp(lhs, _, rhs) => lhs.mentions_root() || rhs.mentions_root(),
            Syn::Regex { path, .. } => path.mentions_root(),
        }
    }

    /// The top-level fields of the object a whole expression reads, or `None`
    /// if it may read anything (see `PathSyntax::top_level_field`).
    pub(super) fn top_level_fields(&self) -> Option<BTreeSet<String>> {
        let mut fields = BTreeSet::new();
        self.add_top_level_fields(&mut fields)?;
        Some(fields)
    }

    fn add_top_level_fields(&self, fields: &mut BTreeSet<String>) -> Option<()> {
        let mut add = |path: &PathSyntax| {
            fields.insert(path.top_level_field()?.to_string());
            Some(())
        };
        match self {
            Syn::Or(terms) | Syn::And(terms) => terms
                .iter()
                .try_for_each(|term| term.add_top_level_fields(fields)),
            Syn::Not(inner) => inner.add_top_level_fields(fields),
            Syn::Operand(operand) => operand.path().map_or(Some(()), add),
            Syn::Cmp(lhs, _, rhs) => {
                for operand in [lhs, rhs] {
                    if let Some(path) = operand.path() {
                        add(path)?;
                    }
                }
                Some(())
            }
            Syn::Regex { path, .. } => add(path),
        }
    }

    /// The key prefixes of the object a whole expression reads, one per
    /// path (see `PathSyntax::key_prefix`), or `None` if it may read
    /// anything. The arguments of a function call count as read.
    pub(super) fn key_prefixes(&self) -> Option<Vec<Vec<String>>> {
        let mut prefixes = Vec::new();
        self.add_key_prefixes(&mut prefixes)?;
        Some(prefixes)
    }

    fn add_key_prefixes(&self, prefixes: &mut Vec<Vec<String>>) -> Option<()> {
        let operand = |operand: &Operand, prefixes: &mut Vec<Vec<String>>| match operand {
            Operand::Path(path) => {
                prefixes.push(path.key_prefix()?);
                Some(())
            }
            Operand::Lit(_) => Some(()),
            Operand::Call(_, args) => args
                .iter()
                .try_for_each(|arg| arg.add_key_prefixes(prefixes)),
        };
        match self {
            Syn::Or(terms) | Syn::And(terms) => terms
                .iter()
                .try_for_each(|term| term.add_key_prefixes(prefixes)),
            Syn::Not(inner) => inner.add_key_prefixes(prefixes),
            Syn::Operand(o) => operand(o, prefixes),
            Syn::Cmp(lhs, _, rhs) => {
                operand(lhs, prefixes)?;
                operand(rhs, prefixes)
            }
            Syn::Regex { path, .. } => {
                prefixes.push(path.key_prefix()?);
                Some(())
            }
        }
    }

    /// Renders a filter as RFC 9535 filter text.
    pub(super) fn write_rfc(&self, out: &mut String) {
        let group = |syn: &Syn, out: &mut String| {
            if matches!(syn, Syn::Or(_) | Syn::And(_)) {
                out.push('(');
                syn.write_rfc(out);
                out.push(')');
            } else {
                syn.write_rfc(out);
            }
        };
        match self {
            Syn::Or(terms) | Syn::And(terms) => {
                let sep = if matches!(self, Syn::Or(_)) {
                    " || "
                } else {
                    " && "
                };
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    group(term, out);
                }
            }
            Syn::Not(inner) => {
                out.push('!');
                if matches!(**inner, Syn::Operand(Operand::Path(_) | Operand::Call(..))) {
                    inner.write_rfc(out);
                } else {
                    out.push('(');
                    inner.write_rfc(out);
                    out.push(')');
                }
            }
            Syn::Operand(operand) => operand.write_rfc(out),
            Syn::Cmp(lhs, op, rhs) => {
                lhs.write_rfc(out);
                let _ = write!(out, " {} ", op.as_str());
                rhs.write_rfc(out);
            }
            // RFC 9535 has no regex operator; `search` is an unanchored match.
            Syn::Regex {
                path,
                negate,
                pattern,
                ..
            } => {
                if *negate {
                    out.push('!');
                }
                out.push_str("search(");
                path.write_rfc(out);
                out.push_str(", ");
                write_rfc_string(pattern, out);
                out.push(')');
            }
        }
    }
}

impl Operand {
    fn path(&self) -> Option<&PathSyntax> {
        match self {
            Operand::Path(path) => Some(path),
            Operand::Lit(_) | Operand::Call(..) => None,
        }
    }

    fn mentions_root(&self) -> bool {
        match self {
            Operand::Path(path) => path.mentions_root(),
            Operand::Lit(_) => false,
            Operand::Call(_, args) => args.iter().any(Syn::mentions_root),
        }
    }

    fn write_rfc(&self, out: &mut String) {
        match self {
            Operand::Path(path) => path.write_rfc(out),
            Operand::Lit(Value::String(s)) => write_rfc_string(s, out),
            Operand::Lit(value) => {
                let _ = write!(out, "{value}");
            }
            Operand::Call(name, args) => {
                out.push_str(name);
                out.push('(');
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    arg.write_rfc(out);
                }
                out.push(')');
            }
        }
    }
}

/// A single-quoted RFC 9535 string literal.
pub(super) fn write_rfc_string(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}
