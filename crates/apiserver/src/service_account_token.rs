//! Service account tokens: ES256 JWTs signed with the PKI's `sa.key`, with
//! the claims kube-apiserver puts in bound tokens, and the authenticator
//! that accepts them back.
//!
//! ```text
//! TokenRequest ─▶ Claims::bound(..) ─▶ TokenSigner::sign ─▶ header.claims.signature
//! Bearer <jwt> ─▶ TokenSigner::verify (signature, iss, exp, nbf, aud)
//!              ─▶ check_bindings (ServiceAccount, pod/secret exist with the same uid, cache only)
//!              ─▶ User system:serviceaccount:<ns>:<name>
//! ```

use crate::{Server, User};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// `--service-account-issuer` of kubeadm and kind clusters; also the
/// default (and only) API audience.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// Groups every service account user belongs to (plus its namespace's).
pub const ALL_SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// Clock skew allowed on `nbf`.
const NOT_BEFORE_LEEWAY: i64 = 60;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("service account signing key: {0}")]
    Key(String),
    #[error("signing failed")]
    Sign,
    #[error("not a JWT")]
    Malformed,
    #[error("unsupported signing algorithm {0:?}")]
    Algorithm(String),
    #[error("invalid signature")]
    Signature,
    #[error("token issued by {0:?}, not this server")]
    Issuer(String),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token audiences {0:?} do not include {ISSUER}")]
    Audience(Vec<String>),
    #[error("{0}")]
    Binding(String),
}

/// `{name, uid}` of an object a token names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectClaim {
    pub name: String,
    pub uid: String,
}

/// The private `kubernetes.io` claim of bound tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectClaim,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectClaim>,
}

/// Every claim of a berth service account token, named as upstream's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// The user name of a service account: `system:serviceaccount:<ns>:<name>`.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl Claims {
    /// Claims for `sa` in `namespace`, valid for `expiration_seconds` from `now`.
    pub fn new(
        namespace: &str,
        sa: ObjectClaim,
        audiences: Vec<String>,
        now: i64,
        expiration_seconds: i64,
    ) -> Self {
        Self {
            iss: ISSUER.into(),
            sub: user_name(namespace, &sa.name),
            aud: audiences,
            exp: now.saturating_add(expiration_seconds),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: namespace.into(),
                serviceaccount: sa,
                ..Default::default()
            },
        }
    }

    /// The user this token authenticates as.
    pub fn user(&self) -> User {
        let ns = &self.kubernetes.namespace;
        User {
            name: user_name(ns, &self.kubernetes.serviceaccount.name),
            groups: vec![
                ALL_SERVICE_ACCOUNTS_GROUP.into(),
                format!("{ALL_SERVICE_ACCOUNTS_GROUP}:{ns}"),
                "system:authenticated".into(),
            ],
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
}

/// Signs and verifies tokens with the service account key pair.
pub struct TokenSigner {
    key: EcdsaKeyPair,
    kid: String,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish()
    }
}

impl TokenSigner {
    /// From the PKCS#8 PEM of an ECDSA P-256 key (`sa.key`).
    pub fn from_pem(pem: &str) -> Result<Self, TokenError> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| TokenError::Key(e.to_string()))?;
        let rng = ring::rand::SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pair.serialize_der(),
            &rng,
        )
        .map_err(|e| TokenError::Key(e.to_string()))?;
        // Key id as upstream derives it: the hash of the public key's PKIX DER.
        use rcgen::PublicKeyData;
        use sha2::Digest;
        let kid = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(pair.subject_public_key_info()));
        Ok(Self { key, kid, rng })
    }

    pub fn key_id(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let header = Header {
            alg: "ES256".into(),
            kid: self.kid.clone(),
        };
        let encode = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        let header = serde_json::to_vec(&header).map_err(|_| TokenError::Sign)?;
        let body = serde_json::to_vec(claims).map_err(|_| TokenError::Sign)?;
        let signing_input = format!("{}.{}", encode(&header), encode(&body));
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| TokenError::Sign)?;
        Ok(format!("{signing_input}.{}", encode(sig.as_ref())))
    }

    /// Signature, issuer, lifetime and audience; bindings are checked by the caller.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(b), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Malformed);
        let header: Header =
            serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "ES256" {
            return Err(TokenError::Algorithm(header.alg));
        }
        let public = UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        );
        let signing_input = &token[..h.len() + 1 + b.len()];
        public
            .verify(signing_input.as_bytes(), &decode(s)?)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&decode(b)?).map_err(|_| TokenError::Malformed)?;
        if claims.iss != ISSUER {
            return Err(TokenError::Issuer(claims.iss));
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.nbf > now.saturating_add(NOT_BEFORE_LEEWAY) {
            return Err(TokenError::NotYetValid);
        }
        if !claims.aud.iter().any(|a| a == ISSUER) {
            return Err(TokenError::Audience(claims.aud));
        }
        Ok(claims)
    }
}

/// What the binding checks need to know about a referenced object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveObject {
    pub uid: String,
    /// `metadata.deletionTimestamp` as Unix seconds, when set.
    pub deletion: Option<i64>,
}

/// The objects a verified token names must still exist with the same uid
/// (a pod past its deletion timestamp no longer counts), as upstream's
/// legacy validator checks them. `lookup(resource, namespace, name)`.
pub fn check_bindings(
    claims: &Claims,
    now: i64,
    lookup: impl Fn(&str, &str, &str) -> Option<LiveObject>,
) -> Result<(), TokenError> {
    let ns = &claims.kubernetes.namespace;
    let check = |resource: &str, what: &str, want: &ObjectClaim| -> Result<(), TokenError> {
        let Some(found) = lookup(resource, ns, &want.name) else {
            return Err(TokenError::Binding(format!(
                "{what} {ns}/{} has been deleted",
                want.name
            )));
        };
        if found.uid != want.uid {
            return Err(TokenError::Binding(format!(
                "{what} UID ({}) does not match claim ({})",
                found.uid, want.uid
            )));
        }
        if found.deletion.is_some_and(|t| t <= now) {
            return Err(TokenError::Binding(format!(
                "{what} {ns}/{} is being deleted: token has been invalidated",
                want.name
            )));
        }
        Ok(())
    };
    check(
        "serviceaccounts",
        "service account",
        &claims.kubernetes.serviceaccount,
    )?;
    if let Some(pod) = &claims.kubernetes.pod {
        check("pods", "pod", pod)?;
    }
    if let Some(secret) = &claims.kubernetes.secret {
        check("secrets", "secret", secret)?;
    }
    Ok(())
}

/// A namespaced core object from the watch cache, as the binding checks see it.
pub fn live_object(srv: &Server, resource: &str, ns: &str, name: &str) -> Option<LiveObject> {
    let cached = srv
        .cache
        .get(&format!("/registry/core/{resource}/{ns}/{name}"))?;
    let deletion = if cached.index.deleting {
        cached
            .value()
            .pointer("/metadata/deletionTimestamp")
            .and_then(serde_json::Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    } else {
        None
    };
    Some(LiveObject {
        uid: cached.index.uid().unwrap_or_default().to_string(),
        deletion,
    })
}

/// The user a bearer token authenticates as, when it is a valid service
/// account token of this server whose bound objects still exist.
pub fn authenticate(srv: &Server, token: &str) -> Result<User, TokenError> {
    let now = chrono::Utc::now().timestamp();
    let claims = srv.tokens.verify(token, now)?;
    check_bindings(&claims, now, |r, ns, name| live_object(srv, r, ns, name))?;
    Ok(claims.user())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        let key = rcgen::KeyPair::generate().expect("key");
        TokenSigner::from_pem(&key.serialize_pem()).expect("signer")
    }

    fn claims(now: i64) -> Claims {
        let mut c = Claims::new(
            "ns1",
            ObjectClaim {
                name: "builder".into(),
                uid: "sa-uid".into(),
            },
            vec![ISSUER.into()],
            now,
            3600,
        );
        c.kubernetes.pod = Some(ObjectClaim {
            name: "web".into(),
            uid: "pod-uid".into(),
        });
        c
    }

    #[test]
    fn signed_claims_round_trip_with_upstream_names() {
        let s = signer();
        let now = 1_700_000_000;
        let token = s.sign(&claims(now)).expect("sign");
        let back = s.verify(&token, now + 10).expect("verify");
        assert_eq!(back, claims(now).clone_with_jti(&back.jti));
        assert_eq!(back.sub, "system:serviceaccount:ns1:builder");
        // The claim names kubectl, client libraries and OIDC verifiers read.
        let payload = token.split('.').nth(1).expect("payload");
        let raw: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
        assert_eq!(raw["kubernetes.io"]["serviceaccount"]["uid"], "sa-uid");
        assert_eq!(raw["kubernetes.io"]["pod"]["name"], "web");
        assert_eq!(raw["kubernetes.io"]["namespace"], "ns1");
        assert_eq!(raw["exp"], now + 3600);
        assert_eq!(raw["iss"], ISSUER);
        let header = token.split('.').next().expect("header");
        let raw: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
        assert_eq!(raw["alg"], "ES256");
        assert_eq!(raw["kid"], s.key_id());
    }

    impl Claims {
        fn clone_with_jti(&self, jti: &str) -> Self {
            Self {
                jti: jti.into(),
                ..self.clone()
            }
        }
    }

    #[test]
    fn rejects_expired_foreign_tampered_and_wrong_audience() {
        let s = signer();
        let now = 1_700_000_000;
        let token = s.sign(&claims(now)).expect("sign");
        assert_eq!(s.verify(&token, now + 3600), Err(TokenError::Expired));
        assert_eq!(
            signer().verify(&token, now).unwrap_err(),
            TokenError::Signature
        );
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut forged = claims(now);
        forged.kubernetes.namespace = "kube-system".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        assert_eq!(s.verify(&parts.join("."), now), Err(TokenError::Signature));
        let mut other = claims(now);
        other.aud = vec!["vault".into()];
        let t = s.sign(&other).expect("sign");
        assert!(matches!(s.verify(&t, now), Err(TokenError::Audience(_))));
        assert_eq!(s.verify("abc", now), Err(TokenError::Malformed));
        assert_eq!(s.verify("a.b.c", now), Err(TokenError::Malformed));
    }

    #[test]
    fn bindings_need_the_same_objects() {
        let now = 1_700_000_000;
        let c = claims(now);
        let live = |uid: &str| {
            Some(LiveObject {
                uid: uid.into(),
                deletion: None,
            })
        };
        let all = |r: &str, _: &str, _: &str| match r {
            "serviceaccounts" => live("sa-uid"),
            "pods" => live("pod-uid"),
            _ => None,
        };
        assert_eq!(check_bindings(&c, now, all), Ok(()));
        let pod_gone = |r: &str, _: &str, _: &str| match r {
            "serviceaccounts" => live("sa-uid"),
            _ => None,
        };
        assert!(check_bindings(&c, now, pod_gone).is_err());
        let sa_recreated = |r: &str, _: &str, _: &str| match r {
            "serviceaccounts" => live("other"),
            "pods" => live("pod-uid"),
            _ => None,
        };
        assert!(check_bindings(&c, now, sa_recreated).is_err());
        let pod_replaced = |r: &str, _: &str, _: &str| match r {
            "serviceaccounts" => live("sa-uid"),
            "pods" => live("new-pod-uid"),
            _ => None,
        };
        assert!(check_bindings(&c, now, pod_replaced).is_err());
        let pod_terminating = |r: &str, _: &str, _: &str| match r {
            "serviceaccounts" => live("sa-uid"),
            "pods" => Some(LiveObject {
                uid: "pod-uid".into(),
                deletion: Some(now + 30),
            }),
            _ => None,
        };
        // Still valid during the grace period, invalid after it.
        assert_eq!(check_bindings(&c, now, pod_terminating), Ok(()));
        assert!(check_bindings(&c, now + 31, pod_terminating).is_err());
    }

    #[test]
    fn user_and_groups() {
        let u = claims(0).user();
        assert_eq!(u.name, "system:serviceaccount:ns1:builder");
        assert_eq!(
            u.groups,
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
    }
}
