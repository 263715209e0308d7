//! LimitRange: defaults a pod's container resources, then checks pods and
//! PersistentVolumeClaims against min, max and maxLimitRequestRatio
//! (upstream `plugin/pkg/admission/limitranger`).
//!
//! ```text
//! LimitRange ─ default_limit_range_item ─► default / defaultRequest
//!                                               │
//! Pod ─ requests from limits ─ merge defaults ──┴─► annotated Pod
//!                                                     │
//!                 Container min/max/ratio per container┤
//!                 Pod min/max/ratio on pod totals ─────┴─► Ok | LimitRangeError
//! ```

use crate::limit_range_error::{LimitRangeError, LimitViolation};
use crate::pod_resources::{pod_limits, pod_requests, Overhead};
use crate::quantity::Amount;
use crate::resource_list::{parse_list, Amounts, ResourceList};
use k8s_openapi::api::core::v1::{
    Container, LimitRange, LimitRangeItem, PersistentVolumeClaim, Pod, ResourceRequirements,
};

pub const LIMIT_RANGER_ANNOTATION: &str = "kubernetes.io/limit-ranger";
const CONTAINER: &str = "Container";
const POD: &str = "Pod";
const PVC: &str = "PersistentVolumeClaim";

/// The API's LimitRangeItem defaulting (applied when a LimitRange is
/// stored; idempotent): for Container items a missing `default` comes from
/// `max`, a missing `defaultRequest` from `default`, then from `min`.
pub fn default_limit_range_item(item: &mut LimitRangeItem) {
    if item.type_ != CONTAINER {
        return;
    }
    let default = item.default.get_or_insert_with(ResourceList::new);
    for (name, value) in item.max.iter().flatten() {
        default.entry(name.clone()).or_insert_with(|| value.clone());
    }
    let default_request = item.default_request.get_or_insert_with(ResourceList::new);
    for (name, value) in item.default.iter().flatten() {
        default_request
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
    for (name, value) in item.min.iter().flatten() {
        default_request
            .entry(name.clone())
            .or_insert_with(|| value.clone());
    }
}

fn items(limit_range: &LimitRange) -> Vec<LimitRangeItem> {
    let mut items = limit_range
        .spec
        .as_ref()
        .map(|s| s.limits.clone())
        .unwrap_or_default();
    items.iter_mut().for_each(default_limit_range_item);
    items
}

fn name_of(limit_range: &LimitRange) -> String {
    limit_range.metadata.name.clone().unwrap_or_default()
}

/// The pod's own defaulting that runs before admission: a container that
/// sets only a limit requests that much.
pub fn default_requests_from_limits(pod: &mut Pod) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for c in containers {
        let Some(resources) = c.resources.as_mut() else {
            continue;
        };
        let Some(limits) = resources.limits.clone() else {
            continue;
        };
        let requests = resources.requests.get_or_insert_with(ResourceList::new);
        for (name, value) in limits {
            requests.entry(name).or_insert(value);
        }
    }
}

/// Fills unset container (and init container) requests and limits from each
/// LimitRange's Container `defaultRequest` and `default`, and records what
/// was set in the `kubernetes.io/limit-ranger` annotation (as upstream, the
/// last LimitRange that set anything writes it).
pub fn apply_pod_defaults(pod: &mut Pod, limit_ranges: &[LimitRange]) {
    default_requests_from_limits(pod);
    for limit_range in limit_ranges {
        let mut default_requests = ResourceList::new();
        let mut default_limits = ResourceList::new();
        for item in items(limit_range)
            .into_iter()
            .filter(|i| i.type_ == CONTAINER)
        {
            default_requests.extend(item.default_request.unwrap_or_default());
            default_limits.extend(item.default.unwrap_or_default());
        }
        let mut notes = Vec::new();
        if let Some(spec) = pod.spec.as_mut() {
            for c in spec.containers.iter_mut() {
                merge_defaults(
                    c,
                    &default_requests,
                    &default_limits,
                    "container",
                    &mut notes,
                );
            }
            for c in spec.init_containers.iter_mut().flatten() {
                merge_defaults(
                    c,
                    &default_requests,
                    &default_limits,
                    "init container",
                    &mut notes,
                );
            }
        }
        if !notes.is_empty() {
            pod.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(
                    LIMIT_RANGER_ANNOTATION.to_string(),
                    format!("LimitRanger plugin set: {}", notes.join("; ")),
                );
        }
    }
}

fn merge_defaults(
    c: &mut Container,
    default_requests: &ResourceList,
    default_limits: &ResourceList,
    kind: &str,
    notes: &mut Vec<String>,
) {
    let resources = c
        .resources
        .get_or_insert_with(ResourceRequirements::default);
    let mut set_limits = Vec::new();
    let limits = resources.limits.get_or_insert_with(ResourceList::new);
    for (name, value) in default_limits {
        if !limits.contains_key(name) {
            limits.insert(name.clone(), value.clone());
            set_limits.push(name.as_str());
        }
    }
    let mut set_requests = Vec::new();
    let requests = resources.requests.get_or_insert_with(ResourceList::new);
    for (name, value) in default_requests {
        if !requests.contains_key(name) {
            requests.insert(name.clone(), value.clone());
            set_requests.push(name.as_str());
        }
    }
    // BTreeMap iteration already gives upstream's sorted order.
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {kind} {}",
            set_requests.join(", "),
            c.name
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!(
            "{} limit for {kind} {}",
            set_limits.join(", "),
            c.name
        ));
    }
}

/// Where a set of requests/limits lives in the object, for field paths.
struct Place<'a> {
    limit_type: &'a str,
    /// e.g. `spec.containers[0].resources`
    prefix: String,
}

impl Place<'_> {
    fn field(&self, list: &str, name: &str) -> String {
        format!("{}.{list}.{name}", self.prefix)
    }
}

/// Upstream's `requestLimitEnforcedValues`: compare in milli-units unless a
/// value is too large for that, then in units.
fn comparable(
    request: Option<&Amount>,
    limit: Option<&Amount>,
    enforced: &Amount,
) -> (i64, i64, i64) {
    const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;
    let zero = Amount::zero();
    let (request, limit) = (request.unwrap_or(&zero), limit.unwrap_or(&zero));
    if request.value() <= MAX_MILLI_VALUE
        && limit.value() <= MAX_MILLI_VALUE
        && enforced.value() <= MAX_MILLI_VALUE
    {
        (
            request.milli_value(),
            limit.milli_value(),
            enforced.milli_value(),
        )
    } else {
        (request.value(), limit.value(), enforced.value())
    }
}

fn min_constraint(
    place: &Place,
    name: &str,
    enforced: &Amount,
    requests: &Amounts,
    limits: &Amounts,
) -> Option<LimitViolation> {
    let t = place.limit_type;
    let (req, lim) = (requests.get(name), limits.get(name));
    let (req_v, lim_v, enf_v) = comparable(req, lim, enforced);
    let violation = |list: &str, message: String| {
        Some(LimitViolation {
            field: place.field(list, name),
            message,
        })
    };
    match (req, lim) {
        (None, _) => violation(
            "requests",
            format!("minimum {name} usage per {t} is {enforced}.  No request is specified"),
        ),
        (Some(req), _) if req_v < enf_v => violation(
            "requests",
            format!("minimum {name} usage per {t} is {enforced}, but request is {req}"),
        ),
        (_, Some(lim)) if lim_v < enf_v => violation(
            "limits",
            format!("minimum {name} usage per {t} is {enforced}, but limit is {lim}"),
        ),
        _ => None,
    }
}

fn max_constraint(
    place: &Place,
    name: &str,
    enforced: &Amount,
    requests: &Amounts,
    limits: &Amounts,
) -> Option<LimitViolation> {
    let t = place.limit_type;
    let (req, lim) = (requests.get(name), limits.get(name));
    let (req_v, lim_v, enf_v) = comparable(req, lim, enforced);
    let violation = |list: &str, message: String| {
        Some(LimitViolation {
            field: place.field(list, name),
            message,
        })
    };
    match (req, lim) {
        (_, None) => violation(
            "limits",
            format!("maximum {name} usage per {t} is {enforced}.  No limit is specified"),
        ),
        (_, Some(lim)) if lim_v > enf_v => violation(
            "limits",
            format!("maximum {name} usage per {t} is {enforced}, but limit is {lim}"),
        ),
        (Some(req), _) if req_v > enf_v => violation(
            "requests",
            format!("maximum {name} usage per {t} is {enforced}, but request is {req}"),
        ),
        _ => None,
    }
}

/// For PVCs only the request is user input (upstream `maxRequestConstraint`).
fn max_request_constraint(
    place: &Place,
    name: &str,
    enforced: &Amount,
    requests: &Amounts,
) -> Option<LimitViolation> {
    let t = place.limit_type;
    let req = requests.get(name);
    let (req_v, _, enf_v) = comparable(req, None, enforced);
    let message = match req {
        None => format!("maximum {name} usage per {t} is {enforced}.  No request is specified"),
        Some(req) if req_v > enf_v => {
            format!("maximum {name} usage per {t} is {enforced}, but request is {req}")
        }
        Some(_) => return None,
    };
    Some(LimitViolation {
        field: place.field("requests", name),
        message,
    })
}

fn ratio_constraint(
    place: &Place,
    name: &str,
    enforced: &Amount,
    requests: &Amounts,
    limits: &Amounts,
) -> Option<LimitViolation> {
    let t = place.limit_type;
    let (req, lim) = (requests.get(name), limits.get(name));
    let (req_v, lim_v, _) = comparable(req, lim, enforced);
    if req.is_none() || req_v == 0 {
        return Some(LimitViolation {
            field: place.field("requests", name),
            message: format!(
                "{name} max limit to request ratio per {t} is {enforced}, but no request is specified or request is 0"
            ),
        });
    }
    if lim.is_none() || lim_v == 0 {
        return Some(LimitViolation {
            field: place.field("limits", name),
            message: format!(
                "{name} max limit to request ratio per {t} is {enforced}, but no limit is specified or limit is 0"
            ),
        });
    }
    #[allow(clippy::cast_precision_loss)] // upstream compares float64 too
    let observed = lim_v as f64 / req_v as f64;
    #[allow(clippy::cast_precision_loss)]
    let (scaled_observed, max_ratio) = if enforced.value() <= i64::MAX / 1000 {
        (observed * 1000.0, enforced.milli_value() as f64)
    } else {
        (observed, enforced.value() as f64)
    };
    (scaled_observed > max_ratio).then(|| LimitViolation {
        field: place.field("limits", name),
        message: format!(
            "{name} max limit to request ratio per {t} is {enforced}, but provided ratio is {observed:.6}"
        ),
    })
}

fn check_item(
    item: &LimitRangeItem,
    place: &Place,
    requests: &Amounts,
    limits: &Amounts,
    out: &mut Vec<LimitViolation>,
) {
    for (name, q) in item.min.iter().flatten() {
        out.extend(min_constraint(
            place,
            name,
            &Amount::lossy(q),
            requests,
            limits,
        ));
    }
    for (name, q) in item.max.iter().flatten() {
        out.extend(max_constraint(
            place,
            name,
            &Amount::lossy(q),
            requests,
            limits,
        ));
    }
    for (name, q) in item.max_limit_request_ratio.iter().flatten() {
        out.extend(ratio_constraint(
            place,
            name,
            &Amount::lossy(q),
            requests,
            limits,
        ));
    }
}

fn container_lists(c: &Container) -> (Amounts, Amounts) {
    let r = c.resources.as_ref();
    (
        r.and_then(|r| r.requests.as_ref())
            .map(parse_list)
            .unwrap_or_default(),
        r.and_then(|r| r.limits.as_ref())
            .map(parse_list)
            .unwrap_or_default(),
    )
}

/// Checks a (defaulted) pod against each LimitRange; the first LimitRange
/// with violations rejects.
pub fn validate_pod(pod: &Pod, limit_ranges: &[LimitRange]) -> Result<(), LimitRangeError> {
    for limit_range in limit_ranges {
        let mut violations = Vec::new();
        for item in items(limit_range) {
            if item.type_ == CONTAINER {
                let Some(spec) = &pod.spec else { continue };
                let all = spec
                    .containers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("spec.containers[{i}].resources"), c))
                    .chain(
                        spec.init_containers
                            .iter()
                            .flatten()
                            .enumerate()
                            .map(|(i, c)| (format!("spec.initContainers[{i}].resources"), c)),
                    );
                for (prefix, c) in all {
                    let (requests, limits) = container_lists(c);
                    let place = Place {
                        limit_type: CONTAINER,
                        prefix,
                    };
                    check_item(&item, &place, &requests, &limits, &mut violations);
                }
            }
            if item.type_ == POD {
                // Pod totals, without overhead (upstream's local podRequests).
                let requests = pod_requests(pod, Overhead::Exclude);
                let limits = pod_limits(pod, Overhead::Exclude);
                let place = Place {
                    limit_type: POD,
                    prefix: "spec.resources".to_string(),
                };
                check_item(&item, &place, &requests, &limits, &mut violations);
            }
        }
        if !violations.is_empty() {
            return Err(LimitRangeError {
                limit_range: name_of(limit_range),
                violations,
            });
        }
    }
    Ok(())
}

/// Mutating then validating admission of a new pod.
pub fn admit_pod(pod: &mut Pod, limit_ranges: &[LimitRange]) -> Result<(), LimitRangeError> {
    apply_pod_defaults(pod, limit_ranges);
    validate_pod(pod, limit_ranges)
}

/// PersistentVolumeClaim min/max on `spec.resources.requests` (claims are
/// never defaulted: storage is a required field).
pub fn validate_pvc(
    pvc: &PersistentVolumeClaim,
    limit_ranges: &[LimitRange],
) -> Result<(), LimitRangeError> {
    let requests = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .map(parse_list)
        .unwrap_or_default();
    let place = Place {
        limit_type: PVC,
        prefix: "spec.resources".to_string(),
    };
    for limit_range in limit_ranges {
        let mut violations = Vec::new();
        for item in items(limit_range).into_iter().filter(|i| i.type_ == PVC) {
            for (name, q) in item.min.iter().flatten() {
                violations.extend(min_constraint(
                    &place,
                    name,
                    &Amount::lossy(q),
                    &requests,
                    &Amounts::new(),
                ));
            }
            for (name, q) in item.max.iter().flatten() {
                violations.extend(max_request_constraint(
                    &place,
                    name,
                    &Amount::lossy(q),
                    &requests,
                ));
            }
        }
        if !violations.is_empty() {
            return Err(LimitRangeError {
                limit_range: name_of(limit_range),
                violations,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{container, limit_range, list, pod_with, Item};
    use k8s_openapi::api::core::v1::{PersistentVolumeClaimSpec, VolumeResourceRequirements};

    fn resources(pod: &Pod, i: usize) -> (ResourceList, ResourceList) {
        let r = pod
            .spec
            .as_ref()
            .and_then(|s| s.containers[i].resources.clone())
            .unwrap_or_default();
        (r.requests.unwrap_or_default(), r.limits.unwrap_or_default())
    }

    fn message(result: Result<(), LimitRangeError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn item_defaulting_fills_default_and_default_request() {
        let lr = limit_range(
            "lr",
            &[Item {
                max: &[("cpu", "2"), ("memory", "1Gi")],
                default: &[("memory", "512Mi")],
                min: &[("ephemeral-storage", "1Gi")],
                ..Item::default()
            }],
        );
        let item = &items(&lr)[0];
        assert_eq!(
            item.default,
            Some(list(&[("cpu", "2"), ("memory", "512Mi")]))
        );
        assert_eq!(
            item.default_request,
            Some(list(&[
                ("cpu", "2"),
                ("ephemeral-storage", "1Gi"),
                ("memory", "512Mi")
            ]))
        );
    }

    #[test]
    fn defaults_fill_only_unset_values_and_annotate() {
        let lr = limit_range(
            "lr",
            &[Item {
                default: &[("cpu", "500m"), ("memory", "256Mi")],
                default_request: &[("cpu", "100m"), ("memory", "128Mi")],
                ..Item::default()
            }],
        );
        let mut pod = pod_with(
            vec![container("app", &[], &[("memory", "1Gi")])],
            vec![container("init", &[], &[])],
        );
        apply_pod_defaults(&mut pod, &[lr]);
        let (requests, limits) = resources(&pod, 0);
        // The request follows the container's own limit, not defaultRequest.
        assert_eq!(requests, list(&[("cpu", "100m"), ("memory", "1Gi")]));
        assert_eq!(limits, list(&[("cpu", "500m"), ("memory", "1Gi")]));
        let annotation = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(LIMIT_RANGER_ANNOTATION))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            annotation,
            "LimitRanger plugin set: cpu request for container app; cpu limit for container app; \
             cpu, memory request for init container init; cpu, memory limit for init container init"
        );
    }

    #[test]
    fn limit_only_pod_requests_its_limit_before_defaults() {
        let lr = limit_range(
            "lr",
            &[Item {
                default_request: &[("cpu", "100m")],
                ..Item::default()
            }],
        );
        let mut pod = pod_with(vec![container("app", &[], &[("cpu", "2")])], vec![]);
        apply_pod_defaults(&mut pod, &[lr]);
        assert_eq!(resources(&pod, 0).0, list(&[("cpu", "2")]));
        assert!(
            pod.metadata.annotations.is_none(),
            "nothing was set by the LimitRange"
        );
    }

    #[test]
    fn container_max_rejects_with_upstream_text_and_field() {
        let lr = limit_range(
            "lr",
            &[Item {
                max: &[("cpu", "1")],
                ..Item::default()
            }],
        );
        let mut pod = pod_with(
            vec![container("c1", &[("cpu", "500m")], &[("cpu", "2")])],
            vec![],
        );
        let err = admit_pod(&mut pod, &[lr]).expect_err("rejected");
        assert_eq!(
            err.forbidden_message("pods", "x"),
            "pods \"x\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        );
        assert_eq!(
            err.violations[0].field,
            "spec.containers[0].resources.limits.cpu"
        );
    }

    #[test]
    fn max_defaults_the_limit_so_a_bare_container_passes() {
        let lr = limit_range(
            "lr",
            &[Item {
                max: &[("memory", "1Gi")],
                ..Item::default()
            }],
        );
        let mut pod = pod_with(vec![container("c", &[], &[])], vec![]);
        assert_eq!(admit_pod(&mut pod, std::slice::from_ref(&lr)), Ok(()));
        assert_eq!(
            resources(&pod, 0),
            (list(&[("memory", "1Gi")]), list(&[("memory", "1Gi")]))
        );
        // Without defaulting the same pod has no limit at all.
        let bare = pod_with(vec![container("c", &[], &[])], vec![]);
        assert_eq!(
            message(validate_pod(&bare, &[lr])),
            "maximum memory usage per Container is 1Gi.  No limit is specified"
        );
    }

    #[test]
    fn min_checks_request_then_limit() {
        let lr = limit_range(
            "lr",
            &[Item {
                min: &[("cpu", "250m")],
                ..Item::default()
            }],
        );
        let low_request = pod_with(vec![container("c", &[("cpu", "100m")], &[])], vec![]);
        assert_eq!(
            message(validate_pod(&low_request, std::slice::from_ref(&lr))),
            "minimum cpu usage per Container is 250m, but request is 100m"
        );
        let low_limit = pod_with(
            vec![container("c", &[("cpu", "300m")], &[("cpu", "200m")])],
            vec![],
        );
        let err = validate_pod(&low_limit, std::slice::from_ref(&lr)).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "minimum cpu usage per Container is 250m, but limit is 200m"
        );
        assert_eq!(
            err.violations[0].field,
            "spec.containers[0].resources.limits.cpu"
        );
        let none = pod_with(vec![container("c", &[], &[])], vec![]);
        assert_eq!(
            message(validate_pod(&none, &[lr])),
            "minimum cpu usage per Container is 250m.  No request is specified"
        );
    }

    #[test]
    fn init_containers_are_checked_with_their_own_paths() {
        let lr = limit_range(
            "lr",
            &[Item {
                max: &[("cpu", "1")],
                ..Item::default()
            }],
        );
        let pod = pod_with(
            vec![container("app", &[], &[("cpu", "1")])],
            vec![container("init", &[], &[("cpu", "1500m")])],
        );
        let err = validate_pod(&pod, &[lr]).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "maximum cpu usage per Container is 1, but limit is 1500m"
        );
        assert_eq!(
            err.violations[0].field,
            "spec.initContainers[0].resources.limits.cpu"
        );
    }

    #[test]
    fn ratio_is_enforced_and_printed_with_six_decimals() {
        let lr = limit_range(
            "lr",
            &[Item {
                ratio: &[("memory", "2")],
                ..Item::default()
            }],
        );
        let ok = pod_with(
            vec![container("c", &[("memory", "1Gi")], &[("memory", "2Gi")])],
            vec![],
        );
        assert_eq!(validate_pod(&ok, std::slice::from_ref(&lr)), Ok(()));
        let over = pod_with(
            vec![container("c", &[("memory", "1Gi")], &[("memory", "3Gi")])],
            vec![],
        );
        assert_eq!(
            message(validate_pod(&over, std::slice::from_ref(&lr))),
            "memory max limit to request ratio per Container is 2, but provided ratio is 3.000000"
        );
        let no_limit = pod_with(vec![container("c", &[("memory", "1Gi")], &[])], vec![]);
        assert_eq!(
            message(validate_pod(&no_limit, &[lr])),
            "memory max limit to request ratio per Container is 2, but no limit is specified or limit is 0"
        );
    }

    #[test]
    fn pod_type_checks_totals_and_lists_several_violations() {
        let lr = limit_range(
            "lr",
            &[Item {
                type_: "Pod",
                max: &[("cpu", "2"), ("memory", "1Gi")],
                ..Item::default()
            }],
        );
        let pod = pod_with(
            vec![
                container("a", &[("cpu", "1")], &[("cpu", "1500m"), ("memory", "1Gi")]),
                container("b", &[("cpu", "1")], &[("cpu", "1"), ("memory", "512Mi")]),
            ],
            vec![],
        );
        let err = validate_pod(&pod, &[lr]).expect_err("rejected");
        assert_eq!(
            err.to_string(),
            "[maximum cpu usage per Pod is 2, but limit is 2500m, maximum memory usage per Pod is 1Gi, but limit is 1536Mi]"
        );
        assert_eq!(err.violations[0].field, "spec.resources.limits.cpu");
    }

    #[test]
    fn first_rejecting_limit_range_wins() {
        let loose = limit_range(
            "loose",
            &[Item {
                max: &[("cpu", "4")],
                ..Item::default()
            }],
        );
        let tight = limit_range(
            "tight",
            &[Item {
                max: &[("cpu", "1")],
                ..Item::default()
            }],
        );
        let pod = pod_with(vec![container("c", &[], &[("cpu", "2")])], vec![]);
        let err = validate_pod(&pod, &[loose, tight]).expect_err("rejected");
        assert_eq!(err.limit_range, "tight");
    }

    fn pvc(storage: Option<&str>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            spec: Some(PersistentVolumeClaimSpec {
                resources: Some(VolumeResourceRequirements {
                    requests: storage.map(|s| list(&[("storage", s)])),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pvc_storage_min_and_max() {
        let lr = limit_range(
            "storage",
            &[Item {
                type_: "PersistentVolumeClaim",
                min: &[("storage", "1Gi")],
                max: &[("storage", "10Gi")],
                ..Item::default()
            }],
        );
        let lrs = std::slice::from_ref(&lr);
        assert_eq!(validate_pvc(&pvc(Some("5Gi")), lrs), Ok(()));
        let err = validate_pvc(&pvc(Some("20Gi")), lrs).expect_err("too big");
        assert_eq!(
            err.forbidden_message("persistentvolumeclaims", "data"),
            "persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
        );
        assert_eq!(err.violations[0].field, "spec.resources.requests.storage");
        assert_eq!(
            message(validate_pvc(&pvc(Some("500Mi")), lrs)),
            "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
        );
        assert_eq!(
            message(validate_pvc(&pvc(None), lrs)),
            "[minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified, maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified]"
        );
    }
}
