//! Every acknowledged write survives the writer process being SIGKILLed.
//!
//! The test binary re-executes itself: as the child (env var set) it writes
//! from many tasks forever and prints each acknowledged key; the parent kills
//! it mid-stream with SIGKILL, reopens the file and looks for every key.
//! (This proves commit-before-acknowledge; power loss additionally relies on
//! `synchronous=FULL` fsyncing each commit, which a test cannot cut.)

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_store::{SqliteStore, Store};

const CHILD_ENV: &str = "BERTH_STORE_DURABILITY_CHILD";
const WRITERS: usize = 16;
/// Kill the child once this many writes were acknowledged.
const KILL_AFTER: usize = 3000;

/// The child side; does nothing in a normal test run.
#[test]
fn durability_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(&path).unwrap();
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/durable/{writer:02}/{i:08}");
                    let kv = store.create(&key, vec![7; 100]).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {key} {}", kv.mod_revision).unwrap();
                    out.flush().unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// Collects "ACK <key> <revision>" lines; ignores libtest's own output.
fn parse(line: String, acked: &mut Vec<(String, i64)>) {
    let mut parts = line.split_whitespace();
    if parts.next() == Some("ACK") {
        if let (Some(key), Some(rev)) = (parts.next(), parts.next()) {
            acked.push((key.to_owned(), rev.parse().unwrap()));
        }
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "durability_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acked: Vec<(String, i64)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => parse(line, &mut acked),
            Err(_) => break,
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "child was killed, not finished: {status:?}"
    );
    // Lines printed before the kill are acknowledged writes too.
    for line in lines.iter() {
        parse(line, &mut acked);
    }
    reader.join().unwrap();
    assert!(
        acked.len() >= KILL_AFTER,
        "child acknowledged only {} writes",
        acked.len()
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&path).unwrap();
        let max_acked = acked.iter().map(|(_, rev)| *rev).max().unwrap();
        assert!(store.current_revision().await.unwrap() >= max_acked);
        let mut missing = Vec::new();
        for (key, rev) in &acked {
            match store.get(key).await.unwrap() {
                Some(kv) if kv.mod_revision == *rev => {}
                other => missing.push((key.clone(), *rev, other.map(|kv| kv.mod_revision))),
            }
        }
        assert!(
            missing.is_empty(),
            "{} acknowledged writes lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        // The store is usable after the crash.
        store.create("/after-crash", vec![]).await.unwrap();
    });
}
