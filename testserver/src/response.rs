//! How answers go on the wire: JSON bodies and watch streams with the
//! apiserver's headers, a Status for every error, the plain-text 404.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::status::ApiError;

/// A JSON body (whole or streamed) with the headers the apiserver sends on one.
fn json_body(status: StatusCode, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}

/// A JSON answer as the apiserver writes it: compact with a trailing newline,
/// indented for `?pretty=true` or curl.
pub(crate) fn json_response(code: u16, body: &impl serde::Serialize, pretty: bool) -> Response {
    let mut text = if pretty {
        serde_json::to_string_pretty(body)
    } else {
        serde_json::to_string(body)
    }
    .expect("JSON serializes");
    text.push('\n');
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_body(status, Body::from(text))
}

/// A watch answer: 200 and a body of newline-delimited events.
pub(crate) fn stream_response(body: Body) -> Response {
    json_body(StatusCode::OK, body)
}

pub(crate) fn error_response(err: &ApiError, pretty: bool) -> Response {
    let mut r = json_response(err.code, &err.body(), pretty);
    if err.code == 403 {
        r.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    if let Some(secs) = err.details.as_ref().and_then(|d| d.retry_after_seconds) {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// The apiserver's answer for a path it does not serve: plain text, not a Status.
pub(crate) fn page_not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    r
}
