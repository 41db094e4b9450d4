//! Minting: sealed session token + temporary key id + derived secret, and their XML.

use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::secret::SecretString;
use crate::state::{AppState, Metrics};
use crate::token::SessionClaims;
use crate::wire::XmlWriter;
use crate::wire::json_out::Obj;
use crate::wire::xml::iso8601;

/// Freshly minted credentials.
#[derive(Debug)]
pub struct Issued {
    /// `ASIA…`.
    pub access_key_id: String,
    /// Derived secret.
    pub secret: SecretString,
    /// Sealed token.
    pub token: SecretString,
    /// Expiry.
    pub expiration: DateTime<Utc>,
    /// The expiry as the answer and the audit record write it (ISO 8601), formatted once.
    pub expiration_text: String,
    /// The claims sealed in the token.
    pub claims: SessionClaims,
}

/// Seals `claims` (its `access_key_id` is filled in) and derives the secret.
pub fn mint(st: &AppState, claims: SessionClaims, now: DateTime<Utc>) -> Result<Issued, ApiError> {
    let m = st
        .keyring()
        .mint_at(claims, now)
        .map_err(ApiError::internal)?;
    // An expiry that is not a representable time is refused, never turned into 1970.
    let expiration = m.claims.expiration().ok_or_else(|| {
        ApiError::internal(format!(
            "session expiry {} is not a representable time",
            m.claims.expires_at
        ))
    })?;
    Metrics::inc(&st.metrics.minted);
    Ok(Issued {
        access_key_id: m.access_key_id,
        secret: m.secret,
        token: m.token,
        expiration,
        expiration_text: iso8601(expiration),
        claims: m.claims,
    })
}

/// Writes `<Credentials>…</Credentials>`.
pub fn credentials_xml(w: &mut XmlWriter, i: &Issued) {
    w.start("Credentials")
        .elem("AccessKeyId", &i.access_key_id)
        .elem("SecretAccessKey", i.secret.expose())
        .elem("SessionToken", i.token.expose())
        .elem("Expiration", &i.expiration_text)
        .end("Credentials");
}

/// CloudTrail's view of credentials, the `credentials` member of an audit object being
/// written (the text [`credentials_audit`] gives): never the secret or the token.
pub fn credentials_audit_into(o: &mut Obj<'_>, i: &Issued) {
    let mut c = Obj::open(o.key("credentials"));
    c.str("accessKeyId", &i.access_key_id);
    c.str("expiration", &i.expiration_text);
    c.close();
}

/// CloudTrail's view of credentials: never the secret or the token.
#[must_use]
pub fn credentials_audit(i: &Issued) -> serde_json::Value {
    serde_json::json!({
        "accessKeyId": i.access_key_id,
        "expiration": i.expiration_text,
    })
}
