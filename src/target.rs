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

/// A target as written on the command line, its type not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub type_text: String,
    pub selection: Selection,
}

/// A resolved target: a type, a namespace, and which of its objects.
#[derive(Debug, Clone)]
pub struct Target {
    pub api: ApiType,
    /// `None` for cluster-scoped types, or every namespace (`-A`).
    pub namespace: Option<String>,
    pub selection: Selection,
}

impl Target {
    /// kubectl's way of naming an object of this type: `widget.example.com/foo`.
    pub fn object_name(&self, name: &str) -> String {
        format!("{}/{}", self.api.kind_group(), name)
    }

    /// The target as a user would recognise it in a message.
    pub fn display(&self) -> String {
        match &self.selection {
            Selection::Name(name) => self.object_name(name),
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
