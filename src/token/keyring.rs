//! The key ring: one active sealing key, plus older keys kept for opening until every token they
//! sealed has expired (architecture §2; house style 10, after rustls' `TicketRotator`).
//!
//! Each key has a short random id (carried in token headers), a creation time, and once rotated
//! out a retirement time and an `open_until` horizon (`retired_at + retain`). Tokens sealed by a
//! key past its horizon are refused even if the key is still in the file; `rotate` prunes such
//! keys.
//!
//! File format (JSON, mode 0600, replaced atomically: temporary file, fsync, rename, fsync dir):
//! ```json
//! {"format":"sekisho-keyring","version":1,"keys":[
//!   {"id":"0a1b2c3d","created_at":"2026-01-01T00:00:00Z","retired_at":null,"open_until":null,
//!    "key":"<base64 of 32 bytes>"}]}
//! ```
//! Exactly one key has `retired_at: null`: the active one.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::TryRngCore as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::claims::SessionClaims;
use super::error::{Error, InvalidReason};
use super::seal::{self, KeyId, Subkeys};
use crate::ids;
use crate::secret::{SecretBytes, SecretString};

/// How long a rotated-out key stays usable for opening by default: the longest session lifetime
/// (`GetSessionToken` for a user, 129 600 s = 36 h).
pub const DEFAULT_RETAIN: Duration = Duration::hours(36);

/// Length of a ring key's master secret.
const MASTER_LEN: usize = 32;
/// The `format` marker in the file.
const FILE_FORMAT: &str = "sekisho-keyring";
/// The file format version.
const FILE_VERSION: u32 = 1;
/// Refuse key-ring files larger than this (a ring holds a handful of keys).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One key of the ring.
struct RingKey {
    /// Short id, in token headers.
    id: KeyId,
    /// When it was generated.
    created_at: DateTime<Utc>,
    /// When it stopped sealing (`None`: the active key).
    retired_at: Option<DateTime<Utc>>,
    /// Tokens it sealed are refused from this time on (`None`: the active key).
    open_until: Option<DateTime<Utc>>,
    /// The master secret (kept to write the ring back).
    master: SecretBytes,
    /// Sealing and derivation keys.
    subkeys: Subkeys,
}

impl RingKey {
    /// A fresh random key created at `now`, with an id not in `taken`.
    fn generate(now: DateTime<Utc>, taken: &[KeyId]) -> Result<Self, Error> {
        let mut master = Zeroizing::new([0_u8; MASTER_LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(master.as_mut_slice())
            .map_err(|e| Error::Random(e.to_string()))?;
        let mut id = KeyId::random();
        while taken.contains(&id) {
            id = KeyId::random();
        }
        Ok(Self::from_parts(
            id,
            now,
            None,
            None,
            SecretBytes::new(master.to_vec()),
        ))
    }

    /// Builds a key from its stored parts.
    fn from_parts(
        id: KeyId,
        created_at: DateTime<Utc>,
        retired_at: Option<DateTime<Utc>>,
        open_until: Option<DateTime<Utc>>,
        master: SecretBytes,
    ) -> Self {
        let subkeys = Subkeys::derive(master.expose());
        Self {
            id,
            created_at,
            retired_at,
            open_until,
            master,
            subkeys,
        }
    }

    /// Whether tokens sealed by this key may still be opened at `now`.
    fn opens_at(&self, now: DateTime<Utc>) -> bool {
        self.open_until.is_none_or(|until| now < until)
    }
}

/// Public facts about one ring key (no secret material), for the CLI and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id (8 hex digits), as in token headers.
    pub id: String,
    /// Whether this is the active sealing key.
    pub active: bool,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
    /// When it was rotated out.
    pub retired_at: Option<DateTime<Utc>>,
    /// Tokens it sealed are refused from this time on.
    pub open_until: Option<DateTime<Utc>>,
}

/// Freshly minted temporary credentials.
#[derive(Debug)]
pub struct Minted {
    /// The new `ASIA…` id.
    pub access_key_id: String,
    /// The derived secret access key (not in the token).
    pub secret: SecretString,
    /// The sealed session token.
    pub token: SecretString,
    /// The claims as sealed (with `access_key_id` set).
    pub claims: SessionClaims,
}

/// The sealing key ring. Cheap to share behind an `Arc`; its keys are immutable once built
/// (rotation builds a new ring, with an empty memo).
pub struct KeyRing {
    /// The key that seals new tokens.
    active: RingKey,
    /// Rotated-out keys, still able to open until their `open_until`.
    older: Vec<RingKey>,
    /// Tokens this ring has opened (see [`OpenMemo`]).
    opened: OpenMemo,
}

/// Tokens already opened by this ring, by their exact text: a client reuses its session token
/// for every request, and opening (AEAD, decoding, secret derivation) is the largest part of
/// authenticating one. A hit still re-checks what depends on the moment or the caller: the
/// sealing key's horizon, and the access key id in constant time; expiry and revocation are
/// checked by the caller as for a fresh open. Bounded: cleared when full.
#[derive(Default)]
struct OpenMemo {
    /// A [`crate::FastMap`]: the key is a whole token, ~1 KiB, hashed on every request.
    map: std::sync::RwLock<crate::FastMap<Box<str>, Opened>>,
}

/// A memoized open: the claims, the derived secret (shared: a hit hands out the same one, no
/// copy to wipe per request), and which ring key sealed the token (0: active, `i + 1`:
/// `older[i]`).
#[derive(Clone)]
struct Opened {
    claims: Arc<SessionClaims>,
    secret: Arc<SecretString>,
    key: usize,
}

/// How many opened tokens a ring remembers (about 1 KiB each).
const OPEN_MEMO_ENTRIES: usize = 20_000;

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active.id)
            .field(
                "older",
                &self.older.iter().map(|k| k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// Loads the ring from `path`, which must exist (a running server re-reading its ring never
    /// creates one: a new ring would end every session and set this node apart from the others).
    ///
    /// # Errors
    /// [`Error::Io`] on I/O failure (a missing file included), [`Error::CorruptKeyRing`] if the
    /// file is not a valid ring.
    pub fn load(path: &Path) -> Result<Self, Error> {
        Self::from_json_at(&read_file(path)?, path)
    }

    /// Loads the ring from `path`, or, if the file does not exist, creates it with one fresh key.
    ///
    /// Creation never overwrites: if another process created the file meanwhile, that file is
    /// loaded instead, so every node ends up with the same ring.
    ///
    /// # Errors
    /// [`Error::Io`] on I/O failure, [`Error::CorruptKeyRing`] if the file is not a valid ring.
    pub fn load_or_create(path: &Path, now: DateTime<Utc>) -> Result<Self, Error> {
        match read_file(path) {
            Ok(json) => Self::from_json_at(&json, path),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let ring = Self::generate_in_memory_checked(now)?;
                let json = ring.to_json()?;
                match write_atomic(path, json.expose().as_bytes(), false) {
                    Ok(()) => Ok(ring),
                    Err(Error::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Self::from_json_at(&read_file(path)?, path)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Rotates the ring in the file at `path`: a new active key; the previous one retires at
    /// `now` and keeps opening tokens until `now + retain` (use the longest session lifetime,
    /// [`DEFAULT_RETAIN`]); keys past their horizon are pruned. Returns the new ring.
    ///
    /// # Errors
    /// As [`Self::load_or_create`]; the file must exist.
    pub fn rotate(path: &Path, now: DateTime<Utc>, retain: Duration) -> Result<Self, Error> {
        let ring = Self::from_json_at(&read_file(path)?, path)?;
        let ring = ring.rotated(now, retain)?;
        write_atomic(path, ring.to_json()?.expose().as_bytes(), true)?;
        Ok(ring)
    }

    /// The same rotation without a file (rings kept in the store, tests).
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random source fails; [`Error::Claims`] if `retain` is negative.
    pub fn rotated(self, now: DateTime<Utc>, retain: Duration) -> Result<Self, Error> {
        if retain < Duration::zero() {
            return Err(Error::Claims("retain must not be negative".into()));
        }
        let Self {
            mut active, older, ..
        } = self;
        active.retired_at = Some(now);
        active.open_until = Some(
            now.checked_add_signed(retain)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        let mut keys: Vec<RingKey> = older.into_iter().filter(|k| k.opens_at(now)).collect();
        keys.insert(0, active);
        let taken: Vec<KeyId> = keys.iter().map(|k| k.id).collect();
        let new_active = RingKey::generate(now, &taken)?;
        Ok(Self {
            active: new_active,
            older: keys,
            opened: OpenMemo::default(),
        })
    }

    /// A ring with one fresh key, never written anywhere. For tests and benches.
    #[must_use]
    pub fn generate_in_memory(now: DateTime<Utc>) -> Self {
        Self::generate_in_memory_checked(now).unwrap_or_else(|_| {
            // The OS source failed: use the OS-seeded thread CSPRNG instead.
            let mut master = Zeroizing::new([0_u8; MASTER_LEN]);
            rand::RngCore::fill_bytes(&mut rand::rng(), master.as_mut_slice());
            let master = SecretBytes::new(master.to_vec());
            Self {
                active: RingKey::from_parts(KeyId::random(), now, None, None, master),
                older: Vec::new(),
                opened: OpenMemo::default(),
            }
        })
    }

    /// A ring with one fresh key from the OS random source.
    fn generate_in_memory_checked(now: DateTime<Utc>) -> Result<Self, Error> {
        Ok(Self {
            active: RingKey::generate(now, &[])?,
            older: Vec::new(),
            opened: OpenMemo::default(),
        })
    }

    /// The active key's id.
    #[must_use]
    pub fn active_key_id(&self) -> KeyId {
        self.active.id
    }

    /// Facts about every key, active first.
    #[must_use]
    pub fn keys(&self) -> Vec<KeyInfo> {
        std::iter::once(&self.active)
            .chain(&self.older)
            .map(|k| KeyInfo {
                id: k.id.to_string(),
                active: k.retired_at.is_none(),
                created_at: k.created_at,
                retired_at: k.retired_at,
                open_until: k.open_until,
            })
            .collect()
    }

    /// Seals `claims` with the active key.
    ///
    /// # Errors
    /// [`Error::Claims`] if the claims are out of bounds (see `SessionClaims` limits), already
    /// expired at `now`, or the token would exceed [`seal::MAX_TOKEN_LEN`].
    pub fn seal_at(&self, claims: &SessionClaims, now: DateTime<Utc>) -> Result<String, Error> {
        self.seal_with_nonce(claims, now).map(|(t, _)| t)
    }

    /// Seals and returns the nonce too (for secret derivation).
    fn seal_with_nonce(
        &self,
        claims: &SessionClaims,
        now: DateTime<Utc>,
    ) -> Result<(String, [u8; 24]), Error> {
        claims.check_sealable()?;
        if claims.is_expired(now) {
            return Err(Error::Claims("claims already expired".into()));
        }
        self.active
            .subkeys
            .seal_encoded(self.active.id, SessionClaims::ENCODED_CAPACITY, |raw| {
                claims.encode_into(raw)
            })
    }

    /// Opens a token: checks its structure, finds its key (refusing keys past their horizon at
    /// `now`), authenticates and decodes the claims.
    ///
    /// Does **not** check the session's expiry: callers answer `ExpiredToken` for
    /// [`SessionClaims::is_expired`], which AWS distinguishes from an invalid token.
    ///
    /// # Errors
    /// [`Error::Invalid`] for every rejection (the reason is for logs).
    pub fn open_at(&self, token: &str, now: DateTime<Utc>) -> Result<SessionClaims, Error> {
        self.open_inner(token, now).map(|(c, _, _)| c)
    }

    /// Opens a token presented with `access_key_id`, checks (in constant time) that the token was
    /// minted for that id, and derives the secret to verify the request's SigV4 signature with.
    ///
    /// # Errors
    /// As [`Self::open_at`], plus [`InvalidReason::AccessKeyMismatch`].
    pub fn open_and_derive(
        &self,
        token: &str,
        access_key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Arc<SessionClaims>, Arc<SecretString>), Error> {
        let hit = self
            .opened
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned();
        let opened = match hit {
            Some(o) => {
                let key = if o.key == 0 {
                    Some(&self.active)
                } else {
                    self.older.get(o.key - 1)
                };
                if !key.is_some_and(|k| k.opens_at(now)) {
                    return Err(Error::Invalid(InvalidReason::KeyRetired));
                }
                o
            }
            None => {
                let (claims, key, nonce) = self.open_inner(token, now)?;
                // The secret belongs to the id the token was minted for; a mismatch is refused
                // below, on this and every later use.
                let secret = key.subkeys.secret(&claims.access_key_id, &nonce)?;
                let index = if std::ptr::eq(key, &self.active) {
                    0
                } else {
                    self.older
                        .iter()
                        .position(|k| std::ptr::eq(k, key))
                        .map_or(usize::MAX, |i| i + 1)
                };
                let o = Opened {
                    claims: Arc::new(claims),
                    secret: Arc::new(secret),
                    key: index,
                };
                let mut map = self
                    .opened
                    .map
                    .write()
                    .unwrap_or_else(PoisonError::into_inner);
                if map.len() >= OPEN_MEMO_ENTRIES {
                    map.clear();
                }
                map.insert(token.into(), o.clone());
                o
            }
        };
        if !crate::secret::ct_eq(
            opened.claims.access_key_id.as_bytes(),
            access_key_id.as_bytes(),
        ) {
            return Err(Error::Invalid(InvalidReason::AccessKeyMismatch));
        }
        Ok((opened.claims, opened.secret))
    }

    /// Mints temporary credentials: a new `ASIA` id for `claims.account` (replacing
    /// `claims.access_key_id`), the sealed token, and the derived secret.
    ///
    /// # Errors
    /// [`Error::Claims`] if the account is not a 12-digit id, or as [`Self::seal_at`].
    pub fn mint_at(&self, mut claims: SessionClaims, now: DateTime<Utc>) -> Result<Minted, Error> {
        if !ids::is_valid_account_id(&claims.account) {
            return Err(Error::Claims("account must be a 12-digit id".into()));
        }
        let access_key_id = ids::new_access_key_id("ASIA", &claims.account);
        claims.access_key_id.clone_from(&access_key_id);
        let (token, nonce) = self.seal_with_nonce(&claims, now)?;
        let secret = self.active.subkeys.secret(&access_key_id, &nonce)?;
        Ok(Minted {
            access_key_id,
            secret,
            token: SecretString::new(token),
            claims,
        })
    }

    /// Shared body of the open functions.
    fn open_inner(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(SessionClaims, &RingKey, [u8; 24]), Error> {
        let parsed = seal::parse(token)?;
        let key = std::iter::once(&self.active)
            .chain(&self.older)
            .find(|k| k.id == parsed.key_id)
            .ok_or(Error::Invalid(InvalidReason::UnknownKey))?;
        if !key.opens_at(now) {
            return Err(Error::Invalid(InvalidReason::KeyRetired));
        }
        let nonce = parsed.nonce;
        let plaintext = Zeroizing::new(key.subkeys.open(parsed)?);
        let claims = SessionClaims::decode(&plaintext)?;
        Ok((claims, key, nonce))
    }

    /// The ring as JSON (contains the key material).
    ///
    /// # Errors
    /// Only if serialization fails.
    pub fn to_json(&self) -> Result<SecretString, Error> {
        let keys = std::iter::once(&self.active)
            .chain(&self.older)
            .map(|k| FileKey {
                id: k.id.to_string(),
                created_at: k.created_at,
                retired_at: k.retired_at,
                open_until: k.open_until,
                key: STANDARD.encode(k.master.expose()),
            })
            .collect();
        let file = RingFile {
            format: FILE_FORMAT.into(),
            version: FILE_VERSION,
            keys,
        };
        serde_json::to_string_pretty(&file)
            .map(SecretString::new)
            .map_err(|e| Error::Claims(e.to_string()))
    }

    /// Parses a ring from JSON (as written by [`Self::to_json`]).
    ///
    /// # Errors
    /// [`Error::CorruptKeyRing`] (path `<inline>`) if it is not a valid ring.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        Self::from_json_at(json, Path::new("<inline>"))
    }

    /// [`Self::from_json`] with `path` in errors.
    fn from_json_at(json: &str, path: &Path) -> Result<Self, Error> {
        let corrupt = |reason: String| Error::CorruptKeyRing {
            path: path.to_path_buf(),
            reason,
        };
        let file: RingFile = serde_json::from_str(json).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FILE_FORMAT {
            return Err(corrupt(format!(
                "format is {:?}, expected {FILE_FORMAT:?}",
                file.format
            )));
        }
        if file.version != FILE_VERSION {
            return Err(corrupt(format!("unsupported version {}", file.version)));
        }
        let mut active = None;
        let mut older = Vec::new();
        let mut seen: Vec<KeyId> = Vec::new();
        for fk in &file.keys {
            let id = KeyId::parse(&fk.id)
                .ok_or_else(|| corrupt(format!("key id {:?} is not 8 hex digits", fk.id)))?;
            if seen.contains(&id) {
                return Err(corrupt(format!("duplicate key id {id}")));
            }
            seen.push(id);
            let master = Zeroizing::new(
                STANDARD
                    .decode(&fk.key)
                    .map_err(|e| corrupt(format!("key {id}: {e}")))?,
            );
            if master.len() != MASTER_LEN {
                return Err(corrupt(format!(
                    "key {id}: {} bytes, expected {MASTER_LEN}",
                    master.len()
                )));
            }
            if fk.retired_at.is_some() != fk.open_until.is_some() {
                return Err(corrupt(format!(
                    "key {id}: retired_at and open_until go together"
                )));
            }
            let key = RingKey::from_parts(
                id,
                fk.created_at,
                fk.retired_at,
                fk.open_until,
                SecretBytes::new(master.to_vec()),
            );
            if key.retired_at.is_none() {
                if active.is_some() {
                    return Err(corrupt("more than one active key".into()));
                }
                active = Some(key);
            } else {
                older.push(key);
            }
        }
        let active = active.ok_or_else(|| corrupt("no active key".into()))?;
        Ok(Self {
            active,
            older,
            opened: OpenMemo::default(),
        })
    }
}

/// The file's JSON shape.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFile {
    /// Always [`FILE_FORMAT`].
    format: String,
    /// Always [`FILE_VERSION`].
    version: u32,
    /// Active key and older keys, in any order.
    keys: Vec<FileKey>,
}

/// One key in the file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    /// 8 hex digits.
    id: String,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Retirement time, `null` for the active key.
    retired_at: Option<DateTime<Utc>>,
    /// Opening horizon, `null` for the active key.
    open_until: Option<DateTime<Utc>>,
    /// Base64 of the 32-byte master secret.
    key: String,
}

impl Drop for FileKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// Reads the whole file (bounded), warning if it is readable by group or others.
pub(crate) fn read_file(path: &Path) -> Result<Zeroizing<String>, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::CorruptKeyRing {
            path: path.to_path_buf(),
            reason: format!("{} bytes, larger than {MAX_FILE_BYTES}", meta.len()),
        });
    }
    crate::private_file::warn_if_shared(&meta, path, "key ring file");
    let bytes = Zeroizing::new(fs::read(path).map_err(io)?);
    let text = std::str::from_utf8(&bytes).map_err(|e| Error::CorruptKeyRing {
        path: path.to_path_buf(),
        reason: format!("not UTF-8: {e}"),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Writes `data` to a fresh mode-0600 temporary file beside `path`, fsyncs it, then either
/// renames it over `path` (`replace`) or hard-links it to `path` failing with `AlreadyExists` if
/// `path` exists; finally fsyncs the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8], replace: bool) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", KeyId::random()));
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    let result = (|| {
        let mut f =
            crate::private_file::owner_only(fs::OpenOptions::new().write(true).create_new(true))
                .open(&tmp)
                .map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        if replace {
            fs::rename(&tmp, path).map_err(io(path))?;
        } else {
            fs::hard_link(&tmp, path).map_err(io(path))?;
            fs::remove_file(&tmp).map_err(io(&tmp))?;
        }
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    })();
    if result.is_err() {
        // Best effort: do not leave key material in a stray temporary file.
        let _ = fs::remove_file(&tmp);
    }
    result
}
