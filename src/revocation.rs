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

use crate::error::{ApiError, Code};
use crate::store::{Batch, Kv};
use crate::token::SessionClaims;

const TOPIC: &str = "rv";

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
    fn key(&self) -> String {
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
}

/// The cached revocation set.
pub struct Revocations {
    kv: Arc<dyn Kv>,
    snap: RwLock<Snapshot>,
    max_staleness: Duration,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").finish_non_exhaustive()
    }
}

impl Revocations {
    /// Loads the set and starts the refresher task.
    pub async fn start(
        kv: Arc<dyn Kv>,
        refresh: Duration,
        max_staleness: Duration,
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
                    tracing::warn!(error = %e, "revocation refresh failed; serving cached set");
                }
            }
        });
        Ok(me)
    }

    /// Re-reads every cut-off from the store.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let mut cutoffs = crate::FastMap::default();
        for (k, v) in crate::store::scan_all(self.kv.as_ref(), "rv/").await? {
            if let Ok(t) = serde_json::from_slice::<i64>(&v) {
                cutoffs.insert(k, t);
            }
        }
        let mut s = self.snap.write().unwrap_or_else(PoisonError::into_inner);
        s.cutoffs = cutoffs;
        s.loaded_at = Some(Instant::now());
        Ok(())
    }

    /// Records a revocation durably, tells the other nodes, and applies it here before returning.
    /// For [`Scope::Session`] `at` is the session's expiry; otherwise it is the cut-off. A cut-off
    /// never moves backwards (revoking again with an older time keeps the newer one).
    pub async fn revoke(&self, scope: &Scope, at: DateTime<Utc>) -> Result<i64, ApiError> {
        let key = scope.key();
        let mut t = at.timestamp();
        if !matches!(scope, Scope::Session(_))
            && let Some(old) = self.kv.get(&key).await?
            && let Ok(old) = serde_json::from_slice::<i64>(&old)
        {
            t = t.max(old);
        }
        let v = serde_json::to_vec(&t).map_err(ApiError::internal)?;
        self.kv.commit(Batch::new().put(&key, v)).await?;
        if let Err(e) = self.kv.notify(TOPIC).await {
            tracing::warn!(error = %e, "revocation notify failed; other nodes refresh on their timer");
        }
        self.refresh().await?;
        Ok(t)
    }

    /// Checks a session against the cut-offs. Fails closed when the cache is too stale.
    pub fn check(&self, c: &SessionClaims) -> Result<(), ApiError> {
        let s = self.snap.read().unwrap_or_else(PoisonError::into_inner);
        match s.loaded_at {
            Some(at) if at.elapsed() <= self.max_staleness => {}
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
        let rows = self.kv.scan("rv/key/", None, 10_000).await?;
        let mut batch = Batch::new();
        for (k, v) in rows {
            if serde_json::from_slice::<i64>(&v).is_ok_and(|exp| exp < now.timestamp()) {
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
    async fn a_stale_set_fails_closed() {
        let r = Revocations::start(
            Arc::new(MemoryKv::new()),
            Duration::from_secs(60),
            Duration::ZERO,
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
        )
        .await
        .unwrap();
        let b = Revocations::start(kv, Duration::from_secs(3600), Duration::from_secs(3600))
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
