//! The images berth builds: pause for sandboxes, and the demo images.

use std::collections::BTreeMap;
use std::path::Path;

use crate::blob::LayerBlob;
use crate::busybox::{Busybox, DEFAULT_BUSYBOX};
use crate::oci::{Empty, RuntimeConfig};
use crate::{programs, Image, ImageError, Layer};

pub const PAUSE_IMAGE: &str = "localhost/berth/pause:3.10";
pub const BUSYBOX_IMAGE: &str = "localhost/berth/busybox:1";
pub const HTTPD_IMAGE: &str = "localhost/berth/httpd:1";
/// `localhost/berth/echo:<version>`.
pub const ECHO_REPOSITORY: &str = "localhost/berth/echo";
/// The port the echo and httpd images listen on.
pub const DEMO_PORT: u16 = 8080;

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const INDEX_HTML: &str = "<!DOCTYPE html>\n<html><head><title>berth httpd</title></head>\n\
<body><h1>Hello from berth httpd</h1><p>Served by busybox httpd from /www.</p></body></html>\n";

/// The sandbox image: /pause as user 65535:65535.
pub fn pause() -> Image {
    let config = RuntimeConfig {
        user: Some("65535:65535".to_string()),
        env: vec![PATH_ENV.to_string()],
        entrypoint: vec!["/pause".to_string()],
        working_dir: Some("/".to_string()),
        ..Default::default()
    };
    build_static(PAUSE_IMAGE, config, "pause", programs::PAUSE)
}

/// `localhost/berth/echo:<version>`: answers every HTTP request on :8080
/// ($PORT overrides) with `echo v<version> from <hostname>`.
pub fn echo(version: u32) -> Image {
    let config = RuntimeConfig {
        user: Some("65534:65534".to_string()),
        exposed_ports: exposed(DEMO_PORT),
        env: vec![PATH_ENV.to_string()],
        entrypoint: vec!["/echo-server".to_string(), version.to_string()],
        working_dir: Some("/".to_string()),
        labels: BTreeMap::from([(
            "org.opencontainers.image.version".to_string(),
            version.to_string(),
        )]),
        ..Default::default()
    };
    build_static(
        &format!("{ECHO_REPOSITORY}:{version}"),
        config,
        "echo-server",
        programs::ECHO,
    )
}

/// `localhost/berth/busybox:1` from the host's /bin/busybox (Debian busybox-static).
pub fn busybox() -> Result<Image, ImageError> {
    busybox_from(Path::new(DEFAULT_BUSYBOX))
}

pub fn busybox_from(busybox_path: &Path) -> Result<Image, ImageError> {
    let base = busybox_layer(&Busybox::load(busybox_path)?)?;
    busybox_image(base)
}

/// `localhost/berth/httpd:1`: busybox httpd serving /www on :8080 behind a
/// small init (busybox httpd as PID 1 would ignore SIGTERM).
pub fn httpd() -> Result<Image, ImageError> {
    httpd_from(Path::new(DEFAULT_BUSYBOX))
}

pub fn httpd_from(busybox_path: &Path) -> Result<Image, ImageError> {
    let base = busybox_layer(&Busybox::load(busybox_path)?)?;
    httpd_image(base)
}

/// busybox, httpd, echo:1, echo:2 (busybox read and compressed once).
pub fn demo_images() -> Result<Vec<Image>, ImageError> {
    demo_images_from(Path::new(DEFAULT_BUSYBOX))
}

pub fn demo_images_from(busybox_path: &Path) -> Result<Vec<Image>, ImageError> {
    let base = busybox_layer(&Busybox::load(busybox_path)?)?;
    Ok(vec![
        busybox_image(base.clone())?,
        httpd_image(base)?,
        echo(1),
        echo(2),
    ])
}

fn busybox_layer(busybox: &Busybox) -> Result<LayerBlob, ImageError> {
    LayerBlob::build(
        &busybox.base_layer()?,
        "berth: busybox-static with applet links",
    )
}

fn busybox_image(base: LayerBlob) -> Result<Image, ImageError> {
    let config = RuntimeConfig {
        env: vec![PATH_ENV.to_string()],
        cmd: vec!["sh".to_string()],
        working_dir: Some("/".to_string()),
        ..Default::default()
    };
    Image::build(BUSYBOX_IMAGE, config, vec![base])
}

fn httpd_image(base: LayerBlob) -> Result<Image, ImageError> {
    let mut layer = Layer::new();
    layer.file("berth-init", 0o755, programs::INIT)?;
    layer.file("www/index.html", 0o644, INDEX_HTML.as_bytes())?;
    let top = LayerBlob::build(&layer, "berth: init and /www")?;
    let port = DEMO_PORT.to_string();
    let config = RuntimeConfig {
        exposed_ports: exposed(DEMO_PORT),
        env: vec![PATH_ENV.to_string()],
        // The init stays when a pod overrides the command's args.
        entrypoint: vec!["/berth-init".to_string()],
        cmd: ["httpd", "-f", "-v", "-p", &port, "-h", "/www"]
            .map(str::to_string)
            .to_vec(),
        working_dir: Some("/".to_string()),
        ..Default::default()
    };
    Image::build(HTTPD_IMAGE, config, vec![base, top])
}

/// An image of one static executable at /<file_name>, mode 0755.
fn build_static(
    name: &str,
    config: RuntimeConfig,
    file_name: &str,
    program: &'static [u8],
) -> Image {
    let built = Layer::new()
        .file(file_name, 0o755, program)
        .and_then(|layer| LayerBlob::build(layer, &format!("berth: /{file_name}")))
        .and_then(|layer| Image::build(name, config, vec![layer]));
    // Only constants go in (a valid name, one short path, embedded bytes) and
    // the tar and gzip are written to memory: a failure is a bug in this crate.
    built.unwrap_or_else(|e| panic!("building built-in image {name}: {e}"))
}

fn exposed(port: u16) -> BTreeMap<String, Empty> {
    BTreeMap::from([(format!("{port}/tcp"), Empty {})])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive_reader::{read_archive, ReadImage};
    use crate::oci;

    fn read(image: &Image) -> ReadImage {
        let archive = image.oci_archive().expect("archive");
        let read = read_archive(&archive);
        assert_eq!(read.index.manifests[0].digest, image.digest());
        let annotations = &read.index.manifests[0].annotations;
        assert_eq!(annotations[oci::ANNOTATION_CONTAINERD_NAME], image.name);
        assert_eq!(annotations[oci::ANNOTATION_REF_NAME], image.tag());
        let platform = read.index.manifests[0].platform.clone().expect("platform");
        assert_eq!(
            (platform.os.as_str(), platform.architecture.as_str()),
            ("linux", oci::host_architecture())
        );
        assert_eq!(read.config.os, "linux");
        assert_eq!(read.config.architecture, oci::host_architecture());
        assert_eq!(read.config.config, image.config);
        read
    }

    #[test]
    fn pause_archive_reads_back_with_a_static_executable() {
        let image = pause();
        assert_eq!(image.name, PAUSE_IMAGE);
        assert_eq!(image.tag(), "3.10");
        let read = read(&image);
        assert_eq!(read.config.config.user.as_deref(), Some("65535:65535"));
        assert_eq!(read.config.config.entrypoint, ["/pause"]);
        assert_eq!(read.layers.len(), 1);
        let pause = &read.layers[0]["pause"];
        assert_eq!(pause.kind, tar::EntryType::Regular);
        assert_eq!((pause.mode, pause.uid, pause.gid), (0o755, 0, 0));
        assert_eq!(pause.data, programs::PAUSE);
        assert_eq!(&pause.data[..4], b"\x7fELF");
    }

    #[test]
    fn echo_versions_differ_only_where_they_should() {
        let (one, two) = (echo(1), echo(2));
        assert_eq!(one.name, "localhost/berth/echo:1");
        assert_eq!(two.name, "localhost/berth/echo:2");
        assert_ne!(one.digest(), two.digest());
        let (r1, r2) = (read(&one), read(&two));
        // Same program, same layer; the version is an entrypoint argument.
        assert_eq!(r1.manifest.layers, r2.manifest.layers);
        assert_eq!(r1.config.config.entrypoint, ["/echo-server", "1"]);
        assert_eq!(r2.config.config.entrypoint, ["/echo-server", "2"]);
        assert!(r1.config.config.exposed_ports.contains_key("8080/tcp"));
        assert_eq!(r1.layers[0]["echo-server"].mode, 0o755);
    }

    #[test]
    fn images_are_deterministic() {
        assert_eq!(
            pause().oci_archive().expect("a"),
            pause().oci_archive().expect("b")
        );
        assert_eq!(echo(2).digest(), echo(2).digest());
        let (a, b) = (busybox().expect("busybox"), busybox().expect("busybox"));
        assert_eq!(a.oci_archive().expect("a"), b.oci_archive().expect("b"));
    }

    #[test]
    fn busybox_image_has_applets_users_and_tmp() {
        let image =
            busybox().expect("busybox-static is installed (apt-get install busybox-static)");
        assert_eq!(image.name, BUSYBOX_IMAGE);
        let read = read(&image);
        assert_eq!(read.config.config.cmd, ["sh"]);
        let files = &read.layers[0];
        let busybox = &files["bin/busybox"];
        assert_eq!(
            (busybox.kind, busybox.mode),
            (tar::EntryType::Regular, 0o755)
        );
        for applet in [
            "sh", "ls", "cat", "echo", "sleep", "wget", "nslookup", "hostname", "env", "ps", "top",
            "nc", "httpd",
        ] {
            let link = files
                .get(&format!("bin/{applet}"))
                .unwrap_or_else(|| panic!("bin/{applet} missing"));
            assert_eq!(link.kind, tar::EntryType::Link, "{applet}");
            assert_eq!(link.link.as_deref(), Some("bin/busybox"), "{applet}");
            assert_eq!(link.mode, 0o755, "{applet}");
        }
        let passwd = String::from_utf8(files["etc/passwd"].data.clone()).expect("utf8");
        assert!(passwd.starts_with("root:x:0:0:"));
        assert!(passwd.contains("nobody:x:65534:65534:"));
        assert!(String::from_utf8_lossy(&files["etc/group"].data).contains(":65534:"));
        assert_eq!(files["tmp/"].mode, 0o1777);
        assert_eq!(files["tmp/"].kind, tar::EntryType::Directory);
    }

    #[test]
    fn httpd_image_layers_init_and_www_over_busybox() {
        let images = demo_images().expect("demo images");
        let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                BUSYBOX_IMAGE,
                HTTPD_IMAGE,
                "localhost/berth/echo:1",
                "localhost/berth/echo:2"
            ]
        );
        let (busybox, httpd) = (read(&images[0]), read(&images[1]));
        // The busybox layer is shared: containerd stores it once.
        assert_eq!(httpd.manifest.layers[0], busybox.manifest.layers[0]);
        assert_eq!(httpd.layers.len(), 2);
        let top = &httpd.layers[1];
        assert_eq!(top["berth-init"].mode, 0o755);
        assert_eq!(top["berth-init"].data, programs::INIT);
        assert!(String::from_utf8_lossy(&top["www/index.html"].data).contains("berth httpd"));
        assert_eq!(httpd.config.config.entrypoint, ["/berth-init"]);
        assert_eq!(
            httpd.config.config.cmd,
            ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
        );
        assert_eq!(httpd.config.history.len(), 2);
    }
}
