//! The shared reconcile runner: context handed to every reconcile, and the
//! per-object exponential back-off used when a reconcile fails.

use crate::error::ControllerError;
use crate::informers::Informers;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

pub struct Context {
    pub client: kube::Client,
    /// Every object is reconciled again after this long even without events.
    pub resync: Duration,
    /// Roll Deployments back automatically when a rollout fails, unless a
    /// Deployment says otherwise (`berth.dev/auto-rollback`).
    pub auto_rollback_default: bool,
    /// The shared caches every controller reads (one watch per kind).
    pub informers: Arc<Informers>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: kube::Client, resync: Duration) -> Arc<Self> {
        Self::with_options(client, resync, false)
    }

    pub fn with_options(
        client: kube::Client,
        resync: Duration,
        auto_rollback_default: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            client: client.clone(),
            resync,
            auto_rollback_default,
            informers: Arc::new(Informers::new(client.clone())),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// Next delay for `key`: 200ms doubling per consecutive failure, capped at 60s.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        let delay = BACKOFF_BASE.saturating_mul(2u32.saturating_pow((*n).min(16)));
        *n += 1;
        delay.min(BACKOFF_MAX)
    }

    pub fn forget(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

fn key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    ObjectRef::from_obj(obj).to_string()
}

/// Wrap a reconcile so that success resets the object's back-off.
pub async fn run_reconcile<K, F, Fut>(
    obj: Arc<K>,
    ctx: Arc<Context>,
    f: F,
) -> Result<Action, ControllerError>
where
    K: Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: std::future::Future<Output = Result<Action, ControllerError>>,
{
    let k = key(obj.as_ref());
    let result = f(obj, ctx.clone()).await;
    if result.is_ok() {
        ctx.forget(&k);
    }
    result
}

/// error_policy for kube's Controller: log and requeue with back-off.
pub fn error_policy<K>(obj: Arc<K>, err: &ControllerError, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let delay = ctx.backoff(&key(obj.as_ref()));
    tracing::warn!(object = %obj.name_any(), %err, ?delay, "reconcile failed; retrying");
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backoff_doubles_caps_and_resets() {
        let client = kube::Client::try_from(kube::Config::new(
            "http://127.0.0.1:1".parse().expect("url"),
        ))
        .expect("client");
        let ctx = Context::new(client, Duration::from_secs(1));
        assert_eq!(ctx.backoff("a"), Duration::from_millis(200));
        assert_eq!(ctx.backoff("a"), Duration::from_millis(400));
        for _ in 0..20 {
            ctx.backoff("a");
        }
        assert_eq!(ctx.backoff("a"), BACKOFF_MAX);
        ctx.forget("a");
        assert_eq!(ctx.backoff("a"), Duration::from_millis(200));
    }
}
