//! Assembling a running Sekisho from its configuration: store, cache, IAM, key ring,
//! revocation set, audit sink, bootstrap.

use std::sync::Arc;
use std::time::Duration;

use crate::audit::Auditor;
use crate::cache::CachedKv;
use crate::clock::Clock;
use crate::config::{Backend, Config};
use crate::iam::Iam;
use crate::iam::at_rest::AtRestKey;
use crate::iam::bootstrap::Applied;
use crate::iam::model::{ManagedPolicy, Origin, PolicyVersion};
use crate::issuer::IssuerKeys;
use crate::revocation::Revocations;
use crate::state::AppState;
use crate::store::Kv;
use crate::token::KeyRing;

/// Opens the configured store backend.
pub async fn open_store(cfg: &Config) -> Result<Arc<dyn Kv>, String> {
    Ok(match cfg.store.backend {
        Backend::Memory => Arc::new(crate::store::memory::MemoryKv::new()),
        Backend::Embedded => {
            if let Some(dir) = cfg.store.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            Arc::new(
                crate::store::embedded::EmbeddedKv::open(&cfg.store.path)
                    .map_err(|e| format!("store {}: {e}", cfg.store.path.display()))?,
            )
        }
        Backend::Redis => Arc::new(
            crate::store::redis::RedisKv::connect(&cfg.store.redis_url, &cfg.store.namespace)
                .await
                .map_err(|e| format!("redis {}: {e}", cfg.store.redis_url))?,
        ),
    })
}

/// Loads the AWS managed policy collection, if configured and present.
pub fn load_aws_managed(cfg: &Config) -> Result<Vec<ManagedPolicy>, String> {
    let Some(path) = &cfg.iam.managed_policies else {
        return Ok(Vec::new());
    };
    if !path.exists() {
        tracing::warn!(path = %path.display(), "AWS managed policy collection not found; none loaded");
        return Ok(Vec::new());
    }
    let docs = crate::policy::load_managed(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(docs
        .into_iter()
        .filter(|d| !d.arn.is_empty())
        .map(|d| {
            let arn = d.arn;
            let parse_time = |s: &str| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_default()
            };
            let created = parse_time(&d.create_date);
            ManagedPolicy {
                account: "aws".into(),
                name: d.name,
                path: if d.path.is_empty() {
                    "/".into()
                } else {
                    d.path
                },
                id: stable_id("ANPA", &arn),
                arn,
                description: d.description,
                create_date: created,
                update_date: parse_time(&d.update_date),
                default_version_id: d.default_version.clone(),
                versions: vec![PolicyVersion {
                    version_id: d.default_version,
                    document: d.document_json,
                    create_date: created,
                }],
                next_version: 0,
                attachment_count: 0,
                tags: Vec::new(),
                origin: Origin::Api,
            }
        })
        .collect())
}

/// A deterministic 21-character id for an entity we did not create (AWS managed policies).
fn stable_id(prefix: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(seed.as_bytes());
    let enc = data_encoding::BASE32_NOPAD.encode(&h);
    format!("{prefix}{}", enc.get(..17).unwrap_or_default())
}

/// Builds the state; applies the bootstrap file. Returns what the bootstrap changed.
pub async fn build(cfg: Config, clock: Arc<dyn Clock>) -> Result<(Arc<AppState>, Applied), String> {
    let kv = open_store(&cfg).await?;
    build_with_store(cfg, clock, kv).await
}

/// Builds the state over an already opened store.
pub async fn build_with_store(
    cfg: Config,
    clock: Arc<dyn Clock>,
    kv: Arc<dyn Kv>,
) -> Result<(Arc<AppState>, Applied), String> {
    let now = clock.now();
    let cached: Arc<dyn Kv> = CachedKv::new(
        kv,
        Duration::from_secs(cfg.store.cache_ttl_seconds),
        100_000,
    );
    let at_rest = if cfg.store.backend == Backend::Memory {
        AtRestKey::ephemeral()
    } else {
        AtRestKey::load_or_create(&cfg.store.secret_key_path).map_err(|e| e.to_string())?
    };
    let managed = load_aws_managed(&cfg)?;
    let iam = Arc::new(Iam::new(
        cached.clone(),
        at_rest,
        managed,
        &cfg.server.partition,
    ));
    let applied = match &cfg.iam.bootstrap {
        Some(p) => crate::iam::bootstrap::apply_file(&iam, p, now).await?,
        None => Applied::default(),
    };
    let (keyring, keyring_path) = if cfg.store.backend == Backend::Memory {
        (KeyRing::generate_in_memory(now), None)
    } else {
        (
            KeyRing::load_or_create(&cfg.keys.path, now).map_err(|e| format!("key ring: {e}"))?,
            Some(cfg.keys.path.clone()),
        )
    };
    let issuer_keys = if cfg.store.backend == Backend::Memory {
        (
            IssuerKeys::generate(now).map_err(|e| format!("issuer keys: {e}"))?,
            None,
        )
    } else {
        (
            IssuerKeys::load_or_create(&cfg.issuer.keys_path, now)
                .map_err(|e| format!("issuer keys {}: {e}", cfg.issuer.keys_path.display()))?,
            Some(cfg.issuer.keys_path.clone()),
        )
    };
    let revocations = Revocations::start(
        cached,
        Duration::from_secs(cfg.revocation.refresh_seconds),
        Duration::from_secs(cfg.revocation.max_staleness_seconds),
        clock.clone(),
    )
    .await
    .map_err(|e| format!("revocations: {e}"))?;
    let audit = Auditor::start(&cfg.audit).map_err(|e| format!("audit sink: {e}"))?;
    let st = Arc::new(AppState::new(
        Arc::new(cfg),
        clock,
        iam,
        keyring,
        keyring_path,
        issuer_keys,
        revocations,
        audit,
    ));
    spawn_keyring_watcher(&st);
    spawn_issuer_keys_watcher(&st);
    crate::sso::spawn_purger(&st);
    Ok((st, applied))
}

/// Re-reads the key ring file when `sekisho keys rotate` changed it. The watcher never creates a
/// ring: if the file disappears or cannot be read, the node keeps the ring it holds, logs an
/// error at every check, and reports not ready (`/readyz`) until the file is back.
fn spawn_keyring_watcher(st: &Arc<AppState>) {
    let Some(path) = st.keyring_path.clone() else {
        return;
    };
    let weak = Arc::downgrade(st);
    tokio::spawn(async move {
        let mut last = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let Some(st) = weak.upgrade() else { break };
            let m = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            if m.is_some() && m == last && st.keyring_problem().is_none() {
                continue;
            }
            last = m;
            match KeyRing::load(&path) {
                Ok(r) => {
                    st.set_keyring(r);
                    if st.keyring_problem().is_some() {
                        tracing::warn!(path = %path.display(), "key ring file is back; ready again");
                    }
                    st.set_keyring_problem(None);
                    tracing::info!("key ring reloaded");
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e,
                        "key ring file cannot be read; keeping the ring in memory and reporting \
                         not ready; restore the file (a new ring is never created while running)");
                    st.set_keyring_problem(Some(e.to_string()));
                }
            }
        }
    });
}

/// Re-reads the issuer's key file when `sekisho keys rotate-issuer` changed it; as for the token
/// key ring, a file that cannot be read leaves the keys in memory in place (and is logged).
fn spawn_issuer_keys_watcher(st: &Arc<AppState>) {
    let Some(path) = st.issuer_keys_path.clone() else {
        return;
    };
    let weak = Arc::downgrade(st);
    tokio::spawn(async move {
        let mut last = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let Some(st) = weak.upgrade() else { break };
            let m = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            if m == last {
                continue;
            }
            match IssuerKeys::load(&path) {
                Ok(k) => {
                    last = m;
                    st.set_issuer_keys(k);
                    tracing::info!("issuer keys reloaded");
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e,
                        "issuer key file cannot be read; keeping the keys in memory");
                }
            }
        }
    });
}
