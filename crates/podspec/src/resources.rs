//! cgroup resources for containers and sandboxes (cpu shares, CFS quota,
//! memory limit, OOM score adjustment), computed as the kubelet does on Linux.

use berth_cri::api;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::podutil::{self, spec};
use crate::qos;
use crate::quantity;

/// cpu.shares the kernel uses for "no request".
pub const MIN_SHARES: i64 = 2;
/// cpu.shares upper bound (cgroup v1 limit).
pub const MAX_SHARES: i64 = 262_144;
const SHARES_PER_CPU: i64 = 1024;
const MILLI_CPU_TO_CPU: i64 = 1000;
/// CFS period the kubelet uses: 100ms in microseconds.
pub const QUOTA_PERIOD: i64 = 100_000;
/// Smallest CFS quota the kubelet sets: 1ms.
const MIN_QUOTA_PERIOD: i64 = 1000;

/// milliCPU → cpu.shares (`cm.MilliCPUToShares`).
pub fn milli_cpu_to_shares(milli_cpu: i64) -> i64 {
    if milli_cpu == 0 {
        return MIN_SHARES;
    }
    let shares = milli_cpu.saturating_mul(SHARES_PER_CPU) / MILLI_CPU_TO_CPU;
    shares.clamp(MIN_SHARES, MAX_SHARES)
}

/// milliCPU limit → CFS quota for `period` (0 = no limit).
pub fn milli_cpu_to_quota(milli_cpu: i64, period: i64) -> i64 {
    if milli_cpu == 0 {
        return 0;
    }
    let quota = milli_cpu.saturating_mul(period) / MILLI_CPU_TO_CPU;
    quota.max(MIN_QUOTA_PERIOD)
}

/// `calculateLinuxResources`: shares from the cpu request (falling back to the
/// limit when no request is given), quota/period from the cpu limit, memory
/// limit when non-zero. CFS quota enforcement is on (the kubelet default).
fn calculate(
    cpu_request_milli: Option<i64>,
    cpu_limit_milli: i64,
    memory_limit: i64,
) -> api::LinuxContainerResources {
    let shares = milli_cpu_to_shares(cpu_request_milli.unwrap_or(cpu_limit_milli));
    api::LinuxContainerResources {
        cpu_shares: shares,
        cpu_period: QUOTA_PERIOD,
        cpu_quota: milli_cpu_to_quota(cpu_limit_milli, QUOTA_PERIOD),
        memory_limit_in_bytes: memory_limit.max(0),
        ..Default::default()
    }
}

/// Container resources as the kubelet sends them in CreateContainer:
/// `cpu_shares` from the cpu request (min 2), `cpu_quota`/`cpu_period` from the
/// cpu limit (period 100000), `memory_limit_in_bytes` from the memory limit,
/// `oom_score_adj` from the pod's QoS class and `node_memory_capacity`.
///
/// Not done: hugepage limits (the kubelet lists every host page size), swap,
/// the cgroup v2 `memory.oom.group`/MemoryQoS `unified` keys, pod-level resources.
pub fn linux_resources(
    pod: &Pod,
    container: &Container,
    node_memory_capacity: i64,
) -> api::LinuxContainerResources {
    let explicit_cpu_request = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("cpu"))
        .map(quantity::milli_value);
    let cpu_limit = podutil::milli_or_zero(podutil::limit(container, "cpu"));
    let memory_limit = podutil::value_or_zero(podutil::limit(container, "memory"));
    let mut res = calculate(explicit_cpu_request, cpu_limit, memory_limit);
    res.oom_score_adj = qos::oom_score_adj(pod, container, node_memory_capacity);
    res
}

/// Pod-level resources for `LinuxPodSandboxConfig.resources`: the pod's
/// summed requests/limits (init containers and sidecars counted as the
/// kubelet does), without overhead.
pub fn sandbox_resources(pod: &Pod) -> api::LinuxContainerResources {
    let cpu_request =
        podutil::pod_total(pod, &|c| podutil::milli_or_zero(podutil::request(c, "cpu")));
    let cpu_limit = podutil::pod_total(pod, &|c| podutil::milli_or_zero(podutil::limit(c, "cpu")));
    let memory_limit = podutil::pod_total(pod, &|c| {
        podutil::value_or_zero(podutil::limit(c, "memory"))
    });
    calculate(Some(cpu_request), cpu_limit, memory_limit)
}

/// `LinuxPodSandboxConfig.overhead`: `spec.overhead` treated as both request
/// and limit; all zero when the pod has no overhead.
pub fn sandbox_overhead(pod: &Pod) -> api::LinuxContainerResources {
    let Some(overhead) = spec(pod).get().and_then(|s| s.overhead.as_ref()) else {
        return api::LinuxContainerResources::default();
    };
    let cpu = podutil::milli_or_zero(overhead.get("cpu"));
    let memory = podutil::value_or_zero(overhead.get("memory"));
    calculate(Some(cpu), cpu, memory)
}
