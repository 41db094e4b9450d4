//! Identity pool and identity ids (`region:uuid`), pure.
//!
//! An authenticated identity's id is derived, not drawn: HMAC-SHA256 keyed with the pool's
//! secret salt over (pool id, provider key, subject), as a version-8 UUID. So the same login
//! always gets the same id in a pool (every node computes it; two concurrent first logins
//! cannot create two identities), ids of one subject in two pools cannot be linked, and an id
//! reveals nothing of the subject. Guests get random (version-4) ids.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{ApiError, Code};

/// Longest pool or identity id (the model's 55).
pub const MAX_ID_LEN: usize = 55;

/// A new pool id in `region`.
#[must_use]
pub fn new_pool_id(region: &str) -> String {
    format!("{region}:{}", uuid::Uuid::new_v4())
}

/// A deterministic pool id for a pool the bootstrap file declares by name only.
#[must_use]
pub fn declared_pool_id(region: &str, account: &str, name: &str) -> String {
    use sha2::Digest;
    let h = Sha256::digest(format!("sekisho/identity-pool\0{account}\0{name}").as_bytes());
    let mut b = [0_u8; 16];
    b.copy_from_slice(h.get(..16).unwrap_or(&[0; 16]));
    format!(
        "{region}:{}",
        uuid::Builder::from_custom_bytes(b).into_uuid()
    )
}

/// A new guest identity id in the pool's region.
#[must_use]
pub fn guest_identity_id(pool_id: &str) -> String {
    format!("{}:{}", region_of(pool_id), uuid::Uuid::new_v4())
}

/// The identity id of (`provider`, `subject`) in the pool `pool_id` whose salt is `salt`.
#[must_use]
pub fn login_identity_id(pool_id: &str, salt: &[u8], provider: &str, subject: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in ["sekisho/identity", pool_id, provider, subject] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    let tag = mac.finalize().into_bytes();
    let mut b = [0_u8; 16];
    b.copy_from_slice(tag.get(..16).unwrap_or(&[0; 16]));
    format!(
        "{}:{}",
        region_of(pool_id),
        uuid::Builder::from_custom_bytes(b).into_uuid()
    )
}

/// The region part of an id (`us-east-1` of `us-east-1:…`).
#[must_use]
pub fn region_of(id: &str) -> &str {
    id.split_once(':').map_or("", |(r, _)| r)
}

/// A fresh pool salt (32 random bytes, hex).
#[must_use]
pub fn new_salt() -> String {
    let mut b = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

/// Checks an id parameter: `[\w-]+:[0-9a-f-]+`, 1 to 55 characters (the model's pattern).
///
/// # Errors
/// `InvalidParameterException` naming the parameter.
pub fn check_id(param: &str, id: &str) -> Result<(), ApiError> {
    crate::wire::params::check_len(param, id, 1, MAX_ID_LEN)?;
    let ok = id.split_once(':').is_some_and(|(region, rest)| {
        !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::ValidationError,
            format!(
                "1 validation error detected: Value '{id}' at '{}' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+",
                crate::wire::params::lower_camel(param)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    const POOL: &str = "us-east-1:11111111-2222-3333-4444-555555555555";

    #[test]
    fn login_ids_are_stable_per_pool_and_login_and_unlinkable_across_pools() {
        let a = login_identity_id(POOL, b"salt-one", "idp.example.com", "alice");
        assert_eq!(
            a,
            login_identity_id(POOL, b"salt-one", "idp.example.com", "alice")
        );
        assert!(a.starts_with("us-east-1:"));
        check_id("IdentityId", &a).unwrap();
        assert_ne!(
            a,
            login_identity_id(POOL, b"salt-one", "idp.example.com", "bob")
        );
        assert_ne!(
            a,
            login_identity_id(POOL, b"salt-one", "other.example.com", "alice")
        );
        assert_ne!(
            a,
            login_identity_id(POOL, b"salt-two", "idp.example.com", "alice")
        );
        // Length-prefixed parts: moving a character between provider and subject changes it.
        assert_ne!(
            login_identity_id(POOL, b"s", "ab", "c"),
            login_identity_id(POOL, b"s", "a", "bc")
        );
        let uuid = uuid::Uuid::parse_str(a.split_once(':').unwrap().1).unwrap();
        assert_eq!(uuid.get_version_num(), 8);
    }

    #[test]
    fn guest_and_pool_ids_have_the_region_and_the_shape() {
        let g = guest_identity_id(POOL);
        assert!(g.starts_with("us-east-1:"));
        assert_ne!(g, guest_identity_id(POOL));
        check_id("IdentityId", &g).unwrap();
        check_id("IdentityPoolId", &new_pool_id("eu-west-3")).unwrap();
        let d = declared_pool_id("us-east-1", "111111111111", "app");
        assert_eq!(d, declared_pool_id("us-east-1", "111111111111", "app"));
        assert_ne!(d, declared_pool_id("us-east-1", "111111111111", "app2"));
        check_id("IdentityPoolId", &d).unwrap();
        assert_eq!(region_of(POOL), "us-east-1");
        for bad in [
            "",
            "nocolon",
            ":abc",
            "us-east-1:",
            "us-east-1:XYZ",
            "us east:ab",
        ] {
            assert!(check_id("IdentityId", bad).is_err(), "{bad}");
        }
        assert!(check_id("IdentityId", &format!("us-east-1:{}", "a".repeat(50))).is_err());
        assert_eq!(new_salt().len(), 64);
    }
}
