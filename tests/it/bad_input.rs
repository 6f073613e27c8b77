//! Bad input, one table a reader can scan: what the user typed or what the
//! cluster said, the exit code (SPEC §7), and words the one-line message must
//! hold so the user knows what to do. Never a panic, never a backtrace.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Output;

use serde_json::json;

use crate::common::*;

/// How a case runs besides its arguments.
#[derive(Clone, Copy, PartialEq)]
enum Env {
    /// The scenario's kubeconfig.
    Normal,
    /// No KUBECONFIG and no ~/.kube/config.
    NoKubeconfig,
    /// As in a pod without a mounted service account.
    InPod,
    /// Against a TLS server whose CA is not the one given.
    WrongCa,
}

struct Case {
    what: &'static str,
    args: &'static [&'static str],
    env: Env,
    code: i32,
    /// Words the message must contain.
    says: &'static [&'static str],
    /// Rejected before any request reaches the server.
    offline: bool,
}

const fn case(
    what: &'static str,
    args: &'static [&'static str],
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case {
        what,
        args,
        env: Env::Normal,
        code,
        says,
        offline: false,
    }
}

const fn offline(
    what: &'static str,
    args: &'static [&'static str],
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case {
        what,
        args,
        env: Env::Normal,
        code,
        says,
        offline: true,
    }
}

const CASES: &[Case] = &[
    // Expressions (before any connection).
    offline(
        "single =",
        &["widgets/foo", "--until", ".status.ready = true"],
        2,
        &["==", "column 15"],
    ),
    offline(
        "and instead of &&",
        &["widgets/foo", "--until", ".a == 1 and .b == 2"],
        2,
        &["&&"],
    ),
    offline(
        "or instead of ||",
        &["widgets/foo", "--until", ".a == 1 or .b == 2"],
        2,
        &["||"],
    ),
    offline(
        "unquoted key with -",
        &["widgets/foo", "--until", ".metadata.labels.app-name == x"],
        2,
        &["['app-name']"],
    ),
    offline(
        "path without a dot",
        &["widgets/foo", "--until", "status.ready == true"],
        2,
        &[".status.ready"],
    ),
    offline(
        "unbalanced parenthesis",
        &["widgets/foo", "--until", "(.a == 1"],
        2,
        &["column"],
    ),
    offline(
        "unterminated string",
        &["widgets/foo", "--until", ".a == 'x"],
        2,
        &["column"],
    ),
    offline(
        "bad regex",
        &["widgets/foo", "--until", ".a =~ '(['"],
        2,
        &["regex"],
    ),
    offline(
        "empty expression",
        &["widgets/foo", "--until", ""],
        2,
        &["empty"],
    ),
    offline(
        "trailing garbage",
        &["widgets/foo", "--until", ".a == 1 )"],
        2,
        &["column"],
    ),
    offline(
        "bad --fail-if",
        &["widgets/foo", "--until", READY, "--fail-if", ".a >"],
        2,
        &["--fail-if"],
    ),
    offline(
        "bad --when",
        &["widgets/foo", "--when", ".a ==="],
        2,
        &["--when"],
    ),
    // Durations.
    offline(
        "timeout without a unit",
        &["widgets/foo", "--until", READY, "--timeout", "30"],
        2,
        &["30s"],
    ),
    offline(
        "timeout not a duration",
        &["widgets/foo", "--until", READY, "--timeout", "soon"],
        2,
        &["--timeout", "5m"],
    ),
    offline(
        "negative timeout",
        &["widgets/foo", "--until", READY, "--timeout=-5s"],
        2,
        &["--timeout"],
    ),
    offline(
        "bad exec timeout",
        &["widgets/foo", "--exec-timeout", "x", "--", "true"],
        2,
        &["--exec-timeout"],
    ),
    offline(
        "bad request timeout",
        &["widgets/foo", "--until", READY, "--request-timeout", "x"],
        2,
        &["--request-timeout"],
    ),
    // --hold and --throttle.
    offline(
        "throttle not a duration",
        &["widgets/foo", "--throttle", "often"],
        2,
        &["--throttle", "not a duration"],
    ),
    offline(
        "hold without a unit",
        &["widgets/foo", "--until", READY, "--hold", "30"],
        2,
        &["--hold", "30s"],
    ),
    offline(
        "zero throttle",
        &["widgets/foo", "--throttle", "0"],
        2,
        &["--throttle", "above zero"],
    ),
    offline(
        "zero hold",
        &["widgets/foo", "--until", READY, "--hold", "0s"],
        2,
        &["--hold", "above zero"],
    ),
    offline(
        "absurd throttle",
        &["widgets/foo", "--throttle", "9300000000000000000s"],
        2,
        &["--throttle", "too long"],
    ),
    offline(
        "absurd hold",
        &[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "99999999999999999999999h",
        ],
        2,
        &["--hold"],
    ),
    offline(
        "throttle in wait mode",
        &["widgets/foo", "--until", READY, "--throttle", "30s"],
        2,
        &["--throttle", "notify mode"],
    ),
    offline(
        "hold with nothing to hold",
        &["widgets/foo", "--hold", "30s"],
        2,
        &["--hold", "--when"],
    ),
    offline(
        "hold as long as the timeout",
        &[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "1m",
            "--timeout",
            "60s",
        ],
        2,
        &["--hold", "--timeout"],
    ),
    offline(
        "hold with a check once",
        &[
            "widgets/foo",
            "--when",
            READY,
            "--hold",
            "1s",
            "--timeout",
            "0",
        ],
        2,
        &["--hold", "--timeout"],
    ),
    // Flags.
    offline(
        "unknown flag",
        &["widgets/foo", "--until", READY, "--bogus"],
        2,
        &["--bogus", "--help"],
    ),
    offline(
        "flag without its value",
        &["widgets/foo", "--until"],
        2,
        &["--until"],
    ),
    offline("no target", &[], 2, &["TYPE/NAME"]),
    offline(
        "no target after --on-change's paths",
        &["-n", "default", "--on-change", ".data"],
        2,
        &["TYPE/NAME"],
    ),
    offline(
        "a path after the target that ended --on-change",
        &["--on-change", ".data", "cm/app", ".spec"],
        2,
        &["`.spec` is a path", "--on-change .data .spec TYPE/NAME"],
    ),
    offline(
        "--on-change without a path",
        &["cm/app", "--on-change", "data"],
        2,
        &["--on-change", ".data"],
    ),
    offline(
        "unknown --for form",
        &["widgets/foo", "--for", "happy"],
        2,
        &["condition=", "ready"],
    ),
    offline(
        "--for jsonpath with an empty value",
        &["widgets/foo", "--for", "jsonpath={.metadata.labels.app}="],
        2,
        &["value after equal sign", "leave out"],
    ),
    offline(
        "--for jsonpath with an empty quoted value",
        &["widgets/foo", "--for", "jsonpath={.metadata.labels.app}=''"],
        2,
        &["value after equal sign"],
    ),
    offline(
        "--for delete with --until",
        &["widgets/foo", "--for", "delete", "--until", ".a"],
        2,
        &["delete"],
    ),
    offline(
        "--when in wait mode",
        &["widgets/foo", "--until", READY, "--when", ".a"],
        2,
        &["notify mode"],
    ),
    offline(
        "--fail-if without a condition",
        &["widgets/foo", "--fail-if", ".a"],
        2,
        &["--until EXPR or --for"],
    ),
    offline(
        "--any without a condition",
        &["widgets/foo", "--any"],
        2,
        &["--any"],
    ),
    offline(
        "--min 0",
        &["widgets", "--all", "--until", READY, "--min", "0"],
        2,
        &["--min 0", "1 or more"],
    ),
    offline(
        "--min not a number",
        &["widgets", "--all", "--until", READY, "--min", "x"],
        2,
        &["--min", "invalid digit"],
    ),
    offline(
        "--min negative",
        &["widgets", "--all", "--until", READY, "--min=-1"],
        2,
        &["--min", "invalid digit"],
    ),
    offline(
        "--min with named targets",
        &["widgets/foo", "--until", READY, "--min", "2"],
        2,
        &["--min", "selector"],
    ),
    offline(
        "--min with --any",
        &["widgets", "--all", "--until", READY, "--min", "2", "--any"],
        2,
        &["--any is --min 1"],
    ),
    offline(
        "--min in notify mode",
        &["widgets", "--all", "--min", "2"],
        2,
        &["--min", "--until EXPR or --for"],
    ),
    offline(
        "unknown --events kind",
        &["widgets/foo", "--events", "exploded"],
        2,
        &["created, modified, deleted"],
    ),
    offline(
        "--retries without a command",
        &["widgets/foo", "--retries", "2"],
        2,
        &["-- COMMAND"],
    ),
    offline(
        "command not found",
        &["widgets/foo", "--", "/nonexistent/reload.sh"],
        2,
        &["/nonexistent/reload.sh"],
    ),
    offline(
        "script whose interpreter is missing",
        &[
            "widgets/foo",
            "--until",
            READY,
            "--",
            "@DIR/no-interpreter.sh",
        ],
        2,
        &["/nonexistent/interp", "#!"],
    ),
    offline(
        "unknown output format",
        &["widgets/foo", "-o", "yaml"],
        2,
        &["json"],
    ),
    offline(
        "bad --color",
        &["widgets/foo", "--until", READY, "--color", "sometimes"],
        2,
        &["--color"],
    ),
    // Targets and selectors.
    offline(
        "empty name",
        &["widgets/", "--until", READY],
        2,
        &["empty name"],
    ),
    offline(
        "a name with %",
        &["widgets/a%2Fb", "--until", READY],
        2,
        &["'%'", "a%2Fb"],
    ),
    offline(
        "a name with % after the type",
        &["widgets", "50%", "--until", READY],
        2,
        &["'%'"],
    ),
    offline(
        "a name that is ..",
        &["widgets/..", "--until", READY],
        2,
        &["'..'", "name"],
    ),
    offline(
        "a name that is .",
        &["widgets", ".", "--until", READY],
        2,
        &["'.'", "name"],
    ),
    offline(
        "empty type",
        &["/foo", "--until", READY],
        2,
        &["empty type"],
    ),
    offline(
        "type without names",
        &["widgets", "--until", READY],
        2,
        &["-l SELECTOR", "--all"],
    ),
    offline(
        "mixed forms",
        &["widgets/foo", "bar", "--until", READY],
        2,
        &["TYPE/NAME"],
    ),
    offline(
        "names with a selector",
        &["widgets", "foo", "-l", "a=b", "--until", READY],
        2,
        &["only the TYPE"],
    ),
    offline(
        "name across namespaces",
        &["widgets/foo", "-A", "--until", READY],
        2,
        &["all namespaces"],
    ),
    offline(
        "empty selector",
        &["widgets", "-l", "", "--until", READY],
        2,
        &["-l is empty"],
    ),
    case(
        "malformed label selector",
        &["widgets", "-l", "a in (b", "--until", READY],
        2,
        &["selector"],
    ),
    case(
        "unsupported field selector",
        &[
            "widgets",
            "--field-selector",
            "spec.size=1",
            "--until",
            READY,
        ],
        2,
        &["field label not supported"],
    ),
    // Types.
    case(
        "unknown type, close to one",
        &["widgte/foo", "--until", READY],
        2,
        &["widgets.example.com"],
    ),
    case(
        "unknown type, nothing close",
        &["zzzzzzzz/foo", "--until", READY],
        2,
        &["api-resources"],
    ),
    case(
        "ambiguous short name",
        &["wg/foo", "--until", READY],
        2,
        &["ambiguous", "widgets.example.com", "wingdings.other.io"],
    ),
    case(
        "group not served",
        &["widgets.other.io/foo", "--until", READY],
        2,
        &["widgets.other.io"],
    ),
    case(
        "version not served",
        &["widgets.v9.example.com/foo", "--until", READY],
        2,
        &["widgets.v9.example.com"],
    ),
    case(
        "a plural that does not exist",
        &["widget.example.org/foo", "--until", READY],
        2,
        &["widget.example.org"],
    ),
    // Kubeconfig and contexts.
    offline(
        "groups impersonated without a user",
        &[
            "widgets/foo",
            "--for",
            "create",
            "--as-group",
            "g",
            "--timeout",
            "0",
        ],
        2,
        &["--as-group", "--as USER"],
    ),
    offline(
        "a UID impersonated without a user",
        &[
            "widgets/foo",
            "--for",
            "create",
            "--as-uid",
            "5",
            "--timeout",
            "0",
        ],
        2,
        &["--as-uid", "--as USER"],
    ),
    case(
        "missing kubeconfig",
        &["widgets/foo", "--kubeconfig", "@DIR/nope", "--until", READY],
        2,
        &["does not exist"],
    ),
    case(
        "garbled kubeconfig",
        &[
            "widgets/foo",
            "--kubeconfig",
            "@DIR/garbled",
            "--until",
            READY,
        ],
        2,
        &["garbled"],
    ),
    case(
        "kubeconfig without a current context",
        &[
            "widgets/foo",
            "--kubeconfig",
            "@DIR/no-current",
            "--until",
            READY,
        ],
        2,
        &["--context"],
    ),
    case(
        "unknown context",
        &["widgets/foo", "--context", "staging", "--until", READY],
        2,
        &["context \"staging\" not found", "test"],
    ),
    case(
        "unknown cluster",
        &["widgets/foo", "--cluster", "staging", "--until", READY],
        2,
        &["cluster \"staging\" not found"],
    ),
    case(
        "unknown user",
        &["widgets/foo", "--user", "staging", "--until", READY],
        2,
        &["user \"staging\" not found"],
    ),
    Case {
        what: "no kubeconfig anywhere",
        args: &["widgets/foo", "--until", READY],
        env: Env::NoKubeconfig,
        code: 2,
        says: &["KUBECONFIG", "--kubeconfig"],
        offline: true,
    },
    Case {
        what: "in a pod without a service account",
        args: &["widgets/foo", "--until", READY],
        env: Env::InPod,
        code: 2,
        says: &["in-cluster"],
        offline: true,
    },
    // The cluster says no.
    case(
        "server not listening",
        &["widgets/foo", "--server", "@DEAD", "--until", READY],
        3,
        &["cannot reach"],
    ),
    case(
        "wrong token (401)",
        &["widgets/foo", "--token", "wrong", "--until", READY],
        3,
        &["unauthorized"],
    ),
    case(
        "forbidden (403)",
        &["widgets/foo", "--token", "limited-token", "--until", READY],
        3,
        &[
            "forbidden",
            "get, list, watch",
            "widgets.example.com",
            "\"default\"",
        ],
    ),
    case(
        "may list but not watch",
        &["widgets/foo", "--token", "lister-token", "--until", READY],
        3,
        &["forbidden", "watch", "widgets.example.com"],
    ),
    // Sinks (SPEC §11): the bad part named, never the URL ("s3cr3t").
    offline(
        "--sink with no target",
        &["widgets/foo", "--sink", "webhook:"],
        2,
        &["--sink webhook", "no TARGET", "env:NAME or file:PATH"],
    ),
    offline(
        "--sink env: with no name",
        &["widgets/foo", "--sink", "webhook:env:"],
        2,
        &["env:NAME"],
    ),
    offline(
        "--sink file: that is empty",
        &["widgets/foo", "--sink", "webhook:file:@DIR/empty-hook-url"],
        2,
        &["empty-hook-url is empty"],
    ),
    offline(
        "--sink file:/dev/null",
        &["widgets/foo", "--sink", "webhook:file:/dev/null"],
        2,
        &["/dev/null is empty"],
    ),
    offline(
        "NATS URL without a subject",
        &["widgets/foo", "--sink", "nats:nats://s3cr3t@host:4222"],
        2,
        &["--sink nats", "no subject", "nats://HOST:PORT/SUBJECT"],
    ),
    offline(
        "NATS subject with an empty token",
        &["widgets/foo", "--sink", "nats:nats://h:4222/a..s3cr3t"],
        2,
        &["--sink nats", "empty token"],
    ),
    offline(
        "--sink-queue too large",
        &[
            "widgets/foo",
            "--sink",
            "webhook:http://h/s3cr3t",
            "--sink-queue",
            "99999999999999999999",
        ],
        2,
        &["--sink-queue", "too large"],
    ),
    offline(
        "--flush-timeout 0",
        &[
            "widgets/foo",
            "--sink",
            "webhook:http://h/s3cr3t",
            "--flush-timeout",
            "0",
        ],
        2,
        &["--flush-timeout 0", "1s"],
    ),
    offline(
        "sink URL with a port beyond 65535",
        &["widgets/foo", "--sink", "webhook:http://h:99999/s3cr3t"],
        2,
        &["--sink webhook", "port", "65535"],
    ),
    offline(
        "NATS URL with a port beyond 65535",
        &["widgets/foo", "--sink", "nats:nats://h:99999/subject"],
        2,
        &["--sink nats", "port", "65535"],
    ),
    // A sink's variable is a secret: never one the replica reads as its name.
    offline(
        "--print-manifests with a sink in POD_NAME",
        &[
            "widgets",
            "--all",
            "--print-manifests",
            "--sink",
            "webhook:env:POD_NAME",
        ],
        2,
        &[
            "--sink webhook:env:POD_NAME",
            "POD_NAME",
            "another variable",
        ],
    ),
    offline(
        "--print-manifests with a sink in KUBERNETES_SERVICE_HOST",
        &[
            "widgets",
            "--all",
            "--print-manifests",
            "--sink",
            "slack:env:KUBERNETES_SERVICE_HOST",
        ],
        2,
        &["KUBERNETES_SERVICE_HOST", "another variable"],
    ),
    offline(
        "--leader-elect with a sink in POD_NAME",
        &[
            "widgets",
            "--all",
            "--leader-elect",
            "--sink",
            "webhook:env:POD_NAME",
        ],
        2,
        &[
            "--sink webhook:env:POD_NAME",
            "names this replica",
            "another variable",
        ],
    ),
    // Templates and counts.
    offline(
        "{range} in -o jsonpath",
        &[
            "widgets",
            "--all",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{end}",
        ],
        2,
        &[
            "-o jsonpath",
            "{range}",
            "not supported",
            "{.metadata.name}",
        ],
    ),
    offline(
        "{range} in --message",
        &[
            "widgets",
            "--all",
            "--sink",
            "slack:https://h/s3cr3t",
            "--message",
            "{range .status.conditions[*]}{.type}{end}",
        ],
        2,
        &["--message", "{range}", "not supported"],
    ),
    // The alert sinks' flags.
    offline(
        "--resolve without --when",
        &["widgets", "--all", "--resolve"],
        2,
        &["--resolve", "add --when EXPR"],
    ),
    offline(
        "--alert-name with no alert sink",
        &[
            "widgets",
            "--all",
            "--sink",
            "slack:https://h/s3cr3t",
            "--alert-name",
            "X",
        ],
        2,
        &["--alert-name is for alerts", "alertmanager:", "pagerduty:"],
    ),
    offline(
        "--label not K=V",
        &[
            "widgets",
            "--all",
            "--sink",
            "alertmanager:http://h:9093",
            "--label",
            "team",
        ],
        2,
        &["--label team", "KEY=VALUE"],
    ),
    offline(
        "--label of a name kubectl-notify sets",
        &[
            "widgets",
            "--all",
            "--sink",
            "alertmanager:http://h:9093",
            "--label",
            "namespace=x",
        ],
        2,
        &["--label namespace=x", "set by kubectl-notify"],
    ),
    offline(
        "--label given twice for one key (the last would win silently)",
        &[
            "widgets",
            "--all",
            "--sink",
            "alertmanager:http://h:9093",
            "--label",
            "team=payments",
            "--label",
            "team=billing",
        ],
        2,
        &[
            "--label team=billing",
            "team is given twice",
            "team=payments",
            "give each label once",
        ],
    ),
    offline(
        "--label with an empty value (Alertmanager reads it as no label)",
        &[
            "widgets",
            "--all",
            "--sink",
            "pagerduty:K3y",
            "--label",
            "team=",
        ],
        2,
        &["--label team=", "the value of team is empty", "team=VALUE"],
    ),
    offline(
        "--label with a blank value",
        &[
            "widgets",
            "--all",
            "--sink",
            "alertmanager:http://h:9093",
            "--label",
            "team= ",
        ],
        2,
        &["the value of team is empty"],
    ),
    offline(
        "--severity unknown",
        &[
            "widgets",
            "--all",
            "--sink",
            "pagerduty:K3y",
            "--severity",
            "high",
        ],
        2,
        &["--severity high", "critical, error, warning or info"],
    ),
    offline(
        "a pagerduty routing key that is not one, not echoed",
        &["widgets", "--all", "--sink", "pagerduty:s3cr3t key!"],
        2,
        &["--sink pagerduty", "routing key"],
    ),
    offline(
        "a pagerduty endpoint with an empty routing_key",
        &[
            "widgets",
            "--all",
            "--sink",
            "pagerduty:http://h/v2/enqueue?s3cr3t=1&routing_key=",
        ],
        2,
        &["--sink pagerduty", "routing_key", "letters and digits"],
    ),
    offline(
        "a pagerduty endpoint with two routing keys, neither echoed",
        &[
            "widgets",
            "--all",
            "--sink",
            "pagerduty:http://h/v2/enqueue?routing_key=s3cr3t&routing_key=s3cr3t2",
        ],
        2,
        &["--sink pagerduty", "routing_key", "once"],
    ),
    offline(
        "a pagerduty endpoint's routing key percent-encoded, not echoed",
        &[
            "widgets",
            "--all",
            "--sink",
            "pagerduty:http://h/v2/enqueue?routing_key=s3cr3t%2BK",
        ],
        2,
        &["--sink pagerduty", "routing_key", "letters and digits"],
    ),
    offline(
        "--count -1",
        &["widgets", "--all", "--count", "-1"],
        2,
        &["--count", "-1", "N must be a whole number ≥ 1"],
    ),
    offline(
        "--hold as long as --timeout, both said back as given",
        &[
            "widgets/foo",
            "--until",
            READY,
            "--hold",
            "168h",
            "--timeout",
            "168h",
        ],
        2,
        &["--hold 168h is not shorter than --timeout 168h"],
    ),
    // Big, odd, or not text.
    case(
        "a 5 MB object is fine",
        &[
            "widgets/huge",
            "--until",
            ".metadata.name == huge",
            "-o",
            "name",
        ],
        0,
        &[],
    ),
    case(
        "a cache directory that cannot be made is only skipped",
        &[
            "widgets/huge",
            "--until",
            ".metadata.name == huge",
            "--cache-dir",
            "@DIR/garbled",
            "-o",
            "name",
        ],
        0,
        &[],
    ),
    // Manifests (-f, -k): file and line, and column where the parser gives one.
    offline(
        "-f of a path that does not exist",
        &["-f", "@DIR/nope.yaml", "--for", "ready"],
        2,
        &["-f ", "nope.yaml", "cannot read it", "no such file"],
    ),
    offline(
        "-f of invalid YAML",
        &["-f", "@DIR/manifests/bad.yaml", "--for", "ready"],
        2,
        &["bad.yaml:6:1: invalid YAML"],
    ),
    offline(
        "-f of invalid JSON",
        &["-f", "@DIR/manifests/bad.json", "--for", "ready"],
        2,
        &["bad.json:2:10: invalid JSON"],
    ),
    offline(
        "a manifest without apiVersion",
        &["-f", "@DIR/manifests/no-api.yaml", "--for", "ready"],
        2,
        &["no-api.yaml:3:", "no apiVersion"],
    ),
    offline(
        "a manifest without kind",
        &["-f", "@DIR/manifests/no-kind.yaml", "--for", "ready"],
        2,
        &["no-kind.yaml:1:", "no kind"],
    ),
    offline(
        "a manifest without metadata.name",
        &["-f", "@DIR/manifests/no-name.yaml", "--for", "ready"],
        2,
        &["no-name.yaml:1:", "no metadata.name"],
    ),
    offline(
        "a manifest with generateName",
        &["-f", "@DIR/manifests/generated.yaml", "--for", "ready"],
        2,
        &[
            "generated.yaml:1:",
            "generateName",
            "cannot be waited for",
            "-l",
        ],
    ),
    offline(
        "-R without -f",
        &["deploy/web", "-R", "--for", "ready"],
        2,
        &["-R", "add -f DIR"],
    ),
    offline(
        "-f with TYPE/NAME arguments",
        &[
            "-f",
            "@DIR/manifests/cm.yaml",
            "deploy/web",
            "--for",
            "ready",
        ],
        2,
        &["deploy/web", "-f names the objects", "cannot be given too"],
    ),
    offline(
        "-f with a selector",
        &[
            "-f",
            "@DIR/manifests/cm.yaml",
            "-l",
            "app=web",
            "--for",
            "ready",
        ],
        2,
        &["-l selects", "drop -l"],
    ),
    offline(
        "-f and -k together",
        &[
            "-f",
            "@DIR/manifests/cm.yaml",
            "-k",
            "@DIR/manifests",
            "--for",
            "ready",
        ],
        2,
        &["-f and -k", "one of them"],
    ),
    offline(
        "-f of a folder without manifests",
        &["-f", "@DIR/manifests/empty", "--for", "ready"],
        2,
        &["no objects in -f", ".yaml", "-R"],
    ),
    offline(
        "-f of a URL",
        &["-f", "https://example.com/app.yaml", "--for", "ready"],
        2,
        &["URLs are not fetched", "-f -"],
    ),
    offline(
        "-k of a folder kustomize cannot build",
        &["-k", "@DIR/manifests/empty", "--for", "ready"],
        2,
        &["-k ", "kubectl kustomize failed: ", "kustomization"],
    ),
    case(
        "a manifest's kind its built-in group does not have",
        &["-f", "@DIR/manifests/typo.yaml", "--for", "ready"],
        2,
        &[
            "typo.yaml:1: ",
            "unknown resource type \"Deploymnet.v1.apps\"",
        ],
    ),
    offline(
        "a type list in TYPE/NAME form",
        &["deploy,sts/web", "--for", "ready"],
        2,
        &["names one type", "deploy,sts web"],
    ),
    offline(
        "a type list with an empty type",
        &["deploy,,sts", "-l", "app=web", "--for", "ready"],
        2,
        &["empty type in its list"],
    ),
    offline(
        "non-UTF-8 argument",
        &["widgets/foo", "--until", "@NONUTF8"],
        2,
        &["UTF-8"],
    ),
];

fn run_case(s: &Scenario, tls: &Scenario, dead: &str, case: &Case) -> Output {
    let args: Vec<OsString> = case
        .args
        .iter()
        .map(|a| match *a {
            "@NONUTF8" => OsString::from_vec(vec![b'.', 0xff, 0xfe]),
            "@DEAD" => dead.into(),
            other => other.replace("@DIR", s.dir.path().to_str().unwrap()).into(),
        })
        .collect();
    let kubeconfig = if case.env == Env::WrongCa {
        &tls.kubeconfig
    } else {
        &s.kubeconfig
    };
    let mut cmd = std::process::Command::new(bin());
    cmd.args(&args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", s.dir.path())
        .env_remove("KUBECACHEDIR")
        .env("RUST_BACKTRACE", "1")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(std::process::Stdio::null());
    match case.env {
        Env::Normal | Env::WrongCa => {}
        Env::NoKubeconfig => {
            cmd.env_remove("KUBECONFIG");
        }
        Env::InPod => {
            cmd.env_remove("KUBECONFIG")
                .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
                .env("KUBERNETES_SERVICE_PORT", "1");
        }
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    finish(child, std::time::Duration::from_secs(30))
}

#[test]
fn every_bad_input_gets_its_exit_code_and_a_message_that_says_what_to_do() {
    assert!(CASES.len() >= 40, "the table has {} cases", CASES.len());
    let s = Scenario::new();
    s.server.add_crd(testserver::Crd {
        group: "other.io".into(),
        version: "v1".into(),
        kind: "Wingding".into(),
        plural: "wingdings".into(),
        singular: "wingding".into(),
        short_names: vec!["wg".into()],
        namespaced: true,
    });
    s.server.add_user("limited", "limited-token", vec![]);
    s.server.add_user(
        "lister",
        "lister-token",
        vec![testserver::Rule {
            verbs: vec!["get".into(), "list".into()],
            groups: vec!["*".into()],
            resources: vec!["*".into()],
            namespaces: vec![],
            names: vec![],
        }],
    );
    s.widget(
        "huge",
        json!({"blob": "x".repeat(5 * 1024 * 1024)}),
        json!({}),
    );
    let script = s.dir.path().join("no-interpreter.sh");
    std::fs::write(&script, "#!/nonexistent/interp\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        s.dir.path().join("garbled"),
        "clusters: [ {name: \n  - ]]]\n",
    )
    .unwrap();
    std::fs::write(
        s.dir.path().join("no-current"),
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{}\"}}\ncontexts:\n- name: c\n  context: {{cluster: c}}\n", s.server.url()),
    )
    .unwrap();
    std::fs::write(s.dir.path().join("empty-hook-url"), "\n").unwrap();
    let manifests = s.dir.path().join("manifests");
    std::fs::create_dir_all(manifests.join("empty")).unwrap();
    for (file, body) in [
        (
            "bad.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad: [\n",
        ),
        ("bad.json", "{\"apiVersion\": \"v1\",\n \"kind\": }"),
        (
            "no-api.yaml",
            "# first\n---\nkind: ConfigMap\nmetadata: {name: a}\n",
        ),
        ("no-kind.yaml", "apiVersion: v1\nmetadata: {name: a}\n"),
        (
            "no-name.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
        ),
        (
            "generated.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n",
        ),
        (
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        ),
        (
            "typo.yaml",
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: web}\n",
        ),
    ] {
        std::fs::write(manifests.join(file), body).unwrap();
    }
    let tls = Scenario::tls();
    std::fs::write(
        s.dir.path().join("wrong-ca.pem"),
        testserver::unrelated_ca_pem(),
    )
    .unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };

    let mut failures = Vec::new();
    for case in CASES {
        let before = s.server.requests().len();
        let out = run_case(&s, &tls, &dead, case);
        let err = stderr(&out);
        let mut problems = Vec::new();
        if out.status.code() != Some(case.code) {
            problems.push(format!(
                "exit {:?}, expected {}",
                out.status.code(),
                case.code
            ));
        }
        if case.code != 0 {
            // An expression error adds the expression and a caret under it.
            let lines = err.lines().count();
            let caret = err.lines().any(|l| l.trim_start().starts_with('^'));
            if !(err.starts_with("error: ") && (lines == 1 || (caret && lines == 3))) {
                problems.push("not a single error line".into());
            }
        }
        for word in case.says {
            if !err.contains(word) {
                problems.push(format!("message lacks {word:?}"));
            }
        }
        if err.contains("s3cr3t") {
            problems.push("repeated a secret from a sink URL".into());
        }
        if err.contains("panicked") || err.contains("backtrace") || err.contains("RUST_BACKTRACE") {
            problems.push("a panic or backtrace".into());
        }
        if case.offline && s.server.requests().len() != before {
            problems.push("contacted the server".into());
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                case.what,
                problems.join("; "),
                err.trim_end()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn the_caret_sits_under_the_mistake() {
    let s = Scenario::new();
    let out = s.run(&["widgets/foo", "--until", ".status.ready = true"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let echo = lines
        .iter()
        .position(|l| l.contains(".status.ready = true"))
        .expect("expression echoed");
    let caret = lines[echo + 1].find('^').unwrap();
    assert_eq!(
        &lines[echo][caret..caret + 1],
        "=",
        "caret not under the `=`:\n{err}"
    );
}

#[test]
fn an_internal_failure_exits_70_and_says_it_is_not_the_users_fault() {
    let s = Scenario::new();
    // With four file descriptors the runtime cannot create its event queue.
    // Any descriptor inherited from the test process (another test's spawn
    // racing with this one) is closed first: the loader needs fd 3 free.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; ulimit -n 4; exec \"$0\" \"$@\"",
        ])
        .arg(bin())
        .args(["widgets/foo", "--until", READY])
        .env("KUBECONFIG", &s.kubeconfig)
        .env("HOME", s.dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&out), 70, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: internal failure: cannot start the async runtime")
            && err.contains("not a problem with your input"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
