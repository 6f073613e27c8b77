//! The nouns every stage shares: a target as written on the command line
//! (`TargetSpec`), which of its objects it stands for (`Selection`), and
//! the same target resolved against the server's types (`Target`).

use kube::api::ApiResource;

use crate::discovery::ApiType;

/// Which objects of a type a target stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One object, by name.
    Name(String),
    /// Every object matching the selectors (none given: every object).
    Query {
        labels: Option<String>,
        fields: Option<String>,
    },
}

impl Selection {
    /// The label and field selectors a list or watch of this selection
    /// sends: a name is its field selector.
    pub fn selectors(&self) -> (Option<String>, Option<String>) {
        match self {
            Selection::Name(name) => (None, Some(Selection::name_field_selector(name))),
            Selection::Query { labels, fields } => (labels.clone(), fields.clone()),
        }
    }

    /// The field selector that picks one named object: `metadata.name=NAME`,
    /// the name escaped as Kubernetes' `fields.EscapeValue` does, so a name
    /// holding `,` or `=` stays one value and never adds a requirement.
    pub fn name_field_selector(name: &str) -> String {
        let mut selector = String::from("metadata.name=");
        for c in name.chars() {
            if matches!(c, '\\' | ',' | '=') {
                selector.push('\\');
            }
            selector.push(c);
        }
        selector
    }
}

/// A target as written on the command line or read from a manifest (`-f`,
/// `-k`), its type not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub type_text: String,
    pub selection: Selection,
    /// Where a manifest put it, if it did (else `-n` or the context's).
    pub namespace: Option<String>,
    /// Read from a manifest: where, and how to find its type.
    pub manifest: Option<Manifested>,
}

impl TargetSpec {
    /// A target the command line names: its namespace is `-n`'s.
    pub fn named(type_text: String, selection: Selection) -> TargetSpec {
        TargetSpec {
            type_text,
            selection,
            namespace: None,
            manifest: None,
        }
    }
}

/// What a manifest tells about one of its objects' type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifested {
    /// `FILE:LINE` (`stdin:LINE`), for messages.
    pub at: String,
    /// From `apiVersion` and `kind`: `(group, version, kind)`. `None` for a
    /// `kind.group/name` line, whose type was named as a resource.
    pub gvk: Option<(String, String, String)>,
    /// The type as a CustomResourceDefinition among the same manifests
    /// defines it: what is watched once the server serves it.
    pub defined: Option<ApiType>,
}

/// A resolved target: a type, a namespace, and which of its objects.
#[derive(Debug, Clone)]
pub struct Target {
    pub api: ApiType,
    /// `None` for cluster-scoped types, or every namespace (`-A`).
    pub namespace: Option<String>,
    pub selection: Selection,
    /// `false`: a manifest's type the server does not serve (yet): the
    /// target is not watched until discovery lists it (a CR beside its CRD).
    pub served: bool,
    /// Read from a manifest (`-f`, `-k`): its type and namespace's named
    /// objects share one watch. A name on the command line keeps its own,
    /// by field selector, which RBAC's `resourceNames` can grant.
    pub manifest: bool,
    /// The wait's targets span several namespaces: an object is named with
    /// `(in NAMESPACE)`, as with `-A`, where two may share a name.
    pub spread: bool,
}

impl Target {
    /// kubectl's way of naming an object of this type: `widget.example.com/foo`.
    /// (Written for `-o name`, a line per event: one allocation, the kind
    /// lowered in place, as `kind_group` then `format!` did in three.)
    pub fn object_name(&self, name: &str) -> String {
        let (kind, group) = (&self.api.kind, &self.api.group);
        let mut out = String::with_capacity(kind.len() + group.len() + name.len() + 2);
        match kind.is_ascii() {
            true => out.extend(kind.chars().map(|c| c.to_ascii_lowercase())),
            false => out.push_str(&kind.to_lowercase()),
        }
        if !group.is_empty() {
            out.push('.');
            out.push_str(group);
        }
        out.push('/');
        out.push_str(name);
        out
    }

    /// One of the target's objects named for a failure or an explanation:
    /// [`Target::object_name`], and `(in NAMESPACE)` when the target spans
    /// namespaces (`-A`) or the wait's targets do ([`Target::spread`]),
    /// where two objects may share a name.
    pub fn object_said(&self, obj: &serde_json::Value) -> String {
        let name = self.object_name(obj["metadata"]["name"].as_str().unwrap_or_default());
        match obj["metadata"]["namespace"].as_str() {
            Some(namespace) if self.spread || (self.namespace.is_none() && self.api.namespaced) => {
                format!("{name} (in {namespace})")
            }
            _ => name,
        }
    }

    /// Why a manifest's object whose type is not served was not judged.
    pub fn not_served(&self) -> String {
        format!(
            "the server does not serve its type, {} {}, yet",
            self.api.api_version(),
            self.api.kind
        )
    }

    /// The target as a user would recognise it in a message.
    pub fn display(&self) -> String {
        match &self.selection {
            Selection::Name(name) => match &self.namespace {
                Some(namespace) if self.spread => {
                    format!("{} (in {namespace})", self.object_name(name))
                }
                _ => self.object_name(name),
            },
            Selection::Query { labels, fields } => {
                let mut text = self.api.qualified();
                if let Some(labels) = labels {
                    text.push_str(&format!(" -l {labels}"));
                }
                if let Some(fields) = fields {
                    text.push_str(&format!(" --field-selector {fields}"));
                }
                if labels.is_none() && fields.is_none() {
                    text.push_str(" --all");
                }
                text
            }
        }
    }
}

impl From<&ApiType> for ApiResource {
    fn from(api: &ApiType) -> ApiResource {
        ApiResource {
            group: api.group.clone(),
            version: api.version.clone(),
            api_version: api.api_version(),
            kind: api.kind.clone(),
            plural: api.plural.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_escaped_into_one_field_selector_value() {
        for (name, selector) in [
            ("app", "metadata.name=app"),
            ("app,", "metadata.name=app\\,"),
            ("a=b", "metadata.name=a\\=b"),
            (
                "app,metadata.name!=x",
                "metadata.name=app\\,metadata.name!\\=x",
            ),
            ("back\\slash", "metadata.name=back\\\\slash"),
        ] {
            assert_eq!(Selection::name_field_selector(name), selector, "{name}");
        }
    }

    #[test]
    fn an_object_is_named_kind_dot_group_slash_name_as_kubectl_does() {
        let target = |group: &str, kind: &str| Target {
            api: ApiType {
                group: group.into(),
                version: "v1".into(),
                kind: kind.into(),
                plural: String::new(),
                singular: String::new(),
                short_names: Vec::new(),
                namespaced: true,
                verbs: Vec::new(),
                categories: Vec::new(),
            },
            namespace: None,
            selection: Selection::Query {
                labels: None,
                fields: None,
            },
            served: true,
            manifest: false,
            spread: false,
        };
        for (group, kind, name, named) in [
            ("", "Pod", "web-0", "pod/web-0"),
            ("example.com", "Widget", "a", "widget.example.com/a"),
            ("apps", "StatefulSet", "db", "statefulset.apps/db"),
            // Not ASCII: lowered as Unicode lowers it.
            ("example.com", "ÉtatWidget", "x", "étatwidget.example.com/x"),
        ] {
            let target = target(group, kind);
            assert_eq!(target.object_name(name), named);
            assert_eq!(
                target.object_name(name),
                format!("{}/{name}", target.api.kind_group())
            );
        }
    }
}
