//! Turns the type a user names (`deploy`, `Widget`, `widgets.v1.example.com`) into one
//! discovered API type, the way kubectl's RESTMapper does, plus our ambiguity rule.
//!
//! Pure: the caller fetches the discovery documents and hands us the bytes.
//!
//! # How a name is resolved
//!
//! The text is lowercased and read like kubectl's `schema.ParseResourceArg`: with two or
//! more dots, `resource.version.group` is tried first (`deployments.v1.apps`); with one or
//! more dots, `resource.group` (everything after the first dot is the group:
//! `storageclasses.storage.k8s.io`); without a dot, the bare name in every group. The
//! stages below are tried in order and the first that matches anything decides:
//!
//! 1. `resource.version.group`: plural or singular, then short name, in that exact group
//!    and version;
//! 2. `resource.group`: plural or singular, then short name, in that exact group; then the
//!    same with the group as a prefix (kubectl's `deploy.app`, `storageclass.storage`);
//! 3. the same readings as a Kind (`Widget.v1.example.com`, `Widget.example.com`, `Widget`).
//!
//! (Without a dot: plural or singular, then short name, then Kind, in every group.) So
//! exact names beat short names, which beat kinds, as with kubectl, whose shortcut expander
//! leaves a name alone when some resource is called that, and which only tries kinds when
//! no resource matched. Every form matches case-insensitively (kubectl lowercases plurals
//! and singulars but takes a Kind only as written or all lowercase).
//!
//! Matches are collapsed per (group, plural); without a version the group's first listed
//! (preferred) version that serves the resource is taken. If several groups remain:
//! - one is the core group: it wins (`pods` stays core even beside a `pods.example.com`
//!   CRD, `events` is core's not `events.k8s.io`'s) — kubectl ranks core first too;
//! - all are built in (no dot in the group, or ending in `.k8s.io`): the first in
//!   discovery order wins, as kubectl picks;
//! - otherwise (a CRD or aggregated API is involved) it is [`ResolveError::Ambiguous`]:
//!   kubectl would pick silently by group priority; we make the user name the group.
//!
//! Subresources (`widgets/status`) are never offered. A resolved type that cannot be
//! listed and watched is [`ResolveError::NotWatchable`].
//!
//! An unknown name gets up to three suggestions, closest first: known plurals, singulars,
//! short names and kinds (qualified with group, and version, when the query was) within a
//! Levenshtein distance of 1 for names of up to 4 characters, else max(2, length / 3) —
//! and, for a qualified query, any type whose name matches exactly in another group.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One resource (in one version of one group) the server serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiType {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub categories: Vec<String>,
}

impl ApiType {
    /// `v1` or `example.com/v1`, as in an object's `apiVersion`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// kubectl's `resource.group`: `widgets.example.com`, `configmaps` for core.
    pub fn qualified(&self) -> String {
        qualify(&self.plural, &self.group)
    }

    /// What kubectl prints before `/name`: `widget.example.com`, `deployment.apps`, `pod`.
    pub fn kind_group(&self) -> String {
        qualify(&self.kind.to_lowercase(), &self.group)
    }

    fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

fn qualify(name: &str, group: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{name}.{group}")
    }
}

/// A group and its versions, preferred first, from a legacy `/apis` or `/api` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupVersions {
    /// `""` for the core group.
    pub group: String,
    pub versions: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("malformed discovery document: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("expected {expected} but got {found}")]
    UnexpectedKind {
        expected: &'static str,
        found: String,
    },
    #[error("malformed groupVersion {0:?}")]
    BadGroupVersion(String),
}

// ---------------------------------------------------------------------------------------
// Discovery documents

/// The `kind` of a document, when it says; lets a legacy answer to an aggregated request
/// be reported as such rather than as an empty list.
fn check_kind(kind: &Option<String>, expected: &[&'static str]) -> Result<(), DiscoveryError> {
    match kind {
        Some(found) if !expected.contains(&found.as_str()) => Err(DiscoveryError::UnexpectedKind {
            expected: expected[0],
            found: found.clone(),
        }),
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
struct AggregatedList {
    kind: Option<String>,
    #[serde(default)]
    items: Vec<AggregatedGroup>,
}

#[derive(Deserialize)]
struct AggregatedGroup {
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    /// Absent for the core group.
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct AggregatedVersion {
    version: String,
    #[serde(default)]
    resources: Vec<AggregatedResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggregatedResource {
    resource: String,
    response_kind: Option<ResponseKind>,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    singular_resource: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Deserialize)]
struct ResponseKind {
    #[serde(default)]
    kind: String,
}

/// Parse an aggregated discovery answer (APIGroupDiscoveryList, apidiscovery.k8s.io/v2)
/// from `/api` or `/apis`. Groups and versions keep the server's order (preferred first).
pub fn parse_aggregated(body: &[u8]) -> Result<Vec<ApiType>, DiscoveryError> {
    let list: AggregatedList = serde_json::from_slice(body)?;
    check_kind(&list.kind, &["APIGroupDiscoveryList"])?;
    let mut types = Vec::new();
    for group in list.items {
        for version in group.versions {
            for r in version.resources {
                let kind = r.response_kind.map(|k| k.kind).unwrap_or_default();
                types.push(api_type(
                    &group.metadata.name,
                    &version.version,
                    r.resource,
                    r.singular_resource,
                    kind,
                    r.scope == "Namespaced",
                    r.verbs,
                    r.short_names,
                    r.categories,
                ));
            }
        }
    }
    // Aggregated discovery nests subresources, but stay safe if a server flattens them.
    types.retain(|t| !t.plural.contains('/'));
    Ok(types)
}

#[allow(clippy::too_many_arguments)]
fn api_type(
    group: &str,
    version: &str,
    plural: String,
    singular: String,
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
    short_names: Vec<String>,
    categories: Vec<String>,
) -> ApiType {
    // Old servers leave singularName empty; kubectl then guesses the lowercased kind.
    let singular = if singular.is_empty() {
        kind.to_lowercase()
    } else {
        singular
    };
    ApiType {
        group: group.to_string(),
        version: version.to_string(),
        kind,
        plural,
        singular,
        short_names,
        namespaced,
        verbs,
        categories,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupListDoc {
    kind: Option<String>,
    /// APIGroupList (`/apis`).
    #[serde(default)]
    groups: Vec<GroupDoc>,
    /// APIVersions (`/api`).
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupDoc {
    name: String,
    #[serde(default)]
    versions: Vec<VersionDoc>,
    preferred_version: Option<VersionDoc>,
}

#[derive(Deserialize)]
struct VersionDoc {
    version: String,
}

/// Legacy discovery: the `/apis` answer (APIGroupList) or the `/api` answer (APIVersions,
/// the core group) as groups with their versions, preferred first.
pub fn parse_group_list(body: &[u8]) -> Result<Vec<GroupVersions>, DiscoveryError> {
    let doc: GroupListDoc = serde_json::from_slice(body)?;
    check_kind(&doc.kind, &["APIGroupList", "APIVersions"])?;
    if doc.kind.as_deref() == Some("APIVersions") {
        return Ok(vec![GroupVersions {
            group: String::new(),
            versions: doc.versions,
        }]);
    }
    Ok(doc
        .groups
        .into_iter()
        .map(|g| {
            let mut versions: Vec<String> =
                g.preferred_version.into_iter().map(|v| v.version).collect();
            for v in g.versions {
                if !versions.contains(&v.version) {
                    versions.push(v.version);
                }
            }
            GroupVersions {
                group: g.name,
                versions,
            }
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceListDoc {
    kind: Option<String>,
    group_version: String,
    #[serde(default)]
    resources: Vec<ResourceDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDoc {
    name: String,
    #[serde(default)]
    singular_name: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    short_names: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

/// Legacy discovery: an APIResourceList from `/api/v1` or `/apis/<group>/<version>`.
/// Subresources (`widgets/status`) are left out.
pub fn parse_resource_list(body: &[u8]) -> Result<Vec<ApiType>, DiscoveryError> {
    let doc: ResourceListDoc = serde_json::from_slice(body)?;
    check_kind(&doc.kind, &["APIResourceList"])?;
    let (group, version) = match doc.group_version.split_once('/') {
        None => ("", doc.group_version.as_str()),
        Some((g, v)) if !g.is_empty() && !v.is_empty() && !v.contains('/') => (g, v),
        Some(_) => return Err(DiscoveryError::BadGroupVersion(doc.group_version)),
    };
    if version.is_empty() {
        return Err(DiscoveryError::BadGroupVersion(doc.group_version));
    }
    Ok(doc
        .resources
        .into_iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| {
            api_type(
                group,
                version,
                r.name,
                r.singular_name,
                r.kind,
                r.namespaced,
                r.verbs,
                r.short_names,
                r.categories,
            )
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// The user's text

/// A type as the user wrote it, split the ways kubectl reads it (all lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeQuery {
    /// What the user typed (trimmed), for messages.
    pub text: String,
    /// Before the first dot: a plural, singular, short name or kind.
    pub name: String,
    /// The `resource.group` reading: everything after the first dot.
    pub group: Option<String>,
    /// The `resource.version.group` reading, with two dots or more: (version, group).
    pub version_group: Option<(String, String)>,
}

impl TypeQuery {
    pub fn parse(text: &str) -> TypeQuery {
        let text = text.trim();
        let lower = text.to_lowercase();
        let (name, group) = match lower.split_once('.') {
            // kubectl reads `pods.` as plain `pods`.
            Some((name, "")) => (name.to_string(), None),
            Some((name, group)) => (name.to_string(), Some(group.to_string())),
            None => (lower.clone(), None),
        };
        let version_group = group
            .as_deref()
            .and_then(|g| g.split_once('.'))
            .filter(|(v, g)| !v.is_empty() && !g.is_empty())
            .map(|(v, g)| (v.to_string(), g.to_string()));
        TypeQuery {
            text: text.to_string(),
            name,
            group,
            version_group,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Resolution

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing matches. `suggestions`: qualified names, closest first, at most 3.
    Unknown {
        query: String,
        suggestions: Vec<String>,
    },
    /// Several groups serve that name and one of them is not built in.
    Ambiguous {
        query: String,
        candidates: Vec<String>,
    },
    /// The type exists but cannot be both listed and watched.
    NotWatchable { query: String, qualified: String },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Unknown { query, suggestions } if suggestions.is_empty() => write!(
                f,
                "unknown resource type {query:?}; run \"kubectl api-resources\" to list the types"
            ),
            ResolveError::Unknown { query, suggestions } => {
                write!(
                    f,
                    "unknown resource type {query:?}; did you mean {}?",
                    one_of(suggestions)
                )
            }
            ResolveError::Ambiguous { query, candidates } => write!(
                f,
                "resource type {query:?} is ambiguous: it could be {}; name it with its group",
                one_of(candidates)
            ),
            ResolveError::NotWatchable { qualified, .. } => {
                write!(f, "the server does not allow watching {qualified}")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// `a`, `a or b`, `a, b or c`.
fn one_of(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Which groups a stage looks in.
#[derive(Clone, Copy)]
enum GroupScope<'q> {
    Any,
    Exact(&'q str),
    /// kubectl's fallback: `app` finds `apps`, `storage` finds `storage.k8s.io`.
    Prefix(&'q str),
}

/// What part of a type the name is compared with.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// Plural or singular.
    Name,
    Short,
    Kind,
}

struct Stage<'q> {
    name: &'q str,
    groups: GroupScope<'q>,
    version: Option<&'q str>,
    form: Form,
}

impl Stage<'_> {
    fn matches(&self, t: &ApiType) -> bool {
        let group_ok = match self.groups {
            GroupScope::Any => true,
            GroupScope::Exact(g) => t.group == g,
            GroupScope::Prefix(g) => t.group.starts_with(g),
        };
        let eq = |s: &str| s.to_lowercase() == self.name;
        group_ok
            && self.version.is_none_or(|v| t.version == v)
            && match self.form {
                Form::Name => eq(&t.plural) || eq(&t.singular),
                Form::Short => t.short_names.iter().any(|s| eq(s)),
                Form::Kind => eq(&t.kind),
            }
    }
}

/// The stages kubectl's `mappingFor` goes through, in its order.
fn stages(q: &TypeQuery) -> Vec<Stage<'_>> {
    let name = q.name.as_str();
    let mut scopes: Vec<(GroupScope<'_>, Option<&str>)> = Vec::new();
    match (&q.group, &q.version_group) {
        (None, _) => scopes.push((GroupScope::Any, None)),
        (Some(group), versioned) => {
            if let Some((v, g)) = versioned {
                scopes.push((GroupScope::Exact(g), Some(v)));
            }
            scopes.push((GroupScope::Exact(group), None));
            scopes.push((GroupScope::Prefix(group), None));
        }
    }
    let mut stages = Vec::new();
    for &(groups, version) in &scopes {
        for form in [Form::Name, Form::Short] {
            stages.push(Stage {
                name,
                groups,
                version,
                form,
            });
        }
    }
    // kubectl tries kinds only after every resource reading failed.
    for &(groups, version) in &scopes {
        stages.push(Stage {
            name,
            groups,
            version,
            form: Form::Kind,
        });
    }
    stages
}

/// Built into Kubernetes: the core group, `apps`-like groups without a dot, `*.k8s.io`.
fn is_builtin(group: &str) -> bool {
    !group.contains('.') || group.ends_with(".k8s.io")
}

/// kubectl's group priority: core first, then the order discovery listed the groups in.
fn group_ranks(types: &[ApiType]) -> HashMap<&str, usize> {
    let mut ranks = HashMap::from([("", 0)]);
    for t in types {
        let next = ranks.len();
        ranks.entry(t.group.as_str()).or_insert(next);
    }
    ranks
}

/// Resolve what the user typed to one type, or say why not.
pub fn resolve<'a>(types: &'a [ApiType], query: &str) -> Result<&'a ApiType, ResolveError> {
    let q = TypeQuery::parse(query);
    if q.name.is_empty() || q.text.contains('/') {
        return Err(unknown(types, &q));
    }
    let ranks = group_ranks(types);
    for stage in stages(&q) {
        // One candidate per (group, plural): the first listed, i.e. the preferred version.
        let mut candidates: Vec<&ApiType> = Vec::new();
        for t in types.iter().filter(|t| stage.matches(t)) {
            if !candidates
                .iter()
                .any(|c| c.group == t.group && c.plural == t.plural)
            {
                candidates.push(t);
            }
        }
        candidates.sort_by_key(|c| ranks[c.group.as_str()]);
        let chosen = match candidates.as_slice() {
            [] => continue,
            [one] => *one,
            [first, ..] if first.group.is_empty() => *first,
            [first, ..] if candidates.iter().all(|c| is_builtin(&c.group)) => *first,
            _ => {
                return Err(ResolveError::Ambiguous {
                    query: q.text,
                    candidates: candidates.iter().map(|c| c.qualified()).collect(),
                });
            }
        };
        if !(chosen.allows("list") && chosen.allows("watch")) {
            return Err(ResolveError::NotWatchable {
                query: q.text,
                qualified: chosen.qualified(),
            });
        }
        return Ok(chosen);
    }
    Err(unknown(types, &q))
}

/// An `Unknown` error with the closest known types, by edit distance.
fn unknown(types: &[ApiType], q: &TypeQuery) -> ResolveError {
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

    /// Answers captured from a real kube-apiserver 1.32 with the `widgets.example.com` CRD
    /// (the test server's reference captures, one copy for both crates).
    macro_rules! discovery {
        ($file:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testserver/tests/k8s-reference/",
                $file
            ))
            .as_bytes()
        };
    }

    /// What the caller builds from aggregated discovery: `/api`, then `/apis`.
    fn cluster() -> Vec<ApiType> {
        let mut types = parse_aggregated(discovery!("discovery-api-aggregated.json")).unwrap();
        types.extend(parse_aggregated(discovery!("discovery-apis-aggregated.json")).unwrap());
        types
    }

    fn cluster_with(extra: Vec<ApiType>) -> Vec<ApiType> {
        let mut types = cluster();
        types.extend(extra);
        types
    }

    /// A watchable, namespaced custom type.
    fn crd(group: &str, version: &str, kind: &str, plural: &str, short_names: &[&str]) -> ApiType {
        ApiType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            short_names: short_names.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
            verbs: ["get", "list", "watch"].map(String::from).to_vec(),
            categories: vec![],
        }
    }

    /// What the user gets: `qualified (version)` or the error message.
    fn outcome(types: &[ApiType], query: &str) -> String {
        match resolve(types, query) {
            Ok(t) => format!("{} ({})", t.qualified(), t.version),
            Err(e) => e.to_string(),
        }
    }

    fn find<'a>(types: &'a [ApiType], group: &str, plural: &str) -> &'a ApiType {
        types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .unwrap()
    }

    fn suggestions(types: &[ApiType], query: &str) -> Vec<String> {
        match resolve(types, query) {
            Err(ResolveError::Unknown { suggestions, .. }) => suggestions,
            other => panic!("{query}: expected Unknown, got {other:?}"),
        }
    }

    // --- parsing discovery ---

    #[test]
    fn aggregated_core_group() {
        let core = parse_aggregated(discovery!("discovery-api-aggregated.json")).unwrap();
        assert_eq!(core.len(), 17);
        assert!(core.iter().all(|t| t.group.is_empty() && t.version == "v1"));
        let pods = find(&core, "", "pods");
        assert_eq!((pods.kind.as_str(), pods.singular.as_str()), ("Pod", "pod"));
        assert_eq!(pods.short_names, ["po"]);
        assert!(pods.namespaced);
        assert!(!find(&core, "", "nodes").namespaced);
        assert_eq!(find(&core, "", "configmaps").short_names, ["cm"]);
    }

    #[test]
    fn aggregated_named_groups() {
        let types = parse_aggregated(discovery!("discovery-apis-aggregated.json")).unwrap();
        assert_eq!(types.len(), 43);
        assert!(
            types
                .iter()
                .all(|t| !t.group.is_empty() && !t.plural.contains('/'))
        );
        let widgets = find(&types, "example.com", "widgets");
        assert_eq!(widgets.version, "v1");
        assert_eq!(widgets.kind, "Widget");
        assert_eq!(widgets.singular, "widget");
        assert_eq!(widgets.short_names, ["wg"]);
        assert!(widgets.namespaced);
        assert!(widgets.allows("list") && widgets.allows("watch"));
        let deployments = find(&types, "apps", "deployments");
        assert_eq!(deployments.short_names, ["deploy"]);
        assert_eq!(deployments.categories, ["all"]);
        // Versions keep the server's preference order.
        let hpa: Vec<&str> = types
            .iter()
            .filter(|t| t.plural == "horizontalpodautoscalers")
            .map(|t| t.version.as_str())
            .collect();
        assert_eq!(hpa, ["v2", "v1"]);
    }

    #[test]
    fn aggregated_parser_refuses_a_legacy_answer() {
        let err = parse_aggregated(discovery!("discovery-apis-legacy.json")).unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::UnexpectedKind { found, .. } if found == "APIGroupList"),
            "{err}"
        );
        assert!(matches!(
            parse_aggregated(b"<html>"),
            Err(DiscoveryError::Malformed(_))
        ));
    }

    #[test]
    fn legacy_widgets_equal_aggregated_widgets() {
        let legacy =
            parse_resource_list(discovery!("discovery-example.com-v1-legacy.json")).unwrap();
        // `widgets/status` is left out.
        assert_eq!(legacy, [find(&cluster(), "example.com", "widgets").clone()]);
    }

    #[test]
    fn legacy_and_aggregated_agree_on_apps_and_core() {
        let types = cluster();
        for (file, group) in [
            (discovery!("discovery-apps-v1-legacy.json"), "apps"),
            (discovery!("discovery-api-v1-legacy.json"), ""),
        ] {
            let legacy = parse_resource_list(file).unwrap();
            let aggregated: Vec<ApiType> =
                types.iter().filter(|t| t.group == group).cloned().collect();
            assert_eq!(legacy, aggregated, "group {group:?}");
        }
    }

    #[test]
    fn legacy_group_lists() {
        let groups = parse_group_list(discovery!("discovery-apis-legacy.json")).unwrap();
        assert_eq!(groups.len(), 20);
        assert_eq!(groups[0].group, "apiregistration.k8s.io");
        let versions = |name: &str| {
            groups
                .iter()
                .find(|g| g.group == name)
                .unwrap()
                .versions
                .clone()
        };
        assert_eq!(versions("apps"), ["v1"]);
        assert_eq!(versions("autoscaling"), ["v2", "v1"]);
        assert_eq!(versions("example.com"), ["v1"]);

        let core = parse_group_list(discovery!("discovery-api-legacy.json")).unwrap();
        assert_eq!(
            core,
            [GroupVersions {
                group: String::new(),
                versions: vec!["v1".into()]
            }]
        );
    }

    #[test]
    fn legacy_group_list_puts_the_preferred_version_first() {
        let body = br#"{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"toys.io",
            "versions":[{"groupVersion":"toys.io/v1beta1","version":"v1beta1"},
                        {"groupVersion":"toys.io/v1","version":"v1"}],
            "preferredVersion":{"groupVersion":"toys.io/v1","version":"v1"}}]}"#;
        let groups = parse_group_list(body).unwrap();
        assert_eq!(groups[0].versions, ["v1", "v1beta1"]);
    }

    #[test]
    fn legacy_resource_list_details() {
        // An old server without singularName: kubectl guesses the lowercased kind.
        let body = br#"{"kind":"APIResourceList","groupVersion":"toys.io/v1","resources":[
            {"name":"gizmos","singularName":"","namespaced":false,"kind":"Gizmo","verbs":["list","watch"]},
            {"name":"gizmos/scale","singularName":"","namespaced":false,"kind":"Scale","verbs":["get"]}]}"#;
        let types = parse_resource_list(body).unwrap();
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].singular, "gizmo");
        assert_eq!(types[0].api_version(), "toys.io/v1");
        assert!(!types[0].namespaced);

        let bad = br#"{"kind":"APIResourceList","groupVersion":"a/b/c","resources":[]}"#;
        assert!(matches!(
            parse_resource_list(bad),
            Err(DiscoveryError::BadGroupVersion(_))
        ));
    }

    // --- the user's text ---

    #[test]
    fn query_readings() {
        let q = TypeQuery::parse(" Widgets.V1.Example.com ");
        assert_eq!(q.text, "Widgets.V1.Example.com");
        assert_eq!(q.name, "widgets");
        assert_eq!(q.group.as_deref(), Some("v1.example.com"));
        assert_eq!(q.version_group, Some(("v1".into(), "example.com".into())));

        let q = TypeQuery::parse("deploy.apps");
        assert_eq!(
            (q.name.as_str(), q.group.as_deref(), q.version_group),
            ("deploy", Some("apps"), None)
        );

        let q = TypeQuery::parse("pods.");
        assert_eq!((q.name.as_str(), q.group), ("pods", None));
    }

    // --- resolving ---

    #[test]
    fn every_unqualified_form_of_a_custom_type() {
        let types = cluster();
        for query in [
            "widgets", "widget", "wg", "Widget", "WIDGETS", "WG", "wIdGeT",
        ] {
            assert_eq!(
                outcome(&types, query),
                "widgets.example.com (v1)",
                "{query}"
            );
        }
    }

    #[test]
    fn every_qualified_form_of_a_custom_type() {
        let types = cluster();
        for query in [
            "widgets.example.com",
            "widget.example.com",
            "Widget.example.com",
            "wg.example.com",
            "WIDGETS.EXAMPLE.COM",
            "widgets.v1.example.com",
            "Widget.v1.example.com",
            "wg.v1.example.com",
        ] {
            assert_eq!(
                outcome(&types, query),
                "widgets.example.com (v1)",
                "{query}"
            );
        }
    }

    #[test]
    fn built_in_types() {
        let types = cluster();
        for (query, expected) in [
            ("po", "pods (v1)"),
            ("Pod", "pods (v1)"),
            ("cm", "configmaps (v1)"),
            ("ConfigMap", "configmaps (v1)"),
            ("svc", "services (v1)"),
            ("deploy", "deployments.apps (v1)"),
            ("Deployment", "deployments.apps (v1)"),
            ("deployments.apps", "deployments.apps (v1)"),
            ("Deployments.APPS", "deployments.apps (v1)"),
            ("deploy.apps", "deployments.apps (v1)"),
            ("deployments.v1.apps", "deployments.apps (v1)"),
            ("jobs", "jobs.batch (v1)"),
            ("sc", "storageclasses.storage.k8s.io (v1)"),
            ("crd", "customresourcedefinitions.apiextensions.k8s.io (v1)"),
            (
                "crds",
                "customresourcedefinitions.apiextensions.k8s.io (v1)",
            ),
        ] {
            assert_eq!(outcome(&types, query), expected, "{query}");
        }
    }

    #[test]
    fn a_dotted_group_is_not_mistaken_for_a_version() {
        let types = cluster();
        // `storageclasses.storage.k8s.io` first reads as version `storage` of group
        // `k8s.io`; that matches nothing, so the whole tail is the group.
        assert_eq!(
            outcome(&types, "storageclasses.storage.k8s.io"),
            "storageclasses.storage.k8s.io (v1)"
        );
        let types = cluster_with(vec![crd("v1.acme.io", "v1alpha1", "Thing", "things", &[])]);
        assert_eq!(
            outcome(&types, "things.v1.acme.io"),
            "things.v1.acme.io (v1alpha1)"
        );
    }

    #[test]
    fn a_group_prefix_is_enough_as_in_kubectl() {
        let types = cluster();
        assert_eq!(outcome(&types, "deployment.app"), "deployments.apps (v1)");
        assert_eq!(
            outcome(&types, "storageclass.storage"),
            "storageclasses.storage.k8s.io (v1)"
        );
        assert_eq!(
            outcome(&types, "hpa.autoscal"),
            "horizontalpodautoscalers.autoscaling (v2)"
        );
        assert_eq!(
            outcome(&types, "widgets.example"),
            "widgets.example.com (v1)"
        );
    }

    #[test]
    fn preferred_version_unless_one_is_named() {
        let types = cluster();
        assert_eq!(
            outcome(&types, "hpa"),
            "horizontalpodautoscalers.autoscaling (v2)"
        );
        assert_eq!(
            outcome(&types, "horizontalpodautoscalers.v1.autoscaling"),
            "horizontalpodautoscalers.autoscaling (v1)"
        );
        assert_eq!(
            outcome(&types, "hpa.v1.autoscaling"),
            "horizontalpodautoscalers.autoscaling (v1)"
        );

        let toys = vec![
            crd("toys.io", "v1", "Gizmo", "gizmos", &["gz"]),
            crd("toys.io", "v1beta1", "Gizmo", "gizmos", &["gz"]),
            crd("toys.io", "v1beta1", "Rattle", "rattles", &[]),
        ];
        let types = cluster_with(toys.clone());
        assert_eq!(outcome(&types, "gz"), "gizmos.toys.io (v1)");
        assert_eq!(
            outcome(&types, "gizmos.v1beta1.toys.io"),
            "gizmos.toys.io (v1beta1)"
        );
        // Served only by a version that is not preferred.
        assert_eq!(outcome(&types, "rattles"), "rattles.toys.io (v1beta1)");
        assert!(resolve(&types, "rattles.v1.toys.io").is_err());

        // The server's order is the preference, whatever the version names.
        let mut reversed = toys;
        reversed.reverse();
        assert_eq!(
            outcome(&cluster_with(reversed), "gizmos"),
            "gizmos.toys.io (v1beta1)"
        );
    }

    #[test]
    fn same_name_in_two_custom_groups_is_ambiguous() {
        let types = cluster_with(vec![crd("other.io", "v1", "Widget", "widgets", &["wg"])]);
        let expected = "resource type \"wg\" is ambiguous: it could be widgets.example.com or \
                        widgets.other.io; name it with its group";
        assert_eq!(outcome(&types, "wg"), expected);
        assert_eq!(
            resolve(&types, "Widget"),
            Err(ResolveError::Ambiguous {
                query: "Widget".into(),
                candidates: vec!["widgets.example.com".into(), "widgets.other.io".into()],
            })
        );
        assert_eq!(outcome(&types, "wg.other.io"), "widgets.other.io (v1)");
        assert_eq!(
            outcome(&types, "widgets.example.com"),
            "widgets.example.com (v1)"
        );
    }

    #[test]
    fn built_in_against_custom_is_ambiguous_but_core_wins() {
        let types = cluster_with(vec![
            crd(
                "example.org",
                "v1",
                "Deployment",
                "deployments",
                &["deploy"],
            ),
            crd("example.org", "v1", "Pod", "pods", &["po"]),
        ]);
        assert_eq!(
            outcome(&types, "deploy"),
            "resource type \"deploy\" is ambiguous: it could be deployments.apps or \
             deployments.example.org; name it with its group"
        );
        assert_eq!(outcome(&types, "deployments.apps"), "deployments.apps (v1)");
        // kubectl ranks the core group first, and so do we.
        assert_eq!(outcome(&types, "pods"), "pods (v1)");
        assert_eq!(outcome(&types, "po"), "pods (v1)");
        assert_eq!(outcome(&types, "pods.example.org"), "pods.example.org (v1)");
    }

    #[test]
    fn among_built_ins_the_first_group_wins() {
        let types = cluster();
        assert_eq!(outcome(&types, "events"), "events (v1)");
        assert_eq!(outcome(&types, "ev"), "events (v1)");
        assert_eq!(
            outcome(&types, "events.events.k8s.io"),
            "events.events.k8s.io (v1)"
        );
        assert_eq!(
            outcome(&types, "ev.events.k8s.io"),
            "events.events.k8s.io (v1)"
        );

        let types = cluster_with(vec![crd(
            "gateway.networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            &[],
        )]);
        assert_eq!(
            outcome(&types, "ingresses"),
            "ingresses.networking.k8s.io (v1)"
        );
    }

    #[test]
    fn names_beat_short_names_which_beat_kinds() {
        let types = cluster_with(vec![
            // Claims `widget` as a short name, but `widget` is already a resource's name.
            crd("toys.io", "v1", "Bar", "bars", &["widget"]),
            // Its Kind is `Gizmos`, but `gizmos` is the plural of another type.
            ApiType {
                singular: "thing".into(),
                ..crd("other.io", "v1", "Gizmos", "things", &["gizmo"])
            },
            crd("toys.io", "v1", "Gizmo", "gizmos", &[]),
        ]);
        assert_eq!(outcome(&types, "widget"), "widgets.example.com (v1)");
        assert_eq!(outcome(&types, "gizmos"), "gizmos.toys.io (v1)");
        assert_eq!(outcome(&types, "gizmo"), "gizmos.toys.io (v1)");
        assert_eq!(outcome(&types, "Bar"), "bars.toys.io (v1)");
    }

    #[test]
    fn a_kind_that_differs_from_the_singular() {
        let mut odd = crd("toys.io", "v1", "GizmoThing", "gizmos", &[]);
        odd.singular = "gizmo".into();
        let types = cluster_with(vec![odd]);
        for query in [
            "GizmoThing",
            "gizmothing",
            "GizmoThing.toys.io",
            "GizmoThing.v1.toys.io",
        ] {
            assert_eq!(outcome(&types, query), "gizmos.toys.io (v1)", "{query}");
        }
    }

    #[test]
    fn unknown_with_suggestions() {
        let types = cluster();
        assert_eq!(
            outcome(&types, "widgte"),
            "unknown resource type \"widgte\"; did you mean widgets.example.com?"
        );
        assert_eq!(suggestions(&types, "deploymnet")[0], "deployments.apps");
        assert_eq!(suggestions(&types, "confgimap"), ["configmaps"]);
        assert_eq!(
            suggestions(&types, "Deploymnets.apps"),
            ["deployments.apps"]
        );
        assert_eq!(
            suggestions(&types, "widgets.exmaple.com"),
            ["widgets.example.com"]
        );
        // An unknown group: the right name elsewhere is suggested however far the group.
        assert_eq!(
            suggestions(&types, "widgets.acme.io"),
            ["widgets.example.com"]
        );
        assert_eq!(suggestions(&types, "pods.acme.io"), ["pods"]);
        assert_eq!(
            suggestions(&types, "widgets.v2.example.com"),
            ["widgets.example.com"]
        );
    }

    #[test]
    fn suggestions_are_few_distinct_and_closest_first() {
        let types = cluster_with(vec![
            crd("a.io", "v1", "Role", "rolez", &[]),
            crd("a.io", "v1beta1", "Role", "rolez", &[]),
            crd("b.io", "v1", "Rolf", "rolfs", &[]),
        ]);
        let found = suggestions(&types, "rolexs");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], "roles.rbac.authorization.k8s.io");
        let mut distinct = found.clone();
        distinct.dedup();
        assert_eq!(distinct, found);
        let message = outcome(&types, "rolexs");
        assert!(message.ends_with(&format!(
            "did you mean {}, {} or {}?",
            found[0], found[1], found[2]
        )));
    }

    #[test]
    fn unknown_without_suggestions() {
        let types = cluster();
        let expected =
            "unknown resource type \"foo\"; run \"kubectl api-resources\" to list the types";
        assert_eq!(outcome(&types, "foo"), expected);
        assert_eq!(suggestions(&types, "xyzzyplugh"), Vec::<String>::new());
        assert_eq!(suggestions(&types, ""), Vec::<String>::new());
        assert_eq!(suggestions(&[], "widgets"), Vec::<String>::new());
    }

    #[test]
    fn subresources_never_resolve() {
        let types = cluster();
        assert!(matches!(
            resolve(&types, "widgets/status"),
            Err(ResolveError::Unknown { .. })
        ));
        assert!(matches!(
            resolve(&types, "deployments/scale"),
            Err(ResolveError::Unknown { .. })
        ));
    }

    #[test]
    fn types_that_cannot_be_watched() {
        let types = cluster();
        assert_eq!(
            outcome(&types, "bindings"),
            "the server does not allow watching bindings"
        );
        assert_eq!(
            outcome(&types, "cs"),
            "the server does not allow watching componentstatuses"
        );
        assert_eq!(
            resolve(&types, "TokenReview"),
            Err(ResolveError::NotWatchable {
                query: "TokenReview".into(),
                qualified: "tokenreviews.authentication.k8s.io".into(),
            })
        );
    }

    #[test]
    fn names_kubectl_prints() {
        let types = cluster();
        let pods = find(&types, "", "pods");
        assert_eq!(
            (pods.api_version(), pods.qualified(), pods.kind_group()),
            ("v1".into(), "pods".into(), "pod".into())
        );
        let deploy = find(&types, "apps", "deployments");
        assert_eq!(
            (
                deploy.api_version(),
                deploy.qualified(),
                deploy.kind_group()
            ),
            (
                "apps/v1".into(),
                "deployments.apps".into(),
                "deployment.apps".into()
            )
        );
        let widgets = find(&types, "example.com", "widgets");
        assert_eq!(
            (
                widgets.api_version(),
                widgets.qualified(),
                widgets.kind_group()
            ),
            (
                "example.com/v1".into(),
                "widgets.example.com".into(),
                "widget.example.com".into()
            )
        );
        let cm = find(&types, "", "configmaps");
        assert_eq!(cm.kind_group(), "configmap");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("widgte", "widget"), 2);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
