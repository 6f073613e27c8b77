//! The discovery documents a server answers with, read into [`ApiType`]s: aggregated
//! (`apidiscovery.k8s.io/v2`) and legacy (`APIGroupList`, `APIResourceList`). Pure: bytes in.

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

    pub(crate) fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }
}

/// `name.group`, or `name` alone for the core group.
pub(crate) fn qualify(name: &str, group: &str) -> String {
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
    metadata: GroupMetadata,
    #[serde(default)]
    versions: Vec<AggregatedVersion>,
}

#[derive(Deserialize, Default)]
struct GroupMetadata {
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

#[cfg(test)]
/// Answers captured from a real kube-apiserver 1.32 with the `widgets.example.com` CRD.
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

/// What a real kube-apiserver 1.32 with the `widgets.example.com` CRD
/// answers to aggregated discovery (`/api`, then `/apis`), for tests.
#[cfg(test)]
pub(crate) fn captured() -> Vec<ApiType> {
    let mut types = parse_aggregated(discovery!("discovery-api-aggregated.json")).unwrap();
    types.extend(parse_aggregated(discovery!("discovery-apis-aggregated.json")).unwrap());
    types
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Vec<ApiType> {
        captured()
    }

    fn find<'a>(types: &'a [ApiType], group: &str, plural: &str) -> &'a ApiType {
        types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
            .unwrap()
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
}
