//! The kubelet Summary API (`stats/v1alpha1`) as served on GET /stats/summary:
//! field names and omission rules as upstream's JSON (optional figures are
//! left out, never sent as null). metrics-server and berth's metrics.k8s.io
//! read `cpu.usageNanoCores` and `memory.workingSetBytes` from it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub node: NodeStats,
    pub pods: Vec<PodStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    pub node_name: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rlimit: Option<RlimitStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_fs: Option<FsStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RlimitStats {
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maxpid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curproc: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    pub pod_ref: PodReference,
    pub start_time: String,
    pub containers: Vec<ContainerStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodReference {
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    pub name: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<FsStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<FsStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    pub time: String,
    /// Cores × 1e9 averaged over the last sample window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_nano_cores: Option<u64>,
    /// Cumulative CPU time (all cores) since the object was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_core_nano_seconds: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    pub time: String,
    /// Limit (or node capacity) − working set; omitted without a limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// Usage − inactive file cache: what the OOM killer and eviction look at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_set_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_faults: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub major_page_faults: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsStats {
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inodes_free: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inodes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inodes_used: Option<u64>,
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    }
}

impl CpuStats {
    /// Sum of two CPU figures (a pod's from its containers').
    pub fn plus(&self, other: &CpuStats) -> CpuStats {
        CpuStats {
            time: self.time.clone().max(other.time.clone()),
            usage_nano_cores: add(self.usage_nano_cores, other.usage_nano_cores),
            usage_core_nano_seconds: add(
                self.usage_core_nano_seconds,
                other.usage_core_nano_seconds,
            ),
        }
    }
}

impl MemoryStats {
    /// Sum of two memory figures; availability does not add up, so it is dropped.
    pub fn plus(&self, other: &MemoryStats) -> MemoryStats {
        MemoryStats {
            time: self.time.clone().max(other.time.clone()),
            available_bytes: None,
            usage_bytes: add(self.usage_bytes, other.usage_bytes),
            working_set_bytes: add(self.working_set_bytes, other.working_set_bytes),
            rss_bytes: add(self.rss_bytes, other.rss_bytes),
            page_faults: add(self.page_faults, other.page_faults),
            major_page_faults: add(self.major_page_faults, other.major_page_faults),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_upstream_field_names_and_omits_missing_figures() {
        let s = Summary {
            node: NodeStats {
                node_name: "n1".into(),
                start_time: "2026-01-01T00:00:00Z".into(),
                cpu: Some(CpuStats {
                    time: "t".into(),
                    usage_nano_cores: Some(5),
                    usage_core_nano_seconds: Some(7),
                }),
                memory: Some(MemoryStats {
                    time: "t".into(),
                    working_set_bytes: Some(3),
                    rss_bytes: Some(1),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pods: vec![PodStats {
                pod_ref: PodReference {
                    name: "p".into(),
                    namespace: "ns".into(),
                    uid: "u".into(),
                },
                start_time: "t".into(),
                containers: vec![],
                cpu: None,
                memory: None,
            }],
        };
        let v = serde_json::to_value(&s).unwrap_or_default();
        assert_eq!(
            v,
            json!({
                "node": {"nodeName": "n1", "startTime": "2026-01-01T00:00:00Z",
                         "cpu": {"time": "t", "usageNanoCores": 5, "usageCoreNanoSeconds": 7},
                         "memory": {"time": "t", "workingSetBytes": 3, "rssBytes": 1}},
                "pods": [{"podRef": {"name": "p", "namespace": "ns", "uid": "u"},
                          "startTime": "t", "containers": []}],
            })
        );
    }

    #[test]
    fn sums_add_present_figures_and_drop_availability() {
        let a = MemoryStats {
            time: "1".into(),
            working_set_bytes: Some(10),
            available_bytes: Some(5),
            ..Default::default()
        };
        let b = MemoryStats {
            time: "2".into(),
            working_set_bytes: Some(4),
            usage_bytes: Some(9),
            ..Default::default()
        };
        let s = a.plus(&b);
        assert_eq!(s.working_set_bytes, Some(14));
        assert_eq!(s.usage_bytes, Some(9));
        assert_eq!(s.available_bytes, None);
        assert_eq!(s.rss_bytes, None);
        assert_eq!(s.time, "2");
    }
}
