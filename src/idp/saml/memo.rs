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
//! `[saml] verification_memo_entries` and by [`MAX_BYTES`] of estimated memory (when either is
//! reached it starts over, as the web identity memo does); `0` turns it off. Entries are weighed,
//! not only counted: whoever controls a registered IdP's key (any account may register its own)
//! can sign responses of up to 20,000 elements, a few megabytes each as a tree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use samael::crypto::CertificateDer;
use sha2::{Digest, Sha256};

use super::xml::{Attr, Element, Node};

/// The default bound (`[saml] verification_memo_entries`).
pub const DEFAULT_ENTRIES: usize = 4096;
/// Most memory the remembered reductions may take, estimated by [`weight`].
pub const MAX_BYTES: usize = 64 << 20;
/// A reduction estimated above this is not remembered (a real response is tens of kilobytes).
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

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

/// The estimated memory of a reduction: every element, attribute and text with its strings.
#[must_use]
pub fn weight(r: &Reduction) -> usize {
    fn element(e: &Element) -> usize {
        let mut w = size_of::<Element>() + e.ns.len() + e.name.len();
        for a in &e.attrs {
            w += size_of::<Attr>() + a.ns.len() + a.name.len() + a.value.len();
        }
        for c in &e.children {
            w += size_of::<Node>()
                + match c {
                    Node::Element(x) => element(x),
                    Node::Text(t) => t.len(),
                };
        }
        w
    }
    let algorithms = r
        .prechecked
        .iter()
        .flatten()
        .map(|a| 24 + a.len())
        .sum::<usize>();
    size_of::<Key>() + size_of::<Reduction>() + element(&r.element) + algorithms
}

/// Successful reductions, shared across requests.
pub struct ReductionMemo {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Arc<Reduction>, foldhash::fast::RandomState>,
    /// The sum of the entries' [`weight`]s.
    bytes: usize,
}

impl ReductionMemo {
    /// A memo of at most `capacity` reductions (`0`: off, nothing is remembered).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Entries::default()),
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
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .get(key)
            .cloned()
    }

    /// Remembers a successful reduction (unless it weighs more than [`MAX_ENTRY_BYTES`]); when
    /// the memo is full, in entries or in [`MAX_BYTES`], it starts over.
    pub fn insert(&self, key: Key, reduced: Arc<Reduction>) {
        if !self.enabled() {
            return;
        }
        let w = weight(&reduced);
        if w > MAX_ENTRY_BYTES {
            return;
        }
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if m.map.contains_key(&key) {
            return;
        }
        if m.map.len() >= self.capacity || m.bytes + w > MAX_BYTES {
            m.map.clear();
            m.bytes = 0;
        }
        m.bytes += w;
        m.map.insert(key, reduced);
    }

    /// The estimated memory the remembered reductions take.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }

    /// How many reductions are remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
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
    fn bounded_in_memory_too() {
        let m = ReductionMemo::new(100_000);
        let certs = [cert(1)];
        let text = |n: usize| Element {
            ns: String::new(),
            name: "a".into(),
            attrs: Vec::new(),
            children: vec![Node::Text("x".repeat(n))],
        };
        let big = Arc::new(Reduction {
            element: text(MAX_ENTRY_BYTES),
            prechecked: None,
        });
        assert!(weight(&big) > MAX_ENTRY_BYTES);
        let k = Key::new("big", &certs, false);
        m.insert(k, big);
        assert!(m.get(&k).is_none(), "too heavy to remember");
        let half = Arc::new(Reduction {
            element: text(MAX_ENTRY_BYTES / 2),
            prechecked: Some(vec!["alg".into()]),
        });
        let w = weight(&half);
        assert!(w > MAX_ENTRY_BYTES / 2);
        for i in 0..(2 * MAX_BYTES / w) {
            m.insert(Key::new(&i.to_string(), &certs, false), Arc::clone(&half));
            assert!(m.bytes() <= MAX_BYTES, "never more than the memory bound");
            assert_eq!(m.bytes(), m.len() * w);
        }
        assert!(m.len() < MAX_BYTES / w + 1);
        // The same key again is not counted twice.
        let again = Key::new("again", &certs, false);
        m.insert(again, Arc::clone(&half));
        let before = m.bytes();
        m.insert(again, Arc::clone(&half));
        assert_eq!(m.bytes(), before);
    }

    #[test]
    fn a_tree_weighs_more_than_its_text() {
        let leaf = Element {
            ns: "urn:oasis:names:tc:SAML:2.0:assertion".into(),
            name: "A".into(),
            attrs: vec![Attr {
                ns: String::new(),
                name: "ID".into(),
                value: "x".into(),
            }],
            children: Vec::new(),
        };
        let r = Reduction {
            element: Element {
                children: vec![Node::Element(leaf.clone()); 100],
                ..leaf
            },
            prechecked: None,
        };
        // `<s:A ID="x"/>` is 13 bytes of text; as a tree each is over a hundred.
        assert!(weight(&r) > 100 * 100, "{}", weight(&r));
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
