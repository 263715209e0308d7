//! An in-process API server for tests of berth and of its API clients: real
//! HTTPS on an ephemeral port, a memory or SQLite store in a temp dir, and a
//! `kube::Client` built from the admin kubeconfig the server wrote.
//! Enabled by the `testing` feature.

use crate::{Config, Running};
use berth_store::{MemoryStore, SqliteStore, Store};
use std::path::PathBuf;
use std::sync::Arc;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub running: Running,
    pub kubeconfig: PathBuf,
    pub store: Arc<dyn Store>,
}

impl TestServer {
    pub async fn with_store(store: Arc<dyn Store>, dir: tempfile::TempDir) -> Self {
        Self::with_config(store, dir, |_| {}).await
    }

    /// A server whose settings `configure` changes first (e.g. a short `event_ttl`).
    pub async fn with_config(
        store: Arc<dyn Store>,
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::new(dir.path().to_path_buf(), 0);
        config.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        configure(&mut config);
        let running = crate::start(config, store.clone())
            .await
            .expect("start API server");
        let kubeconfig = dir.path().join("kubeconfig.yaml");
        let url = format!("https://127.0.0.1:{}", running.addr.port());
        crate::pki::write_kubeconfig(&kubeconfig, &url, &running.server.pki).expect("kubeconfig");
        TestServer {
            dir,
            running,
            kubeconfig,
            store,
        }
    }

    /// Memory store: fastest, for behaviour tests.
    pub async fn memory() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::with_store(Arc::new(MemoryStore::new()), dir).await
    }

    /// SQLite store in the temp dir, as `berth server` runs it.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("state.db")).expect("open sqlite");
        Self::with_store(Arc::new(store), dir).await
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.running.addr.port())
    }

    /// A kube client authenticated with the admin client certificate.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }

    /// Every key/value in the store (to check that a failed request changed nothing).
    pub async fn store_dump(&self) -> Vec<(String, Vec<u8>, i64)> {
        let list = self
            .store
            .list(berth_store::ListOptions {
                prefix: "/registry/".into(),
                ..Default::default()
            })
            .await
            .expect("list store");
        list.items
            .into_iter()
            .map(|kv| (kv.key, kv.value, kv.mod_revision))
            .collect()
    }
}
