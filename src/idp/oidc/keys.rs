//! A provider's signing keys: its JWKS parsed into a [`KeySet`] (pure), and the [`KeyCache`]
//! that fetches discovery and JWKS over HTTP(S) and keeps them per provider (decision 11).
//!
//! - A cached key is served without any fetch on the request path; a set older than
//!   `jwks_ttl_seconds` is refreshed in the background while the old one keeps serving.
//! - An unknown `kid` refetches at once, but at most once per `refetch_interval_seconds` per
//!   provider: a flood of tokens with bogus kids makes at most one fetch per interval.
//! - When the IdP is unreachable, cached keys keep working; an unknown kid then is
//!   [`Error::IdpUnreachable`] (`IDPCommunicationError`).
//! - Discovery's `issuer` must equal the provider URL; URLs must be `https://` except those
//!   under `[oidc] insecure_http_prefixes` (decision 12). Redirects are not followed; bodies
//!   are bounded by [`MAX_DOCUMENT_BYTES`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::error::Error;
use crate::config::OidcConfig;

/// Largest discovery document or JWKS accepted, bytes.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Most keys kept from one JWKS.
pub const MAX_KEYS: usize = 100;

/// Most providers cached (a bound on memory; providers are per account, at most 100 each).
const MAX_PROVIDERS: usize = 10_000;

/// One signing key of a provider, with the algorithms it fixes.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// The algorithms this key verifies: the JWK's `alg` when given, else those of its type
    /// and curve (RSA: RS*/PS*; P-256: ES256; P-384: ES384; Ed25519: EdDSA).
    #[must_use]
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The key, for the verifier.
    #[must_use]
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// A provider's usable signing keys. HMAC (`oct`) keys, encryption keys and unknown types are
/// left out: they can never verify a federated token.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    /// Tokens whose signature these keys verified (see [`super::memo`]).
    memo: super::memo::SignatureMemo,
}

const RSA_ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn str_field<'a>(jwk: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// One JWK as a signing key, or `None` when it is not one we may use.
fn parse_key(jwk: &serde_json::Map<String, Value>) -> Option<Key> {
    if str_field(jwk, "use").is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = str_field(jwk, "alg");
    let pinned = |allowed: &[Algorithm]| -> Option<Vec<Algorithm>> {
        match alg {
            None => Some(allowed.to_vec()),
            Some(a) => allowed
                .iter()
                .find(|x| format!("{x:?}") == a)
                .map(|x| vec![*x]),
        }
    };
    let (algorithms, key) = match str_field(jwk, "kty")? {
        "RSA" => {
            let n = str_field(jwk, "n")?;
            let e = str_field(jwk, "e")?;
            // At least 2048 bits (aws-lc refuses less at verification anyway).
            let bits = URL_SAFE_NO_PAD.decode(n).ok()?.len() * 8;
            if bits < 2048 {
                return None;
            }
            (
                pinned(&RSA_ALGS)?,
                DecodingKey::from_rsa_components(n, e).ok()?,
            )
        }
        "EC" => {
            let fixed = match str_field(jwk, "crv")? {
                "P-256" => Algorithm::ES256,
                "P-384" => Algorithm::ES384,
                _ => return None,
            };
            let key =
                DecodingKey::from_ec_components(str_field(jwk, "x")?, str_field(jwk, "y")?).ok()?;
            (pinned(&[fixed])?, key)
        }
        "OKP" => {
            if str_field(jwk, "crv")? != "Ed25519" {
                return None;
            }
            let key = DecodingKey::from_ed_components(str_field(jwk, "x")?).ok()?;
            (pinned(&[Algorithm::EdDSA])?, key)
        }
        // `oct` (HMAC) and anything else: never.
        _ => return None,
    };
    Some(Key {
        kid: str_field(jwk, "kid").map(str::to_owned),
        algorithms,
        key,
    })
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`), keeping the usable signing keys (at most
    /// [`MAX_KEYS`]).
    ///
    /// # Errors
    /// [`Error::Keys`] when the document is not a JWKS.
    pub fn parse(json: &[u8]) -> Result<Self, Error> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|_| Error::Keys("the JWKS is not JSON".into()))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Keys("the JWKS has no keys array".into()))?;
        Ok(Self {
            keys: keys
                .iter()
                .filter_map(Value::as_object)
                .filter_map(parse_key)
                .take(MAX_KEYS)
                .collect(),
            memo: super::memo::SignatureMemo::default(),
        })
    }

    /// The key with this `kid`; a token without `kid` may use the only key of a one-key set.
    #[must_use]
    pub fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(k) => self.keys.iter().find(|x| x.kid.as_deref() == Some(k)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }

    /// The signatures these keys verified.
    #[must_use]
    pub fn memo(&self) -> &super::memo::SignatureMemo {
        &self.memo
    }

    /// Number of usable keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Whether Sekisho may fetch from `url`: `https://`, or `http://` under a configured insecure
/// prefix (decision 12).
#[must_use]
pub fn url_allowed(url: &str, insecure_http_prefixes: &[String]) -> bool {
    url.starts_with("https://")
        || (url.starts_with("http://")
            && insecure_http_prefixes
                .iter()
                .any(|p| !p.is_empty() && url.starts_with(p.as_str())))
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No answer: connection refused, TLS failure, timeout, 5xx.
    Unreachable(String),
    /// An answer that is not the document: 4xx, redirect, too large.
    Refused(String),
}

/// GET of a small document (the HTTP client behind the cache; a fake one in tests).
#[async_trait::async_trait]
pub trait Fetch: Send + Sync + 'static {
    /// The body of `url`, at most `max_bytes`, within `timeout`.
    async fn get(
        &self,
        url: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError>;
}

/// The real client: hyper over rustls (aws-lc-rs provider, the system's roots).
type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Empty<bytes::Bytes>,
>;

/// The real fetcher. `client` is `None` when no TLS configuration could be built (every fetch
/// then fails as unreachable, and says why).
pub struct HttpFetch {
    client: Option<HttpsClient>,
}

impl std::fmt::Debug for HttpFetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpFetch")
    }
}

impl HttpFetch {
    /// A client trusting the system's root certificates (none when the system has none: then
    /// every `https://` fetch fails, and is reported as such).
    #[must_use]
    pub fn new() -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(error = %e, "no system root certificates: OIDC https fetches will fail");
                rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .ok()
                    .map(|b| {
                        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                            b.with_root_certificates(rustls::RootCertStore::empty())
                                .with_no_client_auth(),
                        )
                    })
            }
        };
        let client = builder.map(|b| {
            let https = b.https_or_http().enable_http1().build();
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https)
        });
        Self { client }
    }
}

impl Default for HttpFetch {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl Fetch for HttpFetch {
    async fn get(
        &self,
        url: &str,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        use http_body_util::BodyExt;
        let uri: http::Uri = url
            .parse()
            .map_err(|_| FetchError::Refused(format!("not a URL: {url}")))?;
        let req = http::Request::get(uri)
            .header("accept", "application/json")
            .header("user-agent", "sekisho")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| FetchError::Refused(e.to_string()))?;
        let Some(client) = &self.client else {
            return Err(FetchError::Unreachable("no TLS configuration".into()));
        };
        let run = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| FetchError::Unreachable(format!("{url}: {e}")))?;
            let status = resp.status();
            if status.is_server_error() {
                return Err(FetchError::Unreachable(format!("{url}: HTTP {status}")));
            }
            if !status.is_success() {
                return Err(FetchError::Refused(format!("{url}: HTTP {status}")));
            }
            let limited = http_body_util::Limited::new(resp.into_body(), max_bytes);
            let body = limited.collect().await.map_err(|e| {
                FetchError::Refused(format!("{url}: body over {max_bytes} bytes or cut: {e}"))
            })?;
            Ok(body.to_bytes().to_vec())
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| FetchError::Unreachable(format!("{url}: no answer within {timeout:?}")))?
    }
}

/// What is known of one provider's keys.
#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    /// When `keys` were fetched (Unix seconds).
    fetched_at: i64,
    /// When a fetch was last started for an unknown kid or a missing set (rate limit).
    last_forced: Option<i64>,
    /// The last failure, served while the rate limit holds.
    last_error: Option<Error>,
    /// A background refresh is running.
    refreshing: bool,
}

#[derive(Debug, Default)]
struct Entry {
    state: RwLock<State>,
    /// Single flight: one fetch per provider at a time.
    fetching: tokio::sync::Mutex<()>,
}

/// Keys of every provider, fetched on first use and cached (see the module doc).
pub struct KeyCache {
    cfg: OidcConfig,
    fetch: Arc<dyn Fetch>,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    fetches: Arc<AtomicU64>,
    reads: super::memo::ReadMemo,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// A cache fetching with `fetch`.
    #[must_use]
    pub fn new(cfg: OidcConfig, fetch: Arc<dyn Fetch>) -> Self {
        Self {
            cfg,
            fetch,
            entries: RwLock::new(HashMap::new()),
            fetches: Arc::new(AtomicU64::new(0)),
            reads: super::memo::ReadMemo::default(),
        }
    }

    /// Verified tokens' readings, for [`super::inspect_remembered`] (shared by every provider:
    /// a reading names its issuer, which then chooses the key set).
    #[must_use]
    pub fn reads(&self) -> &super::memo::ReadMemo {
        &self.reads
    }

    /// The configuration it applies.
    #[must_use]
    pub fn config(&self) -> &OidcConfig {
        &self.cfg
    }

    /// How many key-set fetches were started (discovery + JWKS count as one).
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn entry(&self, url: &str) -> Arc<Entry> {
        if let Some(e) = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(url)
        {
            return e.clone();
        }
        let mut m = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= MAX_PROVIDERS && !m.contains_key(url) {
            m.clear();
        }
        m.entry(url.to_owned()).or_default().clone()
    }

    /// The key set of provider `url` holding `kid`, fetching only when the set is missing or
    /// lacks the kid (rate-limited), at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`Error::UnknownKid`] (the set does not have it, or a refetch is rate-limited),
    /// [`Error::IdpUnreachable`] (no answer and no cached key for the kid), [`Error::Keys`]
    /// (discovery or JWKS not acceptable).
    pub async fn key_set(
        &self,
        url: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Result<Arc<KeySet>, Error> {
        let entry = self.entry(url);
        let unknown = |limited| Error::UnknownKid {
            kid: kid.unwrap_or("-").to_owned(),
            refetch_limited: limited,
        };
        // Fast path: the kid is cached. Never a fetch here; a stale set refreshes behind.
        {
            let mut refresh = false;
            let found = {
                let st = entry.state.read().unwrap_or_else(PoisonError::into_inner);
                let hit = st.keys.clone().filter(|k| k.find(kid).is_some());
                if hit.is_some()
                    && !st.refreshing
                    && now.saturating_sub(st.fetched_at) >= self.cfg.jwks_ttl_seconds
                {
                    refresh = true;
                }
                hit
            };
            if let Some(keys) = found {
                if refresh {
                    self.refresh_behind(url, &entry, now);
                }
                return Ok(keys);
            }
        }
        let limited = |st: &State| {
            st.last_forced
                .is_some_and(|t| now.saturating_sub(t) < self.cfg.refetch_interval_seconds)
        };
        {
            let st = entry.state.read().unwrap_or_else(PoisonError::into_inner);
            if limited(&st) {
                return Err(st.last_error.clone().unwrap_or_else(|| unknown(true)));
            }
        }
        let _one = entry.fetching.lock().await;
        {
            // Another request may have fetched while this one waited.
            let mut st = entry.state.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(keys) = st.keys.clone().filter(|k| k.find(kid).is_some()) {
                return Ok(keys);
            }
            if limited(&st) {
                return Err(st.last_error.clone().unwrap_or_else(|| unknown(true)));
            }
            // The rate limit is on refetches (and on retries of a failed first fetch): the
            // first fetch of a provider is not one.
            if st.keys.is_some() || st.last_error.is_some() {
                st.last_forced = Some(now);
            }
        }
        let fetched = fetch_key_set(self.fetch.as_ref(), &self.cfg, url, &self.fetches).await;
        let mut st = entry.state.write().unwrap_or_else(PoisonError::into_inner);
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                st.keys = Some(keys.clone());
                st.fetched_at = now;
                st.last_error = None;
                if keys.find(kid).is_some() {
                    Ok(keys)
                } else {
                    Err(unknown(false))
                }
            }
            Err(e) => {
                tracing::warn!(provider = url, error = %e, "OIDC key fetch failed");
                st.last_error = Some(e.clone());
                st.last_forced = Some(now);
                Err(e)
            }
        }
    }

    /// Starts a background refresh of a stale set (the old set keeps serving; a failure
    /// keeps it).
    fn refresh_behind(&self, url: &str, entry: &Arc<Entry>, now: i64) {
        {
            let mut st = entry.state.write().unwrap_or_else(PoisonError::into_inner);
            if st.refreshing {
                return;
            }
            st.refreshing = true;
        }
        let (entry, fetch, cfg, url, fetches) = (
            entry.clone(),
            self.fetch.clone(),
            self.cfg.clone(),
            url.to_owned(),
            self.fetches.clone(),
        );
        tokio::spawn(async move {
            let _one = entry.fetching.lock().await;
            let fetched = fetch_key_set(fetch.as_ref(), &cfg, &url, &fetches).await;
            let mut st = entry.state.write().unwrap_or_else(PoisonError::into_inner);
            st.refreshing = false;
            match fetched {
                Ok(keys) => {
                    st.keys = Some(Arc::new(keys));
                    st.fetched_at = now;
                }
                Err(e) => {
                    // Keep serving the old keys; try again after another interval.
                    st.fetched_at = now
                        .saturating_sub(cfg.jwks_ttl_seconds)
                        .saturating_add(cfg.refetch_interval_seconds);
                    tracing::warn!(provider = url, error = %e, "OIDC key refresh failed; cached keys kept");
                }
            }
        });
    }
}

/// Discovery, then the JWKS it names.
async fn fetch_key_set(
    fetch: &dyn Fetch,
    cfg: &OidcConfig,
    url: &str,
    fetches: &AtomicU64,
) -> Result<KeySet, Error> {
    fetches.fetch_add(1, Ordering::Relaxed);
    let timeout = Duration::from_secs(cfg.fetch_timeout_seconds);
    let prefixes = &cfg.insecure_http_prefixes;
    if !url_allowed(url, prefixes) {
        return Err(Error::Keys(format!(
            "{url} is not https:// nor under [oidc] insecure_http_prefixes"
        )));
    }
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        url.trim_end_matches('/')
    );
    let get = |u: String| async move {
        fetch
            .get(&u, timeout, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| match e {
                FetchError::Unreachable(m) => Error::IdpUnreachable(m),
                FetchError::Refused(m) => Error::Keys(m),
            })
    };
    let doc = get(discovery).await?;
    let doc: Value = serde_json::from_slice(&doc)
        .map_err(|_| Error::Keys("the discovery document is not JSON".into()))?;
    // OIDC Discovery §4.3: the issuer in the document must be the one it was fetched for.
    let issuer = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    if issuer != url {
        return Err(Error::Keys(format!(
            "discovery says issuer {issuer}, not {url}"
        )));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Keys("the discovery document has no jwks_uri".into()))?;
    if !url_allowed(jwks_uri, prefixes) {
        return Err(Error::Keys(format!(
            "jwks_uri {jwks_uri} is not https:// nor under [oidc] insecure_http_prefixes"
        )));
    }
    let jwks = get(jwks_uri.to_owned()).await?;
    KeySet::parse(&jwks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use std::sync::Mutex;

    use super::*;

    /// A fake IdP: a discovery document and a JWKS (or no answer), counting requests.
    struct FakeIdp {
        jwks: Mutex<String>,
        up: Mutex<bool>,
        requests: AtomicU64,
    }

    const URL: &str = "https://idp.example.com";

    fn jwk(kid: &str) -> String {
        // A 2048-bit modulus of the right length; never used to verify here.
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{n}","e":"AQAB","alg":"RS256","use":"sig"}}"#)
    }

    #[async_trait::async_trait]
    impl Fetch for FakeIdp {
        async fn get(&self, url: &str, _: Duration, _: usize) -> Result<Vec<u8>, FetchError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            if !*self.up.lock().unwrap() {
                return Err(FetchError::Unreachable("down".into()));
            }
            if url.ends_with("/.well-known/openid-configuration") {
                Ok(format!(r#"{{"issuer":"{URL}","jwks_uri":"{URL}/jwks"}}"#).into_bytes())
            } else {
                Ok(self.jwks.lock().unwrap().clone().into_bytes())
            }
        }
    }

    fn cache(kids: &[&str]) -> (KeyCache, Arc<FakeIdp>) {
        let idp = Arc::new(FakeIdp {
            jwks: Mutex::new(format!(
                r#"{{"keys":[{}]}}"#,
                kids.iter().map(|k| jwk(k)).collect::<Vec<_>>().join(",")
            )),
            up: Mutex::new(true),
            requests: AtomicU64::new(0),
        });
        let cfg = OidcConfig {
            refetch_interval_seconds: 60,
            jwks_ttl_seconds: 3600,
            ..OidcConfig::default()
        };
        (KeyCache::new(cfg, idp.clone()), idp)
    }

    #[test]
    fn only_signing_keys_of_allowed_types_are_kept() {
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let small = URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        let doc = format!(
            r#"{{"keys":[
            {{"kty":"oct","kid":"h","k":"c2VjcmV0"}},
            {{"kty":"RSA","kid":"enc","use":"enc","n":"{n}","e":"AQAB"}},
            {{"kty":"RSA","kid":"small","n":"{small}","e":"AQAB"}},
            {{"kty":"RSA","kid":"oaep","alg":"RSA-OAEP","n":"{n}","e":"AQAB"}},
            {{"kty":"RSA","kid":"any","n":"{n}","e":"AQAB"}},
            {{"kty":"EC","kid":"p256","crv":"P-256","x":"AA","y":"AA"}},
            {{"kty":"EC","kid":"p521","crv":"P-521","x":"AA","y":"AA"}},
            "not a key"
            ]}}"#
        );
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.find(Some("h")).is_none());
        assert_eq!(set.find(Some("any")).unwrap().algorithms(), &RSA_ALGS);
        assert_eq!(
            set.find(Some("p256")).unwrap().algorithms(),
            &[Algorithm::ES256]
        );
        assert!(set.find(None).is_none(), "no kid with two keys: none");
        assert!(KeySet::parse(b"[]").is_err());
    }

    #[test]
    fn plain_http_only_under_a_configured_prefix() {
        let p = vec!["http://127.0.0.1:".to_owned()];
        assert!(url_allowed("https://x", &[]));
        assert!(!url_allowed("http://127.0.0.1:80/x", &[]));
        assert!(url_allowed("http://127.0.0.1:80/x", &p));
        assert!(!url_allowed("http://127.0.0.2/x", &p));
        assert!(!url_allowed("ftp://x", &p));
    }

    #[tokio::test]
    async fn a_cached_kid_needs_no_fetch_and_a_bogus_kid_flood_one_per_interval() {
        let (c, idp) = cache(&["k1"]);
        c.key_set(URL, Some("k1"), 1000).await.unwrap();
        assert_eq!(idp.requests.load(Ordering::Relaxed), 2, "discovery + JWKS");
        for _ in 0..50 {
            c.key_set(URL, Some("k1"), 1001).await.unwrap();
        }
        assert_eq!(idp.requests.load(Ordering::Relaxed), 2, "cached: no fetch");
        for i in 0..100 {
            let e = c.key_set(URL, Some(&format!("bogus{i}")), 1002).await;
            assert!(matches!(e, Err(Error::UnknownKid { .. })), "{e:?}");
        }
        assert_eq!(c.fetch_count(), 2, "one refetch in the interval");
        for i in 0..100 {
            let _ = c.key_set(URL, Some(&format!("more{i}")), 1062).await;
        }
        assert_eq!(c.fetch_count(), 3, "and one more in the next");
    }

    #[tokio::test]
    async fn rotation_fetches_once_and_an_outage_keeps_cached_keys() {
        let (c, idp) = cache(&["k1"]);
        c.key_set(URL, Some("k1"), 1000).await.unwrap();
        *idp.jwks.lock().unwrap() = format!(r#"{{"keys":[{},{}]}}"#, jwk("k1"), jwk("k2"));
        c.key_set(URL, Some("k2"), 1001).await.unwrap();
        assert_eq!(c.fetch_count(), 2);
        c.key_set(URL, Some("k2"), 1002).await.unwrap();
        assert_eq!(c.fetch_count(), 2, "the new kid is cached now");

        *idp.up.lock().unwrap() = false;
        c.key_set(URL, Some("k1"), 1100).await.unwrap();
        let e = c.key_set(URL, Some("k3"), 1100).await.unwrap_err();
        assert!(matches!(e, Error::IdpUnreachable(_)), "{e:?}");
        // Long past the TTL, while down: the cached keys still serve.
        c.key_set(URL, Some("k1"), 10_000).await.unwrap();
        tokio::task::yield_now().await;
        c.key_set(URL, Some("k2"), 10_001).await.unwrap();
    }

    #[tokio::test]
    async fn discovery_must_name_the_provider_and_urls_must_be_https() {
        let (c, _) = cache(&["k1"]);
        let e = c
            .key_set("https://other.example.com", Some("k1"), 1)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Keys(ref m) if m.contains("issuer")),
            "{e:?}"
        );
        let e = c.key_set("http://idp.example.com", Some("k1"), 1).await;
        assert!(matches!(e, Err(Error::Keys(_))), "{e:?}");
    }
}
