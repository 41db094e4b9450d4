//! Finding and parsing the SigV4 authentication of a request: the `Authorization` header form
//! and the presigned (`X-Amz-*` query parameter) form. Parsing is strict and bounded; it never
//! looks up a key and never reads the clock.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use http::header::{AUTHORIZATION, DATE};

use super::canonical::{AmzDate, decode};
use super::error::{Error, INVALID_TOKEN};
use super::known::KnownHeaders;
use super::signing_key::Signature;
use super::{ALGORITHM, AuthForm, CredentialScope, ParsedAuth, RequestParts};
use crate::secret::SecretCow;

/// Most signed headers a request may list.
pub const MAX_SIGNED_HEADERS: usize = 64;
/// Longest signed-header name accepted.
const MAX_HEADER_NAME: usize = 128;
/// Longest `Authorization` header accepted.
pub const MAX_AUTHORIZATION_LEN: usize = 8192;
/// Most query parameters a request may carry.
pub const MAX_QUERY_PARAMS: usize = 1024;

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";

const PRESIGNED_MISSING: &str = "AWS query-string parameters must include 'X-Amz-Algorithm', \
     'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. Re-examine the \
     query-string parameters.";

/// The presigned-form parameters found in a query (decoded).
#[derive(Default)]
struct PresignedParams {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

impl PresignedParams {
    /// Whether the query claims the presigned form at all.
    fn present(&self) -> bool {
        self.algorithm.is_some() || self.credential.is_some() || self.signature.is_some()
    }
}

/// See [`super::parse`].
pub(crate) fn parse<'a>(req: &RequestParts<'a>) -> Result<Option<ParsedAuth<'a>>, Error> {
    let known = KnownHeaders::scan(req.headers);
    let (auth_header, more) = known.first_and_more(req.headers, AUTHORIZATION.as_str());
    if more {
        return Err(incomplete("Only one Authorization header is allowed."));
    }
    let params = presigned_params(req.query)?;
    match (auth_header, params.present()) {
        (Some(_), true) => Err(Error::MixedForms),
        (Some(h), false) => {
            let value = super::ascii_str(h).ok_or_else(|| {
                incomplete("The Authorization header contains characters that are not allowed.")
            })?;
            parse_header_form(value, req, known).map(Some)
        }
        (None, true) => parse_presigned(params, known).map(Some),
        (None, false) => Ok(None),
    }
}

fn incomplete(msg: &str) -> Error {
    Error::IncompleteSignature(msg.to_owned())
}

/// Collects the `X-Amz-*` parameters of the query, refusing duplicates.
fn presigned_params(query: &str) -> Result<PresignedParams, Error> {
    let mut p = PresignedParams::default();
    for (count, piece) in query.split('&').filter(|s| !s.is_empty()).enumerate() {
        if count >= MAX_QUERY_PARAMS {
            return Err(incomplete("The query string has too many parameters."));
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        // Cheap pre-filter: every parameter of interest starts with `X-Amz-` (or its escape).
        if !(name.starts_with("X-") || name.starts_with('%')) {
            continue;
        }
        let name = decode(name);
        let slot = match name.as_slice() {
            b"X-Amz-Algorithm" => &mut p.algorithm,
            b"X-Amz-Credential" => &mut p.credential,
            b"X-Amz-Date" => &mut p.date,
            b"X-Amz-Expires" => &mut p.expires,
            b"X-Amz-SignedHeaders" => &mut p.signed_headers,
            b"X-Amz-Signature" => &mut p.signature,
            b"X-Amz-Security-Token" => &mut p.security_token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Error::IncompleteSignature(format!(
                "The query parameter '{}' must appear only once.",
                String::from_utf8_lossy(&name)
            )));
        }
        let value = String::from_utf8(decode(value))
            .map_err(|_| incomplete("A X-Amz-* query parameter is not valid UTF-8."))?;
        *slot = Some(value);
    }
    Ok(p)
}

/// `AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b,
/// Signature=<64 hex>`.
fn parse_header_form<'a>(
    value: &'a str,
    req: &RequestParts<'a>,
    known: KnownHeaders<'a>,
) -> Result<ParsedAuth<'a>, Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(incomplete("The Authorization header is too long."));
    }
    // The value is ASCII (checked by the caller), so ASCII trimming is `trim`, and every byte
    // offset is a character boundary.
    let value = value.trim_ascii();
    let rest = match value.strip_prefix(ALGORITHM) {
        Some(r) if r.is_empty() || r.starts_with([' ', '\t']) => r.trim_ascii(),
        _ => return Err(unsupported_algorithm(value, req, &known)),
    };

    // `key=value` pairs separated by commas, each found with one byte search.
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    let mut pairs = Some(rest);
    while let Some(text) = pairs {
        let (pair, tail) = match split_at_byte(text, b',') {
            Some((p, t)) => (p, Some(t)),
            None => (text, None),
        };
        pairs = tail;
        let pair = pair.trim_ascii();
        if pair.is_empty() {
            continue;
        }
        let Some((k, v)) = split_at_byte(pair, b'=') else {
            return Err(Error::IncompleteSignature(format!(
                "'{}' not a valid key=value pair (missing equal-sign) in Authorization header",
                truncate(pair, 128)
            )));
        };
        let k = k.trim_ascii();
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(Error::IncompleteSignature(format!(
                    "Unsupported parameter '{}' in Authorization header",
                    truncate(other, 64)
                )));
            }
        };
        if slot.is_some() {
            return Err(Error::IncompleteSignature(format!(
                "Authorization header has more than one '{k}' parameter."
            )));
        }
        *slot = Some(v.trim_ascii());
    }

    let date = header_form_date(req, &known)?;
    let no_date = date.is_none();
    let (Some(credential), Some(signed_headers), Some(signature), Some((amz_date, amz))) =
        (credential, signed_headers, signature, date)
    else {
        return Err(missing_parts_error(
            credential.is_none(),
            signature.is_none(),
            signed_headers.is_none(),
            no_date,
            value,
        ));
    };

    let (access_key_id, scope, terminator) = parse_credential(Cow::Borrowed(credential))?;
    let token_header = single_header(req, &known, X_AMZ_SECURITY_TOKEN)?;
    let security_token = token_header
        .map(|v| {
            super::ascii_str(v)
                .map(SecretCow::borrowed)
                .ok_or_else(|| incomplete("The X-Amz-Security-Token header is not valid."))
        })
        .transpose()?;
    Ok(ParsedAuth {
        form: AuthForm::Header,
        access_key_id,
        scope,
        terminator,
        signed_headers: SignedHeaders::parse(signed_headers)?,
        amz_date,
        amz,
        known,
        signature: parse_signature(signature)?,
        security_token,
        expires: None,
    })
}

/// The refusal of an `Authorization` header whose algorithm is not [`ALGORITHM`].
fn unsupported_algorithm<'a>(
    value: &str,
    req: &RequestParts<'a>,
    known: &KnownHeaders<'a>,
) -> Error {
    let algorithm = value.split_once([' ', '\t']).map_or(value, |(a, _)| a);
    if algorithm.starts_with("AWS4-") {
        return Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{}'",
            truncate(algorithm, 64)
        ));
    }
    let no_date = header_form_date(req, known).map_or(true, |d| d.is_none());
    missing_parts_error(true, true, true, no_date, value)
}

/// `s` split around the first `b` (a byte search; `b` is ASCII, so both sides are text).
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(b, s.as_bytes())?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// AWS's combined message naming every missing part of the `Authorization` header.
fn missing_parts_error(
    credential: bool,
    signature: bool,
    signed_headers: bool,
    date: bool,
    header: &str,
) -> Error {
    let mut msg = String::new();
    if credential {
        msg.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if signature {
        msg.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed_headers {
        msg.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if date {
        msg.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    msg.push_str("Authorization=");
    msg.push_str(truncate(header, 64));
    Error::IncompleteSignature(msg)
}

/// The request time in header form, with its `YYYYMMDDTHHMMSSZ` text: `X-Amz-Date` (and its
/// value as sent), else the RFC 1123 `Date` header.
fn header_form_date<'a>(
    req: &RequestParts<'a>,
    known: &KnownHeaders<'a>,
) -> Result<Option<(DateTime<Utc>, AmzDate)>, Error> {
    if let Some(v) = single_header(req, known, X_AMZ_DATE)? {
        let s = super::ascii_str(v).ok_or_else(|| bad_date("(not ASCII)"))?;
        return parse_amz_date_text(s).map(Some);
    }
    if let Some(v) = single_header(req, known, DATE.as_str())? {
        let s = super::ascii_str(v).ok_or_else(|| bad_date("(not ASCII)"))?;
        let t = DateTime::parse_from_rfc2822(s)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| bad_date(s))?;
        return Ok(Some((t, AmzDate::of(&t))));
    }
    Ok(None)
}

fn single_header<'a>(
    req: &RequestParts<'a>,
    known: &KnownHeaders<'a>,
    name: &str,
) -> Result<Option<&'a [u8]>, Error> {
    let (first, more) = known.first_and_more(req.headers, name);
    if more {
        return Err(Error::IncompleteSignature(format!(
            "The header '{name}' must appear only once."
        )));
    }
    Ok(first)
}

/// Parses `YYYYMMDDTHHMMSSZ` strictly (`wire::time::parse_amz_date` checks the shape: sixteen
/// bytes, digits but the `T` and the `Z`).
pub(crate) fn parse_amz_date(s: &str) -> Result<DateTime<Utc>, Error> {
    crate::wire::time::parse_amz_date(s).ok_or_else(|| bad_date(s))
}

/// [`parse_amz_date`], with the text kept: a date it accepts is sixteen digits (but the `T` and
/// the `Z`) of a real calendar date and time, which is exactly how [`AmzDate::of`] writes it, so
/// the signature's date line need not be written again from the parsed time.
fn parse_amz_date_text(s: &str) -> Result<(DateTime<Utc>, AmzDate), Error> {
    let t = parse_amz_date(s)?;
    let text = <[u8; 16]>::try_from(s.as_bytes()).map_or_else(|_| AmzDate::of(&t), AmzDate::Digits);
    Ok((t, text))
}

fn bad_date(s: &str) -> Error {
    Error::IncompleteSignature(format!(
        "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
        truncate(s, 64)
    ))
}

/// The parts of a credential, borrowed from the header or owned (decoded from the query).
type CredentialParts<'a> = (Cow<'a, str>, CredentialScope<'a>, Cow<'a, str>);

/// `AKID/yyyymmdd/region/service/terminator`.
fn parse_credential(cred: Cow<'_, str>) -> Result<CredentialParts<'_>, Error> {
    match cred {
        Cow::Borrowed(c) => split_credential(c),
        Cow::Owned(c) => split_credential(&c).map(|(a, s, t)| {
            let own = |x: Cow<'_, str>| Cow::Owned(x.into_owned());
            (
                own(a),
                CredentialScope {
                    date: own(s.date),
                    region: own(s.region),
                    service: own(s.service),
                },
                own(t),
            )
        }),
    }
}

fn split_credential(cred: &str) -> Result<CredentialParts<'_>, Error> {
    // One plain pass over the (short) credential for its four slashes; a fifth refuses it.
    let five = || {
        let mut cuts = [0_usize; 4];
        let mut found = 0;
        for (i, &b) in cred.as_bytes().iter().enumerate() {
            if b == b'/' {
                *cuts.get_mut(found)? = i;
                found += 1;
            }
        }
        let [a, d, r, s] = cuts;
        (found == 4).then_some(())?;
        Some((
            cred.get(..a)?,
            cred.get(a + 1..d)?,
            cred.get(d + 1..r)?,
            cred.get(r + 1..s)?,
            cred.get(s + 1..)?,
        ))
    };
    let Some((akid, date, region, service, term)) = five() else {
        return Err(Error::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{}'",
            truncate(cred, 128)
        )));
    };
    // The IAM model's AccessKeyId: `[\w]+`, at most 128 characters (AWS's own ids are 20; the
    // published test vectors use `AKIDEXAMPLE`).
    let akid_ok = (1..=128).contains(&akid.len()) && akid.bytes().all(is_key_id_char);
    if !akid_ok {
        return Err(Error::InvalidClientTokenId(INVALID_TOKEN.to_owned()));
    }
    Ok((
        akid.into(),
        CredentialScope {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        },
        term.into(),
    ))
}

/// Whether `b` may appear in an access key id (`[A-Za-z0-9_]`; one table look-up a byte).
fn is_key_id_char(b: u8) -> bool {
    crate::wire::text::in_byte_class!(b, |x| x.is_ascii_alphanumeric() || x == b'_')
}

/// The `SignedHeaders` list, checked: lowercase header-name tokens, no duplicates, at most
/// [`MAX_SIGNED_HEADERS`]. Kept as the text sent (borrowed from the request in header form)
/// and cut at its `;` when read, rather than collected into a vector on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders<'a>(Cow<'a, str>);

impl<'a> SignedHeaders<'a> {
    /// Checks `list` (`a;b;c`).
    ///
    /// # Errors
    /// [`Error::IncompleteSignature`] with AWS's wording for an empty, malformed, repeated or
    /// over-long list.
    pub fn parse(list: impl Into<Cow<'a, str>>) -> Result<Self, Error> {
        let list = list.into();
        check_signed_headers(&list)?;
        Ok(Self(list))
    }

    /// The names, lowercase, in the client's order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + Clone {
        Names(Some(&self.0))
    }

    /// How many names there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Never: a checked list names at least one header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list as sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The names of a list, cut at each `;` (`str::split` by a `char` runs a general searcher;
/// these lists are read on every request).
#[derive(Clone)]
struct Names<'a>(Option<&'a str>);

impl<'a> Iterator for Names<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.0?;
        // Names are short: a plain scan beats setting up a vector search.
        match rest.bytes().position(|b| b == b';') {
            Some(i) => {
                self.0 = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.0 = None;
                Some(rest)
            }
        }
    }
}

/// The checks of [`SignedHeaders::parse`], in one pass over the bytes: each name is checked as
/// it is read and compared with the names before it, which a list in strictly increasing order
/// (as the SDKs sign, sorted) needs only for the one just before.
fn check_signed_headers(list: &str) -> Result<(), Error> {
    let (mut count, mut prev, mut sorted) = (0, "", true);
    // The name `list[start..end]`, whose bytes are all allowed if `chars_ok`.
    let mut finish = |start: usize, end: usize, chars_ok: bool| {
        let name = list.get(start..end).unwrap_or_default();
        if count >= MAX_SIGNED_HEADERS {
            return Err(Error::IncompleteSignature(format!(
                "SignedHeaders lists more than {MAX_SIGNED_HEADERS} headers."
            )));
        }
        if !(chars_ok && !name.is_empty() && name.len() <= MAX_HEADER_NAME) {
            return Err(Error::IncompleteSignature(format!(
                "SignedHeaders contains an invalid header name '{}'.",
                truncate(name, 64)
            )));
        }
        if count > 0 {
            sorted &= precedes(prev, name);
            // Out of order: compared with every name before it (`start` is past a `;`).
            let before = list.get(..start.saturating_sub(1)).unwrap_or_default();
            if !sorted && before.split(';').any(|n| n == name) {
                return Err(Error::IncompleteSignature(format!(
                    "SignedHeaders lists '{name}' more than once."
                )));
            }
        }
        (prev, count) = (name, count + 1);
        Ok(())
    };
    let (mut start, mut chars_ok) = (0, true);
    for (i, &b) in list.as_bytes().iter().enumerate() {
        if b == b';' {
            finish(start, i, chars_ok)?;
            (start, chars_ok) = (i + 1, true);
        } else {
            chars_ok &= is_lower_token_char(b);
        }
    }
    finish(start, list.len(), chars_ok)
}

/// Whether `a` sorts strictly before `b` (header names mostly differ in their first byte).
fn precedes(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

/// Whether `b` may appear in a signed header name: a token character, not upper case (one
/// table look-up: the names are read a byte at a time on every request).
fn is_lower_token_char(b: u8) -> bool {
    crate::wire::text::in_byte_class!(b, |x| super::is_token_char(x) && !x.is_ascii_uppercase())
}

fn parse_signature(s: &str) -> Result<Signature, Error> {
    Signature::from_hex(s).ok_or_else(|| incomplete("Signature must be 64 hexadecimal characters."))
}

/// The presigned (query-parameter) form.
fn parse_presigned(p: PresignedParams, known: KnownHeaders<'_>) -> Result<ParsedAuth<'_>, Error> {
    let (Some(algorithm), Some(credential), Some(signature), Some(date), Some(signed_headers)) = (
        p.algorithm,
        p.credential,
        p.signature,
        p.date,
        p.signed_headers,
    ) else {
        return Err(incomplete(PRESIGNED_MISSING));
    };
    if algorithm != ALGORITHM {
        return Err(Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{}'",
            truncate(&algorithm, 64)
        )));
    }
    let expires = p
        .expires
        .map(|e| {
            if e.is_empty() || e.len() > 10 || !e.bytes().all(|b| b.is_ascii_digit()) {
                return Err(incomplete("X-Amz-Expires should be a number"));
            }
            e.parse::<u64>()
                .map_err(|_| incomplete("X-Amz-Expires should be a number"))
        })
        .transpose()?;
    let (access_key_id, scope, terminator) = parse_credential(Cow::Owned(credential))?;
    let (amz_date, amz) = parse_amz_date_text(&date)?;
    Ok(ParsedAuth {
        form: AuthForm::Presigned,
        access_key_id,
        scope,
        terminator,
        signed_headers: SignedHeaders::parse(signed_headers)?,
        amz_date,
        amz,
        known,
        signature: parse_signature(&signature)?,
        security_token: p.security_token.map(SecretCow::owned),
        expires,
    })
}

/// At most `max` bytes of `s`, cut on a character boundary (for echoing input in messages).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The kept `X-Amz-Date` text is the date written again: what the string to sign and
        /// the scope check used to write from the parsed time.
        #[test]
        fn a_parsed_date_keeps_its_canonical_text(
            s in "[0-9]{4}(0[0-9]|1[0-3])[0-3][0-9]T[0-2][0-9][0-6][0-9][0-6][0-9]Z"
        ) {
            match parse_amz_date_text(&s) {
                Ok((t, text)) => {
                    prop_assert_eq!(text.as_str(), s.as_str());
                    prop_assert_eq!(text, AmzDate::of(&t));
                }
                Err(_) => prop_assert!(parse_amz_date(&s).is_err()),
            }
        }

        /// The one-pass cut is `split('/')` into exactly five parts.
        #[test]
        fn a_credential_is_cut_at_its_four_slashes(cred in "[A-Z0-9_/]{0,12}(/[a-z0-9/-]{0,10}){0,6}") {
            let want: Vec<&str> = cred.split('/').collect();
            match split_credential(&cred) {
                Ok((akid, scope, term)) => {
                    let got = [&*akid, &*scope.date, &*scope.region, &*scope.service, &*term];
                    prop_assert_eq!(want, got.to_vec());
                }
                Err(Error::IncompleteSignature(_)) => prop_assert_ne!(want.len(), 5),
                // Five parts, but not an access key id.
                Err(_) => prop_assert_eq!(want.len(), 5),
            }
        }

        /// The one-pass check (byte search, sorted fast path) decides as the straightforward
        /// one does, with the same message.
        #[test]
        fn signed_headers_check_as_the_plain_rule(list in "([abAB_ é-]{0,3};?){0,8}") {
            let got = check_signed_headers(&list).map_err(|e| e.to_string());
            prop_assert_eq!(got, plain_check(&list).map_err(|e| e.to_string()));
        }

        /// Many names, sorted or not, some repeated.
        #[test]
        fn long_signed_header_lists_check_as_the_plain_rule(
            names in proptest::collection::vec("[a-e]{1,2}", 1..70),
            sort in any::<bool>(),
        ) {
            let mut names = names;
            if sort {
                names.sort();
            }
            let list = names.join(";");
            let got = check_signed_headers(&list).map_err(|e| e.to_string());
            prop_assert_eq!(got, plain_check(&list).map_err(|e| e.to_string()));
        }

        /// The names read back are `split(';')`.
        #[test]
        fn names_are_the_list_split_at_semicolons(list in "[a;]{0,12}") {
            let want: Vec<&str> = list.split(';').collect();
            prop_assert_eq!(Names(Some(&list)).collect::<Vec<_>>(), want);
        }

        #[test]
        fn any_time_round_trips_through_its_text(secs in 0_i64..253_402_300_799_i64) {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let written = AmzDate::of(&t);
            let parsed = parse_amz_date_text(written.as_str()).ok();
            prop_assert_eq!(parsed, Some((t, written)));
        }
    }

    /// The rule of [`check_signed_headers`], written plainly.
    fn plain_check(list: &str) -> Result<(), Error> {
        let names: Vec<&str> = list.split(';').collect();
        for (i, name) in names.iter().enumerate() {
            if i >= MAX_SIGNED_HEADERS {
                return Err(Error::IncompleteSignature(format!(
                    "SignedHeaders lists more than {MAX_SIGNED_HEADERS} headers."
                )));
            }
            let valid = !name.is_empty()
                && name.len() <= MAX_HEADER_NAME
                && name
                    .bytes()
                    .all(|b| crate::sigv4::is_token_char(b) && !b.is_ascii_uppercase());
            if !valid {
                return Err(Error::IncompleteSignature(format!(
                    "SignedHeaders contains an invalid header name '{}'.",
                    truncate(name, 64)
                )));
            }
            if names.get(..i).unwrap_or_default().contains(name) {
                return Err(Error::IncompleteSignature(format!(
                    "SignedHeaders lists '{name}' more than once."
                )));
            }
        }
        Ok(())
    }

    #[test]
    fn the_key_id_table_is_the_word_rule() {
        for b in 0_u8..=255 {
            let want = b.is_ascii_alphanumeric() || b == b'_';
            assert_eq!(is_key_id_char(b), want, "{b:#x}");
        }
    }

    #[test]
    fn the_name_table_is_the_token_rule() {
        for b in 0_u8..=255 {
            let want = crate::sigv4::is_token_char(b) && !b.is_ascii_uppercase();
            assert_eq!(is_lower_token_char(b), want, "{b:#x}");
        }
    }

    #[test]
    fn signed_headers_are_cut_and_checked_in_one_pass() {
        let names =
            |l: &str| SignedHeaders::parse(l).map(|v| v.iter().collect::<Vec<_>>().join(";"));
        assert_eq!(names("host").ok().as_deref(), Some("host"));
        assert_eq!(
            names("content-type;host;x-amz-date").ok().as_deref(),
            Some("content-type;host;x-amz-date")
        );
        for bad in [
            "",
            ";",
            "host;",
            ";host",
            "Host",
            "host;;x",
            "ho st",
            "host;host",
            "a;b;c;b",
            "x-amz-date;host;x-amz-date",
        ] {
            assert!(SignedHeaders::parse(bad).is_err(), "{bad:?}");
        }
        // A name that is a prefix or a suffix of another is not a repeat.
        assert_eq!(names("ab;a;b;bab").ok().as_deref(), Some("ab;a;b;bab"));
        let full = (0..MAX_SIGNED_HEADERS)
            .map(|i| format!("h{i}"))
            .collect::<Vec<_>>()
            .join(";");
        assert_eq!(
            SignedHeaders::parse(full.as_str()).map(|s| s.len()).ok(),
            Some(64)
        );
        let many = vec!["h"; MAX_SIGNED_HEADERS + 1]
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{h}{i}"))
            .collect::<Vec<_>>()
            .join(";");
        let err = SignedHeaders::parse(many.as_str())
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("more than 64")));
        let long = "a".repeat(MAX_HEADER_NAME + 1);
        assert!(SignedHeaders::parse(long.as_str()).is_err());
        assert!(SignedHeaders::parse(&long[1..]).is_ok());
    }

    #[test]
    fn credentials_have_exactly_five_parts() {
        let (akid, scope, term) = split_credential("AKID/20150830/us-east-1/iam/aws4_request")
            .unwrap_or_else(|e| {
                (
                    e.to_string().into(),
                    CredentialScope {
                        date: "".into(),
                        region: "".into(),
                        service: "".into(),
                    },
                    "".into(),
                )
            });
        assert_eq!(
            (
                &*akid,
                &*scope.date,
                &*scope.region,
                &*scope.service,
                &*term
            ),
            ("AKID", "20150830", "us-east-1", "iam", "aws4_request")
        );
        for bad in ["AKID/20150830/us-east-1/iam", "AKID/a/b/c/d/e", "", "///"] {
            assert!(
                matches!(split_credential(bad), Err(Error::IncompleteSignature(_))),
                "{bad:?}"
            );
        }
        for bad_id in ["AK-ID/a/b/c/d", "////"] {
            assert!(
                matches!(
                    split_credential(bad_id),
                    Err(Error::InvalidClientTokenId(_))
                ),
                "{bad_id:?}"
            );
        }
    }
}
