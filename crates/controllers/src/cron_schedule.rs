//! Cron schedules as the CronJob controller reads them (robfig/cron's
//! standard parser): five fields `minute hour day-of-month month day-of-week`
//! with lists, ranges, steps, month/weekday names and `?`, the descriptors
//! `@yearly @annually @monthly @weekly @daily @midnight @hourly`, and an
//! optional `CRON_TZ=<zone>` / `TZ=<zone>` prefix. When both day fields are
//! restricted a day matches either of them; if one starts with `*` both must.

use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, ToSpan};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("expected exactly 5 fields, found {0}: {1:?}")]
    FieldCount(usize, String),
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
    #[error("failed to parse {field} {value:?}: {reason}")]
    Field {
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("provided bad location {0}: unknown time zone {0}")]
    Zone(String),
}

#[derive(Debug, Clone)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// The day field began with `*` or `?` (robfig's star bit).
    dom_star: bool,
    dow_star: bool,
    /// Zone named in the schedule itself (`CRON_TZ=`), if any.
    pub zone: Option<TimeZone>,
    pub zone_name: Option<String>,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: FieldSpec = FieldSpec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DOW: FieldSpec = FieldSpec {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// Load an IANA zone from the system zone database (`$ZONEINFO` or
/// /usr/share/zoneinfo). Names are checked so they cannot escape the folder.
pub fn load_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    if name.is_empty() || name == "UTC" || name == "Etc/UTC" {
        return Ok(TimeZone::UTC);
    }
    let safe = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && !name.starts_with('/')
        && !name.split('/').any(|p| p.is_empty() || p == "..");
    if !safe {
        return Err(ScheduleError::Zone(name.into()));
    }
    let dirs = std::env::var("ZONEINFO").ok().into_iter().chain([
        "/usr/share/zoneinfo".to_string(),
        "/usr/lib/zoneinfo".to_string(),
    ]);
    for dir in dirs {
        if let Ok(bytes) = std::fs::read(std::path::Path::new(&dir).join(name)) {
            return TimeZone::tzif(name, &bytes).map_err(|_| ScheduleError::Zone(name.into()));
        }
    }
    Err(ScheduleError::Zone(name.into()))
}

fn parse_number(spec: &FieldSpec, s: &str) -> Result<u32, String> {
    let lower = s.to_ascii_lowercase();
    if let Some(pos) = spec.names.iter().position(|n| *n == lower) {
        return Ok(spec.min + u32::try_from(pos).unwrap_or(0));
    }
    s.parse::<u32>()
        .map_err(|_| format!("failed to parse int from {s}"))
}

/// One comma-separated field → bitset; also whether it began with `*`/`?`.
fn parse_field(spec: &FieldSpec, field: &str) -> Result<(u64, bool), ScheduleError> {
    let err = |reason: String| ScheduleError::Field {
        field: spec.name,
        value: field.into(),
        reason,
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let (mut lo, mut hi, mut part_star) = if range == "*" || range == "?" {
            (spec.min, spec.max, true)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_number(spec, a).map_err(err)?,
                parse_number(spec, b).map_err(err)?,
                false,
            )
        } else {
            let n = parse_number(spec, range).map_err(err)?;
            (n, n, false)
        };
        let step = match step {
            Some(s) => {
                let n: u32 = s
                    .parse()
                    .map_err(|_| err(format!("failed to parse int from {s}")))?;
                // "N/step" means "N-max/step".
                if !range.contains('-') && range != "*" && range != "?" {
                    hi = spec.max;
                }
                if n > 1 {
                    part_star = false;
                }
                n
            }
            None => 1,
        };
        if step == 0 {
            return Err(err("step of range should be a positive number".into()));
        }
        if lo < spec.min {
            return Err(err(format!(
                "beginning of range ({lo}) below minimum ({})",
                spec.min
            )));
        }
        if hi > spec.max {
            return Err(err(format!(
                "end of range ({hi}) above maximum ({})",
                spec.max
            )));
        }
        if lo > hi {
            return Err(err(format!(
                "beginning of range ({lo}) beyond end of range ({hi})"
            )));
        }
        while lo <= hi {
            bits |= 1 << lo;
            lo += step;
        }
        star |= part_star;
    }
    Ok((bits, star))
}

pub fn parse(schedule: &str) -> Result<Schedule, ScheduleError> {
    let mut text = schedule.trim();
    let mut zone = None;
    let mut zone_name = None;
    if let Some(rest) = text
        .strip_prefix("CRON_TZ=")
        .or_else(|| text.strip_prefix("TZ="))
    {
        let (name, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        zone = Some(load_zone(name)?);
        zone_name = Some(name.to_string());
        text = after.trim();
    }
    let expanded = if let Some(d) = text.strip_prefix('@') {
        match d {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => return Err(ScheduleError::Descriptor(text.into())),
        }
    } else {
        text
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(ScheduleError::FieldCount(fields.len(), expanded.into()));
    }
    let (minutes, _) = parse_field(&MINUTE, fields[0])?;
    let (hours, _) = parse_field(&HOUR, fields[1])?;
    let (days_of_month, dom_star) = parse_field(&DOM, fields[2])?;
    let (months, _) = parse_field(&MONTH, fields[3])?;
    let (days_of_week, dow_star) = parse_field(&DOW, fields[4])?;
    Ok(Schedule {
        minutes,
        hours,
        days_of_month,
        months,
        days_of_week,
        dom_star,
        dow_star,
        zone,
        zone_name,
    })
}

fn has(bits: u64, n: i8) -> bool {
    u32::try_from(n).is_ok_and(|n| n < 64 && bits & (1 << n) != 0)
}

impl Schedule {
    fn day_matches(&self, d: Date) -> bool {
        let dom = has(self.days_of_month, d.day());
        let dow = has(self.days_of_week, d.weekday().to_sunday_zero_offset());
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first activation strictly after `t`, in the schedule's own zone
    /// if it names one, else in `tz`. None if nothing within five years.
    pub fn next_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let tz = self.zone.as_ref().unwrap_or(tz);
        let start = tz.to_datetime(t);
        let mut dt = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = start.checked_add(5.years()).ok()?;
        while dt <= limit {
            if !has(self.months, dt.month()) {
                dt = DateTime::from(dt.date().first_of_month().checked_add(1.month()).ok()?);
                continue;
            }
            if !self.day_matches(dt.date()) {
                dt = DateTime::from(dt.date().checked_add(1.day()).ok()?);
                continue;
            }
            if !has(self.hours, dt.hour()) {
                dt = dt
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if !has(self.minutes, dt.minute()) {
                dt = dt.checked_add(1.minute()).ok()?;
                continue;
            }
            let at = tz.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
            if at > t {
                return Some(at);
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn next_activation_table() {
        let cases = [
            ("* * * * *", "2026-03-04T10:20:30Z", "2026-03-04T10:21:00Z"),
            (
                "*/15 * * * *",
                "2026-03-04T10:20:00Z",
                "2026-03-04T10:30:00Z",
            ),
            ("0 * * * *", "2026-03-04T10:00:00Z", "2026-03-04T11:00:00Z"),
            ("@hourly", "2026-03-04T10:59:59Z", "2026-03-04T11:00:00Z"),
            ("@daily", "2026-03-04T10:00:00Z", "2026-03-05T00:00:00Z"),
            ("@weekly", "2026-03-04T10:00:00Z", "2026-03-08T00:00:00Z"),
            ("@monthly", "2026-03-04T10:00:00Z", "2026-04-01T00:00:00Z"),
            ("@yearly", "2026-03-04T10:00:00Z", "2027-01-01T00:00:00Z"),
            (
                "30 9 * * MON-FRI",
                "2026-03-06T10:00:00Z",
                "2026-03-09T09:30:00Z",
            ),
            (
                "0 0 29 FEB *",
                "2026-01-01T00:00:00Z",
                "2028-02-29T00:00:00Z",
            ),
            // Both day fields restricted: either matches (13th or a Friday).
            ("0 0 13 * 5", "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z"),
            // Day-of-week starred: day-of-month alone decides.
            ("0 0 13 * *", "2026-03-01T00:00:00Z", "2026-03-13T00:00:00Z"),
            (
                "5/20 1-2 * * ?",
                "2026-03-04T01:50:00Z",
                "2026-03-04T02:05:00Z",
            ),
            ("0 12 * * *", "2026-03-04T11:00:00Z", "2026-03-04T12:00:00Z"),
            (
                "CRON_TZ=UTC 0 12 * * *",
                "2026-03-04T11:00:00Z",
                "2026-03-04T12:00:00Z",
            ),
        ];
        for (spec, after, want) in cases {
            let s = parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                s.next_after(ts(after), &TimeZone::UTC),
                Some(ts(want)),
                "{spec} after {after}"
            );
        }
    }

    #[test]
    fn zones_shift_the_wall_clock() {
        let Ok(tokyo) = load_zone("Asia/Tokyo") else {
            return; // no zone database on this machine
        };
        let s = parse("0 9 * * *").expect("parse");
        assert_eq!(
            s.next_after(ts("2026-03-04T00:30:00Z"), &tokyo),
            Some(ts("2026-03-05T00:00:00Z"))
        );
        let s = parse("CRON_TZ=Asia/Tokyo 0 9 * * *").expect("parse");
        assert_eq!(
            s.next_after(ts("2026-03-03T23:30:00Z"), &TimeZone::UTC),
            Some(ts("2026-03-04T00:00:00Z"))
        );
        // 02:30 does not exist on the spring-forward day in New York.
        if let Ok(ny) = load_zone("America/New_York") {
            let s = parse("30 2 * * *").expect("parse");
            let next = s.next_after(ts("2026-03-08T05:00:00Z"), &ny).expect("next");
            assert_eq!(next, ts("2026-03-08T07:30:00Z"));
        }
    }

    #[test]
    fn rejects_bad_schedules() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 7",
            "*/0 * * * *",
            "@every",
            "5-1 * * * *",
            "x * * * *",
        ] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(matches!(
            load_zone("../etc/passwd"),
            Err(ScheduleError::Zone(_))
        ));
        assert!(matches!(
            load_zone("Nowhere/Atlantis"),
            Err(ScheduleError::Zone(_))
        ));
    }
}
