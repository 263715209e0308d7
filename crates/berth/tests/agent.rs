//! End to end through the node agent: a real `berth up` (API server,
//! containerd, kubelet) and the real kubectl. Each test creates pods bound to
//! the node in its own namespace and asserts what a Kubernetes user sees in
//! `kubectl get pod -o json`, in events and in container logs.
//!
//! Needs root, containerd and kubectl 1.32; skipped (with a message) otherwise.
//! Not covered: the agent restarting while containers keep running (stopping
//! berth stops containerd too, so there is no meaningful way to do it yet).

#[path = "agent/harness.rs"]
mod harness;
use harness::*;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn ip_in_pod_cidr(ip: &str) -> bool {
    ip.parse::<Ipv4Addr>()
        .is_ok_and(|ip| ip.octets()[..3] == [10, 42, 0] && ip.octets()[3] > 1)
}

#[test]
fn httpd_and_echo_pods_run_and_serve() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-run");
    a.create(
        &ns,
        pod_manifest("web", json!([{"name": "web", "image": HTTPD}]), json!({})),
    );
    let limits = json!({"cpu": "100m", "memory": "64Mi"});
    a.create(
        &ns,
        pod_manifest(
            "echo-a",
            json!([{"name": "echo", "image": ECHO,
                    "resources": {"requests": limits.clone(), "limits": limits}}]),
            json!({}),
        ),
    );

    for (name, container, qos) in [
        ("web", "web", "BestEffort"),
        ("echo-a", "echo", "Guaranteed"),
    ] {
        let p = a.wait_running_ready(&ns, name);
        let st = &p["status"];
        let ip = st["podIP"].as_str().unwrap_or_default();
        assert!(
            ip_in_pod_cidr(ip),
            "{name}: podIP {ip:?} not in 10.42.0.0/24: {st:#}"
        );
        assert_eq!(st["podIPs"][0]["ip"], ip, "{st:#}");
        assert_eq!(
            st["hostIP"],
            a.node_ip.as_str(),
            "{name}: hostIP is the node's InternalIP"
        );
        assert_eq!(st["qosClass"], qos, "{st:#}");
        assert!(st["startTime"].is_string(), "{st:#}");
        for c in [
            "Initialized",
            "ContainersReady",
            "PodScheduled",
            "PodReadyToStartContainers",
        ] {
            assert_eq!(condition(&p, c), "True", "{name}: condition {c}: {st:#}");
        }
        let cs = cstatus(&p, container);
        assert!(
            cs["containerID"].as_str().is_some_and(
                |id| id.len() > "containerd://".len() && id.starts_with("containerd://")
            ),
            "{cs:#}"
        );
        assert!(
            cs["imageID"].as_str().is_some_and(|i| !i.is_empty()),
            "{cs:#}"
        );
        assert_eq!(cs["ready"], true, "{cs:#}");
        assert_eq!(cs["started"], true, "{cs:#}");
        assert_eq!(cs["restartCount"], 0, "{cs:#}");
        assert!(cs["state"]["running"]["startedAt"].is_string(), "{cs:#}");
    }
    // Distinct pods get distinct IPs.
    let web = a.pod(&ns, "web");
    let echo = a.pod(&ns, "echo-a");
    let web_ip = web["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let echo_ip = echo["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_ne!(web_ip, echo_ip);

    let page = http_get(&web_ip, 8080, "/");
    assert!(
        page.starts_with("HTTP/1.") && page.contains(" 200 "),
        "{page}"
    );
    assert!(page.contains("Hello from berth httpd"), "{page}");
    let answer = http_get(&echo_ip, 8080, "/");
    assert!(
        answer.contains("echo v1 from echo-a"),
        "the echo image answers with its hostname (the pod name): {answer}"
    );

    let events = a.event_lines(&ns, "web");
    for reason in ["Pulled", "Created", "Started"] {
        assert!(
            events.contains(&format!("Normal {reason} [spec.containers{{web}}]")),
            "{events}"
        );
    }
    // kubectl's table: READY 1/1, STATUS Running.
    let row = a.kubectl_ok(&["get", "pod", "web", "-n", &ns, "--no-headers"], None);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.get(1..4), Some(&["1/1", "Running", "0"][..]), "{row}");
}

#[test]
fn crashing_containers_follow_the_restart_policy() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let k = Checks::new("crashing_containers_follow_the_restart_policy");
    let ns = a.namespace("agent-crash");
    let fail = busybox("main", "echo dying; exit 3");
    a.create(
        &ns,
        pod_manifest("always", json!([fail.clone()]), json!({})),
    );
    let watch = PodWatch::start(a, &ns, "always");
    a.create(
        &ns,
        pod_manifest("never", json!([fail]), json!({"restartPolicy": "Never"})),
    );
    a.create(
        &ns,
        pod_manifest(
            "onfailure",
            json!([busybox("main", "exit 0")]),
            json!({"restartPolicy": "OnFailure"}),
        ),
    );

    // restartPolicy Never: the pod fails, the container is not restarted.
    let p = a.wait_pod(&ns, "never", "phase Failed", |p| {
        p["status"]["phase"] == "Failed"
    });
    let t = &cstatus(&p, "main")["state"]["terminated"];
    k.that(
        t["exitCode"] == 3 && t["reason"] == "Error",
        format!("never: terminated {t}"),
    );
    k.that(
        t["containerID"].is_string() && t["finishedAt"].is_string(),
        format!("never: terminated {t}"),
    );
    k.that(restart_count(&p, "main") == 0, "never: restarted");
    k.that(condition(&p, "Ready") == "False", "never: Ready not False");

    // OnFailure and exit 0: Succeeded.
    let p = a.wait_pod(&ns, "onfailure", "phase Succeeded", |p| {
        p["status"]["phase"] == "Succeeded"
    });
    let t = &cstatus(&p, "main")["state"]["terminated"];
    k.that(
        t["exitCode"] == 0 && t["reason"] == "Completed",
        format!("onfailure: terminated {t}"),
    );
    k.that(restart_count(&p, "main") == 0, "onfailure: restarted");

    // Always: restarted once at once, then CrashLoopBackOff with a 10 s back-off.
    let p = a.wait_pod(&ns, "always", "CrashLoopBackOff", |p| {
        waiting_reason(p, "main") == "CrashLoopBackOff"
    });
    let cs = cstatus(&p, "main");
    k.that(
        cs["lastState"]["terminated"]["exitCode"] == 3
            && cs["lastState"]["terminated"]["reason"] == "Error",
        format!("always: lastState {}", cs["lastState"]),
    );
    k.that(cs["ready"] == false, "always: ready while crash-looping");
    k.that(
        p["status"]["phase"] == "Running",
        format!(
            "always: phase {} (Kubernetes: Running while crash-looping with restartPolicy Always)",
            p["status"]["phase"]
        ),
    );
    let first_backoff = watch
        .wait(Duration::from_secs(1), |v| {
            waiting_reason(v, "main") == "CrashLoopBackOff"
        })
        .unwrap_or(p.clone());
    let first = cstatus(&first_backoff, "main");
    k.that(
        first["restartCount"] == 1
            && first["state"]["waiting"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("back-off 10s restarting failed container=main pod=always_agent-crash(")),
        format!("always: first CrashLoopBackOff (Kubernetes: restartCount 1, `back-off 10s restarting failed container=main pod=always_agent-crash(<uid>)`): {first}"),
    );
    let count = restart_count(&p, "main");
    k.that(count >= 1, format!("always: restartCount {count}"));
    if let Err(p) = a.try_wait_pod(&ns, "always", Duration::from_secs(25), |p| {
        restart_count(p, "main") > count
    }) {
        k.that(
            false,
            format!(
                "always: restartCount stayed {count} for 25 s (Kubernetes restarts after the 10 s back-off); state now {}",
                cstatus(&p, "main")["state"]
            ),
        );
    }
    k.event(
        a,
        &ns,
        "always",
        "Warning",
        "BackOff",
        "Back-off restarting failed container main in pod always_agent-crash(",
    );
    // Every attempt logs to its own file.
    let p = a.pod(&ns, "always");
    k.that(
        a.log(&p, "main", 0).contains("dying"),
        "always: 0.log lacks the output",
    );
    k.that(
        a.log(&p, "main", 1).contains("dying"),
        "always: 1.log lacks the output",
    );
    // Between a restart and the next sync (≤ 1 s, like the kubelet's PLEG
    // relist) a container that exits at once may still show Running: poll.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut status = a.status_column(&ns, "always");
    while status != "CrashLoopBackOff" && status != "Error" && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
        status = a.status_column(&ns, "always");
    }
    k.that(
        status == "CrashLoopBackOff" || status == "Error",
        format!("always: kubectl STATUS {status}"),
    );
    k.finish();
}

#[test]
fn init_containers_run_in_order_before_the_app() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let k = Checks::new("init_containers_run_in_order_before_the_app");
    let ns = a.namespace("agent-init");
    let mount = json!([{"name": "work", "mountPath": "/work"}]);
    let mut first = busybox("first", "sleep 3; echo first >> /work/order");
    first["volumeMounts"] = mount.clone();
    let mut second = busybox("second", "echo second >> /work/order");
    second["volumeMounts"] = mount.clone();
    let mut app = busybox("app", "cat /work/order; echo APP-END; exec sleep 3600");
    app["volumeMounts"] = mount;
    a.create(
        &ns,
        pod_manifest(
            "init",
            json!([app]),
            json!({"initContainers": [first, second], "terminationGracePeriodSeconds": 1,
                   "volumes": [{"name": "work", "emptyDir": {}}]}),
        ),
    );

    // While the first init container runs: Init:0/2, the others wait in PodInitializing.
    let p = a.wait_pod(&ns, "init", "the first init container running", |p| {
        cstatus(p, "first")["state"]["running"].is_object()
    });
    let column = a.status_column(&ns, "init");
    k.that(
        column == "Init:0/2",
        format!("kubectl STATUS while the first init runs: {column}"),
    );
    k.that(
        p["status"]["phase"] == "Pending",
        format!("phase {}", p["status"]["phase"]),
    );
    k.that(
        condition(&p, "Initialized") == "False",
        "Initialized not False",
    );
    for c in ["second", "app"] {
        let r = waiting_reason(&p, c);
        k.that(
            r == "PodInitializing",
            format!("{c} waits with reason {r:?}, Kubernetes: PodInitializing"),
        );
    }

    let p = a.wait_running_ready(&ns, "init");
    k.that(
        condition(&p, "Initialized") == "True",
        "Initialized not True",
    );
    for name in ["first", "second"] {
        let cs = cstatus(&p, name);
        let t = &cs["state"]["terminated"];
        k.that(
            t["exitCode"] == 0 && t["reason"] == "Completed" && cs["ready"] == true,
            format!("{name}: {cs}"),
        );
    }
    let time = |c: &str, path: [&str; 2]| {
        cstatus(&p, c)["state"][path[0]][path[1]]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let (first_done, second_done) = (
        time("first", ["terminated", "finishedAt"]),
        time("second", ["terminated", "finishedAt"]),
    );
    let app_started = time("app", ["running", "startedAt"]);
    k.that(
        !first_done.is_empty() && first_done <= second_done && second_done <= app_started,
        format!(
            "order: first done {first_done}, second done {second_done}, app started {app_started}"
        ),
    );
    let log = a.wait_log(&ns, "init", "app", 0, "APP-END");
    assert_eq!(
        log, "first\nsecond\nAPP-END\n",
        "the inits ran in order before the app"
    );
    let column = a.status_column(&ns, "init");
    k.that(column == "Running", format!("kubectl STATUS {column}"));
    k.finish();
}

#[test]
fn environment_from_every_source() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-env");
    a.create(
        &ns,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
               "data": {"color": "blue", "size": "L"}}),
    );
    a.create(
        &ns,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
               "stringData": {"password": "hunter2"}}),
    );
    let mut c = busybox("show", "env | sort; echo ENV-END; exec sleep 3600");
    c["env"] = json!([
        {"name": "PLAIN", "value": "plain"},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
        {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "password"}}},
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "COMBINED", "value": "$(PLAIN)-and-$(COLOR)"},
    ]);
    c["envFrom"] = json!([
        {"configMapRef": {"name": "cfg"}, "prefix": "CM_"},
        {"secretRef": {"name": "sec"}},
    ]);
    a.create(
        &ns,
        pod_manifest(
            "env",
            json!([c]),
            json!({"terminationGracePeriodSeconds": 1}),
        ),
    );
    let p = a.wait_running_ready(&ns, "env");
    let log = a.wait_log(&ns, "env", "show", 0, "ENV-END");
    let ip = p["status"]["podIP"].as_str().unwrap_or_default();
    for line in [
        "PLAIN=plain".to_string(),
        "COLOR=blue".into(),
        "PASS=hunter2".into(),
        "MY_NAME=env".into(),
        "MY_NS=agent-env".into(),
        format!("MY_IP={ip}"),
        "COMBINED=plain-and-blue".into(),
        "CM_color=blue".into(),
        "CM_size=L".into(),
        "password=hunter2".into(),
        "HOSTNAME=env".into(),
    ] {
        assert!(
            log.lines().any(|l| l == line),
            "missing {line:?} in the container's env:\n{log}"
        );
    }
}

#[test]
fn volumes_empty_dir_config_map_and_host_path() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-vol");
    a.create(
        &ns,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"},
               "data": {"greeting": "hello from a configmap"}}),
    );
    let host_dir = a.work.join("hostpath");
    std::fs::create_dir_all(&host_dir).expect("host dir");
    std::fs::write(host_dir.join("hello"), "hello from the host\n").expect("host file");
    // First run leaves a mark in the emptyDir and crashes; the restart must find it.
    let mut c = busybox(
        "main",
        "if [ -f /scratch/mark ]; then echo second-run; cat /etc/site/greeting; echo; \
         cat /host/hello; echo written > /host/from-pod; echo VOL-END; exec sleep 3600; \
         else echo first-run > /scratch/mark; exit 1; fi",
    );
    c["volumeMounts"] = json!([
        {"name": "scratch", "mountPath": "/scratch"},
        {"name": "site", "mountPath": "/etc/site"},
        {"name": "host", "mountPath": "/host"},
    ]);
    a.create(
        &ns,
        pod_manifest(
            "vol",
            json!([c]),
            json!({"terminationGracePeriodSeconds": 1, "volumes": [
                {"name": "scratch", "emptyDir": {}},
                {"name": "site", "configMap": {"name": "site"}},
                {"name": "host", "hostPath": {"path": host_dir.display().to_string(), "type": "Directory"}},
            ]}),
        ),
    );
    let p = a.wait_pod(&ns, "vol", "the restarted container running", |p| {
        restart_count(p, "main") >= 1 && cstatus(p, "main")["state"]["running"].is_object()
    });
    assert_eq!(
        restart_count(&p, "main"),
        1,
        "the emptyDir mark survived, so one restart is enough"
    );
    assert_eq!(
        cstatus(&p, "main")["lastState"]["terminated"]["exitCode"],
        1
    );
    let log = a.wait_log(&ns, "vol", "main", 1, "VOL-END");
    assert!(log.starts_with("second-run\n"), "{log}");
    assert!(
        log.contains("hello from a configmap"),
        "configMap volume: {log}"
    );
    assert!(
        log.contains("hello from the host"),
        "hostPath volume: {log}"
    );
    assert_eq!(
        std::fs::read_to_string(host_dir.join("from-pod")).unwrap_or_default(),
        "written\n",
        "a write to the hostPath shows on the host"
    );
}

#[test]
fn probes_gate_readiness_restart_and_startup() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let k = Checks::new("probes_gate_readiness_restart_and_startup");
    let ns = a.namespace("agent-probe");
    let http = |path: &str| json!({"httpGet": {"path": path, "port": 8080}, "periodSeconds": 1, "failureThreshold": 1});
    let mut c = busybox("slow", "sleep 4; touch /tmp/started; exec sleep 3600");
    c["startupProbe"] = json!({"exec": {"command": ["cat", "/tmp/started"]}, "periodSeconds": 1, "failureThreshold": 30});
    c["readinessProbe"] = json!({"exec": {"command": ["true"]}, "periodSeconds": 1});
    a.create(
        &ns,
        pod_manifest(
            "startup",
            json!([c]),
            json!({"terminationGracePeriodSeconds": 1}),
        ),
    );
    let mut c = json!({"name": "web", "image": HTTPD});
    c["readinessProbe"] = http("/nope");
    a.create(&ns, pod_manifest("notready", json!([c.clone()]), json!({})));
    c["readinessProbe"] = http("/");
    a.create(&ns, pod_manifest("ready", json!([c]), json!({})));
    let mut c = json!({"name": "web", "image": HTTPD});
    c["livenessProbe"] = http("/nope");
    a.create(&ns, pod_manifest("live", json!([c]), json!({})));

    // Startup probe: running but neither started nor ready until it passes.
    let p = a.wait_pod(&ns, "startup", "the container running", |p| {
        cstatus(p, "slow")["state"]["running"].is_object()
    });
    let cs = cstatus(&p, "slow");
    k.that(
        cs["started"] == false && cs["ready"] == false,
        format!("startup: before the probe passes: {cs}"),
    );
    k.that(
        condition(&p, "Ready") == "False",
        "startup: Ready before the startup probe passed",
    );
    let p = a.wait_running_ready(&ns, "startup");
    let cs = cstatus(&p, "slow");
    k.that(
        cs["started"] == true && restart_count(&p, "slow") == 0,
        format!("startup: after: {cs}"),
    );
    k.event(
        a,
        &ns,
        "startup",
        "Warning",
        "Unhealthy",
        "Startup probe failed: cat: can't open '/tmp/started'",
    );

    // Readiness: a failing probe keeps the pod Running but not Ready.
    a.wait_running_ready(&ns, "ready");
    k.event(
        a,
        &ns,
        "notready",
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 404",
    );
    let p = a.pod(&ns, "notready");
    k.that(
        p["status"]["phase"] == "Running",
        format!("notready: phase {}", p["status"]["phase"]),
    );
    k.that(
        condition(&p, "Ready") == "False",
        "notready: Ready not False",
    );
    k.that(
        condition(&p, "ContainersReady") == "False",
        "notready: ContainersReady not False",
    );
    let cs = cstatus(&p, "web");
    k.that(
        cs["ready"] == false && cs["started"] == true,
        format!("notready: {cs}"),
    );
    k.that(
        restart_count(&p, "web") == 0,
        "notready: readiness failures restarted the container",
    );

    // Liveness: a failing probe restarts the container.
    k.event(
        a,
        &ns,
        "live",
        "Warning",
        "Unhealthy",
        "Liveness probe failed: HTTP probe failed with statuscode: 404",
    );
    k.event(
        a,
        &ns,
        "live",
        "Normal",
        "Killing",
        "Container web failed liveness probe, will be restarted",
    );
    match a.try_wait_pod(&ns, "live", Duration::from_secs(20), |p| {
        restart_count(p, "web") >= 1
    }) {
        Ok(p) => {
            let last = &cstatus(&p, "web")["lastState"]["terminated"];
            k.that(
                last.is_object(),
                format!("live: no lastState.terminated: {}", cstatus(&p, "web")),
            );
        }
        Err(p) => {
            k.that(
                false,
                format!("live: never restarted: {}", cstatus(&p, "web")),
            );
        }
    }
    k.finish();
}

#[test]
fn memory_hog_is_oom_killed() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-oom");
    let mut c = busybox("hog", "x=a; while true; do x=$x$x; done");
    c["resources"] = json!({"limits": {"memory": "32Mi"}});
    a.create(
        &ns,
        pod_manifest("hog", json!([c]), json!({"restartPolicy": "Never"})),
    );
    let p = a.wait_pod(&ns, "hog", "phase Failed", |p| {
        p["status"]["phase"] == "Failed"
    });
    let t = &cstatus(&p, "hog")["state"]["terminated"];
    assert_eq!(t["reason"], "OOMKilled", "{t:#}");
    assert_eq!(t["exitCode"], 137, "{t:#}");
    // A memory limit alone (requests default to it, cpu unset): Burstable.
    assert_eq!(p["status"]["qosClass"], "Burstable");
}

#[test]
fn bad_images_and_commands_are_reported_and_others_keep_running() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let k = Checks::new("bad_images_and_commands_are_reported_and_others_keep_running");
    let ns = a.namespace("agent-bad");
    a.create(
        &ns,
        pod_manifest(
            "bystander",
            json!([{"name": "web", "image": HTTPD}]),
            json!({}),
        ),
    );
    a.wait_running_ready(&ns, "bystander");
    let image = "localhost/berth/nope:1";
    a.create(
        &ns,
        pod_manifest(
            "noimage",
            json!([{"name": "main", "image": image}]),
            json!({}),
        ),
    );
    let pulls = PodWatch::start(a, &ns, "noimage");
    let mut c = busybox("main", "");
    c["command"] = json!(["/no/such/binary"]);
    a.create(&ns, pod_manifest("badcmd", json!([c]), json!({})));
    let starts = PodWatch::start(a, &ns, "badcmd");

    // A missing image: ErrImagePull, then ImagePullBackOff, with events saying why.
    let p = a.wait_pod(&ns, "noimage", "ImagePullBackOff", |p| {
        waiting_reason(p, "main") == "ImagePullBackOff"
    });
    let reasons = pulls.waiting_reasons("main");
    k.that(
        reasons.iter().any(|r| r == "ErrImagePull"),
        format!("noimage: waiting reasons seen {reasons:?}, Kubernetes shows ErrImagePull first"),
    );
    k.that(
        p["status"]["phase"] == "Pending",
        format!("noimage: phase {}", p["status"]["phase"]),
    );
    let message = cstatus(&p, "main")["state"]["waiting"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    k.that(
        message.contains(image),
        format!("noimage: ImagePullBackOff message {message:?}"),
    );
    k.event(
        a,
        &ns,
        "noimage",
        "Warning",
        "Failed",
        &format!("Failed to pull image \"{image}\": "),
    );
    k.event(
        a,
        &ns,
        "noimage",
        "Warning",
        "Failed",
        "Error: ErrImagePull",
    );
    k.event(
        a,
        &ns,
        "noimage",
        "Normal",
        "BackOff",
        &format!("Back-off pulling image \"{image}\""),
    );
    k.event(
        a,
        &ns,
        "noimage",
        "Warning",
        "Failed",
        "Error: ImagePullBackOff",
    );

    // A command that does not exist: the runtime's message as RunContainerError
    // (containerd fails the start) or CreateContainerError.
    let seen = starts.wait(Duration::from_secs(20), |v| {
        matches!(
            waiting_reason(v, "main").as_str(),
            "RunContainerError" | "CreateContainerError"
        )
    });
    match seen {
        Some(v) => {
            let w = &cstatus(&v, "main")["state"]["waiting"];
            k.that(
                w["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("/no/such/binary")),
                format!("badcmd: waiting {w}"),
            );
        }
        None => {
            k.that(
                false,
                format!(
                    "badcmd: never RunContainerError/CreateContainerError; reasons seen {:?}",
                    starts.waiting_reasons("main")
                ),
            );
        }
    }
    k.event(a, &ns, "badcmd", "Warning", "Failed", "/no/such/binary");
    let p = a.pod(&ns, "badcmd");
    k.that(condition(&p, "Ready") != "True", "badcmd: Ready");

    // The healthy pod never noticed.
    let p = a.pod(&ns, "bystander");
    assert_eq!(p["status"]["phase"], "Running");
    assert_eq!(condition(&p, "Ready"), "True");
    assert_eq!(restart_count(&p, "web"), 0);
    assert!(
        http_get(p["status"]["podIP"].as_str().unwrap_or_default(), 8080, "/")
            .contains("Hello from berth httpd")
    );
    k.finish();
}

#[test]
fn deletion_honours_sigterm_and_the_grace_period() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-delete");
    a.create(
        &ns,
        pod_manifest("web", json!([{"name": "web", "image": HTTPD}]), json!({})),
    );
    a.create(
        &ns,
        pod_manifest(
            "sleeper",
            json!([busybox("sleep", "exec sleep 3600")]),
            json!({"terminationGracePeriodSeconds": 2}),
        ),
    );
    let web = a.wait_running_ready(&ns, "web");
    let sleeper = a.wait_running_ready(&ns, "sleeper");
    let uid = |p: &Value| {
        p["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (web_uid, sleeper_uid) = (uid(&web), uid(&sleeper));
    assert_eq!(
        a.runtime_containers(&web_uid).len(),
        2,
        "sandbox + web in containerd"
    );
    assert_eq!(
        a.runtime_containers(&sleeper_uid).len(),
        2,
        "sandbox + sleep in containerd"
    );

    // httpd (behind an init that forwards TERM) stops at once.
    let start = Instant::now();
    a.kubectl_ok(&["delete", "pod", "web", "-n", &ns], None);
    let web_took = start.elapsed();
    assert!(
        web_took < Duration::from_secs(5),
        "deleting httpd took {web_took:?}"
    );

    // sleep as PID 1 ignores TERM: killed after the 2 s grace period.
    let start = Instant::now();
    a.kubectl_ok(&["delete", "pod", "sleeper", "-n", &ns], None);
    let sleeper_took = start.elapsed();
    assert!(
        sleeper_took >= Duration::from_millis(1800) && sleeper_took < Duration::from_secs(8),
        "deleting a TERM-ignoring pod with a 2 s grace period took {sleeper_took:?}"
    );

    for name in ["web", "sleeper"] {
        let out = a.kubectl(&["get", "pod", name, "-n", &ns], None);
        assert!(!out.status.success(), "{name} still exists");
        assert!(String::from_utf8_lossy(&out.stderr).contains("NotFound"));
    }
    let events = a.event_lines(&ns, "sleeper");
    assert!(
        events.contains("Normal Killing [spec.containers{sleep}] Stopping container sleep"),
        "{events}"
    );
    for (name, uid) in [("web", &web_uid), ("sleeper", &sleeper_uid)] {
        let start = Instant::now();
        loop {
            let left = a.runtime_containers(uid);
            if left.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{name}: containers left in containerd: {left:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `berth image import FILE.tar`: an archive imported under a new name runs as a pod.
#[test]
fn an_imported_image_archive_runs_as_a_pod() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-import");
    let mut image = berth_images::echo(1);
    image.name = "localhost/test/imported:7".into();
    let archive = a.work.join("imported.tar");
    let file = std::fs::File::create(&archive).expect("archive file");
    image.write_oci_archive(file).expect("write archive");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["image", "import"])
        .arg(&archive)
        .arg("--data-dir")
        .arg(&a.data)
        .output()
        .expect("berth image import");
    assert!(
        out.status.success(),
        "berth image import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    a.create(
        &ns,
        pod_manifest(
            "imported",
            json!([{"name": "echo", "image": "localhost/test/imported:7", "imagePullPolicy": "Never"}]),
            json!({}),
        ),
    );
    let p = a.wait_running_ready(&ns, "imported");
    let ip = p["status"]["podIP"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        http_get(&ip, 8080, "/").contains("echo v1 from imported"),
        "pod {ip} did not answer"
    );
}

/// GET a path on the node server with the cluster admin's certificate.
fn node_server_get(a: &Agent, path: &str) -> String {
    let node = a.kubectl_ok(&["get", "node", &a.node_name, "-o", "json"], None);
    let node: Value = serde_json::from_str(&node).unwrap_or_default();
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .unwrap_or(10250);
    let pki = a.data.join("pki");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(pki.join("ca.crt"))
        .arg("--cert")
        .arg(pki.join("admin.crt"))
        .arg("--key")
        .arg(pki.join("admin.key"))
        .arg(format!("https://{}:{port}{path}", a.node_ip))
        .output()
        .expect("running curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hooks_termination_messages_and_stats_summary() {
    let _flag = FailureFlag;
    let Some(a) = agent() else { return };
    let ns = a.namespace("agent-hooks");
    let never = json!({"restartPolicy": "Never", "terminationGracePeriodSeconds": 2});
    let mut msg = busybox(
        "msg",
        "printf 'bye from msg' > /dev/termination-log; exit 3",
    );
    msg["terminationMessagePolicy"] = json!("File");
    a.create(&ns, pod_manifest("msg", json!([msg]), never.clone()));
    let mut fallback = busybox("fallback", "echo first; echo last words; exit 2");
    fallback["terminationMessagePolicy"] = json!("FallbackToLogsOnError");
    a.create(
        &ns,
        pod_manifest("fallback", json!([fallback]), never.clone()),
    );
    let mut hooked = busybox(
        "hooked",
        "while [ ! -f /ps ]; do sleep 0.2; done; cat /ps > /dev/termination-log",
    );
    hooked["lifecycle"] =
        json!({"postStart": {"exec": {"command": ["sh", "-c", "echo poststart > /ps"]}}});
    a.create(&ns, pod_manifest("hooked", json!([hooked]), never.clone()));
    let mut bad = busybox("bad", "trap 'exit 0' TERM; while true; do sleep 1; done");
    bad["lifecycle"] = json!({"postStart": {"exec": {"command": ["sh", "-c", "exit 1"]}}});
    a.create(&ns, pod_manifest("badhook", json!([bad]), never));
    let limits = json!({"cpu": "200m", "memory": "32Mi"});
    let mut busy = busybox("spin", "while true; do :; done");
    busy["resources"] = json!({"requests": limits.clone(), "limits": limits});
    a.create(&ns, pod_manifest("busy", json!([busy]), json!({})));

    let terminated = |name: &str, container: &str| {
        let p = a.wait_pod(&ns, name, "terminated", |p| {
            cstatus(p, container)["state"]["terminated"].is_object()
        });
        cstatus(&p, container)["state"]["terminated"].clone()
    };
    let t = terminated("msg", "msg");
    assert_eq!(t["message"], "bye from msg", "{t:#}");
    assert_eq!(t["exitCode"], 3, "{t:#}");
    let t = terminated("fallback", "fallback");
    assert_eq!(t["message"], "first\nlast words\n", "{t:#}");
    let t = terminated("hooked", "hooked");
    assert_eq!(
        t["message"], "poststart\n",
        "postStart ran before the app read /ps: {t:#}"
    );
    assert_eq!(t["exitCode"], 0, "{t:#}");

    // A failing postStart kills the container (its TERM trap exits 0); events as the kubelet's.
    let p = a.wait_pod(&ns, "badhook", "phase Succeeded", |p| {
        p["status"]["phase"] == "Succeeded"
    });
    assert_eq!(
        cstatus(&p, "bad")["state"]["terminated"]["exitCode"],
        0,
        "{:#}",
        p["status"]
    );
    let events = a.event_lines(&ns, "badhook");
    assert!(
        events.contains("Warning FailedPostStartHook [spec.containers{bad}] PostStartHook failed"),
        "{events}"
    );
    assert!(
        events.contains("Normal Killing [spec.containers{bad}] FailedPostStartHook"),
        "{events}"
    );

    // The Summary API: the spinning pod shows CPU near its 200m limit and some memory.
    a.wait_running_ready(&ns, "busy");
    let start = Instant::now();
    loop {
        let last = node_server_get(a, "/stats/summary");
        let summary: Value = serde_json::from_str(&last).unwrap_or_default();
        let pod = summary["pods"].as_array().and_then(|pods| {
            pods.iter()
                .find(|p| p["podRef"]["namespace"] == ns.as_str() && p["podRef"]["name"] == "busy")
                .cloned()
        });
        let cores = pod
            .as_ref()
            .and_then(|p| p["containers"][0]["cpu"]["usageNanoCores"].as_u64());
        if let (Some(pod), Some(cores)) = (pod, cores) {
            assert_eq!(
                summary["node"]["nodeName"],
                a.node_name.as_str(),
                "{summary:#}"
            );
            assert!(
                summary["node"]["cpu"]["usageCoreNanoSeconds"]
                    .as_u64()
                    .is_some(),
                "{summary:#}"
            );
            assert!(summary["node"]["memory"]["workingSetBytes"]
                .as_u64()
                .is_some_and(|w| w > 0));
            assert!(summary["node"]["fs"]["capacityBytes"]
                .as_u64()
                .is_some_and(|c| c > 0));
            assert_eq!(pod["containers"][0]["name"], "spin");
            assert!(pod["podRef"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
            assert!(
                (100_000_000..=260_000_000).contains(&cores),
                "a spinning container limited to 200m uses about 0.2 cores: {cores} in {pod:#}"
            );
            assert!(
                pod["containers"][0]["memory"]["workingSetBytes"]
                    .as_u64()
                    .is_some_and(|w| w > 0),
                "{pod:#}"
            );
            assert!(pod["cpu"]["usageNanoCores"].as_u64().is_some(), "{pod:#}");
            assert!(
                pod["memory"]["workingSetBytes"].as_u64().is_some(),
                "{pod:#}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no CPU rate for busy in /stats/summary: {last}"
        );
        std::thread::sleep(Duration::from_secs(3));
    }
}
