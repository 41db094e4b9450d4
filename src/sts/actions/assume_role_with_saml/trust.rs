//! The provider's trust material ([`Trust`]) derived from its stored entity: the signing
//! certificates decoded from base64 and the private keys unsealed and parsed. Deriving it on
//! every request would unseal and parse each private key again; it is kept per provider ARN
//! together with the provider it was derived from, and served only while the stored provider
//! still has the same entity id, certificates, sealed keys and encryption mode — an
//! `UpdateSAMLProvider` (new metadata, `AddPrivateKey`, `RemovePrivateKey`, another mode) or a
//! provider deleted and created again with other material derives it afresh on its next use.

use std::sync::Arc;

use openssl::pkey::PKey;
use samael::crypto::CertificateDer;

use crate::bounded::BoundedMap;
use crate::error::ApiError;
use crate::iam::model::SamlProvider;
use crate::idp::saml::{CertPreference, Trust};
use crate::state::AppState;

/// Most providers whose trust is kept; when full, the cache starts over.
const MAX_PROVIDERS: usize = 4096;

/// Trust material by provider ARN (`AppState::saml_trusts`).
pub struct TrustCache {
    entries: BoundedMap<String, Entry>,
}

impl Default for TrustCache {
    fn default() -> Self {
        Self {
            entries: BoundedMap::new(MAX_PROVIDERS),
        }
    }
}

#[derive(Clone)]
struct Entry {
    /// The provider the trust was derived from.
    from: Arc<SamlProvider>,
    trust: Arc<Trust>,
}

/// Whether `b` has the material `a` was derived from (the fields [`derive`] reads).
fn same_material(a: &SamlProvider, b: &SamlProvider) -> bool {
    a.arn == b.arn
        && a.entity_id == b.entity_id
        && a.encryption_required == b.encryption_required
        && a.signing_certs == b.signing_certs
        && a.private_keys == b.private_keys
}

impl TrustCache {
    /// The trust of `p` as it is stored now: kept from an earlier request when the provider's
    /// material is unchanged, derived (and kept) otherwise.
    ///
    /// # Errors
    /// An internal error for a stored certificate or key that cannot be read.
    pub fn trust_of(&self, st: &AppState, p: &Arc<SamlProvider>) -> Result<Arc<Trust>, ApiError> {
        if let Some(e) = self.entries.get(p.arn.as_str())
            && (Arc::ptr_eq(&e.from, p) || same_material(&e.from, p))
        {
            return Ok(e.trust);
        }
        let trust = Arc::new(derive(st, p)?);
        self.entries.insert(
            p.arn.clone(),
            Entry {
                from: Arc::clone(p),
                trust: Arc::clone(&trust),
            },
        );
        Ok(trust)
    }

    /// How many providers' trust is kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for TrustCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustCache")
            .field("providers", &self.len())
            .finish()
    }
}

/// The provider's trust material: certificates (DER) and opened private keys.
fn derive(st: &AppState, p: &SamlProvider) -> Result<Trust, ApiError> {
    use base64::Engine;
    let certs = p
        .signing_certs
        .iter()
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c)
                .map(CertificateDer::from)
                .map_err(|_| {
                    ApiError::internal(format!("{}: stored certificate is corrupt", p.arn))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut decryption_keys = Vec::with_capacity(p.private_keys.len());
    for k in &p.private_keys {
        let pem = st
            .iam
            .at_rest()
            .open(&private_key_owner(&p.arn, &k.key_id), &k.sealed_pem)
            .map_err(|e| ApiError::internal(format!("{}: private key {}: {e}", p.arn, k.key_id)))?;
        let key = PKey::private_key_from_pem(pem.expose().as_bytes()).map_err(|_| {
            ApiError::internal(format!("{}: private key {} unreadable", p.arn, k.key_id))
        })?;
        decryption_keys.push(key);
    }
    Ok(Trust {
        entity_id: p.entity_id.clone(),
        certs,
        decryption_keys,
        encryption_required: p.encryption_required,
        preferred: CertPreference::default(),
    })
}

/// The owner string a provider's private key is sealed under.
#[must_use]
pub fn private_key_owner(provider_arn: &str, key_id: &str) -> String {
    format!("saml-key/{provider_arn}/{key_id}")
}
