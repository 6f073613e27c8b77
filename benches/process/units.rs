//! How the figures are written: milliseconds, MiB, microseconds per
//! update, counts with thousands separators.

pub(crate) fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

pub(crate) fn signed_ms(ns: i64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(crate) fn micros_per(us: u64, n: usize) -> String {
    format!("{:.1} µs", us as f64 / n.max(1) as f64)
}

pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
