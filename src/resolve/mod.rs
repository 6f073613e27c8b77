//! Turns the type a user names (`deploy`, `Widget`, `widgets.v1.example.com`) into one
//! discovered API type, the way kubectl's RESTMapper does, plus our ambiguity rule.
//!
//! [`resolve`] is pure: types in, one type out. [`Resolver`] does it for every target
//! of a run, from cached discovery when it can and from the server when it must.
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
use std::future::Future;
use std::time::Duration;

use crate::connect::Connection;
use crate::discovery::{ApiType, Discovery};
use crate::exit::{Exit, Result};
use crate::plan::Plan;
use crate::target::{Manifested, Selection, Target, TargetSpec};

mod suggest;

use suggest::unknown;

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
        // An empty group after the version is the core group, as kubectl
        // reads `configmaps.v1.`.
        let version_group = group
            .as_deref()
            .and_then(|g| g.split_once('.'))
            .filter(|(v, _)| !v.is_empty())
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
pub fn resolve<'a>(
    types: &'a [ApiType],
    query: &str,
) -> std::result::Result<&'a ApiType, ResolveError> {
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

// ---------------------------------------------------------------------------------------
// Every target of a run

/// Which API type each target names: resolved against cached discovery when
/// it knows them all, against the server's answer when it does not or is wrong.
pub(crate) struct Resolver {
    discovery: Discovery,
    specs: Vec<TargetSpec>,
    all_namespaces: bool,
    request_timeout: Option<Duration>,
}

impl Resolver {
    pub fn new(plan: &Plan, conn: &Connection) -> Resolver {
        Resolver {
            discovery: Discovery::open(plan.cache_dir.as_deref(), &conn.server, plan.verbosity > 0),
            specs: plan.targets.clone(),
            all_namespaces: plan.all_namespaces,
            request_timeout: plan.request_timeout,
        }
    }

    /// A resolver for another rule of the same process, sharing this one's
    /// types (see [`Discovery::share`]).
    pub fn alongside(&self, plan: &Plan) -> Resolver {
        Resolver {
            discovery: self.discovery.share(plan.verbosity > 0),
            specs: plan.targets.clone(),
            all_namespaces: plan.all_namespaces,
            request_timeout: plan.request_timeout,
        }
    }

    /// The targets, from the cache when it resolves every one of them. Any
    /// failure there (a new CRD, a type now ambiguous) asks the server once,
    /// so errors and suggestions always come from its current answer.
    pub async fn targets(&mut self, conn: &Connection) -> Result<Vec<Target>> {
        if self.discovery.is_cached() {
            match self.resolve(&conn.namespace) {
                Ok(targets) => return Ok(targets),
                Err(e) => self
                    .discovery
                    .log(&format!("the cache cannot say ({e}); asking the server")),
            }
        }
        self.refresh(conn).await
    }

    /// A target resolved from the cache got 404 Not Found: the type may be
    /// gone, or served in another version now. Worth asking the server,
    /// once, unless the types already are its answer.
    pub fn may_be_stale(&self) -> bool {
        !self.discovery.is_fresh()
    }

    /// Asks the server and resolves every target against its answer.
    pub async fn refresh(&mut self, conn: &Connection) -> Result<Vec<Target>> {
        with_request_timeout(
            self.request_timeout,
            &conn.server,
            self.discovery.fetch(&conn.client),
        )
        .await?;
        self.resolve(&conn.namespace)
    }

    pub fn log(&self, message: &str) {
        self.discovery.log(message);
    }

    fn resolve(&self, namespace: &str) -> Result<Vec<Target>> {
        let types = self.discovery.types();
        let mut targets = Vec::new();
        for spec in &self.specs {
            let apis = match resolve(types, &spec.type_text) {
                Ok(api) => vec![(api.clone(), true)],
                Err(e) => match spec.manifest.as_ref().and_then(|m| unserved(types, m, &e)) {
                    Some(api) => vec![(api, false)],
                    None => match spec.manifest {
                        Some(ref m) => return Err(Exit::Usage(format!("{}: {e}", m.at))),
                        // A category from the cache may lack a CRD that
                        // joined it since: only the server's answer says.
                        None if !self.discovery.is_fresh() => {
                            return Err(Exit::Usage(format!(
                                "{:?} may be a category",
                                spec.type_text
                            )));
                        }
                        None => category(types, spec, e)?
                            .into_iter()
                            .map(|api| (api.clone(), true))
                            .collect(),
                    },
                },
            };
            for (api, served) in apis {
                let namespace = (api.namespaced && !self.all_namespaces).then(|| {
                    spec.namespace
                        .clone()
                        .unwrap_or_else(|| namespace.to_string())
                });
                targets.push(Target {
                    namespace,
                    api,
                    selection: spec.selection.clone(),
                    served,
                    manifest: spec.manifest.is_some(),
                    spread: false,
                });
            }
        }
        Ok(spread(distinct(targets)))
    }
}

/// Targets in several namespaces (`-f` objects of one name in two, say)
/// name their objects with the namespace, as `-A` does.
fn spread(mut targets: Vec<Target>) -> Vec<Target> {
    let namespaces: std::collections::BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| t.namespace.as_deref())
        .collect();
    if namespaces.len() > 1 {
        for target in &mut targets {
            target.spread = target.namespace.is_some();
        }
    }
    targets
}

/// A manifest's type the server does not serve, as it will be watched once
/// served: a custom resource applied with its CRD is waited for, not an
/// error. The type its CRD among the manifests defines, else the usual
/// plural of its kind. Not for built-in groups the server serves: a kind
/// they lack is a mistake (`kind: Deploymnet`), said at once.
fn unserved(types: &[ApiType], manifest: &Manifested, e: &ResolveError) -> Option<ApiType> {
    let ResolveError::Unknown { .. } = e else {
        return None;
    };
    let (group, version, kind) = manifest.gvk.as_ref()?;
    if is_builtin(group) && types.iter().any(|t| &t.group == group) {
        return None;
    }
    Some(manifest.defined.clone().unwrap_or_else(|| ApiType {
        group: group.clone(),
        version: version.clone(),
        kind: kind.clone(),
        plural: format!("{}s", kind.to_lowercase()),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        namespaced: true,
        verbs: ["get", "list", "watch"].map(String::from).to_vec(),
        categories: Vec::new(),
    }))
}

/// A category (`all`, or one a CRD declares) names every type that lists it,
/// as kubectl expands it: each (group, plural) once, in its preferred
/// version, the types that cannot be listed and watched left out. Only with
/// a selector or `--all`: a name belongs to one type. A text that is neither
/// a type nor a category keeps the type's error.
fn category<'a>(
    types: &'a [ApiType],
    spec: &TargetSpec,
    unknown: ResolveError,
) -> Result<Vec<&'a ApiType>> {
    let query = spec.type_text.trim().to_ascii_lowercase();
    let mut members: Vec<&ApiType> = Vec::new();
    for t in types.iter().filter(|t| t.categories.contains(&query)) {
        if t.allows("list")
            && t.allows("watch")
            && !members
                .iter()
                .any(|m| m.group == t.group && m.plural == t.plural)
        {
            members.push(t);
        }
    }
    if members.is_empty() || !matches!(unknown, ResolveError::Unknown { .. }) {
        return Err(Exit::Usage(unknown.to_string()));
    }
    if let Selection::Name(name) = &spec.selection {
        return Err(Exit::Usage(format!(
            "`{query}` is a category of {} types, and a name belongs to one: \
             write TYPE/{name}, or select with `{query} -l SELECTOR` or `{query} --all`",
            members.len()
        )));
    }
    Ok(members)
}

/// The same objects named twice (`cm/app cm/app`, `cm/app configmaps/app`)
/// are one target: watched once, judged once, one run of the command per
/// change. The first spelling is kept.
fn distinct(targets: Vec<Target>) -> Vec<Target> {
    let mut kept: Vec<Target> = Vec::with_capacity(targets.len());
    for target in targets {
        let same = |k: &Target| {
            k.api.group == target.api.group
                && k.api.plural == target.api.plural
                && k.namespace == target.namespace
                && k.selection == target.selection
        };
        if !kept.iter().any(same) {
            kept.push(target);
        }
    }
    kept
}

/// Bounds a request to the server by `--request-timeout`.
pub(crate) async fn with_request_timeout<T>(
    limit: Option<Duration>,
    server: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
            Err(Exit::Refused(format!(
                "the server at {server} did not answer within {} (--request-timeout)",
                humantime::format_duration(limit)
            )))
        }),
        None => fut.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Vec<ApiType> {
        crate::discovery::captured()
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

    fn suggestions(types: &[ApiType], query: &str) -> Vec<String> {
        match resolve(types, query) {
            Err(ResolveError::Unknown { suggestions, .. }) => suggestions,
            other => panic!("{query}: expected Unknown, got {other:?}"),
        }
    }

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

        let q = TypeQuery::parse("configmaps.v1.");
        assert_eq!(
            (q.name.as_str(), q.version_group),
            ("configmaps", Some(("v1".into(), String::new())))
        );
    }

    #[test]
    fn fully_qualified_core_types_as_kubectl_writes_them() {
        let types = cluster();
        for (query, expected) in [
            ("configmaps.v1.", "configmaps (v1)"),
            ("pods.v1.", "pods (v1)"),
            ("Pod.v1.", "pods (v1)"),
            ("po.v1.", "pods (v1)"),
            ("ConfigMap.V1.", "configmaps (v1)"),
        ] {
            assert_eq!(outcome(&types, query), expected, "{query}");
        }
        // The version must be served, and the group is core, not any group.
        assert!(resolve(&types, "pods.v2.").is_err());
        assert!(resolve(&types, "deployments.v1.").is_err());
        assert!(resolve(&types, "widgets.v1.").is_err());
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
    fn the_same_objects_named_twice_are_one_target() {
        let types = cluster();
        let target = |type_text: &str, name: &str, namespace: &str| Target {
            api: resolve(&types, type_text).unwrap().clone(),
            namespace: Some(namespace.into()),
            selection: crate::target::Selection::Name(name.into()),
            served: true,
            manifest: false,
            spread: false,
        };
        let kept = distinct(vec![
            target("cm", "app", "default"),
            target("configmaps", "app", "default"),
            target("ConfigMap.v1.", "app", "default"),
            target("cm", "app", "other"),
            target("cm", "web", "default"),
            target("secrets", "app", "default"),
            target("cm", "web", "default"),
        ]);
        let seen: Vec<(String, String, String)> = kept
            .iter()
            .map(|t| {
                (
                    t.api.plural.clone(),
                    t.namespace.clone().unwrap(),
                    t.display(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "configmaps".into(),
                    "default".into(),
                    "configmap/app".into()
                ),
                ("configmaps".into(), "other".into(), "configmap/app".into()),
                (
                    "configmaps".into(),
                    "default".into(),
                    "configmap/web".into()
                ),
                ("secrets".into(), "default".into(), "secret/app".into()),
            ]
        );
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
}
