//! OpenID Connect providers: the [`Kind`] of `op/{acct}/{host/path}` records. The name is the
//! issuer URL without its scheme, so the generic ARN (`oidc-provider` + `/` + name) is AWS's
//! `arn:aws:iam::A:oidc-provider/host/path`.

use super::kind::{Kind, NameRules, record_fields, tags_field};
use super::{Error, Iam};
use crate::iam::model::OidcProvider;
use crate::iam::names::parse_oidc_provider_arn;

impl Kind for OidcProvider {
    const WORD: &'static str = "oidc-provider";
    const ELEMENT: &'static str = "OpenIDConnectProvider";
    const PREFIX: &'static str = super::keys::OIDC_PROVIDER;
    const NAME: NameRules = NameRules {
        param: "OpenIDConnectProviderArn",
        create_max: 255,
        max: 255,
    };

    record_fields!(flat);
}

tags_field!(OidcProvider);

impl Iam {
    /// An OIDC provider by ARN (`None` for an ARN of another shape).
    pub async fn oidc_provider_by_arn(&self, arn: &str) -> Result<Option<OidcProvider>, Error> {
        let Some((account, name)) = parse_oidc_provider_arn(arn) else {
            return Ok(None);
        };
        Ok(self
            .get::<OidcProvider>(account, name)
            .await?
            .filter(|p| p.arn == arn))
    }

    /// The provider of `account` whose URL is exactly `issuer` (a token's `iss`).
    pub async fn oidc_provider_for_issuer(
        &self,
        account: &str,
        issuer: &str,
    ) -> Result<Option<std::sync::Arc<OidcProvider>>, Error> {
        let name = crate::idp::oidc::provider_name(issuer);
        if name.is_empty() || name.len() > 255 {
            return Ok(None);
        }
        Ok(self
            .get_shared_entity::<OidcProvider>(account, name)
            .await?
            .filter(|p| p.url == issuer))
    }
}
