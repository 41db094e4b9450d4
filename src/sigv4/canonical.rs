//! The canonical request and the string to sign (sts-spec.md §4).
//!
//! The canonical request is built as bytes: a signed header may carry non-UTF-8 octets, and a
//! lossy conversion would let two different values share one signature.

use chrono::{DateTime, Utc};

use super::error::Error;
use super::signing_key::sha256_hex;
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
    let mut lines: Vec<(&str, Vec<&[u8]>)> = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        let values: Vec<&[u8]> = req.headers.get_all(name).collect();
        if values.is_empty() {
            return Err(Error::SignatureDoesNotMatch(format!(
                "The header '{name}' is listed in SignedHeaders but absent from the request."
            )));
        }
        lines.push((&**name, values));
    }
    Ok(assemble(
        req.method,
        req.path,
        req.query,
        form == AuthForm::Presigned,
        &lines,
        &req.body_hash(),
    ))
}

/// The string to sign: algorithm, timestamp, scope and the hash of the canonical request.
#[must_use]
pub fn string_to_sign(
    amz_date: &DateTime<Utc>,
    scope: &CredentialScope<'_>,
    canonical_request: &[u8],
) -> String {
    let date = format_amz_date(amz_date);
    let digest = sha256_hex(canonical_request);
    let parts = [
        ALGORITHM,
        "\n",
        &date,
        "\n",
        &scope.date,
        "/",
        &scope.region,
        "/",
        &scope.service,
        "/",
        TERMINATOR,
        "\n",
        &digest,
    ];
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
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
    header_lines: &[(&str, Vec<&[u8]>)],
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + path.len() + query.len() + 64 * header_lines.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    canonical_uri_into(path, &mut out);
    out.push(b'\n');
    out.extend_from_slice(canonical_query(query, presigned).as_bytes());
    out.push(b'\n');
    for (name, values) in header_lines {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        header_value_into(values.iter().copied(), &mut out);
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, (name, _)) in header_lines.iter().enumerate() {
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
    }
}
