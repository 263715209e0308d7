//! Real-nft tests: load the rendered table into a throwaway network namespace
//! and check what the kernel holds, then send real TCP traffic through it.
//! Skipped (with a message) when not root or without `nft`/`ip`.

use berth_proxy::fixtures::{node, pod, ready, service, slice, unready, Ep};
use berth_proxy::netns::{skip_reason, TestNetns};
use berth_proxy::{names, render, ClusterObjects, Nft, Ruleset, SyncKind, Syncer};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

macro_rules! skip_unless_capable {
    () => {
        if let Some(reason) = skip_reason() {
            println!("SKIPPED: real-nft test needs root, nft and ip: {reason}");
            return;
        }
    };
}

fn objects(services: Vec<Service>, slices: Vec<EndpointSlice>) -> ClusterObjects {
    ClusterObjects {
        services: services.into_iter().map(Arc::new).collect(),
        endpoint_slices: slices.into_iter().map(Arc::new).collect(),
        ..Default::default()
    }
}

const WEB_PORTS: &[(&str, &str, i32)] = &[("http", "TCP", 80)];
const SLICE_PORTS: &[(&str, &str, i32)] = &[("http", "TCP", 8080)];

fn web(cluster_ip: &str) -> Service {
    let mut svc = service("default", "web", cluster_ip, WEB_PORTS);
    if let Some(spec) = svc.spec.as_mut() {
        spec.type_ = Some("NodePort".into());
        if let Some(p) = spec.ports.as_mut().and_then(|p| p.first_mut()) {
            p.node_port = Some(30080);
        }
    }
    svc
}

fn web_slice(eps: &[Ep<'_>]) -> EndpointSlice {
    slice("default", "web", "web-1", eps, SLICE_PORTS)
}

/// (chain names, map name → element count) as the kernel lists them.
fn kernel_state(nft: &Nft) -> (BTreeSet<String>, HashMap<String, usize>) {
    let json = nft.list_table_json().expect("list table");
    let mut chains = BTreeSet::new();
    let mut elements = HashMap::new();
    for item in json["nftables"].as_array().into_iter().flatten() {
        if let Some(name) = item["chain"]["name"].as_str() {
            chains.insert(name.to_string());
        }
        for kind in ["map", "set"] {
            if let Some(name) = item[kind]["name"].as_str() {
                let count = item[kind]["elem"].as_array().map(Vec::len).unwrap_or(0);
                elements.insert(name.to_string(), count);
            }
        }
    }
    (chains, elements)
}

fn dynamic_chains(rs: &Ruleset) -> BTreeSet<String> {
    rs.chains.keys().cloned().collect()
}

#[test]
fn full_then_partial_sync_matches_the_kernel() {
    skip_unless_capable!();
    let ns = TestNetns::create().expect("netns");
    let nft = Nft::new(ns.nft_target());
    let mut syncer = Syncer::new(nft.clone());
    let n = node();

    let mut affinity = service("default", "sticky", "10.96.0.30", &[("", "UDP", 53)]);
    if let Some(spec) = affinity.spec.as_mut() {
        spec.session_affinity = Some("ClientIP".into());
    }
    let sticky_slice = slice(
        "default",
        "sticky",
        "sticky-1",
        &[ready("10.42.0.11", "node-a")],
        &[("", "UDP", 5353)],
    );
    let empty = service("default", "empty", "10.96.0.20", WEB_PORTS);
    let mut objs = objects(
        vec![web("10.96.0.10"), affinity, empty],
        vec![
            web_slice(&[ready("10.42.0.11", "node-a"), ready("10.42.1.12", "node-b")]),
            sticky_slice,
        ],
    );
    let first = render(&n, &objs);
    let report = syncer.sync(first.clone()).expect("full sync");
    assert_eq!(report.kind, SyncKind::Full);
    let (chains, elements) = kernel_state(&nft);
    for chain in dynamic_chains(&first) {
        assert!(chains.contains(&chain), "kernel lacks {chain}");
    }
    assert!(chains.contains("nat-prerouting") && chains.contains("policy-ingress"));
    assert_eq!(elements["service-ips"], 2, "web + sticky ClusterIPs");
    assert_eq!(elements["service-nodeports"], 1);
    assert_eq!(elements["no-endpoint-services"], 1, "empty service rejects");
    assert_eq!(elements["cluster-ips"], 3);
    assert_eq!(elements["nodeport-ips"], 1);
    assert_eq!(first.sets.len(), 1, "one affinity set");

    // Same objects: nothing to do.
    assert_eq!(
        syncer.sync(first.clone()).expect("noop").kind,
        SyncKind::Unchanged
    );

    // One endpoint replaced: only its chains and the service chain change.
    objs.endpoint_slices[0] = Arc::new(web_slice(&[
        ready("10.42.0.11", "node-a"),
        unready("10.42.1.12", "node-b"),
        ready("10.42.0.13", "node-a"),
    ]));
    let second = render(&n, &objs);
    let script = berth_proxy::diff_script(&first, &second).expect("same skeleton");
    assert_eq!(script.matches("add chain").count(), 1, "{script}");
    assert_eq!(script.matches("delete chain").count(), 1, "{script}");
    assert!(!script.contains("element"), "{script}");
    assert_eq!(
        syncer.sync(second.clone()).expect("partial").kind,
        SyncKind::Partial
    );
    let (chains, _) = kernel_state(&nft);
    assert_eq!(
        chains
            .iter()
            .filter(|c| c.contains('/'))
            .cloned()
            .collect::<BTreeSet<_>>(),
        dynamic_chains(&second)
    );

    // The service is deleted: its elements and chains go in one transaction.
    objs.services.remove(0);
    let third = render(&n, &objs);
    assert_eq!(
        syncer.sync(third.clone()).expect("partial").kind,
        SyncKind::Partial
    );
    let (chains, elements) = kernel_state(&nft);
    assert_eq!(
        chains
            .iter()
            .filter(|c| c.contains('/'))
            .cloned()
            .collect::<BTreeSet<_>>(),
        dynamic_chains(&third)
    );
    assert_eq!(elements.get("service-nodeports").copied().unwrap_or(0), 0);
    assert_eq!(elements["cluster-ips"], 2);

    berth_proxy::cleanup(nft.target()).expect("cleanup");
    assert!(nft.list_table_json().is_err(), "table is gone");
    berth_proxy::cleanup(nft.target()).expect("cleanup twice is fine");
}

/// A node namespace with bridge `berth0` (10.42.0.1/24), node IP
/// 192.168.50.1 as a second address of the bridge (no dummy links here), a
/// default route (output-path DNAT needs a route to the VIP first), and "pods" (own namespaces, veth into the
/// bridge) each running busybox httpd on :8080 that answers its own name.
struct Lab {
    node: TestNetns,
    pods: Vec<TestNetns>,
    servers: Vec<Child>,
    docroot: std::path::PathBuf,
}

impl Lab {
    fn new(pod_count: usize) -> Lab {
        let node = TestNetns::create().expect("node netns");
        node.sh(
            "ip link add berth0 type bridge && ip addr add 10.42.0.1/24 dev berth0 && ip link set berth0 up && \
             ip addr add 192.168.50.1/32 dev berth0 && \
             ip route add default dev berth0 && \
             echo 1 > /proc/sys/net/ipv4/ip_forward",
        )
        .expect("node network");
        berth_proxy::ensure_bridge_netfilter(&node.nft_target()).expect("br_netfilter knob");
        let docroot = std::env::temp_dir().join(&node.name);
        let mut lab = Lab {
            node,
            pods: Vec::new(),
            servers: Vec::new(),
            docroot,
        };
        for i in 1..=pod_count {
            lab.add_pod(i);
        }
        lab
    }

    fn pod_ip(i: usize) -> String {
        format!("10.42.0.{}", 10 + i)
    }

    fn add_pod(&mut self, i: usize) {
        let pod = TestNetns::create().expect("pod netns");
        let ip = Self::pod_ip(i);
        self.node
            .sh(&format!(
                "ip link add vp{i} type veth peer name eth0 netns {pod} && ip link set vp{i} master berth0 && \
                 ip link set vp{i} up && ip link set vp{i} type bridge_slave hairpin on",
                pod = pod.name
            ))
            .expect("veth");
        pod.sh(&format!(
            "ip addr add {ip}/24 dev eth0 && ip link set eth0 up && ip route add default via 10.42.0.1"
        ))
        .expect("pod address");
        let dir = self.docroot.join(format!("pod{i}"));
        std::fs::create_dir_all(&dir).expect("docroot");
        std::fs::write(dir.join("index.html"), format!("pod{i}\n")).expect("index");
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &pod.name,
                "/bin/busybox",
                "httpd",
                "-f",
                "-p",
                "8080",
                "-h",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("httpd");
        self.servers.push(server);
        self.pods.push(pod);
        // Wait until it answers on its own address.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.get(&self.node, &format!("{ip}:8080")).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Body of `GET http://addr/` from namespace `from`, or None on failure.
    fn get(&self, from: &TestNetns, addr: &str) -> Option<String> {
        // (busybox 1.35 wget segfaults on -T: bound it with timeout instead)
        from.sh(&format!(
            "timeout 2 /bin/busybox wget -q -O - http://{addr}/"
        ))
        .ok()
        .map(|s| s.trim().to_string())
    }

    /// The raw error text of a failing request.
    fn get_error(&self, from: &TestNetns, addr: &str) -> String {
        match from.sh(&format!(
            "timeout 2 /bin/busybox wget -q -O - http://{addr}/"
        )) {
            Ok(body) => format!("unexpected success: {body}"),
            Err(e) => e,
        }
    }

    /// An "internet" host 203.0.113.2 behind a veth from the node, with no
    /// route back to the pod network: pods reach it only when masqueraded.
    fn add_outside(&mut self) -> TestNetns {
        let outside = TestNetns::create().expect("outside netns");
        self.node
            .sh(&format!(
                "ip link add up0 type veth peer name eth0 netns {} && ip addr add 203.0.113.1/24 dev up0 && ip link set up0 up",
                outside.name
            ))
            .expect("uplink");
        outside
            .sh("ip addr add 203.0.113.2/24 dev eth0 && ip link set eth0 up")
            .expect("outside address");
        let dir = self.docroot.join("outside");
        std::fs::create_dir_all(&dir).expect("docroot");
        std::fs::write(dir.join("index.html"), "outside\n").expect("index");
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &outside.name,
                "/bin/busybox",
                "httpd",
                "-f",
                "-p",
                "8080",
                "-h",
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("httpd");
        self.servers.push(server);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.get(&self.node, "203.0.113.2:8080").is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        outside
    }

    fn nft(&self) -> Nft {
        Nft::new(self.node.nft_target())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.docroot);
    }
}

fn responders(lab: &Lab, from: &TestNetns, addr: &str, tries: usize) -> BTreeSet<String> {
    (0..tries).filter_map(|_| lab.get(from, addr)).collect()
}

#[test]
fn traffic_reaches_ready_endpoints_only() {
    skip_unless_capable!();
    let mut lab = Lab::new(3);
    let _outside = lab.add_outside();
    let mut syncer = Syncer::new(lab.nft());
    let n = node();
    // Before our table exists the outside host cannot answer a pod.
    assert_eq!(
        lab.get(&lab.pods[0], "203.0.113.2:8080"),
        None,
        "no route back yet"
    );
    let eps = |a: bool, b: bool, c: bool| {
        let pick = |on: bool, ip: &'static str| {
            if on {
                ready(ip, "node-a")
            } else {
                unready(ip, "node-a")
            }
        };
        web_slice(&[
            pick(a, "10.42.0.11"),
            pick(b, "10.42.0.12"),
            pick(c, "10.42.0.13"),
        ])
    };
    let mut objs = objects(
        vec![
            web("10.96.0.10"),
            service("default", "empty", "10.96.0.20", WEB_PORTS),
        ],
        vec![eps(true, true, false)],
    );
    syncer.sync(render(&n, &objs)).expect("full sync");

    let want: BTreeSet<String> = ["pod1", "pod2"].iter().map(|s| s.to_string()).collect();
    // Host process → ClusterIP (output path).
    assert_eq!(
        responders(&lab, &lab.node, "10.96.0.10:80", 30),
        want,
        "from the node"
    );
    // Pod → ClusterIP over the bridge, including itself (hairpin).
    assert_eq!(
        responders(&lab, &lab.pods[0], "10.96.0.10:80", 30),
        want,
        "from pod1"
    );
    // NodePort on the node IP.
    assert_eq!(
        responders(&lab, &lab.node, "192.168.50.1:30080", 30),
        want,
        "nodeport"
    );
    // No endpoints: rejected at once, not a timeout.
    let started = Instant::now();
    let err = lab.get_error(&lab.pods[1], "10.96.0.20:80");
    assert!(err.contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Undefined port of a ClusterIP: rejected as well.
    let err = lab.get_error(&lab.node, "10.96.0.10:81");
    assert!(err.contains("refused"), "{err}");

    // Pod egress to the outside is masqueraded to the node's address.
    assert_eq!(
        lab.get(&lab.pods[0], "203.0.113.2:8080").as_deref(),
        Some("outside"),
        "pod egress"
    );

    // Partial update: pod1 turns unready, pod3 ready.
    objs.endpoint_slices[0] = Arc::new(eps(false, true, true));
    let report = syncer.sync(render(&n, &objs)).expect("partial");
    assert_eq!(report.kind, SyncKind::Partial);
    let want: BTreeSet<String> = ["pod2", "pod3"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        responders(&lab, &lab.pods[0], "10.96.0.10:80", 30),
        want,
        "after update"
    );
}

fn policy(json: serde_json::Value) -> Arc<NetworkPolicy> {
    Arc::new(serde_json::from_value(json).expect("policy json"))
}

#[test]
fn network_policy_filters_same_node_pod_traffic() {
    skip_unless_capable!();
    let lab = Lab::new(3);
    let mut syncer = Syncer::new(lab.nft());
    let n = node();
    let pods: Vec<Arc<Pod>> = vec![
        pod(
            "default",
            "p1",
            "10.42.0.11",
            "node-a",
            &[("app", "client")],
            &[("http", 8080)],
        ),
        pod(
            "default",
            "p2",
            "10.42.0.12",
            "node-a",
            &[("app", "server")],
            &[("http", 8080)],
        ),
        pod(
            "other",
            "p3",
            "10.42.0.13",
            "node-a",
            &[("app", "client")],
            &[("http", 8080)],
        ),
    ]
    .into_iter()
    .map(Arc::new)
    .collect();
    let namespaces: Vec<Arc<Namespace>> = ["default", "other"]
        .iter()
        .map(|name| {
            Arc::new(
                serde_json::from_value(
                    serde_json::json!({"metadata": {"name": name, "labels": {"team": name}}}),
                )
                .expect("ns"),
            )
        })
        .collect();
    let p2 = "10.42.0.12:8080";
    let mut objs = ClusterObjects {
        pods,
        namespaces,
        ..Default::default()
    };
    syncer.sync(render(&n, &objs)).expect("no policies");
    assert_eq!(
        lab.get(&lab.pods[2], p2).as_deref(),
        Some("pod2"),
        "open without policies"
    );

    // p2 accepts only app=client pods of its own namespace, on its named port.
    objs.network_policies = vec![policy(serde_json::json!({
        "metadata": {"namespace": "default", "name": "server-in"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "server"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": "http"}]}]
        }
    }))];
    syncer.sync(render(&n, &objs)).expect("ingress policy");
    assert_eq!(
        lab.get(&lab.pods[0], p2).as_deref(),
        Some("pod2"),
        "p1 allowed"
    );
    assert_eq!(
        lab.get(&lab.pods[2], p2),
        None,
        "p3 is in another namespace"
    );
    assert_eq!(
        lab.get(&lab.pods[1], "10.42.0.11:8080").as_deref(),
        Some("pod1"),
        "p1 not isolated"
    );

    // Egress default deny for p1 (a second policy): p1 loses p2, p3 still blocked.
    objs.network_policies.push(policy(serde_json::json!({
        "metadata": {"namespace": "default", "name": "client-out"},
        "spec": {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]}
    })));
    let report = syncer.sync(render(&n, &objs)).expect("egress policy");
    assert_eq!(report.kind, SyncKind::Partial);
    assert_eq!(lab.get(&lab.pods[0], p2), None, "p1 egress denied");
    // The node itself is never filtered (kubelet probes).
    assert_eq!(lab.get(&lab.node, p2).as_deref(), Some("pod2"));

    // Namespace selector + ipBlock with except.
    objs.network_policies = vec![policy(serde_json::json!({
        "metadata": {"namespace": "default", "name": "server-in"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "server"}},
            "ingress": [{"from": [
                {"namespaceSelector": {"matchLabels": {"team": "other"}}},
                {"ipBlock": {"cidr": "10.42.0.0/24", "except": ["10.42.0.11/32"]}}
            ]}]
        }
    }))];
    syncer.sync(render(&n, &objs)).expect("ns selector");
    assert_eq!(
        lab.get(&lab.pods[2], p2).as_deref(),
        Some("pod2"),
        "p3 via namespaceSelector"
    );
    assert_eq!(
        lab.get(&lab.pods[0], p2),
        None,
        "p1 excepted from the ipBlock"
    );
    let chain = names::policy_ingress_chain("default", "p2");
    assert!(lab.nft().list_table().expect("list").contains(&chain));
}
