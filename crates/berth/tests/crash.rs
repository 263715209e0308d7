//! Crash safety of a real `berth server`: SIGKILL it in the middle of a stream
//! of concurrent writes, restart it on the same data dir, and check that
//! every write that got a 2xx survived, that resourceVersions keep growing,
//! and that a watch resumes from the last resourceVersion it delivered with
//! exactly the events after it.
//!
//! ```text
//! start ─▶ [ watch from L ─▶ 32 writers ─▶ ~300 acks ─▶ SIGKILL ─▶ restart
//!            ─▶ store == model of acked writes ─▶ watch from last delivered RV ] × 3
//! ```

mod common;
use common::Cluster;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{
    Api, DeleteParams, ListParams, PostParams, Preconditions, WatchEvent, WatchParams,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NAMESPACE: &str = "crash";
/// Every ConfigMap this test writes has a name with this prefix.
const PREFIX: &str = "cm-";
const WRITERS: usize = 32;
const CYCLES: usize = 3;
/// Kill the server after this many acknowledged writes in a cycle...
const ACKS_BEFORE_KILL: usize = 300;
/// ...or after this long, whichever comes first.
const MAX_WRITE_TIME: Duration = Duration::from_millis(1500);
/// Upper bound for any asynchronous effect we poll for.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Change {
    Added,
    Modified,
    Deleted,
}

/// One write that got a 2xx, with the resourceVersion the server returned.
/// (A delete's response carries the object as it was, so `rv` is only meaningful
/// for creates and updates.)
#[derive(Clone, Debug)]
struct Ack {
    name: String,
    change: Change,
    rv: u64,
    value: Option<String>,
}

/// What a key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stored {
    Absent,
    Present { value: String, rv: u64 },
}

/// What was tried on a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Attempt {
    Create(String),
    Update(String),
    Delete,
}

/// What we know about a key.
#[derive(Clone, Debug)]
enum KeyState {
    Known(Stored),
    /// The write got no answer (the server died): it may or may not have happened.
    InFlight {
        before: Stored,
        attempted: Attempt,
    },
}

/// One event a watch delivered.
#[derive(Clone, Debug)]
struct Seen {
    name: String,
    change: Change,
    rv: u64,
    value: Option<String>,
}

#[derive(Default)]
struct WatchLog {
    events: Vec<Seen>,
    errors: Vec<String>,
}

/// A watch and where it started.
struct WatchRun {
    from: u64,
    log: Arc<Mutex<WatchLog>>,
    task: tokio::task::JoinHandle<()>,
}

impl WatchRun {
    fn events(&self) -> Vec<Seen> {
        lock(&self.log).events.clone()
    }
    fn errors(&self) -> Vec<String> {
        lock(&self.log).errors.clone()
    }
    /// The last resourceVersion it delivered (its start if it delivered nothing).
    fn last_rv(&self) -> u64 {
        lock(&self.log).events.last().map_or(self.from, |e| e.rv)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything the test knows, across server lifetimes.
#[derive(Default)]
struct Model {
    keys: BTreeMap<String, KeyState>,
    acks: Vec<Ack>,
    attempts: Vec<(String, Attempt)>,
    /// Highest resourceVersion any response or event carried so far.
    max_rv: u64,
}

#[derive(Default)]
struct WriterReport {
    acks: Vec<Ack>,
    attempts: Vec<(String, Attempt)>,
    keys: Vec<(String, KeyState)>,
    /// Failures while the server was supposed to be healthy.
    unexpected: Vec<String>,
}

struct Writer {
    api: Api<ConfigMap>,
    killed: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    report: WriterReport,
}

fn config_map(name: &str, value: &str, rv: Option<u64>) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            resource_version: rv.map(|r| r.to_string()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..Default::default()
    }
}

fn rv_of(cm: &ConfigMap) -> Result<u64, String> {
    cm.metadata
        .resource_version
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("bad resourceVersion in {:?}", cm.metadata))
}

fn value_of(cm: &ConfigMap) -> Option<String> {
    cm.data.as_ref().and_then(|d| d.get("v").cloned())
}

impl Writer {
    /// Runs one write; `None` when it failed (the writer then stops).
    async fn apply(&mut self, name: &str, before: Stored, attempt: Attempt) -> Option<Stored> {
        self.report
            .attempts
            .push((name.to_string(), attempt.clone()));
        let pp = PostParams::default();
        let outcome: Result<(Stored, Ack), String> = match (&attempt, &before) {
            (Attempt::Create(value), _) => {
                match self.api.create(&pp, &config_map(name, value, None)).await {
                    Ok(cm) => rv_of(&cm).map(|rv| {
                        let ack = Ack {
                            name: name.to_string(),
                            change: Change::Added,
                            rv,
                            value: value_of(&cm),
                        };
                        (
                            Stored::Present {
                                value: value.clone(),
                                rv,
                            },
                            ack,
                        )
                    }),
                    Err(e) => Err(format!("create {name}: {e}")),
                }
            }
            (Attempt::Update(value), Stored::Present { rv: old, .. }) => {
                let body = config_map(name, value, Some(*old));
                match self.api.replace(name, &pp, &body).await {
                    Ok(cm) => rv_of(&cm).map(|rv| {
                        let ack = Ack {
                            name: name.to_string(),
                            change: Change::Modified,
                            rv,
                            value: value_of(&cm),
                        };
                        (
                            Stored::Present {
                                value: value.clone(),
                                rv,
                            },
                            ack,
                        )
                    }),
                    Err(e) => Err(format!("update {name} at rv {old}: {e}")),
                }
            }
            (Attempt::Delete, Stored::Present { rv: old, .. }) => {
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: Some(old.to_string()),
                        uid: None,
                    }),
                    ..Default::default()
                };
                match self.api.delete(name, &dp).await {
                    Ok(_) => Ok((
                        Stored::Absent,
                        Ack {
                            name: name.to_string(),
                            change: Change::Deleted,
                            rv: 0,
                            value: None,
                        },
                    )),
                    Err(e) => Err(format!("delete {name} at rv {old}: {e}")),
                }
            }
            (_, Stored::Absent) => Err(format!("test bug: {attempt:?} on absent {name}")),
        };
        match outcome {
            Ok((after, ack)) => {
                if ack.change != Change::Deleted && ack.value.as_ref() != attempt_value(&attempt) {
                    self.report
                        .unexpected
                        .push(format!("{name}: response data {ack:?} for {attempt:?}"));
                }
                self.report.acks.push(ack);
                self.report
                    .keys
                    .push((name.to_string(), KeyState::Known(after.clone())));
                self.acked.fetch_add(1, Ordering::SeqCst);
                Some(after)
            }
            Err(e) => {
                if !self.killed.load(Ordering::SeqCst) {
                    self.report.unexpected.push(e);
                }
                self.report.keys.push((
                    name.to_string(),
                    KeyState::InFlight {
                        before,
                        attempted: attempt,
                    },
                ));
                None
            }
        }
    }

    /// Creates fresh keys (some updated, some deleted right away) and, in
    /// between, updates or deletes surviving keys of earlier cycles, until a
    /// write fails.
    async fn run(
        mut self,
        cycle: usize,
        id: usize,
        revisits: Vec<(String, Stored)>,
    ) -> WriterReport {
        let mut revisits = revisits.into_iter();
        for n in 0usize.. {
            if n % 2 == 0 {
                if let Some((name, before)) = revisits.next() {
                    let attempt = if n % 4 == 0 {
                        Attempt::Update(format!("{name}:update-c{cycle}"))
                    } else {
                        Attempt::Delete
                    };
                    if self.apply(&name, before, attempt).await.is_none() {
                        break;
                    }
                }
            }
            let name = format!("{PREFIX}c{cycle}-w{id}-{n}");
            let Some(mut state) = self
                .apply(
                    &name,
                    Stored::Absent,
                    Attempt::Create(format!("{name}:create")),
                )
                .await
            else {
                break;
            };
            if n % 3 == 0 {
                match self
                    .apply(&name, state, Attempt::Update(format!("{name}:update")))
                    .await
                {
                    Some(s) => state = s,
                    None => break,
                }
            }
            if n % 5 == 1 && self.apply(&name, state, Attempt::Delete).await.is_none() {
                break;
            }
        }
        self.report
    }
}

fn attempt_value(a: &Attempt) -> Option<&String> {
    match a {
        Attempt::Create(v) | Attempt::Update(v) => Some(v),
        Attempt::Delete => None,
    }
}

async fn client_for(cluster: &Cluster) -> kube::Client {
    // The harness waits for the file to appear; it may still be mid-write.
    let start = Instant::now();
    loop {
        let parsed =
            kube::config::Kubeconfig::read_from(&cluster.kubeconfig).map_err(|e| e.to_string());
        let config = match parsed {
            Ok(kc) => kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match config.and_then(|c| kube::Client::try_from(c).map_err(|e| e.to_string())) {
            Ok(client) => return client,
            Err(e) => {
                assert!(start.elapsed() < DEADLINE, "kubeconfig unusable: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn start_watch(api: Api<ConfigMap>, from: u64, killed: Arc<AtomicBool>) -> WatchRun {
    let log = Arc::new(Mutex::new(WatchLog::default()));
    let sink = log.clone();
    let task = tokio::spawn(async move {
        let wp = WatchParams::default();
        let stream = match api.watch(&wp, &from.to_string()).await {
            Ok(s) => s,
            Err(e) => {
                lock(&sink).errors.push(format!("watch from {from}: {e}"));
                return;
            }
        };
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let (change, cm) = match item {
                Ok(WatchEvent::Added(cm)) => (Change::Added, cm),
                Ok(WatchEvent::Modified(cm)) => (Change::Modified, cm),
                Ok(WatchEvent::Deleted(cm)) => (Change::Deleted, cm),
                Ok(WatchEvent::Bookmark(_)) => continue,
                Ok(WatchEvent::Error(status)) => {
                    lock(&sink)
                        .errors
                        .push(format!("watch from {from}: error event {status:?}"));
                    return;
                }
                Err(e) => {
                    if !killed.load(Ordering::SeqCst) {
                        lock(&sink).errors.push(format!("watch from {from}: {e}"));
                    }
                    return;
                }
            };
            let seen = match rv_of(&cm) {
                Ok(rv) => Seen {
                    name: cm.metadata.name.clone().unwrap_or_default(),
                    change,
                    rv,
                    value: value_of(&cm),
                },
                Err(e) => {
                    lock(&sink).errors.push(e);
                    return;
                }
            };
            lock(&sink).events.push(seen);
        }
        if !killed.load(Ordering::SeqCst) {
            lock(&sink)
                .errors
                .push(format!("watch from {from} ended while the server was up"));
        }
    });
    WatchRun { from, log, task }
}

fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(3000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// What became of the writes that were in flight at the kill.
#[derive(Default, Debug)]
struct InFlightOutcome {
    applied: usize,
    lost: usize,
}

/// Compares the server's ConfigMaps with the model; settles in-flight keys
/// to what the server actually has. Returns the problems found.
async fn check_store(
    api: &Api<ConfigMap>,
    model: &mut Model,
    in_flight: &mut InFlightOutcome,
) -> Vec<String> {
    let mut problems = Vec::new();
    let list = match api.list(&ListParams::default()).await {
        Ok(l) => l,
        Err(e) => return vec![format!("list after restart: {e}")],
    };
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("")
        .parse()
        .unwrap_or(0);
    let max_acked = model.acks.iter().map(|a| a.rv).max().unwrap_or(0);
    if list_rv < max_acked {
        problems.push(format!(
            "list resourceVersion {list_rv} after restart is below the highest acknowledged {max_acked}"
        ));
    }
    let mut actual: HashMap<String, Stored> = HashMap::new();
    for cm in &list.items {
        let name = cm.metadata.name.clone().unwrap_or_default();
        if !name.starts_with(PREFIX) {
            continue;
        }
        match (rv_of(cm), value_of(cm)) {
            (Ok(rv), Some(value)) => {
                actual.insert(name, Stored::Present { value, rv });
            }
            _ => problems.push(format!("malformed {name}: {cm:?}")),
        }
    }
    for name in actual.keys() {
        if !model.keys.contains_key(name) {
            problems.push(format!("{name} exists but was never written"));
        }
    }
    for (name, state) in model.keys.iter_mut() {
        let now = actual.get(name).cloned().unwrap_or(Stored::Absent);
        match state {
            KeyState::Known(expected) => {
                if *expected != now {
                    problems.push(format!(
                        "{name}: acknowledged state {expected:?}, after restart {now:?}"
                    ));
                }
            }
            KeyState::InFlight { before, attempted } => {
                let happened = match (&*attempted, &now) {
                    (Attempt::Delete, Stored::Absent) => true,
                    (Attempt::Create(v) | Attempt::Update(v), Stored::Present { value, rv }) => {
                        value == v && Some(*rv) > before_rv(before)
                    }
                    _ => false,
                };
                if happened {
                    in_flight.applied += 1;
                } else if now == *before {
                    in_flight.lost += 1;
                } else {
                    problems.push(format!(
                        "{name}: in-flight {attempted:?} over {before:?}, after restart {now:?}"
                    ));
                }
            }
        }
        *state = KeyState::Known(now);
    }
    problems
}

fn before_rv(s: &Stored) -> Option<u64> {
    match s {
        Stored::Absent => Some(0),
        Stored::Present { rv, .. } => Some(*rv),
    }
}

/// Acknowledged writes a watch chain must deliver but that no event has matched yet.
fn undelivered<'a>(acks: &'a [Ack], events: &[Seen]) -> Vec<&'a Ack> {
    acks.iter()
        .filter(|a| {
            !events.iter().any(|e| {
                e.name == a.name
                    && e.change == a.change
                    && (a.change == Change::Deleted || e.rv == a.rv)
            })
        })
        .collect()
}

/// Checks the events of consecutive watches (each resumed from the last
/// resourceVersion of the previous): strictly increasing resourceVersions,
/// each write at most once, only writes that were attempted, data as written.
fn check_chain(watches: &[WatchRun], model: &Model) -> Vec<String> {
    let mut problems = Vec::new();
    let mut all: Vec<Seen> = Vec::new();
    for w in watches {
        let events: Vec<Seen> = w.events();
        for e in &events {
            if e.rv <= w.from {
                problems.push(format!("watch from {} delivered older event {e:?}", w.from));
            }
        }
        all.extend(events);
    }
    for pair in all.windows(2) {
        if pair[1].rv <= pair[0].rv {
            problems.push(format!(
                "watch events out of order or repeated: {:?} then {:?}",
                pair[0], pair[1]
            ));
        }
    }
    let mut deletes: HashMap<&str, usize> = HashMap::new();
    for e in all.iter().filter(|e| e.name.starts_with(PREFIX)) {
        let expected = match e.change {
            Change::Added => e.value.clone().map(Attempt::Create),
            Change::Modified => e.value.clone().map(Attempt::Update),
            Change::Deleted => {
                *deletes.entry(&e.name).or_default() += 1;
                Some(Attempt::Delete)
            }
        };
        let attempted = expected
            .as_ref()
            .is_some_and(|x| model.attempts.iter().any(|(n, a)| *n == e.name && a == x));
        if !attempted {
            problems.push(format!("watch delivered a write nobody made: {e:?}"));
        }
    }
    for (name, count) in deletes {
        if count > 1 {
            problems.push(format!("{name} deleted {count} times in the watch"));
        }
    }
    for a in model.acks.iter().filter(|a| a.change != Change::Deleted) {
        if let Some(e) = all.iter().find(|e| e.name == a.name && e.rv == a.rv) {
            if e.change != a.change || e.value != a.value {
                problems.push(format!("acknowledged {a:?} delivered as {e:?}"));
            }
        }
    }
    problems
}

/// Polls until every acknowledged write shows up in the watch chain.
async fn wait_delivered(watches: &[WatchRun], model: &Model) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let all: Vec<Seen> = watches.iter().flat_map(|w| w.events()).collect();
        let missing = undelivered(&model.acks, &all);
        if missing.is_empty() {
            return Ok(());
        }
        let errors: Vec<String> = watches.iter().flat_map(|w| w.errors()).collect();
        if !errors.is_empty() || start.elapsed() > DEADLINE {
            return Err(format!(
                "{} acknowledged writes never delivered by the watches (first: {:?}); watch errors: {errors:?}; watch from {} saw {} events",
                missing.len(),
                &missing[..missing.len().min(5)],
                watches.last().map_or(0, |w| w.from),
                watches.last().map_or(0, |w| w.events().len()),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a watch from `from` and compares what it delivers with what the
/// chain of watches delivered after `from`.
async fn check_replay(
    watches: &[WatchRun],
    from: u64,
    api: &Api<ConfigMap>,
    killed: &Arc<AtomicBool>,
) -> Result<(), String> {
    let expected: Vec<Seen> = watches
        .iter()
        .flat_map(|w| w.events())
        .filter(|e| e.rv > from)
        .collect();
    let Some(target) = expected.last().map(|e| e.rv) else {
        return Ok(());
    };
    let replay = start_watch(api.clone(), from, killed.clone());
    let start = Instant::now();
    while replay.last_rv() < target {
        let errors = replay.errors();
        if !errors.is_empty() || start.elapsed() > DEADLINE {
            replay.task.abort();
            return Err(format!(
                "reached {} of {target} (errors: {errors:?})",
                replay.last_rv()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    replay.task.abort();
    let got: Vec<Seen> = replay
        .events()
        .into_iter()
        .filter(|e| e.rv <= target)
        .collect();
    let key = |e: &Seen| (e.name.clone(), e.change, e.rv, e.value.clone());
    let got_keys: Vec<_> = got.iter().map(key).collect();
    let expected_keys: Vec<_> = expected.iter().map(key).collect();
    if got_keys != expected_keys {
        let first_diff = got_keys
            .iter()
            .zip(&expected_keys)
            .position(|(a, b)| a != b)
            .unwrap_or(got_keys.len().min(expected_keys.len()));
        return Err(format!(
            "{} events instead of {}; first difference at #{first_diff}: {:?} vs {:?}",
            got_keys.len(),
            expected_keys.len(),
            got_keys.get(first_diff),
            expected_keys.get(first_diff)
        ));
    }
    eprintln!(
        "replayed {} events from resourceVersion {from}",
        got_keys.len()
    );
    Ok(())
}

async fn restart(cluster: Cluster) -> Cluster {
    cluster.kill();
    let Cluster { dir, .. } = cluster;
    // start_in removes the old kubeconfig and waits for the new server to write it.
    tokio::task::spawn_blocking(move || Cluster::start_in(dir))
        .await
        .expect("restart thread")
}

#[test]
fn acknowledged_writes_and_watches_survive_kill_9() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(crash_cycles());
}

async fn crash_cycles() {
    let started = Instant::now();
    let mut cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .expect("start thread");
    let client = client_for(&cluster).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let first_rv: u64 = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .and_then(|r| r.parse().ok())
        .expect("list resourceVersion");

    let mut model = Model::default();
    let mut killed = Arc::new(AtomicBool::new(false));
    let mut watches = vec![start_watch(api.clone(), first_rv, killed.clone())];
    let mut api = api;

    for cycle in 0..CYCLES {
        // Writers: fresh keys, plus a share of the surviving keys of earlier cycles.
        let mut revisits: Vec<Vec<(String, Stored)>> = vec![Vec::new(); WRITERS];
        let survivors = model.keys.iter().filter_map(|(n, s)| match s {
            KeyState::Known(p @ Stored::Present { .. }) => Some((n.clone(), p.clone())),
            _ => None,
        });
        for (i, s) in survivors.enumerate() {
            revisits[i % WRITERS].push(s);
        }
        let acked = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = revisits
            .into_iter()
            .enumerate()
            .map(|(id, mine)| {
                let w = Writer {
                    api: api.clone(),
                    killed: killed.clone(),
                    acked: acked.clone(),
                    report: WriterReport::default(),
                };
                tokio::spawn(w.run(cycle, id, mine))
            })
            .collect();

        let write_start = Instant::now();
        while acked.load(Ordering::SeqCst) < ACKS_BEFORE_KILL
            && write_start.elapsed() < MAX_WRITE_TIME
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Mark first: failures from here on are the crash, not a bug.
        killed.store(true, Ordering::SeqCst);
        cluster.kill();

        let mut unexpected = Vec::new();
        let before_crash_max = model.max_rv;
        for w in writers {
            let report = tokio::time::timeout(DEADLINE, w)
                .await
                .expect("writer did not stop after the kill")
                .expect("writer task");
            unexpected.extend(report.unexpected);
            for a in &report.acks {
                if a.change != Change::Deleted && a.rv <= before_crash_max {
                    unexpected.push(format!(
                        "cycle {cycle}: {a:?} got a resourceVersion not above {before_crash_max}, the highest before the last restart"
                    ));
                }
            }
            model.acks.extend(report.acks);
            model.attempts.extend(report.attempts);
            for (name, state) in report.keys {
                model.keys.insert(name, state);
            }
        }
        // The pre-crash watch ends with the connection.
        if let Some(w) = watches.last_mut() {
            let _ = tokio::time::timeout(DEADLINE, &mut w.task).await;
        }
        let acked_now = acked.load(Ordering::SeqCst);
        assert!(
            unexpected.is_empty(),
            "cycle {cycle}: writes failed while the server was up: {:?}\nserver log: {}",
            &unexpected[..unexpected.len().min(10)],
            tail(&cluster.server_log())
        );
        assert!(acked_now > 0, "cycle {cycle}: no write was acknowledged");
        let watch_errors: Vec<String> = watches.iter().flat_map(|w| w.errors()).collect();
        assert!(watch_errors.is_empty(), "cycle {cycle}: {watch_errors:?}");
        let resume_from = watches.last().map_or(first_rv, WatchRun::last_rv);
        model.max_rv = model
            .acks
            .iter()
            .map(|a| a.rv)
            .chain(watches.iter().flat_map(|w| w.events()).map(|e| e.rv))
            .chain([model.max_rv])
            .max()
            .unwrap_or(0);
        eprintln!(
            "cycle {cycle}: {acked_now} writes acknowledged, killed at {:?}, highest rv {}, watch resumes from {resume_from}",
            write_start.elapsed(),
            model.max_rv
        );

        // Restart on the same data dir; old credentials keep working (the CA persists).
        cluster = restart(cluster).await;
        killed = Arc::new(AtomicBool::new(false));
        api = Api::namespaced(client_for(&cluster).await, NAMESPACE);

        let mut in_flight = InFlightOutcome::default();
        let problems = check_store(&api, &mut model, &mut in_flight).await;
        eprintln!("cycle {cycle}: writes in flight at the kill: {in_flight:?}");
        assert!(
            problems.is_empty(),
            "cycle {cycle}: store after kill -9 differs from the acknowledged writes ({} problems): {:#?}\nserver log: {}",
            problems.len(),
            &problems[..problems.len().min(15)],
            tail(&cluster.server_log())
        );

        watches.push(start_watch(api.clone(), resume_from, killed.clone()));
        if let Err(e) = wait_delivered(&watches, &model).await {
            panic!(
                "cycle {cycle}: watch resumed from {resume_from} after restart: {e}\nserver log: {}",
                tail(&cluster.server_log())
            );
        }
        let problems = check_chain(&watches, &model);
        assert!(
            problems.is_empty(),
            "cycle {cycle}: watch events across the restart: {:#?}",
            &problems[..problems.len().min(15)]
        );

        // A watch from the middle of the pre-crash stream replays exactly what
        // the chain of watches delivered after that point (history from disk).
        let pre_crash = &watches[watches.len() - 2];
        let pre_events = pre_crash.events();
        let middle = pre_events
            .get(pre_events.len() / 2)
            .map_or(pre_crash.from, |e| e.rv);
        if let Err(e) = check_replay(&watches, middle, &api, &killed).await {
            panic!(
                "cycle {cycle}: watch from resourceVersion {middle} after restart: {e}\nserver log: {}",
                tail(&cluster.server_log())
            );
        }
    }

    let creates = model
        .acks
        .iter()
        .filter(|a| a.change == Change::Added)
        .count();
    let updates = model
        .acks
        .iter()
        .filter(|a| a.change == Change::Modified)
        .count();
    let deletes = model
        .acks
        .iter()
        .filter(|a| a.change == Change::Deleted)
        .count();
    eprintln!(
        "{} acknowledged writes ({creates} creates, {updates} updates, {deletes} deletes) survived {CYCLES} kill -9s in {:?}",
        model.acks.len(),
        started.elapsed()
    );
    assert!(creates > 0 && updates > 0 && deletes > 0);
    for w in &watches {
        w.task.abort();
    }
    killed.store(true, Ordering::SeqCst);
    cluster.kill();
}
