//! Key derivation and the final HMAC (sts-spec.md §4, "Signing key").

use std::fmt;
use std::sync::{PoisonError, RwLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::{SecretString, ct_eq};

/// HMAC-SHA256, as SigV4 signs.
pub type HmacSha256 = Hmac<Sha256>;

/// A SigV4 signature (32 bytes, written as 64 lowercase hex digits). It has no `PartialEq`:
/// compare with [`Signature::ct_eq`].
#[derive(Clone)]
pub struct Signature([u8; 32]);

impl Signature {
    /// Parses 64 hex digits (either case); `None` for anything else. The digits are the
    /// client's claim, not a secret: decoding them need not be constant-time (the comparison
    /// with the computed signature is).
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        // Every digit is looked up; a bad one sets a high bit, checked once at the end.
        let mut out = [0u8; 32];
        let mut bad = 0;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            if let [hi, lo] = pair {
                let (hi, lo) = (hex_digit_value(*hi), hex_digit_value(*lo));
                bad |= hi | lo;
                *o = hi << 4 | (lo & 0x0f);
            }
        }
        if bad & 0xf0 != 0 {
            return None;
        }
        Some(Self(out))
    }

    /// The lowercase hex form, as written in requests.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex_str(&hex32(&self.0)).to_owned()
    }

    /// Constant-time equality.
    #[must_use]
    pub fn ct_eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; the fallback is
    // unreachable but keeps this function total without a panic.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0u8; 32];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA256 keyed once: the state after absorbing the padded key (one block each for the
/// inner and outer hash), so every MAC under this key saves those two SHA-256 compressions.
/// For keys that MAC many messages: a SigV4 signing key, a token ring key's derivation key.
///
/// The state stands for the key (it can make MACs), so it is overwritten when dropped (hmac
/// 0.12 has no `zeroize`: replaced by a zero key's state, the write kept with `black_box`).
/// Copies taken to MAC one message ([`Self::mac`]) live as long as that message, as the
/// per-message HMAC state always did.
pub struct KeyedHmac(HmacSha256);

impl KeyedHmac {
    /// Keys an HMAC-SHA256 with a 32-byte key. HMAC pads a key shorter than the block with
    /// zeros, so the padded 64-byte key is the same key (and cannot fail).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        let mut block = Zeroizing::new([0_u8; 64]);
        if let Some(head) = block.get_mut(..32) {
            head.copy_from_slice(key);
        }
        let block: &[u8; 64] = &block;
        Self(<HmacSha256 as Mac>::new(block.into()))
    }

    /// A fresh MAC under this key, to be fed one message.
    #[must_use]
    pub fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

impl Drop for KeyedHmac {
    fn drop(&mut self) {
        self.0 = <HmacSha256 as Mac>::new(&[0_u8; 64].into());
        std::hint::black_box(&mut self.0);
    }
}

impl fmt::Debug for KeyedHmac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyedHmac(<redacted>)")
    }
}

/// Lowercase hex of SHA-256 of `data`.
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex_str(&sha256_hex_bytes(data)).to_owned()
}

/// [`sha256_hex`] on the stack: the 64 ASCII digits.
#[must_use]
pub(crate) fn sha256_hex_bytes(data: &[u8]) -> [u8; 64] {
    hex32(&Sha256::digest(data).into())
}

/// Lowercase hex of 32 bytes (a digest or a signature), written into a fixed buffer (`hex::encode`
/// goes a `char` at a time through an iterator, and `String::push` encodes each as UTF-8: both
/// showed in profiles, two or three digests being written per verified request).
#[must_use]
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
    let mut out = [0u8; 64];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = digit(b >> 4);
            *lo = digit(b & 0x0f);
        }
    }
    out
}

/// The text of [`hex32`]'s digits (always ASCII, so never empty).
pub(crate) fn hex_str(hex: &[u8; 64]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

/// The value of a hex digit, either case.
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    let v = hex_digit_value(b);
    (v < 16).then_some(v)
}

/// The value of a hex digit (either case), or `0xff` for any other byte: one table look-up.
fn hex_digit_value(b: u8) -> u8 {
    const TABLE: [u8; 256] = {
        let mut t = [0xff_u8; 256];
        let mut i = 0_u8;
        while i < 16 {
            let lower = if i < 10 { b'0' + i } else { b'a' + i - 10 };
            let upper = if i < 10 { b'0' + i } else { b'A' + i - 10 };
            #[expect(
                clippy::indexing_slicing,
                reason = "constant evaluation: an index out of bounds fails the build"
            )]
            {
                t[lower as usize] = i;
                t[upper as usize] = i;
            }
            i += 1;
        }
        t
    };
    TABLE.get(usize::from(b)).copied().unwrap_or(0xff)
}

/// Derives the signing key: `kDate = HMAC("AWS4"+secret, date)`, then region, service and
/// `aws4_request`. The intermediate and final keys are wiped on drop.
#[must_use]
pub fn signing_key(
    secret: &SecretString,
    date: &str,
    region: &str,
    service: &str,
) -> Zeroizing<[u8; 32]> {
    let mut k_secret = Zeroizing::new(Vec::with_capacity(4 + secret.expose().len()));
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.expose().as_bytes());
    let k_date = Zeroizing::new(hmac_sha256(&k_secret, date.as_bytes()));
    let k_region = Zeroizing::new(hmac_sha256(k_date.as_ref(), region.as_bytes()));
    let k_service = Zeroizing::new(hmac_sha256(k_region.as_ref(), service.as_bytes()));
    Zeroizing::new(hmac_sha256(k_service.as_ref(), b"aws4_request"))
}

/// Derived signing keys, by (access key id, date, region, service), each with the secret it
/// was derived from, held keyed ([`KeyedHmac`]: the signature of a request is then two SHA-256
/// compressions shorter).
///
/// A signing key is fixed for a secret, day, region and service, and deriving it is four
/// HMACs, the largest part of verifying a signature. An entry is found by the non-secret scope
/// (hashed with the process's randomly seeded hasher, no SHA-256 per request) and used only
/// when its scope is equal field by field and its secret equals the presented one (constant
/// time), so a different secret under the same access key id (a forged session token naming a
/// real `ASIA` id) can never reach another secret's key. Secrets and keys are wiped when an
/// entry is dropped. Bounded: cleared when full.
pub struct SigningKeyCache {
    map: RwLock<crate::FastMap<u64, Entry>>,
    hasher: foldhash::fast::RandomState,
    max_entries: usize,
}

/// One cached key, with everything it stands for.
struct Entry {
    access_key_id: Box<str>,
    date: Box<str>,
    region: Box<str>,
    service: Box<str>,
    secret: SecretString,
    mac: KeyedHmac,
}

impl Entry {
    fn matches(&self, scope: &Scope<'_>, secret: &SecretString) -> bool {
        *self.access_key_id == *scope.access_key_id
            && *self.date == *scope.date
            && *self.region == *scope.region
            && *self.service == *scope.service
            && secret.ct_eq(self.secret.expose())
    }
}

/// What a signing key is looked up by (none of it secret).
#[derive(Debug, Clone, Copy, Hash)]
pub struct Scope<'a> {
    /// The access key id that signed.
    pub access_key_id: &'a str,
    /// `yyyymmdd`.
    pub date: &'a str,
    /// The region signed for.
    pub region: &'a str,
    /// The service signed for.
    pub service: &'a str,
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKeyCache(<redacted>)")
    }
}

impl SigningKeyCache {
    /// An empty cache of at most `max_entries` keys.
    #[must_use]
    pub fn new(max_entries: usize) -> Self {
        Self {
            map: RwLock::new(crate::FastMap::default()),
            hasher: foldhash::fast::RandomState::default(),
            max_entries,
        }
    }

    /// The signing key for `secret` in `scope`: the cached one, or a freshly derived one that
    /// is not cached yet. Call [`Self::remember`] only once a signature made with it has
    /// matched, so requests with wrong signatures never fill (or flush) the cache.
    #[must_use]
    pub fn get(&self, scope: &Scope<'_>, secret: &SecretString) -> Lookup {
        use std::hash::BuildHasher;
        let id = self.hasher.hash_one(scope);
        if let Some(e) = self
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            && e.matches(scope, secret)
        {
            return Lookup {
                mac: e.mac.mac(),
                derived: None,
            };
        }
        let mac = KeyedHmac::new(&signing_key(
            secret,
            scope.date,
            scope.region,
            scope.service,
        ));
        Lookup {
            mac: mac.mac(),
            derived: Some((
                id,
                Entry {
                    access_key_id: scope.access_key_id.into(),
                    date: scope.date.into(),
                    region: scope.region.into(),
                    service: scope.service.into(),
                    secret: secret.clone(),
                    mac,
                },
            )),
        }
    }

    /// Caches a key [`Self::get`] derived, after it verified a signature (an entry of the
    /// same hash, a collision or an older secret, is replaced).
    pub fn remember(&self, lookup: Lookup) {
        let Some((id, entry)) = lookup.derived else {
            return;
        };
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.max_entries {
            map.clear();
        }
        map.insert(id, entry);
    }
}

/// A signing key from [`SigningKeyCache::get`], keyed; `derived` is set when it was derived,
/// not cached.
pub struct Lookup {
    /// An HMAC under the signing key.
    mac: HmacSha256,
    derived: Option<(u64, Entry)>,
}

impl Lookup {
    /// The signature of `string_to_sign` under this signing key.
    #[must_use]
    pub fn sign(&self, string_to_sign: &[u8]) -> Signature {
        self.sign_with(|mac| mac.update(string_to_sign))
    }

    /// The signature of the string to sign that `write` feeds into the MAC (the string is
    /// never built).
    #[must_use]
    pub fn sign_with(&self, write: impl FnOnce(&mut HmacSha256)) -> Signature {
        let mut mac = self.mac.clone();
        write(&mut mac);
        Signature(mac.finalize().into_bytes().into())
    }
}

/// The signature of `string_to_sign` under a derived signing key.
#[must_use]
pub fn sign(key: &[u8; 32], string_to_sign: &[u8]) -> Signature {
    Signature(hmac_sha256(key, string_to_sign))
}

/// [`sign`], the string to sign fed into the MAC by `write`.
#[must_use]
pub fn sign_with(key: &[u8; 32], write: impl FnOnce(&mut HmacSha256)) -> Signature {
    let mut mac = KeyedHmac::new(key).mac();
    write(&mut mac);
    Signature(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_hex_round_trip_and_rejects_malformed() {
        let hex64 = "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea";
        let s = Signature::from_hex(hex64);
        assert_eq!(s.as_ref().map(Signature::to_hex).as_deref(), Some(hex64));
        assert!(Signature::from_hex(&hex64[..63]).is_none());
        assert!(Signature::from_hex(&format!("{hex64}0")).is_none());
        assert!(Signature::from_hex(&hex64.replace('c', "g")).is_none());
        assert!(Signature::from_hex("é".repeat(32).as_str()).is_none());
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks_exact(32) {
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(chunk);
            assert_eq!(hex_str(&hex32(&bytes)), hex::encode(chunk));
            let upper = hex::encode_upper(chunk);
            let back = Signature::from_hex(&upper).map(|s| s.0);
            assert_eq!(back, Some(bytes), "upper case digits decode too");
        }
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_digit_values_are_every_byte_s() {
        for b in 0_u8..=255 {
            let want = char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok());
            assert_eq!(hex_val(b), want, "{b:#x}");
        }
    }

    #[test]
    fn ct_eq_distinguishes() {
        let a = sign(&[1; 32], b"x");
        let b = sign(&[1; 32], b"y");
        assert!(a.ct_eq(&a.clone()));
        assert!(!a.ct_eq(&b));
    }

    #[test]
    fn cache_gives_the_derived_key_and_separates_secrets_and_scopes() {
        let cache = SigningKeyCache::new(2);
        let get = |s: &SecretString, d: &str, r: &str, v: &str| {
            let scope = Scope {
                access_key_id: "AKIDEXAMPLE",
                date: d,
                region: r,
                service: v,
            };
            let l = cache.get(&scope, s);
            let k = l.sign(b"string to sign").to_hex();
            cache.remember(l);
            k
        };
        let want = |s: &SecretString, d: &str, r: &str, v: &str| {
            sign(&signing_key(s, d, r, v), b"string to sign").to_hex()
        };
        let a = SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let b = SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
        for _ in 0..2 {
            assert_eq!(
                get(&a, "20120215", "us-east-1", "iam"),
                want(&a, "20120215", "us-east-1", "iam")
            );
            assert_eq!(
                get(&b, "20120215", "us-east-1", "iam"),
                want(&b, "20120215", "us-east-1", "iam")
            );
        }
        assert_ne!(
            get(&a, "20120215", "us-east-1", "iam"),
            get(&b, "20120215", "us-east-1", "iam")
        );
        // Shifting a character between fields must not collide.
        assert_ne!(
            get(&a, "20120215", "us-east-1", "iam"),
            get(&a, "20120215", "us-east-1i", "am")
        );
        assert!(
            cache.map.read().map(|m| m.len()).unwrap_or(0) <= 2,
            "bounded"
        );
    }

    #[test]
    fn only_remembered_keys_are_cached() {
        let cache = SigningKeyCache::new(8);
        let a = SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let scope = Scope {
            access_key_id: "AKIDEXAMPLE",
            date: "20120215",
            region: "us-east-1",
            service: "iam",
        };
        let l = cache.get(&scope, &a);
        drop(l); // a signature that did not match: never remembered
        assert_eq!(cache.map.read().map(|m| m.len()).unwrap_or(9), 0);
        let l = cache.get(&scope, &a);
        cache.remember(l);
        assert_eq!(cache.map.read().map(|m| m.len()).unwrap_or(9), 1);
        let l = cache.get(&scope, &a);
        assert!(l.derived.is_none(), "served from the cache");
        // The same access key id and scope with another secret never gets the cached key.
        let b = SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
        let l = cache.get(&scope, &b);
        assert!(l.derived.is_some(), "another secret is derived afresh");
        assert_eq!(
            l.sign(b"x").to_hex(),
            sign(&signing_key(&b, "20120215", "us-east-1", "iam"), b"x").to_hex()
        );
        // Another access key id with the same secret and scope is not served the entry either.
        let other = Scope {
            access_key_id: "AKIDOTHER",
            ..scope
        };
        assert!(cache.get(&other, &a).derived.is_some());
    }

    #[test]
    fn keyed_hmac_is_hmac_with_the_key() {
        // The reference is a fresh HMAC keyed with the 32-byte key itself, at lengths around
        // the block and padding boundaries.
        for key in [[0_u8; 32], [0x0b; 32], [0xff; 32]] {
            for msg in [&b""[..], b"x", &[7_u8; 55], &[7; 56], &[7; 64], &[7; 200]] {
                let keyed = KeyedHmac::new(&key);
                let mut mac = keyed.mac();
                mac.update(msg);
                assert_eq!(
                    <[u8; 32]>::from(mac.finalize().into_bytes()),
                    hmac_sha256(&key, msg)
                );
            }
        }
        // Another key is another MAC.
        let mut a = KeyedHmac::new(&[1; 32]).mac();
        a.update(b"m");
        assert_ne!(
            <[u8; 32]>::from(a.finalize().into_bytes()),
            hmac_sha256(&[2; 32], b"m")
        );
    }

    #[test]
    fn aws_documented_signing_key() {
        // AWS General Reference example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215/us-east-1/iam.
        let key = signing_key(
            &SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.as_ref()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }
}
