//! The lines waiting for the audit writer, in one buffer.

/// Lines in one buffer, each ending in a newline, as the sink writes them: a request copies its
/// line in (no allocation per event once the buffers have grown, none freed on another thread),
/// and the writer takes the whole buffer, leaving its own emptied one in its place.
#[derive(Debug, Default)]
pub(super) struct Batch {
    bytes: Vec<u8>,
    /// Where each line ends (past its newline).
    ends: Vec<usize>,
}

/// Capacity an emptied batch keeps; a larger one (after a burst or an outage) is given back.
pub(super) const RETAIN_BYTES: usize = 4 << 20;

impl Batch {
    /// Appends `line` and its newline.
    pub(super) fn push(&mut self, line: &[u8]) {
        self.bytes.reserve(line.len() + 1);
        self.bytes.extend_from_slice(line);
        self.bytes.push(b'\n');
        self.ends.push(self.bytes.len());
    }

    /// Lines held.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Where line `i` starts.
    fn start(&self, i: usize) -> usize {
        i.checked_sub(1)
            .and_then(|p| self.ends.get(p).copied())
            .unwrap_or(0)
    }

    /// Lines `from..to`, newlines included.
    pub(super) fn span(&self, from: usize, to: usize) -> &[u8] {
        let end = if to == 0 {
            0
        } else {
            self.ends.get(to - 1).copied().unwrap_or(self.bytes.len())
        };
        self.bytes.get(self.start(from)..end).unwrap_or_default()
    }

    /// The length of line `i`, newline included.
    pub(super) fn line_len(&self, i: usize) -> usize {
        self.ends.get(i).map_or(0, |&e| e - self.start(i))
    }

    /// Drops the first `n` lines (those written).
    pub(super) fn drop_front(&mut self, n: usize) {
        if n >= self.len() {
            self.clear();
            return;
        }
        let cut = self.start(n);
        self.bytes.drain(..cut);
        self.ends.drain(..n);
        for e in &mut self.ends {
            *e -= cut;
        }
    }

    /// Moves `other`'s lines after these (only while the sink holds lines it could not write).
    pub(super) fn append(&mut self, other: &mut Self) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
        other.clear();
    }

    fn clear(&mut self) {
        if self.bytes.capacity() > RETAIN_BYTES {
            *self = Self::default();
        } else {
            self.bytes.clear();
            self.ends.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn a_batch_keeps_its_lines_whole_through_drops_and_appends() {
        let mut b = Batch::default();
        assert!(b.is_empty());
        assert_eq!(b.span(0, 0), b"");
        for l in ["a", "bb", "", "dddd"] {
            b.push(l.as_bytes());
        }
        assert_eq!(b.len(), 4);
        assert_eq!(b.span(0, 4), b"a\nbb\n\ndddd\n");
        assert_eq!(b.span(1, 3), b"bb\n\n");
        assert_eq!(b.span(2, 2), b"");
        assert_eq!(
            (0..4).map(|i| b.line_len(i)).collect::<Vec<_>>(),
            [2, 3, 1, 5]
        );
        b.drop_front(2);
        assert_eq!(b.len(), 2);
        assert_eq!(b.span(0, 2), b"\ndddd\n");
        assert_eq!(b.line_len(1), 5);
        let mut more = Batch::default();
        more.push(b"ee");
        b.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(b.span(0, 3), b"\ndddd\nee\n");
        assert_eq!(b.span(2, 3), b"ee\n");
        b.drop_front(3);
        assert!(b.is_empty() && b.bytes.is_empty());
        // A buffer grown past RETAIN_BYTES is given back once emptied.
        b.push(&vec![b'x'; RETAIN_BYTES + 1]);
        b.drop_front(1);
        assert_eq!(b.bytes.capacity(), 0);
    }
}
