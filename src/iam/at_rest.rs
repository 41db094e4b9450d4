//! Encryption of long-term secrets at rest (access key secrets; later MFA seeds), and the
//! sealing of authorization messages (the encoded reason of a denial, which only Sekisho may
//! read back through `DecodeAuthorizationMessage`).
//!
//! SigV4 needs the secret itself, so it cannot be hashed: it is sealed with XChaCha20-Poly1305
//! under a store key kept in a file (mode 0600, created on first start), with the owning key id as
//! associated data so a sealed secret cannot be moved to another key's record.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::secret::{SecretBytes, SecretString};
use crate::xchacha;

/// The at-rest key.
#[derive(Clone)]
pub struct AtRestKey {
    key: SecretBytes,
}

impl std::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtRestKey(<redacted>)")
    }
}

/// Failure to load, seal or open.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AtRestError {
    /// File problem.
    #[error("store key file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A sealed value did not open (wrong key, tampered, or moved).
    #[error("sealed secret does not open")]
    Open,
}

impl AtRestKey {
    /// Loads the key file, creating it (32 random bytes, base64, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, AtRestError> {
        let err = |reason: String| AtRestError::File {
            path: path.display().to_string(),
            reason,
        };
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let bytes = STANDARD
                .decode(text.trim())
                .map_err(|e| err(e.to_string()))?;
            if bytes.len() != 32 {
                return Err(err("must hold 32 bytes in base64".into()));
            }
            return Ok(Self {
                key: SecretBytes::new(bytes),
            });
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let tmp = path.with_extension("tmp");
        {
            let mut f = crate::private_file::owner_only(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true),
            )
            .open(&tmp)
            .map_err(|e| err(e.to_string()))?;
            f.write_all(STANDARD.encode(&bytes).as_bytes())
                .map_err(|e| err(e.to_string()))?;
            f.sync_all().map_err(|e| err(e.to_string()))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            key: SecretBytes::new(bytes),
        })
    }

    /// A random key held only in memory (tests).
    #[must_use]
    pub fn ephemeral() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self {
            key: SecretBytes::new(bytes),
        }
    }

    fn cipher(&self) -> Result<xchacha::Key, AtRestError> {
        xchacha::Key::from_slice(self.key.expose()).ok_or(AtRestError::Open)
    }

    /// Seals `secret`, bound to `owner` (e.g. the access key id): base64 of nonce ‖ ciphertext ‖
    /// tag.
    pub fn seal(&self, owner: &str, secret: &SecretString) -> Result<String, AtRestError> {
        let mut nonce = [0u8; xchacha::NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let plaintext = secret.expose().as_bytes();
        // Holds the secret until it is sealed: wiped on drop (a failed seal included).
        let mut out = Zeroizing::new(Vec::with_capacity(
            nonce.len() + plaintext.len() + xchacha::TAG_LEN,
        ));
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        self.cipher()?
            .seal_tail(&nonce, owner.as_bytes(), &mut out, xchacha::NONCE_LEN)
            .map_err(|_| AtRestError::Open)?;
        Ok(STANDARD.encode(&*out))
    }

    /// Opens a sealed secret bound to `owner`.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<SecretString, AtRestError> {
        // Opened where it lies: holds the secret until dropped, then wiped.
        let mut raw = Zeroizing::new(STANDARD.decode(sealed).map_err(|_| AtRestError::Open)?);
        if raw.len() < xchacha::NONCE_LEN + xchacha::TAG_LEN {
            return Err(AtRestError::Open);
        }
        let (nonce, sealed) = raw.split_at_mut(xchacha::NONCE_LEN);
        let nonce: &[u8; xchacha::NONCE_LEN] =
            (&*nonce).try_into().map_err(|_| AtRestError::Open)?;
        let plaintext = self
            .cipher()?
            .open_in_place(nonce, owner.as_bytes(), sealed)
            .map_err(|_| AtRestError::Open)?;
        let s = std::str::from_utf8(plaintext).map_err(|_| AtRestError::Open)?;
        Ok(SecretString::new(s.to_owned()))
    }

    /// Seals an authorization message (the JSON of a denial's reason) so only Sekisho can read
    /// it, bound to its purpose and to `account` (whose policies it describes), so no other
    /// sealed value opens as one and another account's message does not open.
    pub fn seal_message(&self, account: &str, json: &str) -> Result<String, AtRestError> {
        self.seal(
            &format!("{MESSAGE_OWNER}/{account}"),
            &SecretString::new(json.to_owned()),
        )
    }

    /// Opens a message sealed by [`AtRestKey::seal_message`] for `account`; `None` if it is
    /// not one, or is another account's.
    #[must_use]
    pub fn open_message(&self, account: &str, sealed: &str) -> Option<String> {
        self.open(&format!("{MESSAGE_OWNER}/{account}"), sealed)
            .ok()
            .map(|s| s.expose().to_owned())
    }
}

/// The associated data of sealed authorization messages.
const MESSAGE_OWNER: &str = "sekisho-authorization-message";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = AtRestKey::ephemeral();
        let s = SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let sealed = k.seal("AKIA1", &s).unwrap();
        assert!(!sealed.contains("wJalr"));
        assert_eq!(k.open("AKIA1", &sealed).unwrap().expose(), s.expose());
        assert!(k.open("AKIA2", &sealed).is_err(), "bound to its owner");
        assert!(
            AtRestKey::ephemeral().open("AKIA1", &sealed).is_err(),
            "other key"
        );
        let mut raw = STANDARD.decode(&sealed).unwrap();
        raw[30] ^= 1;
        assert!(k.open("AKIA1", &STANDARD.encode(raw)).is_err(), "tampered");
    }

    #[test]
    fn messages_round_trip_for_their_account_only_and_are_not_secrets() {
        let k = AtRestKey::ephemeral();
        let sealed = k.seal_message("111", r#"{"allowed":false}"#).unwrap();
        assert_eq!(
            k.open_message("111", &sealed).unwrap(),
            r#"{"allowed":false}"#
        );
        assert!(
            k.open_message("222", &sealed).is_none(),
            "another account's"
        );
        assert!(k.open_message("111", "garbage").is_none());
        let secret = k.seal("AKIA1", &SecretString::from("s")).unwrap();
        assert!(
            k.open_message("111", &secret).is_none(),
            "a key's secret is no message"
        );
    }

    #[test]
    fn file_is_created_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/store.key");
        let k1 = AtRestKey::load_or_create(&p).unwrap();
        let sealed = k1.seal("x", &SecretString::from("s")).unwrap();
        let k2 = AtRestKey::load_or_create(&p).unwrap();
        assert_eq!(k2.open("x", &sealed).unwrap().expose(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
