//! SAML providers: the [`Kind`] of `sp/{acct}/{name}` records, and their raw metadata kept
//! apart at `spm/{acct}/{name}` (written in the same batch as the record; read by a one-key
//! scan, which the read cache does not keep, so megabytes of XML never sit in it).

use super::kind::{Kind, NameRules, record_fields, tags_field};
use super::{Error, Iam, keys, to_json};
use crate::iam::model::SamlProvider;
use crate::iam::names::parse_saml_provider_arn;
use crate::store::{Batch, Check};

impl Kind for SamlProvider {
    const WORD: &'static str = "saml-provider";
    const ELEMENT: &'static str = "SAMLProvider";
    const PREFIX: &'static str = keys::SAML_PROVIDER;
    const NAME: NameRules = NameRules {
        param: "SAMLProviderArn",
        create_max: 128,
        max: 128,
    };

    record_fields!(flat);
}

tags_field!(SamlProvider);

impl Iam {
    /// A SAML provider by ARN, shared (the request path; `None` for an ARN of another shape).
    pub async fn saml_provider_by_arn(
        &self,
        arn: &str,
    ) -> Result<Option<std::sync::Arc<SamlProvider>>, Error> {
        let Some((account, name)) = parse_saml_provider_arn(arn) else {
            return Ok(None);
        };
        Ok(self
            .get_shared_entity::<SamlProvider>(account, name)
            .await?
            .filter(|p| p.arn == arn))
    }

    /// Creates a provider and stores its metadata, in one batch; [`Error::AlreadyExists`] when
    /// the name is taken.
    pub async fn create_saml_provider(
        &self,
        p: SamlProvider,
        metadata: &str,
    ) -> Result<SamlProvider, Error> {
        let meta = (
            keys::saml_metadata(&p.account, &p.name),
            to_json(&metadata)?,
        );
        let mut p = p;
        p.arn = crate::iam::names::entity_arn(
            &self.partition,
            &p.account,
            SamlProvider::WORD,
            "/",
            &p.name,
        );
        let key = keys::entity(SamlProvider::PREFIX, &p.account, &p.name);
        let exists = || Error::AlreadyExists {
            kind: SamlProvider::WORD,
            name: p.name.clone(),
        };
        self.insert_new(&key, &p, Some(meta), exists).await?;
        Ok(p)
    }

    /// Read-modify-write of a provider, replacing its metadata too when `metadata` is given.
    pub async fn update_saml_provider<F>(
        &self,
        account: &str,
        name: &str,
        metadata: Option<&str>,
        mut f: F,
    ) -> Result<SamlProvider, Error>
    where
        F: FnMut(&mut SamlProvider) -> Result<(), Error>,
    {
        let meta = match metadata {
            Some(m) => Some(to_json(&m)?),
            None => None,
        };
        self.update(account, name, |p: &mut SamlProvider, batch: &mut Batch| {
            f(p)?;
            if let Some(m) = &meta {
                batch
                    .puts
                    .push((keys::saml_metadata(account, name), m.clone()));
            }
            Ok(())
        })
        .await
    }

    /// A provider's metadata document as stored (`None` if there is none).
    pub async fn saml_metadata(&self, account: &str, name: &str) -> Result<Option<String>, Error> {
        let key = keys::saml_metadata(account, name);
        let found = self.kv.scan(&key, None, 1).await?;
        match found.into_iter().next() {
            Some((k, raw)) if k == key => Ok(Some(super::decode(&key, &raw)?)),
            _ => Ok(None),
        }
    }

    /// Deletes a provider and its metadata.
    pub async fn delete_saml_provider(
        &self,
        account: &str,
        name: &str,
    ) -> Result<SamlProvider, Error> {
        let key = keys::entity(SamlProvider::PREFIX, account, name);
        let raw = self
            .kv
            .get(&key)
            .await?
            .ok_or_else(|| Error::not_found(SamlProvider::WORD, name))?;
        let p: SamlProvider = super::decode(&key, &raw)?;
        let batch = Batch::new()
            .check(Check::Equals(key.clone(), raw))
            .delete(key)
            .delete(keys::saml_metadata(account, name));
        self.kv.commit(batch).await?;
        Ok(p)
    }
}
