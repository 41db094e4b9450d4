//! Identity providers Sekisho federates with: [`oidc`] (web identity tokens) and [`saml`] (SAML
//! 2.0 responses). Each has a pure verifier (token, keys, rules, `now` → verified claims or a
//! typed error) and the I/O around it (fetching and caching the provider's keys; for SAML the
//! keys come from the provider's stored metadata).

pub mod oidc;
pub mod saml;
