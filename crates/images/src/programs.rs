//! The static executables build.rs compiles from `c/*.c`.

/// `pause`: sleeps; exits 0 on TERM/INT; reaps zombies.
pub static PAUSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));
/// `echo VERSION`: HTTP server on $PORT (8080) answering "echo vVERSION from HOSTNAME".
pub static ECHO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/echo"));
/// `init PROGRAM ARGS...`: PID 1 that forwards signals, reaps, exits with the child.
pub static INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/init"));

/// The programs run as plain processes (and, as root, as PID 1 of a new PID
/// namespace, which is how they run in a pod).
#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::time::{Duration, Instant};

    /// Where build.rs left the executables (the bytes embedded above), run
    /// from there rather than from a fresh copy: executing a file another
    /// test thread just wrote can fail with ETXTBSY.
    fn built(program: &str) -> PathBuf {
        std::path::Path::new(env!("OUT_DIR")).join(program)
    }

    fn free_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn terminate(pid: u32) {
        // SAFETY: plain kill(2) on a child we started.
        let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill({pid})");
    }

    fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("process did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// GET `path` once the server accepts connections; returns the whole response.
    fn http_get(port: u16, path: &str) -> String {
        let start = Instant::now();
        let mut stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => break stream,
                Err(_) if start.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("connect to {port}: {e}"),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
    }

    fn hostname() -> String {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("hostname")
            .trim()
            .to_string()
    }

    /// The host PID of the single child of `pid` (unshare's forked PID 1).
    fn only_child(pid: u32) -> u32 {
        let start = Instant::now();
        loop {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if let Some(child) = children.split_whitespace().next() {
                return child.parse().expect("pid");
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "unshare never forked"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn echo_answers_with_version_and_hostname_then_exits_0_on_sigterm() {
        let port = free_port();
        let mut server = Command::new(built("echo"))
            .arg("7")
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn echo");
        let response = http_get(port, "/hello");
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        let expected_body = format!("echo v7 from {}\n", hostname());
        assert!(
            response.contains(&format!("Content-Length: {}\r\n", expected_body.len())),
            "{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{expected_body}")),
            "{response}"
        );

        // A client that connects and says nothing must not block the next one
        // for longer than the server's read timeout.
        let silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let started = Instant::now();
        assert!(http_get(port, "/after-silent").contains("echo v7"));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        drop(silent);

        let asked = Instant::now();
        terminate(server.id());
        let status = wait_with_timeout(&mut server, Duration::from_secs(2));
        assert_eq!(status.code(), Some(0), "{status}");
        assert!(asked.elapsed() < Duration::from_millis(500), "prompt exit");
        let mut log = String::new();
        server
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut log)
            .expect("log");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "start line + one per request: {log}");
        assert!(lines[0].contains(&format!("port {port}")), "{log}");
        assert!(lines[1].contains("\"GET /hello\" 200"), "{log}");
        assert!(lines[2].contains("/after-silent"), "{log}");
    }

    #[test]
    fn echo_reports_the_pod_hostname() {
        if !is_root() {
            eprintln!("skipped: needs root for a UTS namespace");
            return;
        }
        let port = free_port();
        let mut server = Command::new("unshare")
            .args([
                "--uts",
                "--",
                "sh",
                "-c",
                "hostname web-5d9f-x2k && exec \"$0\" 2",
            ])
            .arg(built("echo"))
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn unshare");
        let response = http_get(port, "/");
        assert!(
            response.ends_with("\r\n\r\necho v2 from web-5d9f-x2k\n"),
            "{response}"
        );
        terminate(server.id());
        assert_eq!(
            wait_with_timeout(&mut server, Duration::from_secs(2)).code(),
            Some(0)
        );
    }

    #[test]
    fn echo_rejects_a_bad_port() {
        let status = Command::new(built("echo"))
            .env("PORT", "99999")
            .stderr(Stdio::null())
            .status()
            .expect("run");
        assert_eq!(status.code(), Some(2));
    }

    #[test]
    fn pause_keeps_running_until_sigterm_then_exits_0() {
        let mut pause = Command::new(built("pause")).spawn().expect("spawn pause");
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            pause.try_wait().expect("try_wait").is_none(),
            "pause exited early"
        );
        terminate(pause.id());
        let status = wait_with_timeout(&mut pause, Duration::from_secs(2));
        assert_eq!(status.code(), Some(0), "{status}");
    }

    #[test]
    fn pause_as_pid_1_exits_0_on_sigterm() {
        if !is_root() {
            eprintln!("skipped: needs root for a PID namespace");
            return;
        }
        let mut unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--"])
            .arg(built("pause"))
            .spawn()
            .expect("spawn unshare");
        let pid1 = only_child(unshare.id());
        std::thread::sleep(Duration::from_millis(100));
        terminate(pid1);
        // unshare exits with its child's status.
        let status = wait_with_timeout(&mut unshare, Duration::from_secs(2));
        assert_eq!(status.code(), Some(0), "{status}");
    }

    #[test]
    fn init_runs_busybox_httpd_and_exits_0_on_sigterm() {
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), "hello from www\n").expect("write");
        let port = free_port();
        let mut init = Command::new(built("init"))
            .arg(crate::DEFAULT_BUSYBOX)
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(www.path())
            .spawn()
            .expect("spawn init");
        let response = http_get(port, "/index.html");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("hello from www\n"), "{response}");
        terminate(init.id());
        let status = wait_with_timeout(&mut init, Duration::from_secs(2));
        assert_eq!(status.code(), Some(0), "{status}");
    }

    #[test]
    fn init_passes_on_the_child_exit_status() {
        let status = Command::new(built("init"))
            .args(["sh", "-c", "exit 3"])
            .status()
            .expect("run init");
        assert_eq!(status.code(), Some(3));
        let status = Command::new(built("init"))
            .arg("/nonexistent/program")
            .stderr(Stdio::null())
            .status()
            .expect("run init");
        assert_eq!(status.code(), Some(127));
    }

    #[test]
    fn init_as_pid_1_stops_busybox_httpd_on_sigterm() {
        if !is_root() {
            eprintln!("skipped: needs root for a PID namespace");
            return;
        }
        let www = tempfile::tempdir().expect("tempdir");
        std::fs::write(www.path().join("index.html"), "pid one\n").expect("write");
        let port = free_port();
        let mut unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--"])
            .arg(built("init"))
            .arg(crate::DEFAULT_BUSYBOX)
            .args(["httpd", "-f", "-p", &format!("127.0.0.1:{port}"), "-h"])
            .arg(www.path())
            .spawn()
            .expect("spawn unshare");
        let pid1 = only_child(unshare.id());
        assert!(http_get(port, "/").ends_with("pid one\n"));
        terminate(pid1);
        let status = wait_with_timeout(&mut unshare, Duration::from_secs(2));
        assert_eq!(status.code(), Some(0), "{status}");
    }
}
