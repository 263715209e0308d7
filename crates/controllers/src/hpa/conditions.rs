//! HPA status conditions (AbleToScale, ScalingActive, ScalingLimited),
//! set in place like upstream's `setCondition`: the transition time moves
//! only when the status flips.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub const ABLE_TO_SCALE: &str = "AbleToScale";
pub const SCALING_ACTIVE: &str = "ScalingActive";
pub const SCALING_LIMITED: &str = "ScalingLimited";

/// One condition to set: (type, status, reason, message).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

pub fn set(list: &mut Vec<HorizontalPodAutoscalerCondition>, c: Condition, now: Timestamp) {
    let status = if c.status { "True" } else { "False" };
    let index = match list.iter().position(|e| e.type_ == c.type_) {
        Some(i) => i,
        None => {
            list.push(HorizontalPodAutoscalerCondition {
                type_: c.type_.into(),
                ..Default::default()
            });
            list.len() - 1
        }
    };
    let existing = &mut list[index];
    if existing.status != status {
        existing.last_transition_time = Some(Time(now));
    }
    existing.status = status.into();
    existing.reason = Some(c.reason);
    existing.message = Some(c.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_on_flip() {
        let t1 = Timestamp::from_second(1_700_000_000).expect("t");
        let t2 = Timestamp::from_second(1_700_000_100).expect("t");
        let mut list = Vec::new();
        set(&mut list, Condition::new(ABLE_TO_SCALE, true, "A", "a"), t1);
        set(&mut list, Condition::new(ABLE_TO_SCALE, true, "B", "b"), t2);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].reason.as_deref(), Some("B"));
        assert_eq!(list[0].last_transition_time, Some(Time(t1)));
        set(
            &mut list,
            Condition::new(ABLE_TO_SCALE, false, "C", "c"),
            t2,
        );
        assert_eq!(list[0].last_transition_time, Some(Time(t2)));
        set(
            &mut list,
            Condition::new(SCALING_ACTIVE, true, "D", "d"),
            t2,
        );
        assert_eq!(list.len(), 2);
    }
}
