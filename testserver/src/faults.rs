//! Fault injection switched on per test: failing requests, expiring or
//! cutting watches. Only the state lives here; the checks sit where requests
//! are answered (`api::dispatch`, `watch::serve`) and where events are
//! delivered (`Store::commit` and the watch stream loop), so no delivery code
//! is duplicated. Faults that reach open watch streams (event limits,
//! bookmarks, ERROR events) travel through the store's watcher channels,
//! ordered with the events; stalling is a `tokio::sync::watch` flag every
//! stream consults before writing; restarts are handled by the accept loop.

use std::time::Duration;

use crate::status::ApiError;

/// Request-level faults; see the `TestServer` methods of the same names.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// New watch streams end (cleanly) after this long.
    pub close_watches_after: Option<Duration>,
    /// How many of the next watch requests get 410 Expired.
    pub expire_next_watches: usize,
    /// How many of the next object requests fail, and how.
    pub fail_next: usize,
    pub fail_status: u16,
    pub fail_retry_after: Option<u64>,
}

impl Faults {
    /// Whether this watch request is to be answered with 410 Expired.
    pub fn take_expire(&mut self) -> bool {
        if self.expire_next_watches == 0 {
            return false;
        }
        self.expire_next_watches -= 1;
        true
    }

    /// The failure this object request is to be answered with, if any.
    pub fn take_failure(&mut self) -> Option<ApiError> {
        if self.fail_next == 0 {
            return None;
        }
        self.fail_next -= 1;
        Some(ApiError::from_code(
            self.fail_status,
            None,
            self.fail_retry_after,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_down() {
        let mut f = Faults {
            fail_next: 2,
            fail_status: 429,
            fail_retry_after: Some(3),
            ..Faults::default()
        };
        let e = f.take_failure().unwrap();
        assert_eq!(e.code, 429);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Too many requests, please try again later.",
                "reason": "TooManyRequests", "details": {"retryAfterSeconds": 3}, "code": 429
            })
        );
        assert!(f.take_failure().is_some());
        assert!(f.take_failure().is_none());
        let e = ApiError::from_code(500, None, None);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(body["reason"], "InternalError");
        assert_eq!(body["message"], "Internal error occurred: injected fault");
        assert_eq!(body["details"]["causes"][0]["message"], "injected fault");
    }
}
