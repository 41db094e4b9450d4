//! Short-lived, single-use server-side state of the SSO flow, in the shared store, so any node
//! can finish a login another node started: the role chooser's verified assertion (keyed by a
//! random id held in an `HttpOnly` cookie) and SP-initiated AuthnRequest ids (checked against
//! `InResponseTo`).
//!
//! Keys: `sso/{kind}/{id}` → postcard of `(expires_at_unix, payload)`. A value is taken at most
//! once: [`take`] deletes it in a batch conditional on the exact value read, so two nodes racing
//! for the same id cannot both have it. Expired values read as absent and are purged by
//! [`purge`], which the server runs every minute.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{Batch, Check, Error, Kv};

/// What a pending entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A verified assertion waiting for the user to choose a role.
    Choice,
    /// An AuthnRequest we sent, waiting for its Response.
    Request,
}

impl Kind {
    fn segment(self) -> &'static str {
        match self {
            Self::Choice => "c",
            Self::Request => "q",
        }
    }
}

/// Longest id accepted from a client (ids we make are 43 characters).
const MAX_ID: usize = 64;

fn key(kind: Kind, id: &str) -> String {
    format!("sso/{}/{id}", kind.segment())
}

/// A new random id: 32 bytes, base64url without padding.
#[must_use]
pub fn new_id() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `id` has the shape of an id we made (so arbitrary client text never becomes a key).
#[must_use]
pub fn well_formed(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Stores `value` under a new random id until `expires_at`; durable before it returns.
pub async fn put<T: Serialize>(
    kv: &dyn Kv,
    kind: Kind,
    value: &T,
    expires_at: DateTime<Utc>,
) -> Result<String, Error> {
    let id = new_id();
    put_as(kv, kind, &id, value, expires_at).await?;
    Ok(id)
}

/// Stores `value` under `id` (which must be new) until `expires_at`.
pub async fn put_as<T: Serialize>(
    kv: &dyn Kv,
    kind: Kind,
    id: &str,
    value: &T,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    let payload = postcard::to_allocvec(value).map_err(|e| Error::Backend(e.to_string()))?;
    let bytes = postcard::to_allocvec(&(expires_at.timestamp(), payload))
        .map_err(|e| Error::Backend(e.to_string()))?;
    let k = key(kind, id);
    kv.commit(Batch::new().check(Check::Absent(k.clone())).put(k, bytes))
        .await
}

/// Takes the value stored under `id`, once: `None` when it never existed, was taken already or
/// has expired.
pub async fn take<T: DeserializeOwned>(
    kv: &dyn Kv,
    kind: Kind,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<T>, Error> {
    if !well_formed(id) {
        return Ok(None);
    }
    let k = key(kind, id);
    let Some(bytes) = kv.get(&k).await? else {
        return Ok(None);
    };
    let consumed = kv
        .commit(
            Batch::new()
                .check(Check::Equals(k.clone(), bytes.clone()))
                .delete(k.clone()),
        )
        .await;
    match consumed {
        Ok(()) => {}
        // Another node took it first.
        Err(Error::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    let (expires, payload): (i64, Vec<u8>) =
        postcard::from_bytes(&bytes).map_err(|e| corrupt(&k, &e))?;
    if now.timestamp() >= expires {
        return Ok(None);
    }
    postcard::from_bytes(&payload)
        .map(Some)
        .map_err(|e| corrupt(&k, &e))
}

fn corrupt(key: &str, e: &postcard::Error) -> Error {
    Error::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    }
}

/// Deletes every expired entry (and every entry that cannot be decoded). Returns how many.
pub async fn purge(kv: &dyn Kv, now: DateTime<Utc>) -> Result<usize, Error> {
    let rows = crate::store::scan_all(kv, "sso/").await?;
    let stale: Vec<String> = rows
        .into_iter()
        .filter(|(_, v)| {
            postcard::from_bytes::<(i64, Vec<u8>)>(v)
                .map_or(true, |(exp, _)| now.timestamp() >= exp)
        })
        .map(|(k, _)| k)
        .collect();
    let n = stale.len();
    if n > 0 {
        let mut batch = Batch::new();
        for k in stale {
            batch = batch.delete(k);
        }
        kv.commit(batch).await?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::store::memory::MemoryKv;
    use chrono::TimeZone;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
    }

    #[tokio::test]
    async fn a_value_is_taken_once_and_not_after_it_expires() {
        let kv = MemoryKv::new();
        let id = put(&kv, Kind::Choice, &"hello".to_owned(), at(300))
            .await
            .unwrap();
        assert!(well_formed(&id));
        // Another kind does not see it.
        let other: Option<String> = take(&kv, Kind::Request, &id, at(0)).await.unwrap();
        assert_eq!(other, None);
        let first: Option<String> = take(&kv, Kind::Choice, &id, at(0)).await.unwrap();
        assert_eq!(first.as_deref(), Some("hello"));
        let second: Option<String> = take(&kv, Kind::Choice, &id, at(0)).await.unwrap();
        assert_eq!(second, None, "single use");

        let id = put(&kv, Kind::Choice, &"late".to_owned(), at(300))
            .await
            .unwrap();
        let late: Option<String> = take(&kv, Kind::Choice, &id, at(300)).await.unwrap();
        assert_eq!(late, None, "expired");
    }

    #[tokio::test]
    async fn ids_from_clients_are_checked_before_they_become_keys() {
        let kv = MemoryKv::new();
        for bad in ["", "../a/b", "a b", &"x".repeat(65), "id/with/slash"] {
            let got: Option<String> = take(&kv, Kind::Choice, bad, at(0)).await.unwrap();
            assert_eq!(got, None);
            assert!(!well_formed(bad), "{bad:?}");
        }
        assert!(well_formed(&new_id()));
        assert_ne!(new_id(), new_id());
    }

    #[tokio::test]
    async fn purge_removes_only_expired_entries() {
        let kv = MemoryKv::new();
        let keep = put(&kv, Kind::Request, &1u8, at(600)).await.unwrap();
        let _gone = put(&kv, Kind::Request, &2u8, at(10)).await.unwrap();
        assert_eq!(purge(&kv, at(60)).await.unwrap(), 1);
        let kept: Option<u8> = take(&kv, Kind::Request, &keep, at(60)).await.unwrap();
        assert_eq!(kept, Some(1));
    }
}
