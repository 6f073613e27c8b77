//! `meta/v1 Status` failures, worded as kube-apiserver words them.

use serde::Serialize;
use serde_json::Value;

use crate::catalog::ResourceType;

/// A failed request, answered as a Status body with `code` as the HTTP status.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ApiError {
    #[serde(skip)]
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Details>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// The wire shape, with the apiserver's field order.
#[derive(Serialize)]
pub(crate) struct StatusBody<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    metadata: Value,
    status: &'static str,
    message: &'a str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Details>,
    code: u16,
}

/// "widgets.example.com" or "configmaps": how messages name a resource.
pub(crate) fn qualified(rt: &ResourceType) -> String {
    rt.key()
}

fn details(rt: &ResourceType, name: Option<&str>) -> Option<Details> {
    Some(Details {
        name: name.map(str::to_string),
        group: rt.group.clone(),
        kind: rt.plural.clone(),
    })
}

impl ApiError {
    /// The Status body, serialized in the apiserver's field order.
    pub fn body(&self) -> StatusBody<'_> {
        StatusBody {
            kind: "Status",
            api_version: "v1",
            metadata: Value::Object(Default::default()),
            status: "Failure",
            message: &self.message,
            reason: self.reason,
            details: self.details.as_ref(),
            code: self.code,
        }
    }

    fn new(code: u16, reason: &'static str, message: String) -> ApiError {
        ApiError {
            code,
            reason,
            message,
            details: None,
        }
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: details(rt, Some(name)),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", qualified(rt)),
            )
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: details(rt, Some(name)),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", qualified(rt)),
            )
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: details(rt, Some(name)),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                     please apply your changes to the latest version and try again",
                    qualified(rt)
                ),
            )
        }
    }

    pub fn invalid(rt: &ResourceType, name: &str, cause: &str) -> ApiError {
        ApiError {
            details: details(rt, Some(name)),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {cause}", rt.kind),
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message.into())
    }

    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message.into())
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized".into())
    }

    pub fn forbidden(message: String, details: Option<Details>) -> ApiError {
        ApiError {
            details: Some(details.unwrap_or_default()),
            ..ApiError::new(403, "Forbidden", message)
        }
    }

    /// `accepted` lists the media types the endpoint takes, comma-separated.
    pub fn unsupported_media_type(accepted: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {accepted}"
            ),
        )
    }

    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Crd;

    #[test]
    fn not_found_matches_reference() {
        let rt: ResourceType = Crd::widget().into();
        let body = serde_json::to_value(ApiError::not_found(&rt, "nope").body()).unwrap();
        let want = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "widgets.example.com \"nope\" not found", "reason": "NotFound",
            "details": {"name": "nope", "group": "example.com", "kind": "widgets"}, "code": 404
        });
        assert_eq!(body, want);
    }
}
