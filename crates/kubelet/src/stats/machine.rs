//! Node-level figures from the kernel: CPU time from /proc/stat, memory
//! from /proc/meminfo and /proc/vmstat, filesystems from statvfs, process
//! counts from sysinfo. Parsers take the file text so they can be tested.

use std::collections::HashMap;
use std::path::Path;

/// Cumulative busy CPU time of all cores, in nanoseconds, from the `cpu`
/// line of /proc/stat (user nice system idle iowait irq softirq steal …):
/// everything but idle and iowait. Guest time is already inside user.
pub fn parse_cpu_busy_nanos(proc_stat: &str, clock_ticks_per_sec: u64) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 4 || clock_ticks_per_sec == 0 {
        return None;
    }
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| *v)
        .sum();
    Some(busy.saturating_mul(1_000_000_000) / clock_ticks_per_sec)
}

/// Boot time (seconds since the epoch) from the `btime` line of /proc/stat.
pub fn parse_boot_time(proc_stat: &str) -> Option<i64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// `Key: value kB` lines of /proc/meminfo, in bytes.
pub fn parse_meminfo(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let v = v.trim();
            let (num, kb) = match v.strip_suffix("kB") {
                Some(n) => (n.trim(), true),
                None => (v, false),
            };
            let n: u64 = num.parse().ok()?;
            Some((k.trim().to_string(), if kb { n * 1024 } else { n }))
        })
        .collect()
}

/// `key value` lines (/proc/vmstat, cgroup memory.stat).
pub fn parse_flat_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// The node's memory as cAdvisor reports the root cgroup: usage is all
/// memory in use (total − free), the working set leaves out inactive file
/// cache, and available is capacity − working set (what eviction compares).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMemory {
    pub capacity: u64,
    pub usage: u64,
    pub working_set: u64,
    pub rss: u64,
    pub available: u64,
}

pub fn node_memory(meminfo: &HashMap<String, u64>) -> Option<NodeMemory> {
    let total = *meminfo.get("MemTotal")?;
    let free = meminfo.get("MemFree").copied().unwrap_or(0);
    let inactive_file = meminfo.get("Inactive(file)").copied().unwrap_or(0);
    let usage = total.saturating_sub(free);
    let working_set = usage.saturating_sub(inactive_file);
    Some(NodeMemory {
        capacity: total,
        usage,
        working_set,
        rss: meminfo.get("AnonPages").copied().unwrap_or(0),
        available: total.saturating_sub(working_set),
    })
}

/// One filesystem's size and inodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsUsage {
    pub capacity: u64,
    pub available: u64,
    pub used: u64,
    pub inodes: u64,
    pub inodes_free: u64,
}

/// statvfs of the filesystem holding `path` (None when it cannot be read).
pub fn fs_usage(path: &Path) -> Option<FsUsage> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some(FsUsage {
        capacity: st.f_blocks as u64 * frsize,
        available: st.f_bavail as u64 * frsize,
        used: (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * frsize,
        inodes: st.f_files as u64,
        inodes_free: st.f_ffree as u64,
    })
}

/// Processes (threads) running now, as sysinfo counts them.
pub fn process_count() -> Option<i64> {
    // SAFETY: sysinfo fills the zeroed struct we own.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    Some(i64::from(info.procs))
}

pub fn pid_max() -> Option<i64> {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 20 30 1000 50 5 5 10 0 0\ncpu0 1 2 3 4\nbtime 1700000000\n";
        // (100+20+30+5+5+10) ticks at 100 Hz = 1.7 s.
        assert_eq!(parse_cpu_busy_nanos(stat, 100), Some(1_700_000_000));
        assert_eq!(parse_boot_time(stat), Some(1_700_000_000));
        assert_eq!(parse_cpu_busy_nanos("intr 1 2\n", 100), None);
    }

    #[test]
    fn node_memory_working_set_excludes_inactive_file_cache() {
        let m = parse_meminfo(
            "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\n\
             Inactive(file):  300 kB\nAnonPages:       150 kB\nHugePages_Total:   0\n",
        );
        let n = node_memory(&m).unwrap_or_default();
        assert_eq!(n.capacity, 1000 * 1024);
        assert_eq!(n.usage, 800 * 1024);
        assert_eq!(n.working_set, 500 * 1024);
        assert_eq!(n.available, 500 * 1024);
        assert_eq!(n.rss, 150 * 1024);
        assert_eq!(m.get("HugePages_Total"), Some(&0));
    }

    #[test]
    fn real_host_figures_are_plausible() {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        assert!(parse_cpu_busy_nanos(&stat, clock_ticks()).is_some_and(|n| n > 0));
        let fs = fs_usage(Path::new("/")).unwrap_or_default();
        assert!(fs.capacity > 0 && fs.available <= fs.capacity && fs.used <= fs.capacity);
        assert!(process_count().is_some_and(|n| n > 0));
        assert!(pid_max().is_some_and(|n| n > 0));
    }
}
