//! TSO and the two time formats TiCDC prints (tiflow `pkg/util` JSONTime and oracle TSO), without a date crate. UTC.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Physical milliseconds of a TSO.
pub fn physical(ts: u64) -> u64 {
    ts >> 18
}

pub fn compose(ms: u64, logical: u64) -> u64 {
    (ms << 18) | (logical & 0x3ffff)
}

fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn parts(ms: u64) -> (i64, u32, u32, u64, u64, u64) {
    let secs = ms / 1000;
    let (y, mo, d) = civil((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, mo, d, rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// `"2006-01-02 15:04:05.000"` (checkpoint_time); 0 → Go's zero time.
pub fn custom(ms: u64) -> String {
    if ms == 0 {
        return "0001-01-01 00:00:00.000".into();
    }
    let (y, mo, d, h, mi, s) = parts(ms);
    format!(
        "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:03}",
        ms % 1000
    )
}

/// Go `time.RFC3339Nano`-style text in UTC (trailing zeros of the fraction trimmed).
pub fn rfc3339(ms: u64, nanos_extra: u32) -> String {
    let (y, mo, d, h, mi, s) = parts(ms);
    let frac = (ms % 1000) as u32 * 1_000_000 + nanos_extra % 1_000_000;
    let mut f = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:09}")
    };
    while f.ends_with('0') {
        f.pop();
    }
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{f}Z")
}

/// Go's `time.Duration.String()` for a non-negative duration in nanoseconds: `0s`, `500ms`,
/// `1.5µs`, `30s`, `1m30s`, `1h0m0s`.
pub fn go_duration(ns: u64) -> String {
    fn frac(v: u64, digits: u32) -> String {
        let p = 10u64.pow(digits);
        let (int, f) = (v / p, v % p);
        if f == 0 {
            return int.to_string();
        }
        let f = format!("{f:0width$}", width = digits as usize);
        format!("{int}.{}", f.trim_end_matches('0'))
    }
    match ns {
        0 => "0s".into(),
        1..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{}µs", frac(ns, 3)),
        1_000_000..=999_999_999 => format!("{}ms", frac(ns, 6)),
        _ => {
            let s = frac(ns % 60_000_000_000, 9);
            let m = (ns / 60_000_000_000) % 60;
            let h = ns / 3_600_000_000_000;
            if h > 0 {
                format!("{h}h{m}m{s}s")
            } else if m > 0 {
                format!("{m}m{s}s")
            } else {
                format!("{s}s")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn formats() {
        assert_eq!(custom(1_700_000_000_123), "2023-11-14 22:13:20.123");
        assert_eq!(rfc3339(1_700_000_000_120, 0), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(1_700_000_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(physical(compose(5, 3)), 5);
    }

    /// Go time/time.go `Duration.String`.
    #[test]
    fn go_duration_strings() {
        for (ns, want) in [
            (0, "0s"),
            (5, "5ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (10_000_000_000, "10s"),
            (10_500_000_000, "10.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (86_400_000_000_000, "24h0m0s"),
        ] {
            assert_eq!(go_duration(ns), want);
        }
    }
}
