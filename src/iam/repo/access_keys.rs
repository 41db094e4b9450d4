//! Access keys of users and of the account root: the `k/{AKIA…}` record (secret sealed at
//! rest, bound to the key id), the `uk/{acct}/{owner}/{AKIA…}` index (at most
//! [`MAX_ACCESS_KEYS`] per owner) and the `lu/{AKIA…}` last-use record.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Error, Iam, Limit, MAX_ACCESS_KEYS, decode, keys, to_json};
use crate::iam::model::{AccessKey, KeyStatus, LastUsed, User};
use crate::iam::repo::kind::Kind;
use crate::secret::SecretString;
use crate::store::{Batch, Check};

/// An access key with its secret opened (hot path of every long-term-key request).
pub struct KeyWithSecret {
    /// The key record.
    pub key: AccessKey,
    /// The secret access key, decrypted.
    pub secret: SecretString,
}

/// Whether `key` belongs to `user` of `account` (`None`: the root), names compared as AWS does.
fn owned_by(key: &AccessKey, account: &str, user: Option<&str>) -> bool {
    key.account == account
        && key.user.as_deref().map(str::to_lowercase) == user.map(str::to_lowercase)
}

impl Iam {
    /// Creates an access key for a user (or the root when `user` is `None`). `given` imports a
    /// known key pair (bootstrap); otherwise one is generated. Returns the key and its secret,
    /// which is never readable through the API again.
    pub async fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        given: Option<(String, SecretString)>,
        now: DateTime<Utc>,
    ) -> Result<(AccessKey, SecretString), Error> {
        let user_id = match user {
            Some(u) => Some(self.user_required(account, u).await?.id),
            None => None,
        };
        let existing = self
            .kv
            .scan(&keys::user_keys(account, user), None, 10)
            .await?;
        if existing.len() >= MAX_ACCESS_KEYS {
            return Err(Error::LimitExceeded(Limit::AccessKeysPerUser(
                MAX_ACCESS_KEYS,
            )));
        }
        let (id, secret) = match given {
            Some(pair) => pair,
            None => (
                crate::ids::new_access_key_id("AKIA", account),
                crate::ids::new_secret_access_key(),
            ),
        };
        let key = AccessKey {
            id: id.clone(),
            account: account.to_owned(),
            user: user.map(str::to_owned),
            user_id,
            secret_sealed: self.at_rest.seal(&id, &secret)?,
            status: KeyStatus::Active,
            create_date: now,
        };
        let kkey = keys::access_key(&id);
        let mut batch = Batch::new()
            .check(Check::Absent(kkey.clone()))
            .put(kkey.clone(), to_json(&key)?)
            .put(keys::user_key(account, user, &id), keys::MARK.to_vec());
        // The user must still exist when the key lands.
        if let Some(u) = user {
            batch = batch.check(Check::Present(keys::entity(User::PREFIX, account, u)));
        }
        match self.kv.commit(batch).await {
            Ok(()) => Ok((key, secret)),
            Err(crate::store::Error::Conflict(k)) if k == kkey => {
                Err(Error::AccessKeyExists { id })
            }
            Err(crate::store::Error::Conflict(_)) => {
                Err(Error::not_found(User::WORD, user.unwrap_or("root")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An access key and its secret, decoded and opened once per stored version.
    pub async fn access_key(&self, id: &str) -> Result<Option<Arc<KeyWithSecret>>, Error> {
        let key = keys::Key::access_key(id);
        self.get_decoded(&key, |b| {
            let k: AccessKey = decode(&key, b)?;
            let secret = self.at_rest.open(&k.id, &k.secret_sealed)?;
            Ok(KeyWithSecret { key: k, secret })
        })
        .await
    }

    /// The access keys of a user (or root).
    pub async fn access_keys_of(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, Error> {
        let rows = self
            .kv
            .scan(&keys::user_keys(account, user), None, 100)
            .await?;
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|(k, _)| keys::indexed_key_id(k).map(keys::access_key))
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for (k, v) in ids.iter().zip(self.kv.get_many(&ids).await?) {
            if let Some(v) = v {
                out.push(decode(k, &v)?);
            }
        }
        Ok(out)
    }

    /// Sets a key's status; [`Error::AccessKeyNotFound`] unless it belongs to the owner.
    pub async fn set_access_key_status(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
        status: KeyStatus,
    ) -> Result<(), Error> {
        let not_found = || Error::AccessKeyNotFound { id: id.to_owned() };
        self.update_at(&keys::access_key(id), not_found, |k: &mut AccessKey, _| {
            if !owned_by(k, account, user) {
                return Err(not_found());
            }
            k.status = status;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Deletes a key with its index entry and last-use record.
    pub async fn delete_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
    ) -> Result<(), Error> {
        let not_found = || Error::AccessKeyNotFound { id: id.to_owned() };
        let kkey = keys::access_key(id);
        let raw = self.kv.get(&kkey).await?.ok_or_else(not_found)?;
        let k: AccessKey = decode(&kkey, &raw)?;
        if !owned_by(&k, account, user) {
            return Err(not_found());
        }
        self.kv
            .commit(
                Batch::new()
                    .check(Check::Equals(kkey.clone(), raw))
                    .delete(kkey)
                    .delete(keys::user_key(account, user, id))
                    .delete(keys::last_used(id)),
            )
            .await?;
        Ok(())
    }

    /// Last-used data of a key.
    pub async fn key_last_used(&self, id: &str) -> Result<Option<LastUsed>, Error> {
        self.get_json(&keys::last_used(id)).await
    }

    /// Records a key's last use. Called off the response path and at most once a minute per key
    /// (see `crate::authn`), so it costs the hot path nothing.
    pub async fn record_key_use(&self, id: &str, used: &LastUsed) -> Result<(), Error> {
        self.kv
            .commit(Batch::new().put(keys::last_used(id), to_json(used)?))
            .await?;
        Ok(())
    }
}
