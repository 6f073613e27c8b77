//! krew packaging: `plugin.yaml` and the krew-release-bot template
//! `krew/notify.yaml` (rendered as the bot renders it) checked against krew's
//! own validation rules (pkg/index/validation and validate-krew-manifest in
//! kubernetes-sigs/krew), and the host archive built by `scripts/release`
//! installed the way krew installs it.
//!
//! The archive test runs one release build (`scripts/release` for the host
//! target, into `target/release`); it works on copies of `plugin.yaml` and
//! `dist/` in a temp dir, so the checked-in files are never touched.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;
use serde_json::Value;

const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";
const PLUGIN: &str = "notify";
const HOMEPAGE: &str = "https://github.com/kubectl-notify/kubectl-notify";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The platforms we publish: os, arch, Rust target.
const RELEASES: [(&str, &str, &str); 4] = [
    ("linux", "amd64", "x86_64-unknown-linux-musl"),
    ("linux", "arm64", "aarch64-unknown-linux-musl"),
    ("darwin", "amd64", "x86_64-apple-darwin"),
    ("darwin", "arm64", "aarch64-apple-darwin"),
];

/// os/arch pairs that selectors are checked against for overlaps and for
/// matching something real (validate-krew-manifest's list, and more).
const KNOWN_OS: [&str; 4] = ["linux", "darwin", "windows", "freebsd"];
const KNOWN_ARCH: [&str; 7] = [
    "amd64", "arm64", "386", "arm", "ppc64le", "s390x", "riscv64",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tag() -> String {
    format!("v{VERSION}")
}

fn archive_name(target: &str) -> String {
    let ext = if target.contains("windows") {
        "zip"
    } else {
        "tar.gz"
    };
    format!("kubectl-notify-{target}.{ext}")
}

fn release_uri(version: &str, target: &str) -> String {
    format!(
        "{HOMEPAGE}/releases/download/{version}/{}",
        archive_name(target)
    )
}

fn parse_yaml(what: &str, text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text)
        .unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// krew's validation rules

/// krew's `IsSafePluginName`.
fn is_safe_plugin_name(name: &str) -> bool {
    const WINDOWS_FORBIDDEN: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    Regex::new(r"^[\w-]+$").unwrap().is_match(name)
        && !WINDOWS_FORBIDDEN
            .iter()
            .any(|f| f.eq_ignore_ascii_case(name))
}

/// krew's `semver.Parse`: a leading `v`, then a semantic version
/// (k8s.io/apimachinery's ParseSemantic: exactly three numeric components
/// without leading zeros, optional pre-release and build metadata).
fn is_krew_semver(version: &str) -> bool {
    Regex::new(
        r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$",
    )
    .unwrap()
    .is_match(version)
}

/// validate-krew-manifest's `validateLineLength`: lines longer than `max`
/// are allowed only if they are one word.
fn line_lengths_ok(text: &str, max: usize) -> bool {
    text.split('\n')
        .all(|line| line.chars().count() <= max || !line.trim().contains(' '))
}

/// Go's `filepath.Clean(p) == p` for the relative slash paths of `files[].to`.
fn is_clean_path(p: &str) -> bool {
    if p == "." {
        return true;
    }
    !p.is_empty()
        && !p.ends_with('/')
        && !p
            .split('/')
            .skip(usize::from(p.starts_with('/')))
            .any(|c| c.is_empty() || c == "." || c == "..")
}

/// A string field: absent is "", anything but a string is an error (krew
/// decodes the YAML through JSON into Go string fields).
fn string_field(errors: &mut Vec<String>, at: &str, obj: &Value, key: &str) -> String {
    match obj.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            errors.push(format!("{at}.{key} must be a string, is {other}"));
            String::new()
        }
    }
}

fn check_keys(errors: &mut Vec<String>, at: &str, obj: &Value, allowed: &[&str]) {
    match obj.as_object() {
        Some(map) => {
            for key in map.keys() {
                if !allowed.contains(&key.as_str()) {
                    errors.push(format!("{at}: unknown field {key:?} (known: {allowed:?})"));
                }
            }
        }
        None => errors.push(format!("{at} must be a mapping, is {obj}")),
    }
}

/// Does a krew platform selector (a metav1.LabelSelector) match os/arch?
fn selector_matches(selector: &Value, os: &str, arch: &str) -> bool {
    let label = |key: &str| match key {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, want) in labels {
            if label(key) != want.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for expr in exprs {
            let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = expr
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = label(key);
            let ok = match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => have.is_some_and(|h| values.contains(&h)),
                "NotIn" => !have.is_some_and(|h| values.contains(&h)),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// krew's `validateSelector`.
fn validate_selector(errors: &mut Vec<String>, at: &str, selector: Option<&Value>) {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        errors.push(format!("{at}: nil selector is not supported"));
        return;
    };
    check_keys(errors, at, selector, &["matchLabels", "matchExpressions"]);
    let labels = selector.get("matchLabels").filter(|v| !v.is_null());
    let exprs = selector.get("matchExpressions").filter(|v| !v.is_null());
    let exprs_len = exprs.and_then(Value::as_array).map_or(0, Vec::len);
    if labels.is_none() && exprs_len == 0 {
        errors.push(format!("{at}: empty selector is not supported"));
    }
    let mut keys = Vec::new();
    if let Some(labels) = labels {
        match labels.as_object() {
            Some(map) if map.is_empty() => {
                errors.push(format!("{at}: matchLabels specified but empty"))
            }
            Some(map) => {
                for (key, value) in map {
                    keys.push(key.clone());
                    if !value.is_string() {
                        errors.push(format!("{at}.matchLabels.{key} must be a string"));
                    }
                }
            }
            None => errors.push(format!("{at}.matchLabels must be a mapping")),
        }
    }
    if let Some(exprs) = exprs {
        match exprs.as_array() {
            Some(list) if list.is_empty() => {
                errors.push(format!("{at}: matchExpressions specified but empty"))
            }
            Some(list) => {
                for (i, expr) in list.iter().enumerate() {
                    keys.push(
                        expr.get("key")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    );
                    let op = expr.get("operator").and_then(Value::as_str).unwrap_or("");
                    if !["In", "NotIn", "Exists", "DoesNotExist"].contains(&op) {
                        errors.push(format!("{at}.matchExpressions[{i}]: bad operator {op:?}"));
                    }
                }
            }
            None => errors.push(format!("{at}.matchExpressions must be a list")),
        }
    }
    for key in keys {
        if key != "os" && key != "arch" {
            errors.push(format!("{at}: key {key:?} not supported"));
        }
    }
}

/// Every rule of krew's `ValidatePlugin` (and validate-krew-manifest's
/// extra checks: overlapping selectors, selectors that match no platform,
/// clean `to` paths, line lengths), plus this project's own: the plugin is
/// `notify` at Cargo.toml's version, short description at most 50
/// characters, homepage the GitHub repository (krew-release-bot's ownership
/// check), our five os/arch pairs each served by exactly one platform, and
/// no unknown fields. Returns every problem found.
fn validate_manifest(name_from_file: &str, doc: &Value) -> Vec<String> {
    let mut e = Vec::new();
    let errors = &mut e;
    check_keys(
        errors,
        "manifest",
        doc,
        &["apiVersion", "kind", "metadata", "spec"],
    );

    let api_version = string_field(errors, "manifest", doc, "apiVersion");
    if api_version != API_VERSION {
        errors.push(format!(
            "apiVersion is {api_version:?}, krew supports only {API_VERSION:?}"
        ));
    }
    let kind = string_field(errors, "manifest", doc, "kind");
    if kind != "Plugin" {
        errors.push(format!("kind is {kind:?}, must be \"Plugin\""));
    }
    if !is_safe_plugin_name(name_from_file) {
        errors.push(format!(
            "plugin name {name_from_file:?} is not allowed, must match ^[\\w-]+$"
        ));
    }
    let metadata = doc.get("metadata").cloned().unwrap_or(Value::Null);
    let name = string_field(errors, "metadata", &metadata, "name");
    if name != name_from_file {
        errors.push(format!(
            "plugin should be named {name_from_file:?}, not {name:?}"
        ));
    }
    if name != PLUGIN {
        errors.push(format!("metadata.name is {name:?}, must be {PLUGIN:?}"));
    }

    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        errors.push("spec is missing or not a mapping".into());
        return e;
    };
    check_keys(
        errors,
        "spec",
        spec,
        &[
            "version",
            "shortDescription",
            "description",
            "caveats",
            "homepage",
            "platforms",
        ],
    );

    let short = string_field(errors, "spec", spec, "shortDescription");
    if short.is_empty() {
        errors.push("should have a short description".into());
    }
    if short.contains(['\r', '\n']) {
        errors.push("should not have line breaks in short description".into());
    }
    if short.chars().count() > 50 {
        errors.push(format!(
            "shortDescription has {} characters, at most 50: {short:?}",
            short.chars().count()
        ));
    }
    if !line_lengths_ok(&short, 70) {
        errors.push("line length in shortDescription exceeds 70 characters".into());
    }
    let description = string_field(errors, "spec", spec, "description");
    if description.trim().is_empty() {
        errors.push("description is empty".into());
    }
    if !line_lengths_ok(&description, 80) {
        errors.push("line length in description exceeds 80 characters".into());
    }
    let caveats = string_field(errors, "spec", spec, "caveats");
    if !line_lengths_ok(&caveats, 80) {
        errors.push("line length in caveats exceeds 80 characters".into());
    }
    let homepage = string_field(errors, "spec", spec, "homepage");
    if homepage != HOMEPAGE {
        errors.push(format!("homepage is {homepage:?}, must be {HOMEPAGE:?}"));
    }

    let version = string_field(errors, "spec", spec, "version");
    if version.is_empty() {
        errors.push("should have a version specified".into());
    } else if !is_krew_semver(&version) {
        errors.push(format!(
            "failed to parse plugin version {version:?} (vMAJOR.MINOR.PATCH)"
        ));
    }
    if version != tag() {
        errors.push(format!(
            "spec.version is {version:?}, Cargo.toml says {:?}",
            tag()
        ));
    }

    let platforms = match spec.get("platforms") {
        Some(Value::Array(list)) => list.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            errors.push(format!("spec.platforms must be a list, is {other}"));
            Vec::new()
        }
    };
    if platforms.is_empty() {
        errors.push("should have a platform specified".into());
    }
    let valid_sha256 = Regex::new("^[a-f0-9]{64}$").unwrap();
    for (i, platform) in platforms.iter().enumerate() {
        let at = format!("spec.platforms[{i}]");
        check_keys(
            errors,
            &at,
            platform,
            &["uri", "sha256", "selector", "files", "bin", "license"],
        );
        if string_field(errors, &at, platform, "uri").is_empty() {
            errors.push(format!("{at}: `uri` has to be set"));
        }
        let sha = string_field(errors, &at, platform, "sha256");
        if sha.is_empty() {
            errors.push(format!("{at}: `sha256` sum has to be set"));
        } else if !valid_sha256.is_match(&sha) {
            errors.push(format!(
                "{at}: `sha256` value {sha} is not valid, must match ^[a-f0-9]{{64}}$"
            ));
        }
        if string_field(errors, &at, platform, "bin").is_empty() {
            errors.push(format!("{at}: `bin` has to be set"));
        }
        match platform.get("files") {
            None | Some(Value::Null) => {
                errors.push(format!("{at}: `files` missing (we always list them)"))
            }
            Some(Value::Array(ops)) if ops.is_empty() => {
                errors.push(format!("{at}: `files` has to be unspecified or non-empty"))
            }
            Some(Value::Array(ops)) => {
                for (j, op) in ops.iter().enumerate() {
                    let at = format!("{at}.files[{j}]");
                    check_keys(errors, &at, op, &["from", "to"]);
                    if string_field(errors, &at, op, "from").is_empty() {
                        errors.push(format!("{at}: `from` field has to be set"));
                    }
                    let to = string_field(errors, &at, op, "to");
                    if to.is_empty() {
                        errors.push(format!("{at}: `to` field has to be set"));
                    } else if !is_clean_path(&to) {
                        errors.push(format!("{at}: the path {to:?} is not clean"));
                    }
                }
            }
            Some(other) => errors.push(format!("{at}.files must be a list, is {other}")),
        }
        validate_selector(errors, &format!("{at}.selector"), platform.get("selector"));
        let selector = platform.get("selector").cloned().unwrap_or(Value::Null);
        let matches_any = KNOWN_OS.iter().any(|os| {
            KNOWN_ARCH
                .iter()
                .any(|arch| selector_matches(&selector, os, arch))
        });
        if !matches_any {
            errors.push(format!("{at}: selector matches no supported platform"));
        }
    }

    // No supported os/arch pair is matched by two platforms.
    for os in KNOWN_OS {
        for arch in KNOWN_ARCH {
            let hits: Vec<usize> = platforms
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    selector_matches(p.get("selector").unwrap_or(&Value::Null), os, arch)
                })
                .map(|(i, _)| i)
                .collect();
            if hits.len() > 1 {
                errors.push(format!(
                    "platforms {hits:?} overlap: all select os={os}/arch={arch}"
                ));
            }
        }
    }

    // Ours: each release pair served, by the right binary, with LICENSE.
    for (os, arch, target) in RELEASES {
        let Some(platform) = platforms
            .iter()
            .find(|p| selector_matches(p.get("selector").unwrap_or(&Value::Null), os, arch))
        else {
            errors.push(format!("no platform for os={os}/arch={arch}"));
            continue;
        };
        let exe = if os == "windows" {
            "kubectl-notify.exe"
        } else {
            "kubectl-notify"
        };
        if platform.get("bin").and_then(Value::as_str) != Some(exe) {
            errors.push(format!("{os}/{arch}: bin must be {exe}"));
        }
        let uri = platform.get("uri").and_then(Value::as_str).unwrap_or("");
        if !uri.starts_with(&format!(
            "{HOMEPAGE}/releases/download/{version}/kubectl-notify-"
        )) {
            errors.push(format!(
                "{os}/{arch}: uri {uri} is not a {version} release asset"
            ));
        }
        let ext = if os == "windows" { ".zip" } else { ".tar.gz" };
        if !uri.ends_with(ext) {
            errors.push(format!(
                "{os}/{arch}: uri {uri} must be a {ext} (for {target})"
            ));
        }
        let ops: Vec<(String, String)> = platform
            .get("files")
            .and_then(Value::as_array)
            .map(|ops| {
                ops.iter()
                    .map(|op| {
                        let s = |k| op.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        (s("from"), s("to"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (from, to) in [
            (exe, "."),
            ("LICENSE", "."),
            ("completions/*", "completions"),
        ] {
            if !ops.iter().any(|(f, t)| f == from && t == to) {
                errors.push(format!(
                    "{os}/{arch}: files must include from: {from}, to: {to}"
                ));
            }
        }
    }
    e
}

fn assert_valid(what: &str, name_from_file: &str, doc: &Value) {
    let errors = validate_manifest(name_from_file, doc);
    assert!(
        errors.is_empty(),
        "{what} breaks krew's rules:\n  {}",
        errors.join("\n  ")
    );
}

/// The release platform of `doc` for os/arch: the first whose selector
/// matches, as krew picks it.
fn platform_for<'a>(doc: &'a Value, os: &str, arch: &str) -> &'a Value {
    doc["spec"]["platforms"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|p| selector_matches(&p["selector"], os, arch))
        })
        .unwrap_or_else(|| panic!("no platform for {os}/{arch}"))
}

// ---------------------------------------------------------------------------
// krew-release-bot's rendering

/// Renders the template as krew-release-bot does for `tag`: `{{ .TagName }}`
/// becomes the tag, and `{{addURIAndSha "URL" .TagName | indent N}}` the
/// bot's `uri: URL` / `sha256: SHA` pair (fixShaIndentation, then indent,
/// whose TrimSpace leaves the first line where the template put it).
fn render_template(template: &str, tag: &str) -> (String, Vec<String>) {
    let tag_name = Regex::new(r"\{\{-?\s*\.TagName\s*-?\}\}").unwrap();
    let add = Regex::new(
        r#"\{\{-?\s*addURIAndSha\s+"((?:[^"\\]|\\.)*)"\s+\.TagName\s*\|\s*indent\s+(\d+)\s*-?\}\}"#,
    )
    .unwrap();
    let mut uris = Vec::new();
    let mut n = 0;
    let rendered = add.replace_all(template, |c: &regex::Captures| {
        let url = tag_name.replace_all(&c[1], tag).into_owned();
        n += 1;
        let sha = format!("{}{n:x}", "a".repeat(63));
        let value = format!("uri: {url}\n    sha256: {sha}").replace("    sha256:", "sha256:");
        let pad = " ".repeat(c[2].parse().unwrap());
        uris.push(url);
        format!("{pad}{}", value.replace('\n', &format!("\n{pad}")))
            .trim()
            .to_string()
    });
    let rendered = tag_name.replace_all(&rendered, tag).into_owned();
    assert!(
        !rendered.contains("{{") && !rendered.contains("}}"),
        "krew/notify.yaml has template actions this test (and maybe the bot) does not know:\n{rendered}"
    );
    (rendered, uris)
}

/// The manifest with every platform's uri and sha256 removed.
fn without_assets(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if let Some(list) = doc["spec"]["platforms"].as_array_mut() {
        for platform in list {
            if let Some(map) = platform.as_object_mut() {
                map.remove("uri");
                map.remove("sha256");
            }
        }
    }
    doc
}

// ---------------------------------------------------------------------------
// the manifests

#[test]
fn plugin_yaml_is_a_valid_krew_manifest() {
    let doc = parse_yaml("plugin.yaml", &read(&root().join("plugin.yaml")));
    // krew-index names the file after the plugin; plugin.yaml is installed
    // with --manifest, so the plugin name is its own.
    assert_valid("plugin.yaml", PLUGIN, &doc);
    for (os, arch, target) in RELEASES {
        let uri = platform_for(&doc, os, arch)["uri"].as_str().unwrap();
        assert_eq!(
            uri,
            release_uri(&tag(), target),
            "plugin.yaml's {os}/{arch} uri"
        );
    }
}

#[test]
fn krew_index_template_renders_to_a_valid_manifest() {
    let path = root().join("krew").join(format!("{PLUGIN}.yaml"));
    let template = read(&path);
    for target in RELEASES.map(|r| r.2) {
        let url = release_uri("{{ .TagName }}", target);
        assert!(
            template.contains(&format!(
                "{{{{addURIAndSha \"{url}\" .TagName | indent 6}}}}"
            )),
            "krew/notify.yaml has no addURIAndSha for {url}"
        );
    }
    let (rendered, uris) = render_template(&template, &tag());
    assert_eq!(
        uris,
        RELEASES.map(|r| release_uri(&tag(), r.2)).to_vec(),
        "rendered asset URLs"
    );
    let name_from_file = path.file_stem().unwrap().to_str().unwrap();
    let doc = parse_yaml("rendered krew/notify.yaml", &rendered);
    assert_valid(
        "krew/notify.yaml rendered for the release tag",
        name_from_file,
        &doc,
    );
    for (os, arch, target) in RELEASES {
        let platform = platform_for(&doc, os, arch);
        assert_eq!(
            platform["uri"].as_str().unwrap(),
            release_uri(&tag(), target)
        );
        assert_eq!(platform["sha256"].as_str().unwrap().len(), 64);
    }

    // Everything but the assets is the same as plugin.yaml.
    let plugin = parse_yaml("plugin.yaml", &read(&root().join("plugin.yaml")));
    assert_eq!(
        without_assets(&doc),
        without_assets(&plugin),
        "krew/notify.yaml and plugin.yaml differ in more than uri/sha256"
    );
}

#[test]
fn the_validator_rejects_what_krew_rejects() {
    let good = parse_yaml("plugin.yaml", &read(&root().join("plugin.yaml")));
    assert_valid("plugin.yaml", PLUGIN, &good);
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut doc = good.clone();
        edit(&mut doc);
        validate_manifest(PLUGIN, &doc)
    };
    fn p0(doc: &mut Value) -> &mut Value {
        &mut doc["spec"]["platforms"][0]
    }
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "apiVersion",
            Box::new(|d| d["apiVersion"] = "krew.googlecontainertools.github.com/v1alpha1".into()),
        ),
        ("kind", Box::new(|d| d["kind"] = "Plugins".into())),
        (
            "name",
            Box::new(|d| d["metadata"]["name"] = "kubectl-notify".into()),
        ),
        (
            "version without v",
            Box::new(|d| d["spec"]["version"] = VERSION.into()),
        ),
        (
            "version not semver",
            Box::new(|d| d["spec"]["version"] = "v1.2".into()),
        ),
        (
            "short description empty",
            Box::new(|d| d["spec"]["shortDescription"] = "".into()),
        ),
        (
            "short description lines",
            Box::new(|d| d["spec"]["shortDescription"] = "a\nb".into()),
        ),
        (
            "short description long",
            Box::new(|d| d["spec"]["shortDescription"] = "x".repeat(51).into()),
        ),
        (
            "no platforms",
            Box::new(|d| d["spec"]["platforms"] = Value::Array(vec![])),
        ),
        (
            "sha256 upper case",
            Box::new(|d| p0(d)["sha256"] = "A".repeat(64).into()),
        ),
        ("sha256 a number", Box::new(|d| p0(d)["sha256"] = 0.into())),
        ("no uri", Box::new(|d| p0(d)["uri"] = "".into())),
        (
            "no bin",
            Box::new(|d| drop(p0(d).as_object_mut().unwrap().remove("bin"))),
        ),
        (
            "files empty",
            Box::new(|d| p0(d)["files"] = Value::Array(vec![])),
        ),
        (
            "files to missing",
            Box::new(|d| p0(d)["files"][0]["to"] = "".into()),
        ),
        (
            "files from missing",
            Box::new(|d| p0(d)["files"][0]["from"] = Value::Null),
        ),
        (
            "unclean to",
            Box::new(|d| p0(d)["files"][0]["to"] = "./bin/".into()),
        ),
        (
            "no selector",
            Box::new(|d| drop(p0(d).as_object_mut().unwrap().remove("selector"))),
        ),
        (
            "selector key",
            Box::new(|d| p0(d)["selector"]["matchLabels"]["libc"] = "musl".into()),
        ),
        (
            "empty matchLabels",
            Box::new(|d| p0(d)["selector"]["matchLabels"] = serde_json::json!({})),
        ),
        (
            "overlap",
            Box::new(|d| p0(d)["selector"] = serde_json::json!({"matchLabels": {"os": "linux"}})),
        ),
        (
            "missing pair",
            Box::new(|d| drop(d["spec"]["platforms"].as_array_mut().unwrap().pop())),
        ),
    ];
    for (what, edit) in cases {
        assert!(
            !broken(&*edit).is_empty(),
            "the validator accepts a manifest with a bad {what}"
        );
    }
    assert!(
        !validate_manifest("con", &good).is_empty(),
        "the validator accepts the name CON"
    );

    // An unquoted all-digit sha256 is a YAML number, which krew cannot
    // decode into its string field.
    let zeros = "0".repeat(64);
    let text = read(&root().join("plugin.yaml"));
    let text = Regex::new(r"(?m)^( +)sha256: .*$")
        .unwrap()
        .replace(&text, format!("${{1}}sha256: {zeros}"));
    assert!(text.contains(&format!("sha256: {zeros}\n")));
    if let Ok(doc) = serde_saphyr::from_str::<Value>(&text) {
        assert!(
            !validate_manifest(PLUGIN, &doc).is_empty(),
            "the validator accepts a numeric sha256"
        );
    }
}

// ---------------------------------------------------------------------------
// the host archive

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn host_target() -> String {
    run(Command::new("rustc").arg("-vV"))
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .trim()
        .to_string()
}

/// os/arch of a Rust target, in krew's (Go's) words.
fn krew_os_arch(target: &str) -> (&'static str, &'static str) {
    let arch = match target.split('-').next().unwrap() {
        "x86_64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "i686" | "i586" => "386",
        other => panic!("no krew arch for {other} ({target})"),
    };
    let os = if target.contains("-linux-") {
        "linux"
    } else if target.contains("-apple-darwin") {
        "darwin"
    } else if target.contains("-windows-") {
        "windows"
    } else {
        panic!("no krew os for {target}")
    };
    (os, arch)
}

/// sha256 of a file, by the system's tool (independent of the script's).
fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .or_else(|_| {
            Command::new("shasum")
                .args(["-a", "256"])
                .arg(path)
                .output()
        })
        .expect("sha256sum or shasum is needed");
    assert!(
        out.status.success(),
        "sha256sum {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Go's filepath.Match for one path component: `*`, `?`, literal otherwise.
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        Some(('?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob_match(rest, &name[1..]),
    }
}

/// krew's findMoveTargets + moveFiles for one `files` entry: a `from` that
/// exists moves directly (`to: .` keeps its name); otherwise `from` is a
/// glob and each match moves into the directory `to`.
fn krew_move(from_dir: &Path, to_dir: &Path, from: &str, to: &str) {
    assert!(is_clean_path(to), "files.to {to:?} is not clean");
    assert!(
        !from.split('/').any(|c| c == ".."),
        "files.from {from:?} leaves the archive"
    );
    let direct = from_dir.join(from);
    let moves: Vec<(PathBuf, PathBuf)> = if direct.exists() {
        let target = if to == "." {
            direct.file_name().unwrap().into()
        } else {
            PathBuf::from(to)
        };
        vec![(direct, to_dir.join(target))]
    } else {
        let mut matches = vec![from_dir.to_path_buf()];
        for component in from.split('/') {
            let pattern: Vec<char> = component.chars().collect();
            let mut next = Vec::new();
            for dir in matches.iter().filter(|d| d.is_dir()) {
                for entry in fs::read_dir(dir).unwrap() {
                    let entry = entry.unwrap();
                    let name: Vec<char> = entry.file_name().to_string_lossy().chars().collect();
                    if glob_match(&pattern, &name) {
                        next.push(entry.path());
                    }
                }
            }
            matches = next;
        }
        assert!(
            !matches.is_empty(),
            "no files in the plugin archive matched the glob pattern {from}"
        );
        matches
            .into_iter()
            .map(|m| (m.clone(), to_dir.join(to).join(m.file_name().unwrap())))
            .collect()
    };
    for (src, dst) in moves {
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::rename(&src, &dst)
            .unwrap_or_else(|e| panic!("move {} -> {}: {e}", src.display(), dst.display()));
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        out.push(path.clone());
        if meta.is_dir() {
            walk(&path, out);
        }
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 == 0o111)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[test]
fn host_archive_from_scripts_release_installs_as_krew_would() {
    let root = root();
    let tmp = tempfile::tempdir().unwrap();
    let manifest = tmp.path().join("plugin.yaml");
    let dist = tmp.path().join("dist");
    let checked_in = fs::read(root.join("plugin.yaml")).unwrap();
    fs::write(&manifest, &checked_in).unwrap();

    // One release build: scripts/release for the host target.
    let target = host_target();
    let (os, arch) = krew_os_arch(&target);
    run(Command::new("bash")
        .arg(root.join("scripts").join("release"))
        .env("PLUGIN_YAML", &manifest)
        .env("DIST", &dist)
        .env_remove("CARGO_CMD")
        .current_dir(&root));
    assert_eq!(
        fs::read(root.join("plugin.yaml")).unwrap(),
        checked_in,
        "the script touched the checked-in plugin.yaml"
    );

    let archive = dist.join(archive_name(&target));
    assert!(
        archive.is_file(),
        "scripts/release did not write {}",
        archive.display()
    );
    let names: BTreeSet<String> = fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([archive_name(&target)]),
        "what scripts/release put in DIST"
    );

    // The rewritten manifest: still valid, the host platform pointing at this
    // archive with its sha256, every other platform untouched.
    let before = parse_yaml("plugin.yaml", std::str::from_utf8(&checked_in).unwrap());
    let after = parse_yaml("the rewritten plugin.yaml", &read(&manifest));
    assert_valid("the plugin.yaml scripts/release rewrote", PLUGIN, &after);
    let platform = platform_for(&after, os, arch).clone();
    let sha = sha256_of(&archive);
    assert_eq!(
        platform["sha256"].as_str(),
        Some(sha.as_str()),
        "sha256 in plugin.yaml vs the archive"
    );
    assert_eq!(
        platform["uri"].as_str(),
        Some(release_uri(&tag(), &target).as_str()),
        "uri in plugin.yaml"
    );
    let mut expected = before.clone();
    for p in expected["spec"]["platforms"].as_array_mut().unwrap() {
        if selector_matches(&p["selector"], os, arch) {
            p["uri"] = platform["uri"].clone();
            p["sha256"] = platform["sha256"].clone();
        }
    }
    assert_eq!(
        after, expected,
        "scripts/release changed more than the {os}/{arch} uri and sha256"
    );

    // The archive: no links, everything at the root, modes as krew needs.
    let listing = run(Command::new("tar").arg("-tvf").arg(&archive));
    let exe = platform["bin"].as_str().unwrap().to_string();
    let mut entries = BTreeSet::new();
    for line in listing.lines() {
        let mode = line.split_whitespace().next().unwrap_or("");
        assert!(
            !mode.starts_with(['l', 'h']),
            "a link in the archive: {line}"
        );
        assert!(
            mode.starts_with(['-', 'd']),
            "not a file or directory in the archive: {line}"
        );
        let name = line
            .split_whitespace()
            .last()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        assert!(
            !name.starts_with('/') && !name.split('/').any(|c| c == ".."),
            "unsafe path {name}"
        );
        if name == exe {
            assert!(
                mode.starts_with("-rwx") && mode.ends_with("x"),
                "the binary is not executable in the archive: {line}"
            );
        }
        entries.insert(name);
    }
    for want in [
        exe.as_str(),
        "LICENSE",
        "README.md",
        "completions",
        "completions/kubectl_complete-notify",
    ] {
        assert!(
            entries.contains(want),
            "{want} missing from the archive:\n{listing}"
        );
    }
    assert!(
        entries
            .iter()
            .all(
                |e| [exe.as_str(), "LICENSE", "README.md", "completions"].contains(&e.as_str())
                    || e.starts_with("completions/")
            ),
        "unexpected entries at the archive root:\n{listing}"
    );

    // Unpack and install as krew does: apply files, then bin must exist.
    let staging = tmp.path().join("staging");
    let install = tmp.path().join("store").join(PLUGIN).join(tag());
    fs::create_dir_all(&staging).unwrap();
    fs::create_dir_all(&install).unwrap();
    run(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&staging));
    let mut unpacked = Vec::new();
    walk(&staging, &mut unpacked);
    for path in &unpacked {
        assert!(
            !fs::symlink_metadata(path).unwrap().file_type().is_symlink(),
            "symlink unpacked: {}",
            path.display()
        );
    }
    for op in platform["files"].as_array().unwrap() {
        krew_move(
            &staging,
            &install,
            op["from"].as_str().unwrap(),
            op["to"].as_str().unwrap(),
        );
    }
    let bin = install.join(&exe);
    assert!(
        is_executable(&bin),
        "bin {} is not an executable file after the files moves",
        bin.display()
    );
    let license = install.join("LICENSE");
    assert_eq!(
        fs::read(&license).ok(),
        fs::read(root.join("LICENSE")).ok(),
        "LICENSE installed from the archive"
    );
    let complete = install.join("completions").join("kubectl_complete-notify");
    assert!(
        is_executable(&complete),
        "{} is not executable",
        complete.display()
    );
    for entry in fs::read_dir(root.join("completions")).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            fs::read(install.join("completions").join(&name)).ok(),
            fs::read(root.join("completions").join(&name)).ok(),
            "completions/{} installed from the archive",
            name.to_string_lossy()
        );
    }

    // And it is this version's kubectl-notify.
    let version = run(Command::new(&bin).arg("--version"));
    assert!(
        version.contains(VERSION),
        "{} --version printed {version:?}",
        bin.display()
    );
}
