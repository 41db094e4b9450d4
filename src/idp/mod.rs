//! Identity providers Sekisho federates with: [`oidc`] (web identity tokens). Each has a pure
//! verifier (token, keys, rules, `now` → verified claims or a typed error) and the I/O around it
//! (fetching and caching the provider's keys).

pub mod oidc;
