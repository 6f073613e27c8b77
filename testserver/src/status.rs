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
    /// Boxed: errors travel in `Result`s everywhere and should stay small.
    pub details: Option<Box<Details>>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    /// Also sent as the `Retry-After` header, as the apiserver does.
    #[serde(rename = "retryAfterSeconds", skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Cause {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub field: &'static str,
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

fn details(rt: &ResourceType, name: Option<&str>) -> Option<Box<Details>> {
    Some(Box::new(Details {
        name: name.map(str::to_string),
        group: rt.group.clone(),
        kind: rt.plural.clone(),
        ..Details::default()
    }))
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
            details: self.details.as_deref(),
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
            details: Some(Box::new(details.unwrap_or_default())),
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

    /// The Status the apiserver answers with `code` for a failure it did not
    /// expect (used by fault injection): 500 InternalError, 503
    /// ServiceUnavailable, 429 TooManyRequests (with the messages of the
    /// apiserver's own filters), 410 Expired, 504 Timeout, and so on; an
    /// unlisted 5xx is InternalError, an unlisted 4xx BadRequest.
    /// `retry_after` becomes `details.retryAfterSeconds` and the Retry-After header.
    pub fn from_code(code: u16, message: Option<&str>, retry_after: Option<u64>) -> ApiError {
        let (reason, default_message): (&'static str, &str) = match code {
            400 => (
                "BadRequest",
                "the server rejected our request for an unknown reason",
            ),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "forbidden"),
            404 => (
                "NotFound",
                "the server could not find the requested resource",
            ),
            405 => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ),
            409 => ("Conflict", "the server reported a conflict"),
            410 => ("Expired", "too old resource version"),
            422 => (
                "Invalid",
                "the server rejected our request due to an error in our request",
            ),
            429 => (
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
            500 => ("InternalError", "injected fault"),
            503 => (
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            504 => (
                "Timeout",
                "Timeout: request did not complete within the allotted timeout",
            ),
            c if c >= 500 => ("InternalError", "injected fault"),
            _ => ("BadRequest", "the server rejected our request"),
        };
        let message = message.unwrap_or(default_message);
        let mut details = Details {
            retry_after_seconds: retry_after,
            ..Details::default()
        };
        let message = if reason == "InternalError" {
            details.causes.push(Cause {
                message: message.to_string(),
                ..Cause::default()
            });
            format!("Internal error occurred: {message}")
        } else {
            message.to_string()
        };
        let has_details = !details.causes.is_empty() || details.retry_after_seconds.is_some();
        ApiError {
            details: has_details.then(|| Box::new(details)),
            ..ApiError::new(code, reason, message)
        }
    }

    /// A watch's query refused by validation (422 on `ListOptions`), e.g.
    /// `sendInitialEvents` while the WatchList feature gate is off.
    pub fn invalid_list_options(field: &'static str, forbidden: &str) -> ApiError {
        ApiError {
            details: Some(Box::new(Details {
                group: "meta.k8s.io".into(),
                kind: "ListOptions".into(),
                causes: vec![Cause {
                    reason: "FieldValueForbidden",
                    message: format!("Forbidden: {forbidden}"),
                    field,
                }],
                ..Details::default()
            })),
            ..ApiError::new(
                422,
                "Invalid",
                format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {forbidden}"),
            )
        }
    }

    /// The ERROR event a 1.32 apiserver on etcd without watch progress
    /// (older than 3.4.31 / 3.5.13) sends for a streaming list, after 200 OK.
    pub fn no_watch_progress() -> ApiError {
        ApiError::new(
            500,
            "InternalError",
            "a watch stream was requested by the client but the required storage feature \
             RequestWatchProgress is disabled"
                .into(),
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
