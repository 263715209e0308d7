//! Node pressure conditions from measured figures, against the hard
//! eviction thresholds (the kubelet's eviction manager observes the same
//! signals: memory.available = capacity − working set, nodefs.available,
//! nodefs.inodesFree, imagefs.available, pid.available).

use crate::config::EvictionThresholds;
use crate::stats::Summary;

/// Which pressures hold now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pressure {
    pub memory: bool,
    pub disk: bool,
    pub pid: bool,
}

fn below_percent(available: Option<u64>, capacity: Option<u64>, percent: f64) -> bool {
    match (available, capacity) {
        (Some(a), Some(c)) if c > 0 => (a as f64) < (c as f64) * percent / 100.0,
        _ => false,
    }
}

/// Judge a summary's node figures against the thresholds. Missing figures never signal pressure.
pub fn judge(summary: &Summary, t: &EvictionThresholds) -> Pressure {
    let node = &summary.node;
    let memory = node
        .memory
        .as_ref()
        .and_then(|m| m.available_bytes)
        .is_some_and(|a| a < t.memory_available_bytes);
    let fs = node.fs.as_ref();
    let nodefs = below_percent(
        fs.and_then(|f| f.available_bytes),
        fs.and_then(|f| f.capacity_bytes),
        t.nodefs_available_percent,
    ) || below_percent(
        fs.and_then(|f| f.inodes_free),
        fs.and_then(|f| f.inodes),
        t.nodefs_inodes_free_percent,
    );
    let image = node.runtime.as_ref().and_then(|r| r.image_fs.as_ref());
    let imagefs = below_percent(
        image.and_then(|f| f.available_bytes),
        image.and_then(|f| f.capacity_bytes),
        t.imagefs_available_percent,
    );
    let pid = node
        .rlimit
        .as_ref()
        .is_some_and(|r| match (r.maxpid, r.curproc) {
            (Some(max), Some(cur)) if max > 0 => below_percent(
                Some(max.saturating_sub(cur).max(0) as u64),
                Some(max as u64),
                t.pid_available_percent,
            ),
            _ => false,
        });
    Pressure {
        memory,
        disk: nodefs || imagefs,
        pid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{FsStats, MemoryStats, NodeStats, RlimitStats, RuntimeStats};

    fn summary(mem_avail: u64, fs_avail: u64, img_avail: u64, procs: i64) -> Summary {
        let fs = |avail| FsStats {
            available_bytes: Some(avail),
            capacity_bytes: Some(1000),
            inodes: Some(100),
            inodes_free: Some(50),
            ..Default::default()
        };
        Summary {
            node: NodeStats {
                memory: Some(MemoryStats {
                    available_bytes: Some(mem_avail),
                    ..Default::default()
                }),
                fs: Some(fs(fs_avail)),
                runtime: Some(RuntimeStats {
                    image_fs: Some(fs(img_avail)),
                }),
                rlimit: Some(RlimitStats {
                    maxpid: Some(1000),
                    curproc: Some(procs),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pods: vec![],
        }
    }

    #[test]
    fn default_thresholds_decide_each_pressure() {
        let t = EvictionThresholds::default();
        let mi = 1024 * 1024;
        assert_eq!(
            judge(&summary(500 * mi, 500, 500, 10), &t),
            Pressure::default()
        );
        assert!(judge(&summary(99 * mi, 500, 500, 10), &t).memory);
        // nodefs or imagefs below 5 % (k3s's thresholds) is disk pressure.
        assert!(judge(&summary(500 * mi, 49, 500, 10), &t).disk);
        assert!(!judge(&summary(500 * mi, 50, 500, 10), &t).disk);
        assert!(!judge(&summary(500 * mi, 99, 500, 10), &t).disk);
        assert!(judge(&summary(500 * mi, 500, 49, 10), &t).disk);
        assert!(judge(&summary(500 * mi, 500, 500, 960), &t).pid);
        // Unknown figures are not pressure.
        assert_eq!(judge(&Summary::default(), &t), Pressure::default());
    }
}
