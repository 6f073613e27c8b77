//! Bearer-token authentication and RBAC-like authorization, with the
//! apiserver's Forbidden messages.

use crate::status::{ApiError, Details};

/// An RBAC-like permission: `"*"` matches anything, the core group is `""`,
/// an empty `namespaces` list means every namespace and the cluster scope.
/// Subresources are named `resource/sub` (`widgets/status`), as in RBAC.
/// `names` is RBAC's `resourceNames`: empty means any object; otherwise only
/// requests for one of these names: a get, update, ..., or a list or watch
/// whose field selector pins `metadata.name` (as kube-apiserver reads it);
/// never a create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub groups: Vec<String>,
    pub resources: Vec<String>,
    pub namespaces: Vec<String>,
    pub names: Vec<String>,
}

impl Rule {
    pub fn allow_all() -> Rule {
        Rule {
            verbs: vec!["*".into()],
            groups: vec!["*".into()],
            resources: vec!["*".into()],
            namespaces: Vec::new(),
            names: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub name: String,
    pub rules: Vec<Rule>,
}

/// What a resource request asks to do, as the authorizer sees it.
pub(crate) struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

fn any_or(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

impl Rule {
    fn allows(&self, a: &Attributes) -> bool {
        let resource_ok = self.resources.iter().any(|r| match a.subresource {
            None => r == "*" || r == a.resource,
            Some(sub) => {
                r == "*" || *r == format!("{}/{sub}", a.resource) || *r == format!("*/{sub}")
            }
        });
        let ns_ok = self.namespaces.is_empty()
            || a.namespace
                .is_some_and(|ns| self.namespaces.iter().any(|x| x == ns || x == "*"));
        let name_ok = self.names.is_empty()
            || a.name
                .is_some_and(|name| self.names.iter().any(|n| n == name));
        any_or(&self.verbs, a.verb)
            && any_or(&self.groups, a.group)
            && resource_ok
            && ns_ok
            && name_ok
    }
}

pub(crate) const ANONYMOUS: &str = "system:anonymous";

pub(crate) fn authorize(user: &User, a: &Attributes) -> Result<(), ApiError> {
    if user.rules.iter().any(|r| r.allows(a)) {
        return Ok(());
    }
    let user_name = &user.name;
    let qualified = if a.group.is_empty() {
        a.resource.to_string()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let subject = match a.name {
        Some(n) => format!("{qualified} \"{n}\""),
        None => qualified,
    };
    let full_resource = match a.subresource {
        Some(s) => format!("{}/{s}", a.resource),
        None => a.resource.to_string(),
    };
    let scope = match a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    Err(ApiError::forbidden(
        format!(
            "{subject} is forbidden: User \"{user_name}\" cannot {} resource \"{full_resource}\" in API group \"{}\" {scope}",
            a.verb, a.group
        ),
        Some(Details {
            name: a.name.map(str::to_string),
            group: a.group.to_string(),
            kind: a.resource.to_string(),
            ..Details::default()
        }),
    ))
}

/// A non-resource URL (discovery) refused to an anonymous caller.
pub(crate) fn forbidden_path(path: &str) -> ApiError {
    ApiError::forbidden(
        format!("forbidden: User \"{ANONYMOUS}\" cannot get path \"{path}\""),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'a>(verb: &'a str, ns: Option<&'a str>, name: Option<&'a str>) -> Attributes<'a> {
        Attributes {
            verb,
            group: "example.com",
            resource: "widgets",
            subresource: None,
            namespace: ns,
            name,
        }
    }

    #[test]
    fn forbidden_message_matches_reference() {
        let u = User {
            name: "limited".into(),
            rules: vec![],
        };
        let err = authorize(&u, &attrs("watch", Some("ref"), None)).unwrap_err();
        assert_eq!(
            err.message,
            "widgets.example.com is forbidden: User \"limited\" cannot watch resource \"widgets\" in API group \"example.com\" in the namespace \"ref\""
        );
        let err = authorize(&u, &attrs("get", None, Some("w1"))).unwrap_err();
        assert_eq!(
            err.message,
            "widgets.example.com \"w1\" is forbidden: User \"limited\" cannot get resource \"widgets\" in API group \"example.com\" at the cluster scope"
        );
    }

    #[test]
    fn rules_match_verbs_groups_resources_namespaces() {
        let u = User {
            name: "u".into(),
            rules: vec![Rule {
                verbs: vec!["get".into(), "list".into()],
                groups: vec!["example.com".into()],
                resources: vec!["widgets".into()],
                namespaces: vec!["a".into()],
                names: vec![],
            }],
        };
        assert!(authorize(&u, &attrs("get", Some("a"), None)).is_ok());
        assert!(authorize(&u, &attrs("watch", Some("a"), None)).is_err());
        assert!(authorize(&u, &attrs("get", Some("b"), None)).is_err());
        assert!(authorize(&u, &attrs("get", None, None)).is_err());
        let named = User {
            name: "n".into(),
            rules: vec![Rule {
                verbs: vec!["get".into()],
                groups: vec!["example.com".into()],
                resources: vec!["widgets".into()],
                names: vec!["w1".into()],
                ..Rule::default()
            }],
        };
        assert!(authorize(&named, &attrs("get", Some("a"), Some("w1"))).is_ok());
        assert!(authorize(&named, &attrs("get", Some("a"), Some("w2"))).is_err());
        assert!(authorize(&named, &attrs("get", Some("a"), None)).is_err());
        let mut status = attrs("get", Some("a"), None);
        status.subresource = Some("status");
        assert!(authorize(&u, &status).is_err());
    }
}
