//! Facts about this machine, read from /proc and friends.

use std::path::Path;

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// MemTotal in bytes.
pub fn memory_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// MemAvailable in bytes.
pub fn memory_available_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (total, available) bytes of the filesystem holding `path`.
pub fn disk_bytes(path: &Path) -> (u64, u64) {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return (0, 0);
    };
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return (0, 0);
    }
    let frsize = st.f_frsize as u64;
    (st.f_blocks as u64 * frsize, st.f_bavail as u64 * frsize)
}

pub fn machine_id() -> String {
    read_trim("/etc/machine-id")
}
pub fn boot_id() -> String {
    read_trim("/proc/sys/kernel/random/boot_id")
}
pub fn kernel_version() -> String {
    read_trim("/proc/sys/kernel/osrelease")
}
pub fn os_image() -> String {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    os.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}
pub fn hostname() -> String {
    let h = read_trim("/proc/sys/kernel/hostname");
    if h.is_empty() {
        "localhost".into()
    } else {
        h.to_lowercase()
    }
}
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The address this host reaches other machines from: the IPv4 address of
/// the default route's interface (read from the kernel; no packets are sent).
/// Falls back to the first local address that is not loopback and not on a
/// pod bridge (a pod bridge's gateway must never be advertised as the node).
pub fn primary_ip() -> Option<String> {
    default_route_interface()
        .and_then(|iface| interface_ipv4(&iface))
        .or_else(first_local_ipv4)
}

fn default_route_interface() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    routes.lines().skip(1).find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.len() > 2 && cols[1] == "00000000").then(|| cols[0].to_string())
    })
}

fn interface_ipv4(iface: &str) -> Option<String> {
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "dev", iface])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .map(str::to_string)
}

fn first_local_ipv4() -> Option<String> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let lines: Vec<&str> = trie.lines().collect();
    lines.windows(2).find_map(|w| {
        let addr = w[0].trim().strip_prefix("|-- ")?;
        let usable = w[1].contains("/32 host LOCAL")
            && !addr.starts_with("127.")
            && !addr.starts_with("10.42.");
        usable.then(|| addr.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_host_facts() {
        assert!(cpu_count() >= 1);
        assert!(memory_bytes() > 64 * 1024 * 1024);
        let (total, avail) = disk_bytes(Path::new("/"));
        assert!(total > 0 && avail <= total);
        assert!(!kernel_version().is_empty());
        let ip = primary_ip().unwrap_or_default();
        assert!(
            ip.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| !a.is_loopback()),
            "{ip}"
        );
        assert!(!ip.starts_with("10.42."), "{ip} is a pod bridge address");
    }
}
