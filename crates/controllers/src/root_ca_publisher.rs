//! root-ca-cert-publisher (upstream pkg/controller/certificates/rootcacertpublisher):
//! a ConfigMap `kube-root-ca.crt` with key `ca.crt` = the cluster CA in every active
//! namespace, created when missing and put back when deleted or changed. Pods read it
//! through the `kube-api-access-*` projected volume the ServiceAccount admission adds.
//!
//! ```text
//! GET /cacerts (once, retried) ─▶ CA PEM
//! Namespace informer ──────────────────────────────┐
//! ConfigMap informer ── kube-root-ca.crt touched ──┼─▶ Controller queue (per namespace)
//!                                                  │     ─▶ decide(cached ConfigMap, CA)
//!                                                  │        ─▶ create | replace | nothing
//! ```

use crate::informers::{Cached, Indexer};
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
pub const CA_KEY: &str = "ca.crt";
const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

impl Cached for Namespace {
    fn indexers() -> Vec<Indexer<Self>> {
        Vec::new()
    }
}

/// What a namespace's ConfigMap needs.
#[derive(Debug, PartialEq)]
pub enum Decision {
    Create(ConfigMap),
    /// Replace with this (the existing object with data and annotation put right).
    Replace(ConfigMap),
    Nothing,
}

/// Pure: compare the cached ConfigMap of `namespace` (if any) with the CA.
pub fn decide(existing: Option<&ConfigMap>, namespace: &str, ca: &str) -> Decision {
    let data = BTreeMap::from([(CA_KEY.to_string(), ca.to_string())]);
    match existing {
        None => {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some(CONFIG_MAP_NAME.into());
            cm.metadata.namespace = Some(namespace.into());
            cm.metadata.annotations = Some(BTreeMap::from([(
                DESCRIPTION_ANNOTATION.to_string(),
                DESCRIPTION.to_string(),
            )]));
            cm.data = Some(data);
            Decision::Create(cm)
        }
        Some(cm) => {
            let annotated = cm.metadata.annotations.as_ref().is_some_and(|a| {
                a.get(DESCRIPTION_ANNOTATION).map(String::as_str) == Some(DESCRIPTION)
            });
            let data_ok = cm.data.as_ref() == Some(&data)
                && cm.binary_data.as_ref().is_none_or(|b| b.is_empty());
            if annotated && data_ok {
                return Decision::Nothing;
            }
            let mut fixed = cm.clone();
            fixed.data = Some(data);
            fixed.binary_data = None;
            fixed
                .metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
            Decision::Replace(fixed)
        }
    }
}

/// The cluster CA from the API server's `/cacerts` (berth serves the CA PEM there, as
/// k3s does), retried until it answers.
async fn fetch_root_ca(client: &kube::Client) -> String {
    let mut delay = Duration::from_millis(200);
    loop {
        // kube's request builder makes the plain GET of `/cacerts`.
        let request = kube::core::Request::new("").get("cacerts", &Default::default());
        match request {
            Ok(req) => match client.request_text(req).await {
                Ok(pem) if pem.contains("BEGIN CERTIFICATE") => return pem,
                Ok(_) => tracing::warn!("root-ca-cert-publisher: /cacerts returned no certificate"),
                Err(e) => tracing::warn!(%e, "root-ca-cert-publisher: fetching the cluster CA"),
            },
            Err(e) => tracing::warn!(%e, "root-ca-cert-publisher: building the CA request"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

pub async fn reconcile(
    ns: Arc<Namespace>,
    ctx: Arc<Context>,
    ca: Arc<String>,
) -> Result<Action, ControllerError> {
    let name = ns.name_any();
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        return Ok(Action::await_change());
    }
    // A namespace deleted meanwhile: its informer entry is gone.
    if ctx.informers.get::<Namespace>().get(None, &name).is_none() {
        return Ok(Action::await_change());
    }
    let existing = ctx
        .informers
        .get::<ConfigMap>()
        .get(Some(&name), CONFIG_MAP_NAME);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    match decide(existing.as_deref(), &name, &ca) {
        Decision::Nothing => {}
        Decision::Create(cm) => match api.create(&PostParams::default(), &cm).await {
            Ok(_) => {}
            // The cache lags our own create, or the namespace is going: the next event decides.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 || e.code == 404 => {}
            Err(e) => return Err(e.into()),
        },
        Decision::Replace(cm) => {
            match api
                .replace(CONFIG_MAP_NAME, &PostParams::default(), &cm)
                .await
            {
                Ok(_) => {}
                // Stale cached copy: the write that beat us wakes us again.
                Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Action::requeue(ctx.resync))
}

/// Run the publisher until the watches end.
pub async fn run_root_ca_publisher(client: kube::Client, ctx: Arc<Context>) {
    let ca = Arc::new(fetch_root_ca(&client).await);
    let namespaces = ctx.informers.get::<Namespace>();
    let config_maps = ctx.informers.get::<ConfigMap>();
    let cm_events = config_maps.subscribe();
    config_maps.ready().await;
    // Only our ConfigMap's changes (including its deletion) wake its namespace.
    let owner_of = |cm: Arc<ConfigMap>| -> Option<ObjectRef<Namespace>> {
        (cm.metadata.name.as_deref() == Some(CONFIG_MAP_NAME))
            .then(|| cm.namespace().map(|ns| ObjectRef::new(&ns)))
            .flatten()
    };
    Controller::for_shared_stream(namespaces.subscribe(), namespaces.ready_store().await)
        .watches_shared_stream(cm_events, owner_of)
        .shutdown_on_signal()
        .run(
            move |ns, ctx| {
                let ca = ca.clone();
                run_reconcile(ns, ctx, move |ns, ctx| reconcile(ns, ctx, ca))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "root-ca-cert-publisher");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn creates_the_config_map_when_missing() {
        let Decision::Create(cm) = decide(None, "team-a", CA) else {
            panic!("expected a create");
        };
        assert_eq!(cm.metadata.name.as_deref(), Some("kube-root-ca.crt"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(
            cm.data
                .as_ref()
                .and_then(|d| d.get("ca.crt"))
                .map(String::as_str),
            Some(CA)
        );
        assert_eq!(decide(Some(&cm), "team-a", CA), Decision::Nothing);
    }

    #[test]
    fn puts_changed_data_back_and_keeps_other_metadata() {
        let Decision::Create(mut cm) = decide(None, "ns", CA) else {
            panic!("expected a create");
        };
        cm.metadata.resource_version = Some("42".into());
        cm.metadata.labels = Some(BTreeMap::from([("team".into(), "x".into())]));
        cm.data = Some(BTreeMap::from([
            ("ca.crt".into(), "tampered".into()),
            ("extra".into(), "1".into()),
        ]));
        let Decision::Replace(fixed) = decide(Some(&cm), "ns", CA) else {
            panic!("expected a replace");
        };
        assert_eq!(
            fixed.data,
            Some(BTreeMap::from([("ca.crt".into(), CA.into())]))
        );
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("42"));
        assert_eq!(fixed.metadata.labels, cm.metadata.labels);
        // A new CA (rotation) is published too.
        let Decision::Create(current) = decide(None, "ns", CA) else {
            panic!("expected a create");
        };
        assert!(matches!(
            decide(Some(&current), "ns", "other"),
            Decision::Replace(_)
        ));
    }

    #[tokio::test]
    async fn publishes_to_every_namespace_and_repairs() {
        use berth_apiserver::testing::TestServer;
        use kube::api::DeleteParams;
        let server = TestServer::memory().await;
        let client = server.client().await;
        let ctx = Context::new(client.clone(), Duration::from_secs(300));
        let task = tokio::spawn(run_root_ca_publisher(client.clone(), ctx));
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut ns = Namespace::default();
        ns.metadata.name = Some("team-a".into());
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
        let ca = server.running.server.pki.ca_cert.clone();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
        let published = |cms: Api<ConfigMap>, ca: String| async move {
            for _ in 0..100 {
                if let Ok(Some(cm)) = cms.get_opt(CONFIG_MAP_NAME).await {
                    if cm.data.as_ref().and_then(|d| d.get(CA_KEY)) == Some(&ca) {
                        return true;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        };
        assert!(published(cms.clone(), ca.clone()).await, "not published");
        let default: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        assert!(published(default, ca.clone()).await, "not in default");

        cms.delete(CONFIG_MAP_NAME, &DeleteParams::default())
            .await
            .expect("delete");
        assert!(published(cms.clone(), ca.clone()).await, "not recreated");

        let mut cm = cms.get(CONFIG_MAP_NAME).await.expect("get");
        cm.data = Some(BTreeMap::from([(CA_KEY.into(), "tampered".into())]));
        cms.replace(CONFIG_MAP_NAME, &PostParams::default(), &cm)
            .await
            .expect("tamper");
        assert!(published(cms, ca).await, "not repaired");
        task.abort();
    }
}
