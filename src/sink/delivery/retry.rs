//! When to try a sink again: exponential backoff with jitter between
//! attempts, and a circuit breaker that stops trying a sink that keeps
//! failing for a cool-down, then lets one probe through.

use std::time::Duration;

use tokio::time::Instant;

pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Failures in a row that open the circuit.
pub const OPEN_AFTER: u32 = 5;
/// How long an open circuit lets nothing through.
pub const COOL_DOWN: Duration = Duration::from_secs(30);
/// The longest `Retry-After` obeyed; a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// The wait before retry `n` (1-based): 250 ms doubling up to 30 s, each
/// drawn between half and all of that ("equal jitter", never under 250 ms),
/// so sinks failing together do not retry in step. `unit` in [0, 1).
pub fn backoff(n: u32, unit: f64) -> Duration {
    let full = crate::sink::doubling(FIRST_BACKOFF, n, MAX_BACKOFF);
    (full / 2 + full.mul_f64(unit.clamp(0.0, 1.0) / 2.0)).max(FIRST_BACKOFF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Circuit {
    Closed,
    /// No attempts until then; the first one after is a probe.
    Open {
        until: Instant,
    },
}

/// The circuit breaker of one sink.
#[derive(Debug)]
pub struct Breaker {
    pub circuit: Circuit,
    /// Failed attempts in a row.
    pub failures: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            circuit: Circuit::Closed,
            failures: 0,
        }
    }
}

impl Breaker {
    /// An attempt got an answer that is not a failure of the sink.
    /// Returns whether the circuit was open (the probe closed it).
    pub fn success(&mut self) -> bool {
        self.failures = 0;
        std::mem::replace(&mut self.circuit, Circuit::Closed) != Circuit::Closed
    }

    /// An attempt failed at `now`; returns when the next attempt may be
    /// made and whether this failure opened the circuit.
    pub fn failure(&mut self, now: Instant, retry_after: Option<Duration>) -> (Instant, bool) {
        self.failures += 1;
        let was_open = matches!(self.circuit, Circuit::Open { .. });
        if self.failures >= OPEN_AFTER {
            // A failed probe opens it again for a whole cool-down.
            let until = now + COOL_DOWN.max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
            self.circuit = Circuit::Open { until };
            return (until, !was_open);
        }
        let wait = match retry_after {
            Some(after) => after.min(MAX_RETRY_AFTER),
            None => backoff(self.failures, fastrand::f64()),
        };
        (now + wait, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_250ms_to_30s_with_jitter() {
        assert_eq!(backoff(1, 0.0), FIRST_BACKOFF);
        assert_eq!(backoff(1, 0.99), FIRST_BACKOFF);
        assert_eq!(backoff(3, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(3, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(20, 0.0), Duration::from_secs(15));
        assert_eq!(backoff(20, 1.0), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_BACKOFF);
        for n in 1..40 {
            let d = backoff(n, fastrand::f64());
            assert!((FIRST_BACKOFF..=MAX_BACKOFF).contains(&d), "{n}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_circuit_opens_after_five_failures_in_a_row_and_a_probe_closes_it() {
        let mut breaker = Breaker::default();
        for n in 1..OPEN_AFTER {
            let now = Instant::now();
            let (next, opened) = breaker.failure(now, None);
            assert!(!opened && breaker.circuit == Circuit::Closed, "{n}");
            assert!(next - now <= MAX_BACKOFF);
            tokio::time::sleep_until(next).await;
        }
        let now = Instant::now();
        let (until, opened) = breaker.failure(now, None);
        assert!(opened);
        assert_eq!(until - now, COOL_DOWN);
        assert_eq!(breaker.circuit, Circuit::Open { until });
        tokio::time::sleep_until(until).await;
        // The probe fails: open again, for a whole cool-down, not "opened" anew.
        let (again, opened) = breaker.failure(Instant::now(), None);
        assert!(!opened);
        assert_eq!(again - Instant::now(), COOL_DOWN);
        tokio::time::sleep_until(again).await;
        assert!(breaker.success(), "the probe closed the circuit");
        assert_eq!(breaker.circuit, Circuit::Closed);
        assert!(!breaker.success());
        let (next, opened) = breaker.failure(Instant::now(), None);
        assert!(!opened && next - Instant::now() <= Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_obeyed_within_reason() {
        let mut breaker = Breaker::default();
        let now = Instant::now();
        let (next, _) = breaker.failure(now, Some(Duration::from_secs(7)));
        assert_eq!(next - now, Duration::from_secs(7));
        let (next, _) = breaker.failure(now, Some(Duration::from_secs(86_400)));
        assert_eq!(next - now, MAX_RETRY_AFTER);
    }
}
