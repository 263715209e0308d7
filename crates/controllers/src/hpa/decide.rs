//! One HPA sync as a pure function: from the target's scale, its pods and
//! their usage samples to a decision (rescale or not), the metric statuses,
//! the conditions and the events — upstream's `reconcileAutoscaler` minus
//! the API calls, so it can be tested table-driven.

use super::behavior::{self, History};
use super::conditions::{self, Condition, ABLE_TO_SCALE, SCALING_ACTIVE, SCALING_LIMITED};
use super::metrics::{usage_per_pod, PodMetrics};
use super::quantity::{milli_quantity, milli_value};
use super::replicas::{ReplicaCalculator, Tolerances};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricStatus, HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget,
    MetricValueStatus, ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// Settings every decision uses.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub tolerance: f64,
    pub downscale_stabilization: Duration,
    pub calculator: ReplicaCalculator,
}

/// What was read from the cluster for one sync. `pods` and `samples` are
/// only consulted when a metric needs them.
pub struct Observed<'a> {
    pub scale: &'a Scale,
    /// Pods matching the scale's selector (or why they could not be listed).
    pub pods: &'a Result<Vec<Pod>, String>,
    /// Resource metrics of those pods (or why they could not be read).
    pub samples: &'a Result<Vec<PodMetrics>, String>,
}

/// An event to record on the HPA.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedEvent {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// No replica count could be computed: status gets the current count and
    /// metrics, desiredReplicas stays as it was.
    Failed,
    /// Write `desired` to the target's scale.
    Rescale { desired: i32, reason: String },
    /// Leave the target alone.
    Keep,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub current_replicas: i32,
    pub outcome: Outcome,
    pub metric_statuses: Vec<MetricStatus>,
    pub events: Vec<PlannedEvent>,
    /// The sync still fails (and is logged/retried) after acting on it.
    pub error: Option<String>,
}

/// The CPU target an HPA without metrics gets (the API default).
fn default_metrics() -> Vec<MetricSpec> {
    vec![MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: "cpu".into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(80),
                ..Default::default()
            },
        }),
        ..Default::default()
    }]
}

/// Whether a sync with this scale computes from metrics (needs pods and samples).
pub fn needs_metrics(hpa: &HorizontalPodAutoscaler, scale: &Scale) -> bool {
    let spec = hpa.spec.as_ref();
    let min = spec.and_then(|s| s.min_replicas).unwrap_or(1);
    let max = spec.map(|s| s.max_replicas).unwrap_or(0);
    let current = scale_replicas(scale);
    !(current == 0 && min != 0) && current <= max && current >= min
}

/// Whether any metric reads the resource metrics API.
pub fn uses_resource_metrics(hpa: &HorizontalPodAutoscaler) -> bool {
    let metrics = hpa.spec.as_ref().and_then(|s| s.metrics.as_ref());
    match metrics {
        Some(m) if !m.is_empty() => m
            .iter()
            .any(|m| matches!(m.type_.as_str(), "Resource" | "ContainerResource")),
        _ => true,
    }
}

pub fn scale_replicas(scale: &Scale) -> i32 {
    scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

/// Decide one sync. Sets conditions on `hpa.status` (which the caller
/// writes back) and updates the recommendation history.
pub fn plan(
    hpa: &mut HorizontalPodAutoscaler,
    observed: &Observed,
    history: &mut History,
    settings: &Settings,
    now: Timestamp,
) -> Plan {
    let mut conds = take_conditions(hpa);
    conditions::set(
        &mut conds,
        Condition::new(
            ABLE_TO_SCALE,
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        ),
        now,
    );
    let spec = hpa.spec.clone().unwrap_or_default();
    let current = scale_replicas(observed.scale);
    history.record_initial(current, now);
    let min = spec.min_replicas.unwrap_or(1);
    let max = spec.max_replicas;
    let mut plan = Plan {
        current_replicas: current,
        outcome: Outcome::Keep,
        metric_statuses: Vec::new(),
        events: Vec::new(),
        error: None,
    };

    if current == 0 && min != 0 {
        conditions::set(
            &mut conds,
            Condition::new(
                SCALING_ACTIVE,
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            ),
            now,
        );
    } else if current > max {
        plan.outcome = Outcome::Rescale {
            desired: max,
            reason: "Current number of replicas above Spec.MaxReplicas".into(),
        };
    } else if current < min {
        plan.outcome = Outcome::Rescale {
            desired: min,
            reason: "Current number of replicas below Spec.MinReplicas".into(),
        };
    } else {
        let metrics = match spec.metrics.as_ref() {
            Some(m) if !m.is_empty() => m.clone(),
            _ => default_metrics(),
        };
        let tolerances = tolerances(hpa, settings.tolerance);
        let computed = replicas_for_metrics(
            &metrics,
            observed,
            settings,
            tolerances,
            now,
            &mut conds,
            &mut plan.events,
        );
        plan.metric_statuses = computed.statuses;
        if computed.replicas < 0 {
            let err = computed.error.unwrap_or_default();
            plan.events.push(PlannedEvent {
                warning: true,
                reason: "FailedComputeMetricsReplicas".into(),
                message: err.clone(),
            });
            plan.error = Some(format!(
                "failed to compute desired number of replicas based on listed metrics for {}: {err}",
                reference(hpa)
            ));
            plan.outcome = Outcome::Failed;
            restore_conditions(hpa, conds);
            return plan;
        }
        plan.error = computed.error;
        let desired = computed.replicas.max(0);
        let reason = if desired > current {
            format!("{} above target", computed.metric)
        } else if desired < current {
            "All metrics below target".to_string()
        } else {
            String::new()
        };
        let desired = match spec.behavior.as_ref() {
            None => normalize_without_behavior(
                history, current, desired, min, max, settings, now, &mut conds,
            ),
            Some(b) => {
                let up = behavior::scale_up_rules(b.scale_up.as_ref());
                let down = behavior::scale_down_rules(
                    b.scale_down.as_ref(),
                    settings.downscale_stabilization,
                );
                let (stabilized, reason, message) =
                    history.stabilize_with_rules(current, desired, &up, &down, now);
                set_stabilization_condition(
                    &mut conds,
                    stabilized != desired,
                    reason,
                    message,
                    now,
                );
                let limited =
                    history.limit_with_rules(current, stabilized, min, max, &up, &down, now);
                set_limited_condition(&mut conds, &limited, stabilized, now);
                limited.replicas
            }
        };
        if desired != current {
            plan.outcome = Outcome::Rescale { desired, reason };
        }
    }
    restore_conditions(hpa, conds);
    plan
}

#[allow(clippy::too_many_arguments)]
fn normalize_without_behavior(
    history: &mut History,
    current: i32,
    desired: i32,
    min: i32,
    max: i32,
    settings: &Settings,
    now: Timestamp,
    conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
) -> i32 {
    let stabilized = history.stabilize(desired, now, settings.downscale_stabilization);
    set_stabilization_condition(
        conds,
        stabilized != desired,
        "ScaleDownStabilized",
        "recent recommendations were higher than current one, applying the highest recent recommendation",
        now,
    );
    let limited = behavior::limit_without_behavior(current, stabilized, min, max);
    set_limited_condition(conds, &limited, stabilized, now);
    limited.replicas
}

fn set_stabilization_condition(
    conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
    stabilized: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let c = if stabilized {
        Condition::new(ABLE_TO_SCALE, true, reason, message)
    } else {
        Condition::new(
            ABLE_TO_SCALE,
            true,
            "ReadyForNewScale",
            "recommended size matches current size",
        )
    };
    conditions::set(conds, c, now);
}

fn set_limited_condition(
    conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
    limited: &behavior::Limited,
    stabilized: i32,
    now: Timestamp,
) {
    conditions::set(
        conds,
        Condition::new(
            SCALING_LIMITED,
            limited.replicas != stabilized,
            limited.reason,
            limited.message,
        ),
        now,
    );
}

fn take_conditions(
    hpa: &mut HorizontalPodAutoscaler,
) -> Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition> {
    hpa.status
        .as_mut()
        .and_then(|s| s.conditions.take())
        .unwrap_or_default()
}

fn restore_conditions(
    hpa: &mut HorizontalPodAutoscaler,
    conds: Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
) {
    hpa.status.get_or_insert_with(Default::default).conditions =
        (!conds.is_empty()).then_some(conds);
}

/// "Deployment/ns/web", as upstream names the target in messages.
pub fn reference(hpa: &HorizontalPodAutoscaler) -> String {
    let target = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
    format!(
        "{}/{}/{}",
        target.map(|t| t.kind.as_str()).unwrap_or_default(),
        hpa.metadata.namespace.as_deref().unwrap_or_default(),
        target.map(|t| t.name.as_str()).unwrap_or_default()
    )
}

/// The configured tolerance, unless the behavior names its own per direction.
fn tolerances(hpa: &HorizontalPodAutoscaler, default: f64) -> Tolerances {
    let behavior = hpa.spec.as_ref().and_then(|s| s.behavior.as_ref());
    let from = |rules: Option<&k8s_openapi::api::autoscaling::v2::HPAScalingRules>| {
        rules
            .and_then(|r| r.tolerance.as_ref())
            .and_then(|q| milli_value(&q.0))
            .map(|m| m as f64 / 1000.0)
            .unwrap_or(default)
    };
    Tolerances {
        scale_down: from(behavior.and_then(|b| b.scale_down.as_ref())),
        scale_up: from(behavior.and_then(|b| b.scale_up.as_ref())),
    }
}

struct Computed {
    /// Highest proposal; −1 when the HPA cannot act.
    replicas: i32,
    metric: String,
    statuses: Vec<MetricStatus>,
    error: Option<String>,
}

/// A metric that failed: the ScalingActive=False condition it would set and the error.
struct MetricFailure {
    condition: Condition,
    error: String,
}

#[allow(clippy::too_many_arguments)]
fn replicas_for_metrics(
    metrics: &[MetricSpec],
    observed: &Observed,
    settings: &Settings,
    tolerances: Tolerances,
    now: Timestamp,
    conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
    events: &mut Vec<PlannedEvent>,
) -> Computed {
    let selector = observed
        .scale
        .status
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    if selector.is_empty() {
        events.push(PlannedEvent {
            warning: true,
            reason: "SelectorRequired".into(),
            message: "selector is required".into(),
        });
        conditions::set(
            conds,
            Condition::new(
                SCALING_ACTIVE,
                false,
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            ),
            now,
        );
        return Computed {
            replicas: -1,
            metric: String::new(),
            statuses: Vec::new(),
            error: Some("selector is required".into()),
        };
    }
    let current = scale_replicas(observed.scale);
    // A failed metric keeps an empty status entry, as upstream does.
    let mut statuses = vec![MetricStatus::default(); metrics.len()];
    let mut replicas = 0;
    let mut metric = String::new();
    let mut failures: Vec<MetricFailure> = Vec::new();
    for (spec, status) in metrics.iter().zip(statuses.iter_mut()) {
        match replicas_for_metric(spec, observed, settings, tolerances, current, now) {
            Ok((proposal, name, s)) => {
                *status = s;
                if replicas == 0 || proposal > replicas {
                    replicas = proposal;
                    metric = name;
                }
            }
            Err(failure) => {
                events.push(PlannedEvent {
                    warning: true,
                    reason: failure.condition.reason.clone(),
                    message: failure
                        .condition
                        .message
                        .trim_start_matches("the HPA was unable to compute the replica count: ")
                        .to_string(),
                });
                failures.push(failure);
            }
        }
    }
    let error = failures.first().map(|f| {
        format!(
            "invalid metrics ({} invalid out of {}), first error is: {}",
            failures.len(),
            metrics.len(),
            f.error
        )
    });
    if failures.len() >= metrics.len() || (!failures.is_empty() && replicas < current) {
        if let Some(first) = failures.into_iter().next() {
            conditions::set(conds, first.condition, now);
        }
        return Computed {
            replicas: -1,
            metric: String::new(),
            statuses,
            error,
        };
    }
    conditions::set(
        conds,
        Condition::new(
            SCALING_ACTIVE,
            true,
            "ValidMetricFound",
            format!("the HPA was able to successfully calculate a replica count from {metric}"),
        ),
        now,
    );
    Computed {
        replicas,
        metric,
        statuses,
        error,
    }
}

fn unable(reason: &str, inner: String, error: String) -> MetricFailure {
    MetricFailure {
        condition: Condition::new(
            SCALING_ACTIVE,
            false,
            reason,
            format!("the HPA was unable to compute the replica count: {inner}"),
        ),
        error,
    }
}

/// One metric's proposal: (replicas, description for messages, status).
fn replicas_for_metric(
    spec: &MetricSpec,
    observed: &Observed,
    settings: &Settings,
    tolerances: Tolerances,
    current: i32,
    now: Timestamp,
) -> Result<(i32, String, MetricStatus), MetricFailure> {
    match spec.type_.as_str() {
        "Resource" => {
            let Some(source) = spec.resource.as_ref() else {
                let inner = "resource metric source is missing".to_string();
                return Err(unable("FailedGetResourceMetric", inner.clone(), inner));
            };
            let (replicas, name, value) = resource_proposal(
                &source.name,
                None,
                &source.target,
                observed,
                settings,
                tolerances,
                current,
                now,
            )
            .map_err(|inner| {
                let error = format!(
                    "failed to get {} resource metric value: {inner}",
                    source.name
                );
                unable("FailedGetResourceMetric", inner, error)
            })?;
            Ok((
                replicas,
                name,
                MetricStatus {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricStatus {
                        name: source.name.clone(),
                        current: value,
                    }),
                    ..Default::default()
                },
            ))
        }
        "ContainerResource" => {
            let Some(source) = spec.container_resource.as_ref() else {
                let inner = "container resource metric source is missing".to_string();
                return Err(unable(
                    "FailedGetContainerResourceMetric",
                    inner.clone(),
                    inner,
                ));
            };
            let (replicas, name, value) = resource_proposal(
                &source.name,
                Some(&source.container),
                &source.target,
                observed,
                settings,
                tolerances,
                current,
                now,
            )
            .map_err(|inner| {
                let error = format!(
                    "failed to get {} container metric value: {inner}",
                    source.container
                );
                unable("FailedGetContainerResourceMetric", inner, error)
            })?;
            Ok((
                replicas,
                name,
                MetricStatus {
                    type_: "ContainerResource".into(),
                    container_resource: Some(ContainerResourceMetricStatus {
                        name: source.name.clone(),
                        container: source.container.clone(),
                        current: value,
                    }),
                    ..Default::default()
                },
            ))
        }
        // No custom or external metrics API is served by berth yet: these
        // fail the way they do upstream without an adapter installed.
        "Pods" => {
            let name = spec
                .pods
                .as_ref()
                .map(|p| p.metric.name.clone())
                .unwrap_or_default();
            let inner = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: the server could not find the metric {name} for pods"
            );
            let error = format!("failed to get pods metric value: {inner}");
            Err(unable("FailedGetPodsMetric", inner, error))
        }
        "Object" => {
            let name = spec
                .object
                .as_ref()
                .map(|o| o.metric.name.clone())
                .unwrap_or_default();
            let inner = format!(
                "unable to get metric {name}: unable to fetch metrics from custom metrics API: the server could not find the requested resource"
            );
            let error = format!("failed to get object metric value: {inner}");
            Err(unable("FailedGetObjectMetric", inner, error))
        }
        "External" => {
            let name = spec
                .external
                .as_ref()
                .map(|e| e.metric.name.clone())
                .unwrap_or_default();
            let inner = format!(
                "unable to get external metric {name}: unable to fetch metrics from external metrics API: the server could not find the requested resource"
            );
            let error = format!("failed to get {name} external metric value: {inner}");
            Err(unable("FailedGetExternalMetric", inner, error))
        }
        other => {
            let inner = format!("unknown metric source type \"{other}\"");
            Err(unable("InvalidMetricSourceType", inner.clone(), inner))
        }
    }
}

/// A Resource / ContainerResource proposal: (replicas, metric description,
/// current value status), or the error text.
#[allow(clippy::too_many_arguments)]
fn resource_proposal(
    resource: &str,
    container: Option<&str>,
    target: &MetricTarget,
    observed: &Observed,
    settings: &Settings,
    tolerances: Tolerances,
    current: i32,
    now: Timestamp,
) -> Result<(i32, String, MetricValueStatus), String> {
    let samples = match observed.samples {
        Ok(s) if s.is_empty() => Err("no metrics returned from resource metrics API".to_string()),
        Ok(s) => Ok(s),
        Err(e) => Err(e.clone()),
    };
    let fetch = |kind: &str| -> Result<(&Vec<Pod>, super::metrics::PodMetricsInfo), String> {
        let samples =
            samples.map_err(|e| format!("failed to get {resource} {kind}: unable to get metrics for resource {resource}: {e}"))?;
        let pods = observed.pods.as_ref().map_err(|e| {
            format!("failed to get {resource} {kind}: unable to get pods while calculating replica count: {e}")
        })?;
        Ok((pods, usage_per_pod(samples, resource, container)))
    };
    let calc = &settings.calculator;
    if let Some(average) = target.average_value.as_ref() {
        let target_milli = milli_value(&average.0)
            .ok_or_else(|| format!("invalid average value target {:?}", average.0))?;
        let (pods, info) = fetch("usage")?;
        let (replicas, usage) = calc
            .raw_resource_replicas(current, target_milli, resource, tolerances, pods, info, now)
            .map_err(|e| format!("failed to get {resource} usage: {e}"))?;
        return Ok((
            replicas,
            format!("{resource} resource"),
            MetricValueStatus {
                average_value: Some(milli_quantity(usage)),
                ..Default::default()
            },
        ));
    }
    let Some(target_utilization) = target.average_utilization else {
        return Err("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set".into());
    };
    let (pods, info) = fetch("utilization")?;
    let proposal = calc
        .resource_replicas(
            current,
            target_utilization,
            resource,
            container,
            tolerances,
            pods,
            info,
            now,
        )
        .map_err(|e| format!("failed to get {resource} utilization: {e}"))?;
    let name = if container.is_some() {
        format!("{resource} container resource utilization (percentage of request)")
    } else {
        format!("{resource} resource utilization (percentage of request)")
    };
    Ok((
        proposal.replicas,
        name,
        MetricValueStatus {
            average_utilization: Some(proposal.utilization),
            average_value: Some(milli_quantity(proposal.raw_average)),
            ..Default::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const NOW: i64 = 1_700_000_000;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(NOW + s).expect("ts")
    }

    fn settings() -> Settings {
        Settings {
            tolerance: 0.1,
            downscale_stabilization: Duration::from_secs(300),
            calculator: ReplicaCalculator {
                cpu_initialization_period: Duration::from_secs(300),
                initial_readiness_delay: Duration::from_secs(30),
            },
        }
    }

    fn hpa(min: i32, max: i32, metrics: Value, behavior: Value) -> HorizontalPodAutoscaler {
        let mut spec = json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"},
            "minReplicas": min, "maxReplicas": max, "metrics": metrics,
        });
        if !behavior.is_null() {
            spec["behavior"] = behavior;
        }
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"}, "spec": spec,
        }))
        .expect("hpa")
    }

    fn cpu(target: i32) -> Value {
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": target}}}])
    }

    fn scale(replicas: i32, selector: &str) -> Scale {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "selector": selector},
        }))
        .expect("scale")
    }

    fn pods(n: usize) -> Vec<Pod> {
        (0..n)
            .map(|i| {
                serde_json::from_value(json!({
                    "metadata": {"name": format!("p{i}"), "namespace": "ns", "labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i",
                        "resources": {"requests": {"cpu": "500m", "memory": "100Mi"}}}]},
                    "status": {"phase": "Running", "startTime": at(-600).to_string(),
                        "conditions": [{"type": "Ready", "status": "True",
                                        "lastTransitionTime": at(-590).to_string()}]},
                }))
                .expect("pod")
            })
            .collect()
    }

    fn samples(n: usize, cpu: &str, memory: &str) -> Vec<PodMetrics> {
        (0..n)
            .map(|i| {
                PodMetrics::new(
                    "ns",
                    &format!("p{i}"),
                    at(-1),
                    Duration::from_secs(15),
                    &[("c", "cpu", cpu), ("c", "memory", memory)],
                )
            })
            .collect()
    }

    fn condition(hpa: &HorizontalPodAutoscaler, type_: &str) -> (String, String) {
        hpa.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
            .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
            .unwrap_or_default()
    }

    struct Case {
        name: &'static str,
        hpa: HorizontalPodAutoscaler,
        scale: Scale,
        pods: Result<Vec<Pod>, String>,
        samples: Result<Vec<PodMetrics>, String>,
        /// Earlier recommendations (replicas, seconds before now).
        history: Vec<(i32, i64)>,
        outcome: Outcome,
        /// (type, status, reason) that must be set.
        conditions: Vec<(&'static str, &'static str, &'static str)>,
        error: bool,
    }

    fn rescale(desired: i32, reason: &str) -> Outcome {
        Outcome::Rescale {
            desired,
            reason: reason.into(),
        }
    }

    const CPU_ABOVE: &str = "cpu resource utilization (percentage of request) above target";

    #[test]
    fn sync_decisions() {
        let cases = vec![
            Case {
                name: "cpu at 100% of request, target 50%: double",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Ok(samples(2, "500m", "10Mi")),
                history: vec![],
                outcome: rescale(4, CPU_ABOVE),
                conditions: vec![
                    ("AbleToScale", "True", "ReadyForNewScale"),
                    ("ScalingActive", "True", "ValidMetricFound"),
                    ("ScalingLimited", "False", "DesiredWithinRange"),
                ],
                error: false,
            },
            Case {
                name: "without behavior scale-up is capped at max(2x, 4)",
                hpa: hpa(1, 50, cpu(10), Value::Null),
                scale: scale(3, "app=web"),
                pods: Ok(pods(3)),
                samples: Ok(samples(3, "500m", "10Mi")),
                history: vec![],
                outcome: rescale(6, CPU_ABOVE),
                conditions: vec![("ScalingLimited", "True", "ScaleUpLimit")],
                error: false,
            },
            Case {
                name: "maxReplicas caps the proposal",
                hpa: hpa(1, 3, cpu(50), Value::Null),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Ok(samples(2, "500m", "10Mi")),
                history: vec![],
                outcome: rescale(3, CPU_ABOVE),
                conditions: vec![("ScalingLimited", "True", "TooManyReplicas")],
                error: false,
            },
            Case {
                name: "scale-down held by a higher recent recommendation",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(4, "app=web"),
                pods: Ok(pods(4)),
                samples: Ok(samples(4, "50m", "10Mi")),
                history: vec![(4, 60)],
                outcome: Outcome::Keep,
                conditions: vec![("AbleToScale", "True", "ScaleDownStabilized")],
                error: false,
            },
            Case {
                name: "scale-down once the window passed",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(4, "app=web"),
                pods: Ok(pods(4)),
                samples: Ok(samples(4, "50m", "10Mi")),
                history: vec![(4, 301)],
                outcome: rescale(1, "All metrics below target"),
                conditions: vec![("AbleToScale", "True", "ReadyForNewScale")],
                error: false,
            },
            Case {
                name: "behavior with a zero scale-down window and a pod step",
                hpa: hpa(
                    1,
                    10,
                    cpu(50),
                    json!({"scaleDown": {"stabilizationWindowSeconds": 0,
                        "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}}),
                ),
                scale: scale(6, "app=web"),
                pods: Ok(pods(6)),
                samples: Ok(samples(6, "50m", "10Mi")),
                history: vec![(6, 10)],
                outcome: rescale(4, "All metrics below target"),
                conditions: vec![("ScalingLimited", "True", "ScaleDownLimit")],
                error: false,
            },
            Case {
                name: "behavior scale-up window holds a rise",
                hpa: hpa(
                    1,
                    10,
                    cpu(50),
                    json!({"scaleUp": {"stabilizationWindowSeconds": 60}}),
                ),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Ok(samples(2, "500m", "10Mi")),
                history: vec![(2, 30)],
                outcome: Outcome::Keep,
                conditions: vec![("AbleToScale", "True", "ScaleUpStabilized")],
                error: false,
            },
            Case {
                name: "memory average value",
                hpa: hpa(
                    1,
                    10,
                    json!([{"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"}}}]),
                    Value::Null,
                ),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Ok(samples(2, "1m", "200Mi")),
                history: vec![],
                outcome: rescale(4, "memory resource above target"),
                conditions: vec![("ScalingActive", "True", "ValidMetricFound")],
                error: false,
            },
            Case {
                name: "metrics API unavailable",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Err("unable to fetch metrics from resource metrics API: nope".into()),
                history: vec![],
                outcome: Outcome::Failed,
                conditions: vec![
                    ("AbleToScale", "True", "SucceededGetScale"),
                    ("ScalingActive", "False", "FailedGetResourceMetric"),
                ],
                error: true,
            },
            Case {
                name: "target scaled to zero disables autoscaling",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(0, "app=web"),
                pods: Ok(vec![]),
                samples: Ok(vec![]),
                history: vec![],
                outcome: Outcome::Keep,
                conditions: vec![("ScalingActive", "False", "ScalingDisabled")],
                error: false,
            },
            Case {
                name: "above maxReplicas goes to max without metrics",
                hpa: hpa(1, 3, cpu(50), Value::Null),
                scale: scale(5, "app=web"),
                pods: Ok(vec![]),
                samples: Err("unused".into()),
                history: vec![],
                outcome: rescale(3, "Current number of replicas above Spec.MaxReplicas"),
                conditions: vec![],
                error: false,
            },
            Case {
                name: "below minReplicas goes to min",
                hpa: hpa(3, 5, cpu(50), Value::Null),
                scale: scale(1, "app=web"),
                pods: Ok(vec![]),
                samples: Err("unused".into()),
                history: vec![],
                outcome: rescale(3, "Current number of replicas below Spec.MinReplicas"),
                conditions: vec![],
                error: false,
            },
            Case {
                name: "scale without a selector",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(2, ""),
                pods: Ok(vec![]),
                samples: Ok(vec![]),
                history: vec![],
                outcome: Outcome::Failed,
                conditions: vec![("ScalingActive", "False", "InvalidSelector")],
                error: true,
            },
            Case {
                name: "one metric fails but the other scales up: act, report",
                hpa: hpa(
                    1,
                    10,
                    json!([cpu(50)[0].clone(), {"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"}}}]),
                    Value::Null,
                ),
                scale: scale(2, "app=web"),
                pods: Ok(pods(2)),
                samples: Ok(samples(2, "500m", "10Mi")),
                history: vec![],
                outcome: rescale(4, CPU_ABOVE),
                conditions: vec![("ScalingActive", "True", "ValidMetricFound")],
                error: true,
            },
            Case {
                name: "one metric fails and the other would scale down: hold",
                hpa: hpa(
                    1,
                    10,
                    json!([cpu(50)[0].clone(), {"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"}}}]),
                    Value::Null,
                ),
                scale: scale(4, "app=web"),
                pods: Ok(pods(4)),
                samples: Ok(samples(4, "10m", "10Mi")),
                history: vec![],
                outcome: Outcome::Failed,
                conditions: vec![("ScalingActive", "False", "FailedGetPodsMetric")],
                error: true,
            },
            Case {
                name: "pods without cpu requests",
                hpa: hpa(1, 10, cpu(50), Value::Null),
                scale: scale(1, "app=web"),
                pods: Ok(vec![serde_json::from_value(json!({
                    "metadata": {"name": "p0"},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                    "status": {"phase": "Running", "startTime": at(-600).to_string(),
                        "conditions": [{"type": "Ready", "status": "True",
                                        "lastTransitionTime": at(-590).to_string()}]},
                }))
                .expect("pod")]),
                samples: Ok(samples(1, "10m", "10Mi")),
                history: vec![],
                outcome: Outcome::Failed,
                conditions: vec![("ScalingActive", "False", "FailedGetResourceMetric")],
                error: true,
            },
        ];
        for case in cases {
            let mut hpa = case.hpa;
            let mut history = History::default();
            for (replicas, ago) in &case.history {
                history.recommendations.push(behavior::Recommendation {
                    replicas: *replicas,
                    at: at(-ago),
                });
            }
            let observed = Observed {
                scale: &case.scale,
                pods: &case.pods,
                samples: &case.samples,
            };
            let plan = plan(&mut hpa, &observed, &mut history, &settings(), at(0));
            assert_eq!(plan.outcome, case.outcome, "{}", case.name);
            assert_eq!(
                plan.error.is_some(),
                case.error,
                "{}: {:?}",
                case.name,
                plan.error
            );
            for (type_, status, reason) in case.conditions {
                assert_eq!(
                    condition(&hpa, type_),
                    (status.to_string(), reason.to_string()),
                    "{}: {type_}",
                    case.name
                );
            }
        }
    }

    #[test]
    fn failure_messages_and_statuses_match_upstream() {
        let mut h = hpa(1, 10, cpu(50), Value::Null);
        let two_pods = Ok(pods(2));
        let failing = Err("unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)".to_string());
        let observed = Observed {
            scale: &scale(2, "app=web"),
            pods: &two_pods,
            samples: &failing,
        };
        let plan = plan(
            &mut h,
            &observed,
            &mut History::default(),
            &settings(),
            at(0),
        );
        let inner = "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";
        let active = h
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "ScalingActive"))
            .and_then(|c| c.message.clone());
        assert_eq!(
            active.as_deref(),
            Some(format!("the HPA was unable to compute the replica count: {inner}").as_str())
        );
        assert_eq!(
            plan.events[0],
            PlannedEvent {
                warning: true,
                reason: "FailedGetResourceMetric".into(),
                message: inner.into()
            }
        );
        assert_eq!(plan.events[1].reason, "FailedComputeMetricsReplicas");
        assert_eq!(
            plan.events[1].message,
            format!("invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {inner}")
        );
        assert_eq!(
            plan.metric_statuses,
            vec![MetricStatus::default()],
            "a failed metric leaves an empty entry"
        );

        // A working cpu metric reports utilization and the average value.
        let mut h = hpa(1, 10, cpu(50), Value::Null);
        let usage = Ok(samples(2, "250m", "10Mi"));
        let two_pods = Ok(pods(2));
        let observed = Observed {
            scale: &scale(2, "app=web"),
            pods: &two_pods,
            samples: &usage,
        };
        let decided = super::plan(
            &mut h,
            &observed,
            &mut History::default(),
            &settings(),
            at(0),
        );
        assert_eq!(decided.outcome, Outcome::Keep);
        let current = decided.metric_statuses[0]
            .resource
            .as_ref()
            .map(|r| r.current.clone())
            .expect("resource status");
        assert_eq!(current.average_utilization, Some(50));
        assert_eq!(current.average_value.map(|q| q.0).as_deref(), Some("250m"));
    }
}
