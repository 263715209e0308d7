//! The resource-quota controller (upstream pkg/controller/resourcequota):
//! keeps every ResourceQuota's `status.hard` equal to `spec.hard` and its
//! `status.used` equal to the usage of the objects in its namespace, as
//! berth-quota computes it (`kinds_to_list` → objects → `recalculate`).
//!
//! ```text
//! ResourceQuota informer ──spec changed / new──┐
//! tracked kinds' informers ──usage changed─────┼─▶ Controller queue (per quota) ─▶ reconcile
//!   (started when a quota first tracks them)   │      objects of kinds_to_list(quota):
//! resync (ctx.resync, upstream 5m) ────────────┘      shared caches, else one LIST
//!                                                     recalculate ─▶ changed? ─▶ PUT /status
//! ```
//!
//! Upstream's QuotaMonitor replenishes on updates and deletes only (admission
//! charges creations); berth also wakes on creations, so usage is right
//! whether or not the API server charges quota at admission.

use crate::informers::{hash_json, Cached, ChangeFilter, Informer};
use crate::runner::{error_policy, run_reconcile, Context};
use crate::ControllerError;
use berth_quota::resource_list::{equals, parse_list};
use berth_quota::{
    kinds_to_list, recalculate, usage_of_pod, usage_of_pvc, usage_of_service, GroupResource,
    QuotaObject, ResourceList,
};
use futures::channel::mpsc;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
    ResourceQuotaStatus, Secret, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::discovery::Scope;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::{Resource, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Status writes tried per reconcile when the quota keeps changing under us.
const MAX_WRITE_ATTEMPTS: usize = 3;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The quota as this sync acknowledges it: `status.hard` = `spec.hard`
/// (berth-quota reads the acknowledged hard limits from the status).
pub fn acknowledged(quota: &ResourceQuota) -> ResourceQuota {
    let mut out = quota.clone();
    let hard = spec_hard(quota);
    out.status.get_or_insert_with(Default::default).hard = Some(hard);
    out
}

fn spec_hard(quota: &ResourceQuota) -> ResourceList {
    quota
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default()
}

/// The kinds whose objects `quota` (with its current spec) charges.
pub fn tracked_kinds(quota: &ResourceQuota) -> BTreeSet<GroupResource> {
    kinds_to_list(&acknowledged(quota))
}

/// Same names, semantically equal quantities ("1" = "1000m"); absent = empty.
fn same_list(a: Option<&ResourceList>, b: &ResourceList) -> bool {
    let empty = ResourceList::new();
    equals(&parse_list(a.unwrap_or(&empty)), &parse_list(b))
}

/// upstream syncResourceQuota's decision: the status to write (hard from
/// the spec, used recalculated from `objects`, which must hold every object
/// of [`tracked_kinds`] in the quota's namespace), or None when the stored
/// status already says so.
pub fn new_status(quota: &ResourceQuota, objects: &[QuotaObject]) -> Option<ResourceQuotaStatus> {
    let hard = spec_hard(quota);
    let used = recalculate(&acknowledged(quota), objects);
    let old = quota.status.as_ref();
    let unchanged =
        old.is_some_and(|s| same_list(s.hard.as_ref(), &hard) && same_list(s.used.as_ref(), &used));
    (!unchanged).then_some(ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(used),
    })
}

/// What wakes quotas for one kind: a fingerprint of what in an object
/// affects usage (a change elsewhere, e.g. a pod's readiness, is ignored).
fn no_usage_change<K>(_: &K) -> u64 {
    0
}

fn pod_fingerprint(pod: &Pod) -> u64 {
    let spec = pod.spec.as_ref();
    hash_json(&(
        usage_of_pod(pod),
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        &pod.metadata.deletion_timestamp,
        spec.and_then(|s| s.active_deadline_seconds),
        spec.and_then(|s| s.priority_class_name.as_deref()),
    ))
}

fn service_fingerprint(svc: &Service) -> u64 {
    hash_json(&usage_of_service(svc))
}

fn pvc_fingerprint(pvc: &PersistentVolumeClaim) -> u64 {
    hash_json(&(
        usage_of_pvc(pvc),
        pvc.spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref()),
    ))
}

/// The objects of one namespace a quota is recalculated from.
#[derive(Default)]
struct Inventory {
    pods: Vec<Arc<Pod>>,
    services: Vec<Arc<Service>>,
    claims: Vec<Arc<PersistentVolumeClaim>>,
    /// Kinds only counted: how many objects of each.
    counts: Vec<(GroupResource, usize)>,
}

impl Inventory {
    fn objects(&self) -> Vec<QuotaObject<'_>> {
        let mut out: Vec<QuotaObject<'_>> = Vec::new();
        out.extend(self.pods.iter().map(|p| QuotaObject::Pod(p.as_ref())));
        out.extend(
            self.services
                .iter()
                .map(|s| QuotaObject::Service(s.as_ref())),
        );
        out.extend(
            self.claims
                .iter()
                .map(|c| QuotaObject::PersistentVolumeClaim(c.as_ref())),
        );
        for (kind, n) in &self.counts {
            out.extend(std::iter::repeat_n(
                QuotaObject::Other {
                    resource: &kind.resource,
                    group: &kind.group,
                },
                *n,
            ));
        }
        out
    }
}

/// The controller's state beside the shared context: which kinds already
/// wake quotas, and the discovery answers for kinds it LISTs.
pub struct QuotaController {
    ctx: Arc<Context>,
    quotas: Arc<Informer<ResourceQuota>>,
    wake: mpsc::UnboundedSender<ObjectRef<ResourceQuota>>,
    forwarded: Mutex<BTreeSet<GroupResource>>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Kinds without an informer: their API resource (None: not served).
    discovered: Mutex<BTreeMap<GroupResource, Option<ApiResource>>>,
}

impl Drop for QuotaController {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl QuotaController {
    /// The shared informer of `K`, synced; the first time, its events start
    /// waking the quotas of the object's namespace that track `kind`.
    async fn informer_for<K: Cached>(
        &self,
        kind: &GroupResource,
        fingerprint: fn(&K) -> u64,
    ) -> Arc<Informer<K>> {
        let informer = self.ctx.informers.get::<K>();
        if lock(&self.forwarded).insert(kind.clone()) {
            let events = informer.subscribe();
            let store = informer.store();
            let quotas = self.quotas.clone();
            let wake = self.wake.clone();
            let kind = kind.clone();
            let changes = ChangeFilter::new(fingerprint);
            let task = tokio::spawn(async move {
                let mut events = std::pin::pin!(events);
                while let Some(obj) = events.next().await {
                    let ns = obj.meta().namespace.clone().unwrap_or_default();
                    let tracking: Vec<_> = quotas
                        .in_namespace(&ns)
                        .into_iter()
                        .filter(|q| tracked_kinds(q).contains(&kind))
                        .collect();
                    if tracking.is_empty() {
                        continue;
                    }
                    // The cache is written before events are handed on: an
                    // object missing (or replaced) there was deleted.
                    let present = store
                        .get(&ObjectRef::from_obj(obj.as_ref()))
                        .is_some_and(|o| o.meta().uid == obj.meta().uid);
                    if !changes.changed(&obj, present) {
                        continue;
                    }
                    for quota in tracking {
                        if wake
                            .unbounded_send(ObjectRef::from_obj(quota.as_ref()))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
            lock(&self.tasks).push(task.abort_handle());
        }
        informer.ready().await;
        informer
    }

    async fn count_with<K: Cached>(&self, kind: &GroupResource, ns: &str) -> usize {
        self.informer_for::<K>(kind, no_usage_change)
            .await
            .in_namespace(ns)
            .len()
    }

    /// Objects of `kind` in `ns`, from a shared cache when berth has a typed
    /// informer for it, else by one LIST (metadata only).
    async fn count(&self, kind: &GroupResource, ns: &str) -> Result<usize, ControllerError> {
        Ok(match (kind.group.as_str(), kind.resource.as_str()) {
            ("", "configmaps") => self.count_with::<ConfigMap>(kind, ns).await,
            ("", "secrets") => self.count_with::<Secret>(kind, ns).await,
            ("", "resourcequotas") => self.count_with::<ResourceQuota>(kind, ns).await,
            ("", "replicationcontrollers") => {
                self.count_with::<ReplicationController>(kind, ns).await
            }
            ("", "endpoints") => self.count_with::<Endpoints>(kind, ns).await,
            ("apps", "deployments") => self.count_with::<Deployment>(kind, ns).await,
            ("apps", "replicasets") => self.count_with::<ReplicaSet>(kind, ns).await,
            ("apps", "statefulsets") => self.count_with::<StatefulSet>(kind, ns).await,
            ("apps", "daemonsets") => self.count_with::<DaemonSet>(kind, ns).await,
            ("apps", "controllerrevisions") => {
                self.count_with::<ControllerRevision>(kind, ns).await
            }
            ("batch", "jobs") => self.count_with::<Job>(kind, ns).await,
            ("batch", "cronjobs") => self.count_with::<CronJob>(kind, ns).await,
            ("policy", "poddisruptionbudgets") => {
                self.count_with::<PodDisruptionBudget>(kind, ns).await
            }
            ("autoscaling", "horizontalpodautoscalers") => {
                self.count_with::<HorizontalPodAutoscaler>(kind, ns).await
            }
            _ => self.list_count(kind, ns).await?,
        })
    }

    /// Count by LIST for a kind without an informer; a kind the server does
    /// not serve (or a cluster-scoped one) has no objects in a namespace.
    async fn list_count(&self, kind: &GroupResource, ns: &str) -> Result<usize, ControllerError> {
        let known = lock(&self.discovered).get(kind).cloned();
        let resource = match known {
            Some(r) => r,
            None => {
                let found = self.discover(kind).await?;
                lock(&self.discovered).insert(kind.clone(), found.clone());
                found
            }
        };
        let Some(resource) = resource else {
            return Ok(0);
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.ctx.client.clone(), ns, &resource);
        let list = api.list_metadata(&ListParams::default()).await?;
        Ok(list.items.len())
    }

    async fn discover(&self, kind: &GroupResource) -> Result<Option<ApiResource>, ControllerError> {
        let group = match kube::discovery::group(&self.ctx.client, &kind.group).await {
            Ok(g) => g,
            // The group is not served at all.
            Err(kube::Error::Discovery(_)) => return Ok(None),
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(group
            .recommended_resources()
            .into_iter()
            .find(|(r, caps)| r.plural == kind.resource && caps.scope == Scope::Namespaced)
            .map(|(r, _)| r))
    }

    /// Every object `quota` charges, from its namespace.
    async fn inventory(&self, quota: &ResourceQuota) -> Result<Inventory, ControllerError> {
        let ns = quota.namespace().unwrap_or_default();
        let mut inv = Inventory::default();
        for kind in tracked_kinds(quota) {
            match (kind.group.as_str(), kind.resource.as_str()) {
                ("", "pods") => {
                    inv.pods = self
                        .informer_for::<Pod>(&kind, pod_fingerprint)
                        .await
                        .in_namespace(&ns)
                }
                ("", "services") => {
                    inv.services = self
                        .informer_for::<Service>(&kind, service_fingerprint)
                        .await
                        .in_namespace(&ns)
                }
                ("", "persistentvolumeclaims") => {
                    inv.claims = self
                        .informer_for::<PersistentVolumeClaim>(&kind, pvc_fingerprint)
                        .await
                        .in_namespace(&ns)
                }
                _ => {
                    let n = self.count(&kind, &ns).await?;
                    inv.counts.push((kind, n));
                }
            }
        }
        Ok(inv)
    }
}

async fn reconcile(
    quota: Arc<ResourceQuota>,
    ctx: Arc<Context>,
    this: Arc<QuotaController>,
) -> Result<Action, ControllerError> {
    let ns = quota.namespace().unwrap_or_default();
    let name = quota.name_any();
    let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &ns);
    let mut current = quota.as_ref().clone();
    for attempt in 1..=MAX_WRITE_ATTEMPTS {
        let inventory = this.inventory(&current).await?;
        let Some(status) = new_status(&current, &inventory.objects()) else {
            break;
        };
        let mut updated = current.clone();
        updated.status = Some(status);
        // PUT carries the resourceVersion read: a concurrent writer (quota
        // admission, a spec edit) makes it fail with 409 instead of being lost.
        match api
            .replace_status(&name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 && attempt < MAX_WRITE_ATTEMPTS => {
                match api.get_opt(&name).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok(Action::await_change()),
                }
            }
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::requeue(ctx.resync))
}

/// Run the resource-quota controller until the watches end. Every quota is
/// recomputed at least once per `ctx.resync`.
pub async fn run_resource_quota_controller(_client: kube::Client, ctx: Arc<Context>) {
    let quotas = ctx.informers.get::<ResourceQuota>();
    let (wake, woken) = mpsc::unbounded();
    let this = Arc::new(QuotaController {
        ctx: ctx.clone(),
        quotas: quotas.clone(),
        wake,
        forwarded: Mutex::new(BTreeSet::new()),
        tasks: Mutex::new(Vec::new()),
        discovered: Mutex::new(BTreeMap::new()),
    });
    // A quota is synced when new or when its spec changes (upstream's
    // handlers); its own status writes do not wake it again.
    let spec_changes = ChangeFilter::new(|q: &ResourceQuota| hash_json(&q.spec));
    let store = quotas.store();
    let quota_events = quotas.subscribe().filter(move |q| {
        let present = store
            .get(&ObjectRef::from_obj(q.as_ref()))
            .is_some_and(|o| o.meta().uid == q.meta().uid);
        // Always asked, so a deleted quota is forgotten by the filter.
        let changed = spec_changes.changed(q, present);
        std::future::ready(present && changed)
    });
    Controller::for_shared_stream(quota_events, quotas.ready_store().await)
        .reconcile_on(woken)
        .run(
            move |quota, ctx| {
                let this = this.clone();
                run_reconcile(quota, ctx, move |q, ctx| reconcile(q, ctx, this))
            },
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "resource quota controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quota(spec_hard: serde_json::Value, status: serde_json::Value) -> ResourceQuota {
        serde_json::from_value(json!({
            "metadata": {"name": "q", "namespace": "ns"},
            "spec": {"hard": spec_hard},
            "status": status,
        }))
        .expect("quota")
    }

    fn pod(cpu: Option<&str>, phase: &str) -> Pod {
        let resources = cpu.map(|c| json!({"requests": {"cpu": c}}));
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]},
            "status": {"phase": phase},
        }))
        .expect("pod")
    }

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    k8s_openapi::apimachinery::pkg::api::resource::Quantity(v.to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn first_sync_writes_hard_from_spec_and_recalculated_used() {
        let q = quota(json!({"pods": "2", "requests.cpu": "1"}), json!(null));
        let (a, b, done) = (
            pod(Some("250m"), "Running"),
            pod(None, "Pending"),
            pod(Some("1"), "Succeeded"),
        );
        let objects = [
            QuotaObject::Pod(&a),
            QuotaObject::Pod(&b),
            QuotaObject::Pod(&done),
        ];
        let status = new_status(&q, &objects).expect("dirty");
        assert_eq!(
            status.hard,
            Some(list(&[("pods", "2"), ("requests.cpu", "1")]))
        );
        assert_eq!(
            status.used,
            Some(list(&[("pods", "2"), ("requests.cpu", "250m")]))
        );
    }

    #[test]
    fn unchanged_status_is_not_rewritten_and_compares_by_value() {
        let q = quota(
            json!({"pods": "2", "requests.cpu": "1"}),
            json!({"hard": {"pods": "2", "requests.cpu": "1000m"},
                   "used": {"pods": "1", "requests.cpu": "0.25"}}),
        );
        let a = pod(Some("250m"), "Running");
        assert_eq!(new_status(&q, &[QuotaObject::Pod(&a)]), None);
        // One more pod: used changes.
        let b = pod(None, "Running");
        let status = new_status(&q, &[QuotaObject::Pod(&a), QuotaObject::Pod(&b)]);
        assert_eq!(
            status.and_then(|s| s.used),
            Some(list(&[("pods", "2"), ("requests.cpu", "250m")]))
        );
    }

    #[test]
    fn spec_change_moves_hard_and_drops_names_no_longer_limited() {
        let q = quota(
            json!({"pods": "5", "configmaps": "3"}),
            json!({"hard": {"pods": "2", "services": "1"},
                   "used": {"pods": "1", "services": "1"}}),
        );
        let a = pod(None, "Running");
        let status = new_status(
            &q,
            &[
                QuotaObject::Pod(&a),
                QuotaObject::Other {
                    resource: "configmaps",
                    group: "",
                },
            ],
        )
        .expect("dirty");
        assert_eq!(
            status.hard,
            Some(list(&[("configmaps", "3"), ("pods", "5")]))
        );
        assert_eq!(
            status.used,
            Some(list(&[("configmaps", "1"), ("pods", "1")]))
        );
    }

    #[test]
    fn tracked_kinds_follow_the_spec_not_the_stale_status() {
        let q = quota(
            json!({"count/deployments.apps": "1", "secrets": "2"}),
            json!({"hard": {"pods": "2"}}),
        );
        let kinds: Vec<(String, String)> = tracked_kinds(&q)
            .into_iter()
            .map(|k| (k.group, k.resource))
            .collect();
        assert_eq!(
            kinds,
            [
                ("".to_string(), "secrets".to_string()),
                ("apps".to_string(), "deployments".to_string())
            ]
        );
    }

    #[test]
    fn pod_fingerprint_ignores_readiness_but_not_terminal_phase() {
        let running = pod(Some("1"), "Running");
        let mut ready = running.clone();
        ready.status.get_or_insert_with(Default::default).conditions =
            Some(vec![k8s_openapi::api::core::v1::PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]);
        assert_eq!(pod_fingerprint(&running), pod_fingerprint(&ready));
        assert_ne!(
            pod_fingerprint(&running),
            pod_fingerprint(&pod(Some("1"), "Succeeded"))
        );
    }
}
