use super::*;
use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

/// A custom resource as the watcher would hand it over.
fn widget() -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": "web-42",
            "namespace": "prod-eu",
            "generation": 3,
            "labels": {
                "app.kubernetes.io/name": "web",
                "app-name": "shop",
                "tier": "3",
                "héllo": "wörld",
                "ключ": "значение",
                "it's": "apostrophe",
                "0": "zero"
            },
            "annotations": {
                "quoted": "it's \"quoted\"",
                "path": "C:\\temp",
                "multi": "line1\nline2\tend",
                "accent": "é",
                "emoji": "😀",
                "regexy": "\\d"
            }
        },
        "spec": {
            "replicas": 3,
            "ratio": 0.75,
            "offset": -2,
            "huge": 18446744073709551615u64,
            "paused": false,
            "suspend": null,
            "empty": "",
            "emptyList": [],
            "emptyObj": {},
            "tags": ["a", "b", "c"],
            "same": ["x", "x"],
            "wantedPort": 443,
            "ports": [
                {"name": "http", "port": 80},
                {"name": "https", "port": 443}
            ]
        },
        "status": {
            "ready": true,
            "phase": "Running",
            "observedGeneration": 3,
            "replicas": 3.0,
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Scaling"}
            ]
        }
    })
}

fn compile(src: &str) -> Expr {
    Expr::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

/// The `$`-rooted RFC 9535 query the path that `src` starts with stands for:
/// what jsonpath-rust is checked against.
fn rfc_query(src: &str) -> String {
    use syntax::{Operand, Syn};
    match parse::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src))) {
        Syn::Operand(Operand::Path(path)) | Syn::Cmp(Operand::Path(path), ..) => path.to_rfc(),
        other => panic!("`{src}` does not start with a path: {other:?}"),
    }
}

fn holds(src: &str) -> bool {
    compile(src).eval(&widget())
}

#[track_caller]
fn assert_all(cases: &[(&str, bool)]) {
    let obj = widget();
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(src, want)| compile(src).eval(&obj) != *want)
        .map(|(src, want)| format!("`{src}` should be {want}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn parse_err(src: &str) -> ParseError {
    match Expr::parse(src) {
        Ok(expr) => panic!("`{src}` should be rejected, got {expr:?}"),
        Err(e) => e,
    }
}

/// Asserts the error points at the first occurrence of `under` (caret in the
/// rendering included) and that its hint mentions `hint`.
#[track_caller]
fn assert_error(src: &str, under: &str, hint: &str) -> ParseError {
    let err = parse_err(src);
    let byte = src.find(under).expect("marker in source");
    let column = src[..byte].chars().count() + 1;
    let rendered = err.render(src);
    assert_eq!(err.column, column, "wrong column for `{src}`:\n{rendered}");
    let caret_line = rendered.lines().nth(2).expect("caret line");
    assert_eq!(
        caret_line.chars().position(|c| c == '^'),
        Some(column + 1),
        "caret misplaced:\n{rendered}"
    );
    let got = err.hint.clone().unwrap_or_default();
    assert!(
        got.contains(hint),
        "hint `{got}` lacks `{hint}`:\n{rendered}"
    );
    err
}

// ---- comparisons by type -------------------------------------------------

#[test]
fn numbers_compare_numerically_with_every_operator() {
    assert_all(&[
        (".spec.replicas == 3", true),
        (".spec.replicas == 3.0", true),
        (".spec.replicas == 4", false),
        (".spec.replicas != 4", true),
        (".spec.replicas != 3", false),
        (".spec.replicas < 4", true),
        (".spec.replicas < 3", false),
        (".spec.replicas <= 3", true),
        (".spec.replicas <= 2.99", false),
        (".spec.replicas > 2", true),
        (".spec.replicas > 3", false),
        (".spec.replicas >= 3", true),
        (".spec.replicas >= 3.01", false),
        // 3 is less than 10 although "3" sorts after "10".
        (".spec.replicas < 10", true),
    ]);
}

#[test]
fn floats_negatives_exponents_and_big_integers() {
    assert_all(&[
        (".spec.ratio == 0.75", true),
        (".spec.ratio > 0.5", true),
        (".spec.ratio < 1", true),
        (".spec.ratio == 75e-2", true),
        (".spec.replicas == 0.3e1", true),
        (".spec.replicas < 1E1", true),
        (".status.replicas == 3", true), // stored as 3.0
        (".spec.offset == -2", true),
        (".spec.offset < -1", true),
        (".spec.offset > -2.5", true),
        (".spec.offset >= -2", true),
        (".spec.offset < -2", false),
        (".spec.huge == 18446744073709551615", true),
        (".spec.huge > 9223372036854775807", true),
        (".spec.offset < .spec.huge", true),
    ]);
}

#[test]
fn strings_compare_exactly_and_order_lexicographically() {
    assert_all(&[
        (".status.phase == \"Running\"", true),
        (".status.phase == 'Running'", true),
        (".status.phase == Running", true),
        (".status.phase == running", false),
        (".status.phase != Running", false),
        (".status.phase != Pending", true),
        (".status.phase > Pending", true),
        (".status.phase >= Running", true),
        (".status.phase <= Running", true),
        (".status.phase < S", true),
        (".status.phase < Running", false),
        // Strings order by code point: "3" > "10".
        (".metadata.labels.tier < '10'", false),
        (".metadata.labels.tier > '10'", true),
        (".spec.empty == ''", true),
    ]);
}

#[test]
fn bare_words_are_strings_with_dashes_and_dots() {
    assert_all(
        &[
            (".metadata.namespace == prod-eu", true),
            (".metadata.namespace == prod", false),
            (".metadata.name == web-42", true),
            (".apiVersion == example.com/v1", false), // `/` ends the word: rejected below
        ]
        .into_iter()
        .filter(|(src, _)| !src.contains('/'))
        .collect::<Vec<_>>(),
    );
    assert!(Expr::parse(".apiVersion == example.com/v1").is_err());
    assert!(holds(".apiVersion == 'example.com/v1'"));
}

#[test]
fn bools_and_null_are_literals_not_strings() {
    assert_all(&[
        (".status.ready == true", true),
        (".status.ready != false", true),
        (".status.ready == false", false),
        (".status.ready == 'true'", false),
        (".status.ready == \"true\"", false),
        (".spec.paused == false", true),
        (".spec.paused != true", true),
        (".status.ready < true", false),
        (".status.ready >= true", false),
        (".spec.suspend == null", true),
        (".spec.suspend != null", false),
        (".spec.suspend == 'null'", false),
        (".spec.suspend < 1", false),
        (".spec.suspend >= null", false),
        // Capitalised words are plain strings, as in Kubernetes conditions.
        (".status.conditions[0].status == True", true),
    ]);
}

#[test]
fn numbers_and_strings_never_equal_each_other() {
    assert_all(&[
        (".spec.replicas == 3", true),
        (".spec.replicas == '3'", false),
        (".spec.replicas == \"3\"", false),
        (".spec.replicas != '3'", true),
        (".metadata.labels.tier == 3", false),
        (".metadata.labels.tier == '3'", true),
        (".metadata.labels.tier != 3", true),
    ]);
}

#[test]
fn mixed_types_never_order() {
    assert_all(&[
        (".spec.replicas < '5'", false),
        (".spec.replicas > '1'", false),
        (".status.phase > 1", false),
        (".status.phase <= 1", false),
        (".spec.tags < 1", false),
        (".metadata.labels >= 'a'", false),
        (".spec.paused < 1", false),
    ]);
}

#[test]
fn two_paths_compare_by_value() {
    assert_all(&[
        (".status.observedGeneration == .metadata.generation", true),
        (".status.observedGeneration >= .metadata.generation", true),
        (".status.observedGeneration < .metadata.generation", false),
        (".status.replicas == .spec.replicas", true),
        (".spec.ports[*].port == .spec.wantedPort", true),
        (".spec.wantedPort == .spec.ports[*].port", true),
        (".spec.tags[*] == .spec.same[*]", false),
        (".spec.emptyObj == .spec.emptyObj", true),
        (".spec.ports == .spec.ports", true),
        (".spec.ports[0] != .spec.ports[1]", true),
    ]);
}

#[test]
fn literal_on_the_left() {
    assert_all(&[
        ("3 == .spec.replicas", true),
        ("2 < .spec.replicas", true),
        ("4 < .spec.replicas", false),
        ("'Running' == .status.phase", true),
        ("true == .status.ready", true),
        ("null == .spec.suspend", true),
    ]);
}

// ---- missing paths -------------------------------------------------------

#[test]
fn a_missing_path_makes_every_comparison_false() {
    let mut cases = Vec::new();
    for path in [
        ".status.missing",
        ".nope.deeper.still",
        ".spec.tags[10]",
        ".spec.tags[-4]",
        ".spec.tags.a",      // key on an array
        ".spec.replicas[0]", // index on a number
        ".status.phase.x",   // key on a string
        ".spec.emptyList[*]",
        ".status.conditions[?@.type=='Missing'].status",
    ] {
        for rhs in ["1", "'x'", "true", "null", ".spec.replicas"] {
            for op in ["==", "!=", "<", "<=", ">", ">="] {
                cases.push((format!("{path} {op} {rhs}"), false));
                cases.push((format!("{rhs} {op} {path}"), false));
            }
        }
        cases.push((format!("{path} =~ '.*'"), false));
        cases.push((format!("{path} !~ 'x'"), false));
        cases.push((path.to_string(), false));
        cases.push((format!("!{path}"), true));
    }
    let cases: Vec<(&str, bool)> = cases.iter().map(|(s, b)| (s.as_str(), *b)).collect();
    assert_all(&cases);
}

#[test]
fn missing_is_not_null() {
    assert_all(&[
        (".spec.suspend == null", true),
        (".spec.missing == null", false),
        (".spec.missing != null", false),
    ]);
}

// ---- several nodes -------------------------------------------------------

#[test]
fn a_path_selecting_several_nodes_holds_if_any_node_does() {
    assert_all(&[
        (".spec.tags[*] == b", true),
        (".spec.tags[*] == z", false),
        (".spec.tags.* == c", true),
        (".spec.tags[*] != a", true), // b and c differ from a
        (".spec.same[*] != x", false),
        (".spec.same[*] == x", true),
        (".spec.ports[*].port > 400", true),
        (".spec.ports[*].port > 500", false),
        (".spec.ports[*].port < 80", false),
        (".metadata.labels.* == web", true),
        (".metadata.labels.* == nope", false),
        (".spec.tags[1:] == a", false),
        (".spec.tags[1:] == c", true),
        (".spec.tags[0:1] == b", false),
        (".spec.tags[::2] == c", true),
        (".spec..port == 443", true),
        ("..name == https", true),
        (".spec.tags[0,2] == c", true),
        (".spec.tags[0,2] == b", false),
        (".metadata.labels['tier','app-name'] == shop", true),
    ]);
}

#[test]
fn kubectl_style_condition_filters() {
    let mut obj = widget();
    let ready = compile(".status.conditions[?@.type=='Ready'].status == \"True\"");
    assert!(!ready.eval(&obj));
    obj["status"]["conditions"][1]["status"] = json!("True");
    assert!(ready.eval(&obj));

    for src in [
        ".status.conditions[?@.type=='Ready'].status == True",
        ".status.conditions[?(@.type==\"Ready\")].status == 'True'",
        ".status.conditions[? @.type == 'Ready' ].status == 'True'",
        ".status.conditions[?@.type==Ready].status == True",
        "$.status.conditions[?@.type=='Ready'].status == 'True'",
    ] {
        assert!(compile(src).eval(&obj), "`{src}`");
        assert!(!compile(src).eval(&widget()), "`{src}`");
    }
}

#[test]
fn filters_support_logic_nesting_functions_and_regexes() {
    assert_all(&[
        (
            ".status.conditions[?@.type=='Ready' && @.status=='False'].reason == Scaling",
            true,
        ),
        (
            ".status.conditions[?@.type=='Ready' && @.status=='True'].reason == Scaling",
            false,
        ),
        (
            ".status.conditions[?@.type=='X' || @.status=='True'].type == Available",
            true,
        ),
        (
            ".status.conditions[?!(@.type=='Ready')].type == Ready",
            false,
        ),
        (
            ".status.conditions[?!(@.type=='Ready')].type == Available",
            true,
        ),
        (".status.conditions[?@.reason].type == Ready", true),
        (".status.conditions[?!@.reason].type == Available", true),
        (".status.conditions[?!@.reason].type == Ready", false),
        (".spec.ports[?@.port > 100].name == https", true),
        (".spec.ports[?@.port > 100].name == http", false),
        (
            ".spec.ports[?@.port == $.spec.wantedPort].name == https",
            true,
        ),
        (".spec.ports[?length(@.name) == 4].port == 80", true),
        (".spec.ports[?@.name =~ '^ht.*s$'].port == 443", true),
        (".spec.ports[?@.name !~ 's$'].port == 80", true),
        (".spec.ports[?@.name !~ 's$'].port == 443", false),
        (".spec.tags[?@ == 'b']", true),
        (".spec.tags[?@ == 'z']", false),
        // A filter on an object tests its member values.
        (".spec.ports[?@.port > 10][?@ == 'https'] == https", true),
        (".spec.ports[?@.port > 500][?@ == 'https']", false),
        (
            ".status.conditions[?@.type=='Ready' && (@.status=='True' || @.reason=='Scaling')]",
            true,
        ),
    ]);
}

// ---- existence -----------------------------------------------------------

#[test]
fn a_path_alone_tests_for_a_non_null_value() {
    assert_all(&[
        (".status.ready", true),
        (".spec.paused", true), // false exists
        (".spec.empty", true),
        (".spec.emptyList", true),
        (".spec.emptyObj", true),
        (".spec.suspend", false), // null does not
        (".status.loadBalancer.ingress", false),
        (".spec.tags[*]", true),
        (".spec.emptyList[*]", false),
        (".", true),
        ("$", true),
        ("!.spec.paused", false),
        ("!.spec.suspend", true),
        ("!.status.loadBalancer", true),
    ]);
}

// ---- logic ---------------------------------------------------------------

#[test]
fn and_binds_tighter_than_or_and_parentheses_regroup() {
    assert_all(&[
        // true || (false && false)
        (".status.ready || .nope && .nope", true),
        // (true || false) && false
        ("(.status.ready || .nope) && .nope", false),
        // (false && false) || true
        (".nope && .nope || .status.ready", true),
        (".nope && (.nope || .status.ready)", false),
        (
            ".status.ready && .spec.replicas == 3 && .status.phase == Running",
            true,
        ),
        (".status.ready && .spec.replicas == 4", false),
        (
            ".nope || .spec.replicas == 4 || .status.phase == Running",
            true,
        ),
        ("((.status.ready))", true),
    ]);
}

#[test]
fn not_binds_tighter_than_and_or() {
    assert_all(&[
        ("!.nope && .status.ready", true),
        ("!.status.ready || .status.ready", true),
        ("!(.status.ready && .nope)", true),
        ("!(.status.ready || .nope)", false),
        ("!!.status.ready", true),
        ("!(.spec.replicas == 3)", false),
        ("!(.spec.replicas != 3)", true),
        ("! .nope", true),
    ]);
}

// ---- regexes -------------------------------------------------------------

#[test]
fn regex_matches_strings_unanchored_unless_anchored() {
    assert_all(&[
        (".metadata.name =~ '^web-'", true),
        (".metadata.name =~ 'eb'", true),
        (".metadata.name =~ '^eb'", false),
        (".metadata.name =~ '^web-[0-9]+$'", true),
        (".metadata.name =~ '^web-\\d+$'", true), // `\d` needs no doubling
        (".metadata.name =~ '^web-\\\\d+$'", true), // `\\` is one backslash: `\d` again
        (".metadata.name =~ 'web\\\\\\\\d'", false), // `\\\\d`: a literal backslash, then d
        (".metadata.name =~ \"^WEB\"", false),
        (".metadata.name =~ '(?i)^WEB'", true),
        (".metadata.name !~ '^api-'", true),
        (".metadata.name !~ 'web'", false),
        (".spec.tags[*] =~ '^c$'", true),
        (".spec.tags[*] !~ '^a$'", true),
        (".spec.same[*] !~ '^x$'", false),
    ]);
}

#[test]
fn regex_matches_numbers_and_bools_by_their_json_text_never_null_or_containers() {
    assert_all(&[
        (".spec.replicas =~ '^3$'", true),
        (".spec.ratio =~ '^0\\.75$'", true),
        (".spec.offset =~ '^-2$'", true),
        (".spec.huge =~ '^18446744073709551615$'", true),
        (".status.ready =~ '^true$'", true),
        (".spec.paused !~ 'true'", true),
        (".spec.suspend =~ '.*'", false),
        (".spec.suspend !~ 'x'", false),
        (".spec.tags =~ '.*'", false),
        (".spec.tags !~ 'x'", false),
        (".metadata =~ '.*'", false),
    ]);
}

#[test]
fn a_bad_regex_is_a_parse_error_at_the_regex() {
    let err = assert_error(".metadata.name =~ '(unclosed'", "'(", "regex");
    assert!(err.message.contains("invalid regex"), "{}", err.message);
    assert!(err.message.contains("unclosed"), "{}", err.message);
    assert_error(".spec.ports[?@.name =~ '[z-a]'].port", "'[", "regex");
}

// ---- strings, keys, unicode ----------------------------------------------

#[test]
fn string_escapes() {
    assert_all(&[
        (r#".metadata.annotations.quoted == 'it\'s "quoted"'"#, true),
        (r#".metadata.annotations.quoted == "it's \"quoted\"""#, true),
        (r#".metadata.annotations.path == 'C:\\temp'"#, true),
        (
            r#".metadata.annotations.multi == 'line1\nline2\tend'"#,
            true,
        ),
        (r#".metadata.annotations.multi == 'line1nline2tend'"#, false),
        (r#".metadata.annotations.accent == '\u00e9'"#, true),
        (r#".metadata.annotations.accent == '\u00E9'"#, true),
        (r#".metadata.annotations.emoji == "\ud83d\ude00""#, true),
        (r#".metadata.annotations.regexy == '\d'"#, true), // unknown escape kept
        (r#".metadata.annotations.regexy == '\\d'"#, true),
        (r#".apiVersion == 'example.com\/v1'"#, true),
    ]);
    assert_error(r".a == '\u00zz'", r"\u", "four hex digits");
}

#[test]
fn bracketed_keys_with_dots_slashes_dashes_and_quotes() {
    assert_all(&[
        (".metadata.labels['app.kubernetes.io/name'] == web", true),
        (".metadata.labels[\"app.kubernetes.io/name\"] == web", true),
        (".metadata.labels[ 'app.kubernetes.io/name' ] == web", true),
        (".metadata.labels['app-name'] == shop", true),
        (".metadata.labels['it\\'s'] == apostrophe", true),
        (".metadata.labels[\"it's\"] == apostrophe", true),
        (".['metadata'].name == web-42", true),
        (".['metadata']['name'] == web-42", true),
        ("$.metadata.name == web-42", true),
        ("$['metadata']['name'] == web-42", true),
        (".metadata.labels.0 == zero", true), // `.0` is a key, not an index
        (".spec.tags.0 == a", false),
        (".spec.tags[0] == a", true),
        (".spec.tags[-1] == c", true),
        (".spec.tags[-3] == a", true),
        (".spec.ports[1].port == 443", true),
        (".spec.ports[-1]['port'] == 443", true),
    ]);
}

#[test]
fn unicode_keys_bare_and_bracketed() {
    assert_all(&[
        (".metadata.labels.héllo == wörld", true),
        (".metadata.labels.héllo == 'wörld'", true),
        (".metadata.labels.ключ == значение", true),
        (".metadata.labels['ключ'] == 'значение'", true),
        (".metadata.labels[\"héllo\"] != 'world'", true),
    ]);
}

// ---- the compiled form ---------------------------------------------------

#[test]
fn paths_lists_each_path_operand_once_in_order() {
    let expr = compile(
        ".status.phase == Running && (.spec.replicas >= .status.replicas || .status.phase =~ '^R') && $.x && !.spec.paused && .status.conditions[?@.type=='Ready'].status == True",
    );
    assert_eq!(
        expr.paths(),
        vec![
            ".status.phase",
            ".spec.replicas",
            ".status.replicas",
            "$.x",
            ".spec.paused",
            ".status.conditions[?@.type=='Ready'].status",
        ]
    );
    assert!(expr.source().starts_with(".status.phase == Running && ("));
    let obj = widget();
    let values = expr.path_values(&obj);
    assert_eq!(values[0], (".status.phase", vec![&json!("Running")]));
    assert_eq!(values[3], ("$.x", vec![]));
    assert_eq!(values[5].1, vec![&json!("False")]);
}

/// What a watch parses of each object: the fields the expression reads, or
/// all of it when a path may read anything.
#[test]
fn top_level_fields_are_the_first_keys_of_the_paths() {
    let fields = |src: &str| {
        let fields = compile(src).top_level_fields().cloned()?;
        Some(fields.into_iter().collect::<Vec<_>>())
    };
    for (src, expected) in [
        (".status.ready == true", vec!["status"]),
        (
            ".metadata.labels['app.kubernetes.io/name'] == web",
            vec!["metadata"],
        ),
        (
            "$.spec['x.y'] > 1 || .status.phase != Running",
            vec!["spec", "status"],
        ),
        (".['status'] && !.spec.paused", vec!["spec", "status"]),
        (
            "1 < .spec.replicas && .spec.replicas >= .status.ready",
            vec!["spec", "status"],
        ),
        (".metadata.name =~ '^web'", vec!["metadata"]),
        (".metadata['name'] == a", vec!["metadata"]),
        (
            ".status.conditions[?@.type=='Ready'].status == True",
            vec!["status"],
        ),
        (
            ".spec.ports[?@.port > 80 && @.name =~ 'h'][*].name",
            vec!["spec"],
        ),
        (".spec..managedFields", vec!["spec"]),
        (".spec[?@.x == '$.status']", vec!["spec"]),
    ] {
        let expected = expected.into_iter().map(String::from).collect();
        assert_eq!(fields(src), Some(expected), "`{src}`");
    }
    for src in [
        ".",
        "$ == 1",
        "..ready",
        ".*",
        "$[*].x",
        ".[0]",
        "$['spec','status']",
        ".[?@.x]",
        ".spec[?@.x == $.status.y]",
        ".spec.ports[?@.port == $.spec.port].name",
        ".spec[?length(@.items) == $.n]",
        ".status.phase == Running && .spec.x[?@ == $.y]",
        ".metadata",
        ".metadata.managedFields",
        ".metadata['managedFields'][0].manager == kubectl",
        ".metadata.*",
        ".metadata[*].x",
        ".metadata..manager",
        ".metadata[?@.x]",
    ] {
        assert_eq!(fields(src), None, "`{src}`");
    }
}

#[test]
fn expr_is_clone_send_sync_and_reusable() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<Expr>();
    let expr = compile(".spec.replicas > 2 && .metadata.name =~ '^web'");
    let copy = expr.clone();
    let mut obj = widget();
    for _ in 0..3 {
        assert!(expr.eval(&obj) && copy.eval(&obj));
    }
    obj["spec"]["replicas"] = json!(1);
    assert!(!expr.eval(&obj));
    let handle = std::thread::spawn(move || copy.eval(&widget()));
    assert!(handle.join().unwrap());
}

/// Direct lookups must select exactly what jsonpath-rust selects.
#[test]
fn direct_lookup_agrees_with_jsonpath() {
    let objects = [
        widget(),
        json!(null),
        json!([1, [2, 3]]),
        json!({"spec": "text"}),
    ];
    for src in [
        ".metadata.name",
        ".metadata.labels['app.kubernetes.io/name']",
        ".metadata.labels.héllo",
        ".metadata.labels['it\\'s']",
        ".metadata.labels.0",
        ".spec.tags[0]",
        ".spec.tags[2]",
        ".spec.tags[-1]",
        ".spec.tags[-3]",
        ".spec.tags[-4]",
        ".spec.tags[3]",
        ".spec.tags.a",
        ".spec.ports[1].port",
        ".spec.suspend",
        ".status.phase.x",
        ".nope.x",
        "$[1][0]",
        "$[-1][-1]",
        ".",
        "$",
    ] {
        let expr = compile(src);
        let path = &expr.paths[0];
        assert!(path.is_direct(), "`{src}` should not need jsonpath-rust");
        let query = rfc_query(src);
        for obj in &objects {
            let expected = obj.query(&query).expect("valid query");
            assert_eq!(path.select(obj), expected, "`{src}` as `{query}`");
        }
    }
}

/// Paths that start with plain keys and go on with wildcards or filters are
/// looked up partly directly: they must still select what the whole query selects.
#[test]
fn split_lookup_agrees_with_jsonpath() {
    let objects = [
        widget(),
        json!({"status": {"conditions": "none"}}),
        json!([]),
    ];
    for src in [
        ".status.conditions[?@.type=='Ready'].status",
        ".status.conditions[*].type",
        ".spec.ports[?@.port == $.spec.wantedPort].name",
        ".spec.ports[?@.port > 100 || @.name == 'http'].name",
        ".spec.tags[1:]",
        ".spec.tags[-2:]",
        ".spec..port",
        "..name",
        ".metadata.labels.*",
        ".spec.ports[*]['name','port']",
        "$[*]",
    ] {
        let expr = compile(src);
        let path = &expr.paths[0];
        assert!(!path.is_direct(), "`{src}`");
        let query = rfc_query(src);
        for obj in &objects {
            let expected = obj.query(&query).expect("valid query");
            assert_eq!(path.select(obj), expected, "`{src}` as `{query}`");
        }
    }
}

/// Wildcards and filters we evaluate in place must select what jsonpath-rust
/// selects for the whole query, quirks included.
#[test]
fn in_place_filters_agree_with_jsonpath() {
    let items = json!([
        {"type": "Ready", "status": "True", "n": 3, "f": 3.0, "s": "b", "nul": null,
         "arr": [1, 2], "obj": {"k": "v"}, "text": "a\rb", "p": 0.30000000000000004},
        {"type": "Ready", "status": "False", "n": 4.5, "s": "a", "arr": [1.0, 2], "text": "a-b"},
        {"type": "Available", "n": "3", "s": 1, "nul": false, "text": "web-1"},
        {"n": 18446744073709551615u64, "text": "x.y\n"},
        "scalar", 7, null, [1, 2], {}
    ]);
    let members = json!({"a": {"type": "Ready", "n": 1}, "b": {"n": 2}, "c": 5, "d": "Ready"});
    let objects = [
        json!({"items": items, "members": members, "want": 3}),
        json!({"items": members, "members": items, "want": 4.5}),
        json!({"items": "none", "members": null}),
        json!([]),
    ];
    let filters = [
        "@.type=='Ready'",
        "@.type==Ready && @.status!='True'",
        "@.status != 'True'",
        "!(@.status == 'True')",
        "@.n == 3",
        "@.n == 3.0",
        "@.n == '3'",
        "@.f == 3",
        "@.p == 0.3",
        "@.n == 1.8446744073709552e19",
        "@.n > 3",
        "@.n >= 3",
        "@.n < 4",
        "@.n <= 3",
        "@.s < 'b'",
        "@.s >= 'a'",
        "@.s < 2",
        "@.nul",
        "!@.nul",
        "@.nul == null",
        "@.nul == false",
        "@.missing == null",
        "@.missing == @.other",
        "@.missing != @.other",
        "@.missing >= @.other",
        "@.missing <= 1",
        "@.arr == @.arr",
        "@.arr[0] == 1",
        "@.arr[-1] == 2",
        "@.arr[-3] == 1",
        "@.obj.k == v",
        "@.obj == @.obj",
        "@ == 7",
        "@ == 'scalar'",
        "@ == Ready",
        "@",
        "@.n == $.want",
        "$.want == 3",
        "$.items[0].n == @.n",
        "@.text =~ 'a.b'",
        "@.text =~ '^web-[0-9]+$'",
        "@.text =~ '[.]'",
        "@.text =~ 'x\\.y.'",
        "@.text !~ 'web'",
        "@.n =~ '3'",
        "@.n !~ '3'",
        "@.type == 'Ready' || @.n > 4",
        "(@.type == 'Ready' || @.type == 'Available') && !@.status",
    ];
    for filter in filters {
        for shape in [
            ".items[?{f}]",
            ".items[?{f}].n",
            ".members[?{f}]",
            ".items[?{f}][?{f}]",
            ".items[?{f}][*]",
        ] {
            let src = shape.replace("{f}", filter);
            let expr = compile(&src);
            let path = &expr.paths[0];
            assert!(
                !path.uses_jsonpath(),
                "`{src}` should be evaluated in place"
            );
            let query = rfc_query(&src);
            for obj in &objects {
                let expected = obj.query(&query).expect("valid query");
                assert_eq!(path.select(obj), expected, "`{src}` as `{query}`");
                assert_eq!(
                    expr.eval(obj),
                    expected.iter().any(|v| !v.is_null()),
                    "`{src}`"
                );
            }
        }
    }
    // What stays with jsonpath-rust.
    for src in [
        ".items[?length(@.s) == 1]",
        ".items[0:2]",
        ".items..n",
        ".items[*]['n','s']",
        ".items[?@.arr[*]]",
    ] {
        assert!(compile(src).paths[0].uses_jsonpath(), "`{src}`");
    }
}

#[test]
fn paths_translate_to_rfc9535_queries() {
    for (src, query) in [
        (".a.b", "$['a']['b']"),
        ("$.a[0]", "$['a'][0]"),
        (".a['x.y/z']", "$['a']['x.y/z']"),
        (".a[\"it's\"]", "$['a']['it\\'s']"),
        (".a[*].b", "$['a'][*]['b']"),
        (".a.*", "$['a'][*]"),
        (".a[1:3]", "$['a'][1:3]"),
        (".a..b", "$['a']..['b']"),
        (
            ".a[?@.type=='Ready'].status",
            "$['a'][?@['type'] == 'Ready']['status']",
        ),
        (
            ".a[?@.x && !(@.y > 1 || @.z)]",
            "$['a'][?@['x'] && !(@['y'] > 1 || @['z'])]",
        ),
        (".a[?@.n =~ '^x']", "$['a'][?search(@['n'], '^x')]"),
    ] {
        let expr = format!("{src} == 1");
        compile(&expr);
        assert_eq!(rfc_query(&expr), query, "`{src}`");
    }
}

// ---- parse errors --------------------------------------------------------

#[test]
fn single_equals_renders_with_caret_and_hint() {
    let src = ".status.ready = true";
    let err = assert_error(src, "= true", "did you mean `==`?");
    assert_eq!(
        err.render(src),
        "invalid expression: expected a comparison operator or `&&`/`||`, found `=` (column 15)\n  \
         .status.ready = true\n                ^ did you mean `==`?"
    );
    assert_eq!(
        err.to_string(),
        "invalid expression: expected a comparison operator or `&&`/`||`, found `=` (column 15)"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.to_string().ends_with("(column 15)"));
    assert_error("(.a = 1)", "=", "`==`");
    assert_error(".a[?@.b = 1]", "=", "`==`");
}

#[test]
fn triple_equals_and_single_ampersand_or_pipe() {
    assert_error(".a === 1", "===", "`==`");
    assert_error(".a !== 1", "!==", "`!=`");
    assert_error(".a & .b", "&", "`&&`");
    assert_error(".a | .b", "|", "`||`");
}

#[test]
fn english_logic_words_suggest_operators() {
    let err = assert_error(".a == 1 and .b == 2", "and", "`&&`");
    assert!(err.message.contains("found `and`"), "{}", err.message);
    assert_error(".a == 1 or .b == 2", "or", "`||`");
    assert_error(".a AND .b", "AND", "`&&`");
    assert_error("not .spec.paused", "not", "`!`");
}

#[test]
fn unquoted_key_with_a_dash_suggests_brackets() {
    let err = assert_error(
        ".metadata.labels.app-name == shop",
        "-",
        "`.metadata.labels['app-name']`",
    );
    assert!(err.message.contains("`app-name`"), "{}", err.message);
    assert_error(".app-name", "-", "`.['app-name']`");
    assert_error("$.a.b-c-d.e", "-", "`$.a['b-c-d']`");
    assert_error(".metadata.labels[app-name]", "app-name", "`['app-name']`");
    assert_error(".metadata.labels.app.kubernetes.io/name", "/", "brackets");
}

#[test]
fn unbalanced_parentheses_brackets_and_quotes() {
    assert_error("(.a == 1 && .b", "(", "add `)`");
    assert_error("((.a == 1) || .b", "(", "add `)`");
    assert_error(".a == 1)", ")", "unbalanced");
    assert_error(".a['x' == 1", "==", "add `]`");
    assert_error(".a['x'", "[", "add `]`");
    assert_error(".a[0", "[", "add `]`");
    assert_error(".a[?@.b == 1", "[", "add `]`");
    assert_error(".a] == 1", "]", "unbalanced");
    assert_error(".a == 'foo", "'", "closing `'`");
    assert_error(".a == \"foo", "\"", "closing `\"`");
    assert_error(".a['foo] == 1", "'", "closing `'`");
}

#[test]
fn empty_expression() {
    for src in ["", "   "] {
        let err = parse_err(src);
        assert_eq!(err.message, "empty expression");
        assert_eq!(err.column, 1);
        assert!(err.hint.unwrap().contains(".status.ready == true"));
    }
    assert_error("()", ")", "unbalanced");
}

#[test]
fn trailing_garbage() {
    let err = assert_error(".a == 1 2", "2", "`&&` or `||`");
    assert_eq!(
        err.message,
        "expected `&&`/`||` or the end of the expression, found `2`"
    );
    assert_error(".a == 1 .b == 2", ".b", "`&&` or `||`");
    assert_error(".a .b", ".b", "`&&` or `||`");
}

#[test]
fn a_path_must_start_with_a_dot() {
    let err = assert_error(
        "status.ready == true",
        "status",
        "paths start with `.`: `.status.ready`",
    );
    assert!(
        err.message
            .contains("expected a path, found `status.ready`"),
        "{}",
        err.message
    );
    assert_error("@.status.ready", "@", "`.status.ready`");
    assert_error(".a[?.b == 1]", ".b", "`@.b`");
}

#[test]
fn other_mistakes_are_explained() {
    let err = parse_err(".a ==");
    assert_eq!(
        err.message,
        "expected a value after `==`, found the end of the expression"
    );
    assert_eq!(err.column, 6);
    assert_error("!.a == 1", "!", "`!(.a == 1)`");
    assert_error(".version == 1.2.3", "1.2.3", "'1.2.3'");
    assert_error(".age > 5m", "5m", "'5m'");
    assert_error(".a =~ ^web-", "^", "quote the regex: '^web-'");
    assert_error(".a[?foo(@.b)]", "foo", "length()");
    assert_error(".a =~ web", "web", "quote the regex");
    assert_error("1 == 1", "1", "paths start with `.`");
    assert_error("true", "true", ".status.ready == true");
    let err = parse_err(".a.");
    assert_eq!(
        err.message,
        "expected a key after `.`, found the end of the expression"
    );
    assert_eq!(err.column, 4);
    assert_error(".a[]", "]", "`[0]`");
    assert_error(".a[?@.b[*] == 1]", "@.b", "keys and indices");
    assert_error("'x' =~ 'y'", "'x'", "");
}

#[test]
fn absurd_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}.a{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_err(&deep).message.contains("nested"));
    assert!(parse_err(&"!".repeat(10_000)).message.contains("nested"));
    assert!(holds(&format!(
        "{}.status.ready{}",
        "(".repeat(30),
        ")".repeat(30)
    )));
}

#[test]
fn columns_count_characters_not_bytes() {
    let src = ".metadata.labels['ключ'] = 'значение'";
    let err = assert_error(src, "= '", "`==`");
    assert_eq!(err.column, 26);
    assert_error(".héllo.wörld-x", "-", "`.héllo['wörld-x']`");
}

#[test]
fn clauses_show_each_leaf_with_the_values_seen() {
    let obj = json!({"status": {"ready": false, "phase": "Pending"}, "spec": {"size": 2}});
    let e = compile(
        ".status.ready == true && (.spec.size >= 3 || !.status.message) && .status.phase =~ '^Run'",
    );
    let got: Vec<(String, Vec<Value>, String, bool)> = e
        .clauses(&obj)
        .into_iter()
        .map(|c| (c.path, c.seen, c.wants, c.holds))
        .collect();
    assert_eq!(
        got,
        [
            (
                ".status.ready".into(),
                vec![json!(false)],
                "== true".into(),
                false
            ),
            (".spec.size".into(), vec![json!(2)], ">= 3".into(), false),
            (".status.message".into(), vec![], "absent".into(), true),
            (
                ".status.phase".into(),
                vec![json!("Pending")],
                "=~ \"^Run\"".into(),
                false
            ),
        ]
    );
    let negated = compile("!(.status.phase == Pending)");
    let [c] = negated.clauses(&obj).try_into().unwrap();
    assert_eq!((c.wants.as_str(), c.holds), ("not == \"Pending\"", false));
}

#[test]
fn a_lone_path_of_keys_and_indices_puts_a_value_back_or_removes_it() {
    let mut obj = json!({"spec": {"size": 2, "ports": [80, 443]}});
    assert!(compile(".spec.size").put(&mut obj, Some(json!(1))));
    assert!(compile(".metadata.labels['app.io/x']").put(&mut obj, Some(json!("y"))));
    assert!(compile(".spec.ports[-1]").put(&mut obj, Some(json!(8443))));
    assert!(compile(".spec.gone").put(&mut obj, None));
    assert_eq!(
        obj,
        json!({"spec": {"size": 1, "ports": [80, 8443]}, "metadata": {"labels": {"app.io/x": "y"}}})
    );
    assert!(compile(".spec.size").put(&mut obj, None));
    assert_eq!(obj["spec"].get("size"), None);
    assert!(
        !compile(".spec.ports[*]").put(&mut obj, Some(json!(1))),
        "a wildcard"
    );
    assert!(
        !compile(".spec.ports[7]").put(&mut obj, Some(json!(1))),
        "no such item"
    );
    assert!(
        !compile(".spec.size == 1").put(&mut obj, Some(json!(1))),
        "not a path"
    );
}
