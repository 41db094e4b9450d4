//! Accounts (`a/{acct}`): created by the bootstrap file, never deleted.

use chrono::{DateTime, Utc};

use super::{Error, Iam, keys, to_json};
use crate::iam::model::Account;
use crate::store::{Batch, Check};

impl Iam {
    /// An account.
    pub async fn account(&self, id: &str) -> Result<Option<Account>, Error> {
        self.get_json(&keys::account(id)).await
    }

    /// Creates the account if absent, or sets its alias.
    pub async fn ensure_account(
        &self,
        id: &str,
        alias: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Account, Error> {
        let key = keys::account(id);
        if self.account(id).await?.is_none() {
            let a = Account {
                id: id.to_owned(),
                alias: alias.map(str::to_owned),
                create_date: now,
            };
            let create = Batch::new()
                .check(Check::Absent(key.clone()))
                .put(&key, to_json(&a)?);
            match self.kv.commit(create).await {
                // Created, or created meanwhile by another node: either way it exists now.
                Ok(()) | Err(crate::store::Error::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let missing = || Error::not_found("account", id);
        self.update_at(&key, missing, |a: &mut Account, _| {
            if let Some(al) = alias {
                a.alias = Some(al.to_owned());
            }
            Ok(())
        })
        .await
    }
}
