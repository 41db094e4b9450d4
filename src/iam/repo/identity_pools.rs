//! Identity pools: the [`Kind`] of `ip/{acct}/{pool id}` records (the name is the pool id,
//! `region:uuid`), found without an account by `ipid/{pool id}` (the unsigned calls name only
//! the pool); and pool identities, `ci/{identity id}`, written once and never changed.

use std::sync::Arc;

use super::kind::{Kind, NameRules};
use super::{Error, Iam, keys, to_json};
use crate::cognito::model::{Identity, IdentityPool};
use crate::store::{Batch, Check};

impl Kind for IdentityPool {
    const WORD: &'static str = "identitypool";
    const ELEMENT: &'static str = "IdentityPool";
    const PREFIX: &'static str = keys::IDENTITY_POOL;
    const NAME: NameRules = NameRules {
        param: "IdentityPoolId",
        create_max: 55,
        max: 55,
    };

    fn account(&self) -> &str {
        &self.account
    }
    fn name(&self) -> &str {
        &self.id
    }
    fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.id);
    }
    fn path(&self) -> &str {
        "/"
    }
    fn set_path(&mut self, _: &str) {}
    /// A pool's ARN is not an IAM ARN; it is derived when answered
    /// (`cognito::pool_arn`), so nothing is stored.
    fn set_arn(&mut self, _: String) {}

    fn id_key(&self) -> Option<String> {
        Some(keys::identity_pool_id(&self.id))
    }
}

impl Iam {
    /// An identity pool by id, whatever its account (the unsigned calls).
    pub async fn identity_pool(&self, id: &str) -> Result<Option<Arc<IdentityPool>>, Error> {
        Ok(self
            .by_index::<IdentityPool>(&keys::identity_pool_id(id))
            .await?
            .filter(|p| p.id == id))
    }

    /// A pool identity by id.
    pub async fn pool_identity(&self, id: &str) -> Result<Option<Identity>, Error> {
        self.get_json(&keys::pool_identity(id)).await
    }

    /// Records a pool identity, durably, unless one with its id exists; returns the identity
    /// stored under that id (the existing one when there was one).
    pub async fn put_pool_identity(&self, identity: Identity) -> Result<Identity, Error> {
        let key = keys::pool_identity(&identity.id);
        let batch = Batch::new()
            .check(Check::Absent(key.clone()))
            .put(key.clone(), to_json(&identity)?);
        match self.kv.commit(batch).await {
            Ok(()) => Ok(identity),
            Err(crate::store::Error::Conflict(_)) => {
                self.get_json(&key).await?.ok_or(Error::Conflict(key))
            }
            Err(e) => Err(e.into()),
        }
    }
}
