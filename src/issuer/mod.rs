//! Sekisho as an OpenID Connect issuer: it signs identity tokens about its own principals and
//! identities, and publishes the keys that verify them, so other systems (another Sekisho, AWS,
//! any OIDC relying party) can trust them.
//!
//! | file | owns |
//! |---|---|
//! | [`keys`] | the asymmetric signing key ring (RS256 + ES384), its file, rotation with overlap |
//! | [`tokens`] | the claims of the tokens it issues (pure): `GetWebIdentityToken`, identity pools |
//!
//! The issuer URL is `[issuer] url`, by default the server's public URL; discovery is served at
//! `<issuer>/.well-known/openid-configuration` and the keys at `<issuer>/.well-known/jwks.json`
//! (see [`discovery_json`]).

pub mod keys;
pub mod tokens;

use openidconnect::core::{
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthUrl, EmptyAdditionalProviderMetadata, IssuerUrl, JsonWebKeySetUrl, ResponseTypes,
};

pub use self::keys::{IssuerKeys, SigningAlg};

/// Where the JWKS is served, below the issuer URL.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the discovery document is served, below the issuer URL.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The issuer URL for a configured value (trailing slashes removed, as `iss` must match it
/// exactly).
#[must_use]
pub fn issuer_url(configured: &str) -> String {
    configured.trim_end_matches('/').to_owned()
}

/// The discovery document (OpenID Connect Discovery 1.0 §3). The specification requires an
/// `authorization_endpoint`; Sekisho runs no interactive login, so it names
/// `<issuer>/authorize`, which answers 404: relying parties verifying tokens never use it.
///
/// # Errors
/// A message when `issuer` is not a URL.
pub fn discovery_json(issuer: &str) -> Result<String, String> {
    let meta = CoreProviderMetadata::new(
        IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?,
        AuthUrl::new(format!("{issuer}/authorize")).map_err(|e| e.to_string())?,
        JsonWebKeySetUrl::new(format!("{issuer}{JWKS_PATH}")).map_err(|e| e.to_string())?,
        vec![ResponseTypes::new(vec![CoreResponseType::IdToken])],
        vec![CoreSubjectIdentifierType::Public],
        vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
        ],
        EmptyAdditionalProviderMetadata {},
    )
    .set_claims_supported(Some(
        ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "amr"]
            .into_iter()
            .map(|c| openidconnect::core::CoreClaimName::new(c.to_owned()))
            .collect(),
    ));
    serde_json::to_string(&meta).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn discovery_names_the_issuer_and_its_keys() {
        let doc = discovery_json("http://127.0.0.1:8080").unwrap();
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(v["issuer"], "http://127.0.0.1:8080");
        assert_eq!(v["jwks_uri"], "http://127.0.0.1:8080/.well-known/jwks.json");
        assert_eq!(
            v["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256", "ES384"])
        );
        // What an openidconnect relying party parses.
        let parsed: CoreProviderMetadata = serde_json::from_str(&doc).unwrap();
        assert_eq!(parsed.issuer().as_str(), "http://127.0.0.1:8080");
        assert_eq!(issuer_url("https://x.example/"), "https://x.example");
        assert!(discovery_json("not a url").is_err());
    }
}
