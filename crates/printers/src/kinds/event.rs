//! Event rows. core/v1 and events.k8s.io/v1 Events share one storage and one printer
//! upstream; the events.k8s.io field names are mapped onto the core ones here.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::column::{Column, NAME};
use crate::descriptions as desc;
use crate::duration::since;
use crate::json::{at, int_at, name, str_at, time_at};

pub(crate) const COLUMNS: &[Column] = &[
    Column::new("Last Seen", "string", desc::EVENT_LAST_SEEN),
    Column::new("Type", "string", desc::EVENT_TYPE),
    Column::new("Reason", "string", desc::EVENT_REASON),
    Column::new("Object", "string", desc::EVENT_OBJECT),
    Column::new("Subobject", "string", desc::EVENT_SUBOBJECT).wide(),
    Column::new("Source", "string", desc::EVENT_SOURCE).wide(),
    Column::new("Message", "string", desc::EVENT_MESSAGE),
    Column::new("First Seen", "string", desc::EVENT_FIRST_SEEN).wide(),
    Column::new("Count", "string", desc::EVENT_COUNT).wide(),
    NAME.wide(),
];

/// Field names of one Event flavour.
struct EventFields {
    regarding: &'static str,
    message: &'static str,
    source: &'static str,
    first_timestamp: &'static str,
    last_timestamp: &'static str,
    count: &'static str,
    reporting_controller: &'static str,
}

const CORE: EventFields = EventFields {
    regarding: "involvedObject",
    message: "message",
    source: "source",
    first_timestamp: "firstTimestamp",
    last_timestamp: "lastTimestamp",
    count: "count",
    reporting_controller: "reportingComponent",
};

const EVENTS_V1: EventFields = EventFields {
    regarding: "regarding",
    message: "note",
    source: "deprecatedSource",
    first_timestamp: "deprecatedFirstTimestamp",
    last_timestamp: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    reporting_controller: "reportingController",
};

pub(crate) fn core_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event_cells(obj, now, &CORE)
}

pub(crate) fn events_v1_cells(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event_cells(obj, now, &EVENTS_V1)
}

fn event_cells(obj: &Value, now: DateTime<Utc>, f: &EventFields) -> Vec<Value> {
    let first_seen = match time_at(obj, &[f.first_timestamp]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(obj, &["eventTime"]), now),
    };
    let mut last_seen = match time_at(obj, &[f.last_timestamp]) {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = int_at(obj, &[f.count]);
    if let Some(series) = at(obj, &["series"]) {
        last_seen = since(time_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }

    let kind = str_at(obj, &[f.regarding, "kind"]).to_lowercase();
    let regarding_name = str_at(obj, &[f.regarding, "name"]);
    let target = if regarding_name.is_empty() {
        kind
    } else {
        format!("{kind}/{regarding_name}")
    };

    vec![
        json!(last_seen),
        json!(str_at(obj, &["type"])),
        json!(str_at(obj, &["reason"])),
        json!(target),
        json!(str_at(obj, &[f.regarding, "fieldPath"])),
        json!(source(obj, f)),
        json!(str_at(obj, &[f.message]).trim()),
        json!(first_seen),
        json!(count),
        json!(name(obj)),
    ]
}

/// "component, host", falling back to the reporting controller/instance.
fn source(obj: &Value, f: &EventFields) -> String {
    let first_non_empty = |a: &'static str, b: &'static str| {
        let primary = str_at(obj, &[f.source, a]);
        if primary.is_empty() {
            str_at(obj, &[b]).to_string()
        } else {
            primary.to_string()
        }
    };
    let component = first_non_empty("component", f.reporting_controller);
    let instance = first_non_empty("host", "reportingInstance");
    if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn core_event_row() {
        let ev = json!({
            "metadata": {"name": "web-0.17f3a", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning",
            "message": "Back-off restarting failed container\n",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": "2025-01-01T11:00:00Z",
            "lastTimestamp": "2025-01-01T11:58:30Z",
            "count": 12
        });
        assert_eq!(
            core_cells(&ev, now()),
            vec![
                json!("90s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, node-a"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(12),
                json!("web-0.17f3a"),
            ]
        );
    }

    #[test]
    fn new_style_event_with_event_time_and_series() {
        let ev = json!({
            "metadata": {"name": "x"},
            "involvedObject": {"kind": "Node"},
            "reportingComponent": "scheduler", "reportingInstance": "",
            "eventTime": "2025-01-01T11:55:00.000000Z",
            "series": {"count": 4, "lastObservedTime": "2025-01-01T11:59:00.123456Z"},
            "type": "Normal", "reason": "Scheduled", "message": "ok"
        });
        let c = core_cells(&ev, now());
        // 59.876s truncates like Go does.
        assert_eq!(c[0], json!("59s"));
        assert_eq!(c[3], json!("node"));
        assert_eq!(c[5], json!("scheduler"));
        assert_eq!(c[7], json!("5m"));
        assert_eq!(c[8], json!(4));
    }

    #[test]
    fn singleton_event_without_timestamps() {
        let ev = json!({"metadata": {"name": "x"}, "involvedObject": {"kind": "Pod", "name": "p"}});
        let c = core_cells(&ev, now());
        assert_eq!(c[0], json!("<unknown>"));
        assert_eq!(c[7], json!("<unknown>"));
        assert_eq!(c[8], json!(1));
    }

    #[test]
    fn events_k8s_io_fields_map_onto_core_ones() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "deploy.1"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "note": "Scaled up replica set web-5d8 to 3",
            "reason": "ScalingReplicaSet", "type": "Normal",
            "reportingController": "deployment-controller", "reportingInstance": "cm-1",
            "eventTime": "2025-01-01T11:59:50.000000Z",
            "deprecatedCount": 2,
            "deprecatedFirstTimestamp": "2025-01-01T11:50:00Z",
            "deprecatedLastTimestamp": "2025-01-01T11:59:50Z"
        });
        assert_eq!(
            events_v1_cells(&ev, now()),
            vec![
                json!("10s"),
                json!("Normal"),
                json!("ScalingReplicaSet"),
                json!("deployment/web"),
                json!(""),
                json!("deployment-controller, cm-1"),
                json!("Scaled up replica set web-5d8 to 3"),
                json!("10m"),
                json!(2),
                json!("deploy.1"),
            ]
        );
    }
}
