//! Ages as Kubernetes prints them (`duration.HumanDuration`, computed server-side).

use chrono::{DateTime, TimeDelta, Utc};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;

/// A succinct duration with ~2-3 significant figures, exactly like apimachinery's
/// `duration.HumanDuration`: "45s", "3m2s", "10m", "5h3m", "20h", "2d3h", "30d",
/// "2y14d", "9y". Up to 2 s in the future counts as "0s" (clock skew); more is "<invalid>".
pub fn human_duration(d: TimeDelta) -> String {
    // Go truncates every unit toward zero; integer division of nanoseconds does the same.
    let nanos = i128::from(d.num_seconds()) * NANOS_PER_SECOND + i128::from(d.subsec_nanos());
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / NANOS_PER_MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / NANOS_PER_HOUR;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

/// Upstream `translateTimestampSince`: "<unknown>" when the timestamp is unset.
pub(crate) fn since(timestamp: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match timestamp {
        Some(t) => human_duration(now.signed_duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> TimeDelta {
        TimeDelta::seconds(s)
    }

    #[test]
    fn boundaries_match_apimachinery() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (3 * 60 + 2, "3m2s"),
            (9 * 60 + 59, "9m59s"),
            (10 * 60, "10m"),
            (10 * 60 + 59, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600 - 1, "7h59m"),
            (8 * 3600, "8h"),
            (48 * 3600 - 1, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (8 * 86400 - 1, "7d23h"),
            (8 * 86400, "8d"),
            (2 * 365 * 86400 - 1, "729d"),
            (2 * 365 * 86400, "2y"),
            (2 * 365 * 86400 + 14 * 86400, "2y14d"),
            (8 * 365 * 86400 - 1, "7y364d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400, "20y"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(secs(*s)), *want, "{s} seconds");
        }
    }

    #[test]
    fn future_timestamps_tolerate_small_skew() {
        assert_eq!(human_duration(TimeDelta::milliseconds(-1500)), "0s");
        assert_eq!(human_duration(secs(-1)), "0s");
        assert_eq!(human_duration(TimeDelta::milliseconds(-1999)), "0s");
        assert_eq!(human_duration(secs(-2)), "<invalid>");
    }

    #[test]
    fn sub_second_parts_truncate() {
        assert_eq!(human_duration(TimeDelta::milliseconds(119_999)), "119s");
        assert_eq!(human_duration(TimeDelta::milliseconds(999)), "0s");
    }

    #[test]
    fn unset_timestamp_is_unknown() {
        assert_eq!(since(None, Utc::now()), "<unknown>");
    }
}
