//! Reductions already done: samael's signature verification and reduction of a document
//! ([`super::verify`]'s step 3, most of a request's cost) is a pure function of the exact XML
//! text, the certificates tried and whether SHA-1 is allowed, so a response replayed as it is
//! (a tool that picks several roles from one assertion, the browser role chooser's second
//! check, `allow_assertion_reuse`) need not be verified by xmlsec again. For a plain response the
//! entry also says that its pre-checks passed (shape, algorithm allow-list, unsigned status:
//! pure functions of the same text and flag), so it is not even read again.
//!
//! Only that work is remembered, never a decision that depends on anything else: the
//! provider's encryption mode, issuer, signed status, conditions, audience, recipient, the
//! times (against the request's `now`), the replay mark, the trust policy, revocation and audit
//! run on every request. An entry is found by the SHA-256 of the exact text (the response itself
//! is not kept, only what its signatures cover) together with the SHA-256 of the certificate
//! set tried and the SHA-1 flag: one changed byte, a rotated, added or removed certificate, or
//! another SHA-1 setting misses. Only successful reductions get in (a signature that does not
//! verify is checked again each time).
//!
//! The memo is shared by every provider (`AppState::saml_memo`), bounded by
//! `[saml] verification_memo_entries` (when full it starts over, as the web identity memo does);
//! `0` turns it off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use samael::crypto::CertificateDer;
use sha2::{Digest, Sha256};

use super::xml::Element;

/// The default bound (`[saml] verification_memo_entries`).
pub const DEFAULT_ENTRIES: usize = 4096;

/// What a reduction is remembered by: the exact text, the certificates, the SHA-1 flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    text: [u8; 32],
    certs: [u8; 32],
    allow_sha1: bool,
}

impl Key {
    /// The key of reducing `text` with `certs` (tried in this order) under `allow_sha1`.
    #[must_use]
    pub fn new(text: &str, certs: &[CertificateDer], allow_sha1: bool) -> Self {
        Self {
            text: Sha256::digest(text.as_bytes()).into(),
            certs: certs_digest(certs),
            allow_sha1,
        }
    }
}

/// The SHA-256 of a certificate set: each certificate's DER, length-prefixed, in order.
fn certs_digest(certs: &[CertificateDer]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((certs.len() as u64).to_be_bytes());
    for c in certs {
        let der = c.der_data();
        h.update((der.len() as u64).to_be_bytes());
        h.update(der);
    }
    h.finalize().into()
}

/// A successful reduction of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduction {
    /// What the signatures cover, read by our strict reader.
    pub element: Element,
    /// When the text is a plain (unencrypted) response whose pre-checks passed (shape,
    /// algorithm allow-list under the key's SHA-1 flag, unsigned status): the signature
    /// algorithms they found. Such a text need not be read again when it comes back.
    pub prechecked: Option<Vec<String>>,
}

/// Successful reductions, shared across requests.
pub struct ReductionMemo {
    capacity: usize,
    entries: Mutex<HashMap<Key, Arc<Reduction>, foldhash::fast::RandomState>>,
}

impl ReductionMemo {
    /// A memo of at most `capacity` reductions (`0`: off, nothing is remembered).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::default()),
        }
    }

    /// A memo that remembers nothing (every reduction is done afresh).
    #[must_use]
    pub fn off() -> Self {
        Self::new(0)
    }

    /// Whether it remembers anything at all (when not, callers skip computing keys).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The key of `text` ([`Key::new`]), or `None` when the memo is off (nothing is hashed).
    #[must_use]
    pub fn key(&self, text: &str, certs: &[CertificateDer], allow_sha1: bool) -> Option<Key> {
        self.enabled().then(|| Key::new(text, certs, allow_sha1))
    }

    /// The reduction remembered under `key`.
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<Arc<Reduction>> {
        if !self.enabled() {
            return None;
        }
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Remembers a successful reduction; when the memo is full it starts over.
    pub fn insert(&self, key: Key, reduced: Arc<Reduction>) {
        if !self.enabled() {
            return;
        }
        let mut m = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= self.capacity && !m.contains_key(&key) {
            m.clear();
        }
        m.insert(key, reduced);
    }

    /// How many reductions are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for ReductionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReductionMemo")
            .field("capacity", &self.capacity)
            .field("entries", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(b: u8) -> CertificateDer {
        CertificateDer::from(vec![b; 40])
    }

    fn element(name: &str) -> Arc<Reduction> {
        Arc::new(Reduction {
            element: Element {
                ns: String::new(),
                name: name.into(),
                attrs: Vec::new(),
                children: Vec::new(),
            },
            prechecked: None,
        })
    }

    #[test]
    fn hit_after_insert_only_for_the_same_text_certs_and_flag() {
        let m = ReductionMemo::new(8);
        let text = "<samlp:Response ID=\"a\"/>";
        let certs = [cert(1), cert(2)];
        let k = Key::new(text, &certs, false);
        assert!(m.get(&k).is_none(), "nothing before the first reduction");
        m.insert(k, element("reduced"));
        assert_eq!(
            m.get(&k).map(|e| e.element.name.clone()).as_deref(),
            Some("reduced")
        );
        assert_eq!(
            m.get(&Key::new(text, &certs, false)),
            m.get(&k),
            "same inputs, same key"
        );

        // One byte changed.
        assert!(
            m.get(&Key::new("<samlp:Response ID=\"b\"/>", &certs, false))
                .is_none()
        );
        // Another certificate set: one replaced, one removed, one added, the order changed.
        assert!(m.get(&Key::new(text, &[cert(1), cert(3)], false)).is_none());
        assert!(m.get(&Key::new(text, &[cert(1)], false)).is_none());
        assert!(
            m.get(&Key::new(text, &[cert(1), cert(2), cert(3)], false))
                .is_none()
        );
        assert!(m.get(&Key::new(text, &[cert(2), cert(1)], false)).is_none());
        // A certificate's bytes moved across the boundary of two does not collide.
        let split = [
            CertificateDer::from(vec![1; 39]),
            CertificateDer::from(vec![1; 41]),
        ];
        assert_ne!(
            Key::new(text, &split, false),
            Key::new(text, &[cert(1), cert(1)], false)
        );
        // The SHA-1 setting.
        assert!(m.get(&Key::new(text, &certs, true)).is_none());
    }

    #[test]
    fn bounded() {
        let m = ReductionMemo::new(4);
        let certs = [cert(1)];
        let first = Key::new("0", &certs, false);
        m.insert(first, element("0"));
        for i in 1..=4 {
            m.insert(Key::new(&i.to_string(), &certs, false), element("x"));
            assert!(m.len() <= 4, "never more than the bound");
        }
        assert!(m.get(&first).is_none(), "full: it started over");
        assert!(m.get(&Key::new("4", &certs, false)).is_some());
        // Re-inserting a present key when full does not empty the memo.
        let m = ReductionMemo::new(1);
        m.insert(first, element("0"));
        m.insert(first, element("0"));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn off_remembers_nothing() {
        for m in [ReductionMemo::off(), ReductionMemo::new(0)] {
            let k = Key::new("x", &[cert(1)], false);
            m.insert(k, element("x"));
            assert!(!m.enabled());
            assert!(m.get(&k).is_none());
            assert!(
                m.key("x", &[cert(1)], false).is_none(),
                "nothing hashed when off"
            );
            assert!(m.is_empty());
        }
    }
}
