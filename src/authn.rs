//! Who is calling: SigV4 verification with a long-term key (store lookup, cached) or with
//! temporary credentials (the sealed token opened with the key ring; no store lookup but the
//! cached revocation set).
//!
//! Order (s3s): parse → stateless checks (scope, skew, expiry) → key lookup → signature →
//! expiry/revocation. Every failure means deny.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::{ApiError, Code};
use crate::iam::model::{KeyStatus, LastUsed, User};
use crate::sigv4::{self, RequestParts};
use crate::state::AppState;
use crate::token::{SessionClaims, SessionKind};

/// The authenticated principal behind a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The account root, with a long-term key.
    Root,
    /// An IAM user, with a long-term key (shared with the repository's memo).
    User(Arc<User>),
    /// Temporary credentials.
    Session(Arc<SessionClaims>),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Account id.
    pub account: String,
    /// The caller's ARN (`…:user/x`, `…:assumed-role/R/S`, `…:root`, `…:federated-user/N`).
    pub arn: String,
    /// `aws:userid` (`AIDA…`, `AROA…:session`, account id for root, `acct:name` federated).
    pub user_id: String,
    /// What kind of principal.
    pub principal: Principal,
    /// The access key id that signed the request.
    pub access_key_id: String,
    /// SigV4 scope region.
    pub region: String,
    /// SigV4 scope service.
    pub service: Cow<'static, str>,
}

impl Caller {
    /// The session claims, for temporary credentials.
    #[must_use]
    pub fn session(&self) -> Option<&SessionClaims> {
        match &self.principal {
            Principal::Session(c) => Some(c),
            _ => None,
        }
    }

    /// The IAM principal type (`aws:PrincipalType`).
    #[must_use]
    pub fn principal_type(&self) -> &'static str {
        match &self.principal {
            Principal::Root => "Account",
            Principal::User(_) => "User",
            Principal::Session(c) => match c.kind {
                SessionKind::FederatedUser => "FederatedUser",
                SessionKind::UserSession => "User",
                _ => "AssumedRole",
            },
        }
    }

    /// CloudTrail's `userIdentity`.
    #[must_use]
    pub fn into_audit_identity(self) -> crate::audit::UserIdentity {
        let ty = match &self.principal {
            Principal::Root => "Root",
            Principal::User(_) => "IAMUser",
            Principal::Session(c) => match c.kind {
                SessionKind::FederatedUser => "FederatedUser",
                SessionKind::UserSession => "IAMUser",
                _ => "AssumedRole",
            },
        };
        crate::audit::UserIdentity {
            kind: ty,
            user_name: match &self.principal {
                Principal::User(u) => Some(u.name.clone()),
                _ => None,
            },
            session_context: self.session().map(|c| crate::audit::SessionContext {
                attributes: crate::audit::SessionAttributes {
                    creation_date: crate::wire::time::iso8601(
                        &DateTime::from_timestamp(c.issued_at, 0).unwrap_or_default(),
                    ),
                    mfa_authenticated: if c.mfa_auth_time.is_some() {
                        "true"
                    } else {
                        "false"
                    },
                },
                source_identity: c.source_identity.clone(),
            }),
            principal_id: self.user_id,
            arn: self.arn,
            account_id: self.account,
            access_key_id: self.access_key_id,
            identity_provider: None,
        }
    }
}

/// Authenticates a request. `Ok(None)`: the request carries no authentication at all.
pub async fn authenticate(
    st: &Arc<AppState>,
    parts: &RequestParts<'_>,
    service: &str,
    now: DateTime<Utc>,
) -> Result<Option<Caller>, ApiError> {
    let Some(auth) = sigv4::parse(parts).map_err(ApiError::from)? else {
        return Ok(None);
    };
    let regions = &st.config.server.regions;
    let region_ok = |r: &str| {
        if regions.is_empty() {
            crate::config::is_valid_region(r)
        } else {
            regions.iter().any(|x| x == r)
        }
    };
    let skew = chrono::Duration::seconds(st.config.auth.clock_skew_seconds);
    sigv4::check_request(&auth, parts, &[service], &region_ok, skew, now)
        .map_err(ApiError::from)?;
    let region = auth.scope.region.clone().into_owned();
    let key_id = auth.access_key_id.clone().into_owned();

    if key_id.starts_with("ASIA") {
        let token = auth.security_token.as_ref().ok_or_else(|| {
            ApiError::invalid_token().with_detail("temporary key id without a session token")
        })?;
        if token.expose().len() > st.config.sessions.max_token_bytes {
            return Err(ApiError::invalid_token().with_detail("session token too large"));
        }
        let (claims, secret) = st.keyring().open_and_derive(token.expose(), &key_id, now)?;
        sigv4::verify_with(&auth, parts, &secret, Some(&st.signing_keys))
            .map_err(ApiError::from)?;
        if claims.expires_at <= now.timestamp() {
            return Err(ApiError::expired_token().with_detail("session expired"));
        }
        st.revocations.check(&claims)?;
        principal_still_exists(st, &claims).await?;
        let session_name = claims.session_name.as_deref().unwrap_or_default();
        let user_id = match claims.kind {
            SessionKind::FederatedUser => [&*claims.account, ":", session_name].concat(),
            SessionKind::UserSession => claims.principal_id.clone(),
            _ => [&*claims.principal_id, ":", session_name].concat(),
        };
        return Ok(Some(Caller {
            account: claims.account.clone(),
            arn: claims.arn.clone(),
            user_id,
            principal: Principal::Session(claims),
            access_key_id: key_id,
            region,
            service: service_name(service),
        }));
    }

    if auth.security_token.is_some() {
        return Err(
            ApiError::invalid_token().with_detail("session token sent with a long-term key")
        );
    }
    let found = st
        .iam
        .access_key(&key_id)
        .await?
        .ok_or_else(|| ApiError::invalid_token().with_detail("unknown access key"))?;
    let key = &found.key;
    sigv4::verify_with(&auth, parts, &found.secret, Some(&st.signing_keys))
        .map_err(ApiError::from)?;
    if key.status != KeyStatus::Active {
        return Err(ApiError::invalid_token().with_detail("access key is inactive"));
    }
    let caller = match &key.user {
        None => Caller {
            account: key.account.clone(),
            arn: format!("arn:{}:iam::{}:root", st.iam.partition, key.account),
            user_id: key.account.clone(),
            principal: Principal::Root,
            access_key_id: key_id,
            region,
            service: service_name(service),
        },
        Some(name) => {
            let user = st
                .iam
                .user_shared(&key.account, name)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_token().with_detail("the key's user no longer exists")
                })?;
            // The key belongs to the user it was created for, not to a later user of that name.
            if key.user_id.as_ref().is_some_and(|id| *id != user.id) {
                return Err(ApiError::invalid_token()
                    .with_detail("the key's user was deleted and re-created"));
            }
            Caller {
                account: key.account.clone(),
                arn: user.arn.clone(),
                user_id: user.id.clone(),
                principal: Principal::User(user),
                access_key_id: key_id,
                region,
                service: service_name(service),
            }
        }
    };
    // The key id and region moved into the caller; they are copied only for a recorded use.
    if st.should_record_use(&caller.access_key_id) {
        let st = st.clone();
        let key_id = caller.access_key_id.clone();
        let used = LastUsed {
            date: now,
            service: service.to_owned(),
            region: caller.region.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) = st.iam.record_key_use(&key_id, &used).await {
                tracing::warn!(error = %e, "recording key last use failed");
            }
        });
    }
    Ok(Some(caller))
}

/// The SigV4 service as the caller keeps it: the names Sekisho answers for without a copy.
fn service_name(service: &str) -> Cow<'static, str> {
    match service {
        "sts" => Cow::Borrowed("sts"),
        "iam" => Cow::Borrowed("iam"),
        "cognito-identity" => Cow::Borrowed("cognito-identity"),
        other => Cow::Owned(other.to_owned()),
    }
}

/// A session is bound to the unique id of its role (or user): once that entity is deleted the
/// session is dead, even if an entity of the same name is created again (it has a new id).
/// The lookups go through the cache and the entity memo.
async fn principal_still_exists(st: &AppState, c: &SessionClaims) -> Result<(), ApiError> {
    let exists = match c.kind {
        SessionKind::UserSession | SessionKind::FederatedUser => {
            // Root's sessions carry the account id: the account cannot be deleted.
            c.principal_id == c.account || st.iam.user_by_id(&c.principal_id).await?.is_some()
        }
        _ => st.iam.role_view_by_id(&c.principal_id).await?.is_some(),
    };
    if exists {
        Ok(())
    } else {
        Err(ApiError::invalid_token().with_detail("the session's role or user no longer exists"))
    }
}

/// Refuses anonymous callers.
pub fn require(caller: Option<&Caller>) -> Result<&Caller, ApiError> {
    caller.ok_or_else(|| {
        ApiError::new(
            Code::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        )
    })
}
