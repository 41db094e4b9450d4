//! Command-line clients of a running server (`sekisho revoke`). They sign their requests with
//! SigV4 like any AWS client, using the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` environment variables.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::clock::{Clock, SystemClock};
use crate::secret::SecretString;

/// `sekisho revoke` arguments.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// Revoke sessions of this role (ARN).
    #[arg(long, group = "scope")]
    pub role: Option<String>,
    /// Revoke sessions started by this user (ARN).
    #[arg(long, group = "scope")]
    pub user: Option<String>,
    /// Revoke every session of this account (12 digits).
    #[arg(long, group = "scope")]
    pub account: Option<String>,
    /// Revoke every session of every account.
    #[arg(long, group = "scope")]
    pub all: bool,
    /// Revoke one session by its temporary access key id (`ASIA…`).
    #[arg(long, group = "scope")]
    pub access_key: Option<String>,
    /// Cut-off: `now` or an RFC 3339 time no later than now (plus the allowed clock skew).
    /// Sessions issued before it are refused. With `--lower`, `none` removes the cut-off.
    #[arg(long, default_value = "now")]
    pub before: String,
    /// Set the cut-off exactly, lower than the one in force if need be (operators only:
    /// `revocation.operators`). Audited like every call.
    #[arg(long)]
    pub lower: bool,
    /// Server URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub endpoint_url: String,
    /// Region to sign for.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// The IAM Query parameters of a revoke request.
pub fn revoke_params(a: &RevokeArgs) -> Result<Vec<(String, String)>, String> {
    let (scope, target) = match (&a.role, &a.user, &a.account, a.all, &a.access_key) {
        (Some(r), None, None, false, None) => ("role", r.clone()),
        (None, Some(u), None, false, None) => ("user", u.clone()),
        (None, None, Some(acct), false, None) => ("account", acct.clone()),
        (None, None, None, true, None) => ("all", String::new()),
        (None, None, None, false, Some(k)) => ("access-key", k.clone()),
        _ => {
            return Err(
                "give exactly one of --role, --user, --account, --all, --access-key".into(),
            );
        }
    };
    let mut p = vec![
        ("Action".to_owned(), "RevokeSessions".to_owned()),
        ("Version".to_owned(), "2010-05-08".to_owned()),
        ("Scope".to_owned(), scope.to_owned()),
        ("Before".to_owned(), a.before.clone()),
    ];
    if !target.is_empty() {
        p.push(("Target".to_owned(), target));
    }
    if a.lower {
        p.push(("Lower".to_owned(), "true".to_owned()));
    }
    Ok(p)
}

/// Sends a signed IAM Query request and returns (status, body).
pub async fn signed_post(
    endpoint: &str,
    region: &str,
    service: &str,
    params: &[(String, String)],
    key_id: &str,
    secret: &SecretString,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("endpoint {endpoint}: {e}"))?;
    let host = uri
        .authority()
        .map(ToString::to_string)
        .ok_or("endpoint has no host")?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().map_err(|_| "bad host")?);
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    // Names the tool in the audit event's `userAgent`, as the AWS CLI and SDKs name themselves.
    headers.insert(
        "user-agent",
        http::HeaderValue::from_static(concat!("sekisho-cli/", env!("CARGO_PKG_VERSION"))),
    );
    let now = SystemClock.now();
    let extra = crate::sigv4::sign_request(
        "POST",
        "/",
        "",
        &headers,
        body.as_bytes(),
        key_id,
        secret,
        token,
        region,
        service,
        now,
    );
    let mut req = http::Request::builder().method("POST").uri(&uri);
    for (k, v) in headers.iter() {
        req = req.header(k, v);
    }
    for (k, v) in extra {
        req = req.header(k, v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client
        .request(req)
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// `sekisho revoke`.
pub async fn revoke(a: RevokeArgs) -> Result<(), String> {
    let params = revoke_params(&a)?;
    let key_id = std::env::var("AWS_ACCESS_KEY_ID").map_err(|_| "AWS_ACCESS_KEY_ID is not set")?;
    let secret = SecretString::new(
        std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| "AWS_SECRET_ACCESS_KEY is not set")?,
    );
    let token = std::env::var("AWS_SESSION_TOKEN").ok();
    let (status, body) = signed_post(
        &a.endpoint_url,
        &a.region,
        "iam",
        &params,
        &key_id,
        &secret,
        token.as_deref(),
    )
    .await?;
    if status == 200 {
        println!("{body}");
        Ok(())
    } else {
        Err(format!("HTTP {status}: {body}"))
    }
}
