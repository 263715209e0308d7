//! Turning a raw recommendation into the replica count to apply: the
//! stabilization windows over past recommendations and the scale-rate
//! policies over past scale events (`spec.behavior`), or, without a
//! behavior, the legacy down-scale window and ×2-or-+4 scale-up limit.

use k8s_openapi::api::autoscaling::v2::{HPAScalingPolicy, HPAScalingRules};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::time::Duration;

/// A recommendation (before stabilization) made at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    pub replicas: i32,
    pub at: Timestamp,
}

/// A rescale the controller made: `change` replicas (absolute) at `at`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleEvent {
    pub change: i32,
    pub at: Timestamp,
    /// Older than every policy period: its slot may be reused.
    pub outdated: bool,
}

/// What the controller remembers about one HPA between syncs (in memory,
/// like upstream: a restart forgets it).
#[derive(Clone, Debug, Default)]
pub struct History {
    pub recommendations: Vec<Recommendation>,
    pub scale_up: Vec<ScaleEvent>,
    pub scale_down: Vec<ScaleEvent>,
}

/// The outcome of a limit: the count and the ScalingLimited reason/message.
#[derive(Clone, Debug, PartialEq)]
pub struct Limited {
    pub replicas: i32,
    pub reason: &'static str,
    pub message: &'static str,
}

impl Limited {
    fn new(replicas: i32, reason: &'static str, message: &'static str) -> Self {
        Self {
            replicas,
            reason,
            message,
        }
    }

    fn within_range(replicas: i32) -> Self {
        Self::new(
            replicas,
            "DesiredWithinRange",
            "the desired count is within the acceptable range",
        )
    }
}

fn policy(type_: &str, value: i32, period_seconds: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.into(),
        value,
        period_seconds,
    }
}

/// spec.behavior.scaleUp with the API defaults filled in: no stabilization,
/// the larger of +4 pods or +100% per 15 s.
pub fn scale_up_rules(given: Option<&HPAScalingRules>) -> HPAScalingRules {
    let mut rules = given.cloned().unwrap_or_default();
    if rules.policies.as_ref().is_none_or(Vec::is_empty) {
        rules.policies = Some(vec![policy("Pods", 4, 15), policy("Percent", 100, 15)]);
    }
    rules.select_policy.get_or_insert_with(|| "Max".into());
    rules.stabilization_window_seconds.get_or_insert(0);
    rules
}

/// spec.behavior.scaleDown with defaults: −100% per 15 s, and the
/// controller's own window when the HPA names none.
pub fn scale_down_rules(given: Option<&HPAScalingRules>, window: Duration) -> HPAScalingRules {
    let mut rules = given.cloned().unwrap_or_default();
    if rules.policies.as_ref().is_none_or(Vec::is_empty) {
        rules.policies = Some(vec![policy("Percent", 100, 15)]);
    }
    rules.select_policy.get_or_insert_with(|| "Max".into());
    rules
        .stabilization_window_seconds
        .get_or_insert(i32::try_from(window.as_secs()).unwrap_or(i32::MAX));
    rules
}

fn before(now: Timestamp, seconds: i64) -> Timestamp {
    now.checked_sub(SignedDuration::from_secs(seconds))
        .unwrap_or(Timestamp::MIN)
}

/// Scale-up without a behavior: at most ×2, and at least up to 4.
fn legacy_scale_up_limit(current: i32) -> i32 {
    (2.0 * f64::from(current)).max(4.0) as i32
}

/// Clamp to [min, max] and the legacy scale-up limit.
pub fn limit_without_behavior(current: i32, desired: i32, min: i32, max: i32) -> Limited {
    let up_limit = legacy_scale_up_limit(current);
    let (maximum, reason, message) = if max > up_limit {
        (
            up_limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    } else {
        (
            max,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    };
    if desired < min {
        Limited::new(
            min,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        )
    } else if desired > maximum {
        Limited::new(maximum, reason, message)
    } else {
        Limited::within_range(desired)
    }
}

/// Sum of the changes in `events` within the last `period_seconds`.
fn change_in_period(events: &[ScaleEvent], period_seconds: i32, now: Timestamp) -> i32 {
    let cutoff = before(now, i64::from(period_seconds));
    events
        .iter()
        .filter(|e| e.at > cutoff)
        .fold(0i32, |acc, e| acc.saturating_add(e.change))
}

fn policies(rules: &HPAScalingRules) -> &[HPAScalingPolicy] {
    rules.policies.as_deref().unwrap_or(&[])
}

fn select(rules: &HPAScalingRules) -> &str {
    rules.select_policy.as_deref().unwrap_or("Max")
}

impl History {
    /// The first sync of an HPA remembers the current count as a recommendation.
    pub fn record_initial(&mut self, current: i32, now: Timestamp) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation {
                replicas: current,
                at: now,
            });
        }
    }

    /// Store `recommendation`, reusing the slot of `stale` if there is one.
    fn remember(&mut self, stale: Option<usize>, replicas: i32, now: Timestamp) {
        let rec = Recommendation { replicas, at: now };
        match stale {
            Some(i) => self.recommendations[i] = rec,
            None => self.recommendations.push(rec),
        }
    }

    /// Without a behavior: the highest recommendation of the last `window`
    /// (scale down only when every recent one agrees).
    pub fn stabilize(&mut self, desired: i32, now: Timestamp, window: Duration) -> i32 {
        let cutoff = before(now, i64::try_from(window.as_secs()).unwrap_or(i64::MAX));
        let mut highest = desired;
        let mut stale = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if rec.at < cutoff {
                stale = Some(i);
            } else if rec.replicas > highest {
                highest = rec.replicas;
            }
        }
        self.remember(stale, desired, now);
        highest
    }

    /// With a behavior: keep the count between the lowest recommendation of
    /// the scale-up window and the highest of the scale-down window.
    /// Returns the count and the AbleToScale reason/message to use when it
    /// differs from `desired`.
    pub fn stabilize_with_rules(
        &mut self,
        current: i32,
        desired: i32,
        up: &HPAScalingRules,
        down: &HPAScalingRules,
        now: Timestamp,
    ) -> (i32, &'static str, &'static str) {
        let up_cutoff = before(now, i64::from(up.stabilization_window_seconds.unwrap_or(0)));
        let down_cutoff = before(
            now,
            i64::from(down.stabilization_window_seconds.unwrap_or(0)),
        );
        let mut up_bound = desired;
        let mut down_bound = desired;
        let mut stale = None;
        for (i, rec) in self.recommendations.iter().enumerate() {
            if rec.at > up_cutoff {
                up_bound = up_bound.min(rec.replicas);
            }
            if rec.at > down_cutoff {
                down_bound = down_bound.max(rec.replicas);
            }
            if rec.at < up_cutoff && rec.at < down_cutoff {
                stale = Some(i);
            }
        }
        let stabilized = current.max(up_bound).min(down_bound);
        self.remember(stale, desired, now);
        if desired >= current {
            (
                stabilized,
                "ScaleUpStabilized",
                "recent recommendations were lower than current one, applying the lowest recent recommendation",
            )
        } else {
            (
                stabilized,
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation",
            )
        }
    }

    /// With a behavior: clamp to [min, max] and the scale-rate policies.
    #[allow(clippy::too_many_arguments)]
    pub fn limit_with_rules(
        &self,
        current: i32,
        desired: i32,
        min: i32,
        max: i32,
        up: &HPAScalingRules,
        down: &HPAScalingRules,
        now: Timestamp,
    ) -> Limited {
        if desired > current {
            // Until old events age out, never below the current count.
            let rate_limit = self.scale_up_limit(current, up, now).max(current);
            if max > rate_limit {
                if desired > rate_limit {
                    return Limited::new(
                        rate_limit,
                        "ScaleUpLimit",
                        "the desired replica count is increasing faster than the maximum scale rate",
                    );
                }
            } else if desired > max {
                return Limited::new(
                    max,
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                );
            }
        } else if desired < current {
            let rate_limit = self.scale_down_limit(current, down, now).min(current);
            if min < rate_limit {
                if desired < rate_limit {
                    return Limited::new(
                        rate_limit,
                        "ScaleDownLimit",
                        "the desired replica count is decreasing faster than the maximum scale rate",
                    );
                }
            } else if desired < min {
                return Limited::new(
                    min,
                    "TooFewReplicas",
                    "the desired replica count is less than the minimum replica count",
                );
            }
        }
        Limited::within_range(desired)
    }

    /// The most replicas the scale-up policies allow now.
    fn scale_up_limit(&self, current: i32, rules: &HPAScalingRules, now: Timestamp) -> i32 {
        let pick: fn(i32, i32) -> i32 = match select(rules) {
            "Disabled" => return current,
            "Min" => std::cmp::min,
            _ => std::cmp::max,
        };
        let mut result: Option<i32> = None;
        for p in policies(rules) {
            let added = change_in_period(&self.scale_up, p.period_seconds, now);
            let removed = change_in_period(&self.scale_down, p.period_seconds, now);
            let period_start = current - added + removed;
            let proposed = match p.type_.as_str() {
                "Pods" => period_start.saturating_add(p.value),
                // Rounded up so a small percentage can still add a pod.
                "Percent" => {
                    (f64::from(period_start) * (1.0 + f64::from(p.value) / 100.0)).ceil() as i32
                }
                _ => continue,
            };
            result = Some(result.map_or(proposed, |r| pick(r, proposed)));
        }
        result.unwrap_or(match select(rules) {
            "Min" => i32::MAX,
            _ => i32::MIN,
        })
    }

    /// The fewest replicas the scale-down policies allow now.
    fn scale_down_limit(&self, current: i32, rules: &HPAScalingRules, now: Timestamp) -> i32 {
        let pick: fn(i32, i32) -> i32 = match select(rules) {
            "Disabled" => return current,
            "Min" => std::cmp::max,
            _ => std::cmp::min,
        };
        let mut result: Option<i32> = None;
        for p in policies(rules) {
            let added = change_in_period(&self.scale_up, p.period_seconds, now);
            let removed = change_in_period(&self.scale_down, p.period_seconds, now);
            let period_start = current - added + removed;
            let proposed = match p.type_.as_str() {
                "Pods" => period_start.saturating_sub(p.value),
                "Percent" => (f64::from(period_start) * (1.0 - f64::from(p.value) / 100.0)) as i32,
                _ => continue,
            };
            result = Some(result.map_or(proposed, |r| pick(r, proposed)));
        }
        result.unwrap_or(match select(rules) {
            "Min" => i32::MIN,
            _ => i32::MAX,
        })
    }

    /// Remember a rescale from `previous` to `new` (only used with a behavior).
    pub fn store_scale_event(
        &mut self,
        up: &HPAScalingRules,
        down: &HPAScalingRules,
        previous: i32,
        new: i32,
        now: Timestamp,
    ) {
        let (events, rules, change) = if new > previous {
            (&mut self.scale_up, up, new - previous)
        } else {
            (&mut self.scale_down, down, previous - new)
        };
        let longest = policies(rules)
            .iter()
            .map(|p| p.period_seconds)
            .max()
            .unwrap_or(0);
        let cutoff = before(now, i64::from(longest));
        for e in events.iter_mut() {
            if e.at < cutoff {
                e.outdated = true;
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match events.iter().rposition(|e| e.outdated) {
            Some(i) => events[i] = event,
            None => events.push(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(T0 + s).expect("ts")
    }

    fn rules(select: &str, window: i32, policies: &[(&str, i32, i32)]) -> HPAScalingRules {
        HPAScalingRules {
            policies: Some(policies.iter().map(|(t, v, p)| policy(t, *v, *p)).collect()),
            select_policy: Some(select.into()),
            stabilization_window_seconds: Some(window),
            tolerance: None,
        }
    }

    #[test]
    fn defaults_match_upstream() {
        let up = scale_up_rules(None);
        assert_eq!(up.stabilization_window_seconds, Some(0));
        assert_eq!(up.select_policy.as_deref(), Some("Max"));
        assert_eq!(up.policies.as_ref().map(Vec::len), Some(2));
        let down = scale_down_rules(None, Duration::from_secs(300));
        assert_eq!(down.stabilization_window_seconds, Some(300));
        assert_eq!(down.policies, Some(vec![policy("Percent", 100, 15)]));
        let given = rules("Min", 60, &[("Pods", 1, 60)]);
        assert_eq!(
            scale_down_rules(Some(&given), Duration::from_secs(300)),
            given
        );
    }

    #[test]
    fn legacy_limits() {
        let table = [
            // current, desired, min, max → replicas, reason
            (2, 10, 1, 20, 4, "ScaleUpLimit"),
            (3, 10, 1, 20, 6, "ScaleUpLimit"),
            (3, 10, 1, 5, 5, "TooManyReplicas"),
            (3, 0, 1, 5, 1, "TooFewReplicas"),
            (3, 4, 1, 5, 4, "DesiredWithinRange"),
        ];
        for (current, desired, min, max, want, reason) in table {
            let got = limit_without_behavior(current, desired, min, max);
            assert_eq!(
                (got.replicas, got.reason),
                (want, reason),
                "{current}->{desired}"
            );
        }
    }

    #[test]
    fn legacy_stabilization_keeps_highest_recent() {
        let mut h = History::default();
        let window = Duration::from_secs(300);
        h.record_initial(5, at(0));
        assert_eq!(h.stabilize(2, at(15), window), 5);
        assert_eq!(h.stabilize(3, at(30), window), 5);
        // The initial 5 is older than the window now; 3 (at 30s) still counts.
        assert_eq!(h.stabilize(2, at(301), window), 3);
        assert_eq!(h.stabilize(2, at(340), window), 2);
        assert!(h.recommendations.len() <= 3, "stale slots are reused");
    }

    #[test]
    fn behavior_stabilization_windows() {
        let up = rules("Max", 60, &[("Percent", 100, 15)]);
        let down = rules("Max", 120, &[("Percent", 100, 15)]);
        let mut h = History::default();
        h.record_initial(4, at(0));
        // Scale-up waits for every recommendation of the last minute to agree.
        let (r, reason, _) = h.stabilize_with_rules(4, 8, &up, &down, at(10));
        assert_eq!((r, reason), (4, "ScaleUpStabilized"));
        let (r, _, _) = h.stabilize_with_rules(4, 8, &up, &down, at(61));
        assert_eq!(r, 8, "the 4 at t=0 left the up window");
        // Down: highest of the last 120 s (8s) holds it up.
        let (r, reason, _) = h.stabilize_with_rules(8, 2, &up, &down, at(100));
        assert_eq!((r, reason), (8, "ScaleDownStabilized"));
        let (r, _, _) = h.stabilize_with_rules(8, 2, &up, &down, at(182));
        assert_eq!(r, 2);
    }

    #[test]
    fn rate_policies_table() {
        struct Case {
            name: &'static str,
            current: i32,
            desired: i32,
            min: i32,
            max: i32,
            up: HPAScalingRules,
            down: HPAScalingRules,
            up_events: Vec<(i32, i64)>,
            down_events: Vec<(i32, i64)>,
            want: (i32, &'static str),
        }
        let default_up = scale_up_rules(None);
        let default_down = scale_down_rules(None, Duration::from_secs(300));
        let cases = vec![
            Case {
                name: "default up: max(+4, +100%) from 2 → 6",
                current: 2,
                desired: 20,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (6, "ScaleUpLimit"),
            },
            Case {
                name: "default up from 10 → 20 (100% beats 4 pods)",
                current: 10,
                desired: 30,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (20, "ScaleUpLimit"),
            },
            Case {
                name: "recent scale-up counts against the period",
                current: 6,
                desired: 20,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![(4, -5)],
                down_events: vec![],
                // period start 2 → max(6, 4) = 6: no further growth yet
                want: (6, "ScaleUpLimit"),
            },
            Case {
                name: "old events no longer count",
                current: 6,
                desired: 20,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![(4, -16)],
                down_events: vec![],
                want: (12, "ScaleUpLimit"),
            },
            Case {
                name: "max replicas wins over a looser rate",
                current: 10,
                desired: 30,
                min: 1,
                max: 12,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (12, "TooManyReplicas"),
            },
            Case {
                name: "selectPolicy Min picks the smaller step",
                current: 10,
                desired: 30,
                min: 1,
                max: 50,
                up: rules("Min", 0, &[("Pods", 4, 15), ("Percent", 100, 15)]),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (14, "ScaleUpLimit"),
            },
            Case {
                name: "scale-up disabled",
                current: 10,
                desired: 30,
                min: 1,
                max: 50,
                up: rules("Disabled", 0, &[("Pods", 4, 15)]),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (10, "ScaleUpLimit"),
            },
            Case {
                name: "down by at most 1 pod per minute",
                current: 10,
                desired: 2,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: rules("Max", 0, &[("Pods", 1, 60)]),
                up_events: vec![],
                down_events: vec![(1, -30)],
                // period start 11 → 10: nothing more this minute
                want: (10, "ScaleDownLimit"),
            },
            Case {
                name: "down by percent rounds toward zero",
                current: 10,
                desired: 1,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: rules("Max", 0, &[("Percent", 35, 15)]),
                up_events: vec![],
                down_events: vec![],
                want: (6, "ScaleDownLimit"),
            },
            Case {
                name: "down: Max select means the biggest drop",
                current: 10,
                desired: 1,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: rules("Max", 0, &[("Percent", 10, 15), ("Pods", 5, 15)]),
                up_events: vec![],
                down_events: vec![],
                want: (5, "ScaleDownLimit"),
            },
            Case {
                name: "down to min replicas",
                current: 10,
                desired: 1,
                min: 3,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (3, "TooFewReplicas"),
            },
            Case {
                name: "within range",
                current: 4,
                desired: 5,
                min: 1,
                max: 50,
                up: default_up.clone(),
                down: default_down.clone(),
                up_events: vec![],
                down_events: vec![],
                want: (5, "DesiredWithinRange"),
            },
        ];
        for case in cases {
            let events = |v: &[(i32, i64)]| {
                v.iter()
                    .map(|(change, s)| ScaleEvent {
                        change: *change,
                        at: at(*s),
                        outdated: false,
                    })
                    .collect()
            };
            let h = History {
                recommendations: vec![],
                scale_up: events(&case.up_events),
                scale_down: events(&case.down_events),
            };
            let got = h.limit_with_rules(
                case.current,
                case.desired,
                case.min,
                case.max,
                &case.up,
                &case.down,
                at(0),
            );
            assert_eq!((got.replicas, got.reason), case.want, "{}", case.name);
        }
    }

    #[test]
    fn scale_events_reuse_outdated_slots() {
        let up = scale_up_rules(None);
        let down = scale_down_rules(None, Duration::from_secs(300));
        let mut h = History::default();
        h.store_scale_event(&up, &down, 2, 6, at(0));
        h.store_scale_event(&up, &down, 6, 12, at(20));
        assert_eq!(h.scale_up.len(), 1, "the first event (20 s old) is reused");
        assert_eq!(h.scale_up[0].change, 6);
        h.store_scale_event(&up, &down, 12, 3, at(25));
        assert_eq!(h.scale_down.len(), 1);
        assert_eq!(h.scale_down[0].change, 9);
    }
}
