//! `EncryptedAssertion` (XML Encryption): the content key is unwrapped with one of the
//! provider's private keys (RSA-OAEP or RSA 1.5), then the assertion is decrypted (AES-128-GCM
//! or AES-128-CBC) — by samael's primitives, after the checks that keep them from slicing short
//! buffers (they index without length checks and would panic).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use samael::crypto::{Crypto, CryptoProvider};
use samael::schema::CipherValue;

use super::error::Error;
use super::xml::Element;
use super::{DS, XENC};

const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";

/// (algorithm, base64 cipher value) of an `EncryptedData` or `EncryptedKey`.
fn cipher(e: &Element) -> Option<(String, String)> {
    let alg = e
        .child(XENC, "EncryptionMethod")?
        .attr("Algorithm")?
        .to_owned();
    let value = e
        .child(XENC, "CipherData")?
        .child(XENC, "CipherValue")?
        .text();
    Some((alg, value))
}

fn decoded_len(b64: &str) -> Result<usize, Error> {
    let compact: String = b64.split_whitespace().collect();
    STANDARD
        .decode(compact.as_bytes())
        .map(|v| v.len())
        .map_err(|_| Error::Decrypt("cipher value is not base64".into()))
}

/// Decrypts an `EncryptedAssertion` element into the assertion's XML text.
///
/// # Errors
/// [`Error::NoDecryptionKey`] without keys; [`Error::Decrypt`] when no key opens it or the
/// algorithms are not supported.
pub fn decrypt(encrypted: &Element, keys: &[PKey<Private>]) -> Result<String, Error> {
    if keys.is_empty() {
        return Err(Error::NoDecryptionKey);
    }
    let data = encrypted
        .child(XENC, "EncryptedData")
        .ok_or_else(|| Error::Decrypt("no EncryptedData".into()))?;
    let (data_alg, data_value) =
        cipher(data).ok_or_else(|| Error::Decrypt("EncryptedData is incomplete".into()))?;
    // The wrapped key: inside EncryptedData's KeyInfo, or a sibling of EncryptedData.
    let key_elem = data
        .child(DS, "KeyInfo")
        .and_then(|k| k.child(XENC, "EncryptedKey"))
        .or_else(|| encrypted.child(XENC, "EncryptedKey"))
        .ok_or_else(|| Error::Decrypt("no EncryptedKey".into()))?;
    let (key_alg, key_value) =
        cipher(key_elem).ok_or_else(|| Error::Decrypt("EncryptedKey is incomplete".into()))?;
    if key_alg != RSA_OAEP && key_alg != RSA_1_5 {
        return Err(Error::Decrypt(format!(
            "key transport {key_alg} is not supported"
        )));
    }
    // IV (16 for CBC, 12 for GCM) plus at least one block or the 16-byte tag.
    let min = match data_alg.as_str() {
        AES128_CBC => 32,
        AES128_GCM => 12 + 16,
        other => {
            return Err(Error::Decrypt(format!(
                "content cipher {other} is not supported"
            )));
        }
    };
    if decoded_len(&data_value)? < min {
        return Err(Error::Decrypt("cipher value too short".into()));
    }
    decoded_len(&key_value)?;
    let wrapped = CipherValue { value: key_value };
    let content = CipherValue { value: data_value };
    let mut last = String::from("no key");
    for k in keys {
        let aes_key = match Crypto::decrypt_assertion_key_info(&wrapped, &key_alg, k) {
            Ok(a) => a,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        if aes_key.len() != 16 {
            last = format!("content key of {} bytes for AES-128", aes_key.len());
            continue;
        }
        match Crypto::decrypt_assertion_value_info(&content, &data_alg, &aes_key) {
            Ok(plain) => return assertion_text(&plain),
            Err(e) => last = e.to_string(),
        }
    }
    Err(Error::Decrypt(last))
}

/// The assertion inside decrypted bytes: CBC plaintext keeps its (ISO 10126) padding, so the
/// text runs from the first `<` to the last `>`.
fn assertion_text(plain: &[u8]) -> Result<String, Error> {
    let start = plain.iter().position(|&b| b == b'<');
    let end = plain.iter().rposition(|&b| b == b'>');
    let (Some(s), Some(e)) = (start, end) else {
        return Err(Error::Decrypt("decrypted content is not XML".into()));
    };
    let slice = plain
        .get(s..=e)
        .ok_or_else(|| Error::Decrypt("decrypted content is not XML".into()))?;
    String::from_utf8(slice.to_vec())
        .map_err(|_| Error::Decrypt("decrypted content is not UTF-8".into()))
}
