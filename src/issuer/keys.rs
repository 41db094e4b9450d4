//! The issuer's signing key ring: one active RS256 key and one active ES384 key, plus retired
//! keys still published in the JWKS until their tokens and the relying parties' caches are past
//! (`publish_until`), kept like the session-token key ring (`crate::token::keyring`): a file,
//! created on first start, rotated by command, re-read by running servers.
//!
//! File format (JSON, mode 0600, replaced atomically):
//! ```json
//! {"format":"sekisho-issuer-keys","version":1,"keys":[
//!   {"kid":"rs256-0a1b2c3d4e5f6a7b","alg":"RS256","created_at":"…","retired_at":null,
//!    "publish_until":null,"pkcs8":"<base64 of the PKCS#8 private key>"}]}
//! ```
//! Exactly one key per algorithm has `retired_at: null`. Private keys come from aws-lc-rs
//! (RSA 2048, P-384) and sign through jsonwebtoken's aws-lc-rs backend.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{EncodingKey, Header};
use openidconnect::JsonWebKeyId;
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJsonWebKeySet};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::idp::oidc::KeySet;
use crate::secret::SecretBytes;
use crate::token::keyring::{read_file, write_atomic};

/// The `format` marker of the file.
const FILE_FORMAT: &str = "sekisho-issuer-keys";
/// The file format version.
const FILE_VERSION: u32 = 1;

/// A signing algorithm the issuer offers (`GetWebIdentityToken`'s `SigningAlgorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-384 with SHA-384.
    #[serde(rename = "ES384")]
    Es384,
}

impl SigningAlg {
    /// Every algorithm, in the order keys are generated.
    pub const ALL: [Self; 2] = [Self::Rs256, Self::Es384];

    /// The JOSE name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es384 => "ES384",
        }
    }

    /// Parses the JOSE name (exactly, as the STS model spells it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES384" => Some(Self::Es384),
            _ => None,
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Es384 => jsonwebtoken::Algorithm::ES384,
        }
    }
}

/// Why the ring cannot be loaded, written or used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the file.
    #[error("{0}")]
    File(#[from] crate::token::Error),
    /// The file is not a valid ring.
    #[error("issuer key file: {0}")]
    Corrupt(String),
    /// Key generation or signing failed.
    #[error("issuer key: {0}")]
    Crypto(String),
}

/// One key as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    kid: String,
    alg: SigningAlg,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    publish_until: Option<DateTime<Utc>>,
    pkcs8: String,
}

#[derive(Serialize, Deserialize)]
struct FileDoc {
    format: String,
    version: u32,
    keys: Vec<Stored>,
}

/// One signing key.
struct SigningKey {
    kid: String,
    alg: SigningAlg,
    created_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
    publish_until: Option<DateTime<Utc>>,
    pkcs8: SecretBytes,
    encoding: EncodingKey,
    public: CoreJsonWebKey,
}

/// Public facts about one key (for the CLI and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The `kid`.
    pub kid: String,
    /// Its algorithm.
    pub alg: SigningAlg,
    /// Whether it signs new tokens.
    pub active: bool,
    /// When it leaves the JWKS (retired keys).
    pub publish_until: Option<DateTime<Utc>>,
}

/// The issuer's keys. Immutable once built; rotation builds a new ring.
pub struct IssuerKeys {
    keys: Vec<SigningKey>,
    /// The published keys as the web-identity verifier reads them (own tokens, classic flow).
    key_set: Arc<KeySet>,
    /// The JWKS document, serialized once.
    jwks_json: String,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| &k.kid))
            .finish()
    }
}

/// The RSA private key (PKCS#1 `RSAPrivateKey`, what jsonwebtoken signs with) inside the PKCS#8
/// document aws-lc-rs writes for a 2048-bit key. That document has one fixed shape —
/// `SEQUENCE(len16) { INTEGER 0, AlgorithmIdentifier rsaEncryption NULL, OCTET STRING(len16)
/// <RSAPrivateKey> }` — so the key starts after a fixed 26-byte prefix; every byte of the
/// prefix and both lengths are checked, and the result is parsed again by aws-lc-rs.
fn pkcs1_of(pkcs8: &[u8]) -> Result<&[u8], Error> {
    const ALG: [u8; 18] = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, 0x05, 0x00,
    ];
    let bad = || Error::Corrupt("not a PKCS#8 RSA private key of the expected shape".into());
    let len16 = |hi: Option<&u8>, lo: Option<&u8>| -> Option<usize> {
        Some(usize::from(*hi?) << 8 | usize::from(*lo?))
    };
    let outer = len16(pkcs8.get(2), pkcs8.get(3)).ok_or_else(bad)?;
    let inner = len16(pkcs8.get(24), pkcs8.get(25)).ok_or_else(bad)?;
    let ok = pkcs8.get(0..2) == Some(&[0x30, 0x82][..])
        && pkcs8.get(4..22) == Some(&ALG[..])
        && pkcs8.get(22..24) == Some(&[0x04, 0x82][..])
        && outer + 4 == pkcs8.len()
        && inner + 26 == pkcs8.len();
    let key = pkcs8.get(26..).filter(|_| ok).ok_or_else(bad)?;
    aws_lc_rs::rsa::KeyPair::from_der(key).map_err(|_| bad())?;
    Ok(key)
}

fn random_kid(alg: SigningAlg) -> String {
    let mut b = [0_u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    format!("{}-{}", alg.as_str().to_ascii_lowercase(), hex::encode(b))
}

impl SigningKey {
    /// A fresh key.
    fn generate(alg: SigningAlg, now: DateTime<Utc>) -> Result<Self, Error> {
        let crypto = |e: &dyn std::fmt::Display| Error::Crypto(e.to_string());
        let pkcs8 = match alg {
            SigningAlg::Rs256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|e| crypto(&e))?;
                let der = kp.as_der().map_err(|e| crypto(&e))?;
                der.as_ref().to_vec()
            }
            SigningAlg::Es384 => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                    .map_err(|e| crypto(&e))?
                    .as_ref()
                    .to_vec()
            }
        };
        Self::from_parts(Stored {
            kid: random_kid(alg),
            alg,
            created_at: now,
            retired_at: None,
            publish_until: None,
            pkcs8: STANDARD.encode(Zeroizing::new(pkcs8)),
        })
    }

    /// A key from its stored form.
    fn from_parts(s: Stored) -> Result<Self, Error> {
        let der = Zeroizing::new(
            STANDARD
                .decode(s.pkcs8.as_bytes())
                .map_err(|_| Error::Corrupt(format!("key {}: pkcs8 is not base64", s.kid)))?,
        );
        let bad = |what: &str| Error::Corrupt(format!("key {}: {what}", s.kid));
        let kid = Some(JsonWebKeyId::new(s.kid.clone()));
        let (encoding, public) = match s.alg {
            SigningAlg::Rs256 => {
                let kp =
                    aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|_| bad("not an RSA key"))?;
                let pc = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                (
                    EncodingKey::from_rsa_der(pkcs1_of(&der)?),
                    CoreJsonWebKey::new_rsa(pc.n, pc.e, kid),
                )
            }
            SigningAlg::Es384 => {
                let kp =
                    EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &der)
                        .map_err(|_| bad("not a P-384 key"))?;
                // Uncompressed point: 0x04 ‖ x (48 bytes) ‖ y (48 bytes).
                let point = kp.public_key().as_ref();
                let (x, y) = match (point.get(1..49), point.get(49..97)) {
                    (Some(x), Some(y)) if point.len() == 97 => (x.to_vec(), y.to_vec()),
                    _ => return Err(bad("unexpected public point")),
                };
                (
                    EncodingKey::from_ec_der(&der),
                    CoreJsonWebKey::new_ec(x, y, CoreJsonCurveType::P384, kid),
                )
            }
        };
        Ok(Self {
            kid: s.kid,
            alg: s.alg,
            created_at: s.created_at,
            retired_at: s.retired_at,
            publish_until: s.publish_until,
            pkcs8: SecretBytes::new(der.to_vec()),
            encoding,
            public,
        })
    }

    fn stored(&self) -> Stored {
        Stored {
            kid: self.kid.clone(),
            alg: self.alg,
            created_at: self.created_at,
            retired_at: self.retired_at,
            publish_until: self.publish_until,
            pkcs8: STANDARD.encode(self.pkcs8.expose()),
        }
    }

    fn published_at(&self, now: DateTime<Utc>) -> bool {
        self.publish_until.is_none_or(|until| now < until)
    }
}

impl IssuerKeys {
    fn build(keys: Vec<SigningKey>) -> Result<Self, Error> {
        for alg in SigningAlg::ALL {
            let active = keys
                .iter()
                .filter(|k| k.alg == alg && k.retired_at.is_none())
                .count();
            if active != 1 {
                return Err(Error::Corrupt(format!(
                    "{active} active {} keys (exactly one wanted)",
                    alg.as_str()
                )));
            }
        }
        let set = CoreJsonWebKeySet::new(keys.iter().map(|k| k.public.clone()).collect());
        let jwks_json = serde_json::to_string(&set).map_err(|e| Error::Crypto(e.to_string()))?;
        let key_set = Arc::new(
            KeySet::parse(jwks_json.as_bytes()).map_err(|e| Error::Crypto(e.to_string()))?,
        );
        Ok(Self {
            keys,
            key_set,
            jwks_json,
        })
    }

    /// A ring with one fresh key per algorithm, never written anywhere.
    ///
    /// # Errors
    /// [`Error::Crypto`] if key generation fails.
    pub fn generate(now: DateTime<Utc>) -> Result<Self, Error> {
        Self::build(
            SigningAlg::ALL
                .into_iter()
                .map(|a| SigningKey::generate(a, now))
                .collect::<Result<_, _>>()?,
        )
    }

    /// The ring rotated at `now`: a new active key per algorithm; the previous ones stay
    /// published until `now + overlap`; keys past their horizon are dropped.
    ///
    /// # Errors
    /// [`Error::Crypto`] if key generation fails.
    pub fn rotated(self, now: DateTime<Utc>, overlap: Duration) -> Result<Self, Error> {
        let until = now
            .checked_add_signed(overlap.max(Duration::zero()))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut keys: Vec<SigningKey> = SigningAlg::ALL
            .into_iter()
            .map(|a| SigningKey::generate(a, now))
            .collect::<Result<_, _>>()?;
        for mut k in self.keys {
            if k.retired_at.is_none() {
                k.retired_at = Some(now);
                k.publish_until = Some(until);
            }
            if k.published_at(now) {
                keys.push(k);
            }
        }
        Self::build(keys)
    }

    /// Parses the file's text.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when it is not a valid ring.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let doc: FileDoc =
            serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("not a ring: {e}")))?;
        if doc.format != FILE_FORMAT || doc.version != FILE_VERSION {
            return Err(Error::Corrupt(format!(
                "format {} version {} (want {FILE_FORMAT} {FILE_VERSION})",
                doc.format, doc.version
            )));
        }
        Self::build(
            doc.keys
                .into_iter()
                .map(SigningKey::from_parts)
                .collect::<Result<_, _>>()?,
        )
    }

    /// The file's text (holds private keys).
    ///
    /// # Errors
    /// [`Error::Crypto`] if it cannot be serialized.
    pub fn to_json(&self) -> Result<Zeroizing<String>, Error> {
        let doc = FileDoc {
            format: FILE_FORMAT.into(),
            version: FILE_VERSION,
            keys: self.keys.iter().map(SigningKey::stored).collect(),
        };
        serde_json::to_string_pretty(&doc)
            .map(Zeroizing::new)
            .map_err(|e| Error::Crypto(e.to_string()))
    }

    /// Loads the ring from `path`, which must exist.
    ///
    /// # Errors
    /// [`Error::File`], [`Error::Corrupt`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        Self::from_json(&read_file(path)?)
    }

    /// Loads the ring, or creates the file with fresh keys if it does not exist (never
    /// overwriting one another process created meanwhile).
    ///
    /// # Errors
    /// As [`Self::load`], or [`Error::Crypto`].
    pub fn load_or_create(path: &Path, now: DateTime<Utc>) -> Result<Self, Error> {
        match read_file(path) {
            Ok(text) => Self::from_json(&text),
            Err(crate::token::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                let ring = Self::generate(now)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| crate::token::Error::Io {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                match write_atomic(path, ring.to_json()?.as_bytes(), false) {
                    Ok(()) => Ok(ring),
                    Err(crate::token::Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Self::load(path)
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Rotates the ring in the file at `path` (see [`Self::rotated`]).
    ///
    /// # Errors
    /// As [`Self::load`], or [`Error::Crypto`].
    pub fn rotate(path: &Path, now: DateTime<Utc>, overlap: Duration) -> Result<Self, Error> {
        let ring = Self::load(path)?.rotated(now, overlap)?;
        write_atomic(path, ring.to_json()?.as_bytes(), true)?;
        Ok(ring)
    }

    /// Facts about every key, active first.
    #[must_use]
    pub fn keys(&self) -> Vec<KeyInfo> {
        let mut out: Vec<KeyInfo> = self
            .keys
            .iter()
            .map(|k| KeyInfo {
                kid: k.kid.clone(),
                alg: k.alg,
                active: k.retired_at.is_none(),
                publish_until: k.publish_until,
            })
            .collect();
        out.sort_by_key(|k| !k.active);
        out
    }

    /// The JWKS document (public keys only).
    #[must_use]
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The published keys as the web-identity verifier reads them.
    #[must_use]
    pub fn key_set(&self) -> Arc<KeySet> {
        self.key_set.clone()
    }

    /// Signs `claims` with the active key of `alg`.
    ///
    /// # Errors
    /// [`Error::Crypto`] if signing fails.
    pub fn sign(&self, alg: SigningAlg, claims: &serde_json::Value) -> Result<String, Error> {
        let key = self
            .keys
            .iter()
            .find(|k| k.alg == alg && k.retired_at.is_none())
            .ok_or_else(|| Error::Crypto(format!("no active {} key", alg.as_str())))?;
        let mut header = Header::new(alg.jwt());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| Error::Crypto(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::idp::oidc::{Rules, verify};

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn rules<'a>(aud: &'a [String]) -> Rules<'a> {
        Rules {
            issuer: "https://sekisho.example",
            client_ids: aud,
            azp_is_audience: false,
            leeway_seconds: 0,
            max_age_seconds: 3600,
        }
    }

    fn claims(now: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({"iss": "https://sekisho.example", "aud": "a", "sub": "s",
            "iat": now.timestamp(), "exp": now.timestamp() + 60})
    }

    #[test]
    fn tokens_of_both_algorithms_verify_against_the_published_keys() {
        let ring = IssuerKeys::generate(at(0)).unwrap();
        let aud = vec!["a".to_owned()];
        for alg in SigningAlg::ALL {
            let t = ring.sign(alg, &claims(at(0))).unwrap();
            let v = verify(&t, &ring.key_set(), &rules(&aud), at(1).timestamp()).unwrap();
            assert_eq!(format!("{:?}", v.alg), alg.as_str());
            assert!(v.kid.starts_with(&alg.as_str().to_ascii_lowercase()));
        }
        let jwks: serde_json::Value = serde_json::from_str(ring.jwks_json()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.get("d").is_none()), "no private part");
        assert_eq!(keys[1]["crv"], "P-384");
    }

    #[test]
    fn rotation_keeps_the_old_keys_published_for_the_overlap_only() {
        let ring = IssuerKeys::generate(at(0)).unwrap();
        let aud = vec!["a".to_owned()];
        let old = ring.sign(SigningAlg::Es384, &claims(at(0))).unwrap();
        let ring = ring.rotated(at(10), Duration::hours(1)).unwrap();
        assert_eq!(ring.keys().len(), 4);
        assert_eq!(ring.keys().iter().filter(|k| k.active).count(), 2);
        // The old token still verifies; a new one is signed by a new kid.
        verify(&old, &ring.key_set(), &rules(&aud), at(11).timestamp()).unwrap();
        let new = ring.sign(SigningAlg::Es384, &claims(at(10))).unwrap();
        assert_ne!(
            crate::idp::oidc::inspect(&new).unwrap().kid,
            crate::idp::oidc::inspect(&old).unwrap().kid
        );
        // Round trip through the file format.
        let again = IssuerKeys::from_json(&ring.to_json().unwrap()).unwrap();
        assert_eq!(again.keys(), ring.keys());
        assert_eq!(again.jwks_json(), ring.jwks_json());
        // Past the overlap, the next rotation drops the first generation.
        let ring = again.rotated(at(10 + 3601), Duration::hours(1)).unwrap();
        assert_eq!(ring.keys().len(), 4);
        assert!(
            verify(&old, &ring.key_set(), &rules(&aud), at(3612).timestamp()).is_err(),
            "the first generation is no longer published"
        );
    }

    #[test]
    fn a_corrupt_file_is_refused() {
        assert!(IssuerKeys::from_json("{}").is_err());
        let ring = IssuerKeys::generate(at(0)).unwrap();
        let text = ring.to_json().unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["keys"].as_array_mut().unwrap().remove(0);
        assert!(
            IssuerKeys::from_json(&doc.to_string()).is_err(),
            "no RS256 key"
        );
        assert!(pkcs1_of(&[0x30, 0x82, 0, 0]).is_err());
    }
}
