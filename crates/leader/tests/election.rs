//! Leader election against a real in-process API server.

use berth_apiserver::testing::TestServer;
use berth_leader::{run_while_leader, run_while_leader_until, LeaderConfig, LeaderError};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, PostParams};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

const NS: &str = "kube-system";

fn config(lease: &str, identity: &str) -> LeaderConfig {
    LeaderConfig {
        namespace: NS.to_string(),
        lease_name: lease.to_string(),
        identity: identity.to_string(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1000),
        retry_period: Duration::from_millis(200),
    }
}

async fn lease(client: &kube::Client, name: &str) -> Option<LeaseSpec> {
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    api.get_opt(name).await.ok().flatten().and_then(|l| l.spec)
}

async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sets a flag when dropped: tells whether the work future was cancelled.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn only_one_candidate_works_at_a_time_and_hands_over_on_completion() {
    let server = TestServer::memory().await;
    let active = Arc::new(AtomicUsize::new(0));
    let max_active = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));

    let mut tasks = Vec::new();
    for id in ["a", "b"] {
        let client = server.client().await;
        let (active, max_active, order) = (active.clone(), max_active.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            run_while_leader(client, config("handover", id), move || async move {
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                max_active.fetch_max(now, Ordering::SeqCst);
                order.lock().map(|mut o| o.push(id)).ok();
                tokio::time::sleep(Duration::from_millis(700)).await;
                active.fetch_sub(1, Ordering::SeqCst);
            })
            .await
        }));
    }
    let started = Instant::now();
    for task in tasks {
        let result = tokio::time::timeout(Duration::from_secs(10), task).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "candidate ended with {result:?}"
        );
    }
    assert_eq!(max_active.load(Ordering::SeqCst), 1, "two leaders at once");
    let order = order.lock().map(|o| o.clone()).unwrap_or_default();
    assert_eq!(order.len(), 2, "both candidates led once: {order:?}");
    // A released lease is taken at the next retry, not after leaseDuration.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    let client = server.client().await;
    let spec = lease(&client, "handover").await.expect("lease exists");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(""),
        "released on completion"
    );
    assert_eq!(
        spec.lease_transitions,
        Some(1),
        "one takeover (create counts 0)"
    );
}

#[tokio::test]
async fn lease_records_holder_times_and_transitions_like_client_go() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let leader = tokio::spawn(run_while_leader_until(
        server.client().await,
        config("fields", "first"),
        async {
            let _ = stop_rx.await;
        },
        std::future::pending::<()>,
    ));

    let spec = eventually("first to acquire", Duration::from_secs(5), || async {
        lease(&client, "fields")
            .await
            .filter(|s| s.holder_identity.as_deref() == Some("first"))
    })
    .await;
    assert_eq!(spec.lease_duration_seconds, Some(2));
    assert_eq!(spec.lease_transitions, Some(0));
    let acquired = spec.acquire_time.clone().expect("acquireTime");
    let first_renew = spec.renew_time.clone().expect("renewTime");

    // Renewals move renewTime and keep acquireTime.
    let renewed = eventually("a renewal", Duration::from_secs(3), || async {
        lease(&client, "fields")
            .await
            .filter(|s| s.renew_time.as_ref().is_some_and(|t| t.0 > first_renew.0))
    })
    .await;
    assert_eq!(renewed.acquire_time, Some(acquired.clone()));
    assert_eq!(renewed.holder_identity.as_deref(), Some("first"));

    // Graceful stop: holder cleared, duration 1s, transitions kept.
    let _ = stop_tx.send(());
    let result = tokio::time::timeout(Duration::from_secs(5), leader).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    let released = lease(&client, "fields").await.expect("lease");
    assert_eq!(released.holder_identity.as_deref(), Some(""));
    assert_eq!(released.lease_duration_seconds, Some(1));
    assert_eq!(released.lease_transitions, Some(0));

    // A new holder bumps leaseTransitions and sets a new acquireTime.
    let second = tokio::spawn(run_while_leader(
        server.client().await,
        config("fields", "second"),
        std::future::pending::<()>,
    ));
    let taken = eventually("second to acquire", Duration::from_secs(5), || async {
        lease(&client, "fields")
            .await
            .filter(|s| s.holder_identity.as_deref() == Some("second"))
    })
    .await;
    assert_eq!(taken.lease_transitions, Some(1));
    assert!(taken.acquire_time.expect("acquireTime").0 > acquired.0);
    second.abort();
}

#[tokio::test]
async fn standby_takes_over_when_the_leader_stops() {
    let server = TestServer::memory().await;
    let b_started = Arc::new(Mutex::new(None::<Instant>));
    let a_running = Arc::new(AtomicBool::new(false));
    let a_cancelled = Arc::new(AtomicBool::new(false));

    let (stop_a, stop_a_rx) = oneshot::channel::<()>();
    let a = {
        let (running, cancelled) = (a_running.clone(), a_cancelled.clone());
        tokio::spawn(run_while_leader_until(
            server.client().await,
            config("standby", "a"),
            async {
                let _ = stop_a_rx.await;
            },
            move || async move {
                let _flag = DropFlag(cancelled);
                running.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await
            },
        ))
    };
    eventually("a to lead", Duration::from_secs(5), || async {
        a_running.load(Ordering::SeqCst).then_some(())
    })
    .await;

    let b = {
        let started = b_started.clone();
        tokio::spawn(run_while_leader(
            server.client().await,
            config("standby", "b"),
            move || async move {
                started.lock().map(|mut s| *s = Some(Instant::now())).ok();
                std::future::pending::<()>().await
            },
        ))
    };
    // b stays standby while a renews (well past a lease duration).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        b_started.lock().map(|s| s.is_none()).unwrap_or(false),
        "b led while a held the lease"
    );

    let stopped_at = Instant::now();
    let _ = stop_a.send(());
    let result = tokio::time::timeout(Duration::from_secs(5), a).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    assert!(a_cancelled.load(Ordering::SeqCst), "a's work was cancelled");

    let took_over = eventually("b to lead", Duration::from_secs(5), || async {
        b_started.lock().ok().and_then(|s| *s)
    })
    .await;
    let gap = took_over.duration_since(stopped_at);
    assert!(
        gap < Duration::from_secs(2),
        "takeover took {gap:?}, more than a lease duration"
    );
    b.abort();
}

#[tokio::test]
async fn standby_waits_for_expiry_when_the_leader_vanishes_without_release() {
    let server = TestServer::memory().await;
    let a_running = Arc::new(AtomicBool::new(false));
    let b_started = Arc::new(Mutex::new(None::<Instant>));
    let a = {
        let running = a_running.clone();
        tokio::spawn(run_while_leader(
            server.client().await,
            config("vanish", "a"),
            move || async move {
                running.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await
            },
        ))
    };
    eventually("a to lead", Duration::from_secs(5), || async {
        a_running.load(Ordering::SeqCst).then_some(())
    })
    .await;
    let b = {
        let started = b_started.clone();
        tokio::spawn(run_while_leader(
            server.client().await,
            config("vanish", "b"),
            move || async move {
                started.lock().map(|mut s| *s = Some(Instant::now())).ok();
                std::future::pending::<()>().await
            },
        ))
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    // A crash: no release, the lease has to expire.
    a.abort();
    let crashed_at = Instant::now();
    let took_over = eventually("b to lead", Duration::from_secs(6), || async {
        b_started.lock().ok().and_then(|s| *s)
    })
    .await;
    let gap = took_over.duration_since(crashed_at);
    assert!(
        gap >= Duration::from_millis(1500),
        "b took over before expiry: {gap:?}"
    );
    assert!(gap < Duration::from_secs(4), "b took too long: {gap:?}");

    let spec = lease(&server.client().await, "vanish")
        .await
        .expect("lease");
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    b.abort();
}

#[tokio::test]
async fn leader_that_sees_another_holder_stops_its_work() {
    let server = TestServer::memory().await;
    let client = server.client().await;
    let running = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let leader = {
        let (running, cancelled) = (running.clone(), cancelled.clone());
        tokio::spawn(run_while_leader(
            server.client().await,
            config("stolen", "a"),
            move || async move {
                let _flag = DropFlag(cancelled);
                running.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await
            },
        ))
    };
    eventually("a to lead", Duration::from_secs(5), || async {
        running.load(Ordering::SeqCst).then_some(())
    })
    .await;

    // Someone else writes the lease (as a candidate with a skewed view would).
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let mut current = api.get("stolen").await.expect("lease");
    let spec = current.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = Some("intruder".into());
    spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
    spec.lease_duration_seconds = Some(60);
    api.replace("stolen", &PostParams::default(), &current)
        .await
        .expect("steal");

    let result = tokio::time::timeout(Duration::from_secs(5), leader).await;
    match result {
        Ok(Ok(Err(LeaderError::Lost { reason, .. }))) => {
            assert!(reason.contains("intruder"), "{reason}");
        }
        other => panic!("expected a lost lease, got {other:?}"),
    }
    assert!(cancelled.load(Ordering::SeqCst), "work still running");
    let spec = lease(&client, "stolen").await.expect("lease");
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some("intruder"),
        "no release of a lost lease"
    );
}

/// A TCP forwarder to the API server that the test can cut, so the leader's
/// renewals fail as on a network partition.
struct Cuttable {
    port: u16,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cuttable {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let conn = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().map(|mut t| t.push(conn)).ok();
                }
            })
        };
        Cuttable {
            port,
            tasks,
            accept,
        }
    }

    fn cut(&self) {
        self.accept.abort();
        for task in self
            .tasks
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
        {
            task.abort();
        }
    }
}

#[tokio::test]
async fn leader_that_cannot_renew_stops_its_work_after_the_renew_deadline() {
    let server = TestServer::memory().await;
    let proxy = Cuttable::start(server.running.addr).await;
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let mut kc = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    kc.cluster_url = format!("https://127.0.0.1:{}", proxy.port)
        .parse()
        .expect("url");
    kc.read_timeout = Some(Duration::from_millis(500));
    kc.connect_timeout = Some(Duration::from_millis(500));
    let partitioned = kube::Client::try_from(kc).expect("client");

    let running = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let leader = {
        let (running, cancelled) = (running.clone(), cancelled.clone());
        tokio::spawn(run_while_leader(
            partitioned,
            config("partition", "a"),
            move || async move {
                let _flag = DropFlag(cancelled);
                running.store(true, Ordering::SeqCst);
                std::future::pending::<()>().await
            },
        ))
    };
    eventually("a to lead", Duration::from_secs(5), || async {
        running.load(Ordering::SeqCst).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !cancelled.load(Ordering::SeqCst),
        "work stopped while renewals succeed"
    );

    let cut_at = Instant::now();
    proxy.cut();
    let result = tokio::time::timeout(Duration::from_secs(5), leader).await;
    let gap = cut_at.elapsed();
    match result {
        Ok(Ok(Err(LeaderError::Lost { reason, .. }))) => {
            assert!(reason.contains("renew deadline"), "{reason}");
        }
        other => panic!("expected a lost lease, got {other:?}"),
    }
    assert!(cancelled.load(Ordering::SeqCst), "work still running");
    // Stopped before the lease could expire for the others (2s).
    assert!(gap < Duration::from_secs(2), "stopped after {gap:?}");
    assert!(
        gap >= Duration::from_millis(900),
        "stopped before the renew deadline: {gap:?}"
    );
}

#[tokio::test]
async fn invalid_config_is_rejected_before_any_request() {
    let server = TestServer::memory().await;
    let mut cfg = config("bad", "a");
    cfg.renew_deadline = Duration::from_secs(5);
    let result = run_while_leader(server.client().await, cfg, || async {}).await;
    assert!(
        matches!(result, Err(LeaderError::InvalidConfig(_))),
        "{result:?}"
    );
    assert!(lease(&server.client().await, "bad").await.is_none());
}
