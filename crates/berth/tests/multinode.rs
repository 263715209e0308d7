//! Multi-node end-to-end tests: a `berth server` and two `berth agent`s in
//! network namespaces, real containerd, real kubectl. See multinode/cluster.rs.

#[path = "multinode/cluster.rs"]
mod cluster;

use cluster::cluster;
use std::collections::BTreeSet;

#[test]
fn agents_join_with_the_token_and_replicas_spread_over_both_nodes() {
    let Some(c) = cluster() else { return };
    let nodes = c.json(&["get", "nodes"]);
    let names: BTreeSet<String> = nodes["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, BTreeSet::from(["n1".to_string(), "n2".to_string()]));
    // The node reports the address it joined with.
    let n1 = c.json(&["get", "node", "n1"]);
    assert!(
        n1["status"]["addresses"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["address"] == format!("10.99.{}.11", c.id))),
        "n1 addresses: {}",
        n1["status"]["addresses"]
    );

    c.kubectl_ok(&["create", "namespace", "spread"], None);
    c.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            "spread",
            "--image=localhost/berth/echo:1",
            "--replicas=4",
        ],
        None,
    );
    let pods = c.wait_in("spread", "4 ready replicas", cluster::DEADLINE, || {
        let pods = c.ready_pods("spread", "app=web");
        (pods.len() == 4).then_some(pods)
    });
    let used: BTreeSet<&str> = pods.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(used.len(), 2, "replicas should use both nodes: {pods:?}");
    // Exec reaches a pod on a joined node through that node's server.
    c.kubectl_ok(
        &[
            "run",
            "bb",
            "-n",
            "spread",
            "--image=localhost/berth/busybox:1",
            "--overrides={\"spec\":{\"nodeSelector\":{\"kubernetes.io/hostname\":\"n2\"}}}",
            "--",
            "sleep",
            "3600",
        ],
        None,
    );
    c.wait_in("spread", "bb ready on n2", cluster::DEADLINE, || {
        let ready = c.ready_pods("spread", "run=bb");
        (ready.len() == 1 && ready[0].1 == "n2").then_some(())
    });
    let out = c.kubectl_ok(&["exec", "-n", "spread", "bb", "--", "hostname"], None);
    assert_eq!(out.trim(), "bb");
}

#[test]
fn a_wrong_token_is_refused_with_a_clear_error() {
    let Some(c) = cluster() else { return };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["agent", "--server", &c.server_url])
        .args(["--token", &format!("berth::{}::wrong", "0".repeat(64))])
        .args(["--node-name", "intruder", "--data-dir"])
        .arg(c.work.join("intruder"))
        .output()
        .expect("run berth agent");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wrong server, or a token from another cluster"),
        "stderr: {err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["agent", "--server", &c.server_url, "--token", "nonsense"])
        .args(["--data-dir"])
        .arg(c.work.join("intruder"))
        .output()
        .expect("run berth agent");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("berth::<64 hex digits>::<secret>"));
}

/// A busybox pod to run commands from, pinned to `node`. (Its wget crashes
/// with `-T`, Debian busybox-static 1.35; tests use `timeout N wget`.)
fn client_pod(c: &cluster::Cluster, ns: &str, name: &str, node: &str, labels: &str) {
    let manifest = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{{labels}}}}},
        "spec":{{"nodeSelector":{{"kubernetes.io/hostname":"{node}"}},"terminationGracePeriodSeconds":0,
        "containers":[{{"name":"c","image":"localhost/berth/busybox:1","command":["sleep","3600"]}}]}}}}"#
    );
    c.kubectl_ok(&["create", "-f", "-"], Some(&manifest));
}

fn exec(c: &cluster::Cluster, ns: &str, pod: &str, script: &str) -> std::process::Output {
    c.kubectl(&["exec", "-n", ns, pod, "--", "sh", "-c", script], None)
}

/// The echo image answers `echo v<version> from <pod name>`: the pod names seen.
fn answering_pods(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.split(" from ").nth(1))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn services_spread_over_ready_pods_across_nodes_and_have_dns_names() {
    let Some(c) = cluster() else { return };
    let ns = "net";
    c.kubectl_ok(&["create", "namespace", ns], None);
    c.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            ns,
            "--image=localhost/berth/echo:1",
            "--replicas=3",
        ],
        None,
    );
    c.kubectl_ok(
        &[
            "expose",
            "deployment",
            "web",
            "-n",
            ns,
            "--port=80",
            "--target-port=8080",
        ],
        None,
    );
    client_pod(c, ns, "client", "n1", r#""role":"client""#);
    let web = c.wait_in(
        ns,
        "3 web replicas and the client ready",
        cluster::DEADLINE,
        || {
            let web = c.ready_pods(ns, "app=web");
            let client = c.ready_pods(ns, "role=client");
            (web.len() == 3 && client.len() == 1).then_some(web)
        },
    );
    let nodes: BTreeSet<&str> = web.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(nodes.len(), 2, "replicas on both nodes: {web:?}");

    // Pod to pod across nodes, by pod IP (host-gw routes, no NAT).
    let (remote, _) = web
        .iter()
        .find(|(_, n)| n == "n2")
        .expect("a replica on n2");
    let pod = c.json(&["get", "pod", "-n", ns, remote]);
    let ip = pod["status"]["podIP"].as_str().expect("pod IP").to_string();
    // (Routes follow the Node objects, so allow them a moment.)
    c.wait_in(ns, "n1 → pod on n2 by IP", cluster::DEADLINE, || {
        let out = exec(
            c,
            ns,
            "client",
            &format!("timeout 3 wget -qO- http://{ip}:8080/"),
        );
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("from {remote}"))
            .then_some(())
    });

    // The Service VIP, by its short name (search path) and its FQDN, spreads
    // over every ready replica on both nodes.
    let seen = c.wait_in(
        ns,
        "the VIP to reach every replica",
        cluster::DEADLINE,
        || {
            let out = exec(
                c,
                ns,
                "client",
                "for i in $(seq 40); do timeout 2 wget -qO- http://web; done",
            );
            let seen = answering_pods(&String::from_utf8_lossy(&out.stdout));
            (seen.len() == 3).then_some(seen)
        },
    );
    let names: BTreeSet<String> = web.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(seen, names);
    let out = exec(
        c,
        ns,
        "client",
        "timeout 2 wget -qO- http://web.net.svc.cluster.local",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("echo v1 from"),
        "{out:?}"
    );
    let svc = c.json(&["get", "svc", "-n", ns, "web"]);
    let cluster_ip = svc["spec"]["clusterIP"]
        .as_str()
        .expect("clusterIP")
        .to_string();
    let out = exec(c, ns, "client", "nslookup web.net.svc.cluster.local");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&cluster_ip),
        "{out:?}"
    );

    // Headless: the name resolves to the ready pods themselves.
    let headless = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web-direct","namespace":"net"},
        "spec":{"clusterIP":"None","selector":{"app":"web"},"ports":[{"name":"http","port":8080}]}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(headless));
    c.wait_in(ns, "headless name → 3 pod IPs", cluster::DEADLINE, || {
        let out = exec(c, ns, "client", "nslookup web-direct.net.svc.cluster.local");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.contains(&ip) && text.matches("Address").count() >= 4).then_some(())
    });

    // NodePort, from the host, on either node's address.
    c.kubectl_ok(
        &[
            "expose",
            "deployment",
            "web",
            "-n",
            ns,
            "--name=web-np",
            "--type=NodePort",
            "--port=80",
            "--target-port=8080",
        ],
        None,
    );
    let np = c.json(&["get", "svc", "-n", ns, "web-np"]);
    let node_port = np["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .expect("nodePort");
    for node_ip in [format!("10.99.{}.11", c.id), format!("10.99.{}.12", c.id)] {
        let body = c.wait_in(ns, "NodePort answer", cluster::DEADLINE, || {
            http_get(&format!("{node_ip}:{node_port}")).filter(|b| b.contains("echo v1 from"))
        });
        assert!(body.contains("echo v1 from"));
    }

    // LoadBalancer, k3s-style: served on every node's address at its port.
    c.kubectl_ok(
        &[
            "expose",
            "deployment",
            "web",
            "-n",
            ns,
            "--name=web-lb",
            "--type=LoadBalancer",
            "--port=8081",
            "--target-port=8080",
        ],
        None,
    );
    let ingress = c.wait_in(
        ns,
        "LoadBalancer ingress = node IPs",
        cluster::DEADLINE,
        || {
            let lb = c.json(&["get", "svc", "-n", ns, "web-lb"]);
            let ips: Vec<String> = lb["status"]["loadBalancer"]["ingress"]
                .as_array()?
                .iter()
                .filter_map(|i| i["ip"].as_str().map(str::to_string))
                .collect();
            (ips.len() == 2).then_some(ips)
        },
    );
    assert_eq!(
        ingress,
        [format!("10.99.{}.11", c.id), format!("10.99.{}.12", c.id)]
    );
    let body = c.wait_in(ns, "LoadBalancer answer", cluster::DEADLINE, || {
        http_get(&format!("{}:8081", ingress[1])).filter(|b| b.contains("echo v1 from"))
    });
    assert!(body.contains("echo v1 from"));

    // Deleting the Service removes its name and its rules.
    c.kubectl_ok(&["delete", "svc", "web", "-n", ns], None);
    c.wait_in(
        ns,
        "the deleted Service to stop answering",
        cluster::DEADLINE,
        || {
            let out = exec(
                c,
                ns,
                "client",
                "nslookup web.net.svc.cluster.local; timeout 2 wget -qO- http://web",
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (!text.contains(&cluster_ip) && !text.contains("echo v1")).then_some(())
        },
    );
}

/// The DNS names of the Kubernetes DNS spec beyond plain A records, asked from
/// a pod through the node's cluster DNS: SRV for named ports (ClusterIP and
/// headless), pod A records, and names outside the cluster forwarded to the
/// upstream nameserver (the harness's fake one, `--dns-upstream`).
#[test]
fn dns_answers_srv_for_named_ports_pod_names_and_forwards_outside_names() {
    let Some(c) = cluster() else { return };
    let ns = "names";
    c.kubectl_ok(&["create", "namespace", ns], None);
    c.kubectl_ok(
        &[
            "create",
            "deployment",
            "web",
            "-n",
            ns,
            "--image=localhost/berth/echo:1",
            "--replicas=2",
        ],
        None,
    );
    let services = [
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"names"},
         "spec":{"selector":{"app":"web"},"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080}]}}"#,
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web-direct","namespace":"names"},
         "spec":{"clusterIP":"None","selector":{"app":"web"},"ports":[{"name":"http","protocol":"TCP","port":8080}]}}"#,
    ];
    for service in services {
        c.kubectl_ok(&["create", "-f", "-"], Some(service));
    }
    client_pod(c, ns, "client", "n1", r#""role":"client""#);
    c.wait_in(
        ns,
        "2 web replicas and the client",
        cluster::DEADLINE,
        || {
            (c.ready_pods(ns, "app=web").len() == 2 && c.ready_pods(ns, "role=client").len() == 1)
                .then_some(())
        },
    );
    let pod_ips: BTreeSet<String> = c.json(&["get", "pods", "-n", ns, "-l", "app=web"])["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["status"]["podIP"].as_str().map(str::to_string))
        .collect();
    assert_eq!(pod_ips.len(), 2, "{pod_ips:?}");

    // SRV of a ClusterIP Service's named port: the service port and the
    // Service's own name (busybox prints `<name>\tservice = prio weight port target`).
    let srv = c.wait_in(
        ns,
        "SRV of the ClusterIP Service",
        cluster::DEADLINE,
        || {
            let out = exec(
                c,
                ns,
                "client",
                "nslookup -type=SRV _http._tcp.web.names.svc.cluster.local",
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("service =").then_some(text)
        },
    );
    let answers: Vec<&str> = srv
        .lines()
        .filter_map(|l| l.split("service = ").nth(1))
        .collect();
    assert_eq!(answers, ["0 100 80 web.names.svc.cluster.local"], "{srv}");

    // Headless: one SRV per ready endpoint, the endpoint's port, and a
    // per-pod target `<dashed pod IP>.web-direct...` that resolves to that pod.
    let expected: BTreeSet<String> = pod_ips
        .iter()
        .map(|ip| {
            format!(
                "0 50 8080 {}.web-direct.names.svc.cluster.local",
                ip.replace('.', "-")
            )
        })
        .collect();
    let srv = c.wait_in(ns, "SRV of the headless Service", cluster::DEADLINE, || {
        let out = exec(
            c,
            ns,
            "client",
            "nslookup -type=SRV _http._tcp.web-direct.names.svc.cluster.local",
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let answers: BTreeSet<String> = text
            .lines()
            .filter_map(|l| l.split("service = ").nth(1))
            .map(str::to_string)
            .collect();
        (answers == expected).then_some(text)
    });
    let first_ip = pod_ips.iter().next().expect("a pod IP");
    let target = format!(
        "{}.web-direct.names.svc.cluster.local",
        first_ip.replace('.', "-")
    );
    let out = exec(c, ns, "client", &format!("nslookup {target}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Address: {first_ip}")),
        "SRV target {target} → {text}\n(SRV: {srv})"
    );

    // Pod A record: `<dashed IP>.<ns>.pod.<zone>` answers the IP, and HTTP by it reaches the pod.
    let pod_name = format!("{}.names.pod.cluster.local", first_ip.replace('.', "-"));
    let out = exec(c, ns, "client", &format!("nslookup {pod_name}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Address: {first_ip}")), "{text}");
    let out = exec(
        c,
        ns,
        "client",
        &format!("timeout 3 wget -qO- http://{pod_name}:8080/"),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("echo v1 from web-"),
        "{out:?}"
    );

    // Outside names go to the upstream: its answer comes back unchanged, and
    // its NXDOMAIN stays NXDOMAIN (no cluster answer in between).
    let outside = cluster::upstream_dns::OUTSIDE_NAME.trim_end_matches('.');
    let out = exec(c, ns, "client", &format!("nslookup {outside}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains(&format!("Address: {}", cluster::upstream_dns::OUTSIDE_IP)),
        "{text}"
    );
    let out = exec(c, ns, "client", "nslookup nothere.example");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("NXDOMAIN"), "{text}");
    assert!(!text.contains("Address: 10."), "no cluster address: {text}");
    let asked = c.upstream_dns.questions();
    for question in ["outside.example. A", "nothere.example. A"] {
        assert!(
            asked.iter().any(|q| q == question),
            "the upstream was asked {question:?}: {asked:?}"
        );
    }
    // Cluster names are answered by the cluster DNS and never forwarded.
    assert!(
        !asked.iter().any(|q| q.contains("cluster.local")),
        "cluster names reached the upstream: {asked:?}"
    );
}

/// One plain HTTP GET from the host; the body, if anything answered.
fn http_get(addr: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut s =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

#[test]
fn unready_pods_get_no_traffic_and_network_policies_deny_and_allow() {
    let Some(c) = cluster() else { return };
    let ns = "policy";
    c.kubectl_ok(&["create", "namespace", ns], None);
    // Two echo pods behind one Service; one never passes its readiness probe.
    for (name, port) in [("ready", 8080), ("unready", 9999)] {
        let pod = format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"app":"echo"}}}},
            "spec":{{"terminationGracePeriodSeconds":0,"containers":[{{"name":"echo","image":"localhost/berth/echo:1",
            "readinessProbe":{{"tcpSocket":{{"port":{port}}},"periodSeconds":1}}}}]}}}}"#
        );
        c.kubectl_ok(&["create", "-f", "-"], Some(&pod));
    }
    c.kubectl_ok(
        &[
            "expose",
            "pod",
            "ready",
            "-n",
            ns,
            "--name=echo",
            "--port=80",
            "--target-port=8080",
            "--selector=app=echo",
        ],
        None,
    );
    client_pod(c, ns, "allowed", "n1", r#""role":"client""#);
    client_pod(c, ns, "stranger", "n2", r#""role":"other""#);
    c.wait_in(ns, "ready pod and clients", cluster::DEADLINE, || {
        (c.ready_pods(ns, "app=echo").len() == 1 && c.ready_pods(ns, "role").len() == 2)
            .then_some(())
    });
    let out = exec(
        c,
        ns,
        "allowed",
        "for i in $(seq 20); do timeout 2 wget -qO- http://echo; done",
    );
    let seen = answering_pods(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        seen,
        BTreeSet::from(["ready".to_string()]),
        "only the ready pod answers"
    );

    // Deny all ingress to app=echo, then allow it from role=client only.
    let deny = r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"policy"},
        "spec":{"podSelector":{"matchLabels":{"app":"echo"}},"policyTypes":["Ingress"]}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(deny));
    c.wait_in(
        ns,
        "the deny policy to cut traffic",
        cluster::DEADLINE,
        || {
            let out = exec(c, ns, "allowed", "timeout 2 wget -qO- http://echo");
            (!String::from_utf8_lossy(&out.stdout).contains("echo v1")).then_some(())
        },
    );
    let allow = r#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"allow-clients","namespace":"policy"},
        "spec":{"podSelector":{"matchLabels":{"app":"echo"}},"policyTypes":["Ingress"],
        "ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],"ports":[{"port":8080}]}]}}"#;
    c.kubectl_ok(&["create", "-f", "-"], Some(allow));
    c.wait_in(
        ns,
        "the allow policy to let the client in",
        cluster::DEADLINE,
        || {
            let out = exec(c, ns, "allowed", "timeout 2 wget -qO- http://echo");
            String::from_utf8_lossy(&out.stdout)
                .contains("echo v1 from ready")
                .then_some(())
        },
    );
    let out = exec(c, ns, "stranger", "timeout 2 wget -qO- http://echo");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("echo v1"),
        "a pod the policy does not allow stays out: {out:?}"
    );
}

/// A tool, not a check: `BERTH_HOLD_CLUSTER=600 cargo test --test multinode hold`
/// keeps a cluster up for poking at by hand; without the variable it does nothing.
#[test]
fn hold() {
    let Some(secs) = std::env::var("BERTH_HOLD_CLUSTER")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return;
    };
    let Some(c) = cluster() else { return };
    eprintln!(
        "KUBECONFIG={} work={}",
        c.kubeconfig.display(),
        c.work.display()
    );
    std::thread::sleep(std::time::Duration::from_secs(secs));
}

#[test]
fn kubectl_top_reads_node_and_pod_metrics() {
    let Some(c) = cluster() else { return };
    let ns = "top";
    c.kubectl_ok(&["create", "namespace", ns], None);
    client_pod(c, ns, "busy", "n2", r#""app":"busy""#);
    c.wait_in(ns, "busy ready", cluster::DEADLINE, || {
        (c.ready_pods(ns, "app=busy").len() == 1).then_some(())
    });
    let nodes = c.wait_in(ns, "kubectl top node", cluster::DEADLINE, || {
        let out = c.kubectl(&["top", "node"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && text.contains("n1") && text.contains("n2")).then_some(text)
    });
    assert!(
        nodes.contains("CPU(cores)") && nodes.contains("MEMORY"),
        "{nodes}"
    );
    let pods = c.wait_in(ns, "kubectl top pod", cluster::DEADLINE, || {
        let out = c.kubectl(
            &["top", "pod", "-n", ns, "-l", "app=busy", "--containers"],
            None,
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && text.contains("busy")).then_some(text)
    });
    assert!(pods.contains("MEMORY(bytes)"), "{pods}");
    let out = c.kubectl(&["top", "pod", "-n", ns, "nothere"], None);
    assert!(!out.status.success());
}
