//! Everything a request handler needs, built once at start.

use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::audit::Auditor;
use crate::clock::Clock;
use crate::config::Config;
use crate::iam::Iam;
use crate::issuer::IssuerKeys;
use crate::revocation::Revocations;
use crate::token::KeyRing;

/// How many derived signing keys are kept (one per key, day, region and service in use).
const SIGNING_KEYS: usize = 100_000;

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered.
    pub requests: Counter,
    /// Requests answered with an error.
    pub errors: Counter,
    /// Credentials minted.
    pub minted: Counter,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections refused at once because a connection cap was reached.
    pub connections_refused: Counter,
    /// Connections closed by the header-read or idle timeout.
    pub connections_timed_out: Counter,
}

/// A counter bumped on every request: one cell per thread, summed when read, so the serving
/// threads do not pass one cache line back and forth (one shared atomic was a measurable share
/// of a request's locked instructions).
#[derive(Debug, Default)]
pub struct Counter {
    cells: thread_local::ThreadLocal<Cell>,
}

/// A thread's share of a [`Counter`], alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Cell(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.cells
            .get_or_default()
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The total over all threads.
    pub fn load(&self, order: Ordering) -> u64 {
        self.cells.iter().map(|c| c.0.load(order)).sum()
    }
}

/// Shared state.
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// IAM repository.
    pub iam: Arc<Iam>,
    /// The key ring, swapped whole when the file changes; read by every minting and
    /// session-authenticated request without a shared lock or reference-count write.
    keyring: arc_swap::ArcSwap<KeyRing>,
    /// Where the key ring lives (re-read when it changes on disk).
    pub keyring_path: Option<PathBuf>,
    /// Why the key ring file cannot be read (missing, corrupt), while that lasts: the node keeps
    /// the ring it holds and reports not ready.
    pub keyring_problem: RwLock<Option<String>>,
    /// Revocation cut-offs.
    pub revocations: Arc<Revocations>,
    /// Audit sink.
    pub audit: Auditor,
    /// When each access key's last use was last written (debounce).
    last_used_written: UseDebounce,
    /// When each role's last use was last written (debounce).
    role_used_written: UseDebounce,
    /// Counters.
    pub metrics: Metrics,
    /// Derived SigV4 signing keys.
    pub signing_keys: crate::sigv4::SigningKeyCache,
    /// OIDC providers' signing keys (fetched on first use, cached; `[oidc]`).
    pub oidc_keys: crate::idp::oidc::KeyCache,
    /// SAML signature verifications already done (`[saml] verification_memo_entries`).
    pub saml_memo: Arc<crate::idp::saml::ReductionMemo>,
    /// SAML providers' certificates and opened private keys, by provider.
    pub saml_trusts: crate::sts::actions::assume_role_with_saml::TrustCache,
    /// Sekisho's own signing keys as an OIDC issuer (`[issuer]`).
    issuer_keys: RwLock<Arc<IssuerKeys>>,
    /// Where the issuer keys live (re-read when they change on disk).
    pub issuer_keys_path: Option<PathBuf>,
    /// The issuer URL (`Config::issuer_url`).
    pub issuer_url: String,
    /// `GET /saml/login`'s per-address budget (`[saml] sign_in_requests_per_minute`).
    pub sso_sign_in_budget: crate::sso::limit::PerAddress,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Assembles the state.
    #[must_use]
    #[expect(
        clippy::too_many_arguments,
        reason = "each is one part of the state, built apart"
    )]
    pub fn new(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        iam: Arc<Iam>,
        keyring: KeyRing,
        keyring_path: Option<PathBuf>,
        issuer_keys: (IssuerKeys, Option<PathBuf>),
        revocations: Arc<Revocations>,
        audit: Auditor,
    ) -> Self {
        let oidc_keys = crate::idp::oidc::KeyCache::new(
            config.oidc.clone(),
            Arc::new(crate::idp::oidc::keys::HttpFetch::new()),
        );
        let issuer_url = config.issuer_url();
        let sso_sign_in_budget =
            crate::sso::limit::PerAddress::new(config.saml.sign_in_requests_per_minute);
        let saml_memo = Arc::new(crate::idp::saml::ReductionMemo::new(
            config.saml.verification_memo_entries,
        ));
        Self {
            config,
            clock,
            iam,
            keyring: arc_swap::ArcSwap::from_pointee(keyring),
            keyring_path,
            keyring_problem: RwLock::new(None),
            revocations,
            audit,
            last_used_written: UseDebounce::new(LAST_USED_INTERVAL),
            role_used_written: UseDebounce::new(LAST_USED_INTERVAL),
            metrics: Metrics::default(),
            signing_keys: crate::sigv4::SigningKeyCache::new(SIGNING_KEYS),
            oidc_keys,
            saml_memo,
            saml_trusts: crate::sts::actions::assume_role_with_saml::TrustCache::default(),
            issuer_keys: RwLock::new(Arc::new(issuer_keys.0)),
            issuer_keys_path: issuer_keys.1,
            issuer_url,
            sso_sign_in_budget,
        }
    }

    /// The issuer's current signing keys.
    #[must_use]
    pub fn issuer_keys(&self) -> Arc<IssuerKeys> {
        self.issuer_keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the issuer's keys (after `sekisho keys rotate-issuer` changed the file).
    pub fn set_issuer_keys(&self, keys: IssuerKeys) {
        *self
            .issuer_keys
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// The current key ring.
    #[must_use]
    pub fn keyring(&self) -> arc_swap::Guard<Arc<KeyRing>> {
        self.keyring.load()
    }

    /// Replaces the key ring (after `sekisho keys rotate` changed the file).
    pub fn set_keyring(&self, ring: KeyRing) {
        self.keyring.store(Arc::new(ring));
    }

    /// Records (or clears, with `None`) a problem with the key ring file.
    pub fn set_keyring_problem(&self, problem: Option<String>) {
        *self
            .keyring_problem
            .write()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }

    /// The current problem with the key ring file, if any.
    #[must_use]
    pub fn keyring_problem(&self) -> Option<String> {
        self.keyring_problem
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether a key's last use should be written now (at most once a minute per key).
    pub fn should_record_use(&self, key_id: &str) -> bool {
        self.last_used_written
            .should_record(key_id, crate::clock::coarse_instant())
    }

    /// Whether a role's last use should be written now (at most once a minute per role id):
    /// [`Self::should_record_use`] for roles, without a `role:` key to format.
    pub fn should_record_role_use(&self, role_id: &str) -> bool {
        self.role_used_written
            .should_record(role_id, crate::clock::coarse_instant())
    }
}

/// How often a key's or role's last use is written at most.
const LAST_USED_INTERVAL: Duration = Duration::from_secs(60);
/// Shards of a [`UseDebounce`]: requests of different keys rarely wait on one lock.
const USE_SHARDS: usize = 16;
/// Keys remembered per shard (cleared when full: at worst a few extra last-use writes).
const USE_KEYS_PER_SHARD: usize = 100_000 / USE_SHARDS;

/// When each key's use was last written, sharded by the key's hash. Asked on every request
/// signed with a long-term key (and every AssumeRole, for the role). The shards decide, once per
/// interval per key for the whole process; each thread also remembers the write time they
/// answered with, so until that write is an interval old a busy key is answered from the
/// thread's own map, without the shard's lock (one key always lands in the same shard, which
/// every worker took). A look-up is by `&str`; a key is copied when it is written and when a
/// thread first remembers it.
struct UseDebounce {
    shards: [Mutex<crate::FastMap<Box<str>, Instant>>; USE_SHARDS],
    hasher: foldhash::fast::RandomState,
    interval: Duration,
    /// Per thread: the last write time the shards gave for each key this thread asked about.
    seen: thread_local::ThreadLocal<std::cell::RefCell<crate::FastMap<Box<str>, Instant>>>,
}

impl UseDebounce {
    fn new(interval: Duration) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(crate::FastMap::default())),
            hasher: foldhash::fast::RandomState::default(),
            interval,
            seen: thread_local::ThreadLocal::new(),
        }
    }

    /// Whether `key`'s use should be written at `now`; if so, `now` is remembered as its last
    /// write.
    fn should_record(&self, key: &str, now: Instant) -> bool {
        let seen = self.seen.get_or_default();
        if let Some(t) = seen.borrow().get(key)
            && now.saturating_duration_since(*t) < self.interval
        {
            return false;
        }
        let (record, written) = self.decide(key, now);
        let mut seen = seen.borrow_mut();
        if let Some(t) = seen.get_mut(key) {
            *t = written;
        } else {
            if seen.len() >= USE_KEYS_PER_SHARD {
                seen.clear();
            }
            seen.insert(key.into(), written);
        }
        record
    }

    /// The shards' answer, and the time of the key's last write after it.
    fn decide(&self, key: &str, now: Instant) -> (bool, Instant) {
        // The remainder is below `USE_SHARDS`, so the cast cannot truncate.
        let shard = (self.hasher.hash_one(key) % USE_SHARDS as u64) as usize;
        let Some(shard) = self.shards.get(shard) else {
            return (true, now);
        };
        let mut m = shard.lock().unwrap_or_else(PoisonError::into_inner);
        match m.get_mut(key) {
            Some(t) if now.saturating_duration_since(*t) < self.interval => (false, *t),
            Some(t) => {
                *t = now;
                (true, now)
            }
            None => {
                if m.len() >= USE_KEYS_PER_SHARD {
                    m.clear();
                }
                m.insert(key.into(), now);
                (true, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_sums_every_threads_share() {
        let c = Counter::default();
        assert_eq!(c.load(Ordering::Relaxed), 0);
        c.inc();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        c.inc();
                    }
                });
            }
        });
        assert_eq!(c.load(Ordering::Relaxed), 4001);
        assert_eq!(
            std::mem::align_of::<Cell>(),
            128,
            "a cache line (pair) of its own"
        );
    }

    #[test]
    fn a_use_is_written_once_per_interval_per_key() {
        let d = UseDebounce::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(d.should_record("AKIAONE", t0), "first use");
        assert!(!d.should_record("AKIAONE", t0), "same instant");
        assert!(!d.should_record("AKIAONE", t0 + Duration::from_secs(59)));
        assert!(d.should_record("AKIATWO", t0), "another key is its own");
        assert!(
            d.should_record("AKIAONE", t0 + Duration::from_secs(60)),
            "interval over"
        );
        assert!(
            !d.should_record("AKIAONE", t0 + Duration::from_secs(61)),
            "rewritten at 60 s"
        );
        assert!(d.should_record("AKIAONE", t0 + Duration::from_secs(120)));
        // A clock reading earlier than the last write (another thread's) is not an interval.
        assert!(!d.should_record("AKIAONE", t0));
    }

    #[test]
    fn shards_stay_bounded() {
        let d = UseDebounce::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..(USE_KEYS_PER_SHARD * USE_SHARDS * 2) {
            assert!(d.should_record(&format!("AKIA{i}"), t0));
        }
        for s in &d.shards {
            let len = s.lock().map(|m| m.len()).unwrap_or(usize::MAX);
            assert!(len <= USE_KEYS_PER_SHARD, "{len}");
        }
        let local = d.seen.get().map_or(usize::MAX, |m| m.borrow().len());
        assert!(local <= USE_KEYS_PER_SHARD, "{local}");
    }

    #[test]
    fn threads_answering_from_their_own_maps_still_write_once_per_interval() {
        let d = UseDebounce::new(Duration::from_secs(60));
        let t0 = Instant::now();
        // Four threads ask about one key many times in each of three intervals (and once
        // about a key of their own): the process writes each key once per interval.
        let trues = |at: Instant| {
            std::thread::scope(|s| {
                let hs: Vec<_> = (0..4)
                    .map(|i| {
                        let d = &d;
                        s.spawn(move || {
                            let own = usize::from(d.should_record(&format!("AKIAOWN{i}"), at));
                            own + (0..500).filter(|_| d.should_record("AKIAHOT", at)).count()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap_or(0)).sum::<usize>()
            })
        };
        assert_eq!(trues(t0), 1 + 4, "first interval");
        assert_eq!(trues(t0 + Duration::from_secs(30)), 0, "same interval");
        assert_eq!(trues(t0 + Duration::from_secs(60)), 1 + 4, "next interval");
        // The calling thread learnt of the write at 60 s from the shards, not its own map.
        assert!(!d.should_record("AKIAHOT", t0 + Duration::from_secs(61)));
        assert!(d.should_record("AKIAHOT", t0 + Duration::from_secs(120)));
    }
}
