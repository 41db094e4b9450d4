//! `application/x-www-form-urlencoded` decoding, exactly as `form_urlencoded` decodes, written
//! straight into the one text buffer [`super::Params`] keeps (no string per name or value).

use super::Span;

/// A non-empty `&`-separated part of a body or query string: where its name and its value are
/// (`start..name_end` and `value_start..end`; without `=` the value is empty).
#[derive(Debug, Clone, Copy)]
pub(super) struct Part {
    pub start: usize,
    pub name_end: usize,
    pub value_start: usize,
    pub end: usize,
}

/// The non-empty `&`-separated parts of `raw`, in order.
pub(super) fn parts(raw: &[u8]) -> impl Iterator<Item = Part> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let rest = raw.get(at..).filter(|r| !r.is_empty())?;
            let start = at;
            let end = memchr::memchr(b'&', rest).map_or(raw.len(), |i| start + i);
            at = end + 1;
            if end == start {
                continue;
            }
            let part = raw.get(start..end).unwrap_or_default();
            let (name_end, value_start) = match find_equals(part) {
                Some(i) => (start + i, start + i + 1),
                None => (end, end),
            };
            return Some(Part {
                start,
                name_end,
                value_start,
                end,
            });
        }
    })
}

/// The first `=` of a part: scanned plainly in a short part (for it the vectorised search's
/// set-up costs more than the scan).
fn find_equals(part: &[u8]) -> Option<usize> {
    if part.len() <= 32 {
        part.iter().position(|&b| b == b'=')
    } else {
        memchr::memchr(b'=', part)
    }
}

/// A body or query string decoded piece by piece, in order, into the text buffer of
/// [`super::Params`]. Its UTF-8 is checked once for the whole (vectorised) and, when valid, it is
/// copied into the buffer whole, so a piece without escapes — most of a signed request, and all
/// of a JWT — is only located there, not copied again. Escapes (`%`, `+`) are found by one
/// forward vectorised search; pieces with escapes are decoded through `scratch` (allocated
/// once) and appended.
pub(super) struct Decoder<'a> {
    raw: &'a [u8],
    /// Where the copy of `raw` starts in the buffer, when `raw` is valid UTF-8.
    base: Option<usize>,
    /// The first escape at or after the last piece searched (`raw.len()`: none).
    next_escape: usize,
    scratch: Vec<u8>,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `raw` into `out`.
    pub(super) fn new(raw: &'a [u8], out: &mut String) -> Self {
        let next_escape = memchr::memchr2(b'%', b'+', raw).unwrap_or(raw.len());
        let valid = std::str::from_utf8(raw).ok();
        // What the pieces need (a hint: replacement characters may need more): the copy and
        // the pieces from the first escape on, decoded; or every piece, decoded.
        out.reserve(match valid {
            Some(_) => raw.len() + (raw.len() - next_escape),
            None => raw.len(),
        });
        let base = valid.map(|s| {
            let b = out.len();
            out.push_str(s);
            b
        });
        Self {
            raw,
            base,
            next_escape,
            scratch: Vec::new(),
        }
    }

    /// `raw[start..end]` decoded: where it is in `out` (in the copy of `raw`, or appended).
    /// Pieces must come in increasing order.
    pub(super) fn decode(&mut self, start: usize, end: usize, out: &mut String) -> Span {
        let raw = self.raw;
        if self.next_escape < start {
            self.next_escape = raw
                .get(start..)
                .and_then(|r| memchr::memchr2(b'%', b'+', r))
                .map_or(raw.len(), |i| start + i);
        }
        if self.next_escape >= end
            && let Some(b) = self.base
        {
            return Span {
                start: b + start,
                end: b + end,
            };
        }
        let at = out.len();
        let piece = raw.get(start..end).unwrap_or_default();
        if self.next_escape >= end {
            push_utf8(piece, out);
        } else {
            decode_escaped(piece, out, &mut self.scratch);
        }
        Span {
            start: at,
            end: out.len(),
        }
    }
}

/// Appends `piece` decoded: `+` → space and `%XX` → the byte, then UTF-8 with replacement, as
/// `form_urlencoded` decodes a part (it replaces `+` first, so a `%2B` stays `+`); runs between
/// escapes are copied whole (a SAML response is 10 KB of base64 whose `+`, `/` and `=` arrive
/// percent-encoded).
fn decode_escaped(piece: &[u8], out: &mut String, scratch: &mut Vec<u8>) {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    scratch.clear();
    let mut rest = piece;
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

/// Appends `bytes` as text: the vectorised check first (`from_utf8_lossy` walks chunk by chunk
/// even when nothing needs replacing), the replacing one only for invalid UTF-8.
fn push_utf8(bytes: &[u8], out: &mut String) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}
