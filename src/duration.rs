//! Durations said back to the user as kubectl writes them; a leaf every
//! stage may use (the plan parses them, sinks and messages echo them).

use std::time::Duration;

/// A duration the user gave, said back as kubectl writes one (`168h`,
/// `1h30m`, `2m5s`, `250ms`), not in days (`7days`), which no flag takes.
pub fn show(duration: Duration) -> String {
    let secs = duration.as_secs();
    let millis = duration.subsec_millis();
    let parts = [
        (secs / 3600, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(millis), "ms"),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if text.is_empty() { "0s".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_at_most_and_no_zero_parts() {
        assert_eq!(show(Duration::from_secs(168 * 3600)), "168h");
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(show(Duration::ZERO), "0s");
    }
}
