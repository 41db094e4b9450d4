//! Managed policies: customer policies (`p/{acct}/{name}`) and their versions, read beside the
//! AWS managed policies (loaded read-only, never stored). Attachments are in `attachments.rs`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Dependants, Error, Iam, Limit, MAX_POLICY_VERSIONS, Page, decode, keys};
use crate::iam::model::{ManagedPolicy, PolicyVersion};
use crate::iam::names::{entity_arn, parse_entity_arn};
use crate::policy::PolicyKind;
use crate::store::{Batch, Check};

/// The ARN word of managed policies.
const WORD: &str = "policy";

/// The account of AWS managed policies.
pub(crate) const AWS_ACCOUNT: &str = "aws";

impl Iam {
    /// A managed policy (customer or AWS) by ARN.
    pub async fn managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>, Error> {
        if let Some(p) = self.aws_managed.get(arn) {
            return Ok(Some(p.clone()));
        }
        Ok(self
            .customer_policy_shared(arn)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    /// A customer managed policy by ARN, shared (the request path: policies attached to the
    /// caller). `None` for AWS managed policies and for ARNs whose path does not match.
    pub async fn customer_policy_shared(
        &self,
        arn: &str,
    ) -> Result<Option<Arc<ManagedPolicy>>, Error> {
        let Some((account, path, name)) = parse_entity_arn(arn, WORD) else {
            return Ok(None);
        };
        Ok(self
            .get_shared::<ManagedPolicy>(&keys::policy(account, name))
            .await?
            .filter(|p| p.path == path && p.arn == arn))
    }

    /// A customer managed policy by account and name.
    pub async fn customer_policy_named(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<ManagedPolicy>, Error> {
        self.get_json(&keys::policy(account, name)).await
    }

    /// A page of an account's customer managed policies that satisfy `keep`, by name. The
    /// marker is [`super::encode_marker`] of [`Iam::policy_position`].
    pub async fn list_policies(
        &self,
        account: &str,
        marker: Option<&str>,
        max_items: usize,
        keep: impl Fn(&ManagedPolicy) -> bool,
    ) -> Result<Page<ManagedPolicy>, Error> {
        self.list_where(
            &keys::entities(keys::POLICY, account),
            marker,
            max_items,
            keep,
        )
        .await
    }

    /// Every customer managed policy of an account (O(n): summaries and reports).
    pub async fn customer_policies(&self, account: &str) -> Result<Vec<ManagedPolicy>, Error> {
        self.list_all(&keys::entities(keys::POLICY, account)).await
    }

    /// The position of a customer policy in [`Iam::list_policies`] (for markers that combine
    /// AWS and customer policies).
    #[must_use]
    pub fn policy_position(account: &str, name: &str) -> String {
        keys::policy(account, name)
    }

    /// Creates a customer managed policy (every version's document is validated here).
    pub async fn create_policy(&self, mut p: ManagedPolicy) -> Result<ManagedPolicy, Error> {
        for v in &p.versions {
            self.policies
                .get_or_parse(&v.document, PolicyKind::Managed)
                .map_err(Error::Invalid)?;
        }
        let key = keys::policy(&p.account, &p.name);
        p.arn = entity_arn(&self.partition, &p.account, WORD, &p.path, &p.name);
        let exists = || Error::PolicyExists {
            name: p.name.clone(),
        };
        self.insert_new(&key, &p, None, exists).await?;
        Ok(p)
    }

    /// Read-modify-write of a customer managed policy by account and name.
    pub async fn update_policy<F>(
        &self,
        account: &str,
        name: &str,
        f: F,
    ) -> Result<ManagedPolicy, Error>
    where
        F: FnMut(&mut ManagedPolicy, &mut Batch) -> Result<(), Error>,
    {
        let key = keys::policy(account, name);
        let missing = || Error::not_found(WORD, name);
        self.update_at(&key, missing, f).await
    }

    /// A customer managed policy by ARN with its store key, or
    /// [`Error::PolicyNotAttachable`].
    async fn customer_policy(&self, arn: &str) -> Result<(String, ManagedPolicy), Error> {
        let p = self
            .managed_policy(arn)
            .await?
            .filter(|p| p.account != AWS_ACCOUNT)
            .ok_or_else(|| Error::PolicyNotAttachable {
                arn: arn.to_owned(),
            })?;
        Ok((keys::policy(&p.account, &p.name), p))
    }

    /// Adds a version (at most [`MAX_POLICY_VERSIONS`]), optionally making it the default.
    pub async fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_default: bool,
        now: DateTime<Utc>,
    ) -> Result<PolicyVersion, Error> {
        self.policies
            .get_or_parse(document, PolicyKind::Managed)
            .map_err(Error::Invalid)?;
        let (key, _) = self.customer_policy(arn).await?;
        let missing = || Error::PolicyNotAttachable {
            arn: arn.to_owned(),
        };
        let p = self
            .update_at(&key, missing, |p: &mut ManagedPolicy, _| {
                if p.versions.len() >= MAX_POLICY_VERSIONS {
                    return Err(Error::LimitExceeded(Limit::PolicyVersions(
                        MAX_POLICY_VERSIONS,
                    )));
                }
                let v = PolicyVersion {
                    version_id: format!("v{}", p.next_version),
                    document: document.to_owned(),
                    create_date: now,
                };
                p.next_version += 1;
                if set_default {
                    p.default_version_id.clone_from(&v.version_id);
                }
                p.update_date = now;
                p.versions.push(v);
                Ok(())
            })
            .await?;
        // INVARIANT: the update pushed a version and returned the policy it wrote.
        p.versions
            .last()
            .cloned()
            .ok_or_else(|| Error::PolicyNotFound {
                arn: arn.to_owned(),
            })
    }

    /// Makes a version the default.
    pub async fn set_default_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let (key, _) = self.customer_policy(arn).await?;
        let missing = || Error::PolicyNotAttachable {
            arn: arn.to_owned(),
        };
        self.update_at(&key, missing, |p: &mut ManagedPolicy, _| {
            if !p.versions.iter().any(|v| v.version_id == version_id) {
                return Err(Error::VersionNotFound {
                    arn: arn.to_owned(),
                    version: version_id.to_owned(),
                    deleting: false,
                });
            }
            version_id.clone_into(&mut p.default_version_id);
            p.update_date = now;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Deletes a non-default version.
    pub async fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<(), Error> {
        let (key, _) = self.customer_policy(arn).await?;
        let missing = || Error::PolicyNotAttachable {
            arn: arn.to_owned(),
        };
        self.update_at(&key, missing, |p: &mut ManagedPolicy, _| {
            if p.default_version_id == version_id {
                return Err(Error::DeleteConflict(Dependants::DefaultVersion));
            }
            let before = p.versions.len();
            p.versions.retain(|v| v.version_id != version_id);
            if p.versions.len() == before {
                return Err(Error::VersionNotFound {
                    arn: arn.to_owned(),
                    version: version_id.to_owned(),
                    deleting: true,
                });
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Deletes a customer managed policy: refused while attached or while it has versions other
    /// than the default (AWS: delete those first).
    pub async fn delete_policy(&self, arn: &str) -> Result<ManagedPolicy, Error> {
        let (key, _) = self.customer_policy(arn).await?;
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| Error::PolicyNotFound {
                arn: arn.to_owned(),
            })?;
        let p: ManagedPolicy = decode(&key, &raw)?;
        if self.any_under(&keys::attachments(arn)).await? {
            return Err(Error::DeleteConflict(Dependants::PolicyAttachments));
        }
        if p.versions.len() > 1 {
            return Err(Error::DeleteConflict(Dependants::PolicyVersions));
        }
        self.kv
            .commit(
                Batch::new()
                    .check(Check::Equals(key.clone(), raw))
                    .delete(key),
            )
            .await?;
        Ok(p)
    }
}
