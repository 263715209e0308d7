//! Prints resident memory (from /proc/self/statm) before and after each
//! lazily built piece, to check the OpenAPI cost against the idle RSS goal.

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let start = rss_bytes();
    let api = berth_openapi::OpenApi::new();
    println!(
        "new():            +{} bytes",
        rss_bytes().saturating_sub(start)
    );
    let index = api.index();
    let total: usize = index["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(p, _)| api.document(p))
        .map(|b| b.len())
        .sum();
    println!(
        "index() (all docs built, {total} document bytes): +{} bytes",
        rss_bytes().saturating_sub(start)
    );
    let before = rss_bytes();
    let _ = api.unknown_fields("apps", "v1", "Deployment", &serde_json::json!({"spec": {}}));
    println!(
        "unknown_fields shape table: +{} bytes",
        rss_bytes().saturating_sub(before)
    );
    let before = rss_bytes();
    let schemas = api.schemas("", "v1").map_or(0, |s| s.len());
    println!(
        "schemas(\"\", \"v1\") ({schemas} definitions parsed): +{} bytes",
        rss_bytes().saturating_sub(before)
    );
}
