//! End-to-end tests of the volume manager on the real filesystem (tmpfs and bind mounts need
//! root, which these tests assume, as the node agent runs as root).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_cri::api;
use berth_volumes::{ServiceAccountToken, VolumeError, VolumeKind, VolumeManager, VolumeSource};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, ConfigMapVolumeSource, Container, DownwardAPIProjection,
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, EmptyDirVolumeSource, EnvVar,
    HostPathVolumeSource, KeyToPath, LocalVolumeSource, NFSVolumeSource, ObjectFieldSelector,
    ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, Pod,
    PodSecurityContext, PodSpec, ProjectedVolumeSource, ResourceFieldSelector,
    ResourceRequirements, Secret, SecretProjection, SecretVolumeSource,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::ByteString;

// ---------- fake API ----------

#[derive(Default)]
struct FakeApi {
    config_maps: Mutex<BTreeMap<String, ConfigMap>>,
    secrets: Mutex<BTreeMap<String, Secret>>,
    claims: Mutex<BTreeMap<String, PersistentVolumeClaim>>,
    volumes: Mutex<BTreeMap<String, PersistentVolume>>,
    /// None: tokens are "not supported".
    token: Mutex<Option<String>>,
    /// Lifetime of the tokens handed out, when not the requested one.
    token_lifetime: Mutex<Option<std::time::Duration>>,
    token_requests: Mutex<Vec<(String, Vec<String>, i64)>>,
}

impl FakeApi {
    fn put_config_map(&self, name: &str, data: &[(&str, &str)]) {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        cm.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self.config_maps.lock().unwrap().insert(name.into(), cm);
    }

    fn put_secret(&self, name: &str, data: &[(&str, &[u8])]) {
        let mut secret = Secret::default();
        secret.metadata.name = Some(name.into());
        secret.data = Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        );
        self.secrets.lock().unwrap().insert(name.into(), secret);
    }

    /// A bound claim `name` with uid `claim-uid-<name>` and its PV.
    fn put_bound_claim(&self, name: &str, pv_name: &str, pv_spec: PersistentVolumeSpec) {
        let mut claim = PersistentVolumeClaim::default();
        claim.metadata.name = Some(name.into());
        claim.metadata.uid = Some(format!("claim-uid-{name}"));
        claim.spec = Some(PersistentVolumeClaimSpec {
            volume_name: Some(pv_name.into()),
            ..Default::default()
        });
        claim.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            ..Default::default()
        });
        self.claims.lock().unwrap().insert(name.into(), claim);
        let mut pv = PersistentVolume::default();
        pv.metadata.name = Some(pv_name.into());
        pv.spec = Some(PersistentVolumeSpec {
            claim_ref: Some(ObjectReference {
                uid: Some(format!("claim-uid-{name}")),
                ..Default::default()
            }),
            ..pv_spec
        });
        self.volumes.lock().unwrap().insert(pv_name.into(), pv);
    }
}

#[async_trait]
impl VolumeSource for FakeApi {
    async fn config_map(&self, _ns: &str, name: &str) -> Result<Option<ConfigMap>, String> {
        Ok(self.config_maps.lock().unwrap().get(name).cloned())
    }
    async fn secret(&self, _ns: &str, name: &str) -> Result<Option<Secret>, String> {
        Ok(self.secrets.lock().unwrap().get(name).cloned())
    }
    async fn persistent_volume_claim(
        &self,
        _ns: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, String> {
        Ok(self.claims.lock().unwrap().get(name).cloned())
    }
    async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, String> {
        Ok(self.volumes.lock().unwrap().get(name).cloned())
    }
    async fn service_account_token(
        &self,
        _ns: &str,
        service_account: &str,
        audiences: &[String],
        expiration_seconds: i64,
        _pod: &Pod,
    ) -> Result<ServiceAccountToken, String> {
        self.token_requests.lock().unwrap().push((
            service_account.to_string(),
            audiences.to_vec(),
            expiration_seconds,
        ));
        let lifetime = self
            .token_lifetime
            .lock()
            .unwrap()
            .unwrap_or(std::time::Duration::from_secs(expiration_seconds as u64));
        let token = self
            .token
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| "not supported".to_string())?;
        Ok(ServiceAccountToken {
            token,
            expiration: std::time::SystemTime::now() + lifetime,
        })
    }
}

// ---------- helpers ----------

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    api: Arc<FakeApi>,
    manager: VolumeManager,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pods");
    let api = Arc::new(FakeApi::default());
    let manager = VolumeManager::new(root.clone(), api.clone());
    Env {
        root,
        api,
        manager,
        _tmp: tmp,
    }
}

fn pod(uid: &str, volumes: Vec<Volume>) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web-0".into());
    pod.metadata.namespace = Some("prod".into());
    pod.metadata.uid = Some(uid.into());
    pod.metadata.labels = Some(BTreeMap::from([("app".to_string(), "web".to_string())]));
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "app".into(),
            resources: Some(ResourceRequirements {
                limits: Some(BTreeMap::from([(
                    "memory".to_string(),
                    Quantity("128Mi".into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }],
        volumes: Some(volumes),
        ..Default::default()
    });
    pod
}

fn volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        ..Default::default()
    }
}

fn config_map_volume(name: &str, cm: &str, optional: Option<bool>) -> Volume {
    Volume {
        config_map: Some(ConfigMapVolumeSource {
            name: cm.into(),
            optional,
            ..Default::default()
        }),
        ..volume(name)
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..Default::default()
    }
}

fn container(mounts: Vec<VolumeMount>) -> Container {
    Container {
        name: "app".into(),
        volume_mounts: Some(mounts),
        env: Some(vec![EnvVar {
            name: "POD_NAME".into(),
            value: Some("web-0".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn mount_entry(path: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table
        .lines()
        .find(|line| line.split(' ').nth(4) == Some(canonical.to_str().unwrap()))
        .map(str::to_string)
}

fn mounts_under(path: &Path) -> usize {
    let prefix = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| {
            line.split(' ')
                .nth(4)
                .is_some_and(|p| p.starts_with(&prefix))
        })
        .count()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

// ---------- emptyDir ----------

#[tokio::test]
async fn empty_dir_on_disk_is_a_world_writable_directory() {
    let env = env();
    let pod = pod(
        "u-empty",
        vec![Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("cache")
        }],
    );
    let volumes = env.manager.setup(&pod).await.unwrap();
    let dir = env
        .root
        .join("u-empty/volumes/kubernetes.io~empty-dir/cache");
    assert!(dir.is_dir());
    assert_eq!(mode(&dir), 0o777);
    assert!(mount_entry(&dir).is_none(), "disk medium is not a mount");

    std::fs::write(dir.join("kept"), "x").unwrap();
    env.manager.setup(&pod).await.unwrap();
    assert!(dir.join("kept").exists(), "set-up again keeps contents");

    let mounts = volumes
        .container_mounts(&container(vec![mount("cache", "/cache")]), &[])
        .unwrap();
    assert_eq!(mounts[0].host_path, dir.to_string_lossy());
    assert!(!mounts[0].readonly);
    assert_eq!(volumes.volume("cache").unwrap().kind, VolumeKind::EmptyDir);
}

#[tokio::test]
async fn empty_dir_memory_is_a_sized_tmpfs_unmounted_by_teardown() {
    let env = env();
    let pod = pod(
        "u-mem",
        vec![Volume {
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(Quantity("1Mi".into())),
            }),
            ..volume("shm")
        }],
    );
    env.manager.setup(&pod).await.unwrap();
    env.manager.setup(&pod).await.unwrap();
    let dir = env.root.join("u-mem/volumes/kubernetes.io~empty-dir/shm");
    let entry = mount_entry(&dir).expect("tmpfs mounted");
    assert!(entry.contains(" - tmpfs "), "{entry}");
    assert!(entry.contains("size=1024k"), "{entry}");
    assert_eq!(
        mounts_under(&env.root),
        1,
        "second set-up does not stack mounts"
    );

    env.manager.teardown("u-mem").await.unwrap();
    assert_eq!(mounts_under(&env.root), 0);
    assert!(!env.root.join("u-mem").exists());
}

#[tokio::test]
async fn fs_group_applies_to_a_new_empty_dir() {
    let env = env();
    let mut pod = pod(
        "u-fsg",
        vec![Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("data")
        }],
    );
    if let Some(spec) = pod.spec.as_mut() {
        spec.security_context = Some(PodSecurityContext {
            fs_group: Some(4321),
            ..Default::default()
        });
    }
    env.manager.setup(&pod).await.unwrap();
    let dir = env.root.join("u-fsg/volumes/kubernetes.io~empty-dir/data");
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.gid(), 4321);
    assert_eq!(meta.mode() & 0o7777, 0o2777);
}

// ---------- hostPath ----------

#[tokio::test]
async fn host_path_types_are_checked_and_created_as_upstream() {
    let env = env();
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("file");
    std::fs::write(&file, "data").unwrap();
    let created = host.path().join("made/by/kubelet");
    let host_volume = |name: &str, path: &Path, kind: &str| Volume {
        host_path: Some(HostPathVolumeSource {
            path: path.to_string_lossy().into_owned(),
            type_: Some(kind.into()),
        }),
        ..volume(name)
    };

    let ok = pod(
        "u-hp",
        vec![
            host_volume("create", &created, "DirectoryOrCreate"),
            host_volume("file", &file, "File"),
            host_volume("null", Path::new("/dev/null"), "CharDevice"),
        ],
    );
    let volumes = env.manager.setup(&ok).await.unwrap();
    assert!(created.is_dir());
    assert_eq!(volumes.volume("file").unwrap().host_path, file);

    let bad = pod("u-hp2", vec![host_volume("x", &file, "Directory")]);
    let err = env.manager.setup(&bad).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "MountVolume.SetUp failed for volume \"x\" : hostPath type check failed: {} is not a directory, it's a File",
            file.display()
        )
    );

    // Teardown never touches host data.
    env.manager.teardown("u-hp").await.unwrap();
    assert_eq!(read(&file), "data");
    assert!(created.is_dir());
}

// ---------- configMap ----------

#[tokio::test]
async fn config_map_files_items_and_modes() {
    let env = env();
    env.api
        .put_config_map("settings", &[("a.conf", "alpha"), ("b.conf", "beta")]);
    let pod = pod(
        "u-cm",
        vec![
            config_map_volume("all", "settings", None),
            Volume {
                config_map: Some(ConfigMapVolumeSource {
                    name: "settings".into(),
                    default_mode: Some(0o440),
                    items: Some(vec![KeyToPath {
                        key: "b.conf".into(),
                        path: "nested/b".into(),
                        mode: Some(0o400),
                    }]),
                    ..Default::default()
                }),
                ..volume("picked")
            },
        ],
    );
    let volumes = env.manager.setup(&pod).await.unwrap();
    let all = env.root.join("u-cm/volumes/kubernetes.io~configmap/all");
    assert_eq!(read(&all.join("a.conf")), "alpha");
    assert_eq!(mode(&all.join("a.conf")), 0o644);
    assert_eq!(
        std::fs::read_link(all.join("a.conf")).unwrap(),
        Path::new("..data/a.conf")
    );
    assert!(std::fs::read_link(all.join("..data"))
        .unwrap()
        .to_string_lossy()
        .starts_with("..20"));

    let picked = env.root.join("u-cm/volumes/kubernetes.io~configmap/picked");
    assert_eq!(read(&picked.join("nested/b")), "beta");
    assert_eq!(mode(&picked.join("nested/b")), 0o400);
    assert!(!picked.join("a.conf").exists());

    let mounts = volumes
        .container_mounts(&container(vec![mount("all", "/etc/app")]), &[])
        .unwrap();
    assert!(mounts[0].readonly, "configMap volumes are always read-only");
}

#[tokio::test]
async fn config_map_update_is_atomic() {
    let env = env();
    env.api
        .put_config_map("settings", &[("one", "old-1"), ("two", "old-2")]);
    let pod = pod("u-upd", vec![config_map_volume("cfg", "settings", None)]);
    env.manager.setup(&pod).await.unwrap();
    let dir = env.root.join("u-upd/volumes/kubernetes.io~configmap/cfg");
    let old_ts = std::fs::read_link(dir.join("..data")).unwrap();

    // Same contents: nothing is rewritten.
    env.manager.setup(&pod).await.unwrap();
    assert_eq!(std::fs::read_link(dir.join("..data")).unwrap(), old_ts);

    env.api
        .put_config_map("settings", &[("one", "new-1"), ("three", "new-3")]);
    env.manager.setup(&pod).await.unwrap();
    let new_ts = std::fs::read_link(dir.join("..data")).unwrap();
    assert_ne!(new_ts, old_ts, "..data switched to a new version");
    assert!(!dir.join(&old_ts).exists(), "old version removed");
    assert_eq!(read(&dir.join("one")), "new-1");
    assert_eq!(read(&dir.join("three")), "new-3");
    assert!(
        std::fs::symlink_metadata(dir.join("two")).is_err(),
        "removed key gone"
    );
    assert!(std::fs::symlink_metadata(dir.join("..data_tmp")).is_err());
    // Only the current version directory remains: no partial state left behind.
    let hidden: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".."))
        .collect();
    assert_eq!(hidden.len(), 2, "{hidden:?}");
}

#[tokio::test]
async fn missing_config_map_fails_unless_optional() {
    let env = env();
    let required = pod("u-miss", vec![config_map_volume("x", "y", Some(false))]);
    let err = env.manager.setup(&required).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"x\" : configmap \"y\" not found"
    );
    assert_eq!(err.event_reason(), "FailedMount");
    let default_required = pod("u-miss2", vec![config_map_volume("x", "y", None)]);
    assert!(env.manager.setup(&default_required).await.is_err());

    let optional = pod("u-opt", vec![config_map_volume("x", "y", Some(true))]);
    env.manager.setup(&optional).await.unwrap();
    let dir = env.root.join("u-opt/volumes/kubernetes.io~configmap/x");
    assert!(dir.join("..data").exists());
    let visible = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("..")
        })
        .count();
    assert_eq!(visible, 0);

    // The configMap appears later: a refresh fills the volume.
    env.api.put_config_map("y", &[("k", "v")]);
    env.manager.setup(&optional).await.unwrap();
    assert_eq!(read(&dir.join("k")), "v");
}

#[tokio::test]
async fn missing_key_in_items_is_reported() {
    let env = env();
    env.api.put_config_map("settings", &[("a", "1")]);
    let pod = pod(
        "u-key",
        vec![Volume {
            config_map: Some(ConfigMapVolumeSource {
                name: "settings".into(),
                items: Some(vec![KeyToPath {
                    key: "missing-key".into(),
                    path: "m".into(),
                    mode: None,
                }]),
                ..Default::default()
            }),
            ..volume("config-volume")
        }],
    );
    assert_eq!(
        env.manager.setup(&pod).await.unwrap_err().to_string(),
        "MountVolume.SetUp failed for volume \"config-volume\" : configmap references non-existent config key: missing-key"
    );
}

// ---------- secret ----------

#[tokio::test]
async fn secret_volume_is_on_tmpfs_with_default_mode_0644() {
    let env = env();
    env.api.put_secret(
        "creds",
        &[("password", b"hunter2"), ("bin", &[0, 159, 255])],
    );
    let pod = pod(
        "u-sec",
        vec![Volume {
            secret: Some(SecretVolumeSource {
                secret_name: Some("creds".into()),
                ..Default::default()
            }),
            ..volume("creds")
        }],
    );
    env.manager.setup(&pod).await.unwrap();
    let dir = env.root.join("u-sec/volumes/kubernetes.io~secret/creds");
    let entry = mount_entry(&dir).expect("secret volume is a mount");
    assert!(entry.contains(" - tmpfs "), "{entry}");
    assert_eq!(read(&dir.join("password")), "hunter2");
    assert_eq!(std::fs::read(dir.join("bin")).unwrap(), vec![0, 159, 255]);
    assert_eq!(mode(&dir.join("password")), 0o644);

    let missing = pod_with_secret("u-sec2", "nope");
    assert_eq!(
        env.manager.setup(&missing).await.unwrap_err().to_string(),
        "MountVolume.SetUp failed for volume \"s\" : secret \"nope\" not found"
    );

    env.manager.teardown("u-sec").await.unwrap();
    env.manager.teardown("u-sec2").await.unwrap();
    assert_eq!(mounts_under(&env.root), 0);
    assert!(env.manager.pod_uids_on_disk().is_empty());
}

fn pod_with_secret(uid: &str, secret: &str) -> Pod {
    pod(
        uid,
        vec![Volume {
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                ..Default::default()
            }),
            ..volume("s")
        }],
    )
}

// ---------- downwardAPI ----------

#[tokio::test]
async fn downward_api_files() {
    let env = env();
    let field = |path: &str, field_path: &str| DownwardAPIVolumeFile {
        path: path.into(),
        field_ref: Some(ObjectFieldSelector {
            field_path: field_path.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = pod(
        "u-dapi",
        vec![Volume {
            downward_api: Some(DownwardAPIVolumeSource {
                items: Some(vec![
                    field("name", "metadata.name"),
                    field("namespace", "metadata.namespace"),
                    field("uid", "metadata.uid"),
                    field("labels", "metadata.labels"),
                    field("annotations", "metadata.annotations"),
                    DownwardAPIVolumeFile {
                        path: "mem_limit".into(),
                        resource_field_ref: Some(ResourceFieldSelector {
                            container_name: Some("app".into()),
                            resource: "limits.memory".into(),
                            divisor: Some(Quantity("1Mi".into())),
                        }),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..volume("podinfo")
        }],
    );
    env.manager.setup(&pod).await.unwrap();
    let dir = env
        .root
        .join("u-dapi/volumes/kubernetes.io~downward-api/podinfo");
    assert_eq!(read(&dir.join("name")), "web-0");
    assert_eq!(read(&dir.join("namespace")), "prod");
    assert_eq!(read(&dir.join("uid")), "u-dapi");
    assert_eq!(read(&dir.join("labels")), "app=\"web\"");
    assert_eq!(read(&dir.join("annotations")), "");
    assert_eq!(read(&dir.join("mem_limit")), "128");
    assert_eq!(mode(&dir.join("name")), 0o644);

    // Label change → refreshed on the next set-up.
    let mut relabelled = pod.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("tier".into(), "front".into())]));
    env.manager.setup(&relabelled).await.unwrap();
    assert_eq!(read(&dir.join("labels")), "tier=\"front\"");
}

// ---------- projected ----------

fn projected_pod(uid: &str) -> Pod {
    pod(
        uid,
        vec![Volume {
            projected: Some(ProjectedVolumeSource {
                default_mode: Some(0o640),
                sources: Some(vec![
                    VolumeProjection {
                        service_account_token: Some(ServiceAccountTokenProjection {
                            path: "token".into(),
                            audience: Some("vault".into()),
                            expiration_seconds: None,
                        }),
                        ..Default::default()
                    },
                    VolumeProjection {
                        config_map: Some(ConfigMapProjection {
                            name: "kube-root-ca.crt".into(),
                            items: Some(vec![KeyToPath {
                                key: "ca.crt".into(),
                                path: "ca.crt".into(),
                                mode: None,
                            }]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    VolumeProjection {
                        secret: Some(SecretProjection {
                            name: "extra".into(),
                            optional: Some(true),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    VolumeProjection {
                        downward_api: Some(DownwardAPIProjection {
                            items: Some(vec![DownwardAPIVolumeFile {
                                path: "namespace".into(),
                                field_ref: Some(ObjectFieldSelector {
                                    field_path: "metadata.namespace".into(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            }]),
                        }),
                        ..Default::default()
                    },
                ]),
            }),
            ..volume("kube-api-access")
        }],
    )
}

#[tokio::test]
async fn projected_volume_merges_sources_on_tmpfs() {
    let env = env();
    env.api
        .put_config_map("kube-root-ca.crt", &[("ca.crt", "PEM")]);
    *env.api.token.lock().unwrap() = Some("jwt-token".into());
    env.manager.setup(&projected_pod("u-proj")).await.unwrap();
    let dir = env
        .root
        .join("u-proj/volumes/kubernetes.io~projected/kube-api-access");
    assert!(mount_entry(&dir).unwrap().contains(" - tmpfs "));
    assert_eq!(read(&dir.join("token")), "jwt-token");
    assert_eq!(read(&dir.join("ca.crt")), "PEM");
    assert_eq!(read(&dir.join("namespace")), "prod");
    assert_eq!(mode(&dir.join("token")), 0o640);
    assert_eq!(
        env.api.token_requests.lock().unwrap()[0],
        ("default".to_string(), vec!["vault".to_string()], 3600)
    );
    env.manager.teardown("u-proj").await.unwrap();
    assert_eq!(mounts_under(&env.root), 0);
}

#[tokio::test]
async fn projected_token_is_reused_until_a_refresh_is_due() {
    let env = env();
    env.api
        .put_config_map("kube-root-ca.crt", &[("ca.crt", "PEM")]);
    *env.api.token.lock().unwrap() = Some("first".into());
    let pod = projected_pod("u-refresh");
    env.manager.setup(&pod).await.unwrap();
    env.manager.setup(&pod).await.unwrap();
    // Every sync re-runs setup: the token is requested once.
    assert_eq!(env.api.token_requests.lock().unwrap().len(), 1);
    let dir = env
        .root
        .join("u-refresh/volumes/kubernetes.io~projected/kube-api-access");
    assert_eq!(read(&dir.join("token")), "first");

    // A token already in the last 20% of its lifetime is replaced on the next setup.
    env.manager.teardown("u-refresh").await.unwrap();
    *env.api.token_lifetime.lock().unwrap() = Some(std::time::Duration::from_secs(60));
    env.manager.setup(&pod).await.unwrap();
    *env.api.token.lock().unwrap() = Some("second".into());
    env.manager.setup(&pod).await.unwrap();
    assert_eq!(env.api.token_requests.lock().unwrap().len(), 3);
    assert_eq!(read(&dir.join("token")), "second");
    // A failed refresh keeps the still-valid token rather than failing the pod.
    *env.api.token.lock().unwrap() = None;
    env.manager.setup(&pod).await.unwrap();
    assert_eq!(read(&dir.join("token")), "second");
    env.manager.teardown("u-refresh").await.unwrap();
}

#[tokio::test]
async fn projected_token_error_fails_set_up_with_its_message() {
    let env = env();
    env.api
        .put_config_map("kube-root-ca.crt", &[("ca.crt", "PEM")]);
    let err = env
        .manager
        .setup(&projected_pod("u-notok"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"kube-api-access\" : not supported"
    );
    env.manager.teardown("u-notok").await.unwrap();
}

// ---------- PVC ----------

#[tokio::test]
async fn claim_bound_to_host_path_pv_uses_the_pv_directory() {
    let env = env();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("db"), "rows").unwrap();
    env.api.put_bound_claim(
        "data",
        "pv-1",
        PersistentVolumeSpec {
            host_path: Some(HostPathVolumeSource {
                path: data.path().to_string_lossy().into_owned(),
                type_: None,
            }),
            ..Default::default()
        },
    );
    let claim_volume = |name: &str, claim: &str, read_only: bool| Volume {
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: Some(read_only),
        }),
        ..volume(name)
    };
    let pod1 = pod("u-pvc", vec![claim_volume("data", "data", true)]);
    let volumes = env.manager.setup(&pod1).await.unwrap();
    let ready = volumes.volume("data").unwrap();
    assert_eq!(ready.host_path, data.path());
    assert!(ready.read_only);
    let mounts = volumes
        .container_mounts(&container(vec![mount("data", "/var/lib/db")]), &[])
        .unwrap();
    assert!(mounts[0].readonly);

    env.manager.teardown("u-pvc").await.unwrap();
    assert_eq!(read(&data.path().join("db")), "rows", "PV data untouched");

    // Unbound claim.
    let mut pending = PersistentVolumeClaim::default();
    pending.metadata.name = Some("pending".into());
    pending.status = Some(PersistentVolumeClaimStatus {
        phase: Some("Pending".into()),
        ..Default::default()
    });
    env.api
        .claims
        .lock()
        .unwrap()
        .insert("pending".into(), pending);
    let err = env
        .manager
        .setup(&pod("u-pvc2", vec![claim_volume("d", "pending", false)]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"d\" : error processing PVC prod/pending: PVC prod/pending has non-bound phase (\"Pending\") or empty pvc.Spec.VolumeName (\"\")"
    );

    // Missing claim, local PV and an unsupported PV type.
    let local_dir = tempfile::tempdir().unwrap();
    env.api.put_bound_claim(
        "local",
        "pv-local",
        PersistentVolumeSpec {
            local: Some(LocalVolumeSource {
                path: local_dir.path().to_string_lossy().into_owned(),
                fs_type: None,
            }),
            ..Default::default()
        },
    );
    env.api.put_bound_claim(
        "remote",
        "pv-nfs",
        PersistentVolumeSpec {
            nfs: Some(NFSVolumeSource {
                server: "nas".into(),
                path: "/export".into(),
                read_only: None,
            }),
            ..Default::default()
        },
    );
    let err = env
        .manager
        .setup(&pod(
            "u-pvc3",
            vec![
                claim_volume("gone", "nope", false),
                claim_volume("local", "local", false),
                claim_volume("remote", "remote", false),
            ],
        ))
        .await
        .unwrap_err();
    let failures = err.failures();
    assert_eq!(failures.len(), 2, "{err}");
    assert!(failures[0]
        .to_string()
        .contains("persistentvolumeclaims \"nope\" not found"));
    assert_eq!(
        failures[1].to_string(),
        "MountVolume.SetUp failed for volume \"remote\" : volume type not supported by berth: nfs"
    );
}

// ---------- unsupported ----------

#[tokio::test]
async fn unsupported_volume_types_are_named() {
    let env = env();
    let pod = pod(
        "u-nfs",
        vec![Volume {
            nfs: Some(NFSVolumeSource {
                server: "nas".into(),
                path: "/x".into(),
                read_only: None,
            }),
            ..volume("share")
        }],
    );
    let err = env.manager.setup(&pod).await.unwrap_err();
    assert!(matches!(err, VolumeError::Unsupported { .. }));
    assert_eq!(
        err.to_string(),
        "MountVolume.SetUp failed for volume \"share\" : volume type not supported by berth: nfs"
    );
}

// ---------- subPath ----------

#[tokio::test]
async fn sub_paths_are_created_bind_mounted_and_torn_down() {
    let env = env();
    env.api.put_config_map("settings", &[("app.conf", "conf!")]);
    let pod = pod(
        "u-sub",
        vec![
            config_map_volume("cfg", "settings", None),
            Volume {
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..volume("data")
            },
        ],
    );
    let volumes = env.manager.setup(&pod).await.unwrap();
    let file_mount = VolumeMount {
        sub_path: Some("app.conf".into()),
        ..mount("cfg", "/etc/app.conf")
    };
    let dir_mount = VolumeMount {
        sub_path: Some("logs/app".into()),
        ..mount("data", "/logs")
    };
    let expr_mount = VolumeMount {
        sub_path_expr: Some("pods/$(POD_NAME)".into()),
        ..mount("data", "/mine")
    };
    let c = container(vec![file_mount, dir_mount, expr_mount]);
    let env_vars = vec![("POD_NAME".to_string(), "web-0".to_string())];
    let mounts: Vec<api::Mount> = volumes.container_mounts(&c, &env_vars).unwrap();

    let subpaths = env.root.join("u-sub/volume-subpaths");
    assert_eq!(
        mounts[0].host_path,
        subpaths.join("cfg/app/0").to_string_lossy()
    );
    assert!(mounts[0].readonly);
    assert_eq!(read(Path::new(&mounts[0].host_path)), "conf!");

    let data = env.root.join("u-sub/volumes/kubernetes.io~empty-dir/data");
    assert!(data.join("logs/app").is_dir(), "missing subPath created");
    assert_eq!(
        mounts[1].host_path,
        subpaths.join("data/app/1").to_string_lossy()
    );
    std::fs::write(data.join("logs/app/x.log"), "line").unwrap();
    assert_eq!(read(&subpaths.join("data/app/1/x.log")), "line");

    assert!(data.join("pods/web-0").is_dir(), "subPathExpr expanded");
    assert_eq!(
        mounts[2].host_path,
        subpaths.join("data/app/2").to_string_lossy()
    );
    assert_eq!(mounts_under(&env.root.join("u-sub")), 3);

    // Idempotent: asking again reuses the bind mounts.
    volumes.container_mounts(&c, &env_vars).unwrap();
    assert_eq!(mounts_under(&env.root.join("u-sub")), 3);

    env.manager.teardown("u-sub").await.unwrap();
    assert_eq!(mounts_under(&env.root), 0);
    assert!(!env.root.join("u-sub").exists());
}

#[tokio::test]
async fn sub_path_escaping_the_volume_is_refused() {
    let env = env();
    let pod = pod(
        "u-esc",
        vec![Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("data")
        }],
    );
    let volumes = env.manager.setup(&pod).await.unwrap();
    let data = env.root.join("u-esc/volumes/kubernetes.io~empty-dir/data");
    std::os::unix::fs::symlink("/etc", data.join("evil")).unwrap();
    let c = container(vec![VolumeMount {
        sub_path: Some("evil".into()),
        ..mount("data", "/x")
    }]);
    let err = volumes.container_mounts(&c, &[]).unwrap_err();
    assert!(err.to_string().contains("not within volume path"), "{err}");
    let c = container(vec![VolumeMount {
        sub_path: Some("../../etc".into()),
        ..mount("data", "/x")
    }]);
    assert!(volumes.container_mounts(&c, &[]).is_err());
    env.manager.teardown("u-esc").await.unwrap();
    assert!(Path::new("/etc/passwd").exists());
}

// ---------- teardown / orphans ----------

#[tokio::test]
async fn teardown_removes_everything_and_lists_orphans() {
    let env = env();
    env.api.put_config_map("settings", &[("k", "v")]);
    env.api.put_secret("creds", &[("p", b"x")]);
    let a = pod(
        "u-a",
        vec![
            config_map_volume("cfg", "settings", None),
            Volume {
                secret: Some(SecretVolumeSource {
                    secret_name: Some("creds".into()),
                    ..Default::default()
                }),
                ..volume("sec")
            },
            Volume {
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: Some("Memory".into()),
                    size_limit: None,
                }),
                ..volume("mem")
            },
        ],
    );
    let b = pod(
        "u-b",
        vec![Volume {
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..volume("x")
        }],
    );
    env.manager.setup(&a).await.unwrap();
    env.manager.setup(&b).await.unwrap();
    assert_eq!(env.manager.pod_uids_on_disk(), vec!["u-a", "u-b"]);
    assert_eq!(mounts_under(&env.root.join("u-a")), 2);

    env.manager.teardown("u-a").await.unwrap();
    assert_eq!(mounts_under(&env.root.join("u-a")), 0);
    assert!(!env.root.join("u-a").exists());
    assert_eq!(env.manager.pod_uids_on_disk(), vec!["u-b"]);
    // Tearing down twice, or an unknown pod, is fine.
    env.manager.teardown("u-a").await.unwrap();
    env.manager.teardown("never-existed").await.unwrap();
    assert!(env.manager.teardown("../etc").await.is_err());

    env.manager.teardown("u-b").await.unwrap();
    assert!(env.manager.pod_uids_on_disk().is_empty());
}

#[tokio::test]
async fn ephemeral_volume_uses_the_pods_own_claim() {
    use k8s_openapi::api::core::v1::{EphemeralVolumeSource, PersistentVolumeClaimTemplate};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    let env = env();
    let data = tempfile::tempdir().unwrap();
    // The ephemeral controller names the claim <pod>-<volume>.
    env.api.put_bound_claim(
        "web-0-scratch",
        "pv-eph",
        PersistentVolumeSpec {
            host_path: Some(HostPathVolumeSource {
                path: data.path().to_string_lossy().into_owned(),
                type_: Some("Directory".into()),
            }),
            ..Default::default()
        },
    );
    let ephemeral = Volume {
        ephemeral: Some(EphemeralVolumeSource {
            volume_claim_template: Some(PersistentVolumeClaimTemplate::default()),
        }),
        ..volume("scratch")
    };
    let err = env
        .manager
        .setup(&pod("u-eph", vec![ephemeral.clone()]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("was not created for pod prod/web-0 (pod is not owner)"),
        "{err}"
    );

    if let Some(claim) = env.api.claims.lock().unwrap().get_mut("web-0-scratch") {
        claim.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: "web-0".into(),
            uid: "u-eph".into(),
            controller: Some(true),
            ..Default::default()
        }]);
    }
    let volumes = env
        .manager
        .setup(&pod("u-eph", vec![ephemeral]))
        .await
        .unwrap();
    assert_eq!(volumes.volume("scratch").unwrap().host_path, data.path());
    env.manager.teardown("u-eph").await.unwrap();
    assert!(data.path().exists());
}
