//! Listings: pages of stored values in key order, opaque markers (the base64 of the last key
//! returned), and whole-prefix scans for summaries and small indexes.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;

use super::{Error, Iam, decode};

/// The most items a page holds, whatever the client asks.
const MAX_PAGE: usize = 1000;

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Marker for the next page when truncated.
    pub next_marker: Option<String>,
}

/// Encodes a pagination marker (opaque to clients).
#[must_use]
pub fn encode_marker(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key)
}

/// Decodes a pagination marker; [`Error::InvalidMarker`] if it is not one of ours.
pub fn decode_marker(marker: &str) -> Result<String, Error> {
    URL_SAFE_NO_PAD
        .decode(marker)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(Error::InvalidMarker)
}

impl Iam {
    /// Whether any key exists under `prefix`.
    pub(super) async fn any_under(&self, prefix: &str) -> Result<bool, Error> {
        Ok(!self.kv.scan(prefix, None, 1).await?.is_empty())
    }

    /// Every key and raw value under `prefix` (O(n); for summaries and small indexes).
    pub(super) async fn scan_all(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        Ok(crate::store::scan_all(self.kv.as_ref(), prefix).await?)
    }

    /// Every JSON value under `prefix`.
    pub(super) async fn list_all<T: DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<T>, Error> {
        self.scan_all(prefix)
            .await?
            .iter()
            .map(|(k, v)| decode(k, v))
            .collect()
    }

    /// One page of raw entries under `prefix` after `marker`, with the marker of the next page
    /// when there are more.
    pub(super) async fn scan_page(
        &self,
        prefix: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<(Vec<(String, Vec<u8>)>, Option<String>), Error> {
        let start = marker.map(decode_marker).transpose()?;
        let max_items = max_items.clamp(1, MAX_PAGE);
        let mut rows = self
            .kv
            .scan(prefix, start.as_deref(), max_items + 1)
            .await?;
        let truncated = rows.len() > max_items;
        rows.truncate(max_items);
        let next = if truncated {
            rows.last().map(|(k, _)| encode_marker(k))
        } else {
            None
        };
        Ok((rows, next))
    }

    /// A page of the JSON values under `prefix` that satisfy `keep`. Costs O(page) store reads
    /// when most values are kept; the marker is the key of the last item returned.
    pub(super) async fn list_where<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        &self,
        prefix: &str,
        marker: Option<&str>,
        max_items: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>, Error> {
        let mut after = marker.map(decode_marker).transpose()?;
        let max_items = max_items.clamp(1, MAX_PAGE);
        let chunk = max_items + 1;
        let mut items = Vec::new();
        let mut last_kept: Option<String> = None;
        loop {
            let rows = self.kv.scan(prefix, after.as_deref(), chunk).await?;
            let done = rows.len() < chunk;
            for (k, v) in rows {
                // Through the memo: a page of users decoded once per stored version.
                let t: T = Arc::unwrap_or_clone(self.memoized(&k, v.into(), |b| decode(&k, b))?);
                if keep(&t) {
                    if items.len() == max_items {
                        return Ok(Page {
                            items,
                            next_marker: last_kept.map(|k| encode_marker(&k)),
                        });
                    }
                    items.push(t);
                    last_kept = Some(k.clone());
                }
                after = Some(k);
            }
            if done {
                return Ok(Page {
                    items,
                    next_marker: None,
                });
            }
        }
    }
}
