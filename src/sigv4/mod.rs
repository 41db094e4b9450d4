//! Pure SigV4 verification (sts-spec.md §4), header and presigned forms.
//!
//! The flow for a received request is [`parse`] → [`check_request`] (stateless checks, before any
//! key lookup) → key lookup by the caller → [`verify`]. Nothing here reads the clock or does I/O.
//! [`sign_request`] and [`presign_url_query`] sign requests for our load generator and tests.

mod authorization;
mod canonical;
mod error;
mod known;
mod signing_key;
mod sink;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use authorization::{
    MAX_AUTHORIZATION_LEN, MAX_QUERY_PARAMS, MAX_SIGNED_HEADERS, SignedHeaders,
};
pub use canonical::{canonical_query, canonical_request, canonical_uri, string_to_sign};
pub use error::Error;
pub use signing_key::{KeyedHmac, Signature, SigningKeyCache, sha256_hex, signing_key};

use crate::secret::{SecretCow, SecretString};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential-scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// Longest validity of a presigned request, whatever `X-Amz-Expires` says (reference README,
/// decision 7).
pub const PRESIGNED_MAX_SECS: u64 = 900;

/// The parts of a received HTTP request needed to verify it. Path and query are RAW as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The HTTP method (`GET`, `POST`, …).
    pub method: &'a str,
    /// The path as received on the wire (still percent-encoded).
    pub path: &'a str,
    /// The query string as received, without the leading `?` (empty when there is none).
    pub query: &'a str,
    /// The request headers.
    pub headers: Headers<'a>,
    /// The (size-limited) body.
    pub body: &'a [u8],
    /// The payload hash when the body itself is not at hand (a resource server asking
    /// `/verify` sends the hash, or `UNSIGNED-PAYLOAD` where its service allows it). `None`:
    /// hash `body`.
    pub payload_hash: Option<&'a str>,
}

/// A request's headers: the map of a request Sekisho received, or the name/value list a
/// resource server sent to `/verify` (names in any case; values already checked to hold no
/// control characters), read where they lie instead of being copied into a map.
#[derive(Debug, Clone, Copy)]
pub enum Headers<'a> {
    /// A received request's headers.
    Map(&'a http::HeaderMap),
    /// Name/value pairs, in the order sent.
    List(&'a [(&'a str, &'a str)]),
}

impl<'a> From<&'a http::HeaderMap> for Headers<'a> {
    fn from(m: &'a http::HeaderMap) -> Self {
        Headers::Map(m)
    }
}

impl<'a> Headers<'a> {
    /// The raw values of every header named `name` (lower case), in order.
    #[must_use]
    pub fn get_all<'n>(self, name: &'n str) -> HeaderValues<'a, 'n> {
        match self {
            Headers::Map(m) => HeaderValues::Map(match known_header(name) {
                Some(known) => m.get_all(known).iter(),
                None => m.get_all(name).iter(),
            }),
            Headers::List(list) => HeaderValues::List { list, name },
        }
    }

    /// Whether these are the very same headers (the same map or list, not equal contents).
    fn same(self, other: Headers<'_>) -> bool {
        match (self, other) {
            (Headers::Map(a), Headers::Map(b)) => std::ptr::eq(a, b),
            (Headers::List(a), Headers::List(b)) => {
                a.as_ptr().cast::<u8>() == b.as_ptr().cast::<u8>() && a.len() == b.len()
            }
            _ => false,
        }
    }

    /// The value of `name` if it appears exactly once as visible ASCII (`None` when absent,
    /// several times, or not ASCII).
    #[must_use]
    pub fn single_str(self, name: &str) -> Option<&'a str> {
        let mut it = self.get_all(name);
        let first = it.next()?;
        if it.next().is_some() {
            return None;
        }
        ascii_str(first)
    }
}

/// The values of one header ([`Headers::get_all`]).
#[derive(Debug)]
pub enum HeaderValues<'a, 'n> {
    /// From a received request's map.
    Map(http::header::ValueIter<'a, http::HeaderValue>),
    /// From a list: the pairs not yet looked at, and the name sought.
    List {
        /// The pairs after the last value found.
        list: &'a [(&'a str, &'a str)],
        /// The name sought (lower case; the list's names in any case).
        name: &'n str,
    },
}

impl<'a> Iterator for HeaderValues<'a, '_> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Self::Map(it) => it.next().map(http::HeaderValue::as_bytes),
            Self::List { list, name } => {
                while let Some(((n, v), rest)) = list.split_first() {
                    *list = rest;
                    if n.eq_ignore_ascii_case(name) {
                        return Some(v.as_bytes());
                    }
                }
                None
            }
        }
    }
}

/// The names a signed request is read by on every request (its authentication, date, token,
/// and the headers SDKs sign), parsed once: a `HeaderMap` lookup by `&str` first parses and
/// validates the name. Only exact lower-case names match; anything else is looked up as given.
fn known_header(name: &str) -> Option<&'static http::HeaderName> {
    static X_AMZ_DATE: http::HeaderName = http::HeaderName::from_static("x-amz-date");
    static X_AMZ_SECURITY_TOKEN: http::HeaderName =
        http::HeaderName::from_static("x-amz-security-token");
    static X_AMZ_CONTENT_SHA256: http::HeaderName =
        http::HeaderName::from_static("x-amz-content-sha256");
    Some(match name {
        "authorization" => &http::header::AUTHORIZATION,
        "host" => &http::header::HOST,
        "content-type" => &http::header::CONTENT_TYPE,
        "date" => &http::header::DATE,
        "x-amz-date" => &X_AMZ_DATE,
        "x-amz-security-token" => &X_AMZ_SECURITY_TOKEN,
        "x-amz-content-sha256" => &X_AMZ_CONTENT_SHA256,
        _ => return None,
    })
}

/// Whether `b` may appear in an HTTP header name: a token character (RFC 9110 `tchar`).
#[must_use]
pub const fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// A header value as text when it is ASCII (header values never hold control characters, so
/// this is `HeaderValue::to_str`'s visible-ASCII rule; checked a word at a time).
#[must_use]
pub fn ascii_str(v: &[u8]) -> Option<&str> {
    if v.is_ascii() {
        std::str::from_utf8(v).ok()
    } else {
        None
    }
}

impl RequestParts<'_> {
    /// The payload line of the canonical request.
    #[must_use]
    pub fn body_hash(&self) -> Cow<'_, str> {
        self.payload_hash
            .map_or_else(|| Cow::Owned(sha256_hex(self.body)), Cow::Borrowed)
    }

    /// [`Self::body_hash`] without a `String`: the given hash, or the body's on the stack.
    pub(crate) fn payload_hash_hex(&self) -> PayloadHash<'_> {
        match self.payload_hash {
            Some(given) => PayloadHash::Given(given),
            None => PayloadHash::Computed(signing_key::sha256_hex_bytes(self.body)),
        }
    }
}

/// The payload line of a canonical request.
pub(crate) enum PayloadHash<'a> {
    /// Sent by whoever asks `/verify`.
    Given(&'a str),
    /// The hex SHA-256 of the body.
    Computed([u8; 64]),
}

impl PayloadHash<'_> {
    /// The line's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Given(s) => s.as_bytes(),
            Self::Computed(hex) => hex,
        }
    }
}

/// Where the authentication was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthForm {
    /// The `Authorization` header.
    Header,
    /// `X-Amz-*` query parameters (a presigned URL).
    Presigned,
}

/// The credential scope `yyyymmdd/region/service` (the terminator is kept apart, in
/// [`ParsedAuth::terminator`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// `yyyymmdd`, as written by the client (checked against `X-Amz-Date` by [`check_request`]).
    pub date: Cow<'a, str>,
    /// The region the client signed for.
    pub region: Cow<'a, str>,
    /// The service the client signed for (`sts`, `iam`).
    pub service: Cow<'a, str>,
}

/// A request's parsed SigV4 authentication; nothing in it is trusted until [`check_request`] and
/// [`verify`] pass. In header form it borrows from the request's headers (parsing copies
/// nothing); in presigned form the percent-decoded query values are owned.
#[derive(Debug, Clone)]
pub struct ParsedAuth<'a> {
    /// Header or presigned form.
    pub form: AuthForm,
    /// The access key id (well formed: 1–128 ASCII letters, digits and `_`).
    pub access_key_id: Cow<'a, str>,
    /// The credential scope.
    pub scope: CredentialScope<'a>,
    /// The scope's last element; must be `aws4_request`.
    pub terminator: Cow<'a, str>,
    /// The signed header names, lowercase, in the client's order.
    pub signed_headers: SignedHeaders<'a>,
    /// The request time (`X-Amz-Date`, or the `Date` header in header form).
    pub amz_date: DateTime<Utc>,
    /// [`Self::amz_date`] as `YYYYMMDDTHHMMSSZ` (the `X-Amz-Date` text as sent: a date the
    /// parser accepts is written that way), for the scope check and the string to sign.
    amz: canonical::AmzDate,
    /// Header values the parser found once (header form), for the canonical request.
    known: known::KnownHeaders<'a>,
    /// The signature the client sent.
    pub signature: Signature,
    /// The session token (`X-Amz-Security-Token` header or query parameter), if any.
    pub security_token: Option<SecretCow<'a>>,
    /// Presigned `X-Amz-Expires`, in seconds.
    pub expires: Option<u64>,
}

/// Finds and parses the SigV4 authentication in a request. `Ok(None)` if the request carries no
/// authentication at all.
///
/// # Errors
/// [`Error::MixedForms`] for both forms at once; [`Error::IncompleteSignature`] for malformed
/// input (missing parts, duplicates, unknown algorithm, bad signature or date);
/// [`Error::InvalidClientTokenId`] for a malformed access key id.
pub fn parse<'a>(req: &RequestParts<'a>) -> Result<Option<ParsedAuth<'a>>, Error> {
    authorization::parse(req)
}

/// Stateless checks to run BEFORE any key lookup: scope terminator `aws4_request`, service in
/// `services` (the first is named in the error), region accepted by `region_ok`, scope date equal
/// to the `X-Amz-Date` date, `host` among the signed headers, `x-amz-content-sha256` (if present)
/// equal to the body hash, and the time window: ±`skew` in header form; in presigned form valid
/// for `min(X-Amz-Expires, 900 s)` after `X-Amz-Date` and no more than `skew` in the future.
///
/// # Errors
/// [`Error::InvalidScope`], [`Error::IncompleteSignature`] (no `host`), [`Error::ClockSkew`],
/// [`Error::SignatureDoesNotMatch`] (content hash).
pub fn check_request(
    auth: &ParsedAuth<'_>,
    req: &RequestParts<'_>,
    services: &[&str],
    region_ok: &dyn Fn(&str) -> bool,
    skew: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let scope = &auth.scope;
    if auth.terminator != TERMINATOR {
        return Err(Error::InvalidScope(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            short(&auth.terminator)
        )));
    }
    if !services.contains(&&*scope.service) {
        return Err(Error::InvalidScope(format!(
            "Credential should be scoped to correct service: '{}'. ",
            services.first().copied().unwrap_or_default()
        )));
    }
    let region_syntax = !scope.region.is_empty()
        && scope.region.len() <= 64
        && scope
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_syntax || !region_ok(&scope.region) {
        return Err(Error::InvalidScope(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            short(&scope.region)
        )));
    }
    if scope.date.as_bytes() != auth.amz.as_bytes().get(..8).unwrap_or_default() {
        let amz = auth.amz.as_str();
        let amz_day = amz.get(..8).unwrap_or_default();
        return Err(Error::InvalidScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{amz_day}', from '{amz}'.",
            short(&scope.date)
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(Error::IncompleteSignature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_owned(),
        ));
    }
    let content = auth
        .known
        .first_and_more(req.headers, "x-amz-content-sha256");
    if let (Some(claimed), more) = content
        && (more || claimed != req.payload_hash_hex().as_bytes())
    {
        return Err(Error::SignatureDoesNotMatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
                .to_owned(),
        ));
    }
    check_time(auth, skew, now)
}

/// The time window, with AWS's texts.
fn check_time(
    auth: &ParsedAuth<'_>,
    skew: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let fmt = canonical::format_amz_date;
    let t = auth.amz_date;
    if t > now + skew {
        return Err(Error::ClockSkew(format!(
            "Signature not yet current: {} is still later than {} ({} + {})",
            fmt(&t),
            fmt(&(now + skew)),
            fmt(&now),
            describe(skew)
        )));
    }
    let window = match auth.form {
        AuthForm::Header => skew,
        AuthForm::Presigned => {
            let secs = auth
                .expires
                .unwrap_or(PRESIGNED_MAX_SECS)
                .min(PRESIGNED_MAX_SECS);
            // `secs` is at most 900, so the conversion cannot fail.
            chrono::Duration::seconds(i64::try_from(secs).unwrap_or(0))
        }
    };
    if t < now - window {
        return Err(Error::ClockSkew(format!(
            "Signature expired: {} is now earlier than {} ({} - {})",
            fmt(&t),
            fmt(&(now - window)),
            fmt(&now),
            describe(window)
        )));
    }
    Ok(())
}

/// `15 min.` or `90 sec.`
fn describe(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    if s % 60 == 0 {
        format!("{} min.", s / 60)
    } else {
        format!("{s} sec.")
    }
}

/// Echoed client input, bounded.
fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Recomputes the signature with `secret` and compares in constant time.
///
/// # Errors
/// [`Error::SignatureDoesNotMatch`].
pub fn verify(
    auth: &ParsedAuth<'_>,
    req: &RequestParts<'_>,
    secret: &SecretString,
) -> Result<(), Error> {
    verify_with(auth, req, secret, None)
}

/// [`verify`], taking the signing key from `cache` when given.
///
/// # Errors
/// [`Error::SignatureDoesNotMatch`].
pub fn verify_with(
    auth: &ParsedAuth<'_>,
    req: &RequestParts<'_>,
    secret: &SecretString,
    cache: Option<&SigningKeyCache>,
) -> Result<(), Error> {
    let creq_hash =
        canonical::canonical_request_hash(req, auth.form, &auth.signed_headers, &auth.known)?;
    // The string to sign goes straight into the MAC.
    let write = |mac: &mut signing_key::HmacSha256| {
        let mut buffered = sink::Buffered::new(mac);
        canonical::write_string_to_sign(
            &mut buffered,
            auth.amz.as_bytes(),
            &auth.scope,
            &creq_hash,
        );
        buffered.finish();
    };
    let (date, region, service) = (&auth.scope.date, &auth.scope.region, &auth.scope.service);
    let (computed, lookup) = match cache {
        Some(c) => {
            let scope = signing_key::Scope {
                access_key_id: &auth.access_key_id,
                date,
                region,
                service,
            };
            let l = c.get(&scope, secret);
            (l.sign_with(write), Some(l))
        }
        None => (
            signing_key::sign_with(&signing_key(secret, date, region, service), write),
            None,
        ),
    };
    if computed.ct_eq(&auth.signature) {
        // Only a key that verified a signature is cached: wrong signatures never fill it.
        if let (Some(c), Some(l)) = (cache, lookup) {
            c.remember(l);
        }
        Ok(())
    } else {
        Err(Error::SignatureDoesNotMatch(error::MISMATCH.to_owned()))
    }
}

/// The header lines for signing: every header in `headers` except `authorization`, plus
/// `extra` (which replace same-named headers), sorted by name, with their raw values.
fn signing_lines<'a>(headers: &'a http::HeaderMap, extra: &[(&str, &'a str)]) -> SigningLines<'a> {
    let mut map: BTreeMap<String, Vec<&[u8]>> = BTreeMap::new();
    for (name, value) in headers {
        if name != http::header::AUTHORIZATION {
            map.entry(name.as_str().to_owned())
                .or_default()
                .push(value.as_bytes());
        }
    }
    for (name, value) in extra {
        map.insert((*name).to_owned(), vec![value.as_bytes()]);
    }
    let mut out = SigningLines::default();
    for (name, vs) in map {
        out.names.push((name, vs.len()));
        out.values.extend(vs);
    }
    out
}

/// The header lines a signer covers, sorted by name: each name with how many of `values` are
/// its own.
#[derive(Default)]
struct SigningLines<'a> {
    names: Vec<(String, usize)>,
    values: Vec<&'a [u8]>,
}

impl SigningLines<'_> {
    /// The lines, as the canonical request takes them.
    fn view(&self) -> canonical::HeaderLines<'_, String> {
        canonical::HeaderLines {
            lines: &self.names,
            values: &self.values,
        }
    }
}

/// For clients, tests and the load generator: signs a request in header form. Every header in
/// `headers` is signed (include `host`; `authorization` is ignored), plus `x-amz-date` and, with a
/// session token, `x-amz-security-token`. Returns the headers to add: `authorization`,
/// `x-amz-date` and optionally `x-amz-security-token`.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the parts of a signing request"
)]
#[must_use]
pub fn sign_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    access_key_id: &str,
    secret: &SecretString,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz = canonical::format_amz_date(&now);
    let mut extra = vec![("x-amz-date", amz.as_str())];
    if let Some(t) = session_token {
        extra.push(("x-amz-security-token", t));
    }
    let lines = signing_lines(headers, &extra);
    let lines = lines.view();
    let creq = canonical::assemble(method, path, query, false, &lines, &sha256_hex(body));
    let scope = CredentialScope {
        date: crate::wire::time::ymd(&now).into(),
        region: region.into(),
        service: service.into(),
    };
    let sts = string_to_sign(&now, &scope, &creq);
    let key = signing_key(secret, &scope.date, region, service);
    let sig = signing_key::sign(&key, sts.as_bytes());
    let signed: Vec<&str> = lines.names().collect();
    let mut out = vec![
        (
            "authorization".to_owned(),
            format!(
                "{ALGORITHM} Credential={access_key_id}/{}/{region}/{service}/{TERMINATOR}, \
                 SignedHeaders={}, Signature={}",
                scope.date,
                signed.join(";"),
                sig.to_hex()
            ),
        ),
        ("x-amz-date".to_owned(), amz),
    ];
    if let Some(t) = session_token {
        out.push(("x-amz-security-token".to_owned(), t.to_owned()));
    }
    out
}

/// For tests and clients: the query string of a presigned request (e.g. a GET
/// `Action=GetCallerIdentity&Version=2011-06-15` for EKS tokens). `query` holds the request's own
/// parameters; every header in `headers` is signed (include `host`, and e.g. `x-k8s-aws-id`). The
/// session token, if any, is added before signing, as botocore does. Returns `query` followed by
/// the `X-Amz-*` parameters and `X-Amz-Signature`.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the parts of a signing request"
)]
#[must_use]
pub fn presign_url_query(
    method: &str,
    path: &str,
    query: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    access_key_id: &str,
    secret: &SecretString,
    session_token: Option<&str>,
    region: &str,
    service: &str,
    expires_secs: u64,
    now: DateTime<Utc>,
) -> String {
    let amz = canonical::format_amz_date(&now);
    let date = crate::wire::time::ymd(&now);
    let lines = signing_lines(headers, &[]);
    let lines = lines.view();
    let signed: Vec<&str> = lines.names().collect();
    let credential = format!("{access_key_id}/{date}/{region}/{service}/{TERMINATOR}");
    let mut params = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", amz),
        ("X-Amz-Expires", expires_secs.to_string()),
        ("X-Amz-SignedHeaders", signed.join(";")),
    ];
    if let Some(t) = session_token {
        params.push(("X-Amz-Security-Token", t.to_owned()));
    }
    let mut full = query.to_owned();
    for (k, v) in &params {
        if !full.is_empty() {
            full.push('&');
        }
        full.push_str(k);
        full.push('=');
        full.push_str(&canonical::encode(v));
    }
    let creq = canonical::assemble(method, path, &full, true, &lines, &sha256_hex(body));
    let scope = CredentialScope {
        date: date.into(),
        region: region.into(),
        service: service.into(),
    };
    let sts = string_to_sign(&now, &scope, &creq);
    let key = signing_key(secret, &scope.date, region, service);
    let sig = signing_key::sign(&key, sts.as_bytes());
    full.push_str("&X-Amz-Signature=");
    full.push_str(&sig.to_hex());
    full
}
