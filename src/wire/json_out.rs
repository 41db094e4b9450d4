//! JSON written straight into a buffer, byte for byte as `serde_json`'s compact writer
//! writes it, without its per-byte escaping loop: for the audit line and the `/verify`
//! answer, written on every request.

use serde_json::Value;

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it: `"`, `\` and the
/// control characters below U+0020 (as `\b \t \n \f \r` or `\u00XX`); everything else as is.
#[inline]
pub fn str_into(out: &mut Vec<u8>, s: &str) {
    utf8_into(out, s.as_bytes());
}

/// [`str_into`] for the bytes of a `str` held as bytes (text kept inline, whose `str` view would
/// be validated again).
pub(crate) fn utf8_into(out: &mut Vec<u8>, mut rest: &[u8]) {
    out.reserve(rest.len() + 2);
    out.push(b'"');
    // Plain runs are copied whole; only the bytes that must be escaped are looked at alone.
    while let Some(i) = first_escape(rest) {
        let (plain, tail) = rest.split_at(i);
        out.extend_from_slice(plain);
        let Some((&c, after)) = tail.split_first() else {
            break;
        };
        escape_into(out, c);
        rest = after;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The position of the first byte of `b` a JSON string cannot hold as it is. Eight bytes at a
/// time: a word's lowest mark is exact (see [`escape_marks`]), and the last few bytes are
/// tested as the (overlapping) last word, whose bytes before them were found plain already.
#[inline]
fn first_escape(b: &[u8]) -> Option<usize> {
    let word = |i: usize| -> Option<u64> {
        let w: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(w))
    };
    let first_mark = |m: u64| (m.trailing_zeros() / 8) as usize;
    let mut i = 0;
    while let Some(w) = word(i) {
        let m = escape_marks(w);
        if m != 0 {
            return Some(i + first_mark(m));
        }
        i += 8;
    }
    if i == b.len() {
        return None;
    }
    if let Some(last) = b.len().checked_sub(8) {
        let m = escape_marks(word(last)?);
        return (m != 0).then(|| last + first_mark(m));
    }
    // Shorter than a word.
    b.iter().position(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// Appends the escape of `c`, a byte [`first_escape`] found.
#[inline]
fn escape_into(out: &mut Vec<u8>, c: u8) {
    let short = match c {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => 0,
    };
    if short == 0 {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(b"\\u00");
        // `c` is below 0x20: both digits index the table.
        out.push(HEX.get(usize::from(c >> 4)).copied().unwrap_or(b'0'));
        out.push(HEX.get(usize::from(c & 0xf)).copied().unwrap_or(b'0'));
    } else {
        out.extend_from_slice(&[b'\\', short]);
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The bytes of the little-endian word `w` that a JSON string cannot hold as they are (a quote,
/// a backslash or a control character), marked by their high bit. The lowest mark is exact (a
/// borrow can mark bytes after a marked one, never before), so it is the first such byte.
#[inline]
pub(crate) fn escape_marks(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    below_space | zero(w ^ (LO * u64::from(b'"'))) | zero(w ^ (LO * u64::from(b'\\')))
}

/// Appends a JSON value as serde_json writes it (compact; object members in the map's order).
pub fn value_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => bool_into(out, *b),
        // Numbers are rare in audit elements; serde_json formats them.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => str_into(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value_into(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            out.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                str_into(out, k);
                out.push(b':');
                value_into(out, x);
            }
            out.push(b'}');
        }
    }
}

/// Appends an integer.
pub fn int_into(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut digits = [0u8; 20];
    let mut v = n.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            // `v % 10` is below 10.
            *d = b'0' + u8::try_from(v % 10).unwrap_or(0);
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(i..).unwrap_or_default());
}

/// Appends `true` or `false`.
pub fn bool_into(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Appends a string, or `null` for `None`.
pub fn opt_str_into(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str_into(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// An object being written: members comma-separated as they come.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Opens an object.
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    /// Writes the member's name (`key` is written as is: the names here need no escaping)
    /// and returns the buffer for its value.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, key: &str, v: &str) {
        str_into(self.key(key), v);
    }

    /// Closes the object.
    pub fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn serde_str(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain ascii text, longer than eight bytes".into(),
            "quote \" and backslash \\ at odd places\"\\".into(),
            "日本語のテキスト with é and 🦀 and \u{7f} and \u{2028}".into(),
            "/slashes/are/not/escaped/".into(),
        ];
        // Every byte below 0x80 at every position of a 20-byte string.
        for c in 0u8..0x80 {
            for pos in [0usize, 3, 7, 8, 9, 15, 16, 19] {
                let mut s = "abcdefghijklmnopqrst".to_owned().into_bytes();
                if let Some(b) = s.get_mut(pos) {
                    *b = c;
                }
                cases.push(String::from_utf8(s).unwrap());
            }
        }
        // Markup passes as is; runs of escapes, and every length around the word size.
        cases.push("</script><script>alert('x')</script>".into());
        cases.push("\"\\\n\r\t\u{8}\u{c}\u{0}\u{1b}".repeat(3));
        for len in 0..=33 {
            let plain: String = "aé\"b\\c\u{1}d🦀e".chars().cycle().take(len).collect();
            cases.push(plain);
            cases.push("x".repeat(len) + "\n");
        }
        // Bytes that are special only at word boundaries or near the thresholds.
        cases.push("\u{1f}\u{20}\u{21}\u{22}\u{23}\u{5b}\u{5c}\u{5d}\u{80}\u{ff}".into());
        for s in &cases {
            let mut out = Vec::new();
            str_into(&mut out, s);
            assert_eq!(out, serde_str(s), "{s:?}");
        }
    }

    proptest::proptest! {
        /// Any text, and text made mostly of the bytes near the escape thresholds.
        #[test]
        fn any_string_escapes_as_serde_json_does(
            s in "\\PC*|[\\x00-\\x23\\x5b-\\x5d a-z\u{e9}\u{1f980}]{0,40}",
        ) {
            let mut out = b"x".to_vec();
            str_into(&mut out, &s);
            proptest::prop_assert_eq!(&out[1..], &serde_str(&s)[..]);
        }
    }

    #[test]
    fn integers_write_as_serde_json_does() {
        for n in [
            0i64,
            1,
            -1,
            9,
            10,
            99,
            100,
            1_795_434_902,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            int_into(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&n).unwrap(), "{n}");
        }
    }

    #[test]
    fn values_write_as_serde_json_does() {
        let v = serde_json::json!({
            "b": [1, -2, 3.5, 1e300, true, false, null, "x\ny"],
            "a": {"nested": {"deep": "\u{0}"}, "empty": {}, "list": []},
            "assumedRoleUser": {"arn": "arn:aws:sts::1:assumed-role/r/s"}
        });
        let mut out = Vec::new();
        value_into(&mut out, &v);
        assert_eq!(out, serde_json::to_vec(&v).unwrap());
    }
}
