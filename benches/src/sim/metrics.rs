//! API latency by verb from the server's own histogram
//! (`apiserver_request_duration_seconds` on /metrics), as the Kubernetes SLO
//! measurements read it: two scrapes, the difference, quantiles by
//! interpolating inside the bucket.

use std::collections::BTreeMap;

/// Cumulative bucket counts per verb: upper bound (seconds) → count.
#[derive(Clone, Debug, Default)]
pub struct Histograms {
    by_verb: BTreeMap<String, BTreeMap<u64, f64>>,
    /// Requests per (verb, resource).
    counts: BTreeMap<(String, String), f64>,
}

/// Bucket bounds are kept in nanoseconds so they can be map keys; +Inf is u64::MAX.
fn bound_key(le: &str) -> Option<u64> {
    if le == "+Inf" {
        return Some(u64::MAX);
    }
    le.parse::<f64>().ok().map(|s| (s * 1e9).round() as u64)
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

impl Histograms {
    /// Parses the Prometheus text exposition; resources are summed per verb.
    pub fn parse(text: &str) -> Histograms {
        let mut by_verb: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
        let mut counts: BTreeMap<(String, String), f64> = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_duration_seconds_bucket{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once('}') else {
                continue;
            };
            let (Some(verb), Some(le), Ok(count)) = (
                label(labels, "verb"),
                label(labels, "le").and_then(bound_key),
                value.trim().parse::<f64>(),
            ) else {
                continue;
            };
            *by_verb
                .entry(verb.to_string())
                .or_default()
                .entry(le)
                .or_default() += count;
            if le == u64::MAX {
                let resource = label(labels, "resource").unwrap_or_default();
                *counts
                    .entry((verb.to_string(), resource.to_string()))
                    .or_default() += count;
            }
        }
        Histograms { by_verb, counts }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Histograms) -> Histograms {
        let mut by_verb = self.by_verb.clone();
        for (verb, buckets) in &mut by_verb {
            if let Some(before) = earlier.by_verb.get(verb) {
                for (le, count) in buckets.iter_mut() {
                    *count -= before.get(le).copied().unwrap_or_default();
                }
            }
        }
        let mut counts = self.counts.clone();
        for (key, count) in &mut counts {
            *count -= earlier.counts.get(key).copied().unwrap_or_default();
        }
        Histograms { by_verb, counts }
    }

    /// The resources with the most `verb` requests, most first.
    pub fn top_resources(&self, verb: &str, n: usize) -> Vec<(String, u64)> {
        let mut top: Vec<(String, u64)> = self
            .counts
            .iter()
            .filter(|((v, _), c)| v == verb && **c >= 1.0)
            .map(|((_, r), c)| (r.clone(), *c as u64))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(n);
        top
    }

    /// Verbs with at least one request: (verb, count, p50, p99) in seconds.
    pub fn quantiles(&self) -> Vec<(String, u64, f64, f64)> {
        self.by_verb
            .iter()
            .filter_map(|(verb, b)| {
                let total = b.get(&u64::MAX).copied().unwrap_or_default();
                (total >= 1.0).then(|| {
                    (
                        verb.clone(),
                        total as u64,
                        quantile(b, 0.50),
                        quantile(b, 0.99),
                    )
                })
            })
            .collect()
    }

    /// p99 over all mutating verbs together (the SLO's "mutating API calls").
    pub fn mutating_p99(&self) -> Option<f64> {
        let mut merged: BTreeMap<u64, f64> = BTreeMap::new();
        for verb in ["create", "update", "patch", "delete", "deletecollection"] {
            for (le, count) in self.by_verb.get(verb).into_iter().flatten() {
                *merged.entry(*le).or_default() += count;
            }
        }
        (merged.get(&u64::MAX).copied().unwrap_or_default() >= 1.0).then(|| quantile(&merged, 0.99))
    }
}

/// The q-quantile of cumulative buckets, linear inside the bucket (as
/// Prometheus' histogram_quantile); the top finite bound if it lands in +Inf.
fn quantile(buckets: &BTreeMap<u64, f64>, q: f64) -> f64 {
    let total = buckets.get(&u64::MAX).copied().unwrap_or_default();
    if total <= 0.0 {
        return 0.0;
    }
    let rank = q * total;
    let (mut lower_bound, mut lower_count) = (0u64, 0.0);
    for (&le, &count) in buckets {
        if count >= rank {
            if le == u64::MAX {
                return lower_bound as f64 / 1e9;
            }
            let width = (le - lower_bound) as f64;
            let inside = if count > lower_count {
                (rank - lower_count) / (count - lower_count)
            } else {
                1.0
            };
            return (lower_bound as f64 + width * inside) / 1e9;
        }
        (lower_bound, lower_count) = (le, count);
    }
    lower_bound as f64 / 1e9
}

/// One scrape of the server's /metrics.
pub async fn scrape(client: &kube::Client) -> Histograms {
    let request = match http::Request::get("/metrics").body(Vec::new()) {
        Ok(r) => r,
        Err(_) => return Histograms::default(),
    };
    match client.request_text(request).await {
        Ok(text) => Histograms::parse(&text),
        Err(e) => {
            tracing::warn!("scraping /metrics: {e}");
            Histograms::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="0.001"} 10
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="0.002"} 10
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="+Inf"} 10
"#;
    const AFTER: &str = r#"
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="0.001"} 60
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="0.002"} 108
apiserver_request_duration_seconds_bucket{verb="create",resource="pods",le="+Inf"} 110
apiserver_request_duration_seconds_bucket{verb="get",resource="pods",le="0.001"} 5
apiserver_request_duration_seconds_bucket{verb="get",resource="pods",le="0.002"} 5
apiserver_request_duration_seconds_bucket{verb="get",resource="pods",le="+Inf"} 5
"#;

    #[test]
    fn quantiles_come_from_the_difference_between_scrapes() {
        let h = Histograms::parse(AFTER).since(&Histograms::parse(BEFORE));
        let q = h.quantiles();
        let create = q.iter().find(|(v, ..)| v == "create").unwrap();
        assert_eq!(create.1, 100);
        // 50 of 100 in the first bucket: the median is its upper bound.
        assert!((create.2 - 0.001).abs() < 1e-9, "{create:?}");
        // rank 99 lies in the second bucket (51..=98 there), past it: +Inf → top finite bound.
        assert!((create.3 - 0.002).abs() < 1e-9, "{create:?}");
        let mutating = h.mutating_p99().unwrap();
        assert_eq!(
            h.top_resources("create", 3),
            vec![("pods".to_string(), 100)]
        );
        assert!((mutating - 0.002).abs() < 1e-9);
    }

    #[test]
    fn interpolates_inside_a_bucket() {
        let mut b = BTreeMap::new();
        b.insert(1_000_000u64, 0.0);
        b.insert(2_000_000u64, 100.0);
        b.insert(u64::MAX, 100.0);
        assert!((quantile(&b, 0.5) - 0.0015).abs() < 1e-9);
    }
}
