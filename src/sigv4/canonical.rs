//! The canonical request and the string to sign (sts-spec.md §4).
//!
//! The canonical request is built as bytes: a signed header may carry non-UTF-8 octets, and a
//! lossy conversion would let two different values share one signature.

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};

use super::error::Error;
use super::known::{KnownHeaders, Seen};
use super::signing_key::{hex_val, hex32};
use super::sink::{Buffered, Sink};
use super::{ALGORITHM, AuthForm, CredentialScope, RequestParts, SignedHeaders, TERMINATOR};

/// The presigned-form parameter that carries the signature; it is left out of the canonical
/// query.
pub(crate) const SIGNATURE_PARAM: &[u8] = b"X-Amz-Signature";

/// The canonical request for `req`, covering exactly `signed_headers` (lowercase names, in the
/// order the client listed them). In the presigned form the `X-Amz-Signature` parameter is left
/// out of the query. The payload line is the SHA-256 of the body in both forms (STS has no
/// `UNSIGNED-PAYLOAD`).
///
/// # Errors
/// [`Error::SignatureDoesNotMatch`] when a signed header is absent from the request.
pub fn canonical_request(
    req: &RequestParts<'_>,
    form: AuthForm,
    signed_headers: &SignedHeaders<'_>,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256 + req.path.len() + 2 * req.query.len());
    write_canonical_request(&mut out, req, form, signed_headers)?;
    Ok(out)
}

/// The SHA-256 of [`canonical_request`], the request never built: each part is fed to the
/// hash as it is read from the request. `known` holds values the parser already found (and
/// found once): they are not looked up again.
///
/// # Errors
/// As [`canonical_request`].
pub(crate) fn canonical_request_hash(
    req: &RequestParts<'_>,
    form: AuthForm,
    signed_headers: &SignedHeaders<'_>,
    known: &KnownHeaders<'_>,
) -> Result<[u8; 32], Error> {
    let mut hash = Buffered::new(Sha256::new());
    write_canonical_request_with(&mut hash, req, form, signed_headers, known)?;
    Ok(hash.finish().finalize().into())
}

/// Writes the canonical request of `req` into `out`.
fn write_canonical_request(
    out: &mut impl Sink,
    req: &RequestParts<'_>,
    form: AuthForm,
    signed_headers: &SignedHeaders<'_>,
) -> Result<(), Error> {
    write_canonical_request_with(out, req, form, signed_headers, &KnownHeaders::default())
}

/// [`write_canonical_request`], taking the `known` header values as they are.
fn write_canonical_request_with(
    out: &mut impl Sink,
    req: &RequestParts<'_>,
    form: AuthForm,
    signed_headers: &SignedHeaders<'_>,
    known: &KnownHeaders<'_>,
) -> Result<(), Error> {
    write_head(
        out,
        req.method,
        req.path,
        req.query,
        form == AuthForm::Presigned,
    );
    for name in signed_headers.iter() {
        out.put(name.as_bytes());
        out.put(b":");
        let count = match known.get(req.headers, name) {
            // Seen once (or not at all) by the parser's pass over these very headers.
            Some(Seen { first, more: false }) => header_value_into(first.into_iter(), out),
            _ => header_value_into(req.headers.get_all(name), out),
        };
        if count == 0 {
            return Err(Error::SignatureDoesNotMatch(format!(
                "The header '{name}' is listed in SignedHeaders but absent from the request."
            )));
        }
        out.put(b"\n");
    }
    // The list as sent is its names joined with `;`.
    write_tail(
        out,
        signed_headers.as_str().as_bytes(),
        req.payload_hash_hex().as_bytes(),
    );
    Ok(())
}

/// The first three lines: method, canonical URI, canonical query.
fn write_head(out: &mut impl Sink, method: &str, path: &str, query: &str, presigned: bool) {
    out.put(method.as_bytes());
    out.put(b"\n");
    canonical_uri_into(path, out);
    out.put(b"\n");
    if !query.is_empty() {
        out.put(canonical_query(query, presigned).as_bytes());
    }
    out.put(b"\n");
}

/// The blank line after the header lines, the signed-headers list (`a;b;c`) and the payload
/// hash.
fn write_tail(out: &mut impl Sink, names: &[u8], payload_hash: &[u8]) {
    out.put(b"\n");
    out.put(names);
    out.put(b"\n");
    out.put(payload_hash);
}

/// The signed headers' lines: (lowercase name, how many of `values` are its values), in the
/// order of the signed-headers list. Names are borrowed (verifying) or owned (signing).
pub(crate) struct HeaderLines<'a, N: AsRef<str> = &'a str> {
    pub(crate) lines: &'a [(N, usize)],
    pub(crate) values: &'a [&'a [u8]],
}

impl<N: AsRef<str>> HeaderLines<'_, N> {
    /// The names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|(name, _)| name.as_ref())
    }

    /// Each name with its values.
    fn iter(&self) -> impl Iterator<Item = (&str, &[&[u8]])> {
        let mut rest = self.values;
        self.lines.iter().map(move |(name, n)| {
            let (mine, others) = rest.split_at((*n).min(rest.len()));
            rest = others;
            (name.as_ref(), mine)
        })
    }
}

/// The string to sign: algorithm, timestamp, scope and the hash of the canonical request.
#[must_use]
pub fn string_to_sign(
    amz_date: &DateTime<Utc>,
    scope: &CredentialScope<'_>,
    canonical_request: &[u8],
) -> String {
    let mut out = Vec::with_capacity(
        ALGORITHM.len()
            + 16
            + scope.date.len()
            + scope.region.len()
            + scope.service.len()
            + TERMINATOR.len()
            + 64
            + 8,
    );
    write_string_to_sign(
        &mut out,
        AmzDate::of(amz_date).as_bytes(),
        scope,
        &Sha256::digest(canonical_request).into(),
    );
    // Only the scope's text and ASCII are written, so this never copies.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Writes the string to sign, given the request time as `YYYYMMDDTHHMMSSZ` ([`AmzDate`]) and
/// the SHA-256 of the canonical request, into `out` (the signing MAC, when verifying).
pub(crate) fn write_string_to_sign(
    out: &mut impl Sink,
    amz_date: &[u8],
    scope: &CredentialScope<'_>,
    canonical_request_hash: &[u8; 32],
) {
    out.put(ALGORITHM.as_bytes());
    out.put(b"\n");
    out.put(amz_date);
    out.put(b"\n");
    for part in [&*scope.date, "/", &scope.region, "/", &scope.service, "/"] {
        out.put(part.as_bytes());
    }
    out.put(TERMINATOR.as_bytes());
    out.put(b"\n");
    out.put(&hex32(canonical_request_hash));
}

/// `YYYYMMDDTHHMMSSZ`, on the stack for the years SigV4 can carry (four digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AmzDate {
    /// Years 0 to 9999.
    Digits([u8; 16]),
    /// Any other year, as chrono writes it.
    Other(String),
}

impl AmzDate {
    /// `t`'s form.
    pub(crate) fn of(t: &DateTime<Utc>) -> Self {
        let year = t.year();
        let Ok(year @ 0..=9999) = u32::try_from(year) else {
            return Self::Other(crate::wire::time::amz_date(t));
        };
        let mut out = *b"00000000T000000Z";
        let fields = [
            (0, 4, year),
            (4, 2, t.month()),
            (6, 2, t.day()),
            (9, 2, t.hour()),
            (11, 2, t.minute()),
            (13, 2, t.second()),
        ];
        for (at, width, mut n) in fields {
            for i in (at..at + width).rev() {
                if let Some(d) = out.get_mut(i) {
                    // `n % 10` is below 10, so the cast cannot truncate.
                    *d = b'0' + (n % 10) as u8;
                }
                n /= 10;
            }
        }
        Self::Digits(out)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Digits(d) => std::str::from_utf8(d).unwrap_or_default(),
            Self::Other(s) => s,
        }
    }

    /// The bytes (as they lie: no UTF-8 check on the way to the MAC).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Digits(d) => d,
            Self::Other(s) => s.as_bytes(),
        }
    }
}

/// `YYYYMMDDTHHMMSSZ`.
pub(crate) fn format_amz_date(t: &DateTime<Utc>) -> String {
    crate::wire::time::amz_date(t)
}

/// Joins the six parts, for signing (tests, the load generator). `header_lines` holds
/// (lowercase name, raw values) in the order of the signed-headers list.
pub(crate) fn assemble(
    method: &str,
    path: &str,
    query: &str,
    presigned: bool,
    header_lines: &HeaderLines<'_, impl AsRef<str>>,
    payload_hash: &str,
) -> Vec<u8> {
    let values: usize = header_lines.values.iter().map(|v| v.len() + 1).sum();
    let names: usize = header_lines.names().map(|n| 2 * n.len() + 2).sum();
    let mut out =
        Vec::with_capacity(64 + path.len() + 2 * query.len() + values + names + payload_hash.len());
    write_head(&mut out, method, path, query, presigned);
    for (name, values) in header_lines.iter() {
        out.put(name.as_bytes());
        out.put(b":");
        header_value_into(values.iter().copied(), &mut out);
        out.put(b"\n");
    }
    let names = header_lines.names().collect::<Vec<_>>().join(";");
    write_tail(&mut out, names.as_bytes(), payload_hash.as_bytes());
    out
}

/// Appends the canonical form of one header to `out`: each value trimmed of spaces and tabs,
/// inner runs of whitespace collapsed to one space, repeated values joined with `,` in arrival
/// order. Returns how many values there were.
fn header_value_into<'v>(values: impl Iterator<Item = &'v [u8]>, out: &mut impl Sink) -> usize {
    let mut count = 0;
    for v in values {
        if count > 0 {
            out.put(b",");
        }
        count += 1;
        // Fast path: nothing to trim or squeeze (the usual case, and always for tokens).
        if !needs_squeeze(v) {
            out.put(v);
            continue;
        }
        let words = v
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        for (i, word) in words.enumerate() {
            if i > 0 {
                out.put(b" ");
            }
            out.put(word);
        }
    }
    count
}

/// Whether a header value has a tab, a leading or trailing space, or two spaces in a row
/// (found by jumping from blank to blank: values are long, blanks rare).
fn needs_squeeze(v: &[u8]) -> bool {
    if v.first() == Some(&b' ') || v.last() == Some(&b' ') {
        return true;
    }
    let mut rest = v;
    while let Some(i) = memchr::memchr2(b' ', b'\t', rest) {
        match rest.get(i..).unwrap_or_default() {
            [b'\t', ..] | [b' ', b' ', ..] => return true,
            [_, tail @ ..] => rest = tail,
            [] => break,
        }
    }
    false
}

/// The canonical URI: the raw path with dot segments and empty segments removed (RFC 3986
/// §5.2.4, keeping a trailing slash), then every byte outside `A-Za-z0-9-_.~/` percent-encoded.
/// Because the raw path is already encoded on the wire, this is AWS's "double encoding" for
/// non-S3 services: `%20` on the wire becomes `%2520`.
#[must_use]
pub fn canonical_uri(raw_path: &str) -> String {
    let mut out = Vec::new();
    canonical_uri_into(raw_path, &mut out);
    // Only ASCII is ever written, so this never copies.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn canonical_uri_into(raw_path: &str, out: &mut impl Sink) {
    // The path of every Query API request.
    if raw_path == "/" {
        out.put(b"/");
        return;
    }
    // Fast path: an absolute path with nothing to remove (no empty, `.` or `..` segment) is
    // only encoded, segment by segment, without collecting the segments first.
    if let Some(rest) = raw_path.strip_prefix('/')
        && !rest.is_empty()
        && rest.split('/').all(|s| !matches!(s, "" | "." | ".."))
    {
        for seg in rest.split('/') {
            out.put(b"/");
            encode_into(seg.as_bytes(), out);
        }
        return;
    }
    normalized_uri_into(raw_path, out);
}

/// [`canonical_uri_into`] the long way: segments collected, dot segments applied.
fn normalized_uri_into(raw_path: &str, out: &mut impl Sink) {
    let mut segments: Vec<&str> = Vec::new();
    for seg in raw_path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = raw_path.ends_with('/')
        || raw_path.ends_with("/.")
        || raw_path.ends_with("/..")
        || raw_path == "."
        || raw_path == "..";
    out.put(b"/");
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.put(b"/");
        }
        encode_into(seg.as_bytes(), out);
    }
    if trailing && !segments.is_empty() {
        out.put(b"/");
    }
}

/// The canonical query: each `name=value` pair URI-decoded (`+` is a space, as the query parser
/// reads it) and re-encoded with AWS's encoding, sorted by encoded name then value; pairs with
/// no `=` get an empty value; empty pairs are skipped.
#[must_use]
pub fn canonical_query(raw_query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for piece in raw_query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(name);
        if presigned && name == SIGNATURE_PARAM {
            continue;
        }
        let mut enc_name = Vec::with_capacity(name.len());
        encode_into(&name, &mut enc_name);
        let mut enc_value = Vec::new();
        encode_into(&decode(value), &mut enc_value);
        pairs.push((enc_name, enc_value));
    }
    pairs.sort_unstable();
    let mut out = Vec::new();
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(n);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    // Only ASCII is ever written, so this never copies.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Query-component decoding: `+` is a space, `%XX` a byte; a `%` not followed by two hex
/// digits stands for itself.
pub(crate) fn decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_val);
                let lo = bytes.get(i + 2).copied().and_then(hex_val);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

/// AWS URI encoding: unreserved characters as they are (copied a run at a time), every other
/// byte as uppercase `%XX`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut impl Sink) {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    let mut rest = bytes;
    while !rest.is_empty() {
        let run = rest
            .iter()
            .position(|&b| !unreserved(b))
            .unwrap_or(rest.len());
        let (plain, tail) = rest.split_at(run);
        if !plain.is_empty() {
            out.put(plain);
        }
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        out.put(&[b'%', hex_digit(b >> 4), hex_digit(b & 0x0f)]);
        rest = tail;
    }
}

/// An uppercase hex digit for `n < 16`.
fn hex_digit(n: u8) -> u8 {
    if n < 10 { b'0' + n } else { b'A' + n - 10 }
}

/// `encode_into` for a string.
pub(crate) fn encode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    encode_into(s.as_bytes(), &mut out);
    // Percent-encoding leaves only ASCII, so this never copies.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_normalisation_and_double_encoding() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/.", "/a/b/"),
            ("/../a", "/a"),
            ("/example space/", "/example%20space/"),
            ("/example%20space/", "/example%2520space/"),
            ("/ሴ", "/%E1%88%B4"),
            ("/a+b=c:d", "/a%2Bb%3Dc%3Ad"),
            ("/-_.~", "/-_.~"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_uri(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn query_decode_reencode_sort() {
        let cases = [
            ("", ""),
            ("Param1=value1", "Param1=value1"),
            ("Param2=value2&Param1=value1", "Param1=value1&Param2=value2"),
            ("b=2&a", "a=&b=2"),
            ("a=2&a=1", "a=1&a=2"),
            ("a=x+y&b=x%20y", "a=x%20y&b=x%20y"),
            ("a=%2b&b=%2B", "a=%2B&b=%2B"),
            ("a=%zz&b=%4", "a=%25zz&b=%254"),
            ("&&a=1&", "a=1"),
            ("%7E=%41", "~=A"),
            (
                "Param-3=V3&Param=V2&%E1%88%B4=V1",
                "%E1%88%B4=V1&Param=V2&Param-3=V3",
            ),
            ("a=b=c", "a=b%3Dc"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_query(raw, false), want, "{raw:?}");
        }
        assert_eq!(canonical_query("X-Amz-Signature=ab&a=1", true), "a=1");
        assert_eq!(
            canonical_query("X-Amz-Signature=ab&a=1", false),
            "X-Amz-Signature=ab&a=1"
        );
    }

    fn header_value<'v>(values: impl Iterator<Item = &'v [u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        header_value_into(values, &mut out);
        out
    }

    #[test]
    fn header_values_trimmed_collapsed_joined() {
        let v = header_value([&b"  a   b \t c  "[..], b"d", b"\t"].into_iter());
        assert_eq!(v, b"a b c,d,");
    }

    #[test]
    fn the_streamed_hash_is_the_built_requests() -> Result<(), Error> {
        let mut h = http::HeaderMap::new();
        h.insert("host", http::HeaderValue::from_static("sts.amazonaws.com"));
        h.append("x-multi", http::HeaderValue::from_static("  a   b "));
        h.append("x-multi", http::HeaderValue::from_static("c\td"));
        let names = SignedHeaders::parse("host;x-multi")?;
        for (path, query) in [("/", ""), ("/a b/../c%2F", "b=2&a=%7e&X-Amz-Signature=s")] {
            let req = RequestParts {
                method: "GET",
                path,
                query,
                headers: (&h).into(),
                body: b"body",
                payload_hash: None,
            };
            for form in [AuthForm::Header, AuthForm::Presigned] {
                let built = canonical_request(&req, form, &names).unwrap_or_default();
                let hash: [u8; 32] = Sha256::digest(&built).into();
                assert_eq!(
                    canonical_request_hash(&req, form, &names, &KnownHeaders::default()).ok(),
                    Some(hash)
                );
            }
        }
        let absent = SignedHeaders::parse("host;x-absent")?;
        let req = RequestParts {
            method: "GET",
            path: "/",
            query: "",
            headers: (&h).into(),
            body: b"",
            payload_hash: Some("UNSIGNED-PAYLOAD"),
        };
        assert!(
            canonical_request_hash(&req, AuthForm::Header, &absent, &KnownHeaders::default())
                .is_err()
        );
        Ok(())
    }

    /// The values the parser's pass saw give the hash a look-up gives, and a pass over other
    /// headers is not used for this request's.
    #[test]
    fn scanned_header_values_give_the_looked_up_hash() -> Result<(), Error> {
        let mut h = http::HeaderMap::new();
        h.insert("host", http::HeaderValue::from_static("sts.amazonaws.com"));
        h.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20250101T000000Z"),
        );
        h.insert(
            "x-amz-security-token",
            http::HeaderValue::from_static("tok en"),
        );
        h.append("content-type", http::HeaderValue::from_static("a"));
        h.append("content-type", http::HeaderValue::from_static("b"));
        let names = SignedHeaders::parse("content-type;host;x-amz-date;x-amz-security-token")?;
        let req = RequestParts {
            method: "POST",
            path: "/",
            query: "",
            headers: (&h).into(),
            body: b"Action=GetCallerIdentity",
            payload_hash: None,
        };
        let built: [u8; 32] =
            Sha256::digest(canonical_request(&req, AuthForm::Header, &names)?).into();
        let hash = |known: &KnownHeaders<'_>| {
            canonical_request_hash(&req, AuthForm::Header, &names, known)
        };
        assert_eq!(hash(&KnownHeaders::default())?, built);
        assert_eq!(hash(&KnownHeaders::scan(req.headers))?, built);
        let mut other = h.clone();
        other.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20250101T000001Z"),
        );
        other.insert("host", http::HeaderValue::from_static("evil"));
        assert_eq!(hash(&KnownHeaders::scan((&other).into()))?, built);
        // Scanned as absent: refused as a look-up refuses it.
        let mut no_host = h.clone();
        no_host.remove("host");
        let req = RequestParts {
            headers: (&no_host).into(),
            ..req
        };
        let known = KnownHeaders::scan(req.headers);
        assert!(canonical_request_hash(&req, AuthForm::Header, &names, &known).is_err());
        Ok(())
    }

    #[test]
    fn header_values_are_counted() {
        let mut out = Vec::new();
        assert_eq!(header_value_into(std::iter::empty(), &mut out), 0);
        assert_eq!(
            header_value_into([&b"a"[..], b" b "].into_iter(), &mut out),
            2
        );
        assert_eq!(out, b"a,b");
    }

    #[test]
    fn amz_date_on_the_stack_is_chronos() {
        for secs in [
            0,
            1,
            951_782_400,
            1_329_264_000,
            1_767_225_599,
            253_402_300_799,
        ] {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            assert_eq!(AmzDate::of(&t).as_str(), format_amz_date(&t), "{secs}");
        }
        // Beyond four-digit years chrono's text is kept.
        let far = DateTime::from_timestamp(253_402_300_800, 0).unwrap_or_default();
        assert_eq!(AmzDate::of(&far).as_str(), format_amz_date(&far));
        assert!(matches!(AmzDate::of(&far), AmzDate::Other(_)));
    }

    #[test]
    fn uri_encoding_runs_match_byte_by_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut runs = Vec::new();
        encode_into(&all, &mut runs);
        let mut bytes = Vec::new();
        for &b in &all {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                bytes.push(b);
            } else {
                bytes.extend_from_slice(format!("%{b:02X}").as_bytes());
            }
        }
        assert_eq!(runs, bytes);
    }

    proptest::proptest! {
        #[test]
        fn amz_date_agrees_with_chrono(secs in 0_i64..253_402_300_800) {
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let ours = AmzDate::of(&t);
            proptest::prop_assert_eq!(ours.as_str(), format_amz_date(&t));
        }

        #[test]
        fn squeeze_test_agrees_with_the_plain_rule(v in "[ \tab]{0,12}") {
            let b = v.as_bytes();
            let plain = b.first() == Some(&b' ')
                || b.last() == Some(&b' ')
                || b.contains(&b'\t')
                || b.windows(2).any(|w| w == b"  ");
            proptest::prop_assert_eq!(needs_squeeze(b), plain);
        }

        #[test]
        fn fast_path_agrees_with_trim_and_squeeze(v in "[ \tab]{0,12}") {
            // Reference: SigV4's rule written plainly: trim, then squeeze runs of blanks.
            let words: Vec<&str> = v.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let expected = words.join(" ");
            proptest::prop_assert_eq!(header_value([v.as_bytes()].into_iter()), expected.into_bytes());
        }

        #[test]
        fn uri_fast_path_agrees_with_normalization(p in "[/a.%2 ]{0,12}") {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            canonical_uri_into(&p, &mut fast);
            normalized_uri_into(&p, &mut slow);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
