//! The identity-federation entities of the bootstrap file: OIDC providers, SAML providers and
//! identity pools, each checked as its IAM or Cognito API call would check it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Applied, IdentityPoolDecl, OidcProviderDecl, SamlProviderDecl, tags};
use crate::error::ApiError;
use crate::iam::model::Origin;
use crate::iam::repo::Iam;

pub(super) async fn apply_oidc_provider(
    iam: &Iam,
    account: &str,
    o: &OidcProviderDecl,
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    use crate::iam::actions::oidc_providers as op;
    use crate::iam::model::OidcProvider;
    // The operator's file may declare plain-HTTP issuers; fetching enforces the prefixes.
    let scheme = if o.url.starts_with("http://") {
        vec![o.url.clone()]
    } else {
        Vec::new()
    };
    op::check_url(&o.url, &scheme)?;
    if o.client_ids.len() > op::MAX_CLIENT_IDS || o.thumbprints.len() > op::MAX_THUMBPRINTS {
        return Err(ApiError::validation(format!(
            "OIDC provider {}: at most {} client ids and {} thumbprints",
            o.url,
            op::MAX_CLIENT_IDS,
            op::MAX_THUMBPRINTS
        )));
    }
    let want = op::new_provider(
        account,
        &o.url,
        o.client_ids.clone(),
        o.thumbprints.clone(),
        tags(&o.tags),
        now,
        Origin::Bootstrap,
    );
    match iam.get::<OidcProvider>(account, &want.name).await? {
        None => out.changed.push(iam.create(want).await?.arn),
        Some(have)
            if have.origin == Origin::Bootstrap
                && (have.url != want.url
                    || have.client_ids != want.client_ids
                    || have.thumbprints != want.thumbprints
                    || have.tags != want.tags) =>
        {
            let after = iam
                .update(account, &want.name, |x: &mut OidcProvider, _| {
                    x.url.clone_from(&want.url);
                    x.client_ids.clone_from(&want.client_ids);
                    x.thumbprints.clone_from(&want.thumbprints);
                    x.tags.clone_from(&want.tags);
                    Ok(())
                })
                .await?;
            out.changed.push(after.arn);
        }
        Some(_) => {}
    }
    Ok(())
}

pub(super) async fn apply_identity_pool(
    iam: &Iam,
    account: &str,
    d: &IdentityPoolDecl,
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    use crate::cognito::identity::{check_id, declared_pool_id, new_salt};
    use crate::cognito::model::IdentityPool;
    use crate::cognito::{Input, mapping, pools};
    let id =
        d.id.clone()
            .unwrap_or_else(|| declared_pool_id(&d.region, account, &d.name));
    check_id("IdentityPoolId", &id)?;
    // The same checks as the API's.
    let input = Input::from_value(serde_json::json!({
        "IdentityPoolName": d.name,
        "AllowUnauthenticatedIdentities": d.allow_unauthenticated,
        "AllowClassicFlow": d.allow_classic_flow,
        "SupportedLoginProviders": d.supported_login_providers,
        "OpenIdConnectProviderARNs": d.open_id_connect_provider_arns,
        "SamlProviderARNs": d.saml_provider_arns,
        "IdentityPoolTags": d.tags,
    }));
    let fields = pools::read_fields(&input, account, &iam.partition)
        .map_err(|e| ApiError::validation(format!("identity pool {}: {}", d.name, e.message)))?;
    for arn in &fields.open_id_connect_provider_arns {
        if iam.oidc_provider_by_arn(arn).await?.is_none() {
            return Err(ApiError::validation(format!(
                "identity pool {}: OIDC provider {arn} is not declared",
                d.name
            )));
        }
    }
    for (kind, arn) in &d.roles {
        if kind != "authenticated" && kind != "unauthenticated" {
            return Err(ApiError::validation(format!(
                "identity pool {}: role kind {kind} (authenticated or unauthenticated)",
                d.name
            )));
        }
        mapping::check_role_arn(arn)?;
    }
    let mappings = mapping::parse(
        d.role_mappings
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    serde_json::to_value(v).map_err(ApiError::internal)?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?,
    )?;
    let mut want = IdentityPool {
        account: account.to_owned(),
        id: id.clone(),
        pool_name: String::new(),
        allow_unauthenticated: false,
        allow_classic_flow: false,
        supported_login_providers: BTreeMap::new(),
        open_id_connect_provider_arns: Vec::new(),
        saml_provider_arns: Vec::new(),
        tags: BTreeMap::new(),
        roles: d.roles.clone(),
        role_mappings: mappings,
        salt: new_salt(),
        create_date: now,
        origin: Origin::Bootstrap,
    };
    pools::apply(&mut want, fields);
    match iam.get::<IdentityPool>(account, &id).await? {
        None => {
            let p = iam.create(want).await?;
            out.changed.push(format!("identity pool {}", p.id));
        }
        Some(have) if have.origin == Origin::Bootstrap => {
            let same = IdentityPool {
                salt: have.salt.clone(),
                create_date: have.create_date,
                ..want.clone()
            };
            if same != have {
                iam.update(account, &id, |p: &mut IdentityPool, _| {
                    *p = IdentityPool {
                        salt: p.salt.clone(),
                        create_date: p.create_date,
                        ..want.clone()
                    };
                    Ok(())
                })
                .await?;
                out.changed.push(format!("identity pool {id}"));
            }
        }
        Some(_) => {}
    }
    Ok(())
}

pub(super) async fn apply_saml_provider(
    iam: &Iam,
    account: &str,
    d: &SamlProviderDecl,
    now: DateTime<Utc>,
    out: &mut Applied,
) -> Result<(), ApiError> {
    use crate::iam::actions::saml_providers as sp;
    use crate::iam::model::SamlProvider;
    let doc = match (&d.metadata, &d.metadata_file) {
        (Some(m), None) => m.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
            ApiError::validation(format!(
                "SAML provider {}: metadata_file {}: {e}",
                d.name,
                f.display()
            ))
        })?,
        _ => {
            return Err(ApiError::validation(format!(
                "SAML provider {}: give exactly one of metadata_file and metadata",
                d.name
            )));
        }
    };
    if !crate::iam::names::is_saml_provider_name(&d.name) {
        return Err(ApiError::validation(format!(
            "SAML provider name '{}' must be 1-128 of [A-Za-z0-9_.-]",
            d.name
        )));
    }
    let meta = sp::check_metadata(&doc).map_err(|e| {
        let why = e.detail.clone().unwrap_or_default();
        ApiError::validation(format!("SAML provider {}: {} ({why})", d.name, e.message))
    })?;
    let want = sp::new_provider(
        account,
        &d.name,
        &meta,
        tags(&d.tags),
        now,
        Origin::Bootstrap,
    );
    match iam.get::<SamlProvider>(account, &d.name).await? {
        None => out
            .changed
            .push(iam.create_saml_provider(want, &doc).await?.arn),
        Some(have)
            if have.origin == Origin::Bootstrap
                && (have.entity_id != want.entity_id
                    || have.signing_certs != want.signing_certs
                    || have.valid_until != want.valid_until
                    || have.tags != want.tags) =>
        {
            let after = iam
                .update_saml_provider(account, &d.name, Some(&doc), |x| {
                    x.entity_id.clone_from(&want.entity_id);
                    x.signing_certs.clone_from(&want.signing_certs);
                    x.valid_until = want.valid_until;
                    x.tags.clone_from(&want.tags);
                    Ok(())
                })
                .await?;
            out.changed.push(after.arn);
        }
        Some(_) => {}
    }
    Ok(())
}
