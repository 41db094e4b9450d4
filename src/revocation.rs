//! Revoke-before-T cut-offs (global, account, role, user) and single-session revocation,
//! durable in the store and cached on every node (architecture §3).
//!
//! The hot path reads only the in-memory snapshot: no store round trip. The snapshot is re-read
//! when any node announces a change (topic `rv`) and every `refresh_seconds`; if it cannot be
//! refreshed for longer than `max_staleness`, checks fail closed.
//!
//! Store keys: `rv/global`, `rv/acct/{A}`, `rv/role/{AROA…}`, `rv/user/{AIDA…}` hold a cut-off
//! (unix seconds): sessions issued at or before it are dead (tokens carry their issue time in
//! whole seconds, so "revoke now" must include the current second). `rv/key/{ASIA…}` holds the
//! session's expiry: that one session is dead, and the entry can be purged once it expires.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::error::{ApiError, Code};
use crate::store::{Batch, Check, Kv};
use crate::token::SessionClaims;

const TOPIC: &str = "rv";

/// How often expired single-session entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// How many times a conditional cut-off write is retried when other writers keep winning.
const CAS_ATTEMPTS: usize = 32;

/// What a revocation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every session.
    Global,
    /// Every session of an account.
    Account(String),
    /// Every session of a role (by role unique id).
    Role(String),
    /// Every session started by a user (by user unique id): GetSessionToken, GetFederationToken
    /// and role sessions assumed with the user's keys, chained ones included.
    User(String),
    /// One session, by its temporary access key id; the value is its expiry.
    Session(String),
}

impl Scope {
    /// The store key of this scope's entry.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Global => "rv/global".into(),
            Self::Account(a) => format!("rv/acct/{a}"),
            Self::Role(id) => format!("rv/role/{id}"),
            Self::User(id) => format!("rv/user/{id}"),
            Self::Session(k) => format!("rv/key/{k}"),
        }
    }
}

#[derive(Debug, Default)]
struct Snapshot {
    cutoffs: crate::FastMap<String, i64>,
    loaded_at: Option<Instant>,
    /// A stored entry that could not be decoded: every check fails closed until it is mended.
    corrupt: Option<String>,
}

/// The cached revocation set.
pub struct Revocations {
    kv: Arc<dyn Kv>,
    snap: RwLock<Snapshot>,
    max_staleness: Duration,
}

fn decode_cutoff(key: &str, raw: &[u8]) -> Result<i64, ApiError> {
    serde_json::from_slice::<i64>(raw).map_err(|e| {
        ApiError::internal(format!(
            "corrupt revocation entry {key} ({e}): failing closed until it is mended"
        ))
    })
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}

impl Revocations {
    /// Loads the set and starts the refresher task, which also purges expired single-session
    /// entries every minute (by `clock`). A stored entry that cannot be decoded fails the start:
    /// a revocation is never silently ignored.
    pub async fn start(
        kv: Arc<dyn Kv>,
        refresh: Duration,
        max_staleness: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, ApiError> {
        let me = Arc::new(Self {
            kv,
            snap: RwLock::new(Snapshot::default()),
            max_staleness,
        });
        me.refresh().await?;
        let weak = Arc::downgrade(&me);
        let mut rx = me.kv.watch();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(refresh);
            let mut last_purge = Instant::now();
            loop {
                let changed = tokio::select! {
                    _ = tick.tick() => true,
                    m = rx.recv() => match m {
                        Ok(t) => t == TOPIC,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            tokio::time::sleep(refresh).await;
                            true
                        }
                    },
                };
                let Some(me) = weak.upgrade() else { break };
                if changed && let Err(e) = me.refresh().await {
                    tracing::error!(error = %e, detail = e.detail.as_deref().unwrap_or(""),
                        "revocation refresh failed; serving the cached set until it is stale");
                }
                if last_purge.elapsed() >= PURGE_EVERY {
                    last_purge = Instant::now();
                    if let Err(e) = me.purge_expired(clock.now()).await {
                        tracing::warn!(error = %e, "purging expired session revocations failed");
                    }
                }
            }
        });
        Ok(me)
    }

    /// Re-reads every cut-off from the store. An entry that cannot be decoded fails closed: the
    /// snapshot is marked corrupt (every check refuses) and the error is returned.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let mut cutoffs = crate::FastMap::default();
        let mut corrupt = None;
        for (k, v) in crate::store::scan_all(self.kv.as_ref(), "rv/").await? {
            match decode_cutoff(&k, &v) {
                Ok(t) => {
                    cutoffs.insert(k, t);
                }
                Err(e) => {
                    corrupt = Some(e);
                    break;
                }
            }
        }
        let mut s = self.snap.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = corrupt {
            s.corrupt = Some(e.detail.clone().unwrap_or_default());
            return Err(e);
        }
        s.cutoffs = cutoffs;
        s.loaded_at = Some(Instant::now());
        s.corrupt = None;
        Ok(())
    }

    /// Records a revocation durably, tells the other nodes, and applies it here before returning.
    /// For [`Scope::Session`] `at` is the session's expiry; otherwise it is the cut-off. A cut-off
    /// never moves backwards (revoking again with an older time keeps the newer one): the write
    /// is conditional on the value it replaces, so concurrent revocations cannot lose the later
    /// cut-off. Returns the cut-off now in force.
    pub async fn revoke(&self, scope: &Scope, at: DateTime<Utc>) -> Result<i64, ApiError> {
        let key = scope.key();
        for _ in 0..CAS_ATTEMPTS {
            let old = self.kv.get(&key).await?;
            let mut t = at.timestamp();
            let check = match &old {
                Some(raw) => {
                    let prev = decode_cutoff(&key, raw)?;
                    if !matches!(scope, Scope::Session(_)) {
                        t = t.max(prev);
                    }
                    Check::Equals(key.clone(), raw.clone())
                }
                None => Check::Absent(key.clone()),
            };
            let v = serde_json::to_vec(&t).map_err(ApiError::internal)?;
            match self.kv.commit(Batch::new().check(check).put(&key, v)).await {
                Ok(()) => {
                    self.announce().await?;
                    return Ok(t);
                }
                Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::from(crate::store::Error::Conflict(key)))
    }

    /// Sets a cut-off to exactly `at`, lower than the one in force if need be, or removes it
    /// (`None`). For operators only (the caller checks): it is the one way a cut-off moves back.
    pub async fn set(&self, scope: &Scope, at: Option<DateTime<Utc>>) -> Result<(), ApiError> {
        let key = scope.key();
        let batch = match at {
            Some(at) => {
                let v = serde_json::to_vec(&at.timestamp()).map_err(ApiError::internal)?;
                Batch::new().put(&key, v)
            }
            None => Batch::new().delete(&key),
        };
        self.kv.commit(batch).await?;
        self.announce().await
    }

    /// Tells the other nodes and re-reads the set here, so a change applies on this node before
    /// the answer.
    async fn announce(&self) -> Result<(), ApiError> {
        if let Err(e) = self.kv.notify(TOPIC).await {
            tracing::warn!(error = %e, "revocation notify failed; other nodes refresh on their timer");
        }
        self.refresh().await
    }

    /// How many single-session revocations of `account` are in force (from the cached set).
    #[must_use]
    pub fn single_sessions_of(&self, account: &str) -> usize {
        let s = self.snap.read().unwrap_or_else(PoisonError::into_inner);
        s.cutoffs
            .keys()
            .filter_map(|k| k.strip_prefix("rv/key/"))
            .filter(|id| crate::ids::account_from_access_key_id(id).as_deref() == Some(account))
            .count()
    }

    /// Checks a session against the cut-offs. Fails closed when the cache is too stale.
    pub fn check(&self, c: &SessionClaims) -> Result<(), ApiError> {
        self.check_at(c, Instant::now())
    }

    /// [`Self::check`] at the monotonic time `now` (staleness is measured on the monotonic
    /// clock, never the wall clock a test or an operator may move): testable at its boundary.
    pub fn check_at(&self, c: &SessionClaims, now: Instant) -> Result<(), ApiError> {
        let s = self.snap.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = &s.corrupt {
            return Err(ApiError::new(
                Code::ServiceUnavailable,
                "Service is unavailable. Please retry.",
            )
            .with_detail(why.clone()));
        }
        match s.loaded_at {
            Some(at) if now.saturating_duration_since(at) <= self.max_staleness => {}
            _ => {
                return Err(ApiError::new(
                    Code::ServiceUnavailable,
                    "Service is unavailable. Please retry.",
                )
                .with_detail("revocation set is older than revocation.max_staleness_seconds"));
            }
        }
        if s.cutoffs.is_empty() {
            // The common case: nothing revoked, nothing to look up.
            return Ok(());
        }
        let revoked_by = |key: String| s.cutoffs.get(&key).is_some_and(|cut| c.issued_at <= *cut);
        let mut scopes = vec![
            Scope::Global.key(),
            Scope::Account(c.account.clone()).key(),
            Scope::Role(c.principal_id.clone()).key(),
            Scope::User(c.principal_id.clone()).key(),
        ];
        if let Some(u) = &c.parent_user_id {
            scopes.push(Scope::User(u.clone()).key());
        }
        for key in scopes {
            if revoked_by(key.clone()) {
                return Err(ApiError::expired_token().with_detail(format!(
                    "session issued before the revocation cut-off {key}"
                )));
            }
        }
        if s.cutoffs
            .contains_key(&Scope::Session(c.access_key_id.clone()).key())
        {
            return Err(ApiError::expired_token().with_detail("this session was revoked"));
        }
        Ok(())
    }

    /// Deletes single-session entries whose sessions have expired anyway.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, ApiError> {
        let rows = crate::store::scan_all(self.kv.as_ref(), "rv/key/").await?;
        let mut batch = Batch::new();
        for (k, v) in rows {
            // Conditional on the value read, so a renewed entry written meanwhile survives.
            if decode_cutoff(&k, &v)? < now.timestamp() {
                batch.checks.push(Check::Equals(k.clone(), v));
                batch.deletes.push(k);
            }
        }
        let n = batch.deletes.len();
        if n > 0 {
            self.kv.commit(batch).await?;
            let _ = self.kv.notify(TOPIC).await;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
    use super::*;
    use crate::store::memory::MemoryKv;
    use crate::token::SessionKind;

    fn claims(issued_at: i64) -> SessionClaims {
        SessionClaims {
            kind: SessionKind::AssumedRole,
            account: "111111111111".into(),
            access_key_id: "ASIAEXAMPLEEXAMPLE01".into(),
            arn: "arn:aws:sts::111111111111:assumed-role/r/s".into(),
            principal_arn: "arn:aws:iam::111111111111:role/r".into(),
            principal_id: "AROAROLEID".into(),
            session_name: Some("s".into()),
            issued_at,
            expires_at: issued_at + 3600,
            mfa_auth_time: None,
            source_identity: None,
            tags: Vec::new(),
            transitive_tag_keys: Vec::new(),
            session_policy: None,
            session_policy_arns: Vec::new(),
            parent_access_key_id: Some("AKIAPARENT".into()),
            parent_user_id: Some("AIDAUSERID".into()),
            chained: false,
            federated_provider: None,
            federation_claims: Vec::new(),
        }
    }

    async fn set() -> Arc<Revocations> {
        Revocations::start(
            Arc::new(MemoryKv::new()),
            Duration::from_secs(60),
            Duration::from_secs(60),
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap()
    }

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[tokio::test]
    async fn every_scope_cuts_off_older_sessions_only() {
        let scopes = [
            Scope::Global,
            Scope::Account("111111111111".into()),
            Scope::Role("AROAROLEID".into()),
            Scope::User("AIDAUSERID".into()),
        ];
        for scope in scopes {
            let r = set().await;
            r.revoke(&scope, at(1000)).await.unwrap();
            assert!(r.check(&claims(999)).is_err(), "{scope:?} kills older");
            assert!(
                r.check(&claims(1000)).is_err(),
                "{scope:?} kills the same second"
            );
            assert!(r.check(&claims(1001)).is_ok(), "{scope:?} spares newer");
        }
        // Other roles, users and accounts are untouched.
        let r = set().await;
        r.revoke(&Scope::Role("AROAOTHER".into()), at(1000))
            .await
            .unwrap();
        r.revoke(&Scope::Account("222222222222".into()), at(1000))
            .await
            .unwrap();
        r.revoke(&Scope::User("AIDAOTHER".into()), at(1000))
            .await
            .unwrap();
        assert!(r.check(&claims(1)).is_ok());
    }

    #[tokio::test]
    async fn single_session_and_monotonic_cutoffs() {
        let r = set().await;
        r.revoke(&Scope::Session("ASIAEXAMPLEEXAMPLE01".into()), at(99_999))
            .await
            .unwrap();
        assert!(r.check(&claims(5000)).is_err());
        let mut other = claims(5000);
        other.access_key_id = "ASIAEXAMPLEEXAMPLE02".into();
        assert!(r.check(&other).is_ok());
        // A later revoke with an older time keeps the newer cut-off.
        r.revoke(&Scope::Global, at(2000)).await.unwrap();
        assert_eq!(r.revoke(&Scope::Global, at(1000)).await.unwrap(), 2000);
        assert!(r.check(&claims(1500)).is_err());
        // Expired single-session entries are purged.
        assert_eq!(r.purge_expired(at(100_000)).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_corrupt_entry_fails_closed_and_is_reported() {
        let kv: Arc<dyn Kv> = Arc::new(MemoryKv::new());
        let r = Revocations::start(
            kv.clone(),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        assert!(r.check(&claims(1)).is_ok());
        kv.commit(Batch::new().put("rv/role/AROAROLEID", b"not a time".to_vec()))
            .await
            .unwrap();
        let e = r.refresh().await.unwrap_err();
        assert!(
            e.detail
                .as_deref()
                .unwrap_or("")
                .contains("rv/role/AROAROLEID"),
            "{e:?}"
        );
        // Not ignored: every check refuses until the entry is mended.
        let e = r.check(&claims(1)).unwrap_err();
        assert_eq!(e.code, Code::ServiceUnavailable);
        // Revoking over it does not silently replace it either.
        assert!(
            r.revoke(&Scope::Role("AROAROLEID".into()), at(5))
                .await
                .is_err()
        );
        // An operator's explicit set mends it.
        r.set(&Scope::Role("AROAROLEID".into()), Some(at(5)))
            .await
            .unwrap();
        assert!(r.check(&claims(1)).is_err(), "cut-off at 5 applies");
        assert!(r.check(&claims(6)).is_ok());
        // A node starting on a corrupt store refuses to start.
        kv.commit(Batch::new().put("rv/global", b"{}".to_vec()))
            .await
            .unwrap();
        assert!(
            Revocations::start(
                kv,
                Duration::from_secs(3600),
                Duration::from_secs(3600),
                Arc::new(crate::clock::SystemClock),
            )
            .await
            .is_err()
        );
    }

    #[tokio::test]
    async fn concurrent_revocations_keep_the_latest_cutoff() {
        let r = set().await;
        let mut tasks = Vec::new();
        for i in 0..40_i64 {
            let r = r.clone();
            // Interleaved times: the largest must win whatever the order of commits.
            let t = if i % 2 == 0 { 1000 + i } else { 2000 - i };
            tasks.push(tokio::spawn(async move {
                r.revoke(&Scope::Account("111111111111".into()), at(t))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            r.revoke(&Scope::Account("111111111111".into()), at(0))
                .await
                .unwrap(),
            1999
        );
    }

    #[tokio::test]
    async fn operators_can_lower_or_remove_a_cutoff() {
        let r = set().await;
        r.revoke(&Scope::Global, at(5000)).await.unwrap();
        assert!(r.check(&claims(4000)).is_err());
        r.set(&Scope::Global, Some(at(3000))).await.unwrap();
        assert!(r.check(&claims(4000)).is_ok(), "lowered");
        assert!(r.check(&claims(3000)).is_err());
        r.set(&Scope::Global, None).await.unwrap();
        assert!(r.check(&claims(1)).is_ok(), "removed");
    }

    #[tokio::test]
    async fn single_sessions_are_counted_per_account() {
        let r = set().await;
        let mine = crate::ids::new_access_key_id("ASIA", "111111111111");
        let theirs = crate::ids::new_access_key_id("ASIA", "222222222222");
        r.revoke(&Scope::Session(mine), at(99_999)).await.unwrap();
        r.revoke(&Scope::Session(theirs), at(99_999)).await.unwrap();
        assert_eq!(r.single_sessions_of("111111111111"), 1);
        assert_eq!(r.single_sessions_of("333333333333"), 0);
    }

    #[tokio::test]
    async fn staleness_fails_closed_exactly_past_the_bound() {
        let r = Revocations::start(
            Arc::new(MemoryKv::new()),
            Duration::from_secs(3600),
            Duration::from_secs(60),
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        let loaded = r.snap.read().unwrap().loaded_at.unwrap();
        let c = claims(1);
        assert!(r.check_at(&c, loaded + Duration::from_secs(60)).is_ok());
        let e = r
            .check_at(&c, loaded + Duration::from_secs(61))
            .unwrap_err();
        assert_eq!(e.code, Code::ServiceUnavailable);
        // A successful refresh makes it fresh again.
        r.refresh().await.unwrap();
        assert!(r.check(&c).is_ok());
    }

    #[tokio::test]
    async fn a_stale_set_fails_closed() {
        let r = Revocations::start(
            Arc::new(MemoryKv::new()),
            Duration::from_secs(60),
            Duration::ZERO,
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let e = r.check(&claims(1)).unwrap_err();
        assert_eq!(e.code, Code::ServiceUnavailable);
    }

    #[tokio::test]
    async fn another_node_sees_a_revocation_through_the_shared_store() {
        let kv: Arc<dyn Kv> = Arc::new(MemoryKv::new());
        let a = Revocations::start(
            kv.clone(),
            Duration::from_secs(3600),
            Duration::from_secs(3600),
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        let b = Revocations::start(
            kv,
            Duration::from_secs(3600),
            Duration::from_secs(3600),
            Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        a.revoke(&Scope::Global, at(1000)).await.unwrap();
        // b refreshes on the notification, not on its (hour-long) timer.
        for _ in 0..100 {
            if b.check(&claims(10)).is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the other node never saw the revocation");
    }
}
