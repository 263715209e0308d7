//! Phase 2: store many small pods, then time the lists kubectl and
//! controllers make: full, paginated (limit=500), label-selected, Table.

use crate::stats::median;
use anyhow::{bail, Context, Result};
use futures::{stream, StreamExt};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The Accept header `kubectl get pods` sends.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// The label value carried by 1 pod in 10 (`shard=3`).
pub const SELECTED_SHARD: &str = "3";

pub fn small_pod(i: usize) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{i:05}")),
            labels: Some(BTreeMap::from([
                ("app".to_string(), "bench".to_string()),
                ("shard".to_string(), (i % 10).to_string()),
                ("tier".to_string(), "web".to_string()),
            ])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".to_string(),
                image: Some("busybox".to_string()),
                command: Some(vec!["sleep".to_string(), "3600".to_string()]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub struct PodFill {
    pub created: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

/// Creates `count` pods with `concurrency` requests in flight, spread over the clients.
pub async fn create_pods(
    clients: &[Client],
    namespace: &str,
    count: usize,
    concurrency: usize,
    progress: impl Fn(usize),
) -> PodFill {
    let started = Instant::now();
    let mut results = stream::iter(0..count)
        .map(|i| {
            let api: Api<Pod> = Api::namespaced(clients[i % clients.len()].clone(), namespace);
            async move { api.create(&PostParams::default(), &small_pod(i)).await }
        })
        .buffer_unordered(concurrency);
    let mut fill = PodFill {
        created: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(r) = results.next().await {
        match r {
            Ok(_) => fill.created += 1,
            Err(e) => {
                fill.errors += 1;
                fill.first_error.get_or_insert_with(|| e.to_string());
            }
        }
        let done = fill.created + fill.errors;
        if done.is_multiple_of(2000) {
            progress(done);
        }
    }
    fill.elapsed = started.elapsed();
    fill
}

/// One timed kind of list.
pub struct ListTiming {
    pub what: &'static str,
    /// `kind` of the response (PodList or Table): shows the server honoured Accept.
    pub kind: String,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub items: usize,
    pub pages: usize,
    pub bytes: usize,
}

#[derive(Deserialize)]
struct ListMetaOnly {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

/// Just enough of a List (or Table) to count entries and follow pages.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    kind: String,
    metadata: ListMetaOnly,
    #[serde(default)]
    items: Vec<IgnoredAny>,
    #[serde(default)]
    rows: Vec<IgnoredAny>,
}

struct Fetched {
    kind: String,
    items: usize,
    pages: usize,
    bytes: usize,
}

/// GETs `base` (and its further pages when `limit` is set), reading every byte.
async fn fetch_all(
    client: &Client,
    base: &str,
    accept: &str,
    limit: Option<u32>,
) -> Result<Fetched> {
    let mut fetched = Fetched {
        kind: String::new(),
        items: 0,
        pages: 0,
        bytes: 0,
    };
    let mut token: Option<String> = None;
    loop {
        let mut url = base.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(limit) = limit {
            url.push_str(&format!("{sep}limit={limit}"));
            sep = '&';
        }
        if let Some(t) = &token {
            url.push_str(&format!("{sep}continue={}", encode_query(t)));
        }
        let req = http::Request::get(&url)
            .header(http::header::ACCEPT, accept)
            .body(Vec::new())?;
        let text = client
            .request_text(req)
            .await
            .with_context(|| format!("GET {url}"))?;
        let page: Page =
            serde_json::from_str(&text).with_context(|| format!("decoding GET {url}"))?;
        fetched.pages += 1;
        fetched.kind = page.kind;
        fetched.bytes += text.len();
        fetched.items += page.items.len() + page.rows.len();
        token = page.metadata.continue_token.filter(|t| !t.is_empty());
        if token.is_none() || limit.is_none() {
            return Ok(fetched);
        }
        if fetched.pages > 10_000 {
            bail!("more than 10000 pages from {base}: the continue token does not advance");
        }
    }
}

/// Percent-encodes a continue token for a query string.
fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Times each kind of list `repeats` times (median reported).
pub async fn time_lists(
    client: &Client,
    namespace: &str,
    repeats: usize,
) -> Result<Vec<ListTiming>> {
    let pods = format!("/api/v1/namespaces/{namespace}/pods");
    let selected = format!("{pods}?labelSelector=shard%3D{SELECTED_SHARD}");
    let shapes: [(&'static str, &str, &str, Option<u32>); 5] = [
        ("full list, no limit", &pods, "application/json", None),
        (
            "paginated, limit=500 (all pages)",
            &pods,
            "application/json",
            Some(500),
        ),
        (
            "label selector (10% match)",
            &selected,
            "application/json",
            None,
        ),
        (
            "Table, limit=500 (kubectl get pods)",
            &pods,
            TABLE_ACCEPT,
            Some(500),
        ),
        ("Table, no limit", &pods, TABLE_ACCEPT, None),
    ];
    let mut timings = Vec::new();
    for (what, url, accept, limit) in shapes {
        let mut samples = Vec::new();
        let mut last = None;
        for _ in 0..repeats {
            let t0 = Instant::now();
            let fetched = fetch_all(client, url, accept, limit).await?;
            samples.push(t0.elapsed());
            last = Some(fetched);
        }
        let fetched = last.context("no list repeats")?;
        timings.push(ListTiming {
            what,
            kind: fetched.kind,
            median: median(samples.clone()),
            min: samples.iter().min().copied().unwrap_or_default(),
            max: samples.iter().max().copied().unwrap_or_default(),
            items: fetched.items,
            pages: fetched.pages,
            bytes: fetched.bytes,
        });
    }
    Ok(timings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_items_rows_and_continue() {
        let list: Page = serde_json::from_str(
            r#"{"kind":"PodList","metadata":{"continue":"abc","resourceVersion":"5"},"items":[{"a":1},{"b":2}]}"#,
        )
        .unwrap();
        assert_eq!(list.items.len(), 2);
        assert_eq!(list.metadata.continue_token.as_deref(), Some("abc"));
        let table: Page = serde_json::from_str(
            r#"{"kind":"Table","metadata":{},"columnDefinitions":[],"rows":[{"cells":[]}]}"#,
        )
        .unwrap();
        assert_eq!(table.rows.len(), 1);
        assert!(table.metadata.continue_token.is_none());
    }

    #[test]
    fn continue_tokens_are_percent_encoded() {
        assert_eq!(encode_query("eyJ2Ijo+/="), "eyJ2Ijo%2B%2F%3D");
    }

    #[test]
    fn one_pod_in_ten_is_selected() {
        let selected = (0..100)
            .map(small_pod)
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("shard"))
                    .map(String::as_str)
                    == Some(SELECTED_SHARD)
            })
            .count();
        assert_eq!(selected, 10);
    }
}
