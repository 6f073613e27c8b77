//! Suggestions for a type the server does not know: the closest known names by edit
//! distance, and the same name in another group.

use super::{ResolveError, TypeQuery, group_ranks};
use crate::discovery::{ApiType, qualify};

/// An `Unknown` error with the closest known types, by edit distance.
pub(super) fn unknown(types: &[ApiType], q: &TypeQuery) -> ResolveError {
    let query = q.text.to_lowercase();
    // Measured on the name alone, so a long group does not make everything "close"; and
    // short names are short: within 2 edits, `foo` would be close to `po` and `no`.
    let limit = match q.name.chars().count() {
        0 | 1 => 0,
        2..=4 => 1,
        n => (n / 3).max(2),
    };
    let ranks = group_ranks(types);
    // (distance, group rank, qualified name)
    let mut scored: Vec<(usize, usize, String)> = Vec::new();
    for t in types {
        let qualified = t.qualified();
        if scored.iter().any(|(_, _, s)| *s == qualified) {
            continue;
        }
        let names = [&t.plural, &t.singular, &t.kind]
            .into_iter()
            .chain(&t.short_names);
        let mut best = usize::MAX;
        let mut same_name = false;
        for n in names {
            let n = n.to_lowercase();
            if q.group.is_none() {
                best = best.min(levenshtein(&query, &n));
            } else {
                // A qualified query is compared with qualified forms; a right name in the
                // wrong group is always worth suggesting.
                same_name |= n == q.name;
                best = best.min(levenshtein(&query, &qualify(&n, &t.group)));
                if !t.group.is_empty() {
                    let versioned = format!("{n}.{}.{}", t.version, t.group);
                    best = best.min(levenshtein(&query, &versioned));
                }
            }
        }
        if best <= limit || same_name {
            scored.push((best, ranks[t.group.as_str()], qualified));
        }
    }
    scored.sort();
    ResolveError::Unknown {
        query: q.text.clone(),
        suggestions: scored.into_iter().take(3).map(|(_, _, s)| s).collect(),
    }
}

/// Edit distance (insertions, deletions, substitutions), by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("widgte", "widget"), 2);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
