//! Minting: sealed session token + temporary key id + derived secret, and their XML.

use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::secret::SecretString;
use crate::state::AppState;
use crate::token::{Minted, SessionClaims};
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
    st.metrics.minted.inc();
    Ok(Issued::new(m, expiration))
}

impl Issued {
    /// The answer's view of `m`, which expires at `expiration` (its claims' expiry, checked).
    fn new(m: Minted, expiration: DateTime<Utc>) -> Self {
        Self {
            access_key_id: m.access_key_id,
            secret: m.secret,
            token: m.token,
            expiration,
            expiration_text: iso8601(expiration),
            claims: m.claims,
        }
    }
}

/// Writes `<Credentials>…</Credentials>`. No value can hold a character XML escapes (the key
/// id is `ASIA` and base32, the secret base64, the token `SKS1` and base64url, the expiry ISO
/// 8601 digits), so each is written as it is: escaping scanned ~500 bytes per answer.
pub fn credentials_xml(w: &mut XmlWriter, i: &Issued) {
    w.start("Credentials");
    plain_elem(w, "AccessKeyId", &i.access_key_id);
    plain_elem(w, "SecretAccessKey", i.secret.expose());
    plain_elem(w, "SessionToken", i.token.expose());
    plain_elem(w, "Expiration", &i.expiration_text);
    w.end("Credentials");
}

/// `<tag>text</tag>` for a text of base64/base32/date characters, which XML leaves as they are.
fn plain_elem(w: &mut XmlWriter, tag: &str, text: &str) {
    debug_assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_:.".contains(&b)),
        "{tag} holds a character XML would escape"
    );
    w.start(tag).raw(text).end(tag);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::token::{KeyRing, SessionKind, SessionSubject};

    /// The credentials written without escaping are byte for byte what the escaping writer
    /// gives, for real minted values.
    #[test]
    fn credentials_xml_is_what_escaping_writes() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ring = KeyRing::generate_in_memory(now);
        for n in 0..50 {
            let who = SessionSubject {
                account: "123456789012".into(),
                arn: format!("arn:aws:sts::123456789012:assumed-role/r/s{n}"),
                principal_arn: "arn:aws:iam::123456789012:role/r".into(),
                principal_id: "AROAEXAMPLEEXAMPLEEX".into(),
            };
            let claims = SessionClaims::new(SessionKind::AssumedRole, who, now.timestamp(), 900);
            let m = ring.mint_at(claims, now).unwrap();
            let expiration = m.claims.expiration().unwrap();
            let i = Issued::new(m, expiration);
            let mut fast = XmlWriter::new();
            credentials_xml(&mut fast, &i);
            let mut escaped = XmlWriter::new();
            escaped
                .start("Credentials")
                .elem("AccessKeyId", &i.access_key_id)
                .elem("SecretAccessKey", i.secret.expose())
                .elem("SessionToken", i.token.expose())
                .elem("Expiration", &i.expiration_text)
                .end("Credentials");
            assert_eq!(fast.finish(), escaped.finish());
        }
    }
}
