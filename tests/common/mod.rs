//! Test harness: a Sekisho served in-process on 127.0.0.1:0 with a memory store, a bootstrap
//! file, and a clock the tests drive; AWS SDK clients whose signing clock is the same clock.
#![allow(dead_code, reason = "each test binary uses part of the harness")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

pub mod oidc;
pub mod saml;

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_smithy_async::time::{SharedTimeSource, TimeSource};
use sekisho::clock::{Clock, FixedClock};
use sekisho::config::{Backend, Config};
use sekisho::state::AppState;

/// Two accounts: dev (111111111111) with an admin, alice (may assume prod/deployer) and a
/// read-only user; prod (222222222222) with the deployer role (external id) and a chain target.
pub const BOOTSTRAP: &str = r#"
[[accounts]]
id = "111111111111"
[[accounts.groups]]
name = "admins"
inline_policies.all = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
[[accounts.users]]
name = "admin"
groups = ["admins"]
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZDEGXD"
secret = "adminSecretKeyadminSecretKeyadminSecret0"
[[accounts.users]]
name = "alice"
tags = { team = "payments" }
inline_policies.assume = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession","sts:GetFederationToken","sts:GetAccessKeyInfo"],"Resource":"*"}]}'
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZALICE"
secret = "aliceSecretKeyaliceSecretKeyaliceSecret0"
[[accounts.users]]
name = "bob"
[[accounts.users.access_keys]]
id = "AKIARTXV5AHD2JZBOB22"
secret = "bobSecretKeybobSecretKeybobSecretKeybob0"

[[accounts]]
id = "222222222222"
[[accounts.roles]]
name = "deployer"
path = "/ops/"
max_session_duration = 7200
tags = { env = "prod" }
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"ext-123"}}}]}'
inline_policies.work = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}'
[[accounts.roles]]
name = "auditor"
max_session_duration = 43200
trust_policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/ops/deployer"},"Action":["sts:AssumeRole","sts:TagSession"]}]}'
inline_policies.read = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
"#;

/// Known key pairs from [`BOOTSTRAP`].
pub const ADMIN: (&str, &str) = (
    "AKIARTXV5AHD2JZDEGXD",
    "adminSecretKeyadminSecretKeyadminSecret0",
);
pub const ALICE: (&str, &str) = (
    "AKIARTXV5AHD2JZALICE",
    "aliceSecretKeyaliceSecretKeyaliceSecret0",
);
pub const BOB: (&str, &str) = (
    "AKIARTXV5AHD2JZBOB22",
    "bobSecretKeybobSecretKeybobSecretKeybob0",
);

/// Called where a test would skip for want of an input (the shared corpora, a Redis server):
/// under CI (`CI` set) or `make test` (`SEKISHO_REQUIRE_ALL` set) that is a failure, not a
/// silent pass; elsewhere it says why it skipped, on stderr past libtest's capture.
pub fn skip(why: &str) {
    use std::io::Write as _;
    let required = ["CI", "SEKISHO_REQUIRE_ALL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()));
    assert!(!required, "required test input missing: {why}");
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// The prod deployer role of [`BOOTSTRAP`] (trusts account 111111111111 with external id
/// `ext-123`).
pub const DEPLOYER: &str = "arn:aws:iam::222222222222:role/ops/deployer";

/// A session of [`DEPLOYER`] assumed by alice, named `name`.
pub async fn assume_deployer(s: &Server, name: &str) -> aws_sdk_sts::types::Credentials {
    s.sts(ALICE.0, ALICE.1, None)
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name(name)
        .external_id("ext-123")
        .send()
        .await
        .unwrap()
        .credentials()
        .unwrap()
        .clone()
}

/// A running server.
pub struct Server {
    pub endpoint: String,
    pub state: Arc<AppState>,
    pub clock: FixedClock,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Starts a server with the test bootstrap (or `bootstrap`), a memory store, and a fixed clock
/// set to the real time (so SDK clients that use [`Server::time_source`] agree with it).
pub async fn start_with(bootstrap: &str) -> Server {
    start_configured(bootstrap, |_| {}).await
}

/// [`start_with`], with the configuration adjusted by `tweak` before the server is built.
pub async fn start_configured(bootstrap: &str, tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("iam.toml");
    std::fs::write(&boot, bootstrap).unwrap();
    let mut cfg = Config::default();
    cfg.store.backend = Backend::Memory;
    cfg.iam.bootstrap = Some(boot);
    cfg.audit.sink = sekisho::config::AuditSink::File;
    // Every state file in the scratch directory, whatever backend `tweak` picks.
    cfg.keep_state_in(dir.path());
    let corpora = std::env::var("SEKISHO_CORPORA").map_or_else(
        |_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora"),
        std::path::PathBuf::from,
    );
    let managed = corpora.join("aws-managed-policies/managed-policies.json");
    if managed.exists() {
        cfg.iam.managed_policies = Some(managed);
    }
    tweak(&mut cfg);
    let clock = FixedClock::new(chrono::Utc::now());
    let (state, _) = sekisho::server::build(cfg, Arc::new(clock.clone()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    tokio::spawn(async move {
        sekisho::http::serve(listener, st, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Server {
        endpoint,
        state,
        clock,
        _dir: dir,
        _shutdown: tx,
    }
}

/// Starts with the default test bootstrap.
pub async fn start() -> Server {
    start_with(BOOTSTRAP).await
}

#[derive(Debug)]
struct ClockSource(FixedClock);

impl TimeSource for ClockSource {
    fn now(&self) -> SystemTime {
        SystemTime::from(self.0.now())
    }
}

impl Server {
    /// The SDK time source that follows the server's clock.
    pub fn time_source(&self) -> SharedTimeSource {
        SharedTimeSource::new(ClockSource(self.clock.clone()))
    }

    /// An STS client with the given credentials.
    pub fn sts(&self, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
        let creds = Credentials::new(key, secret, token.map(str::to_owned), None, "test");
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .time_source(self.time_source())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    /// An STS client from minted credentials.
    pub fn sts_from(&self, c: &aws_sdk_sts::types::Credentials) -> aws_sdk_sts::Client {
        self.sts(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
    }

    /// An IAM client with the given credentials.
    pub fn iam(&self, key: &str, secret: &str, token: Option<&str>) -> aws_sdk_iam::Client {
        let creds = Credentials::new(key, secret, token.map(str::to_owned), None, "test");
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(creds)
            .time_source(self.time_source())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }
}

/// The AWS error code of an SDK error.
pub fn code<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    e.as_service_error()
        .and_then(|s| s.code().map(str::to_owned))
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The AWS error message of an SDK error.
pub fn message<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.message().map(str::to_owned))
        .unwrap_or_default()
}
