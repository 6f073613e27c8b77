//! What one API request asks for: the facts every answer needs (accept
//! header, content type, query parameters) and the objects its path addresses.

use std::collections::HashMap;

use crate::catalog::{Catalog, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;

/// Per-request facts every answer needs.
pub(crate) struct Ctx {
    pub(crate) accept: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) pretty: bool,
    pub(crate) params: HashMap<String, String>,
}

impl Ctx {
    pub(crate) fn param(&self, k: &str) -> Option<&str> {
        self.params.get(k).map(String::as_str)
    }

    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.param(k), Some("true") | Some("1"))
    }
}

/// A request for objects: which type, where, which one, which subresource.
pub(crate) struct Target {
    pub(crate) rt: ResourceType,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) subresource: Option<String>,
}

impl Target {
    /// Parses `/api/v1/...` and `/apis/<g>/<v>/...` as the apiserver's
    /// RequestInfoFactory does; None for anything it would answer with a plain 404.
    pub(crate) fn parse(catalog: &Catalog, segs: &[&str]) -> Option<Target> {
        let (group, version, rest) = match segs {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, r, rest @ ..] if *r != "status" && *r != "finalize" => {
                (Some(ns.to_string()), [&[*r][..], rest].concat())
            }
            _ => (None, rest.to_vec()),
        };
        let (plural, name, sub) = match rest.as_slice() {
            [p] => (*p, None, None),
            [p, n] => (*p, Some(n.to_string()), None),
            [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
            _ => return None,
        };
        let rt = catalog.find(group, version, plural)?.clone();
        if namespace.is_some() && !rt.namespaced {
            return None;
        }
        if rt.namespaced && namespace.is_none() && name.is_some() {
            return None;
        }
        if let Some(s) = &sub
            && (s != "status" || !rt.has_status())
        {
            return None;
        }
        Some(Target {
            rt,
            namespace,
            name,
            subresource: sub,
        })
    }
}

/// The label and field selectors of a list, watch or deletecollection.
pub(crate) fn selectors(t: &Target, ctx: &Ctx) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(ctx.param("labelSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        ctx.param("fieldSelector").unwrap_or(""),
        &t.rt.extra_field_labels,
    )
    .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}
