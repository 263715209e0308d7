//! A pod's effective requests and limits (component-helpers'
//! `PodRequests`/`PodLimits`): the sum over app containers and sidecars
//! (restartable init containers), or the largest init container together
//! with the sidecars started before it, whichever is larger; plus the pod
//! overhead when asked for. Spec only: in-place resize status is not read.

use crate::resource_list::{add_into, max_into, parse_list, Amounts};
use k8s_openapi::api::core::v1::{Container, Pod};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overhead {
    Include,
    Exclude,
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn aggregate(pod: &Pod, pick: impl Fn(&Container) -> Amounts) -> Amounts {
    let Some(spec) = &pod.spec else {
        return Amounts::new();
    };
    let mut total = Amounts::new();
    for c in &spec.containers {
        add_into(&mut total, &pick(c));
    }
    let mut sidecars = Amounts::new();
    let mut init_peak = Amounts::new();
    for c in spec.init_containers.iter().flatten() {
        let own = pick(c);
        let during = if is_sidecar(c) {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut during = own;
            add_into(&mut during, &sidecars);
            during
        };
        max_into(&mut init_peak, &during);
    }
    max_into(&mut total, &init_peak);
    total
}

fn requests_of(c: &Container) -> Amounts {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(parse_list)
        .unwrap_or_default()
}

fn limits_of(c: &Container) -> Amounts {
    c.resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .map(parse_list)
        .unwrap_or_default()
}

pub(crate) fn pod_requests(pod: &Pod, overhead: Overhead) -> Amounts {
    let mut reqs = aggregate(pod, requests_of);
    if overhead == Overhead::Include {
        if let Some(extra) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            add_into(&mut reqs, &parse_list(extra));
        }
    }
    reqs
}

/// Overhead is added only to limits that are set (an unset limit stays
/// unlimited).
pub(crate) fn pod_limits(pod: &Pod, overhead: Overhead) -> Amounts {
    let mut limits = aggregate(pod, limits_of);
    if overhead == Overhead::Include {
        if let Some(extra) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            for (name, value) in parse_list(extra) {
                if let Some(have) = limits.get_mut(&name) {
                    *have = have.plus(value);
                }
            }
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_list::pretty_print;
    use crate::testing::{container, pod_with, with_restart_always};

    #[test]
    fn sums_app_containers() {
        let pod = pod_with(
            vec![
                container("a", &[("cpu", "500m")], &[("cpu", "1")]),
                container("b", &[("cpu", "1"), ("memory", "1Gi")], &[]),
            ],
            vec![],
        );
        assert_eq!(
            pretty_print(&pod_requests(&pod, Overhead::Include)),
            "cpu=1500m,memory=1Gi"
        );
        assert_eq!(pretty_print(&pod_limits(&pod, Overhead::Include)), "cpu=1");
    }

    #[test]
    fn init_containers_count_at_their_peak() {
        let pod = pod_with(
            vec![container("app", &[("cpu", "1")], &[])],
            vec![container("init", &[("cpu", "3")], &[])],
        );
        assert_eq!(
            pretty_print(&pod_requests(&pod, Overhead::Include)),
            "cpu=3"
        );
    }

    #[test]
    fn sidecars_add_to_the_total_and_to_later_init_containers() {
        let pod = pod_with(
            vec![container("app", &[("cpu", "1")], &[])],
            vec![
                with_restart_always(container("proxy", &[("cpu", "500m")], &[])),
                container("migrate", &[("cpu", "2")], &[]),
            ],
        );
        // max(app 1 + sidecar 0.5, migrate 2 + sidecar 0.5) = 2.5
        assert_eq!(
            pretty_print(&pod_requests(&pod, Overhead::Include)),
            "cpu=2500m"
        );
    }

    #[test]
    fn overhead_adds_to_requests_and_only_to_set_limits() {
        let mut pod = pod_with(
            vec![container("a", &[("cpu", "1")], &[("cpu", "2")])],
            vec![],
        );
        if let Some(spec) = pod.spec.as_mut() {
            spec.overhead = Some(crate::testing::list(&[("cpu", "100m"), ("memory", "64Mi")]));
        }
        assert_eq!(
            pretty_print(&pod_requests(&pod, Overhead::Include)),
            "cpu=1100m,memory=64Mi"
        );
        assert_eq!(
            pretty_print(&pod_limits(&pod, Overhead::Include)),
            "cpu=2100m"
        );
        assert_eq!(
            pretty_print(&pod_requests(&pod, Overhead::Exclude)),
            "cpu=1"
        );
    }
}
