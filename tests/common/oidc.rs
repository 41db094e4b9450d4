//! A local OpenID Connect issuer for tests: real discovery and JWKS over HTTP on 127.0.0.1,
//! keys generated at run time (RSA 2048 and P-256), tokens signed with `jsonwebtoken`. The
//! JWKS can be rotated, taken down, and its requests are counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A signing key of the issuer and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

/// An RSA 2048 key (`alg` RS256 in its JWK).
pub fn rsa_key(kid: &str) -> TestKey {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&kp).unwrap();
    let b = pkcs8.as_ref();
    // PKCS#8 wraps the PKCS#1 key the signer takes in an OCTET STRING at a fixed offset.
    assert_eq!(b[22], 0x04);
    let pc = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(&b[26..]),
        jwk: json!({"kty":"RSA","kid":kid,"alg":"RS256","use":"sig",
            "n": URL_SAFE_NO_PAD.encode(&pc.n), "e": URL_SAFE_NO_PAD.encode(&pc.e)}),
    }
}

/// A P-256 key (no `alg` in its JWK: the curve fixes ES256).
pub fn ec_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let doc =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
        .unwrap();
    let point = kp.public_key().as_ref().to_vec();
    TestKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(doc.as_ref()),
        jwk: json!({"kty":"EC","kid":kid,"crv":"P-256","use":"sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
    }
}

impl TestKey {
    /// A token of `claims` signed with this key, its kid in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.encoding).unwrap()
    }
}

struct Inner {
    base: String,
    jwks: Mutex<Value>,
    up: AtomicBool,
    jwks_hits: AtomicU64,
    discovery_hits: AtomicU64,
}

/// The running issuer; its URL is `http://127.0.0.1:PORT/<path>`.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
    /// The issuer URL (`iss`).
    pub url: String,
}

async fn discovery(State(i): State<Arc<Inner>>) -> Response {
    i.discovery_hits.fetch_add(1, Ordering::Relaxed);
    if !i.up.load(Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = json!({"issuer": i.base, "jwks_uri": format!("{}/jwks", i.base),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"]});
    ([("content-type", "application/json")], body.to_string()).into_response()
}

async fn jwks(State(i): State<Arc<Inner>>) -> Response {
    i.jwks_hits.fetch_add(1, Ordering::Relaxed);
    if !i.up.load(Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = i.jwks.lock().unwrap().to_string();
    ([("content-type", "application/json")], body).into_response()
}

impl Issuer {
    /// Starts an issuer at `/<path>` publishing `keys`.
    pub async fn start(path: &str, keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/{path}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner {
            base: base.clone(),
            jwks: Mutex::new(
                json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
            ),
            up: AtomicBool::new(true),
            jwks_hits: AtomicU64::new(0),
            discovery_hits: AtomicU64::new(0),
        });
        let app = axum::Router::new()
            .route(
                &format!("/{path}/.well-known/openid-configuration"),
                axum::routing::get(discovery),
            )
            .route(&format!("/{path}/jwks"), axum::routing::get(jwks))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { inner, url: base }
    }

    /// Publishes these keys from now on (rotation).
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.inner.jwks.lock().unwrap() =
            json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    }

    /// Answers 503 to everything (`false`) or serves again.
    pub fn set_up(&self, up: bool) {
        self.inner.up.store(up, Ordering::Relaxed);
    }

    /// JWKS requests served (or refused) so far.
    pub fn jwks_hits(&self) -> u64 {
        self.inner.jwks_hits.load(Ordering::Relaxed)
    }

    /// The provider name (URL without scheme).
    pub fn name(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The provider ARN in `account`.
    pub fn arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:oidc-provider/{}", self.name())
    }
}
