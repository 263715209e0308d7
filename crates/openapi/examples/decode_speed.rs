//! Times the per-write body checks on a realistic Deployment
//! (`cargo run --release -p berth-openapi --example decode_speed`).

use std::time::Instant;

fn main() {
    let api = berth_openapi::OpenApi::new();
    let body = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}
    });
    // First use builds the shape table.
    let started = Instant::now();
    let first = api.decode_error("apps", "v1", "Deployment", &body);
    println!(
        "first call (builds the table): {:?} -> {first:?}",
        started.elapsed()
    );
    let rounds = 100_000;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(api.decode_error("apps", "v1", "Deployment", &body));
    }
    println!("decode_error:   {:?} per call", started.elapsed() / rounds);
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(api.unknown_fields("apps", "v1", "Deployment", &body));
    }
    println!("unknown_fields: {:?} per call", started.elapsed() / rounds);
}
