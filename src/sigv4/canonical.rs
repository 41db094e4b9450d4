//! The canonical request and the string to sign (sts-spec.md §4).
//!
//! The canonical request is built as bytes: a signed header may carry non-UTF-8 octets, and a
//! lossy conversion would let two different values share one signature.

use chrono::{DateTime, Utc};

use super::error::Error;
use super::signing_key::push_sha256_hex;
use super::{ALGORITHM, AuthForm, CredentialScope, RequestParts, TERMINATOR};

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
    signed_headers: &[std::borrow::Cow<'_, str>],
) -> Result<Vec<u8>, Error> {
    // Every value of every signed header, in one list; each line takes the next `count`.
    let mut values: Vec<&[u8]> = Vec::with_capacity(signed_headers.len() + 2);
    let mut lines: Vec<(&str, usize)> = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        let before = values.len();
        values.extend(req.headers.get_all(name));
        if values.len() == before {
            return Err(Error::SignatureDoesNotMatch(format!(
                "The header '{name}' is listed in SignedHeaders but absent from the request."
            )));
        }
        lines.push((&**name, values.len() - before));
    }
    Ok(assemble(
        req.method,
        req.path,
        req.query,
        form == AuthForm::Presigned,
        &HeaderLines {
            lines: &lines,
            values: &values,
        },
        &req.body_hash(),
    ))
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
    let mut out = String::with_capacity(
        ALGORITHM.len()
            + 16
            + scope.date.len()
            + scope.region.len()
            + scope.service.len()
            + TERMINATOR.len()
            + 64
            + 8,
    );
    out.push_str(ALGORITHM);
    out.push('\n');
    crate::wire::time::push_amz_date(&mut out, amz_date);
    out.push('\n');
    for part in [&*scope.date, "/", &scope.region, "/", &scope.service, "/"] {
        out.push_str(part);
    }
    out.push_str(TERMINATOR);
    out.push('\n');
    push_sha256_hex(&mut out, canonical_request);
    out
}

/// `YYYYMMDDTHHMMSSZ`.
pub(crate) fn format_amz_date(t: &DateTime<Utc>) -> String {
    crate::wire::time::amz_date(t)
}

/// Joins the six parts, for verifying and for signing alike. `header_lines` holds (lowercase
/// name, raw values) in the order of the signed-headers list; each line is canonicalized
/// straight into the buffer (a session token header alone is ~500 bytes).
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
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    canonical_uri_into(path, &mut out);
    out.push(b'\n');
    out.extend_from_slice(canonical_query(query, presigned).as_bytes());
    out.push(b'\n');
    for (name, values) in header_lines.iter() {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        header_value_into(values.iter().copied(), &mut out);
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in header_lines.names().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// Appends the canonical form of one header to `out`: each value trimmed of spaces and tabs,
/// inner runs of whitespace collapsed to one space, repeated values joined with `,` in arrival
/// order.
fn header_value_into<'v>(values: impl Iterator<Item = &'v [u8]>, out: &mut Vec<u8>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Fast path: nothing to trim or squeeze (the usual case, and always for tokens).
        if !needs_squeeze(v) {
            out.extend_from_slice(v);
            continue;
        }
        let mut pending_space = false;
        let mut started = false;
        for &b in v {
            if b == b' ' || b == b'\t' {
                pending_space = started;
            } else {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
}

/// Whether a header value has a tab, a leading or trailing space, or two spaces in a row.
fn needs_squeeze(v: &[u8]) -> bool {
    let mut prev_space = true;
    for &b in v {
        if b == b'\t' || (b == b' ' && prev_space) {
            return true;
        }
        prev_space = b == b' ';
    }
    prev_space && !v.is_empty()
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

fn canonical_uri_into(raw_path: &str, out: &mut Vec<u8>) {
    // Fast path: an absolute path with nothing to remove (no empty, `.` or `..` segment) is
    // only encoded, segment by segment, without collecting the segments first.
    if let Some(rest) = raw_path.strip_prefix('/')
        && !rest.is_empty()
        && rest.split('/').all(|s| !matches!(s, "" | "." | ".."))
    {
        for seg in rest.split('/') {
            out.push(b'/');
            encode_into(seg.as_bytes(), out);
        }
        return;
    }
    normalized_uri_into(raw_path, out);
}

/// [`canonical_uri_into`] the long way: segments collected, dot segments applied.
fn normalized_uri_into(raw_path: &str, out: &mut Vec<u8>) {
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
    out.push(b'/');
    for (i, seg) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        encode_into(seg.as_bytes(), out);
    }
    if trailing && !segments.is_empty() {
        out.push(b'/');
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

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// AWS URI encoding: unreserved characters as they are, every other byte as uppercase `%XX`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
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

    proptest::proptest! {
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
