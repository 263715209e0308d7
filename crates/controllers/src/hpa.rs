//! HorizontalPodAutoscaler controller (autoscaling/v2), after upstream's
//! `pkg/controller/podautoscaler`: every sync period (and when an HPA's
//! spec changes) read the target's `/scale`, list its pods by the scale's
//! selector, read their usage from a [`MetricsSource`], compute the desired
//! count ([`replicas`]), stabilize and rate-limit it ([`behavior`]), write
//! `/scale` when it changes and report status, conditions and events.
//!
//! ```text
//! HPA watch ─▶ reconcile (at most once per sync period, or on spec change)
//!   │  GET {target}/scale ──▶ spec.replicas, status.selector
//!   │  LIST pods?labelSelector ─┐
//!   │  MetricsSource (metrics.k8s.io PodMetrics) ─┴▶ decide::plan (pure)
//!   │        replicas::ReplicaCalculator → behavior::History → Outcome
//!   ├─ Rescale: PUT {target}/scale, Event SuccessfulRescale
//!   └─ PATCH hpa/status (currentReplicas, desiredReplicas, currentMetrics,
//!      lastScaleTime, AbleToScale / ScalingActive / ScalingLimited)
//! ```

pub mod behavior;
pub mod conditions;
pub mod decide;
pub mod metrics;
pub mod quantity;
pub mod replicas;
pub mod scale;

pub use metrics::{
    ApiMetricsSource, ContainerMetrics, MetricsError, MetricsSource, PodMetrics, StaticMetrics,
};

use crate::clock::Clock;
use crate::runner::Context;
use behavior::History;
use conditions::{Condition, ABLE_TO_SCALE};
use decide::{Observed, Outcome, Plan};
use futures::StreamExt;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::Controller;
use kube::ResourceExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Event source component, as upstream names it.
pub const COMPONENT: &str = "horizontal-pod-autoscaler";

/// kube-controller-manager's `--horizontal-pod-autoscaler-*` settings.
#[derive(Clone, Debug)]
pub struct HpaConfig {
    /// How often each HPA is evaluated.
    pub sync_period: Duration,
    /// Usage ratios within 1±tolerance do not scale.
    pub tolerance: f64,
    /// Scale-down window when the HPA does not name one.
    pub downscale_stabilization: Duration,
    /// CPU samples of pods started this recently need a full window after Ready.
    pub cpu_initialization_period: Duration,
    /// A pod unready this soon after start counts as never having been ready.
    pub initial_readiness_delay: Duration,
}

impl Default for HpaConfig {
    fn default() -> Self {
        Self {
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            downscale_stabilization: Duration::from_secs(300),
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
        }
    }
}

impl HpaConfig {
    fn settings(&self) -> decide::Settings {
        decide::Settings {
            tolerance: self.tolerance,
            downscale_stabilization: self.downscale_stabilization,
            calculator: replicas::ReplicaCalculator {
                cpu_initialization_period: self.cpu_initialization_period,
                initial_readiness_delay: self.initial_readiness_delay,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HpaError {
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// The sync could not do its job; the text is upstream's.
    #[error("{0}")]
    Sync(String),
}

/// Per-HPA memory between syncs.
#[derive(Default)]
struct HpaState {
    history: History,
    /// When the last full sync ran and the spec it saw.
    last_sync: Option<(Instant, String)>,
}

struct HpaController {
    client: kube::Client,
    base: Arc<Context>,
    config: HpaConfig,
    metrics: Arc<dyn MetricsSource>,
    clock: Clock,
    states: Mutex<HashMap<String, HpaState>>,
}

/// Run the HPA controller reading usage from the resource metrics API.
pub async fn run_hpa_controller(client: kube::Client, ctx: Arc<Context>, cfg: HpaConfig) {
    let metrics = Arc::new(ApiMetricsSource::new(client.clone()));
    run_hpa_controller_with(client, ctx, cfg, metrics, Clock::System).await
}

/// Run the HPA controller with an explicit metrics source and clock (tests).
pub async fn run_hpa_controller_with(
    client: kube::Client,
    ctx: Arc<Context>,
    cfg: HpaConfig,
    metrics: Arc<dyn MetricsSource>,
    clock: Clock,
) {
    let controller = Arc::new(HpaController {
        client: client.clone(),
        base: ctx,
        config: cfg,
        metrics,
        clock,
        states: Mutex::new(HashMap::new()),
    });
    let (hpas, pods) = (
        controller.base.informers.get::<HorizontalPodAutoscaler>(),
        controller.base.informers.pods(),
    );
    pods.ready().await;
    Controller::for_shared_stream(hpas.subscribe(), hpas.ready_store().await)
        .shutdown_on_signal()
        .run(reconcile, error_policy, controller)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(%err, "horizontal pod autoscaler controller");
            }
        })
        .await;
}

fn key_of(hpa: &HorizontalPodAutoscaler) -> String {
    ObjectRef::from_obj(hpa).to_string()
}

async fn reconcile(
    hpa: Arc<HorizontalPodAutoscaler>,
    ctl: Arc<HpaController>,
) -> Result<Action, HpaError> {
    let key = key_of(&hpa);
    let result = ctl.sync(&hpa, &key).await;
    if result.is_ok() {
        ctl.base.forget(&key);
    }
    result
}

fn error_policy(
    hpa: Arc<HorizontalPodAutoscaler>,
    err: &HpaError,
    ctl: Arc<HpaController>,
) -> Action {
    let delay = ctl.base.backoff(&key_of(&hpa));
    tracing::warn!(hpa = %hpa.name_any(), %err, "horizontal pod autoscaler sync failed");
    Action::requeue(delay)
}

impl HpaController {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HpaState>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Time left before this HPA is due, unless its spec changed; marks it
    /// synced when due. Status writes and back-off retries wake the
    /// reconcile too, and must not evaluate (and maybe scale) again early.
    fn not_yet_due(&self, key: &str, spec: String) -> Option<Duration> {
        let period = self.config.sync_period;
        let now = Instant::now();
        let mut states = self.lock();
        // Forget HPAs that stopped syncing (deleted).
        let forget_after = period.saturating_mul(10).max(Duration::from_secs(600));
        states.retain(|k, s| {
            k == key
                || s.last_sync
                    .as_ref()
                    .is_none_or(|(at, _)| now - *at < forget_after)
        });
        let state = states.entry(key.to_string()).or_default();
        if let Some((at, seen)) = &state.last_sync {
            let elapsed = now - *at;
            if *seen == spec && elapsed < period {
                return Some(period - elapsed);
            }
        }
        state.last_sync = Some((now, spec));
        None
    }

    async fn sync(&self, hpa: &HorizontalPodAutoscaler, key: &str) -> Result<Action, HpaError> {
        let period = self.config.sync_period;
        let spec_text = serde_json::to_string(&hpa.spec).unwrap_or_default();
        if let Some(wait) = self.not_yet_due(key, spec_text) {
            return Ok(Action::requeue(wait));
        }
        let namespace = hpa.namespace().unwrap_or_else(|| "default".into());
        let now = self.clock.now();
        let mut working = hpa.clone();
        let reference = decide::reference(hpa);
        let target = hpa
            .spec
            .as_ref()
            .map(|s| s.scale_target_ref.clone())
            .unwrap_or_default();

        let read = match scale::resolve(&self.client, &target).await {
            Ok(resource) => scale::get(&self.client, &namespace, &resource, &target.name)
                .await
                .map(|s| (resource, s))
                .map_err(|e| scale::describe(&e)),
            Err(e) => Err(e),
        };
        let (resource, current_scale) = match read {
            Ok(v) => v,
            Err(message) => {
                self.event(hpa, true, "FailedGetScale", message.clone())
                    .await;
                set_condition(
                    &mut working,
                    Condition::new(
                        ABLE_TO_SCALE,
                        false,
                        "FailedGetScale",
                        format!(
                            "the HPA controller was unable to get the target's current scale: {message}"
                        ),
                    ),
                    now,
                );
                self.write_status(hpa, &working).await?;
                return Err(HpaError::Sync(format!(
                    "failed to query scale subresource for {reference}: {message}"
                )));
            }
        };

        let (pods, samples) = self.observe(&working, &current_scale, &namespace).await;
        let observed = Observed {
            scale: &current_scale,
            pods: &pods,
            samples: &samples,
        };
        let settings = self.config.settings();
        let plan: Plan = {
            let mut states = self.lock();
            let state = states.entry(key.to_string()).or_default();
            decide::plan(&mut working, &observed, &mut state.history, &settings, now)
        };
        for e in &plan.events {
            self.event(hpa, e.warning, &e.reason, e.message.clone())
                .await;
        }
        let current = plan.current_replicas;
        match &plan.outcome {
            Outcome::Failed => {
                let desired = hpa.status.as_ref().map_or(0, |s| s.desired_replicas);
                set_status(&mut working, current, desired, &plan.metric_statuses, None);
                self.write_status(hpa, &working).await?;
                return Err(HpaError::Sync(plan.error.unwrap_or_default()));
            }
            Outcome::Rescale { desired, reason } => {
                let desired = *desired;
                let update =
                    scale::update(&self.client, &namespace, &resource, &current_scale, desired)
                        .await;
                if let Err(err) = update {
                    let message = scale::describe(&err);
                    self.event(
                        hpa,
                        true,
                        "FailedRescale",
                        format!("New size: {desired}; reason: {reason}; error: {message}"),
                    )
                    .await;
                    set_condition(
                        &mut working,
                        Condition::new(
                            ABLE_TO_SCALE,
                            false,
                            "FailedUpdateScale",
                            format!(
                                "the HPA controller was unable to update the target scale: {message}"
                            ),
                        ),
                        now,
                    );
                    let previous = hpa.status.as_ref().map_or(0, |s| s.desired_replicas);
                    set_status(&mut working, current, previous, &plan.metric_statuses, None);
                    self.write_status(hpa, &working).await?;
                    return Err(HpaError::Sync(format!(
                        "failed to rescale {reference}: {message}"
                    )));
                }
                set_condition(
                    &mut working,
                    Condition::new(
                        ABLE_TO_SCALE,
                        true,
                        "SucceededRescale",
                        format!(
                            "the HPA controller was able to update the target scale to {desired}"
                        ),
                    ),
                    now,
                );
                self.event(
                    hpa,
                    false,
                    "SuccessfulRescale",
                    format!("New size: {desired}; reason: {reason}"),
                )
                .await;
                if let Some(b) = hpa.spec.as_ref().and_then(|s| s.behavior.as_ref()) {
                    let up = behavior::scale_up_rules(b.scale_up.as_ref());
                    let down = behavior::scale_down_rules(
                        b.scale_down.as_ref(),
                        self.config.downscale_stabilization,
                    );
                    let mut states = self.lock();
                    let state = states.entry(key.to_string()).or_default();
                    state
                        .history
                        .store_scale_event(&up, &down, current, desired, now);
                }
                tracing::info!(hpa = %key, current, desired, %reason, "rescaled");
                set_status(
                    &mut working,
                    current,
                    desired,
                    &plan.metric_statuses,
                    Some(now),
                );
            }
            Outcome::Keep => {
                set_status(&mut working, current, current, &plan.metric_statuses, None);
            }
        }
        self.write_status(hpa, &working).await?;
        match plan.error {
            Some(e) => Err(HpaError::Sync(e)),
            None => Ok(Action::requeue(period)),
        }
    }

    /// Pods by the scale's selector and their usage samples — only when the
    /// decision will compute from metrics.
    async fn observe(
        &self,
        hpa: &HorizontalPodAutoscaler,
        current_scale: &k8s_openapi::api::autoscaling::v1::Scale,
        namespace: &str,
    ) -> (Result<Vec<Pod>, String>, Result<Vec<PodMetrics>, String>) {
        let selector = current_scale
            .status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        if !decide::needs_metrics(hpa, current_scale) || selector.is_empty() {
            return (Ok(Vec::new()), Ok(Vec::new()));
        }
        let samples = if decide::uses_resource_metrics(hpa) {
            self.metrics
                .pod_metrics(namespace, &selector)
                .await
                .map_err(|e| e.to_string())
        } else {
            Ok(Vec::new())
        };
        // From the shared pod cache; a selector we cannot parse is left to
        // the API server.
        let pods = match crate::selector::parse(&selector) {
            Some(reqs) => Ok(self
                .base
                .informers
                .pods()
                .in_namespace(namespace)
                .into_iter()
                .filter(|p| crate::selector::matches_parsed(&reqs, p.metadata.labels.as_ref()))
                .map(Arc::unwrap_or_clone)
                .collect()),
            None => Api::<Pod>::namespaced(self.client.clone(), namespace)
                .list(&ListParams::default().labels(&selector))
                .await
                .map(|l| l.items)
                .map_err(|e| scale::describe(&e)),
        };
        (pods, samples)
    }

    async fn event(
        &self,
        hpa: &HorizontalPodAutoscaler,
        warning: bool,
        reason: &str,
        message: String,
    ) {
        let type_ = if warning { "Warning" } else { "Normal" };
        crate::events::record(&self.client, COMPONENT, hpa, type_, reason, message).await;
    }

    /// Write the status when it changed. A merge patch (no conflict with a
    /// lagging cache); absent optional fields are sent as null so they clear.
    async fn write_status(
        &self,
        original: &HorizontalPodAutoscaler,
        working: &HorizontalPodAutoscaler,
    ) -> Result<(), HpaError> {
        if original.status == working.status {
            return Ok(());
        }
        let status = working.status.clone().unwrap_or_default();
        let mut value = serde_json::to_value(&status)
            .map_err(|e| HpaError::Sync(format!("encoding status: {e}")))?;
        if let Some(map) = value.as_object_mut() {
            for field in ["currentMetrics", "lastScaleTime", "conditions"] {
                map.entry(field).or_insert(serde_json::Value::Null);
            }
        }
        let namespace = original.namespace().unwrap_or_else(|| "default".into());
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), &namespace);
        let patch = serde_json::json!({ "status": value });
        if let Err(err) = api
            .patch_status(
                &original.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            self.event(original, true, "FailedUpdateStatus", scale::describe(&err))
                .await;
            return Err(err.into());
        }
        Ok(())
    }
}

fn set_condition(hpa: &mut HorizontalPodAutoscaler, c: Condition, now: Timestamp) {
    let status = hpa.status.get_or_insert_with(Default::default);
    let mut list = status.conditions.take().unwrap_or_default();
    conditions::set(&mut list, c, now);
    status.conditions = Some(list);
}

/// Upstream's `setStatus`: counts and metrics; lastScaleTime moves on a rescale.
fn set_status(
    hpa: &mut HorizontalPodAutoscaler,
    current: i32,
    desired: i32,
    metrics: &[MetricStatus],
    rescaled_at: Option<Timestamp>,
) {
    let status = hpa.status.get_or_insert_with(Default::default);
    status.current_replicas = Some(current);
    status.desired_replicas = desired;
    status.current_metrics = (!metrics.is_empty()).then(|| metrics.to_vec());
    if let Some(at) = rescaled_at {
        status.last_scale_time = Some(Time(at));
    }
}
