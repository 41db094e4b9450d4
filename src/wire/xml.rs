//! A small XML writer for AWS Query responses. Text and attribute values are always escaped,
//! and the writer never emits a character XML 1.0 forbids (§2.2 `Char`): such a character is
//! written as U+FFFD, since XML 1.0 forbids it even as a character reference. Inputs are
//! validated before they are stored; this is the defence in depth that keeps one bad value
//! from breaking every listing that contains it.

/// Namespace of STS responses.
pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Namespace of IAM responses.
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// Builds an XML document.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// A writer with the XML declaration written.
    #[must_use]
    pub fn new() -> Self {
        Self {
            out: String::with_capacity(1024),
        }
    }

    /// Continues writing after existing XML text (trusted, already escaped).
    #[must_use]
    pub fn from_string(out: String) -> Self {
        Self { out }
    }

    /// Appends trusted, already-escaped XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    /// Opens an element.
    pub fn start(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// Opens an element with an `xmlns` attribute.
    pub fn start_ns(&mut self, tag: &str, ns: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push_str(" xmlns=\"");
        escape_into(&mut self.out, ns);
        self.out.push_str("\">");
        self
    }

    /// Closes an element.
    pub fn end(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>`.
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.start(tag);
        escape_into(&mut self.out, text);
        self.end(tag)
    }

    /// `<tag>text</tag>` when `text` is present; nothing otherwise.
    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    /// The document.
    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'`; writes a carriage return as `&#xD;` (a raw one would
/// be read back as a line feed) and a character outside XML 1.0's `Char` production as U+FFFD.
pub fn escape_into(out: &mut String, s: &str) {
    // Scanned a word at a time (tokens and secrets, most of an answer, are plain ASCII); only
    // a byte that may need care is looked at as a character.
    let mut rest = s;
    while let Some(i) = first_care(rest.as_bytes()) {
        let (plain, tail) = rest.split_at(i);
        out.push_str(plain);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

/// The position of the first byte of `b` that [`may_need_care`]. Words of eight bytes with
/// none of them are passed over whole; the test of a word may report one that has none (a
/// tab, a line feed, or after a byte that does), never miss one, so a reported word is then
/// looked at a byte at a time.
fn first_care(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let v = u64::from_le_bytes(w);
        // The five markup characters in three masked compares, each matching two bytes:
        // `x & 0xFB == 0x22` is `"` or `&`, `x & 0xFE == 0x26` is `&` or `'`, and
        // `x & 0xFD == 0x3C` is `<` or `>`.
        let hits = (v.wrapping_sub(LO * 0x20) & !v & HI)
            | zero((v & (LO * 0xFB)) ^ (LO * u64::from(b'"')))
            | zero((v & (LO * 0xFE)) ^ (LO * u64::from(b'&')))
            | zero((v & (LO * 0xFD)) ^ (LO * u64::from(b'<')))
            | zero(v ^ (LO * 0xEF));
        if hits != 0
            && let Some(p) = chunk.iter().position(|&c| may_need_care(c))
        {
            return Some(i + p);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| may_need_care(c))
        .map(|p| p + i)
}

/// A byte that may start a character [`escape_into`] does not copy as it is: the five markup
/// characters, a carriage return, a control character XML 1.0 forbids, or `0xEF`, which starts
/// the UTF-8 form of U+FFFE and U+FFFF (every other non-ASCII character is allowed).
fn may_need_care(b: u8) -> bool {
    // Always in bounds (a u8 indexes a 256-entry table); the fallback is never taken.
    CARE.get(usize::from(b)).copied().unwrap_or(true)
}

/// [`may_need_care`] as a table, computed once (the answer's tokens are scanned a byte at a
/// time, and a load is cheaper than the comparisons).
#[expect(
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    reason = "b < 256: a const loop over the table's indexes"
)]
static CARE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = matches!(c, b'&' | b'<' | b'>' | b'"' | b'\'' | b'\r' | 0xEF)
            || (c < 0x20 && c != b'\t' && c != b'\n');
        b += 1;
    }
    t
};

/// XML 1.0 `Char`: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`
/// (a Rust `char` is never a surrogate).
#[must_use]
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Formats a time the way AWS Query responses do (`2026-11-22T19:04:05Z`).
#[must_use]
pub fn iso8601(t: chrono::DateTime<chrono::Utc>) -> String {
    super::time::iso8601(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_aws_shape() {
        let t = chrono::DateTime::from_timestamp(1_795_434_902, 123_000_000).unwrap_or_default();
        assert_eq!(iso8601(t), "2026-11-23T11:55:02Z");
    }

    #[test]
    fn word_scan_finds_the_first_byte_a_byte_scan_finds() {
        for c in 0u8..=255 {
            for len in [1usize, 7, 8, 9, 16, 21] {
                for pos in 0..len {
                    let mut b = vec![b'A'; len];
                    if let Some(x) = b.get_mut(pos) {
                        *x = c;
                    }
                    let want = b.iter().position(|&x| may_need_care(x));
                    assert_eq!(first_care(&b), want, "byte {c:#x} at {pos} of {len}");
                }
            }
        }
        // A tab (reported by the word test, copied as is) before a real one in the same word.
        assert_eq!(first_care(b"ab\tcd&efgh"), Some(5));
        assert_eq!(first_care(b"ab\tcdefgh<"), Some(9));
        assert_eq!(first_care(b""), None);
    }

    proptest::proptest! {
        /// Any bytes, most of them near the markup characters and the thresholds.
        #[test]
        fn word_scan_agrees_with_the_byte_scan(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"\t\n\r \"#$%&'()<=>?\x00\x1f\xa2\xa6\xbc\xef\xff".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..40,
            ),
        ) {
            let want = b.iter().position(|&x| may_need_care(x));
            proptest::prop_assert_eq!(first_care(&b), want);
        }
    }

    #[test]
    fn escapes() {
        let mut w = XmlWriter::new();
        w.start_ns("R", STS_NS)
            .elem("A", "<&\"'>")
            .opt("B", None)
            .end("R");
        assert_eq!(
            w.finish(),
            "<R xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><A>&lt;&amp;&quot;&apos;&gt;</A></R>"
        );
    }

    #[test]
    fn never_writes_a_character_xml_forbids() {
        let mut w = XmlWriter::new();
        w.elem(
            "D",
            "x\u{1}y\u{b}z\u{0}\u{1f}\t\n\r\u{7f}é\u{fffe}\u{ffff}\u{10000}",
        );
        let out = w.finish();
        assert_eq!(
            out,
            "<D>x\u{FFFD}y\u{FFFD}z\u{FFFD}\u{FFFD}\t\n&#xD;\u{7f}é\u{FFFD}\u{FFFD}\u{10000}</D>"
        );
        assert!(out.chars().all(is_xml_char));
    }

    #[test]
    fn the_byte_scan_agrees_with_a_character_scan() {
        // Characters whose UTF-8 form starts with 0xEF but are allowed pass through unchanged.
        let allowed = "\u{ef00}\u{ff45}\u{fffd}\u{f8ff} a&b<c>d\"e'f";
        let mut out = String::new();
        escape_into(&mut out, allowed);
        assert_eq!(
            out,
            "\u{ef00}\u{ff45}\u{fffd}\u{f8ff} a&amp;b&lt;c&gt;d&quot;e&apos;f"
        );
        // Every character of the first 0x11000 and a few above, against the definition.
        for c in (0..0x1_1000u32)
            .chain([0x10_FFFF])
            .filter_map(char::from_u32)
        {
            let mut got = String::new();
            escape_into(&mut got, &c.to_string());
            let want = match c {
                '&' => "&amp;".to_owned(),
                '<' => "&lt;".to_owned(),
                '>' => "&gt;".to_owned(),
                '"' => "&quot;".to_owned(),
                '\'' => "&apos;".to_owned(),
                '\r' => "&#xD;".to_owned(),
                c if is_xml_char(c) => c.to_string(),
                _ => "\u{FFFD}".to_owned(),
            };
            assert_eq!(got, want, "U+{:04X}", u32::from(c));
        }
    }
}
