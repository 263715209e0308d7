//! Create throughput and latency of the store backends.
//!
//! cargo run -p berth-store --release --example store_bench [-- SECONDS]
//!
//! For each backend and writer count, `writers` tasks create small keys in a
//! loop for a fixed time; prints creates/s and p50/p99 create latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_store::{MemoryStore, SqliteStore, Store};

const VALUE_BYTES: usize = 256;

struct Figures {
    creates: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn run(store: Arc<dyn Store>, writers: usize, duration: Duration) -> Figures {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let key = format!("/registry/bench/w{w:03}/{i:010}");
                let t = Instant::now();
                if let Err(err) = store.create(&key, vec![b'x'; VALUE_BYTES]).await {
                    eprintln!("create failed: {err}");
                    break;
                }
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        match task.await {
            Ok(mut l) => latencies.append(&mut l),
            Err(err) => eprintln!("writer task failed: {err}"),
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        creates: latencies.len(),
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let duration = Duration::from_secs(seconds);
    println!(
        "{:<8} {:>7} {:>10} {:>10} {:>10} {:>10}",
        "backend", "writers", "creates", "creates/s", "p50", "p99"
    );
    for backend in ["sqlite", "memory"] {
        for writers in [1, 64] {
            // A fresh store per run so runs do not influence each other.
            let dir = tempfile::tempdir()?;
            let store: Arc<dyn Store> = match backend {
                "sqlite" => Arc::new(SqliteStore::open(dir.path().join("bench.db"))?),
                _ => Arc::new(MemoryStore::new()),
            };
            let f = run(store, writers, duration).await;
            println!(
                "{:<8} {:>7} {:>10} {:>10.0} {:>10.2?} {:>10.2?}",
                backend,
                writers,
                f.creates,
                f.creates as f64 / f.elapsed.as_secs_f64(),
                f.p50,
                f.p99
            );
        }
    }
    Ok(())
}
