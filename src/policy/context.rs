//! The request context: who is calling, what, on which resource, with which condition keys.
//!
//! Condition-key names are case-insensitive (and so is the tag part of `…Tag/K`), so keys are
//! stored lower-cased. A few keys derive from the principal when the caller did not set them:
//! `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`,
//! `aws:username` (IAM users only) and `aws:FederatedProvider`.

use std::borrow::Cow;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use super::matcher::VarSource;

/// The caller, as the evaluator sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestPrincipal {
    /// Caller ARN: user ARN, assumed-role session ARN, federated-user ARN or root ARN.
    pub arn: String,
    /// `aws:PrincipalArn`: the role ARN (with path) for role sessions, else the same as `arn`.
    pub principal_arn: String,
    /// The caller's account id.
    pub account: String,
    /// The unique id (`AIDA…`/`AROA…`) of the user or role, if any.
    pub unique_id: Option<String>,
    /// True for the account root user.
    pub is_root: bool,
    /// The federation provider a session came from (SAML provider ARN, OIDC provider ARN or
    /// built-in host), if any: the `aws:FederatedProvider` key. It does not match `Federated`
    /// principals: a session making a later signed call is that session, not its IdP.
    pub federated_provider: Option<String>,
    /// The identity provider this very request authenticates with (an unsigned
    /// `AssumeRoleWithSAML` or `AssumeRoleWithWebIdentity`): the one thing a `Federated`
    /// principal matches. Never set for signed requests.
    pub federation: Option<String>,
    /// The AWS service principal (`ec2.amazonaws.com`), if the caller is a service.
    pub service: Option<String>,
}

impl RequestPrincipal {
    /// An IAM user (or root when the ARN ends in `:root`), deriving account and flags from `arn`.
    #[must_use]
    pub fn from_arn(arn: &str) -> Self {
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        let is_root = arn.ends_with(":root");
        Self {
            arn: arn.to_owned(),
            principal_arn: arn.to_owned(),
            account,
            is_root,
            ..Self::default()
        }
    }

    /// The unsigned caller of a federation action: whoever holds an assertion or token from
    /// `provider` (a SAML or OIDC provider ARN). It has no account of its own, so only the
    /// resource (trust) policy speaks for it.
    #[must_use]
    pub fn federated(provider: &str) -> Self {
        Self {
            arn: provider.to_owned(),
            principal_arn: provider.to_owned(),
            federated_provider: Some(provider.to_owned()),
            federation: Some(provider.to_owned()),
            ..Self::default()
        }
    }
}

/// The caller as the evaluator reads it: a [`RequestPrincipal`] borrowed
/// ([`RequestPrincipal::view`]), or built from strings the request already holds (the
/// authorization of a signed caller, which copies none of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrincipalRef<'a> {
    /// See [`RequestPrincipal::arn`].
    pub arn: &'a str,
    /// See [`RequestPrincipal::principal_arn`].
    pub principal_arn: &'a str,
    /// See [`RequestPrincipal::account`].
    pub account: &'a str,
    /// See [`RequestPrincipal::unique_id`].
    pub unique_id: Option<&'a str>,
    /// See [`RequestPrincipal::is_root`].
    pub is_root: bool,
    /// See [`RequestPrincipal::federated_provider`].
    pub federated_provider: Option<&'a str>,
    /// See [`RequestPrincipal::federation`].
    pub federation: Option<&'a str>,
    /// See [`RequestPrincipal::service`].
    pub service: Option<&'a str>,
}

impl RequestPrincipal {
    /// The principal, borrowed.
    #[must_use]
    pub fn view(&self) -> PrincipalRef<'_> {
        PrincipalRef {
            arn: &self.arn,
            principal_arn: &self.principal_arn,
            account: &self.account,
            unique_id: self.unique_id.as_deref(),
            is_root: self.is_root,
            federated_provider: self.federated_provider.as_deref(),
            federation: self.federation.as_deref(),
            service: self.service.as_deref(),
        }
    }
}

impl From<PrincipalRef<'_>> for RequestPrincipal {
    fn from(p: PrincipalRef<'_>) -> Self {
        Self {
            arn: p.arn.to_owned(),
            principal_arn: p.principal_arn.to_owned(),
            account: p.account.to_owned(),
            unique_id: p.unique_id.map(str::to_owned),
            is_root: p.is_root,
            federated_provider: p.federated_provider.map(str::to_owned),
            federation: p.federation.map(str::to_owned),
            service: p.service.map(str::to_owned),
        }
    }
}

/// One condition-key value: single or multi-valued. A value of a [`ContextOf<'a>`] may borrow
/// for `'a`; a [`Context`]'s values are owned (or fixed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValueOf<'a> {
    /// A single value (fixed values such as `true` or a principal type are not copied).
    Single(Cow<'a, str>),
    /// A multi-valued key (`aws:TagKeys`, …); may be empty.
    Multi(Vec<String>),
}

/// A condition-key value of a [`Context`].
pub type ContextValue = ContextValueOf<'static>;

/// Condition keys of one request (case-insensitive names), owning their values (or holding
/// fixed ones): what a request carries from one place to another, and what callers build.
pub type Context = ContextOf<'static>;

/// Condition keys of one request (case-insensitive names), whose values may borrow for `'a`
/// from what the request already holds (its environment, the caller): the authorization of a
/// request builds one of these and copies none of them. A [`Context`] is one that owns them.
///
/// The global keys every request carries ([`SLOTS`]) have fixed places: setting one is a
/// store, not a hash and an insert. The others are in a [`crate::FastMap`]: a context is
/// built and read once per request (SipHash was 1% of a verification). A key is in exactly
/// one of the two, so the derived equality compares contexts by their keys and values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextOf<'a> {
    map: crate::FastMap<Cow<'static, str>, ContextValueOf<'a>>,
    slots: [Option<ContextValueOf<'a>>; SLOTS.len()],
    times: Option<Times>,
}

/// The keys with a fixed place in every [`Context`] (lower case), the ones the authorization of
/// every signed request sets.
const SLOTS: [&str; 8] = [
    "aws:sourceip",
    "aws:securetransport",
    "aws:useragent",
    "aws:requestedregion",
    "aws:principaltype",
    "aws:userid",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
];

/// The place of a lower-cased key among [`SLOTS`].
fn slot(key_lc: &str) -> Option<usize> {
    match key_lc {
        "aws:sourceip" => Some(0),
        "aws:securetransport" => Some(1),
        "aws:useragent" => Some(2),
        "aws:requestedregion" => Some(3),
        "aws:principaltype" => Some(4),
        "aws:userid" => Some(5),
        "aws:multifactorauthpresent" => Some(6),
        "aws:multifactorauthage" => Some(7),
        _ => None,
    }
}

/// The time keys of a request, formatted only if a policy reads them (most policies never
/// do, and every request carries them).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Times {
    now: DateTime<Utc>,
    issued_at: Option<i64>,
    current_time: OnceLock<String>,
    epoch_time: OnceLock<String>,
    token_issue_time: OnceLock<String>,
}

impl<'a> ContextOf<'a> {
    /// An empty context (with room for the ~20 global keys a request carries, so filling it
    /// does not rehash).
    #[must_use]
    pub fn new() -> Self {
        Self {
            map: crate::FastMap::with_capacity_and_hasher(32, Default::default()),
            slots: Default::default(),
            times: None,
        }
    }

    /// Provides `aws:CurrentTime` and `aws:EpochTime` (from `now`) and, for sessions,
    /// `aws:TokenIssueTime` (from `issued_at`, Unix seconds), formatted on first read. Keys
    /// set explicitly take precedence.
    pub fn set_times(&mut self, now: DateTime<Utc>, issued_at: Option<i64>) {
        self.times = Some(Times {
            now,
            issued_at,
            current_time: OnceLock::new(),
            epoch_time: OnceLock::new(),
            token_issue_time: OnceLock::new(),
        });
    }

    /// A time key provided by [`Self::set_times`].
    fn time_key(&self, key_lc: &str) -> Option<&str> {
        let t = self.times.as_ref()?;
        let iso = |d: &DateTime<Utc>| crate::wire::time::iso8601(d);
        match key_lc {
            "aws:currenttime" => Some(t.current_time.get_or_init(|| iso(&t.now))),
            "aws:epochtime" => Some(t.epoch_time.get_or_init(|| t.now.timestamp().to_string())),
            "aws:tokenissuetime" => {
                let at = t.issued_at?;
                Some(
                    t.token_issue_time
                        .get_or_init(|| iso(&DateTime::from_timestamp(at, 0).unwrap_or_default())),
                )
            }
            _ => None,
        }
    }

    /// Sets a single-valued key (replacing any previous value).
    pub fn set(&mut self, key: &str, v: impl Into<Cow<'a, str>>) {
        self.put(key.to_lowercase(), ContextValueOf::Single(v.into()));
    }

    /// [`Self::set`] for a fixed key already in lower case (no allocation for the name).
    pub fn set_lc(&mut self, key_lc: &'static str, v: impl Into<Cow<'a, str>>) {
        debug_assert!(
            !key_lc.chars().any(char::is_uppercase),
            "set_lc needs a lower-case key"
        );
        let v = ContextValueOf::Single(v.into());
        match slot(key_lc).and_then(|i| self.slots.get_mut(i)) {
            Some(place) => *place = Some(v),
            None => {
                self.map.insert(Cow::Borrowed(key_lc), v);
            }
        }
    }

    /// Sets a multi-valued key. Only `ForAllValues:`/`ForAnyValue:` operators look inside it;
    /// single-valued operators never match a multi-valued key (even a one-element list).
    pub fn set_multi(&mut self, key: &str, vs: Vec<String>) {
        self.put(key.to_lowercase(), ContextValueOf::Multi(vs));
    }

    /// Stores the value of a lower-cased key in its slot or in the map.
    fn put(&mut self, key_lc: String, v: ContextValueOf<'a>) {
        match slot(&key_lc).and_then(|i| self.slots.get_mut(i)) {
            Some(place) => *place = Some(v),
            None => {
                self.map.insert(Cow::Owned(key_lc), v);
            }
        }
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        let key_lc = key.to_lowercase();
        match slot(&key_lc).and_then(|i| self.slots.get_mut(i)) {
            Some(place) => *place = None,
            None => {
                self.map.remove(key_lc.as_str());
            }
        }
    }

    /// The value of a key set explicitly (case-insensitive; not the time keys of
    /// [`Self::set_times`], which only the evaluator reads).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&ContextValueOf<'a>> {
        self.get_lc(&key.to_lowercase())
    }

    /// Looks a lower-cased key up without allocating.
    pub(crate) fn get_lc(&self, key_lc: &str) -> Option<&ContextValueOf<'a>> {
        match slot(key_lc) {
            Some(i) => self.slots.get(i)?.as_ref(),
            None => self.map.get(key_lc),
        }
    }

    /// The context with every value owned (borrowed ones copied): for a caller that keeps it,
    /// or extends it with keys of its own ([`Context`]'s setters).
    #[must_use]
    pub fn into_owned(self) -> Context {
        let own = |v: ContextValueOf<'a>| match v {
            ContextValueOf::Single(s) => ContextValueOf::Single(Cow::Owned(s.into_owned())),
            ContextValueOf::Multi(vs) => ContextValueOf::Multi(vs),
        };
        ContextOf {
            map: self.map.into_iter().map(|(k, v)| (k, own(v))).collect(),
            slots: self.slots.map(|v| v.map(own)),
            times: self.times,
        }
    }

    /// Number of keys set explicitly.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len() + self.slots.iter().flatten().count()
    }

    /// True when no key is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The caller.
    pub principal: RequestPrincipal,
    /// `service:Action`.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// The account owning the resource; `None` = the caller's account.
    pub resource_account: Option<String>,
    /// Condition keys.
    pub context: Context,
}

impl Request {
    /// The request, borrowed.
    #[must_use]
    pub fn view(&self) -> RequestRef<'_> {
        RequestRef {
            principal: self.principal.view(),
            action: &self.action,
            resource: &self.resource,
            resource_account: self.resource_account.as_deref(),
            context: &self.context,
        }
    }
}

/// One authorization request as the evaluator reads it: a [`Request`] borrowed
/// ([`Request::view`]), or assembled from what the request being authorized already holds.
#[derive(Debug, Clone, Copy)]
pub struct RequestRef<'a> {
    /// The caller.
    pub principal: PrincipalRef<'a>,
    /// `service:Action`.
    pub action: &'a str,
    /// The resource ARN (or `*`).
    pub resource: &'a str,
    /// The account owning the resource; `None` = the caller's account.
    pub resource_account: Option<&'a str>,
    /// Condition keys.
    pub context: &'a ContextOf<'a>,
}

/// The values of one key, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Vals<'a> {
    One(&'a str),
    Many(&'a [String]),
}

impl<'a> Vals<'a> {
    /// Iterates the values.
    pub(crate) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (one, many): (Option<&'a str>, &'a [String]) = match self {
            Vals::One(s) => (Some(s), &[]),
            Vals::Many(v) => (None, v),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

/// Key lookup for one request: the context, then values derived from the principal.
pub(crate) struct Env<'a> {
    ctx: &'a ContextOf<'a>,
    p: PrincipalRef<'a>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(ctx: &'a ContextOf<'a>, p: PrincipalRef<'a>) -> Self {
        Self { ctx, p }
    }

    /// The values of a lower-cased key; `None` if absent (an empty set counts as absent).
    pub(crate) fn lookup(&self, key_lc: &str) -> Option<Vals<'a>> {
        match self.ctx.get_lc(key_lc) {
            Some(ContextValueOf::Single(s)) => return Some(Vals::One(s)),
            Some(ContextValueOf::Multi(v)) if v.is_empty() => return None,
            Some(ContextValueOf::Multi(v)) => return Some(Vals::Many(v)),
            None => {}
        }
        if let Some(t) = self.ctx.time_key(key_lc) {
            return Some(Vals::One(t));
        }
        self.derived(key_lc).map(Vals::One)
    }

    fn derived(&self, key_lc: &str) -> Option<&'a str> {
        let p = self.p;
        let nonempty = |s: &'a str| (!s.is_empty()).then_some(s);
        match key_lc {
            "aws:principalarn" => nonempty(p.principal_arn),
            "aws:principalaccount" => nonempty(p.account),
            "aws:federatedprovider" => p.federated_provider,
            "aws:userid" if p.is_root => nonempty(p.account),
            "aws:userid" if p.arn.contains(":user/") => p.unique_id,
            "aws:username" if p.arn.contains(":user/") => p.arn.rsplit('/').next(),
            "aws:principaltype" if p.arn.is_empty() => None,
            "aws:principaltype" => Some(if p.is_root {
                "Account"
            } else if p.arn.contains(":assumed-role/") {
                "AssumedRole"
            } else if p.arn.contains(":federated-user/") {
                "FederatedUser"
            } else {
                "User"
            }),
            _ => None,
        }
    }
}

impl VarSource for Env<'_> {
    fn single(&self, key_lc: &str) -> Option<&str> {
        match self.lookup(key_lc)? {
            Vals::One(s) => Some(s),
            Vals::Many(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let mut c = Context::new();
        c.set("aws:PrincipalTag/Team", "red");
        assert_eq!(
            c.get("AWS:principaltag/TEAM"),
            Some(&ContextValue::Single("red".into()))
        );
        c.set_multi("aws:TagKeys", vec!["a".into()]);
        assert!(matches!(c.get("aws:tagkeys"), Some(ContextValue::Multi(v)) if v.len() == 1));
        c.remove("AWS:TAGKEYS");
        assert!(c.get("aws:tagkeys").is_none());
    }

    /// The keys with a fixed place behave as every other key: set in any case by either setter,
    /// replaced, removed, counted, and compared.
    #[test]
    fn slotted_keys_are_keys_like_the_others() {
        for key in SLOTS {
            assert_eq!(
                slot(key),
                Some(SLOTS.iter().position(|k| *k == key).unwrap())
            );
            let mut a = Context::new();
            a.set_lc(key, "one");
            assert_eq!(a.len(), 1);
            assert_eq!(
                a.get(&key.to_uppercase()),
                Some(&ContextValue::Single("one".into()))
            );
            let mut b = Context::new();
            b.set(&key.to_uppercase(), "one");
            assert_eq!(a, b, "{key}");
            b.set(key, "two");
            assert_ne!(a, b);
            assert_eq!(b.get_lc(key), Some(&ContextValue::Single("two".into())));
            b.set_multi(key, vec!["x".into()]);
            assert!(matches!(b.get(key), Some(ContextValue::Multi(v)) if v.len() == 1));
            b.remove(&key.to_uppercase());
            assert_eq!(b.get(key), None);
            assert!(b.is_empty());
        }
        assert_eq!(slot("aws:username"), None);
        let mut c = Context::new();
        c.set_lc("aws:sourceip", "192.0.2.1");
        c.set("aws:PrincipalTag/team", "red");
        assert_eq!(c.len(), 2);
        let p = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice");
        assert_eq!(
            Env::new(&c, p.view()).single("aws:sourceip"),
            Some("192.0.2.1")
        );
        assert_eq!(
            Env::new(&c, p.view()).single("aws:principaltag/team"),
            Some("red")
        );
    }

    /// A context whose values borrow reads, compares and becomes owned as one built of copies.
    #[test]
    fn borrowed_values_read_as_owned_ones() {
        let (ip, team) = (String::from("192.0.2.1"), String::from("red"));
        let mut borrowed = ContextOf::new();
        borrowed.set_lc("aws:sourceip", ip.as_str());
        borrowed.set("aws:PrincipalTag/team", team.as_str());
        borrowed.set_multi("aws:TagKeys", vec!["team".into()]);
        let mut owned = Context::new();
        owned.set_lc("aws:sourceip", ip.clone());
        owned.set("aws:PrincipalTag/team", team.clone());
        owned.set_multi("aws:TagKeys", vec!["team".into()]);
        assert_eq!(borrowed, owned);
        let p = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice");
        let env = Env::new(&borrowed, p.view());
        assert_eq!(env.single("aws:principaltag/team"), Some("red"));
        let kept: Context = borrowed.clone().into_owned();
        drop((ip, team));
        assert_eq!(kept, owned);
        assert!(matches!(
            kept.get("aws:sourceip"),
            Some(ContextValueOf::Single(Cow::Owned(_)))
        ));
    }

    #[test]
    fn time_keys_are_formatted_on_read_and_explicit_values_win() {
        let p = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/alice");
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let mut c = Context::new();
        assert!(Env::new(&c, p.view()).single("aws:currenttime").is_none());
        c.set_times(now, Some(1_767_222_000));
        let env = Env::new(&c, p.view());
        assert_eq!(env.single("aws:currenttime"), Some("2026-01-01T00:00:00Z"));
        assert_eq!(env.single("aws:epochtime"), Some("1767225600"));
        assert_eq!(
            env.single("aws:tokenissuetime"),
            Some("2025-12-31T23:00:00Z")
        );
        let mut no_session = Context::new();
        no_session.set_times(now, None);
        assert!(
            Env::new(&no_session, p.view())
                .single("aws:tokenissuetime")
                .is_none()
        );
        c.set("aws:CurrentTime", "2030-01-01T00:00:00Z");
        assert_eq!(
            Env::new(&c, p.view()).single("aws:currenttime"),
            Some("2030-01-01T00:00:00Z")
        );
    }

    #[test]
    fn derived_keys() {
        let p = RequestPrincipal::from_arn("arn:aws:iam::111122223333:user/dev/alice");
        let c = Context::new();
        let env = Env::new(&c, p.view());
        assert_eq!(env.single("aws:username"), Some("alice"));
        assert_eq!(env.single("aws:principalaccount"), Some("111122223333"));
        assert_eq!(env.single("aws:principaltype"), Some("User"));
        assert_eq!(env.single("aws:userid"), None);
        let mut c2 = Context::new();
        c2.set_multi("aws:tagkeys", vec![]);
        assert!(Env::new(&c2, p.view()).lookup("aws:tagkeys").is_none());
        let root = RequestPrincipal::from_arn("arn:aws:iam::111122223333:root");
        assert!(root.is_root);
        assert_eq!(
            Env::new(&c, root.view()).single("aws:principaltype"),
            Some("Account")
        );
    }
}
