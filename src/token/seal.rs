//! The token wire format and the two keyed primitives: AEAD sealing and secret derivation.
//!
//! ```text
//! token  = "SKS1" base64url-nopad( header ‖ nonce ‖ ciphertext )
//! header = version (1 byte, = 1) ‖ key id (4 bytes)
//! nonce  = 24 random bytes (XChaCha20-Poly1305)
//! ciphertext = XChaCha20-Poly1305(seal key, nonce, aad = "SKS1" ‖ header, deflate(postcard(claims)))
//! ```
//!
//! Each ring key's 32-byte master is expanded with HKDF-SHA256 into a sealing key and a
//! derivation key. The temporary secret access key is
//! `base64(HMAC-SHA256(derivation key, "sekisho/secret/v1" ‖ len(akid) ‖ akid ‖ nonce)[..30])`,
//! 40 characters of `[A-Za-z0-9+/]`. It is never in the token, so the token alone proves nothing.
//! Binding the token's random nonce (not only the access key id) means two sessions can never
//! share a secret even if their random `ASIA` ids collided.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use hmac::Mac as _;
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::{Zeroize as _, Zeroizing};

use super::error::{Error, InvalidReason};
use crate::secret::SecretString;
use crate::sigv4::KeyedHmac;
use crate::xchacha;

/// The textual prefix of every token of this format.
pub const TOKEN_PREFIX: &str = "SKS1";

/// Longest token accepted by `open` (and produced by `seal`), in characters.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The binary format version in the header.
const VERSION: u8 = 1;
/// Key id length in bytes.
const KEY_ID_LEN: usize = 4;
/// Header length: version + key id.
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
/// XChaCha20 nonce length.
const NONCE_LEN: usize = xchacha::NONCE_LEN;
/// Poly1305 tag length.
const TAG_LEN: usize = xchacha::TAG_LEN;
/// HKDF salt: fixes the derivation to this scheme.
const HKDF_SALT: &[u8] = b"sekisho/token-ring/v1";
/// Domain separator of the secret derivation.
const SECRET_LABEL: &[u8] = b"sekisho/secret/v1";

/// The short id of a ring key, carried in every token header (4 bytes, shown as 8 hex digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// A random key id.
    pub(crate) fn random() -> Self {
        let mut b = [0_u8; KEY_ID_LEN];
        rand::rng().fill_bytes(&mut b);
        Self(b)
    }

    /// Parses the 8-hex-digit form.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let mut b = [0_u8; KEY_ID_LEN];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(Self(b))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The keys derived from one ring key's master secret. Wiped on drop (the AEAD key wipes itself;
/// the keyed HMAC overwrites its state).
pub(crate) struct Subkeys {
    /// AEAD for sealing and opening.
    cipher: xchacha::Key,
    /// HMAC for secret derivation, keyed once with the derivation key (minting derives a secret
    /// on every call).
    derive: KeyedHmac,
}

impl Subkeys {
    /// HKDF-SHA256 expansion of a ring key's master secret.
    pub(crate) fn derive(master: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), master);
        let mut seal = Zeroizing::new([0_u8; 32]);
        let mut derive = Zeroizing::new([0_u8; 32]);
        // INVARIANT: HKDF-SHA256 fails only for outputs over 255 * 32 bytes; these are 32.
        let expanded = hk.expand(b"seal", seal.as_mut_slice()).is_ok()
            && hk.expand(b"derive", derive.as_mut_slice()).is_ok();
        debug_assert!(expanded, "hkdf expand of 32 bytes cannot fail");
        let cipher = xchacha::Key::new(&seal);
        Self {
            cipher,
            derive: KeyedHmac::new(&derive),
        }
    }

    /// Seals encoded claims under `key_id`; returns the token and its nonce.
    #[cfg(test)]
    pub(crate) fn seal(
        &self,
        key_id: KeyId,
        plaintext: &[u8],
    ) -> Result<(String, [u8; 24]), Error> {
        self.seal_encoded(key_id, plaintext.len(), |raw| {
            raw.extend_from_slice(plaintext);
            Ok(())
        })
    }

    /// Seals the plaintext that `encode` appends (about `len` bytes) under `key_id`; returns
    /// the token and its nonce. The plaintext is written straight after the header and nonce,
    /// encrypted where it lies and the tag appended: one buffer, sized so that it does not
    /// reallocate for a plaintext of `len` bytes (no copy of the plaintext is left behind).
    pub(crate) fn seal_encoded(
        &self,
        key_id: KeyId,
        len: usize,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<(String, [u8; 24]), Error> {
        let header = header(key_id);
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let body = HEADER_LEN + NONCE_LEN;
        // Not wiped on drop: once encrypted it holds only the header, nonce and ciphertext; on
        // the paths that fail before that, the plaintext is wiped here.
        let mut raw = Vec::with_capacity(body + len + TAG_LEN);
        raw.extend_from_slice(&header);
        raw.extend_from_slice(&nonce);
        let sealed = encode(&mut raw).and_then(|()| {
            self.cipher
                .seal_tail(&nonce, &aad(&header), &mut raw, body)
                .map_err(|_| Error::Claims("encryption failed".into()))
        });
        if let Err(e) = sealed {
            raw.zeroize();
            return Err(e);
        }
        Ok((token_text(&raw)?, nonce))
    }

    /// Opens a parsed token, decrypting its ciphertext where it lies; returns the plaintext (the
    /// tag cut off). Any failure is [`InvalidReason::Tampered`].
    pub(crate) fn open(&self, parsed: Parsed) -> Result<Vec<u8>, Error> {
        let aad = aad(&parsed.header);
        let mut text = parsed.ciphertext;
        let len = self
            .cipher
            .open_in_place(&parsed.nonce, &aad, &mut text)
            .map_err(|_| Error::Invalid(InvalidReason::Tampered))?
            .len();
        text.truncate(len);
        Ok(text)
    }

    /// The temporary secret access key of `access_key_id` in the token with `nonce`.
    pub(crate) fn secret(
        &self,
        access_key_id: &str,
        nonce: &[u8; 24],
    ) -> Result<SecretString, Error> {
        let mut mac = self.derive.mac();
        let akid_len = u8::try_from(access_key_id.len())
            .map_err(|_| Error::Claims("access key id too long".into()))?;
        mac.update(SECRET_LABEL);
        mac.update(&[akid_len]);
        mac.update(access_key_id.as_bytes());
        mac.update(nonce);
        let mut tag = Zeroizing::new([0_u8; 32]);
        tag.copy_from_slice(&mac.finalize().into_bytes());
        // 30 bytes encode to exactly 40 base64 characters, no padding.
        let head = tag
            .get(..30)
            .ok_or_else(|| Error::Claims("short mac".into()))?;
        Ok(SecretString::new(STANDARD.encode(head)))
    }
}

/// `SKS1` and the base64url (no padding) of `raw`, encoded in one pass into a buffer of the
/// exact size; refused past [`MAX_TOKEN_LEN`].
fn token_text(raw: &[u8]) -> Result<String, Error> {
    let len = Some(base64_simd::URL_SAFE_NO_PAD.encoded_length(raw.len()) + TOKEN_PREFIX.len())
        .filter(|&n| n <= MAX_TOKEN_LEN)
        .ok_or_else(|| Error::Claims(format!("token would exceed {MAX_TOKEN_LEN} characters")))?;
    let mut text = String::with_capacity(len);
    text.push_str(TOKEN_PREFIX);
    base64_simd::URL_SAFE_NO_PAD.encode_append(raw, &mut text);
    Ok(text)
}

/// A structurally valid token, not yet authenticated.
pub(crate) struct Parsed {
    /// Version byte and key id, as sealed (authenticated as associated data).
    header: [u8; HEADER_LEN],
    /// The key id from the header.
    pub(crate) key_id: KeyId,
    /// The AEAD nonce.
    pub(crate) nonce: [u8; NONCE_LEN],
    /// Ciphertext with its tag.
    ciphertext: Vec<u8>,
}

/// Checks length, prefix, base64, version and minimum size. Never panics on any input.
pub(crate) fn parse(token: &str) -> Result<Parsed, Error> {
    let bad = |r| Error::Invalid(r);
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad(InvalidReason::Oversize));
    }
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(bad(InvalidReason::Malformed))?;
    // Strict: no padding, no character outside the URL-safe alphabet, no non-zero trailing bits
    // (one token has one spelling); the tests hold it to the `base64` crate's answers.
    let mut raw = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(body)
        .map_err(|_| bad(InvalidReason::Malformed))?;
    if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(bad(InvalidReason::Malformed));
    }
    let (header, rest) = raw.split_at(HEADER_LEN);
    let header: [u8; HEADER_LEN] = header
        .try_into()
        .map_err(|_| bad(InvalidReason::Malformed))?;
    let nonce: [u8; NONCE_LEN] = rest
        .get(..NONCE_LEN)
        .and_then(|n| n.try_into().ok())
        .ok_or(bad(InvalidReason::Malformed))?;
    let [version, id @ ..] = header;
    if version != VERSION {
        return Err(bad(InvalidReason::UnknownVersion));
    }
    // The ciphertext is what follows, moved to the front of the decoded buffer.
    raw.drain(..HEADER_LEN + NONCE_LEN);
    Ok(Parsed {
        header,
        key_id: KeyId(id),
        nonce,
        ciphertext: raw,
    })
}

/// The header bytes for a key id.
fn header(key_id: KeyId) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = key_id.0;
    [VERSION, a, b, c, d]
}

/// Associated data: the textual prefix and the binary header.
fn aad(header: &[u8; HEADER_LEN]) -> [u8; 4 + HEADER_LEN] {
    let [v, a, b, c, d] = *header;
    let [p0, p1, p2, p3] = *b"SKS1";
    [p0, p1, p2, p3, v, a, b, c, d]
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;

    fn subkeys(b: u8) -> Subkeys {
        Subkeys::derive(&[b; 32])
    }

    #[test]
    fn seal_open_round_trip_and_format() {
        let k = subkeys(1);
        let id = KeyId([1, 2, 3, 4]);
        let (token, nonce) = k.seal(id, b"hello").unwrap();
        assert!(token.starts_with("SKS1"));
        assert!(
            token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        let p = parse(&token).unwrap();
        assert_eq!(p.key_id, id);
        assert_eq!(p.nonce, nonce);
        assert_eq!(k.open(p).unwrap(), b"hello");
        // Nonces are random: the same plaintext seals differently.
        assert_ne!(k.seal(id, b"hello").unwrap().0, token);
    }

    #[test]
    fn wrong_key_or_header_is_tampered() {
        let (token, _) = subkeys(1).seal(KeyId([1, 2, 3, 4]), b"hello").unwrap();
        let p = parse(&token).unwrap();
        let e = subkeys(2).open(p).unwrap_err();
        assert_eq!(e.invalid_reason(), Some(InvalidReason::Tampered));
        // Re-labelling the key id breaks the AAD.
        let mut raw = URL_SAFE_NO_PAD
            .decode(token.strip_prefix("SKS1").unwrap())
            .unwrap();
        *raw.get_mut(1).unwrap() ^= 1;
        let relabelled = format!("SKS1{}", URL_SAFE_NO_PAD.encode(&raw));
        let e = subkeys(1).open(parse(&relabelled).unwrap()).unwrap_err();
        assert_eq!(e.invalid_reason(), Some(InvalidReason::Tampered));
    }

    #[test]
    fn parse_rejects_structure() {
        let r = |t: &str| parse(t).err().and_then(|e| e.invalid_reason());
        assert_eq!(r(""), Some(InvalidReason::Malformed));
        assert_eq!(r("SKS2AAAA"), Some(InvalidReason::Malformed));
        assert_eq!(r("SKS1!!!!"), Some(InvalidReason::Malformed));
        assert_eq!(
            r(&format!("SKS1{}", URL_SAFE_NO_PAD.encode([1_u8; 44]))),
            Some(InvalidReason::Malformed)
        );
        assert_eq!(
            r(&format!("SKS1{}", URL_SAFE_NO_PAD.encode([2_u8; 45]))),
            Some(InvalidReason::UnknownVersion)
        );
        assert!(parse(&format!("SKS1{}", URL_SAFE_NO_PAD.encode([1_u8; 45]))).is_ok());
        assert_eq!(
            r(&"A".repeat(MAX_TOKEN_LEN + 1)),
            Some(InvalidReason::Oversize)
        );
        // Standard-alphabet base64 and padding are not this format.
        assert_eq!(
            r(&format!("SKS1{}", STANDARD.encode([1_u8; 46]))),
            Some(InvalidReason::Malformed)
        );
    }

    #[test]
    fn secret_shape_and_binding() {
        let k = subkeys(1);
        let s = k.secret("ASIAY34FZKBOKMUTVV7A", &[0; 24]).unwrap();
        assert_eq!(s.expose().len(), 40);
        assert!(
            s.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        );
        // Deterministic per (key, akid, nonce); different if any input changes.
        assert!(s.ct_eq(k.secret("ASIAY34FZKBOKMUTVV7A", &[0; 24]).unwrap().expose()));
        assert!(!s.ct_eq(k.secret("ASIAY34FZKBOKMUTVV7B", &[0; 24]).unwrap().expose()));
        assert!(!s.ct_eq(k.secret("ASIAY34FZKBOKMUTVV7A", &[1; 24]).unwrap().expose()));
        assert!(
            !s.ct_eq(
                subkeys(2)
                    .secret("ASIAY34FZKBOKMUTVV7A", &[0; 24])
                    .unwrap()
                    .expose()
            )
        );
    }

    #[test]
    fn secret_known_answer() {
        // Computed independently (Python's hmac/hashlib): HKDF-SHA256(salt
        // "sekisho/token-ring/v1", master 32 × 0x01, info "derive"), then HMAC-SHA256 of
        // "sekisho/secret/v1" ‖ 20 ‖ akid ‖ 24 zero bytes, first 30 bytes in base64. Secrets of
        // sessions already minted depend on this staying exactly so.
        let s = subkeys(1).secret("ASIAY34FZKBOKMUTVV7A", &[0; 24]).unwrap();
        assert_eq!(s.expose(), "mCbXtUTLPCLXI7PqkklZN4RKY3dvLI9G/nvyYYAZ");
    }

    #[test]
    fn aad_is_prefix_and_header() {
        let h = header(KeyId([9, 8, 7, 6]));
        let a = aad(&h);
        assert_eq!(a.get(..4), Some(TOKEN_PREFIX.as_bytes()));
        assert_eq!(a.get(4..), Some(&h[..]));
    }

    #[test]
    fn key_id_text_form() {
        let id = KeyId([0xde, 0xad, 0x00, 0x01]);
        assert_eq!(id.to_string(), "dead0001");
        assert_eq!(KeyId::parse("dead0001"), Some(id));
        assert_eq!(KeyId::parse("dead00"), None);
        assert_eq!(KeyId::parse("dead00010"), None);
        assert_eq!(KeyId::parse("zzzz0001"), None);
    }

    /// The token text's base64 (base64-simd) against the `base64` crate's URL-safe, unpadded,
    /// strict engine: the same text for any bytes, and the same verdict and bytes for any text:
    /// padding, the standard alphabet's `+` and `/`, spaces, non-canonical trailing bits and
    /// impossible lengths refused alike.
    fn text_strategy() -> impl Strategy<Value = String> {
        let chars = prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ .\u{e9}"
                .chars()
                .collect::<Vec<_>>(),
        );
        prop_oneof![
            // Mostly valid texts, sometimes with a stray character.
            prop::collection::vec(any::<u8>(), 0..400).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            prop::collection::vec(chars, 0..120).prop_map(|c| c.into_iter().collect()),
            (
                prop::collection::vec(any::<u8>(), 0..200),
                any::<usize>(),
                chars_one()
            )
                .prop_map(|(b, at, c)| {
                    let mut t = URL_SAFE_NO_PAD.encode(b);
                    let at = if t.is_empty() { 0 } else { at % t.len() };
                    t.insert(at, c);
                    t
                }),
        ]
    }

    fn chars_one() -> impl Strategy<Value = char> {
        prop::sample::select(vec!['=', '+', '/', ' ', 'A', '-', '\u{e9}', '\0'])
    }

    proptest! {
        #[test]
        fn token_text_is_the_base64_crates(raw in prop::collection::vec(any::<u8>(), 0..700)) {
            let text = token_text(&raw).unwrap();
            prop_assert_eq!(text, format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw)));
        }

        #[test]
        fn token_base64_reads_as_the_base64_crate(text in text_strategy()) {
            let ours = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(text.as_bytes()).ok();
            let theirs = URL_SAFE_NO_PAD.decode(&text).ok();
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_malformed() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // 46 bytes: 15 whole groups and one byte, written as two characters whose second
        // carries four spare bits, zero in the one canonical spelling.
        let mut raw = [7_u8; 46];
        *raw.first_mut().unwrap() = VERSION;
        let canonical = URL_SAFE_NO_PAD.encode(raw);
        let mut bytes = canonical.clone().into_bytes();
        let last = bytes.last_mut().unwrap();
        let index = ALPHABET.iter().position(|c| c == last).unwrap();
        assert_eq!(
            index & 0x0f,
            0,
            "the canonical spelling has zero spare bits"
        );
        *last = *ALPHABET.get(index | 1).unwrap();
        let twisted = String::from_utf8(bytes).unwrap();
        assert!(parse(&format!("{TOKEN_PREFIX}{canonical}")).is_ok());
        for bad in [twisted, format!("{canonical}="), format!("{canonical} ")] {
            assert!(
                matches!(
                    parse(&format!("{TOKEN_PREFIX}{bad}")),
                    Err(Error::Invalid(InvalidReason::Malformed))
                ),
                "{bad}"
            );
        }
    }
}
