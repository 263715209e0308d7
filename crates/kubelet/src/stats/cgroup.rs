//! Container figures straight from the cgroup filesystem, for when the
//! runtime's ContainerStats leave them out: memory (usage, working set =
//! usage − inactive_file, rss, page faults, limit) and cumulative CPU time,
//! cgroup v2 (unified) or v1 (memory + cpuacct controllers).

use super::machine::parse_flat_keyed;
use std::path::{Path, PathBuf};

/// What one cgroup says about memory and CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupFigures {
    pub usage: u64,
    pub working_set: u64,
    pub rss: u64,
    pub page_faults: u64,
    pub major_page_faults: u64,
    /// None: unlimited.
    pub limit: Option<u64>,
    pub cpu_nanos: Option<u64>,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// v2: memory.current, memory.stat (anon, inactive_file, pgfault, pgmajfault),
/// memory.max ("max" = unlimited), cpu.stat usage_usec.
pub fn from_v2(
    current: &str,
    stat: &str,
    max: &str,
    cpu_stat: Option<&str>,
) -> Option<CgroupFigures> {
    let usage: u64 = current.trim().parse().ok()?;
    let stat = parse_flat_keyed(stat);
    let get = |k: &str| stat.get(k).copied().unwrap_or(0);
    Some(CgroupFigures {
        usage,
        working_set: usage.saturating_sub(get("inactive_file")),
        rss: get("anon"),
        page_faults: get("pgfault"),
        major_page_faults: get("pgmajfault"),
        limit: max.trim().parse().ok(),
        cpu_nanos: cpu_stat
            .map(parse_flat_keyed)
            .and_then(|s| s.get("usage_usec").map(|u| u.saturating_mul(1000))),
    })
}

/// v1: memory.usage_in_bytes, memory.stat (total_* for the hierarchy),
/// memory.limit_in_bytes (a huge number = unlimited), cpuacct.usage (ns).
pub fn from_v1(
    usage: &str,
    stat: &str,
    limit: &str,
    cpuacct: Option<&str>,
) -> Option<CgroupFigures> {
    let usage: u64 = usage.trim().parse().ok()?;
    let stat = parse_flat_keyed(stat);
    let get = |k: &str| {
        stat.get(&format!("total_{k}"))
            .or_else(|| stat.get(k))
            .copied()
            .unwrap_or(0)
    };
    // The kernel reports "no limit" as PAGE_COUNTER_MAX pages: anything near 2^63.
    let limit = limit.trim().parse::<u64>().ok().filter(|l| *l < 1 << 62);
    Some(CgroupFigures {
        usage,
        working_set: usage.saturating_sub(get("inactive_file")),
        rss: get("rss"),
        page_faults: get("pgfault"),
        major_page_faults: get("pgmajfault"),
        limit,
        cpu_nanos: cpuacct.and_then(|c| c.trim().parse().ok()),
    })
}

/// Read the cgroup at `cgroups_path` (as in the OCI spec's linux.cgroupsPath),
/// trying v2 first, then v1. Systemd-style paths (`slice:prefix:name`) are not resolved.
pub fn read_cgroup(root: &Path, cgroups_path: &str) -> Option<CgroupFigures> {
    if cgroups_path.contains(':') {
        return None;
    }
    let rel = cgroups_path.trim_start_matches('/');
    let v2: PathBuf = root.join(rel);
    if let (Some(cur), Some(stat)) = (
        read(&v2.join("memory.current")),
        read(&v2.join("memory.stat")),
    ) {
        let max = read(&v2.join("memory.max")).unwrap_or_default();
        let cpu = read(&v2.join("cpu.stat"));
        return from_v2(&cur, &stat, &max, cpu.as_deref());
    }
    let mem = root.join("memory").join(rel);
    let usage = read(&mem.join("memory.usage_in_bytes"))?;
    let stat = read(&mem.join("memory.stat")).unwrap_or_default();
    let limit = read(&mem.join("memory.limit_in_bytes")).unwrap_or_default();
    let cpu = read(&root.join("cpuacct").join(rel).join("cpuacct.usage"))
        .or_else(|| read(&root.join("cpu,cpuacct").join(rel).join("cpuacct.usage")));
    from_v1(&usage, &stat, &limit, cpu.as_deref())
}

/// linux.cgroupsPath from a verbose ContainerStatus info map (containerd puts
/// the OCI runtime spec under "info").
pub fn cgroups_path_from_info(info: &std::collections::HashMap<String, String>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(info.get("info")?).ok()?;
    v.pointer("/runtimeSpec/linux/cgroupsPath")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_working_set_is_usage_minus_inactive_file() {
        let f = from_v2(
            "1000\n",
            "anon 400\nfile 500\ninactive_file 300\npgfault 7\npgmajfault 1\n",
            "max\n",
            Some("usage_usec 25\nuser_usec 20\n"),
        )
        .unwrap_or_default();
        assert_eq!((f.usage, f.working_set, f.rss), (1000, 700, 400));
        assert_eq!((f.page_faults, f.major_page_faults), (7, 1));
        assert_eq!(f.limit, None);
        assert_eq!(f.cpu_nanos, Some(25_000));
        assert_eq!(
            from_v2("2000", "", "1048576", None).and_then(|f| f.limit),
            Some(1_048_576)
        );
    }

    #[test]
    fn v1_uses_hierarchical_totals_and_ignores_the_no_limit_value() {
        let f = from_v1(
            "2000",
            "rss 1\ninactive_file 9\ntotal_rss 800\ntotal_inactive_file 500\ntotal_pgfault 3\n",
            "9223372036854771712",
            Some("123456789"),
        )
        .unwrap_or_default();
        assert_eq!(
            (f.usage, f.working_set, f.rss, f.page_faults),
            (2000, 1500, 800, 3)
        );
        assert_eq!(f.limit, None);
        assert_eq!(f.cpu_nanos, Some(123_456_789));
    }

    #[test]
    fn reads_a_cgroup_tree_on_disk() {
        let Ok(dir) = tempfile::tempdir() else { return };
        let cg = dir.path().join("memory/k8s/abc");
        std::fs::create_dir_all(&cg).unwrap_or_default();
        std::fs::write(cg.join("memory.usage_in_bytes"), "100").unwrap_or_default();
        std::fs::write(cg.join("memory.stat"), "total_inactive_file 40\n").unwrap_or_default();
        std::fs::write(cg.join("memory.limit_in_bytes"), "4096").unwrap_or_default();
        let f = read_cgroup(dir.path(), "/k8s/abc");
        assert_eq!(f.map(|f| (f.working_set, f.limit)), Some((60, Some(4096))));
        assert_eq!(read_cgroup(dir.path(), "system.slice:cri:abc"), None);
        let info = [(
            "info".to_string(),
            r#"{"runtimeSpec":{"linux":{"cgroupsPath":"/k8s/abc"}}}"#.to_string(),
        )]
        .into();
        assert_eq!(cgroups_path_from_info(&info).as_deref(), Some("/k8s/abc"));
    }
}
