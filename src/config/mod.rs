//! The configuration file (TOML). Every key is documented in `config/sekisho.example.toml`
//! with its default; unknown keys and bad values are refused at start with a message naming the
//! key. Relative paths are resolved against the config file's directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod check;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listener and public identity.
    pub server: ServerConfig,
    /// Request authentication.
    pub auth: AuthConfig,
    /// Session lifetimes and token limits.
    pub sessions: SessionsConfig,
    /// The store backend.
    pub store: StoreConfig,
    /// The token key ring.
    pub keys: KeysConfig,
    /// Audit events.
    pub audit: AuditConfig,
    /// IAM bootstrap and managed policies.
    pub iam: IamConfig,
    /// Revocation cache.
    pub revocation: RevocationConfig,
    /// Web identity (OIDC) providers: key fetching and token checks.
    pub oidc: OidcConfig,
    /// Sekisho as an OIDC issuer (`GetWebIdentityToken`, identity pools' `GetOpenIdToken`).
    pub issuer: IssuerConfig,
    /// Identity pools (the Cognito Identity API).
    pub identity_pools: IdentityPoolsConfig,
    /// SAML 2.0 federation: accepted audiences and recipients, replay, algorithms, leeway.
    pub saml: SamlConfig,
    /// Logging.
    pub log: LogConfig,
    /// Testing aids. Never set these in production.
    pub testing: TestingConfig,
}

/// `[testing]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// Seconds added to the system clock (negative: subtracted). Lets compatibility tests reach
    /// expiry without waiting.
    ///
    /// # Security Warning
    /// A skewed clock extends or shortens every session and SigV4 window. Testing only.
    /// Default: `0`.
    pub insecure_clock_offset_seconds: i64,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Default: `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The URL clients use to reach Sekisho. When it starts with `https://` (TLS terminated by a
    /// proxy in front), requests count as `aws:SecureTransport = true`.
    /// Default: `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Regions accepted in SigV4 scopes; empty accepts any syntactically valid region.
    /// Default: `[]`.
    pub regions: Vec<String>,
    /// Largest request body in bytes. Default: `262144`.
    pub max_body_bytes: usize,
    /// Most requests handled at once; more wait. Default: `1024`.
    pub max_concurrent_requests: usize,
    /// Seconds a request may take before it is answered with an error. Default: `30`.
    pub request_timeout_seconds: u64,
    /// Seconds a client has to send a request's headers, from the moment its connection is
    /// accepted (or its next request's first byte arrives on a kept-alive connection); the
    /// connection is closed when they are not complete by then. Default: `10`.
    pub header_read_timeout_seconds: u64,
    /// Seconds a kept-alive connection may wait, idle, for its next request before it is
    /// closed. Default: `60`.
    pub idle_timeout_seconds: u64,
    /// Most connections open at once; more are answered `503` and closed at once. Lowered at
    /// start to the descriptor limit less a reserve for files and the store. Default: `8192`.
    pub max_connections: usize,
    /// Most connections open at once from one source address (behind a proxy or load balancer
    /// every connection comes from its address: raise this to `max_connections`).
    /// Default: `1024`.
    pub max_connections_per_ip: usize,
    /// Threads serving connections, each with its own single-threaded runtime; a connection
    /// stays on one of them from open to close. `0`: one per available core. Default: `0`.
    pub workers: usize,
    /// The partition written in ARNs. Default: `aws`.
    pub partition: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: "http://127.0.0.1:8080".into(),
            regions: Vec::new(),
            max_body_bytes: 256 * 1024,
            max_concurrent_requests: 1024,
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            max_connections: 8192,
            max_connections_per_ip: 1024,
            workers: 0,
            partition: "aws".into(),
        }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Allowed SigV4 clock skew, both directions, in seconds (at most 900). Default: `900`.
    pub clock_skew_seconds: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            clock_skew_seconds: 900,
        }
    }
}

/// `[sessions]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// Largest accepted session token, in bytes. Default: `8192`.
    pub max_token_bytes: usize,
    /// Default GetSessionToken duration for IAM users, seconds. Default: `43200`.
    pub get_session_token_default_seconds: i64,
    /// Default AssumeRole duration, seconds. Default: `3600`.
    pub assume_role_default_seconds: i64,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            max_token_bytes: 8192,
            get_session_token_default_seconds: 43200,
            assume_role_default_seconds: 3600,
        }
    }
}

/// Which store backend.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// redb file, single node (default).
    #[default]
    Embedded,
    /// Redis, shared by several nodes.
    Redis,
    /// In memory, lost on exit: tests and demos only.
    Memory,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `embedded`, `redis` or `memory`. Default: `embedded`.
    pub backend: Backend,
    /// The redb file for `embedded`. Default: `var/sekisho.redb`.
    pub path: PathBuf,
    /// Redis URL for `redis`. Default: `redis://127.0.0.1:6379/`.
    pub redis_url: String,
    /// Key namespace in Redis. Default: `sekisho`.
    pub namespace: String,
    /// File holding the key that encrypts long-term secrets at rest. Default: `var/store.key`.
    pub secret_key_path: PathBuf,
    /// Seconds a cached entity may be served without an invalidation. Default: `30`.
    pub cache_ttl_seconds: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Embedded,
            path: "var/sekisho.redb".into(),
            redis_url: "redis://127.0.0.1:6379/".into(),
            namespace: "sekisho".into(),
            secret_key_path: "var/store.key".into(),
            cache_ttl_seconds: 30,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The key ring file (created on first start). Default: `var/keyring.json`.
    pub path: PathBuf,
    /// Hours a retired key is kept to open the tokens it sealed. Default: `36`.
    pub retain_hours: i64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            path: "var/keyring.json".into(),
            retain_hours: 36,
        }
    }
}

/// Where audit events go.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuditSink {
    /// JSON lines appended to `audit.path` (default).
    #[default]
    File,
    /// JSON lines on standard output.
    Stdout,
    /// Discard (benchmarks only).
    None,
}

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// `file`, `stdout` or `none`. Default: `file`.
    pub sink: AuditSink,
    /// File for the `file` sink. Sekisho reopens it on `SIGHUP` (after logrotate moved it).
    /// Default: `var/audit.jsonl`.
    pub path: PathBuf,
    /// Size in bytes at which the `file` sink rotates the file itself (`audit.jsonl` becomes
    /// `audit.jsonl.1`, `.1` becomes `.2`, …); `0` leaves rotation to logrotate or a shipper.
    /// At least `65536` when set. Default: `0`.
    pub max_file_bytes: u64,
    /// Rotated files kept by size rotation (`.1` … `.N`); the oldest beyond that is deleted.
    /// Default: `10`.
    pub max_files: u32,
    /// Free bytes on the audit file's file system below which `/readyz` answers not ready, so a
    /// load balancer drains the node before a full disk makes its requests fail.
    /// Default: `268435456` (256 MiB).
    pub min_free_bytes: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            sink: AuditSink::File,
            path: "var/audit.jsonl".into(),
            max_file_bytes: 0,
            max_files: 10,
            min_free_bytes: 256 * 1024 * 1024,
        }
    }
}

/// `[iam]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IamConfig {
    /// Declarative bootstrap file applied at start (optional). Default: none.
    pub bootstrap: Option<PathBuf>,
    /// The AWS managed policy collection (JSON); missing file → no AWS managed policies.
    /// Default: none.
    pub managed_policies: Option<PathBuf>,
    /// Where the secrets of keys the bootstrap generates (`generate = true`) are written, once,
    /// appended to a file only its owner can read (mode 0600): never to the console or the log,
    /// which end up in container logs. Default: `generated-keys.txt` beside the config file.
    pub generated_keys_path: PathBuf,
}

impl Default for IamConfig {
    fn default() -> Self {
        Self {
            bootstrap: None,
            managed_policies: None,
            generated_keys_path: PathBuf::from("generated-keys.txt"),
        }
    }
}

/// `[revocation]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationConfig {
    /// Seconds between full re-reads of the cut-offs. Default: `5`.
    pub refresh_seconds: u64,
    /// Seconds the node keeps serving from its cache when the store is unreachable; after that
    /// it fails closed. Default: `60`.
    pub max_staleness_seconds: u64,
    /// The operators: principal ARNs (IAM users, account roots, or roles, meaning any session
    /// of that role) allowed to revoke across accounts, to use scope `all`, and to lower or
    /// remove a cut-off (`Lower=true`). Tenant policy cannot grant any of this: an account's
    /// administrator can only revoke sessions of its own account. Default: none.
    pub operators: Vec<String>,
    /// The most single-session revocations (`--access-key`) one account may hold at once;
    /// entries are purged when their session would have expired. Default: `1000`.
    pub max_session_revocations_per_account: usize,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        Self {
            refresh_seconds: 5,
            max_staleness_seconds: 60,
            operators: Vec::new(),
            max_session_revocations_per_account: 1000,
        }
    }
}

/// `[oidc]`: OpenID Connect providers (`AssumeRoleWithWebIdentity`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// URL prefixes under which plain `http://` provider and JWKS URLs are allowed (AWS requires
    /// `https://`), e.g. `["http://127.0.0.1:"]` for a local IdP in tests.
    ///
    /// # Security Warning
    /// Keys fetched over plain HTTP can be replaced by anyone on the path. Tests and trusted
    /// private networks only. Default: `[]`.
    pub insecure_http_prefixes: Vec<String>,
    /// Seconds a fetched key set is used before it is refreshed in the background (the old set
    /// keeps serving meanwhile and while the IdP is down) (60..=86400). Default: `3600`.
    pub jwks_ttl_seconds: i64,
    /// Least seconds between two refetches of a provider's keys for an unknown `kid`: a flood
    /// of tokens with bogus kids makes at most one fetch per interval (1..=3600). Default: `60`.
    pub refetch_interval_seconds: i64,
    /// Leeway for a token's `exp`, `nbf` and `iat`, seconds (0..=900). Default: `300`.
    pub leeway_seconds: i64,
    /// The oldest token accepted: seconds since its `iat` (60..=604800). Default: `86400`.
    pub max_token_age_seconds: i64,
    /// Seconds a discovery or JWKS fetch may take (1..=60). Default: `5`.
    pub fetch_timeout_seconds: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            insecure_http_prefixes: Vec::new(),
            jwks_ttl_seconds: 3600,
            refetch_interval_seconds: 60,
            leeway_seconds: 300,
            max_token_age_seconds: 86400,
            fetch_timeout_seconds: 5,
        }
    }
}

/// `[issuer]`: Sekisho as an OpenID Connect issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IssuerConfig {
    /// The issuer URL: the `iss` of the tokens it signs; discovery and JWKS are served below it
    /// (`/.well-known/openid-configuration`, `/.well-known/jwks.json`). Default: empty, meaning
    /// `server.public_url`.
    pub url: String,
    /// The signing key file (RS256 and ES384 keys, created on first start). Default:
    /// `var/issuer-keys.json`.
    pub keys_path: PathBuf,
    /// Hours a rotated-out key stays in the JWKS, so tokens it signed keep verifying and
    /// relying parties' caches catch up (1..=720). Default: `24`.
    pub overlap_hours: i64,
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            keys_path: "var/issuer-keys.json".into(),
            overlap_hours: 24,
        }
    }
}

/// `[saml]`: SAML 2.0 federation (`AssumeRoleWithSAML`), reference README decisions 1–3.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlConfig {
    /// Audiences accepted besides `urn:amazon:webservices` (AWS's SP entity id, which IdP apps
    /// built for AWS send) and Sekisho's own SP entity id (`<public_url>/saml/metadata`).
    /// Default: `[]`.
    pub audiences: Vec<String>,
    /// `SubjectConfirmationData@Recipient` values accepted besides
    /// `https://signin.aws.amazon.com/saml` (and its regional forms) and Sekisho's own ACS URL
    /// (`<public_url>/saml`). Default: `[]`.
    pub recipients: Vec<String>,
    /// Accept an assertion ID more than once while the assertion is valid (AWS does; tools such
    /// as saml2aws pick several roles from one assertion). Off: each ID is accepted once,
    /// remembered durably until the assertion expires. Default: `false`.
    pub allow_assertion_reuse: bool,
    /// Leeway for `NotBefore`/`NotOnOrAfter`, seconds (0..=900). Default: `300`.
    pub leeway_seconds: i64,
    /// Accept RSA-SHA1/ECDSA-SHA1 signatures and SHA-1 digests (old ADFS and Shibboleth set-ups).
    ///
    /// # Security Warning
    /// SHA-1 is broken for collision resistance; an IdP that signs with it should be moved to
    /// SHA-256. Default: `false`.
    pub insecure_allow_sha1: bool,
    /// SP-initiated sign-ins (`GET /saml/login`, which stores a pending request id for five
    /// minutes) accepted per source address (IPv6: per /64) per minute, on each node; more are
    /// answered `429`. Offices behind one NAT address share it. `0`: no limit. Default: `300`.
    pub sign_in_requests_per_minute: u32,
    /// Most signature verifications (xmlsec's reduction of a response) remembered for responses
    /// replayed as they are, keyed by the exact text, the provider's certificates and the SHA-1
    /// setting; every other check still runs on each request. The memo also stays under 64 MiB
    /// (estimated) whatever this says. `0` turns the memo off (0..=1,000,000). Default: `4096`.
    pub verification_memo_entries: usize,
}

impl Default for SamlConfig {
    fn default() -> Self {
        Self {
            audiences: Vec::new(),
            recipients: Vec::new(),
            allow_assertion_reuse: false,
            leeway_seconds: 300,
            insecure_allow_sha1: false,
            sign_in_requests_per_minute: 300,
            verification_memo_entries: crate::idp::saml::memo::DEFAULT_ENTRIES,
        }
    }
}

impl Config {
    /// The issuer URL in effect (`[issuer] url`, else `server.public_url`), without trailing `/`.
    #[must_use]
    pub fn issuer_url(&self) -> String {
        let u = if self.issuer.url.is_empty() {
            &self.server.public_url
        } else {
            &self.issuer.url
        };
        crate::issuer::issuer_url(u)
    }
}

/// `[identity_pools]`: the Cognito Identity API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityPoolsConfig {
    /// Seconds the credentials of `GetCredentialsForIdentity` last (bounded by the role's
    /// maximum) (900..=43200). Default: `3600` (Cognito's one hour).
    pub credentials_seconds: i64,
}

impl Default for IdentityPoolsConfig {
    fn default() -> Self {
        Self {
            credentials_seconds: 3600,
        }
    }
}

/// AWS's SP entity id, the audience IdP apps built for AWS send.
pub const AWS_SAML_AUDIENCE: &str = "urn:amazon:webservices";
/// AWS's sign-in endpoint, the recipient IdP apps built for AWS send.
pub const AWS_SAML_RECIPIENT: &str = "https://signin.aws.amazon.com/saml";

impl Config {
    /// Sekisho's own SAML service-provider entity id: `<public_url>/saml/metadata`.
    #[must_use]
    pub fn saml_sp_entity_id(&self) -> String {
        format!(
            "{}/saml/metadata",
            self.server.public_url.trim_end_matches('/')
        )
    }

    /// Sekisho's own assertion consumer service URL: `<public_url>/saml`.
    #[must_use]
    pub fn saml_acs_url(&self) -> String {
        format!("{}/saml", self.server.public_url.trim_end_matches('/'))
    }

    /// The SAML rules (decision 1: AWS's audience and recipient, ours, and the extras).
    #[must_use]
    pub fn saml_rules(&self) -> crate::idp::saml::Rules {
        let mut audiences = vec![AWS_SAML_AUDIENCE.to_owned(), self.saml_sp_entity_id()];
        audiences.extend(self.saml.audiences.iter().cloned());
        let mut recipients = vec![AWS_SAML_RECIPIENT.to_owned(), self.saml_acs_url()];
        recipients.extend(self.saml.recipients.iter().cloned());
        crate::idp::saml::Rules {
            audiences,
            recipients,
            aws_regional_recipients: true,
            leeway_seconds: self.saml.leeway_seconds,
            allow_sha1: self.saml.insecure_allow_sha1,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` or `text`. Default: `text`.
    pub format: String,
    /// A tracing filter (`info`, `sekisho=debug`, …); `RUST_LOG` overrides. Default: `info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrongly typed value.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key).
        message: String,
    },
    /// A value out of range.
    #[error("{path}: invalid value for `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Reads, parses and checks a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Self::parse(&text, path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        cfg.resolve_paths(&base);
        Ok(cfg)
    }

    /// Parses and checks config text.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        cfg.check(path)?;
        Ok(cfg)
    }

    /// Puts every file the server keeps state in (the store and its at-rest key, the key ring,
    /// the issuer's keys, the audit file, generated bootstrap secrets) in `dir`, under their
    /// default names: for tests and tools that run a server in a scratch directory, so that no
    /// default relative path lands in the working directory.
    pub fn keep_state_in(&mut self, dir: &Path) {
        self.store.path = dir.join("sekisho.redb");
        self.store.secret_key_path = dir.join("store.key");
        self.keys.path = dir.join("keyring.json");
        self.issuer.keys_path = dir.join("issuer-keys.json");
        self.audit.path = dir.join("audit.jsonl");
        self.iam.generated_keys_path = dir.join("generated-keys.txt");
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.store.path);
        fix(&mut self.store.secret_key_path);
        fix(&mut self.keys.path);
        fix(&mut self.issuer.keys_path);
        fix(&mut self.audit.path);
        fix(&mut self.iam.generated_keys_path);
        if let Some(p) = self.iam.bootstrap.as_mut() {
            fix(p);
        }
        if let Some(p) = self.iam.managed_policies.as_mut() {
            fix(p);
        }
    }
}

/// Syntax of a region name accepted in SigV4 scopes: lowercase letters, digits and hyphens,
/// starting with a letter, at most 32 characters (`us-east-1`, `eu-central-2`, `local`).
#[must_use]
pub fn is_valid_region(r: &str) -> bool {
    // Checked on every signed request: bytes (every allowed character is ASCII), one table
    // look-up each.
    let b = r.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.len() <= 32
        && b.last() != Some(&b'-')
        && b.iter().all(|&c| {
            crate::wire::text::in_byte_class!(c, |x| x.is_ascii_lowercase()
                || x.is_ascii_digit()
                || x == b'-')
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    proptest::proptest! {
        /// The byte-table check decides as the rule written over characters.
        #[test]
        fn region_check_is_the_plain_rule(r in "[a-z0-9é_A-]{0,34}") {
            let plain = !r.is_empty()
                && r.len() <= 32
                && r.starts_with(|c: char| c.is_ascii_lowercase())
                && !r.ends_with('-')
                && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            proptest::prop_assert_eq!(is_valid_region(&r), plain);
        }
    }

    #[test]
    fn defaults_parse() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.auth.clock_skew_seconds, 900);
        assert_eq!(c.store.backend, Backend::Embedded);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("[server]\nlisten_addr = \"x\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("listen_addr"), "{e}");
    }

    #[test]
    fn bad_value_is_named() {
        let e =
            Config::parse("[auth]\nclock_skew_seconds = 5000\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("auth.clock_skew_seconds"), "{e}");
        let e = Config::parse("[store]\nbackend = \"mysql\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("backend"), "{e}");
        let e = Config::parse(
            "[server]\nregions = [\"Not A Region\"]\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("server.regions"), "{e}");
    }

    #[test]
    fn connection_and_audit_file_settings_are_checked() {
        let c = Config::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(c.server.header_read_timeout_seconds, 10);
        assert_eq!(c.server.idle_timeout_seconds, 60);
        assert_eq!(c.server.workers, 0, "one worker per core unless asked");
        assert_eq!(
            Config::parse("[server]\nworkers = 3\n", Path::new("x.toml"))
                .unwrap()
                .server
                .workers,
            3
        );
        assert_eq!(
            c.audit.max_file_bytes, 0,
            "size rotation is off unless asked for"
        );
        for (text, key) in [
            (
                "[server]\nheader_read_timeout_seconds = 0\n",
                "server.header_read_timeout_seconds",
            ),
            (
                "[server]\nidle_timeout_seconds = 0\n",
                "server.idle_timeout_seconds",
            ),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[server]\nworkers = 1025\n", "server.workers"),
            (
                "[server]\nmax_connections = 10\nmax_connections_per_ip = 11\n",
                "server.max_connections_per_ip",
            ),
            ("[audit]\nmax_file_bytes = 1000\n", "audit.max_file_bytes"),
            ("[audit]\nmax_files = 0\n", "audit.max_files"),
        ] {
            let e = Config::parse(text, Path::new("x.toml")).unwrap_err();
            assert!(e.to_string().contains(key), "{text}: {e}");
        }
        let c = Config::parse(
            "[audit]\nmax_file_bytes = 65536\nmax_files = 1\nmin_free_bytes = 0\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!((c.audit.max_file_bytes, c.audit.max_files), (65536, 1));
    }

    #[test]
    fn keep_state_in_moves_every_state_path() {
        let dir = Path::new("/scratch");
        let mut c = Config::default();
        c.keep_state_in(dir);
        // Every path `resolve_paths` resolves, except the inputs (bootstrap, managed policies).
        for p in [
            &c.store.path,
            &c.store.secret_key_path,
            &c.keys.path,
            &c.issuer.keys_path,
            &c.audit.path,
            &c.iam.generated_keys_path,
        ] {
            assert_eq!(p.parent(), Some(dir), "{}", p.display());
        }
    }

    #[test]
    fn example_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sekisho.example.toml");
        Config::load(&p).unwrap();
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
        Config::load(&p).unwrap();
    }
}
