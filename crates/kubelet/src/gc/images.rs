//! Image garbage collection (the kubelet's ImageGCManager): when the image
//! filesystem is at least `high`% full, remove unused images — least
//! recently used first, never one a container (running or not) uses, never
//! the pause image or a pinned one, never one first seen less than
//! `min_age` ago — until usage is down to `low`%.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub size: u64,
    pub in_use: bool,
    /// Pinned by the runtime or the pause image.
    pub pinned: bool,
}

/// The kubelet's ImageGCPolicy.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub high_percent: u8,
    pub low_percent: u8,
    pub min_age: Duration,
}

/// When each image was first seen and last seen in use (kept across GC runs).
#[derive(Default)]
pub struct ImageRecords {
    records: HashMap<String, (SystemTime, SystemTime)>,
}

impl ImageRecords {
    /// Refresh from the current image list; forgets images that are gone.
    pub fn observe(&mut self, images: &[ImageInfo], now: SystemTime) {
        self.records
            .retain(|id, _| images.iter().any(|i| &i.id == id));
        for i in images {
            let r = self.records.entry(i.id.clone()).or_insert((now, now));
            if i.in_use {
                r.1 = now;
            }
        }
    }

    /// Images to remove to bring usage from (capacity − available) down to `low`%.
    pub fn to_free(
        &self,
        images: &[ImageInfo],
        capacity: u64,
        available: u64,
        policy: Policy,
        now: SystemTime,
    ) -> Vec<String> {
        let Policy {
            high_percent: high,
            low_percent: low,
            min_age,
        } = policy;
        // 100% turns image GC off, as upstream's imageGCHighThresholdPercent.
        if capacity == 0 || high >= 100 {
            return Vec::new();
        }
        let used = capacity.saturating_sub(available);
        if used * 100 < capacity * u64::from(high) {
            return Vec::new();
        }
        let target = capacity * u64::from(low) / 100;
        let mut need = used.saturating_sub(target);
        let mut candidates: Vec<(&ImageInfo, SystemTime, SystemTime)> = images
            .iter()
            .filter(|i| !i.in_use && !i.pinned)
            .filter_map(|i| {
                let (first, last) = self.records.get(&i.id).copied()?;
                let old_enough = now.duration_since(first).is_ok_and(|age| age >= min_age);
                old_enough.then_some((i, last, first))
            })
            .collect();
        candidates.sort_by_key(|(_, last, first)| (*last, *first));
        let mut out = Vec::new();
        for (i, _, _) in candidates {
            if need == 0 {
                break;
            }
            out.push(i.id.clone());
            need = need.saturating_sub(i.size);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, size: u64, in_use: bool, pinned: bool) -> ImageInfo {
        ImageInfo {
            id: id.into(),
            size,
            in_use,
            pinned,
        }
    }

    #[test]
    fn frees_least_recently_used_unused_images_down_to_the_low_mark() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = Policy {
            high_percent: 85,
            low_percent: 80,
            min_age: Duration::from_secs(120),
        };
        let mut rec = ImageRecords::default();
        let mut images = vec![
            img("old", 50, true, false),
            img("mid", 50, false, false),
            img("pause", 50, false, true),
            img("busy", 50, true, false),
        ];
        rec.observe(&images, t0);
        // "old" stops being used first, "mid" was never used after t0.
        images[0].in_use = false;
        let t1 = t0 + Duration::from_secs(300);
        images[1].in_use = true;
        rec.observe(&images, t1);
        images[1].in_use = false;
        let t2 = t1 + Duration::from_secs(300);
        rec.observe(&images, t2);
        // 1000 capacity, 900 used (90 % ≥ 85 %): free 100 to reach 80 %.
        let out = rec.to_free(&images, 1000, 100, p, t2);
        assert_eq!(out, ["old", "mid"]);
        // Below the high mark nothing goes.
        assert!(rec.to_free(&images, 1000, 200, p, t2).is_empty());
        // Images seen for less than min_age stay.
        let fresh = [img("new", 500, false, false)];
        let mut r2 = ImageRecords::default();
        r2.observe(&fresh, t2);
        assert!(r2.to_free(&fresh, 1000, 0, p, t2).is_empty());
        // A high mark of 100 % turns GC off, even on a full disk.
        let off = Policy {
            high_percent: 100,
            ..p
        };
        assert!(rec.to_free(&images, 1000, 0, off, t2).is_empty());
        assert_eq!(rec.to_free(&images, 1000, 0, p, t2), ["old", "mid"]);
    }
}
