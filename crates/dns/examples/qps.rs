//! Cluster DNS throughput: 1,000 Services in the zone, a few client tasks each
//! sending one UDP query at a time for a few seconds; prints queries/s and
//! latency percentiles.
//!
//! cargo run --release -p berth-dns --example qps [-- <clients> <seconds>] [--json FILE]
//!
//! `--json FILE` also writes the figures as rows (section, figure, value,
//! unit, display, goal, met) for `make bench`'s summary (benches/src/summary.rs).

use berth_dns::fixtures::*;
use berth_dns::proto::op::{Message, Query, ResponseCode};
use berth_dns::proto::rr::{Name, RecordType};
use berth_dns::{serve, ClusterRecords, DnsHandler, Forwarder, PodMode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

const SERVICES: usize = 1000;

#[derive(Default)]
struct ClientResult {
    latencies: Vec<Duration>,
    lost: usize,
    wrong: usize,
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    let name = Name::from_ascii(name).unwrap_or_else(|_| Name::root());
    message.add_query(Query::query(name, RecordType::A));
    message.to_vec().unwrap_or_default()
}

async fn client(
    server: SocketAddr,
    names: Arc<Vec<String>>,
    until: Instant,
    seed: usize,
) -> ClientResult {
    let mut result = ClientResult::default();
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0").await else {
        return result;
    };
    if socket.connect(server).await.is_err() {
        return result;
    }
    let mut buffer = vec![0u8; 4096];
    let mut i = seed;
    while Instant::now() < until {
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let name = &names[(i >> 33) % names.len()];
        let id = (i >> 16) as u16;
        let bytes = query(id, name);
        let started = Instant::now();
        if socket.send(&bytes).await.is_err() {
            result.lost += 1;
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buffer)).await {
            Ok(Ok(len)) => {
                result.latencies.push(started.elapsed());
                let ok = Message::from_vec(&buffer[..len]).is_ok_and(|m| {
                    m.metadata.id == id
                        && (m.metadata.response_code == ResponseCode::NXDomain
                            || m.answers.len() == 1)
                });
                if !ok {
                    result.wrong += 1;
                }
            }
            _ => result.lost += 1,
        }
    }
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let json_file = match args.iter().position(|a| a == "--json") {
        Some(i) if i + 1 < args.len() => Some(args.drain(i..i + 2).nth(1).unwrap_or_default()),
        _ => None,
    };
    let clients: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(4);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);

    let records =
        Arc::new(ClusterRecords::new("cluster.local", 5, PodMode::Insecure).expect("zone"));
    let load_started = Instant::now();
    for i in 0..SERVICES {
        let ip = format!("10.43.{}.{}", i / 250, i % 250 + 1);
        records.apply_service(&cluster_ip_service(
            &format!("ns-{}", i % 20),
            &format!("svc-{i}"),
            &[&ip],
            &[("http", "TCP", 80)],
        ));
    }
    let load_took = load_started.elapsed();
    let names_indexed = records.name_count();
    let forwarder = Arc::new(Forwarder::new(Vec::new(), Duration::from_millis(100)));
    let server = serve(
        DnsHandler::new(records, forwarder),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("start DNS server");

    // 9 in 10 queries hit a Service, 1 in 10 is an NXDOMAIN inside the zone.
    let mut names: Vec<String> = (0..SERVICES)
        .map(|i| format!("svc-{i}.ns-{}.svc.cluster.local.", i % 20))
        .collect();
    names.extend((0..SERVICES / 9).map(|i| format!("missing-{i}.ns-0.svc.cluster.local.")));
    let names = Arc::new(names);

    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|seed| tokio::spawn(client(server.local_addr(), names.clone(), until, seed + 1)))
        .collect();
    let mut all = ClientResult::default();
    for task in tasks {
        if let Ok(result) = task.await {
            all.latencies.extend(result.latencies);
            all.lost += result.lost;
            all.wrong += result.wrong;
        }
    }
    let elapsed = started.elapsed();
    all.latencies.sort();
    let answered = all.latencies.len();
    println!(
        "zone: {SERVICES} services, {names_indexed} names indexed in {:.1} ms",
        load_took.as_secs_f64() * 1e3
    );
    println!("clients: {clients} UDP tasks, one query in flight each, {seconds} s");
    println!(
        "answered: {answered} ({:.0} queries/s), lost: {}, wrong: {}",
        answered as f64 / elapsed.as_secs_f64(),
        all.lost,
        all.wrong
    );
    println!(
        "latency: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        percentile(&all.latencies, 0.50).as_secs_f64() * 1e6,
        percentile(&all.latencies, 0.90).as_secs_f64() * 1e6,
        percentile(&all.latencies, 0.99).as_secs_f64() * 1e6,
        all.latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e6,
    );
    if let Some(path) = &json_file {
        let figures = json_rows(
            clients,
            seconds,
            answered as f64 / elapsed.as_secs_f64().max(1e-9),
            percentile(&all.latencies, 0.50),
            percentile(&all.latencies, 0.99),
            all.lost,
            all.wrong,
        );
        let written = serde_json::to_string_pretty(&figures)
            .map_err(std::io::Error::other)
            .and_then(|text| std::fs::write(path, text + "\n"));
        if let Err(e) = written {
            eprintln!("writing {path}: {e}");
        }
    }
    let _ = server.shutdown().await;
}

/// The figures in the row shape of benches/src/summary.rs (this crate must
/// not depend on berth-bench, so the field names are repeated here). The
/// issues set no goal for DNS; the rows only report.
fn json_rows(
    clients: usize,
    seconds: u64,
    qps: f64,
    p50: Duration,
    p99: Duration,
    lost: usize,
    wrong: usize,
) -> serde_json::Value {
    const SECTION: &str = "cluster DNS";
    let row = |figure: &str, value: f64, unit: &str, display: String| {
        serde_json::json!({
            "section": SECTION, "figure": figure, "value": value, "unit": unit,
            "display": display, "goal": null, "met": null,
        })
    };
    serde_json::json!({
        "program": "berth-dns example qps",
        "note": null,
        "rows": [
            row(
                "queries/s",
                qps,
                "1/s",
                format!("{qps:.0}/s ({SERVICES} services, {clients} clients, {seconds} s)"),
            ),
            row(
                "query latency p99",
                p99.as_secs_f64() * 1e3,
                "ms",
                format!("{:.2} ms (p50 {:.0} µs)", p99.as_secs_f64() * 1e3, p50.as_secs_f64() * 1e6),
            ),
            row(
                "queries lost + wrong answers",
                (lost + wrong) as f64,
                "queries",
                format!("{lost} lost, {wrong} wrong"),
            ),
        ],
    })
}
