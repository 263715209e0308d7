//! The election record kept in a Lease's spec (client-go's
//! `LeaderElectionRecord` mapped onto `LeaseSpec`).

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Record {
    /// Empty when nobody holds the lease (after a release).
    pub holder: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    pub transitions: i32,
}

impl Record {
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Record {
        let Some(spec) = spec else {
            return Record::default();
        };
        Record {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// Every field is written, as upstream's `LeaderElectionRecordToLeaseSpec`
    /// does (an empty holder is written as "", not omitted).
    pub fn write_into(&self, spec: &mut LeaseSpec) {
        spec.holder_identity = Some(self.holder.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.map(MicroTime);
        spec.renew_time = self.renew_time.map(MicroTime);
        spec.lease_transitions = Some(self.transitions);
    }
}

/// Now, at the microsecond precision a MicroTime keeps, so the record we
/// write compares equal to the one we read back.
pub(crate) fn micro_now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_lease_spec() {
        let now = micro_now();
        let record = Record {
            holder: "a".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: 3,
        };
        let mut spec = LeaseSpec::default();
        record.write_into(&mut spec);
        assert_eq!(Record::from_spec(Some(&spec)), record);
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    }

    #[test]
    fn released_record_writes_an_empty_holder() {
        let mut spec = LeaseSpec::default();
        Record::default().write_into(&mut spec);
        assert_eq!(spec.holder_identity.as_deref(), Some(""));
        let json = serde_json::to_value(&spec).unwrap_or_default();
        assert_eq!(json["holderIdentity"], "");
    }

    #[test]
    fn missing_spec_is_an_unheld_record() {
        assert_eq!(Record::from_spec(None), Record::default());
    }

    #[test]
    fn micro_now_has_no_sub_microsecond_part() {
        assert_eq!(micro_now().subsec_nanosecond() % 1000, 0);
    }
}
