//! Sync time of the proxy against a real `nft` in a throwaway network
//! namespace: a full render + apply of N services, then single changes
//! (render of everything + diff + apply of the diff), as `run` does them.
//!
//! `cargo run --release -p berth-proxy --example sync_bench` (as root).

use berth_proxy::fixtures::{node, ready, service, slice};
use berth_proxy::netns::{skip_reason, TestNetns};
use berth_proxy::{render, ClusterObjects, Nft, SyncKind, Syncer};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn step(syncer: &mut Syncer, objects: &ClusterObjects, label: &str, want: SyncKind) {
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
}

fn main() {
    if let Some(reason) = skip_reason() {
        println!("sync_bench needs root, nft and ip: {reason}");
        return;
    }
    for count in [1_000usize, 10_000] {
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
        );

        objects.services.remove(0);
        step(
            &mut syncer,
            &objects,
            "one service deleted",
            SyncKind::Partial,
        );
        step(&mut syncer, &objects, "no change", SyncKind::Unchanged);
        drop(ns);
    }
}
