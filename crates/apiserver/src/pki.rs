//! Cluster PKI: a CA, the apiserver's serving certificate, the admin's
//! client certificate and the service-account token signing key pair
//! (`sa.key`/`sa.pub`, as kubeadm names them), created on first start and
//! reused afterwards.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// PEM files of the cluster PKI, all under `<data-dir>/pki`.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca_cert: String,
    pub ca_key: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    pub admin_token: String,
    /// Secret part of the join token agents present (`<data-dir>/pki/node.token`).
    pub node_token: String,
    /// ECDSA P-256 key (PKCS#8 PEM) that signs service account tokens.
    pub service_account_key: String,
    /// Its public half (SubjectPublicKeyInfo PEM), for verifiers outside the server.
    pub service_account_pub: String,
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, body: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, body).map_err(io)?;
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

impl Pki {
    /// Load the PKI from `dir`, creating whatever is missing. `hosts` are the
    /// extra names and IPs the serving certificate must cover.
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<Self, PkiError> {
        std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = |name: &str| dir.join(name);
        if !p("ca.crt").exists() || !p("ca.key").exists() {
            let (cert, key) = new_ca()?;
            write(&p("ca.crt"), &cert, false)?;
            write(&p("ca.key"), &key, true)?;
        }
        let ca_cert = read(&p("ca.crt"))?;
        let ca_key = read(&p("ca.key"))?;
        let ca_keypair = KeyPair::from_pem(&ca_key)?;
        let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_keypair)?;

        // Re-issued when the names it must cover change (a new --tls-san or
        // advertise address), so clients never meet a certificate for old names.
        let wanted_hosts = hosts.join("\n");
        let covered = std::fs::read_to_string(p("apiserver.hosts")).ok();
        if !p("apiserver.crt").exists()
            || !p("apiserver.key").exists()
            || covered.as_deref() != Some(wanted_hosts.as_str())
        {
            let (cert, key) = new_serving(&issuer, hosts)?;
            write(&p("apiserver.crt"), &cert, false)?;
            write(&p("apiserver.key"), &key, true)?;
            write(&p("apiserver.hosts"), &wanted_hosts, false)?;
        }
        if !p("admin.crt").exists() || !p("admin.key").exists() {
            let (cert, key) = new_client(&issuer, "berth-admin", &["system:masters"])?;
            write(&p("admin.crt"), &cert, false)?;
            write(&p("admin.key"), &key, true)?;
        }
        // Kept across restarts: tokens already handed out must stay valid.
        if !p("sa.key").exists() || !p("sa.pub").exists() {
            let key = KeyPair::generate()?;
            write(&p("sa.key"), &key.serialize_pem(), true)?;
            write(&p("sa.pub"), &key.public_key_pem(), false)?;
        }
        for name in ["admin.token", "node.token"] {
            if !p(name).exists() {
                write(&p(name), &random_hex(32), true)?;
            }
        }
        Ok(Self {
            ca_cert,
            ca_key,
            serving_cert: read(&p("apiserver.crt"))?,
            serving_key: read(&p("apiserver.key"))?,
            admin_cert: read(&p("admin.crt"))?,
            admin_key: read(&p("admin.key"))?,
            admin_token: read(&p("admin.token"))?.trim().to_string(),
            node_token: read(&p("node.token"))?.trim().to_string(),
            service_account_key: read(&p("sa.key"))?,
            service_account_pub: read(&p("sa.pub"))?,
        })
    }

    /// The token `berth agent --token` takes: `berth::<sha256 of the CA PEM>::<secret>`.
    /// The hash lets an agent trust the CA it downloads before it trusts anything else.
    pub fn join_token(&self) -> String {
        format!("berth::{}::{}", ca_hash(&self.ca_cert), self.node_token)
    }

    /// Issue a client certificate for `user` in `groups`, signed by the CA.
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert, KeyPair::from_pem(&self.ca_key)?)?;
        new_client(&issuer, user, groups)
    }

    /// Issue a serving certificate for `hosts` (names or IPs), signed by the
    /// CA: what a node agent's server presents to the API server.
    pub fn issue_serving(
        &self,
        common_name: &str,
        hosts: &[String],
    ) -> Result<(String, String), PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.ca_cert, KeyPair::from_pem(&self.ca_key)?)?;
        new_host_serving(&issuer, common_name, hosts)
    }
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// Hex SHA-256 of a CA certificate's PEM text, as carried in join tokens.
pub fn ca_hash(ca_pem: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(ca_pem.as_bytes()))
}

/// The parts of a join token. Errors say what a valid token looks like.
pub fn parse_join_token(token: &str) -> Result<(String, String), PkiError> {
    let mut parts = token.trim().split("::");
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("berth"), Some(hash), Some(secret), None)
            if hash.len() == 64 && !secret.is_empty() =>
        {
            Ok((hash.to_string(), secret.to_string()))
        }
        _ => Err(PkiError::Invalid(
            "a join token looks like berth::<64 hex digits>::<secret>; read it from <server data dir>/node-token".into(),
        )),
    }
}

fn new_ca() -> Result<(String, String), PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "berth-ca");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The API server's certificate: its well-known names plus `hosts`.
fn new_serving(
    issuer: &Issuer<'_, KeyPair>,
    hosts: &[String],
) -> Result<(String, String), PkiError> {
    let mut names = vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
        "kubernetes.default.svc.cluster.local".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "10.43.0.1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        names.push(h.trim().to_string());
    }
    names.extend(hosts.iter().cloned());
    new_host_serving(issuer, "berth-apiserver", &names)
}

fn new_host_serving(
    issuer: &Issuer<'_, KeyPair>,
    common_name: &str,
    hosts: &[String],
) -> Result<(String, String), PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let mut names: Vec<&String> = hosts.iter().filter(|n| !n.is_empty()).collect();
    names.sort();
    names.dedup();
    params.subject_alt_names = names
        .into_iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(PkiError::Generate),
        })
        .collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn new_client(
    issuer: &Issuer<'_, KeyPair>,
    user: &str,
    groups: &[&str],
) -> Result<(String, String), PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, user);
    for g in groups {
        dn.push(DnType::OrganizationName, *g);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Write a kubeconfig for the admin (client certificate, embedded PEMs).
pub fn write_kubeconfig(path: &Path, server: &str, pki: &Pki) -> Result<(), PkiError> {
    write_client_kubeconfig(
        path,
        server,
        &pki.ca_cert,
        "berth-admin",
        &pki.admin_cert,
        &pki.admin_key,
    )
}

/// Write a kubeconfig for `user` with a client certificate, PEMs embedded.
pub fn write_client_kubeconfig(
    path: &Path,
    server: &str,
    ca_pem: &str,
    user: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), PkiError> {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let body = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: berth\n  context:\n    cluster: berth\n    user: {user}\n    namespace: default\ncurrent-context: berth\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(ca_pem),
        cert = b64(cert_pem),
        key = b64(key_pem),
    );
    write(path, &body, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = Pki::load_or_create(dir.path(), &[]).expect("create");
        assert!(first.service_account_key.contains("PRIVATE KEY"));
        assert!(first.service_account_pub.contains("PUBLIC KEY"));
        let again = Pki::load_or_create(dir.path(), &[]).expect("load");
        assert_eq!(first.service_account_key, again.service_account_key);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sa.key"))
            .expect("sa.key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
