//! Turns raw flags into what the program will do, validated before any
//! connection is made: targets split into type and name, expression compiled.

use std::time::Duration;

use crate::cli::{Args, ConnectionArgs};
use crate::exit::{Exit, Result};
use crate::expr::Expr;

/// An object named on the command line, its type not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub type_text: String,
    pub name: String,
}

#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<TargetSpec>,
    pub until: Expr,
    /// `None` waits for ever; `Some(ZERO)` checks once.
    pub timeout: Option<Duration>,
    pub quiet: bool,
    pub verbosity: u8,
    pub connection: ConnectionArgs,
    pub request_timeout: Option<Duration>,
}

impl Plan {
    pub fn from_args(args: Args) -> Result<Plan> {
        let targets = parse_targets(&args.targets)?;
        let Some(text) = args.until.as_deref() else {
            return Err(Exit::Usage(
                "nothing to wait for: pass --until EXPR, e.g. --until '.status.ready == true'"
                    .into(),
            ));
        };
        let until =
            Expr::parse(text).map_err(|e| Exit::Usage(format!("--until: {}", e.render(text))))?;
        let timeout = args
            .timeout
            .as_deref()
            .map(|t| parse_duration("--timeout", t))
            .transpose()?;
        let request_timeout = args
            .connection
            .request_timeout
            .as_deref()
            .map(|t| parse_duration("--request-timeout", t))
            .transpose()?
            .filter(|d| !d.is_zero());
        Ok(Plan {
            targets,
            until,
            timeout,
            quiet: args.quiet,
            verbosity: args.verbose,
            connection: args.connection,
            request_timeout,
        })
    }
}

/// `TYPE/NAME [TYPE/NAME ...]` or `TYPE NAME [NAME ...]`, as kubectl reads them.
pub fn parse_targets(args: &[String]) -> Result<Vec<TargetSpec>> {
    let Some(first) = args.first() else {
        return Err(Exit::Usage(
            "name the objects to watch: TYPE/NAME or TYPE NAME...".into(),
        ));
    };
    if first.contains('/') {
        return args.iter().map(|arg| parse_slash_form(arg)).collect();
    }
    let type_text = first.trim();
    if type_text.is_empty() {
        return Err(Exit::Usage(
            "the resource type is empty: write TYPE/NAME or TYPE NAME".into(),
        ));
    }
    let names = &args[1..];
    if names.is_empty() {
        return Err(Exit::Usage(format!(
            "name the {type_text} to watch: `{type_text} NAME` or `{type_text}/NAME`"
        )));
    }
    names
        .iter()
        .map(|name| {
            if name.contains('/') {
                return Err(Exit::Usage(format!(
                    "`{name}` mixes forms: after a TYPE argument give plain names, \
                     or write every target as TYPE/NAME"
                )));
            }
            Ok(TargetSpec {
                type_text: type_text.to_string(),
                name: check_name(name)?,
            })
        })
        .collect()
}

fn parse_slash_form(arg: &str) -> Result<TargetSpec> {
    let Some((type_text, name)) = arg.split_once('/') else {
        return Err(Exit::Usage(format!(
            "`{arg}` has no type: when one target is TYPE/NAME, write every target that way"
        )));
    };
    if type_text.is_empty() {
        return Err(Exit::Usage(format!(
            "`{arg}` has an empty type: write TYPE/NAME"
        )));
    }
    if name.contains('/') {
        return Err(Exit::Usage(format!(
            "`{arg}` has more than one `/`: write TYPE/NAME"
        )));
    }
    Ok(TargetSpec {
        type_text: type_text.to_string(),
        name: check_name(name)
            .map_err(|_| Exit::Usage(format!("`{arg}` has an empty name: write TYPE/NAME")))?,
    })
}

fn check_name(name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Exit::Usage("an object name is empty".into()));
    }
    Ok(name.to_string())
}

/// kubectl-style durations: `30s`, `5m`, `1h30m`, `250ms`, or `0`.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Exit::Usage(format!(
            "{flag} {text}: give a unit, e.g. {text}s or {text}m"
        )));
    }
    humantime::parse_duration(text).map_err(|e| {
        Exit::Usage(format!(
            "{flag} {text:?} is not a duration ({e}): use e.g. 30s, 5m, 1h30m"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(args: &[&str]) -> Result<Vec<TargetSpec>> {
        parse_targets(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn spec(t: &str, n: &str) -> TargetSpec {
        TargetSpec {
            type_text: t.into(),
            name: n.into(),
        }
    }

    #[test]
    fn slash_form_allows_different_types() {
        assert_eq!(
            specs(&["widgets/foo", "cm/bar"]).unwrap(),
            vec![spec("widgets", "foo"), spec("cm", "bar")]
        );
    }

    #[test]
    fn type_then_names() {
        assert_eq!(
            specs(&["wg", "foo", "bar"]).unwrap(),
            vec![spec("wg", "foo"), spec("wg", "bar")]
        );
    }

    #[test]
    fn malformed_targets_are_usage_errors() {
        for bad in [
            &["widgets/"][..],
            &["/foo"],
            &["widgets/foo", "bar"],
            &["widgets", "x/y"],
            &["widgets"],
            &["a/b/c"],
        ] {
            let err = specs(bad).unwrap_err();
            assert_eq!(err.code(), 2, "{bad:?}: {err}");
        }
        assert!(
            specs(&["widgets"])
                .unwrap_err()
                .to_string()
                .contains("widgets NAME")
        );
    }

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(parse_duration("--timeout", "0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("--timeout", "2m").unwrap(),
            Duration::from_secs(120)
        );
        assert_eq!(
            parse_duration("--timeout", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_duration("--timeout", "250ms").unwrap(),
            Duration::from_millis(250)
        );
        let err = parse_duration("--timeout", "30").unwrap_err().to_string();
        assert!(err.contains("30s"), "{err}");
        let err = parse_duration("--timeout", "soon").unwrap_err().to_string();
        assert!(err.contains("--timeout") && err.contains("5m"), "{err}");
    }
}
