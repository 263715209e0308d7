//! Sync time of the proxy against a real `nft` in a throwaway network
//! namespace: a full render + apply of N services, then single changes
//! (render of everything + diff + apply of the diff), as `run` does them.
//!
//! `cargo run --release -p berth-proxy --example sync_bench [-- --json FILE]` (as root).
//! `--json FILE` also writes the figures as rows (section, figure, value,
//! unit, display, goal, met) for `make bench`'s summary (benches/src/summary.rs).

use berth_proxy::fixtures::{node, ready, service, slice};
use berth_proxy::netns::{skip_reason, TestNetns};
use berth_proxy::{render, ClusterObjects, Nft, SyncKind, Syncer};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECTION: &str = "proxy: nftables sync";
/// The goal: one change applied within a second at 10,000 services.
const GOAL_SERVICES: usize = 10_000;
const GOAL_ONE_CHANGE: Duration = Duration::from_secs(1);

fn ip(base: u8, i: usize) -> String {
    format!("10.{base}.{}.{}", (i >> 8) & 0xff, i & 0xff)
}

/// `count` ClusterIP services with one port and two ready endpoints each;
/// every tenth is a NodePort.
fn cluster(count: usize) -> ClusterObjects {
    let mut objects = ClusterObjects::default();
    for i in 0..count {
        let name = format!("svc-{i}");
        let mut svc = service("bench", &name, &ip(96, i), &[("http", "TCP", 80)]);
        if i % 10 == 0 {
            if let Some(spec) = svc.spec.as_mut() {
                spec.type_ = Some("NodePort".into());
                if let Some(p) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
                    p.node_port = Some(30000 + (i / 10) as i32);
                }
            }
        }
        let (a, b) = (ip(42, 2 * i), ip(42, 2 * i + 1));
        let sl = slice(
            "bench",
            &name,
            &format!("{name}-abcde"),
            &[ready(&a, "node-a"), ready(&b, "node-b")],
            &[("http", "TCP", 8080)],
        );
        objects.services.push(Arc::new(svc));
        objects.endpoint_slices.push(Arc::new(sl));
    }
    objects
}

fn ms(d: Duration) -> String {
    format!("{:8.1} ms", d.as_secs_f64() * 1000.0)
}

/// One timed sync as a summary row (field names of benches/src/summary.rs,
/// repeated here: this crate must not depend on berth-bench).
fn row(label: &str, services: usize, total: Duration, kind: SyncKind, rules: usize) -> Value {
    let one_change = label.starts_with("one ");
    let (goal, met) = if one_change && services == GOAL_SERVICES {
        (json!("≤ 1 s"), json!(total <= GOAL_ONE_CHANGE))
    } else {
        (Value::Null, Value::Null)
    };
    json!({
        "section": SECTION,
        "figure": format!("{label}, {} services", thousands(services)),
        "value": total.as_secs_f64() * 1000.0,
        "unit": "ms",
        "display": format!("{:.0} ms ({kind:?}, {rules} rules)", total.as_secs_f64() * 1000.0),
        "goal": goal,
        "met": met,
    })
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn json_path() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn write_json(path: &str, note: Option<&str>, rows: Vec<Value>) {
    let figures = json!({
        "program": "berth-proxy example sync_bench",
        "note": note,
        "rows": rows,
    });
    let written = serde_json::to_string_pretty(&figures)
        .map_err(std::io::Error::other)
        .and_then(|text| std::fs::write(path, text + "\n"));
    if let Err(e) = written {
        eprintln!("writing {path}: {e}");
        std::process::exit(1);
    }
}

fn step(
    syncer: &mut Syncer,
    objects: &ClusterObjects,
    label: &str,
    want: SyncKind,
    services: usize,
    rows: &mut Vec<Value>,
) {
    let facts = node();
    let started = Instant::now();
    let desired = render(&facts, objects);
    let rendered = started.elapsed();
    let rules = desired.rule_count();
    let report = match syncer.sync(desired) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("{label}: sync failed: {err}");
            std::process::exit(1);
        }
    };
    let total = started.elapsed();
    if report.kind != want {
        eprintln!("{label}: expected {want:?}, got {:?}", report.kind);
    }
    println!(
        "  {label:<34} render {}  total {}  ({:?}, {} bytes of nft script, {rules} rules)",
        ms(rendered),
        ms(total),
        report.kind,
        report.script_bytes
    );
    rows.push(row(label, services, total, report.kind, rules));
}

fn main() {
    let json_file = json_path();
    if let Some(reason) = skip_reason() {
        println!("sync_bench needs root, nft and ip: {reason}");
        if let Some(path) = &json_file {
            write_json(
                path,
                Some(&format!("needs root, nft and ip: {reason}")),
                Vec::new(),
            );
        }
        return;
    }
    let mut rows = Vec::new();
    for count in [1_000usize, GOAL_SERVICES] {
        let ns = match TestNetns::create() {
            Ok(ns) => ns,
            Err(err) => {
                eprintln!("netns: {err}");
                std::process::exit(1);
            }
        };
        let mut syncer = Syncer::new(Nft::new(ns.nft_target()));
        let mut objects = cluster(count);
        println!(
            "{count} services ({} endpoint slices, 2 endpoints each):",
            objects.endpoint_slices.len()
        );
        step(
            &mut syncer,
            &objects,
            "full sync (table recreated)",
            SyncKind::Full,
            count,
            &mut rows,
        );

        // One endpoint becomes a third: 1 new chain, 1 rewritten.
        let mid = count / 2;
        let name = format!("svc-{mid}");
        objects.endpoint_slices[mid] = Arc::new(slice(
            "bench",
            &name,
            &format!("{name}-abcde"),
            &[
                ready(&ip(42, 2 * mid), "node-a"),
                ready(&ip(42, 2 * mid + 1), "node-b"),
                ready(&ip(43, mid), "node-a"),
            ],
            &[("http", "TCP", 8080)],
        ));
        step(
            &mut syncer,
            &objects,
            "one endpoint added",
            SyncKind::Partial,
            count,
            &mut rows,
        );

        objects.services.push(Arc::new(service(
            "bench",
            "new",
            "10.97.0.1",
            &[("http", "TCP", 80)],
        )));
        objects.endpoint_slices.push(Arc::new(slice(
            "bench",
            "new",
            "new-1",
            &[ready("10.44.0.1", "node-a")],
            &[("http", "TCP", 8080)],
        )));
        step(
            &mut syncer,
            &objects,
            "one service added",
            SyncKind::Partial,
            count,
            &mut rows,
        );

        objects.services.remove(0);
        step(
            &mut syncer,
            &objects,
            "one service deleted",
            SyncKind::Partial,
            count,
            &mut rows,
        );
        step(
            &mut syncer,
            &objects,
            "no change",
            SyncKind::Unchanged,
            count,
            &mut rows,
        );
        drop(ns);
    }
    if let Some(path) = &json_file {
        write_json(path, None, rows);
    }
}
