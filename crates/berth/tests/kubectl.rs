//! The real kubectl (1.32 by default; $KUBECTL to choose) against a real
//! `berth server`: every command of the control-plane issue, checking the
//! printed text and the stored objects.

mod common;
use common::{eventually, repo_root, Cluster};
use serde_json::Value;
use std::time::Duration;

fn web_yaml() -> String {
    repo_root().join("examples/web.yaml").display().to_string()
}

#[test]
fn version_and_discovery() {
    let c = Cluster::shared();
    let v = c.kubectl(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&v).expect("version json");
    assert_eq!(v["serverVersion"]["major"], "1");
    assert_eq!(v["serverVersion"]["minor"], "33");

    let res = c.kubectl(&["api-resources"]);
    let line = res
        .lines()
        .find(|l| l.starts_with("deployments "))
        .expect("deployments listed");
    for word in ["deploy", "apps/v1", "true", "Deployment"] {
        assert!(line.split_whitespace().any(|w| w == word), "{line}");
    }
    assert!(
        res.lines()
            .any(|l| l.starts_with("pods ") && l.contains("po") && l.contains("Pod")),
        "{res}"
    );
    assert!(res.contains("horizontalpodautoscalers"), "{res}");
    let wide = c.kubectl(&["api-resources", "--api-group=apps", "-o", "name"]);
    assert!(wide.lines().any(|l| l == "replicasets.apps"), "{wide}");

    let nodes = c.kubectl_out(&["get", "nodes"], None);
    assert!(nodes.status.success());
    assert!(String::from_utf8_lossy(&nodes.stderr).contains("No resources found"));

    let info = c.kubectl(&["cluster-info"]);
    assert!(
        info.contains("Kubernetes control plane is running at"),
        "{info}"
    );
}

#[test]
fn apply_get_describe_and_reapply() {
    let c = Cluster::shared();
    let ns = c.namespace("apply-test");
    let out = c.kubectl(&["apply", "-n", &ns, "-f", &web_yaml()]);
    assert!(out.contains("configmap/web-config created"), "{out}");
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("service/web created"), "{out}");

    // Defaults as Kubernetes applies them, and the last-applied annotation verbatim.
    let d = c.get_json(&["deploy", "web", "-n", &ns]);
    assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .is_some_and(|s| s.contains("\"replicas\":3"))
    );
    let svc = c.get_json(&["svc", "web", "-n", &ns]);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.43.")),
        "{svc}"
    );

    let again = c.kubectl(&["apply", "-n", &ns, "-f", &web_yaml()]);
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");
    assert!(again.contains("service/web unchanged"), "{again}");

    let changed = std::fs::read_to_string(web_yaml())
        .expect("example")
        .replace("echo:1", "echo:2");
    let out = c.kubectl_in(&["apply", "-n", &ns, "-f", "-"], Some(&changed));
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/web-config unchanged"), "{out}");
    let d = c.get_json(&["deploy", "web", "-n", &ns]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "localhost/berth/echo:2"
    );
    assert_eq!(d["metadata"]["generation"], 2);
    // The strategic merge kept the env var of the container merged by name.
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
        "GREETING"
    );

    let all = c.kubectl(&["get", "all", "-n", &ns]);
    assert!(all.contains("service/web"), "{all}");
    assert!(all.contains("deployment.apps/web"), "{all}");
    let deploys = c.kubectl(&["get", "deploy", "-n", &ns]);
    let header: Vec<&str> = deploys
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert!(
        deploys
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("web ") && l.contains("0/3")),
        "{deploys}"
    );

    let described = c.kubectl(&["describe", "deployment", "web", "-n", &ns]);
    assert!(
        described.contains("Name:                   web") || described.contains("Name:"),
        "{described}"
    );
    assert!(described.contains("localhost/berth/echo:2"), "{described}");
    assert!(described.contains("RollingUpdate"), "{described}");

    let yaml = c.kubectl(&["get", "deploy", "web", "-n", &ns, "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("replicas: 3"),
        "{yaml}"
    );

    let ss = c.kubectl(&["apply", "--server-side", "-n", &ns, "-f", &web_yaml()]);
    assert!(
        ss.contains("deployment.apps/web serverside-applied"),
        "{ss}"
    );
    let d = c.get_json(&["deploy", "web", "-n", &ns, "--show-managed-fields"]);
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["manager"].as_str()).collect())
        .unwrap_or_default();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "localhost/berth/echo:1"
    );

    let out = c.kubectl(&["delete", "-n", &ns, "-f", &web_yaml()]);
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let gone = c.kubectl_out(&["get", "deploy", "web", "-n", &ns], None);
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));
}

#[test]
fn create_commands_send_protobuf() {
    let c = Cluster::shared();
    let ns = c.namespace("create-test");
    let out = c.kubectl(&["create", "deployment", "api", "--image=busybox", "-n", &ns]);
    assert!(out.contains("deployment.apps/api created"), "{out}");
    let d = c.get_json(&["deploy", "api", "-n", &ns]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "api");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );

    let out = c.kubectl(&["create", "configmap", "c", "--from-literal=a=b", "-n", &ns]);
    assert!(out.contains("configmap/c created"), "{out}");
    assert_eq!(c.get_json(&["cm", "c", "-n", &ns])["data"]["a"], "b");

    let out = c.kubectl(&[
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=password=hunter2",
        "-n",
        &ns,
    ]);
    assert!(out.contains("secret/s created"), "{out}");
    assert_eq!(
        c.get_json(&["secret", "s", "-n", &ns])["data"]["password"],
        "aHVudGVyMg=="
    );

    let out = c.kubectl(&["create", "namespace", "team-a"]);
    assert!(out.contains("namespace/team-a created"), "{out}");
    assert_eq!(c.get_json(&["ns", "team-a"])["status"]["phase"], "Active");

    let out = c.kubectl(&[
        "create",
        "job",
        "once",
        "--image=busybox",
        "-n",
        &ns,
        "--",
        "true",
    ]);
    assert!(out.contains("job.batch/once created"), "{out}");
    let job = c.get_json(&["job", "once", "-n", &ns]);
    assert!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].is_string(),
        "{job}"
    );

    let out = c.kubectl(&[
        "create",
        "service",
        "clusterip",
        "db",
        "--tcp=5432:5432",
        "-n",
        &ns,
    ]);
    assert!(out.contains("service/db created"), "{out}");

    let out = c.kubectl(&[
        "run",
        "solo",
        "--image=busybox",
        "-n",
        &ns,
        "--labels=app=solo",
    ]);
    assert!(out.contains("pod/solo created"), "{out}");
    let pods = c.kubectl(&["get", "pods", "-n", &ns]);
    let header: Vec<&str> = pods
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        pods.lines()
            .any(|l| l.starts_with("solo ") && l.contains("0/1") && l.contains("Pending")),
        "{pods}"
    );
    let wide = c.kubectl(&["get", "pods", "-n", &ns, "-o", "wide"]);
    assert!(
        wide.lines().next().is_some_and(|h| h.contains("IP")
            && h.contains("NODE")
            && h.contains("NOMINATED NODE")),
        "{wide}"
    );

    let dup = c.kubectl_fails(
        &["create", "configmap", "c", "--from-literal=a=b", "-n", &ns],
        None,
    );
    assert!(dup.contains("configmaps \"c\" already exists"), "{dup}");
}

#[test]
fn label_annotate_edit_explain() {
    let c = Cluster::shared();
    let ns = c.namespace("edit-test");
    c.kubectl(&["run", "x", "--image=busybox", "-n", &ns]);
    let out = c.kubectl(&["label", "pod", "x", "tier=front", "-n", &ns]);
    assert!(out.contains("pod/x labeled"), "{out}");
    let out = c.kubectl(&["annotate", "pod", "x", "owner=team-a", "-n", &ns]);
    assert!(out.contains("pod/x annotated"), "{out}");
    let p = c.get_json(&["pod", "x", "-n", &ns]);
    assert_eq!(p["metadata"]["labels"]["tier"], "front");
    assert_eq!(p["metadata"]["annotations"]["owner"], "team-a");
    let shown = c.kubectl(&["get", "pods", "-n", &ns, "--show-labels"]);
    assert!(shown.contains("tier=front"), "{shown}");
    let out = c.kubectl(&["label", "pod", "x", "tier-", "-n", &ns]);
    assert!(out.contains("unlabeled"), "{out}");

    c.kubectl(&[
        "create",
        "configmap",
        "cfg",
        "--from-literal=k=before",
        "-n",
        &ns,
    ]);
    let mut cmd = c.kubectl_cmd(&["edit", "configmap", "cfg", "-n", &ns]);
    cmd.env("KUBE_EDITOR", "sed -i s/before/after/");
    let out = cmd.output().expect("kubectl edit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configmap/cfg edited"));
    assert_eq!(c.get_json(&["cm", "cfg", "-n", &ns])["data"]["k"], "after");

    let explain = c.kubectl(&["explain", "pod.spec.containers"]);
    assert!(
        explain.contains("KIND:") && explain.contains("Pod"),
        "{explain}"
    );
    assert!(
        explain.contains("FIELDS:") && explain.contains("image"),
        "{explain}"
    );
    let explain = c.kubectl(&["explain", "deployment.spec.replicas"]);
    assert!(explain.contains("integer"), "{explain}");
}

#[test]
fn output_formats_selectors_and_chunking() {
    let c = Cluster::shared();
    let ns = c.namespace("output-test");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "a" } else { "b" };
        c.kubectl(&[
            "create",
            "configmap",
            &format!("cm-{i}"),
            "--from-literal=i=x",
            "-n",
            &ns,
        ]);
        c.kubectl(&[
            "label",
            "configmap",
            &format!("cm-{i}"),
            &format!("tier={tier}"),
            "-n",
            &ns,
        ]);
    }
    let names = c.kubectl(&["get", "cm", "-n", &ns, "-l", "tier=a", "-o", "name"]);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(
        names,
        [
            "configmap/cm-0",
            "configmap/cm-2",
            "configmap/cm-4",
            "configmap/cm-6"
        ]
    );
    let jp = c.kubectl(&[
        "get",
        "cm",
        "cm-3",
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.labels.tier}",
    ]);
    assert_eq!(jp, "b");
    let cc = c.kubectl(&[
        "get",
        "cm",
        "-n",
        &ns,
        "-l",
        "tier in (b)",
        "-o",
        "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier",
    ]);
    assert_eq!(
        cc.lines().collect::<Vec<_>>(),
        ["NAME   TIER", "cm-1   b", "cm-3   b", "cm-5   b"]
    );
    let chunked = c.kubectl(&["get", "cm", "-n", &ns, "--chunk-size=2", "-o", "name"]);
    assert_eq!(
        chunked
            .lines()
            .filter(|l| l.starts_with("configmap/cm-"))
            .count(),
        7,
        "{chunked}"
    );
    let by_field = c.kubectl(&[
        "get",
        "cm",
        "-n",
        &ns,
        "--field-selector",
        "metadata.name=cm-5",
        "-o",
        "name",
    ]);
    assert_eq!(by_field.trim(), "configmap/cm-5");
    let all_ns = c.kubectl(&["get", "cm", "-A"]);
    assert!(
        all_ns
            .lines()
            .next()
            .is_some_and(|h| h.starts_with("NAMESPACE")),
        "{all_ns}"
    );
    assert!(all_ns.contains("output-test"), "{all_ns}");
    let sel = c.kubectl(&["get", "cm", "-n", &ns, "-l", "tier!=a,tier", "-o", "name"]);
    assert_eq!(sel.lines().count(), 3, "{sel}");
}

#[test]
fn watch_prints_changes_and_stays_open() {
    let c = Cluster::shared();
    let ns = c.namespace("watch-test");
    let mut cmd = c.kubectl_cmd(&["get", "pods", "-w", "-n", &ns]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("kubectl get -w");
    let stdout = child.stdout.take().expect("stdout");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    c.kubectl(&["run", "w1", "--image=busybox", "-n", &ns]);
    c.kubectl(&["label", "pod", "w1", "seen=yes", "-n", &ns]);
    c.kubectl(&["delete", "pod", "w1", "-n", &ns]);
    eventually(
        "the watch to print the new pod",
        Duration::from_secs(10),
        || {
            lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|l| l.starts_with("w1 "))
                .count()
                >= 2
        },
    );
    assert!(
        child.try_wait().ok().flatten().is_none(),
        "kubectl get -w exited"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn delete_waits_and_collects_dependents() {
    let c = Cluster::shared();
    let ns = c.namespace("gc-test");
    c.kubectl(&[
        "create",
        "deployment",
        "owner",
        "--image=busybox",
        "-n",
        &ns,
    ]);
    let uid = c.get_json(&["deploy", "owner", "-n", &ns])["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let dependent = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"dep","namespace":"{ns}","ownerReferences":[{{"apiVersion":"apps/v1","kind":"Deployment","name":"owner","uid":"{uid}","controller":true,"blockOwnerDeletion":true}}]}}}}"#
    );
    c.kubectl_in(&["create", "-f", "-"], Some(&dependent));
    let out = c.kubectl(&["delete", "deployment", "owner", "-n", &ns]);
    assert!(out.contains("deployment.apps \"owner\" deleted"), "{out}");
    eventually(
        "the dependent configmap to be collected",
        Duration::from_secs(10),
        || {
            !c.kubectl_out(&["get", "cm", "dep", "-n", &ns], None)
                .status
                .success()
        },
    );

    // Orphan keeps the dependent and drops the reference.
    c.kubectl(&[
        "create",
        "deployment",
        "owner2",
        "--image=busybox",
        "-n",
        &ns,
    ]);
    let uid = c.get_json(&["deploy", "owner2", "-n", &ns])["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let dependent = dependent
        .replace("\"dep\"", "\"dep2\"")
        .replace("\"owner\"", "\"owner2\"")
        .replace(&format!("\"uid\":\"{}\"", "x"), "");
    let dependent = {
        let mut v: Value = serde_json::from_str(&dependent).expect("json");
        v["metadata"]["ownerReferences"][0]["uid"] = Value::String(uid);
        v.to_string()
    };
    c.kubectl_in(&["create", "-f", "-"], Some(&dependent));
    c.kubectl(&[
        "delete",
        "deployment",
        "owner2",
        "-n",
        &ns,
        "--cascade=orphan",
    ]);
    eventually("owner2 to be gone", Duration::from_secs(10), || {
        !c.kubectl_out(&["get", "deploy", "owner2", "-n", &ns], None)
            .status
            .success()
    });
    let cm = c.get_json(&["cm", "dep2", "-n", &ns]);
    assert!(cm["metadata"]["ownerReferences"].is_null(), "{cm}");

    // wait --for=delete, and namespace deletion removes everything in it.
    c.kubectl(&["create", "configmap", "short", "-n", &ns]);
    let mut waiter = c
        .kubectl_cmd(&[
            "wait",
            "--for=delete",
            "configmap/short",
            "-n",
            &ns,
            "--timeout=20s",
        ])
        .spawn()
        .expect("wait");
    std::thread::sleep(Duration::from_millis(500));
    c.kubectl(&["delete", "configmap", "short", "-n", &ns]);
    assert!(waiter.wait().expect("wait exit").success());
    let out = c.kubectl(&["delete", "namespace", &ns]);
    assert!(
        out.contains(&format!("namespace \"{ns}\" deleted")),
        "{out}"
    );
    assert!(!c.kubectl_out(&["get", "ns", &ns], None).status.success());
    assert!(c
        .kubectl(&[
            "get",
            "cm",
            "-A",
            "--field-selector",
            &format!("metadata.namespace={ns}"),
            "-o",
            "name"
        ])
        .trim()
        .is_empty());
}

#[test]
fn errors_are_kubernetes_statuses() {
    let c = Cluster::shared();
    let ns = c.namespace("errors-test");
    let bad = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[{"name":"c"}]}}"#;
    let err = c.kubectl_fails(&["create", "-n", &ns, "-f", "-"], Some(bad));
    assert!(
        err.contains("The Pod \"bad\" is invalid: spec.containers[0].image: Required value"),
        "{err}"
    );
    let unknown =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"dataa":{"a":"b"}}"#;
    let err = c.kubectl_fails(&["create", "-n", &ns, "-f", "-"], Some(unknown));
    assert!(err.contains("unknown field \"dataa\""), "{err}");
    let err = c.kubectl_fails(&["get", "pod", "nope", "-n", &ns], None);
    assert!(err.contains("pods \"nope\" not found"), "{err}");
    let err = c.kubectl_fails(
        &["scale", "deployment", "nope", "--replicas=2", "-n", &ns],
        None,
    );
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn scale_and_auth() {
    let c = Cluster::shared();
    let ns = c.namespace("scale-test");
    c.kubectl(&["create", "deployment", "web", "--image=busybox", "-n", &ns]);
    let out = c.kubectl(&["scale", "deployment", "web", "--replicas=4", "-n", &ns]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    assert_eq!(
        c.get_json(&["deploy", "web", "-n", &ns])["spec"]["replicas"],
        4
    );
    let scale = c.raw(&format!(
        "/apis/apps/v1/namespaces/{ns}/deployments/web/scale"
    ));
    assert_eq!(scale["status"]["selector"], "app=web");
    let can = c.kubectl(&["auth", "can-i", "create", "pods", "-n", &ns]);
    assert_eq!(can.trim(), "yes");
    let who = c.kubectl(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(who, "berth-admin");
    let list = c.kubectl(&["auth", "can-i", "--list", "-n", &ns]);
    assert!(list.contains("*.*"), "{list}");
    let out = c.kubectl(&[
        "autoscale",
        "deployment",
        "web",
        "--min=2",
        "--max=5",
        "--cpu-percent=50",
        "-n",
        &ns,
    ]);
    assert!(
        out.contains("horizontalpodautoscaler.autoscaling/web autoscaled"),
        "{out}"
    );
    let hpa = c.get_json(&["hpa.v2.autoscaling", "web", "-n", &ns]);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        50
    );
}

/// `/usr/bin/kubectl` is a dispatcher that runs the kubectl matching the
/// server's minor version: 1.33 for berth. The core tour must work with it too.
#[test]
fn dispatcher_picks_kubectl_133_and_it_works() {
    let c = Cluster::shared();
    let dispatcher = "/usr/bin/kubectl";
    assert!(
        std::path::Path::new(dispatcher).exists(),
        "{dispatcher} is missing on this machine"
    );
    let run = |args: &[&str]| {
        let out = c
            .kubectl_cmd_with(dispatcher, args)
            .output()
            .expect("kubectl");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let v: Value = serde_json::from_str(&run(&["version", "-o", "json"])).expect("json");
    assert_eq!(v["clientVersion"]["minor"], "33", "{v}");
    run(&["create", "namespace", "k133"]);
    let out = run(&["apply", "-n", "k133", "-f", &web_yaml()]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = run(&["apply", "-n", "k133", "-f", &web_yaml()]);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let out = run(&["apply", "--server-side", "-n", "k133", "-f", &web_yaml()]);
    assert!(out.contains("serverside-applied"), "{out}");
    let out = run(&["get", "deploy,svc,cm", "-n", "k133"]);
    assert!(
        out.contains("deployment.apps/web") && out.contains("service/web"),
        "{out}"
    );
    let out = run(&[
        "create",
        "deployment",
        "api",
        "--image=busybox",
        "-n",
        "k133",
    ]);
    assert!(out.contains("deployment.apps/api created"), "{out}");
    let out = run(&["delete", "namespace", "k133"]);
    assert!(out.contains("namespace \"k133\" deleted"), "{out}");
}

#[test]
fn scheduler_and_controllers_hold_their_leases() {
    let c = Cluster::shared();
    for name in ["kube-scheduler", "kube-controller-manager"] {
        let mut lease = Value::Null;
        eventually(
            &format!("Lease kube-system/{name} held"),
            Duration::from_secs(20),
            || {
                let out = c.kubectl_out(
                    &["get", "lease", "-n", "kube-system", name, "-o", "json"],
                    None,
                );
                lease = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                lease["spec"]["holderIdentity"]
                    .as_str()
                    .is_some_and(|h| !h.is_empty())
            },
        );
        assert_eq!(lease["spec"]["leaseDurationSeconds"], 15, "{lease}");
        assert!(lease["spec"]["renewTime"].is_string(), "{lease}");
    }
    // The same process holds both.
    let holder =
        |n: &str| c.get_json(&["lease", "-n", "kube-system", n])["spec"]["holderIdentity"].clone();
    assert_eq!(holder("kube-scheduler"), holder("kube-controller-manager"));
}

/// `kind: List` files: the List kind has no server-side field validation,
/// so kubectl validates every item client-side against the `/openapi/v2`
/// (gnostic protobuf) definition carrying the item's GVK, then creates the
/// items one by one. An unknown field fails the whole file before anything
/// is created, with kube-openapi's message.
#[test]
fn list_files_are_validated_against_openapi_v2_and_created() {
    let c = Cluster::shared();
    let ns = c.namespace("list-test");
    let write = |name: &str, text: &str| {
        let path = c.dir.path().join(name);
        std::fs::write(&path, text).expect("write list file");
        path.display().to_string()
    };
    let list = write(
        "list.yaml",
        r#"apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {x: "1"}}
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
"#,
    );
    let out = c.kubectl(&["create", "-n", &ns, "-f", &list]);
    assert!(out.contains("configmap/a created"), "{out}");
    assert!(out.contains("configmap/b created"), "{out}");
    assert_eq!(c.get_json(&["cm", "a", "-n", &ns])["data"]["x"], "1");
    assert_eq!(c.get_json(&["cm", "b", "-n", &ns])["metadata"]["name"], "b");

    // apply: created, then configured / unchanged.
    let applied = |x: &str| {
        format!(
            "apiVersion: v1\nkind: List\nitems:\n\
             - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}, data: {{x: \"{x}\"}}}}\n\
             - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: d}}, spec: {{selector: {{matchLabels: {{app: d}}}}, template: {{metadata: {{labels: {{app: d}}}}, spec: {{containers: [{{name: c, image: busybox, ports: [{{containerPort: 80}}]}}]}}}}}}}}\n"
        )
    };
    let first = write("apply1.yaml", &applied("1"));
    let out = c.kubectl(&["apply", "-n", &ns, "-f", &first]);
    assert!(out.contains("configmap/c created"), "{out}");
    assert!(out.contains("deployment.apps/d created"), "{out}");
    let second = write("apply2.yaml", &applied("2"));
    let out = c.kubectl(&["apply", "-n", &ns, "-f", &second]);
    assert!(out.contains("configmap/c configured"), "{out}");
    assert!(out.contains("deployment.apps/d unchanged"), "{out}");
    assert_eq!(c.get_json(&["cm", "c", "-n", &ns])["data"]["x"], "2");

    // Unknown fields in items, top level and nested: rejected by kubectl
    // before any request creates something.
    let bad = write(
        "bad.yaml",
        r#"apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: e}, foo: 1}
- {apiVersion: apps/v1, kind: Deployment, metadata: {name: f}, spec: {foo: 1, selector: {matchLabels: {app: f}}, template: {metadata: {labels: {app: f}}, spec: {containers: [{name: c, image: busybox}]}}}}
"#,
    );
    for verb in ["create", "apply"] {
        let err = c.kubectl_fails(&[verb, "-n", &ns, "-f", &bad], None);
        assert!(err.contains("error validating data: ["), "{err}");
        assert!(
            err.contains(
                "ValidationError(ConfigMap): unknown field \"foo\" in io.k8s.api.core.v1.ConfigMap"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "ValidationError(Deployment.spec): unknown field \"foo\" in io.k8s.api.apps.v1.DeploymentSpec"
            ),
            "{err}"
        );
        assert!(err.contains("--validate=false"), "{err}");
    }
    let left = c.kubectl(&["get", "cm,deploy", "-n", &ns, "-o", "name"]);
    assert!(!left.contains("configmap/e"), "{left}");
    assert!(!left.contains("deployment.apps/f"), "{left}");

    // The JSON form, as `get --raw` asks for it.
    let v2 = c.raw("/openapi/v2");
    assert_eq!(v2["swagger"], "2.0");
    assert_eq!(
        v2["definitions"]["io.k8s.api.core.v1.ConfigMap"]["properties"]["data"]
            ["additionalProperties"]["type"],
        "string"
    );
}
