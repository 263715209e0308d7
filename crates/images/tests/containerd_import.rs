//! Imports every image into a throwaway containerd (own root, state and
//! socket under a temp dir; never the machine's default instance) and checks
//! that `ctr -n k8s.io images ls` lists it with our digest, unpacked.
//! Skipped unless running as root with `containerd` and `ctr` installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Containerd {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
    // Dropped after the process is gone (field order: child is stopped in Drop first).
    _dir: tempfile::TempDir,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("berth-images-ctrd")
            .tempdir()
            .expect("tempdir");
        let root = dir.path();
        let socket = root.join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{root}/root"
state = "{root}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{root}/cni"
"#,
            root = root.display(),
            socket = socket.display(),
            pause = berth_images::PAUSE_IMAGE,
        );
        let config_path = root.join("config.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = root.join("containerd.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config_path)
            .stdout(log_file.try_clone().expect("dup"))
            .stderr(log_file)
            .spawn()
            .expect("spawn containerd");
        let containerd = Containerd {
            child,
            socket,
            log,
            _dir: dir,
        };
        containerd.wait_ready();
        containerd
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let ok = self.socket.exists()
                && Command::new("ctr")
                    .arg("-a")
                    .arg(&self.socket)
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "containerd not ready after 30s; log:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// `ctr run --rm --net-host IMAGE ID [ARGS]` in the background: ctr exits
    /// with the container's exit status.
    fn run(&self, image: &str, id: &str, env: &[&str], args: &[&str]) -> Child {
        let mut command = Command::new("ctr");
        command.arg("-a").arg(&self.socket).args([
            "-n",
            berth_images::CRI_NAMESPACE,
            "run",
            "--rm",
            "--net-host",
        ]);
        for var in env {
            command.args(["--env", var]);
        }
        command
            .args([image, id])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ctr run")
    }

    fn ctr(&self, args: &[&str]) -> String {
        let output = Command::new("ctr")
            .arg("-a")
            .arg(&self.socket)
            .args(["-n", berth_images::CRI_NAMESPACE])
            .args(args)
            .output()
            .expect("run ctr");
        assert!(
            output.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // A failed test may leave containers running: their shims outlive
        // containerd and keep rootfs mounts in the temp dir. Kill them first.
        let tasks = Command::new("ctr")
            .arg("-a")
            .arg(&self.socket)
            .args(["-n", berth_images::CRI_NAMESPACE, "tasks", "ls", "-q"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for task in tasks.split_whitespace() {
            for args in [
                &["tasks", "kill", "-s", "SIGKILL", task][..],
                &["tasks", "delete", "-f", task][..],
                &["containers", "delete", task][..],
            ] {
                let _ = Command::new("ctr")
                    .arg("-a")
                    .arg(&self.socket)
                    .args(["-n", berth_images::CRI_NAMESPACE])
                    .args(args)
                    .output();
            }
        }
        // SAFETY: kill(2) on the containerd we started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn usable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    root && have("containerd") && have("ctr") && Path::new(berth_images::DEFAULT_BUSYBOX).exists()
}

#[test]
fn every_image_imports_into_containerd_under_its_name() {
    if !usable() {
        eprintln!("skipped: needs root, containerd, ctr and busybox-static");
        return;
    }
    let containerd = Containerd::start();
    let mut images = vec![berth_images::pause()];
    images.extend(berth_images::demo_images().expect("demo images"));
    let archives = tempfile::tempdir().expect("tempdir");

    // Through a file on disk, as the node agent will do it.
    let pause_archive = archives.path().join("pause.tar");
    images[0]
        .write_oci_archive(std::fs::File::create(&pause_archive).expect("create"))
        .expect("write archive");
    let output = berth_images::import_archive(&pause_archive, &containerd.socket)
        .unwrap_or_else(|e| panic!("import pause: {e}"));
    assert!(
        output.contains(berth_images::PAUSE_IMAGE),
        "ctr said: {output}"
    );
    for image in &images[1..] {
        berth_images::import_image(image, &containerd.socket, archives.path())
            .unwrap_or_else(|e| panic!("import {}: {e}", image.name));
    }
    // Importing again changes nothing (same digests) and succeeds.
    berth_images::import_archive(&pause_archive, &containerd.socket).expect("re-import");

    let listed = containerd.ctr(&["images", "ls"]);
    for image in &images {
        let line = listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(image.name.as_str()))
            .unwrap_or_else(|| panic!("{} not listed:\n{listed}", image.name));
        assert!(line.contains(&image.digest()), "{line}");
        assert!(line.contains("linux/"), "platform shown: {line}");
    }
    // ctr unpacked each image into the overlayfs snapshotter (what CRI needs).
    let checked = containerd.ctr(&["images", "check"]);
    for image in &images {
        let line = checked
            .lines()
            .find(|l| l.starts_with(&image.name))
            .unwrap_or_else(|| panic!("{} not checked:\n{checked}", image.name));
        assert!(line.contains("complete"), "{line}");
        assert!(line.contains("true"), "unpacked: {line}");
    }

    let err =
        berth_images::import_archive(&archives.path().join("missing.tar"), &containerd.socket)
            .expect_err("missing archive");
    assert!(
        matches!(err, berth_images::ImageError::ImportFailed { .. }),
        "{err}"
    );
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// GET / once something listens on `port`; the whole response.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let start = Instant::now();
    let mut stream = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(_) if start.elapsed() < Duration::from_secs(15) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("connect to {port}: {e}"),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET / HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// SIGTERM to the task (`ctr task kill` sends TERM), then ctr run's exit code.
fn stop(containerd: &Containerd, id: &str, mut run: Child) -> (i32, String) {
    let asked = Instant::now();
    containerd.ctr(&["tasks", "kill", id]);
    loop {
        if let Some(status) = run.try_wait().expect("try_wait") {
            let mut output = String::new();
            use std::io::Read;
            if let Some(mut out) = run.stdout.take() {
                let _ = out.read_to_string(&mut output);
            }
            if let Some(mut err) = run.stderr.take() {
                let _ = err.read_to_string(&mut output);
            }
            return (status.code().unwrap_or(-1), output);
        }
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{id} ignored SIGTERM for 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn images_run_as_containers_and_stop_on_sigterm() {
    if !usable() {
        eprintln!("skipped: needs root, containerd, ctr and busybox-static");
        return;
    }
    let containerd = Containerd::start();
    let archives = tempfile::tempdir().expect("tempdir");
    let images = berth_images::demo_images().expect("demo images");
    for image in images.iter().chain([&berth_images::pause()]) {
        berth_images::import_image(image, &containerd.socket, archives.path()).expect("import");
    }
    let id = |what: &str| format!("berth-images-test-{what}-{}", std::process::id());

    // busybox: a shell with applets, users and a writable /tmp.
    let output = Command::new("ctr")
        .arg("-a")
        .arg(&containerd.socket)
        .args([
            "-n",
            "k8s.io",
            "run",
            "--rm",
            "--net-host",
            berth_images::BUSYBOX_IMAGE,
        ])
        .arg(id("busybox"))
        .args([
            "sh",
            "-c",
            "echo hi > /tmp/x && cat /tmp/x && id -un && ls /bin | wc -l",
        ])
        .output()
        .expect("ctr run busybox");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["hi", "root"], "{text}");
    assert!(
        lines[2].trim().parse::<u32>().expect("count") > 100,
        "{text}"
    );

    // pause: runs as 65535 and exits 0 on SIGTERM as PID 1.
    let pause = containerd.run(berth_images::PAUSE_IMAGE, &id("pause"), &[], &[]);
    std::thread::sleep(Duration::from_millis(500));
    let (code, output) = stop(&containerd, &id("pause"), pause);
    assert_eq!(code, 0, "pause: {output}");

    // echo:2 as user 65534 on a free port.
    let port = free_port();
    let env = format!("PORT={port}");
    let echo = containerd.run("localhost/berth/echo:2", &id("echo"), &[&env], &[]);
    let response = http_get(port);
    assert!(response.contains("\r\n\r\necho v2 from "), "{response}");
    let (code, output) = stop(&containerd, &id("echo"), echo);
    assert_eq!(code, 0, "echo: {output}");
    assert!(output.contains("\"GET /\" 200"), "request logged: {output}");

    // httpd behind berth-init (the image's entrypoint; ctr's args replace both
    // entrypoint and cmd, so name it again to move the port).
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "/berth-init",
        "httpd",
        "-f",
        "-v",
        "-p",
        &listen,
        "-h",
        "/www",
    ];
    let httpd = containerd.run(berth_images::HTTPD_IMAGE, &id("httpd"), &[], &args);
    let response = http_get(port);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("Hello from berth httpd"), "{response}");
    let (code, output) = stop(&containerd, &id("httpd"), httpd);
    assert_eq!(code, 0, "httpd: {output}");
}
