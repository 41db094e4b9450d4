//! `application/x-www-form-urlencoded` decoding, exactly as `form_urlencoded` decodes, written
//! straight into the one text buffer [`super::Params`] keeps (no string per name or value).

/// The non-empty `&`-separated parts of `raw`.
pub(super) fn pairs(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let (part, next) = match memchr::memchr(b'&', rest) {
                Some(i) => (rest.get(..i)?, rest.get(i + 1..)?),
                None => (rest, &b""[..]),
            };
            rest = next;
            if !part.is_empty() {
                return Some(part);
            }
        }
    })
}

/// One `name=value` part cut at its first `=` (no `=`: the value is empty).
pub(super) fn split_pair(pair: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'=', pair) {
        Some(i) => (
            pair.get(..i).unwrap_or_default(),
            pair.get(i + 1..).unwrap_or_default(),
        ),
        None => (pair, &b""[..]),
    }
}

/// Appends `part` decoded to `out`: `+` → space and `%XX` → the byte, then UTF-8 with
/// replacement, as `form_urlencoded` decodes a part (it replaces `+` first, so a `%2B` stays
/// `+`). A part with neither `%` nor `+` — most of a signed request, and all of a JWT — is only
/// checked for UTF-8 (vectorised) and copied; otherwise runs between escapes are copied whole
/// into `scratch` (a SAML response is 10 KB of base64 whose `+`, `/` and `=` arrive
/// percent-encoded), which the caller keeps across parts so it is allocated once.
pub(super) fn decode_into(part: &[u8], out: &mut String, scratch: &mut Vec<u8>) {
    if !has_escapes(part) {
        push_utf8(part, out);
        return;
    }
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    scratch.clear();
    let mut rest = part;
    while let Some(i) = memchr::memchr2(b'%', b'+', rest) {
        scratch.extend_from_slice(rest.get(..i).unwrap_or_default());
        let step = if rest.get(i) == Some(&b'+') {
            scratch.push(b' ');
            1
        } else if let (Some(h), Some(l)) = (hex(rest.get(i + 1)), hex(rest.get(i + 2))) {
            // Two hex digits: at most 0xff.
            scratch.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
            3
        } else {
            scratch.push(b'%');
            1
        };
        rest = rest.get(i + step..).unwrap_or_default();
    }
    scratch.extend_from_slice(rest);
    push_utf8(scratch, out);
}

/// Whether a part holds a `%` or a `+`. Short parts (names, most values) are scanned plainly:
/// for them the vectorised search's set-up costs more than the scan.
pub(super) fn has_escapes(part: &[u8]) -> bool {
    if part.len() <= 32 {
        part.iter().any(|&b| b == b'%' || b == b'+')
    } else {
        memchr::memchr2(b'%', b'+', part).is_some()
    }
}

/// Appends `bytes` as text: the vectorised check first (`from_utf8_lossy` walks chunk by chunk
/// even when nothing needs replacing), the replacing one only for invalid UTF-8.
fn push_utf8(bytes: &[u8], out: &mut String) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}
