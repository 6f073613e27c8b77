//! A path in kubectl's JSONPath template spelling (`-o jsonpath=`, `--for
//! jsonpath=`), rewritten into the expression language's path syntax.
//!
//! kubectl reads a key after `.` up to the next unescaped `.`, `[`, `]`, `,`,
//! `$`, `@`, `{`, `}` or space, and drops the `\` of an escape, so
//! `.metadata.labels.a\.b/c` and `.metadata.labels.app-name` are plain keys
//! to it. Our paths take only letters, digits and `_` bare; any other key
//! becomes a bracketed, quoted key (`.metadata.labels['a.b/c']`). What sits
//! in brackets (indexes, filters) is already the same in both and is kept.

/// The characters of a template outside quoted text, each with how deep it
/// sits in brackets (`{`, `[`, `(`; a closing one counts at the depth it
/// closes to), so a caller finds the `}` or `=` that ends a part.
pub fn unquoted(text: &str) -> impl Iterator<Item = (usize, char, i32)> + '_ {
    let (mut depth, mut quote) = (0i32, None);
    text.char_indices().filter_map(move |(at, c)| {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{' | '[' | '(') => depth += 1,
            (None, '}' | ']' | ')') => {
                depth -= 1;
                return Some((at, c, depth));
            }
            _ => return Some((at, c, depth)),
        }
        None
    })
}

/// The expression-language path for kubectl's template path `inner` (the
/// text between `{` and `}`), relaxed as kubectl is: a path without a
/// leading `.` or `$` starts at the object.
pub fn to_expr_path(inner: &str) -> String {
    let inner = inner.trim();
    let mut out = String::with_capacity(inner.len() + 4);
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    if inner.starts_with('$') {
        out.push('$');
        i = 1;
    } else if !inner.is_empty() && !inner.starts_with('.') {
        // A relaxed path (`status.phase`) starts with a key, as after a `.`.
        i = push_key(&chars, 0, &mut out, (".", ".["));
    }
    while i < chars.len() {
        match chars[i] {
            '[' => i = copy_brackets(&chars, i, &mut out),
            '.' if chars.get(i + 1) == Some(&'.') => {
                i = push_key(&chars, i + 2, &mut out, ("..", "..["))
            }
            // A bracket needs a path before it: `.['a.b']` at the start.
            '.' if out.is_empty() || out == "$" => {
                i = push_key(&chars, i + 1, &mut out, (".", ".["))
            }
            '.' => i = push_key(&chars, i + 1, &mut out, (".", "[")),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Reads the key starting at `start` and writes it, after `lead.0` when it
/// is bare or as `lead.1'key']` when it must be quoted; returns where the
/// key ends. An empty key writes only `lead.0`, for the parser to judge
/// (`.[0]`, a trailing `.`).
fn push_key(chars: &[char], start: usize, out: &mut String, lead: (&str, &str)) -> usize {
    let mut key = String::new();
    let mut escaped = false;
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        if c == '\\' && i + 1 < chars.len() {
            key.push(chars[i + 1]);
            escaped = true;
            i += 2;
            continue;
        }
        if c.is_whitespace() || ".,[]$@{}".contains(c) {
            break;
        }
        key.push(c);
        i += 1;
    }
    let bare = !escaped && (key == "*" || key.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if bare {
        out.push_str(lead.0);
        out.push_str(&key);
    } else {
        out.push_str(lead.1);
        out.push('\'');
        for c in key.chars() {
            if matches!(c, '\'' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push_str("']");
    }
    i
}

/// Copies `[...]` as written, up to its matching `]` (nested brackets and
/// quoted text included); returns the index after it.
fn copy_brackets(chars: &[char], start: usize, out: &mut String) -> usize {
    let (mut depth, mut quote) = (0usize, None);
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        out.push(c);
        i += 1;
        match (quote, c) {
            (Some(_), '\\') => {
                if let Some(&next) = chars.get(i) {
                    out.push(next);
                    i += 1;
                }
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_as_they_are() {
        for path in [
            ".status.phase",
            "$.status.phase",
            ".status.conditions[?(@.type==\"Ready\")].status",
            ".items[*].v",
            ".items[0]",
            ".spec..image",
            ".metadata.labels['app.kubernetes.io/name']",
            ".status.*",
        ] {
            assert_eq!(to_expr_path(path), path);
        }
    }

    #[test]
    fn relaxed_paths_start_at_the_object() {
        assert_eq!(to_expr_path("status.phase"), ".status.phase");
        assert_eq!(to_expr_path(" status.phase "), ".status.phase");
        assert_eq!(
            to_expr_path("metadata.labels.a\\.b"),
            ".metadata.labels['a.b']"
        );
        assert_eq!(to_expr_path("a\\.b.c"), ".['a.b'].c");
        assert_eq!(to_expr_path(".a\\.b.c"), ".['a.b'].c");
        assert_eq!(to_expr_path("$.a\\.b"), "$.['a.b']");
    }

    #[test]
    fn keys_kubectl_reads_whole_become_bracketed_keys() {
        for (kubectl, ours) in [
            (".metadata.labels.a\\.b/c", ".metadata.labels['a.b/c']"),
            (
                ".metadata.labels.new\\.label/x",
                ".metadata.labels['new.label/x']",
            ),
            (".metadata.labels.app-name", ".metadata.labels['app-name']"),
            (
                ".metadata.annotations.kubernetes\\.io/change-cause",
                ".metadata.annotations['kubernetes.io/change-cause']",
            ),
            ("$.metadata.labels.a\\.b", "$.metadata.labels['a.b']"),
            (".data.it\\'s", ".data['it\\'s']"),
            (".spec..a\\.b", ".spec..['a.b']"),
            (
                ".items[0].metadata.labels.a\\.b",
                ".items[0].metadata.labels['a.b']",
            ),
        ] {
            assert_eq!(to_expr_path(kubectl), ours, "{kubectl}");
        }
    }
}
