//! Identifier formats: access key ids, entity unique ids, secret access keys, request ids.
//!
//! Spec: `shared/reference/sts-spec.md` §3.1 (prefixes and lengths) and §3.2 (the account id
//! encoded inside newer key ids, which `GetAccessKeyInfo` decodes).
//!
//! Encoding (§3.2, as moto's `generate_access_key_id_from_account_id`):
//! 1. base32 of the 5-byte big-endian value `account / 2 + 2^39` (8 characters);
//! 2. a 9th character from the upper half of the alphabet if the account is odd, the lower half
//!    if even (the 41st bit is the account's parity, the other 4 bits are random);
//! 3. random base32 characters up to the full length.
//!
//! Decoding takes the first 48 bits after the 4-character prefix as `z` and computes
//! `(z & 0x7fff_ffff_ff80) >> 7`. Ids whose 5th character is `I` or `J` are the legacy format and
//! carry no account.

use base64::Engine as _;
use rand::RngCore as _;

use crate::secret::SecretString;

/// The RFC 4648 base32 alphabet, the character set of AWS key ids.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Length of an access key id (`AKIA…`, `ASIA…`).
pub const ACCESS_KEY_ID_LEN: usize = 20;

/// Length of an entity unique id (`AIDA…`, `AROA…`, …): 4 + 17.
pub const UNIQUE_ID_LEN: usize = 21;

/// Length of a secret access key.
pub const SECRET_ACCESS_KEY_LEN: usize = 40;

/// The largest 12-digit account id.
const MAX_ACCOUNT: u64 = 999_999_999_999;

/// A new access key id of [`ACCESS_KEY_ID_LEN`] characters from `A-Z2-7`, carrying `account`
/// (§3.2). `prefix` is `"AKIA"` (long-term) or `"ASIA"` (temporary).
///
/// If `account` is not a valid 12-digit account id the id is generated in the legacy format (5th
/// character `I` or `J`, random body), which carries no account.
#[must_use]
pub fn new_access_key_id(prefix: &str, account: &str) -> String {
    new_id(prefix, account, ACCESS_KEY_ID_LEN)
}

/// A new entity unique id of [`UNIQUE_ID_LEN`] characters, carrying `account` with the same scheme
/// as access key ids. `prefix` is one of `AIDA`, `AGPA`, `AROA`, `ANPA`, `ANVA`, ….
#[must_use]
pub fn new_unique_id(prefix: &str, account: &str) -> String {
    new_id(prefix, account, UNIQUE_ID_LEN)
}

/// The account encoded in a key id or unique id (§3.2), or `None` for legacy ids (5th character
/// `I` or `J`), ids too short to carry one, characters outside `A-Z2-7`, or a decoded value that
/// is not a 12-digit account.
#[must_use]
pub fn account_from_access_key_id(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    // 4-character prefix, then at least 10 base32 characters (50 bits >= the 48 we read).
    let body = bytes.get(4..14)?;
    if matches!(body.first(), Some(b'I' | b'J')) {
        return None;
    }
    let mut bits: u64 = 0;
    for &c in body {
        bits = (bits << 5) | u64::from(base32_value(c)?);
    }
    let z = bits >> 2; // the first 48 bits
    let account = (z & 0x7fff_ffff_ff80) >> 7;
    (account <= MAX_ACCOUNT).then(|| format!("{account:012}"))
}

/// A new secret access key: [`SECRET_ACCESS_KEY_LEN`] characters from `[A-Za-z0-9/+]`, uniformly
/// random (30 bytes from the OS-seeded CSPRNG, standard base64 without padding).
#[must_use]
pub fn new_secret_access_key() -> SecretString {
    let mut raw = zeroize::Zeroizing::new([0_u8; 30]);
    rand::rng().fill_bytes(raw.as_mut_slice());
    SecretString::new(base64::engine::general_purpose::STANDARD.encode(raw.as_slice()))
}

/// A new request id (UUID v4, lowercase hyphenated), as AWS puts in `RequestId`.
///
/// The bytes come from the thread-local CSPRNG rather than one `getrandom` system call per id
/// (`Uuid::new_v4`): ids need to be unique, not secret, and there are two per request.
#[must_use]
pub fn new_request_id() -> RequestId {
    let mut b = [0_u8; 16];
    rand::rng().fill_bytes(&mut b);
    // Written straight into the id's inline buffer (uuid's `Display` goes through the
    // formatting machinery, and an owned `String` is an allocation; there are two per request:
    // the request id and the audit event id).
    let mut id = RequestId {
        buf: [0; REQUEST_ID_LEN],
        len: 0,
    };
    let n = uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut id.buf)
        .len();
    id.len = u8::try_from(n).unwrap_or(0);
    id
}

/// The length of a request id (a hyphenated UUID).
const REQUEST_ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// A request id held inline (no allocation; `Copy`): shared by the answer, the action's
/// context, the `x-amzn-RequestId` header and the audit event without copies on the heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RequestId {
    buf: [u8; REQUEST_ID_LEN],
    len: u8,
}

impl RequestId {
    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Always valid UTF-8 of at most `REQUEST_ID_LEN` bytes (written by uuid, or cut at a
        // character boundary by `From<&str>`); the fallback is never taken.
        self.buf
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl From<&str> for RequestId {
    /// An id given as text (tests, and callers holding one already): its first
    /// `REQUEST_ID_LEN` bytes, cut at a character boundary. Every id Sekisho makes fits.
    fn from(s: &str) -> Self {
        let mut end = s.len().min(REQUEST_ID_LEN);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut id = Self {
            buf: [0; REQUEST_ID_LEN],
            len: u8::try_from(end).unwrap_or(0),
        };
        if let (Some(dst), Some(src)) = (id.buf.get_mut(..end), s.as_bytes().get(..end)) {
            dst.copy_from_slice(src);
        }
        id
    }
}

impl std::ops::Deref for RequestId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Whether `s` is a 12-digit account id.
#[must_use]
pub fn is_valid_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Shared body of [`new_access_key_id`] and [`new_unique_id`].
fn new_id(prefix: &str, account: &str, len: usize) -> String {
    let mut bits = RandomBits::default();
    let mut out = String::with_capacity(len.max(prefix.len()));
    out.push_str(prefix);
    let account = is_valid_account_id(account)
        .then(|| account.parse::<u64>().ok())
        .flatten();
    match account {
        Some(account) => {
            // 40 bits: account / 2 + 2^39 (< 2^40 since account <= MAX_ACCOUNT).
            let v = account / 2 + (1_u64 << 39);
            for shift in (0..8).rev() {
                push_b32(&mut out, (v >> (shift * 5)) & 31);
            }
            // 9th character: parity in its top bit, 4 random bits below.
            let parity = (account & 1) << 4;
            push_b32(&mut out, parity | bits.take(4));
        }
        None => {
            // Legacy format: 5th character `I` or `J`, which decoders treat as "no account".
            push_b32(&mut out, 8 + bits.take(1));
        }
    }
    while out.len() < len {
        push_b32(&mut out, bits.take(5));
    }
    out
}

/// Uniform random bits, drawn from the thread's generator 128 at a time (an id needs at most
/// 81): each `take(n)` is a uniform value below `2^n`, as `random_range(0..2^n)` would be,
/// without a generator call per character.
#[derive(Default)]
struct RandomBits {
    pool: u128,
    left: u32,
}

impl RandomBits {
    fn take(&mut self, n: u32) -> u64 {
        if self.left < n {
            self.pool = rand::random();
            self.left = 128;
        }
        let v = self.pool & ((1_u128 << n) - 1);
        self.pool >>= n;
        self.left -= n;
        u64::try_from(v).unwrap_or(0)
    }
}

/// Appends the base32 character for a 5-bit value.
fn push_b32(out: &mut String, v: u64) {
    let idx = usize::try_from(v & 31).unwrap_or(0);
    out.push(char::from(BASE32.get(idx).copied().unwrap_or(b'A')));
}

/// The 5-bit value of a base32 character, if it is one.
fn base32_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'2'..=b'7' => Some(c - b'2' + 26),
        _ => None,
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;

    use super::*;

    fn is_b32(s: &str) -> bool {
        s.bytes().all(|b| base32_value(b).is_some())
    }

    #[test]
    fn decodes_the_observed_aws_key() {
        assert_eq!(
            account_from_access_key_id("ASIAY34FZKBOKMUTVV7A").as_deref(),
            Some("609629065308")
        );
    }

    #[test]
    fn legacy_and_garbage_ids_carry_no_account() {
        assert_eq!(account_from_access_key_id("AKIAIOSFODNN7EXAMPLE"), None);
        assert_eq!(account_from_access_key_id("AKIAJOSFODNN7EXAMPLE"), None);
        assert_eq!(account_from_access_key_id("ASIAY34FZ"), None);
        assert_eq!(account_from_access_key_id(""), None);
        assert_eq!(
            account_from_access_key_id("ASIAY34FZKBOKMUTVV0A"),
            Some("609629065308".into())
        );
        assert_eq!(account_from_access_key_id("ASIAY34FZ0BOKMUTVV7A"), None);
        assert_eq!(account_from_access_key_id("ASIAé4FZKBOKMUTVV7A"), None);
        // All-ones 48 bits decode to 2^40-1 > 999999999999: not an account.
        assert_eq!(account_from_access_key_id("ASIA7777777777777777"), None);
    }

    #[test]
    fn formats_and_lengths() {
        let ak = new_access_key_id("AKIA", "123456789012");
        assert_eq!(ak.len(), ACCESS_KEY_ID_LEN);
        assert!(ak.starts_with("AKIA") && is_b32(&ak));
        let ro = new_unique_id("AROA", "123456789012");
        assert_eq!(ro.len(), UNIQUE_ID_LEN);
        assert!(ro.starts_with("AROA") && is_b32(&ro));
        assert_eq!(
            account_from_access_key_id(&ro).as_deref(),
            Some("123456789012")
        );
        // Random tails: two ids for the same account differ.
        assert_ne!(
            new_access_key_id("ASIA", "123456789012"),
            new_access_key_id("ASIA", "123456789012")
        );
    }

    #[test]
    fn invalid_account_gives_legacy_id_without_account() {
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "-12345678901",
        ] {
            let id = new_access_key_id("ASIA", bad);
            assert_eq!(id.len(), ACCESS_KEY_ID_LEN);
            assert!(is_b32(&id));
            assert_eq!(account_from_access_key_id(&id), None, "{bad:?} -> {id}");
        }
    }

    /// Every random position of an id takes every value it can, about equally often: the
    /// bits are drawn per id, not reused, and none is fixed.
    #[test]
    fn random_characters_cover_their_range() {
        let n = 6400;
        let ids: Vec<String> = (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    new_access_key_id("ASIA", "123456789012")
                } else {
                    new_unique_id("AROA", "not-an-account")
                }
            })
            .collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), n, "ids repeat");
        // How often each character stands at `pos` in the ids that start with `prefix`.
        let at = |prefix: &str, pos: usize| {
            let mut seen = std::collections::BTreeMap::<u8, usize>::new();
            for id in ids.iter().filter(|id| id.starts_with(prefix)) {
                *seen.entry(*id.as_bytes().get(pos).unwrap()).or_default() += 1;
            }
            seen
        };
        // The 9th character of an account-carrying id: parity 1 (account 123456789012 is
        // even: 0) and 4 random bits, so 16 characters.
        let ninth = at("ASIA", 12);
        assert_eq!(ninth.len(), 16, "{ninth:?}");
        // The legacy id's 5th character: I or J.
        let fifth = at("AROA", 4);
        assert_eq!(fifth.keys().copied().collect::<Vec<_>>(), vec![b'I', b'J']);
        // Every fully random position: all 32 characters, none far from n/2/32 = 100.
        for (prefix, positions) in [("ASIA", 13..20), ("AROA", 5..21)] {
            for pos in positions {
                let seen = at(prefix, pos);
                assert_eq!(seen.len(), 32, "{prefix} position {pos}: {seen:?}");
                assert!(
                    seen.values().all(|&c| (40..=170).contains(&c)),
                    "{prefix} position {pos}: {seen:?}"
                );
            }
        }
    }

    #[test]
    fn secret_access_key_shape() {
        let a = new_secret_access_key();
        let b = new_secret_access_key();
        assert_eq!(a.expose().len(), SECRET_ACCESS_KEY_LEN);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'/' || c == b'+')
        );
        assert!(!a.ct_eq(b.expose()));
    }

    #[test]
    fn request_id_is_uuid_v4() {
        let id = new_request_id();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(id.as_str(), parsed.hyphenated().to_string());
        assert_eq!(id.len(), 36);
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn request_id_from_text_keeps_it_or_cuts_at_a_character() {
        assert_eq!(RequestId::from("r-1").as_str(), "r-1");
        assert_eq!(RequestId::from("").as_str(), "");
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(RequestId::from(uuid).as_str(), uuid);
        assert_eq!(
            RequestId::from(format!("{uuid}xyz").as_str()).as_str(),
            uuid
        );
        // 35 ASCII bytes then a 2-byte character: cut before it, never inside it.
        let s = format!("{}é", "a".repeat(35));
        assert_eq!(RequestId::from(s.as_str()).as_str(), "a".repeat(35));
        assert_eq!(format!("{}", RequestId::from("x")), "x");
        assert_eq!(
            serde_json::to_string(&RequestId::from("q\"")).unwrap(),
            "\"q\\\"\""
        );
    }

    #[test]
    fn account_validator() {
        assert!(is_valid_account_id("000000000000"));
        assert!(is_valid_account_id("999999999999"));
        assert!(!is_valid_account_id("99999999999"));
        assert!(!is_valid_account_id("9999999999999"));
        assert!(!is_valid_account_id("12345678901x"));
        assert!(!is_valid_account_id("１２３４５６７８９０１２"));
    }

    #[test]
    fn round_trip_edges() {
        for acct in [0_u64, 1, 2, 609_629_065_308, 999_999_999_998, MAX_ACCOUNT] {
            let a = format!("{acct:012}");
            for id in [new_access_key_id("ASIA", &a), new_unique_id("AIDA", &a)] {
                assert_eq!(account_from_access_key_id(&id).unwrap(), a);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2048,
            failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
            ..ProptestConfig::default()
        })]

        #[test]
        fn account_round_trips(acct in 0_u64..=MAX_ACCOUNT, unique in any::<bool>()) {
            let a = format!("{acct:012}");
            let id = if unique { new_unique_id("AROA", &a) } else { new_access_key_id("ASIA", &a) };
            prop_assert!(is_b32(&id));
            prop_assert_eq!(id.len(), if unique { UNIQUE_ID_LEN } else { ACCESS_KEY_ID_LEN });
            prop_assert_eq!(account_from_access_key_id(&id), Some(a));
        }

        #[test]
        fn decoder_never_panics(s in ".{0,40}") {
            let _ = account_from_access_key_id(&s);
        }
    }
}
