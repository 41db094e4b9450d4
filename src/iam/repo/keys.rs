//! Every store key of the IAM repository, and nothing else: the one place that spells them.
//!
//! Keys are `/`-separated; entity names are lowercased, so names are unique case-insensitively
//! while the records keep their case. The layout is persistent (stores written by earlier
//! versions must keep working), so a function here may be added but never changed:
//!
//! | key | value |
//! |---|---|
//! | `a/{acct}` | account |
//! | `u/{acct}/{name}` | user ; `uid/{AIDA…}` → the user's key |
//! | `g/{acct}/{name}` | group ; `gm/{acct}/{group}/{user}` → `""` (membership index) |
//! | `r/{acct}/{name}` | role ; `rid/{AROA…}` → the role's key |
//! | `p/{acct}/{name}` | customer managed policy ; `pa/{policy arn}/{entity key}` → `""` |
//! | `op/{acct}/{host/path}` | OpenID Connect provider (name = URL without scheme) |
//! | `sp/{acct}/{name}` | SAML provider (entity id, certificates) ; `spm/{acct}/{name}` its raw metadata |
//! | `sr/{sha256(issuer, assertion id)}` | a SAML assertion id seen (replay mark, `Kv::put_mark`) |
//! | `k/{AKIA…}` | access key ; `uk/{acct}/{user or #root}/{AKIA…}` → `""` ; `lu/{AKIA…}` last use |
//! | `ip/{acct}/{pool id}` | identity pool ; `ipid/{pool id}` → the pool's key |
//! | `ci/{identity id}` | a pool identity (guest, or one login's) |
//! | `mfa/{acct}/{name}` | virtual MFA device ; `mfas/{acct}/{name}` its state (last step, drift, failures) ; `mfao/{acct}/{user id or acct}/{name}` → `""` (devices enabled per owner) |
//!
//! Revocation cut-offs (`rv/…`) belong to `crate::revocation`, not to this repository.

use crate::wire::inline_text::InlineText;

/// Key prefix of users.
pub const USER: &str = "u";
/// Key prefix of groups.
pub const GROUP: &str = "g";
/// Key prefix of roles.
pub const ROLE: &str = "r";
/// Key prefix of customer managed policies.
pub const POLICY: &str = "p";
/// Key prefix of OpenID Connect providers.
pub const OIDC_PROVIDER: &str = "op";

/// Key prefix of identity pools.
pub const IDENTITY_POOL: &str = "ip";
/// Key prefix of SAML providers.
pub const SAML_PROVIDER: &str = "sp";

/// Key prefix of virtual MFA devices.
pub const MFA_DEVICE: &str = "mfa";

/// The value of index entries that carry nothing but their key (`gm/…`, `pa/…`, `uk/…`).
pub const MARK: &[u8] = b"\"\"";

/// The owner segment of the access-key index of the account root.
const ROOT_OWNER: &str = "#root";

/// `parts` joined, in a string sized for them (keys are built on every request; `format!`
/// costs several times as much).
#[must_use]
pub fn join(parts: &[&str]) -> String {
    join_with_room(parts, 0)
}

/// [`join`], with room for `extra` more bytes.
fn join_with_room(parts: &[&str], extra: usize) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + extra);
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Appends `name` in lower case (`str::to_lowercase`'s result; names are ASCII in practice).
fn push_lower(out: &mut String, name: &str) {
    if name.is_ascii() {
        // Copied whole, then lowered in place (not a `char` pushed per byte).
        let start = out.len();
        out.push_str(name);
        if let Some(added) = out.get_mut(start..) {
            added.make_ascii_lowercase();
        }
    } else {
        out.push_str(&name.to_lowercase());
    }
}

/// The longest key [`Key`] holds inline: every key the request path reads fits (`u/`, `r/`
/// and a 12-digit account with a 64-character name is 80 bytes; `k/`, `uid/`, `rid/` with an
/// id about 25).
const KEY_INLINE: usize = 96;

/// A store key built for a read, held inline when it fits (a longer one, or one whose name
/// lowercases outside ASCII, is a `String`): the reads of every request (its access key, its
/// user or role) hit each thread's copies in `iam::memo`, which look the key up by `&str`, so
/// building it as a `String` was an allocation for nothing. Spelled exactly as the `String`
/// builders here spell it (tested).
pub struct Key(InlineText<KEY_INLINE>);

impl Key {
    /// `parts` joined, then `lower` appended in lower case. The bytes are copied in as they
    /// are (whole `&str`s, and ASCII lowered in place, are UTF-8): the text is checked once,
    /// where it is read ([`Self::as_str`]), not once per piece.
    fn build(parts: &[&str], lower: &str) -> Self {
        let inline = InlineText::inline_with(|buf| {
            if !lower.is_ascii() {
                return None;
            }
            let mut len = 0;
            for p in parts.iter().chain([&lower]) {
                let end = len + p.len();
                buf.get_mut(len..end)?.copy_from_slice(p.as_bytes());
                len = end;
            }
            buf.get_mut(len - lower.len()..len)?.make_ascii_lowercase();
            Some(len)
        });
        Self(inline.unwrap_or_else(|| {
            let mut out = join_with_room(parts, lower.len());
            push_lower(&mut out, lower);
            out.into()
        }))
    }

    /// [`entity`]'s key.
    #[must_use]
    pub fn entity(prefix: &str, account: &str, name: &str) -> Self {
        Self::build(&[prefix, "/", account, "/"], name)
    }

    /// [`access_key`]'s key.
    #[must_use]
    pub fn access_key(id: &str) -> Self {
        Self::build(&["k/", id], "")
    }

    /// [`user_id`]'s key.
    #[must_use]
    pub fn user_id(id: &str) -> Self {
        Self::build(&["uid/", id], "")
    }

    /// [`role_id`]'s key.
    #[must_use]
    pub fn role_id(id: &str) -> Self {
        Self::build(&["rid/", id], "")
    }

    /// The key's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Key {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// `a/{acct}`: an account.
#[must_use]
pub fn account(id: &str) -> String {
    join(&["a/", id])
}

/// `a/ready-probe`: read (never written) by `/readyz` to see that the store answers.
#[must_use]
pub fn ready_probe() -> &'static str {
    "a/ready-probe"
}

/// `{prefix}/{acct}/{name}`: an entity of the kind whose key prefix is `prefix`.
#[must_use]
pub fn entity(prefix: &str, account: &str, name: &str) -> String {
    let mut k = join_with_room(&[prefix, "/", account, "/"], name.len());
    push_lower(&mut k, name);
    k
}

/// `{prefix}/{acct}/`: every entity of a kind in an account (listings).
#[must_use]
pub fn entities(prefix: &str, account: &str) -> String {
    join(&[prefix, "/", account, "/"])
}

/// The lowercase name at the end of an entity key under `entities(prefix, account)`.
#[must_use]
pub fn entity_name<'a>(key: &'a str, prefix: &str, account: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?
        .strip_prefix('/')?
        .strip_prefix(account)?
        .strip_prefix('/')
}

/// `ipid/{pool id}`: an identity pool's id → the pool's key.
#[must_use]
pub fn identity_pool_id(id: &str) -> String {
    format!("ipid/{id}")
}

/// `ci/{identity id}`: a pool identity.
#[must_use]
pub fn pool_identity(id: &str) -> String {
    format!("ci/{id}")
}

/// `uid/{AIDA…}`: a user's unique id → the user's key.
#[must_use]
pub fn user_id(id: &str) -> String {
    join(&["uid/", id])
}

/// `rid/{AROA…}`: a role's unique id → the role's key.
#[must_use]
pub fn role_id(id: &str) -> String {
    join(&["rid/", id])
}

/// `gm/{acct}/{group}/{user}`: a membership.
#[must_use]
pub fn membership(account: &str, group: &str, user: &str) -> String {
    format!(
        "gm/{account}/{}/{}",
        group.to_lowercase(),
        user.to_lowercase()
    )
}

/// `gm/{acct}/{group}/`: the members of a group.
#[must_use]
pub fn members(account: &str, group: &str) -> String {
    format!("gm/{account}/{}/", group.to_lowercase())
}

/// The lowercase user name at the end of a membership key.
#[must_use]
pub fn member_name(key: &str) -> Option<&str> {
    key.rsplit('/').next()
}

/// `p/{acct}/{name}`: a customer managed policy.
#[must_use]
pub fn policy(account: &str, name: &str) -> String {
    entity(POLICY, account, name)
}

/// `pa/{policy arn}/{entity key}`: an attachment of a managed policy to a user, group or role.
#[must_use]
pub fn attachment(policy_arn: &str, entity_key: &str) -> String {
    format!("pa/{policy_arn}/{entity_key}")
}

/// `pa/{policy arn}/`: every attachment of a managed policy.
#[must_use]
pub fn attachments(policy_arn: &str) -> String {
    format!("pa/{policy_arn}/")
}

/// `pa/{policy arn}/{prefix}/{acct}/`: the attachments of a policy to one kind in one account.
#[must_use]
pub fn attachments_in(policy_arn: &str, prefix: &str, account: &str) -> String {
    format!("pa/{policy_arn}/{prefix}/{account}/")
}

/// `k/{AKIA…}`: an access key.
#[must_use]
pub fn access_key(id: &str) -> String {
    join(&["k/", id])
}

/// The owner segment of the access-key index: the lowercase user name, or `#root`.
#[must_use]
pub fn key_owner(user: Option<&str>) -> String {
    user.map_or_else(|| ROOT_OWNER.to_owned(), str::to_lowercase)
}

/// `uk/{acct}/{owner}/{AKIA…}`: the index of a user's (or the root's) keys.
#[must_use]
pub fn user_key(account: &str, user: Option<&str>, id: &str) -> String {
    format!("uk/{account}/{}/{id}", key_owner(user))
}

/// `uk/{acct}/{owner}/`: every key of a user (or of the root).
#[must_use]
pub fn user_keys(account: &str, user: Option<&str>) -> String {
    format!("uk/{account}/{}/", key_owner(user))
}

/// The access key id at the end of a `uk/…` index key.
#[must_use]
pub fn indexed_key_id(key: &str) -> Option<&str> {
    key.rsplit('/').next()
}

/// `lu/{AKIA…}`: when and where an access key was last used.
#[must_use]
pub fn last_used(id: &str) -> String {
    join(&["lu/", id])
}

/// `spm/{acct}/{name}`: a SAML provider's metadata document as given (read only by
/// `GetSAMLProvider`, by a one-key scan so that it never enters the read cache).
#[must_use]
pub fn saml_metadata(account: &str, name: &str) -> String {
    format!("spm/{account}/{}", name.to_lowercase())
}

/// `sr/{hex sha256(issuer NUL id)}`: the replay mark of a SAML assertion id from an issuer
/// (hashed: both are attacker-chosen text of unbounded shape).
#[must_use]
pub fn saml_replay(issuer: &str, assertion_id: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(issuer.as_bytes());
    h.update([0u8]);
    h.update(assertion_id.as_bytes());
    format!("sr/{}", hex::encode(h.finalize()))
}

/// `mfas/{acct}/{name}`: an enabled MFA device's state (`mfa::guard::DeviceState`).
#[must_use]
pub fn mfa_state(account: &str, name: &str) -> String {
    format!("mfas/{account}/{}", name.to_lowercase())
}

/// `mfao/{acct}/{owner}/{name}`: an MFA device enabled for an owner (a user's unique id, or the
/// account id for the root; ids do not change when a user is renamed).
#[must_use]
pub fn mfa_owner_device(account: &str, owner_id: &str, name: &str) -> String {
    format!("mfao/{account}/{owner_id}/{}", name.to_lowercase())
}

/// `mfao/{acct}/{owner}/`: every MFA device enabled for an owner.
#[must_use]
pub fn mfa_owner_devices(account: &str, owner_id: &str) -> String {
    format!("mfao/{account}/{owner_id}/")
}

/// `mfao/{acct}/`: every enabled MFA device of an account.
#[must_use]
pub fn mfa_owners(account: &str) -> String {
    format!("mfao/{account}/")
}

#[cfg(test)]
mod tests {
    use sha2::Digest;

    use super::*;

    #[test]
    fn read_keys_are_spelled_as_the_string_keys() {
        let long = "N".repeat(KEY_INLINE);
        let names = [
            "Alice",
            "ÄLICE",
            "ΟΔΟΣ",
            "a.b@c=d,e+f_g-h",
            "",
            &long[..64],
            &long[..KEY_INLINE - 15],
            &long[..KEY_INLINE - 14],
            &long,
        ];
        for name in names {
            for prefix in [USER, ROLE, POLICY] {
                let k = Key::entity(prefix, "123456789012", name);
                assert_eq!(&*k, entity(prefix, "123456789012", name), "{name}");
            }
            assert_eq!(&*Key::access_key(name), access_key(name));
            assert_eq!(&*Key::user_id(name), user_id(name));
            assert_eq!(&*Key::role_id(name), role_id(name));
        }
        // Inline up to its bound (a 64-character name fits), on the heap past it.
        let inline = |k: &Key| k.0.is_inline();
        assert!(inline(&Key::entity(USER, "123456789012", &long[..64])));
        assert!(inline(&Key::entity(USER, "1", &long[..KEY_INLINE - 4])));
        assert!(!inline(&Key::entity(USER, "1", &long[..KEY_INLINE - 3])));
        assert!(
            !inline(&Key::entity(USER, "1", "ÄLICE")),
            "non-ASCII names lower as str does"
        );
        assert_eq!(format!("{:?}", Key::access_key("AKIA1")), "\"k/AKIA1\"");
    }

    #[test]
    fn entity_keys_lower_case_as_to_lowercase_does() {
        for name in ["Alice", "ÄLICE", "ΟΔΟΣ", "a.b@c=d,e+f_g-h", ""] {
            assert_eq!(
                entity("u", "123456789012", name),
                format!("u/123456789012/{}", name.to_lowercase())
            );
        }
    }

    /// The layout is persistent: these are the keys existing stores hold.
    #[test]
    fn layout_is_unchanged() {
        assert_eq!(account("1"), "a/1");
        assert_eq!(ready_probe(), "a/ready-probe");
        assert_eq!(entity(USER, "1", "Alice"), "u/1/alice");
        assert_eq!(entity(GROUP, "1", "Ops"), "g/1/ops");
        assert_eq!(entity(ROLE, "1", "R"), "r/1/r");
        assert_eq!(policy("1", "ReadS3"), "p/1/reads3");
        assert_eq!(
            entity(OIDC_PROVIDER, "1", "Idp.Example.com/x"),
            "op/1/idp.example.com/x"
        );
        assert_eq!(entities(USER, "1"), "u/1/");
        assert_eq!(entity_name("u/1/alice", USER, "1"), Some("alice"));
        assert_eq!(entity_name("u/2/alice", USER, "1"), None);
        assert_eq!(user_id("AIDA1"), "uid/AIDA1");
        assert_eq!(role_id("AROA1"), "rid/AROA1");
        assert_eq!(membership("1", "Ops", "Alice"), "gm/1/ops/alice");
        assert_eq!(members("1", "Ops"), "gm/1/ops/");
        assert_eq!(member_name("gm/1/ops/alice"), Some("alice"));
        assert_eq!(
            attachment("arn:aws:iam::1:policy/P", "u/1/alice"),
            "pa/arn:aws:iam::1:policy/P/u/1/alice"
        );
        assert_eq!(attachments("arn:x"), "pa/arn:x/");
        assert_eq!(attachments_in("arn:x", ROLE, "1"), "pa/arn:x/r/1/");
        assert_eq!(access_key("AKIA1"), "k/AKIA1");
        assert_eq!(user_key("1", Some("Alice"), "AKIA1"), "uk/1/alice/AKIA1");
        assert_eq!(user_key("1", None, "AKIA1"), "uk/1/#root/AKIA1");
        assert_eq!(user_keys("1", None), "uk/1/#root/");
        assert_eq!(indexed_key_id("uk/1/alice/AKIA1"), Some("AKIA1"));
        assert_eq!(last_used("AKIA1"), "lu/AKIA1");
        assert_eq!(MARK, b"\"\"");
        assert_eq!(entity(MFA_DEVICE, "1", "Phone"), "mfa/1/phone");
        assert_eq!(mfa_state("1", "Phone"), "mfas/1/phone");
        assert_eq!(
            mfa_owner_device("1", "AIDA1", "Phone"),
            "mfao/1/AIDA1/phone"
        );
        assert_eq!(mfa_owner_devices("1", "1"), "mfao/1/1/");
        assert_eq!(mfa_owners("1"), "mfao/1/");
        assert_eq!(
            entity(IDENTITY_POOL, "1", "us-east-1:ab-cd"),
            "ip/1/us-east-1:ab-cd"
        );
        assert_eq!(identity_pool_id("us-east-1:ab"), "ipid/us-east-1:ab");
        assert_eq!(pool_identity("us-east-1:cd"), "ci/us-east-1:cd");
        assert_eq!(entity(SAML_PROVIDER, "1", "Okta"), "sp/1/okta");
        assert_eq!(saml_metadata("1", "Okta"), "spm/1/okta");
        assert_eq!(
            saml_replay("https://idp", "_a1"),
            format!(
                "sr/{}",
                hex::encode(sha2::Sha256::digest(b"https://idp\0_a1"))
            )
        );
    }
}
