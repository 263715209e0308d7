//! The replica calculator: from per-pod usage and requests to a proposed
//! replica count, as upstream's `ReplicaCalculator` does it — tolerance,
//! pods without metrics (0% on scale-up, 100% on scale-down), unready and
//! still-initialising pods left out of a CPU scale-up.

use super::metrics::PodMetricsInfo;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use std::collections::BTreeSet;
use std::time::Duration;

/// Why no replica count could be proposed; the text lands in the HPA's
/// ScalingActive condition and a Warning event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CalcError(pub String);

/// How far the usage ratio may stray from 1.0 before scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    pub scale_down: f64,
    pub scale_up: f64,
}

impl Tolerances {
    pub fn uniform(tolerance: f64) -> Self {
        Self {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    pub fn contains(&self, ratio: f64) -> bool {
        (1.0 - self.scale_down) <= ratio && ratio <= (1.0 + self.scale_up)
    }
}

/// Settings the pod grouping depends on.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaCalculator {
    /// CPU samples of pods younger than this count only once a full window
    /// was collected after they turned ready.
    pub cpu_initialization_period: Duration,
    /// A pod unready this soon after start is taken as never having been ready.
    pub initial_readiness_delay: Duration,
}

/// A proposal from a Utilization target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UtilizationProposal {
    pub replicas: i32,
    /// Current average utilization, percent of request.
    pub utilization: i32,
    /// Current average usage per pod, milli-units.
    pub raw_average: i64,
}

/// Pods sorted by how they enter the calculation.
struct PodGroups {
    ready: usize,
    unready: BTreeSet<String>,
    missing: BTreeSet<String>,
    ignored: BTreeSet<String>,
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn phase_of(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

impl ReplicaCalculator {
    fn group_pods(
        &self,
        pods: &[Pod],
        metrics: &PodMetricsInfo,
        resource: &str,
        now: Timestamp,
    ) -> PodGroups {
        let mut groups = PodGroups {
            ready: 0,
            unready: BTreeSet::new(),
            missing: BTreeSet::new(),
            ignored: BTreeSet::new(),
        };
        for pod in pods {
            let name = name_of(pod);
            if pod.metadata.deletion_timestamp.is_some() || phase_of(pod) == Some("Failed") {
                groups.ignored.insert(name);
                continue;
            }
            if phase_of(pod) == Some("Pending") {
                groups.unready.insert(name);
                continue;
            }
            let Some(metric) = metrics.get(&name) else {
                groups.missing.insert(name);
                continue;
            };
            if resource == "cpu" && self.cpu_sample_unusable(pod, metric, now) {
                groups.unready.insert(name);
                continue;
            }
            groups.ready += 1;
        }
        groups
    }

    /// Whether a pod's CPU sample may be distorted by start-up.
    fn cpu_sample_unusable(
        &self,
        pod: &Pod,
        metric: &super::metrics::PodMetric,
        now: Timestamp,
    ) -> bool {
        let status = pod.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
        let start = status.and_then(|s| s.start_time.as_ref()).map(|t| t.0);
        let (Some(ready), Some(start)) = (ready, start) else {
            return true;
        };
        let transition = ready
            .last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let is_false = ready.status == "False";
        if add(start, self.cpu_initialization_period) > now {
            // Still initialising: unready, or no full window since it became ready.
            let sampled = metric.timestamp.unwrap_or(Timestamp::UNIX_EPOCH);
            is_false || sampled < add(transition, metric.window)
        } else {
            // Unready and never been ready since start.
            is_false && add(start, self.initial_readiness_delay) > transition
        }
    }

    /// Desired replicas for a target average utilization (percent of
    /// request) of `resource`, optionally of one container only.
    #[allow(clippy::too_many_arguments)]
    pub fn resource_replicas(
        &self,
        current_replicas: i32,
        target_utilization: i32,
        resource: &str,
        container: Option<&str>,
        tolerances: Tolerances,
        pods: &[Pod],
        mut metrics: PodMetricsInfo,
        now: Timestamp,
    ) -> Result<UtilizationProposal, CalcError> {
        if pods.is_empty() {
            return Err(CalcError(
                "no pods returned by selector while calculating replica count".into(),
            ));
        }
        let groups = self.group_pods(pods, &metrics, resource, now);
        for name in groups.ignored.iter().chain(&groups.unready) {
            metrics.remove(name);
        }
        if metrics.is_empty() {
            return Err(CalcError(
                "did not receive metrics for targeted pods (pods might be unready)".into(),
            ));
        }
        let requests = requests_per_pod(pods, container, resource)?;
        let (ratio, utilization, raw_average) =
            utilization_ratio(&metrics, &requests, target_utilization)?;
        let proposal = |replicas| UtilizationProposal {
            replicas,
            utilization,
            raw_average,
        };

        let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if tolerances.contains(ratio) {
                return Ok(proposal(current_replicas));
            }
            return Ok(proposal(ceil_replicas(ratio * groups.ready as f64)));
        }

        if !groups.missing.is_empty() {
            if ratio < 1.0 {
                // Scale-down: a pod without a sample is taken as using its full
                // request (or the target, when that is above 100%).
                let fallback = i64::from(target_utilization.max(100));
                for name in &groups.missing {
                    let request = requests.get(name).copied().unwrap_or(0);
                    metrics.insert(name.clone(), assumed(request * fallback / 100));
                }
            } else if ratio > 1.0 {
                for name in &groups.missing {
                    metrics.insert(name.clone(), assumed(0));
                }
            }
        }
        if scale_up_with_unready {
            for name in &groups.unready {
                metrics.insert(name.clone(), assumed(0));
            }
        }

        let (new_ratio, _, _) = utilization_ratio(&metrics, &requests, target_utilization)?;
        if direction_flipped_or_within(tolerances, ratio, new_ratio) {
            return Ok(proposal(current_replicas));
        }
        let replicas = ceil_replicas(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && replicas > current_replicas)
            || (new_ratio > 1.0 && replicas < current_replicas)
        {
            return Ok(proposal(current_replicas));
        }
        Ok(proposal(replicas))
    }

    /// Desired replicas for a target average value (milli-units per pod).
    /// Returns the proposal and the current average usage.
    #[allow(clippy::too_many_arguments)]
    pub fn raw_resource_replicas(
        &self,
        current_replicas: i32,
        target_usage: i64,
        resource: &str,
        tolerances: Tolerances,
        pods: &[Pod],
        mut metrics: PodMetricsInfo,
        now: Timestamp,
    ) -> Result<(i32, i64), CalcError> {
        if pods.is_empty() {
            return Err(CalcError(
                "no pods returned by selector while calculating replica count".into(),
            ));
        }
        let groups = self.group_pods(pods, &metrics, resource, now);
        for name in groups.ignored.iter().chain(&groups.unready) {
            metrics.remove(name);
        }
        if metrics.is_empty() {
            return Err(CalcError(
                "did not receive metrics for targeted pods (pods might be unready)".into(),
            ));
        }
        let (ratio, usage) = usage_ratio(&metrics, target_usage);

        let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if tolerances.contains(ratio) {
                return Ok((current_replicas, usage));
            }
            return Ok((ceil_replicas(ratio * groups.ready as f64), usage));
        }
        if !groups.missing.is_empty() {
            // Scale-down: missing pods use exactly the target; scale-up: nothing.
            let fill = if ratio < 1.0 {
                Some(target_usage)
            } else if ratio > 1.0 {
                Some(0)
            } else {
                None
            };
            if let Some(fill) = fill {
                for name in &groups.missing {
                    metrics.insert(name.clone(), assumed(fill));
                }
            }
        }
        if scale_up_with_unready {
            for name in &groups.unready {
                metrics.insert(name.clone(), assumed(0));
            }
        }
        let (new_ratio, _) = usage_ratio(&metrics, target_usage);
        if direction_flipped_or_within(tolerances, ratio, new_ratio) {
            return Ok((current_replicas, usage));
        }
        let replicas = ceil_replicas(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && replicas > current_replicas)
            || (new_ratio > 1.0 && replicas < current_replicas)
        {
            return Ok((current_replicas, usage));
        }
        Ok((replicas, usage))
    }
}

fn direction_flipped_or_within(tolerances: Tolerances, ratio: f64, new_ratio: f64) -> bool {
    tolerances.contains(new_ratio)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
}

fn assumed(value: i64) -> super::metrics::PodMetric {
    super::metrics::PodMetric {
        value,
        timestamp: None,
        window: Duration::ZERO,
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn ceil_replicas(x: f64) -> i32 {
    let x = x.ceil();
    if x >= f64::from(i32::MAX) {
        i32::MAX
    } else if x <= 0.0 {
        0
    } else {
        x as i32
    }
}

/// (usage ratio, utilization percent, average usage) over the pods that
/// have both a sample and a request.
fn utilization_ratio(
    metrics: &PodMetricsInfo,
    requests: &std::collections::BTreeMap<String, i64>,
    target_utilization: i32,
) -> Result<(f64, i32, i64), CalcError> {
    let mut usage_total: i64 = 0;
    let mut request_total: i64 = 0;
    let mut entries: i64 = 0;
    for (name, metric) in metrics {
        let Some(request) = requests.get(name) else {
            continue; // a sample of a pod we do not know
        };
        usage_total = usage_total.saturating_add(metric.value);
        request_total = request_total.saturating_add(*request);
        entries += 1;
    }
    if request_total == 0 {
        return Err(CalcError("no metrics returned matched known pods".into()));
    }
    let utilization =
        (i128::from(usage_total) * 100 / i128::from(request_total)).clamp(0, i32::MAX as i128);
    let utilization = utilization as i32;
    Ok((
        f64::from(utilization) / f64::from(target_utilization),
        utilization,
        usage_total / entries,
    ))
}

/// (usage ratio, average usage) against a per-pod target value.
fn usage_ratio(metrics: &PodMetricsInfo, target_usage: i64) -> (f64, i64) {
    let total: i64 = metrics
        .values()
        .fold(0i64, |acc, m| acc.saturating_add(m.value));
    let usage = total / metrics.len().max(1) as i64;
    (usage as f64 / target_usage as f64, usage)
}

/// Each pod's request of `resource` in milli-units: the sum over its
/// containers and restartable (sidecar) init containers, or one container's.
pub fn requests_per_pod(
    pods: &[Pod],
    container: Option<&str>,
    resource: &str,
) -> Result<std::collections::BTreeMap<String, i64>, CalcError> {
    let mut out = std::collections::BTreeMap::new();
    for pod in pods {
        let name = name_of(pod);
        let spec = pod.spec.as_ref();
        let sidecars = spec
            .and_then(|s| s.init_containers.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers: Vec<&Container> = spec
            .map(|s| s.containers.iter())
            .into_iter()
            .flatten()
            .chain(sidecars)
            .collect();
        let mut total: i64 = 0;
        let mut found = false;
        for c in containers {
            if container.is_some_and(|wanted| wanted != c.name) {
                continue;
            }
            let request = c
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get(resource))
                .and_then(|q| super::quantity::milli_value(&q.0))
                .ok_or_else(|| {
                    CalcError(format!(
                        "missing request for {resource} in container {} of Pod {name}",
                        c.name
                    ))
                })?;
            total = total.saturating_add(request);
            found = true;
            if container.is_some() {
                break; // names are unique within a pod
            }
        }
        if let (Some(wanted), false) = (container, found) {
            return Err(CalcError(format!(
                "container {wanted} not found in Pod {name}"
            )));
        }
        out.insert(name, total);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::metrics::PodMetric;
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn at(secs_from_now: i64) -> Timestamp {
        Timestamp::from_second(NOW + secs_from_now).expect("ts")
    }

    /// A pod with `phase`, Ready=`ready` since `ready_at`, started at
    /// `start_at` (seconds relative to NOW), one container requesting cpu.
    fn pod(name: &str, phase: &str, ready: &str, start_at: i64, ready_at: i64, cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": cpu, "memory": "100Mi"}}}]},
            "status": {"phase": phase, "startTime": at(start_at).to_string(),
                "conditions": [{"type": "Ready", "status": ready,
                                "lastTransitionTime": at(ready_at).to_string()}]},
        }))
        .expect("pod")
    }

    fn running(name: &str) -> Pod {
        pod(name, "Running", "True", -600, -590, "1")
    }

    fn sample(value: i64) -> PodMetric {
        PodMetric {
            value,
            timestamp: Some(at(-1)),
            window: Duration::from_secs(30),
        }
    }

    fn metrics(values: &[(&str, i64)]) -> PodMetricsInfo {
        values
            .iter()
            .map(|(n, v)| (n.to_string(), sample(*v)))
            .collect()
    }

    fn calc() -> ReplicaCalculator {
        ReplicaCalculator {
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
        }
    }

    struct Case {
        name: &'static str,
        current: i32,
        target: i32,
        pods: Vec<Pod>,
        metrics: PodMetricsInfo,
        want: Result<(i32, i32), &'static str>,
    }

    #[test]
    fn utilization_table() {
        let cases = vec![
            Case {
                name: "scale up: 3 pods at 90% of 1 cpu, target 30%",
                current: 3,
                target: 30,
                pods: vec![running("a"), running("b"), running("c")],
                metrics: metrics(&[("a", 900), ("b", 900), ("c", 900)]),
                want: Ok((9, 90)),
            },
            Case {
                name: "scale down: 5 pods at 10%, target 50%",
                current: 5,
                target: 50,
                pods: (0..5).map(|i| running(&format!("p{i}"))).collect(),
                metrics: (0..5).map(|i| (format!("p{i}"), sample(100))).collect(),
                want: Ok((1, 10)),
            },
            Case {
                name: "within tolerance keeps the current count",
                current: 4,
                target: 50,
                pods: vec![running("a"), running("b")],
                metrics: metrics(&[("a", 540), ("b", 540)]),
                want: Ok((4, 54)),
            },
            Case {
                name: "scale up: a pod without metrics counts as 0%",
                current: 3,
                target: 50,
                pods: vec![running("a"), running("b"), running("c")],
                metrics: metrics(&[("a", 1000), ("b", 1000)]),
                // (1000+1000+0)/3000 = 66% → ratio 1.33 → ceil(1.33*3)=4
                want: Ok((4, 100)),
            },
            Case {
                name: "scale down: a pod without metrics counts as 100%",
                current: 3,
                target: 50,
                pods: vec![running("a"), running("b"), running("c")],
                metrics: metrics(&[("a", 100), ("b", 100)]),
                // (100+100+1000)/3000 = 40% → ratio .8 → ceil(2.4)=3 → not fewer
                want: Ok((3, 10)),
            },
            Case {
                name: "unready pods are left out of a scale-up (as 0%)",
                current: 3,
                target: 50,
                pods: vec![
                    running("a"),
                    running("b"),
                    // Unready since 5s after start: never been ready.
                    pod("c", "Running", "False", -600, -595, "1"),
                ],
                metrics: metrics(&[("a", 1000), ("b", 1000), ("c", 1000)]),
                // ready: 100% → ratio 2; with c as 0: 66% → 1.33 → ceil(4)=4
                want: Ok((4, 100)),
            },
            Case {
                name: "a pod that turned unready after running still counts for cpu",
                current: 3,
                target: 50,
                pods: vec![
                    running("a"),
                    running("b"),
                    pod("c", "Running", "False", -600, -10, "1"),
                ],
                metrics: metrics(&[("a", 1000), ("b", 1000), ("c", 1000)]),
                want: Ok((6, 100)),
            },
            Case {
                name: "pending pods count as unready",
                current: 2,
                target: 50,
                pods: vec![running("a"), pod("b", "Pending", "False", 0, 0, "1")],
                metrics: metrics(&[("a", 1000)]),
                // a at 100% → 2; with b as 0%: 50% → ratio 1 → within tolerance
                want: Ok((2, 100)),
            },
            Case {
                name: "deleted and failed pods are ignored",
                current: 2,
                target: 50,
                pods: vec![running("a"), pod("b", "Failed", "False", -600, -10, "1")],
                metrics: metrics(&[("a", 1000), ("b", 5000)]),
                want: Ok((2, 100)),
            },
            Case {
                name: "young pod without a full window after ready is unready for cpu",
                current: 2,
                target: 50,
                pods: vec![running("a"), pod("b", "Running", "True", -60, -5, "1")],
                metrics: metrics(&[("a", 1000), ("b", 1000)]),
                want: Ok((2, 100)),
            },
            Case {
                name: "no pods",
                current: 2,
                target: 50,
                pods: vec![],
                metrics: metrics(&[("a", 1)]),
                want: Err("no pods returned by selector while calculating replica count"),
            },
            Case {
                name: "only unready pods",
                current: 1,
                target: 50,
                pods: vec![pod("b", "Pending", "False", 0, 0, "1")],
                metrics: metrics(&[("b", 1)]),
                want: Err("did not receive metrics for targeted pods (pods might be unready)"),
            },
        ];
        for case in cases {
            let got = calc()
                .resource_replicas(
                    case.current,
                    case.target,
                    "cpu",
                    None,
                    Tolerances::uniform(0.1),
                    &case.pods,
                    case.metrics,
                    at(0),
                )
                .map(|p| (p.replicas, p.utilization))
                .map_err(|e| e.0);
            assert_eq!(got, case.want.map_err(String::from), "{}", case.name);
        }
    }

    #[test]
    fn missing_request_is_an_error() {
        let mut p = running("a");
        if let Some(spec) = p.spec.as_mut() {
            spec.containers[0].resources = None;
        }
        let err = calc()
            .resource_replicas(
                1,
                50,
                "cpu",
                None,
                Tolerances::uniform(0.1),
                &[p],
                metrics(&[("a", 1)]),
                at(0),
            )
            .expect_err("no request");
        assert_eq!(err.0, "missing request for cpu in container c of Pod a");
    }

    #[test]
    fn sidecar_requests_count_and_container_targets_one() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "a"},
            "spec": {
                "initContainers": [
                    {"name": "init", "resources": {"requests": {"cpu": "5"}}},
                    {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "250m"}}}],
                "containers": [{"name": "app", "resources": {"requests": {"cpu": "500m"}}}]},
        }))
        .expect("pod");
        assert_eq!(
            requests_per_pod(std::slice::from_ref(&p), None, "cpu").expect("r")["a"],
            750
        );
        assert_eq!(
            requests_per_pod(std::slice::from_ref(&p), Some("side"), "cpu").expect("r")["a"],
            250
        );
        assert_eq!(
            requests_per_pod(&[p], Some("x"), "cpu")
                .expect_err("none")
                .0,
            "container x not found in Pod a"
        );
    }

    #[test]
    fn average_value_targets() {
        let pods = vec![running("a"), running("b")];
        let mem = |v: &[(&str, i64)]| metrics(v);
        // 2 pods at 200Mi, target 100Mi → 4.
        let mi = 1024 * 1024 * 1000;
        let (replicas, usage) = calc()
            .raw_resource_replicas(
                2,
                100 * mi,
                "memory",
                Tolerances::uniform(0.1),
                &pods,
                mem(&[("a", 200 * mi), ("b", 200 * mi)]),
                at(0),
            )
            .expect("ok");
        assert_eq!((replicas, usage), (4, 200 * mi));
        // One missing on a scale-down counts as the target: (20+100)/2=60 → ceil(1.2)=2
        let (replicas, _) = calc()
            .raw_resource_replicas(
                2,
                100 * mi,
                "memory",
                Tolerances::uniform(0.1),
                &pods,
                mem(&[("a", 20 * mi)]),
                at(0),
            )
            .expect("ok");
        assert_eq!(replicas, 2);
        // Asymmetric tolerances: 15% over is fine with a 20% scale-up tolerance.
        let tol = Tolerances {
            scale_down: 0.1,
            scale_up: 0.2,
        };
        let (replicas, _) = calc()
            .raw_resource_replicas(
                2,
                100 * mi,
                "memory",
                tol,
                &pods,
                mem(&[("a", 115 * mi), ("b", 115 * mi)]),
                at(0),
            )
            .expect("ok");
        assert_eq!(replicas, 2);
    }
}
