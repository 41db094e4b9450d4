//! XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03): the AEAD of session tokens and of secrets at
//! rest. Two library pieces, composed as the draft's §2.3 says:
//!
//! - HChaCha20 (the `chacha20` crate) turns the key and the nonce's first 16 bytes into a
//!   one-nonce subkey;
//! - ChaCha20-Poly1305 (RFC 8439, aws-lc-rs) seals under that subkey with the 12-byte nonce
//!   `0⁴ ‖ nonce[16..24]`.
//!
//! The bytes are those of `chacha20poly1305::XChaCha20Poly1305` (the tests hold them equal, and
//! to the draft's and libsodium's answers), so tokens and sealed secrets written before still
//! open. It is here because that crate's runtime-detected SIMD paths were slow on our machines:
//! sealing a 150–300 byte token took about 1.9 µs there and 0.36–0.43 µs this way, on every
//! AssumeRole (`benches/token.rs`).

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use chacha20::cipher::consts::U10;
use zeroize::{Zeroize as _, Zeroizing};

/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 24;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Sealing or opening failed: a wrong key, a tampered text or wrong associated data (opening);
/// never says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

/// An XChaCha20-Poly1305 key. Wiped on drop; never printed.
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("xchacha::Key(<redacted>)")
    }
}

impl Key {
    /// The key of these 32 bytes.
    #[must_use]
    pub fn new(bytes: &[u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(*bytes))
    }

    /// The key of `bytes`, if they are 32.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <&[u8; KEY_LEN]>::try_from(bytes).ok().map(Self::new)
    }

    /// The ChaCha20-Poly1305 key and nonce of one XChaCha nonce. The subkey is wiped here; the
    /// copy aws-lc-rs keeps lives as long as the returned key, which the caller drops at once.
    fn inner(&self, nonce: &[u8; NONCE_LEN]) -> Result<(LessSafeKey, Nonce), Failed> {
        let (head, tail) = nonce.split_at(16);
        let head: &[u8; 16] = head.try_into().map_err(|_| Failed)?;
        let mut subkey = chacha20::hchacha::<U10>((&*self.0).into(), head.into());
        let key = UnboundKey::new(&CHACHA20_POLY1305, subkey.as_slice()).map_err(|_| Failed);
        subkey.as_mut_slice().zeroize();
        let mut short = [0_u8; 12];
        short.get_mut(4..).ok_or(Failed)?.copy_from_slice(tail);
        Ok((LessSafeKey::new(key?), Nonce::assume_unique_for_key(short)))
    }

    /// Encrypts `buf[from..]` where it lies and appends the tag; what is before `from` (a
    /// header, the nonce: what travels in the clear) is left as it is.
    pub fn seal_tail(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), Failed> {
        let (key, nonce) = self.inner(nonce)?;
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), buf.get_mut(from..).ok_or(Failed)?)
            .map_err(|_| Failed)?;
        buf.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// `plaintext`'s ciphertext with the tag appended.
    #[cfg(test)]
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Failed> {
        let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        out.extend_from_slice(plaintext);
        self.seal_tail(nonce, aad, &mut out, 0)?;
        Ok(out)
    }

    /// Authenticates and decrypts `sealed` (ciphertext ‖ tag) where it lies; returns the
    /// plaintext, the front of `sealed`. On failure `sealed` holds no plaintext.
    pub fn open_in_place<'a>(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &'a mut [u8],
    ) -> Result<&'a mut [u8], Failed> {
        let (key, nonce) = self.inner(nonce)?;
        let len = key
            .open_in_place(nonce, Aad::from(aad), sealed)
            .map(|plaintext| plaintext.len());
        match len {
            Ok(len) => sealed.get_mut(..len).ok_or(Failed),
            Err(_) => {
                sealed.zeroize();
                Err(Failed)
            }
        }
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    use proptest::prelude::*;

    use super::*;

    /// draft-irtf-cfrg-xchacha-03, appendix A.3.1; libsodium's
    /// `crypto_aead_xchacha20poly1305_ietf_encrypt` gives the same bytes.
    #[test]
    fn the_drafts_vector() {
        let key: [u8; 32] = std::array::from_fn(|i| 0x80 + u8::try_from(i).unwrap());
        let nonce: [u8; 24] = std::array::from_fn(|i| 0x40 + u8::try_from(i).unwrap());
        let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only \
            one tip for the future, sunscreen would be it.";
        let expected = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b\
            0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb\
            9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e\
            c0875924c1c7987947deafd8780acf49";
        let k = Key::new(&key);
        let sealed = k.seal(&nonce, &aad, plaintext).unwrap();
        assert_eq!(hex::encode(&sealed), expected);
        let mut buf = sealed.clone();
        assert_eq!(
            k.open_in_place(&nonce, &aad, &mut buf).unwrap(),
            plaintext.as_slice()
        );
    }

    #[test]
    fn any_change_fails_to_open() {
        let k = Key::new(&[7; 32]);
        let nonce = [9; 24];
        let sealed = k.seal(&nonce, b"aad", b"claims").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            *t.get_mut(i).unwrap() ^= 0x01;
            assert_eq!(k.open_in_place(&nonce, b"aad", &mut t), Err(Failed));
        }
        let mut t = sealed.clone();
        assert_eq!(k.open_in_place(&nonce, b"aae", &mut t), Err(Failed));
        let mut t = sealed.clone();
        let mut other = nonce;
        other[23] ^= 1;
        assert_eq!(k.open_in_place(&other, b"aad", &mut t), Err(Failed));
        let mut t = sealed.clone();
        other = nonce;
        other[0] ^= 1;
        assert_eq!(k.open_in_place(&other, b"aad", &mut t), Err(Failed));
        let mut t = sealed.clone();
        assert_eq!(
            Key::new(&[8; 32]).open_in_place(&nonce, b"aad", &mut t),
            Err(Failed)
        );
        let mut short = sealed.get(..TAG_LEN - 1).unwrap().to_vec();
        assert_eq!(k.open_in_place(&nonce, b"aad", &mut short), Err(Failed));
        assert!(Key::from_slice(&[0; 31]).is_none());
        assert_eq!(format!("{k:?}"), "xchacha::Key(<redacted>)");
    }

    proptest! {
        /// The same bytes as the RustCrypto implementation, both ways.
        #[test]
        fn equal_to_the_rustcrypto_implementation(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 24]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            plaintext in proptest::collection::vec(any::<u8>(), 0..700),
        ) {
            let theirs = XChaCha20Poly1305::new((&key).into());
            let expected = theirs
                .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &aad })
                .unwrap();
            let ours = Key::new(&key);
            let sealed = ours.seal(&nonce, &aad, &plaintext).unwrap();
            prop_assert_eq!(&sealed, &expected);
            let mut buf = expected.clone();
            prop_assert_eq!(
                ours.open_in_place(&nonce, &aad, &mut buf).unwrap(),
                plaintext.as_slice()
            );
        }
    }
}
