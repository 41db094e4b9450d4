//! # Sekisho — an STS temporary-credential broker
//!
//! Layout (the pipeline of `shared/design/architecture.md` §1):
//!
//! | module | owns |
//! |---|---|
//! | [`http`] | axum router, accept loop (timeouts, connection caps), guard layer, the one renderer |
//! | [`action`] | what an action is apart from HTTP (`Ctx`, `Reply`) and which callers may call what |
//! | [`wire`] | AWS Query decoding (form/query → typed parameters) and XML writing |
//! | [`sigv4`] | pure SigV4 verification (header and presigned forms) |
//! | [`token`] | sealed session tokens, the key ring, temporary key ids and secrets |
//! | `xchacha` | XChaCha20-Poly1305 (HChaCha20 + aws-lc-rs), for tokens and secrets at rest |
//! | [`policy`] | the IAM policy language: parse, evaluate, simulate, summarise |
//! | [`store`] | the storage trait and its backends (their conformance suite is in `tests/`) |
//! | [`iam`] | IAM entities: model, the repository (`iam::repo`: `keys` names every store key, |
//! | | `kind` serves every entity kind generically, one file per kind, its own error), the |
//! | | decoded-entity memo, secrets sealed at rest, bootstrap, and the IAM Query API |
//! | [`mfa`] | virtual MFA: TOTP verification (pure), per-device replay/throttle state, QR enrolment |
//! | [`sts`] | the STS actions, one file each (AssumeRole: a pure plan + its I/O), minting |
//! | [`error`] | the one table of AWS error codes, and every module error mapped to it |
//! | [`authn`] | who is calling: SigV4 + key lookup or token opening, revocation |
//! | [`idp`] | identity providers: OIDC token verification (pure) and their keys (fetched, cached) |
//! | [`issuer`] | Sekisho as an OIDC issuer: its signing key ring, discovery, JWKS, token claims |
//! | [`cognito`] | identity pools: the Cognito Identity API (awsJson 1.1), logins, role mapping |
//! | [`sso`] | browser sign-in with SAML: role chooser and credentials pages, SP metadata |
//! | [`authz`] | what they may do: effective policies (`authz::policies`) + context → engine |
//! | [`revocation`] | revoke-before-T cut-offs and single-session deny list, cached |
//! | [`audit`] | CloudTrail-shaped events, secrets redacted |
//! | [`config`] | the TOML configuration |
//! | [`clock`], [`secret`], [`ids`] | injected time, secret wrappers, identifier formats |

/// The map type of per-request and request-path maps (contexts, caches, memos): foldhash,
/// randomly seeded per map, instead of SipHash, which showed in profiles at several lookups a
/// request. Keys are bounded by the request-size limits and the caches' bounds.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub mod action;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod bounded;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod cognito;
pub mod config;
pub mod error;
pub mod http;
pub mod iam;
pub mod idp;
pub mod ids;
pub mod issuer;
pub mod mfa;
pub mod policy;
pub(crate) mod private_file;
pub mod revocation;
pub mod secret;
pub mod server;
pub mod sigv4;
pub mod sso;
pub mod state;
pub mod store;
pub mod sts;
pub mod token;
pub mod verify;
pub mod wire;
pub(crate) mod xchacha;
