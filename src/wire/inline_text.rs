//! Text held inline when it is short: the short strings a request copies into a value that
//! lives a little while (an audit event's action name and source address, the memo's store keys)
//! without a heap allocation each; longer text is a `String`.

/// Text of at most `N` bytes (`N` < 256) inline, longer text on the heap.
#[derive(Clone)]
pub struct InlineText<const N: usize>(Repr<N>);

#[derive(Clone)]
enum Repr<const N: usize> {
    /// The first `len` bytes of `buf`, UTF-8 (written from whole `str`s, or ASCII lowered in
    /// place), checked again where they are read as text.
    Inline { buf: [u8; N], len: u8 },
    /// Longer text.
    Heap(String),
}

impl<const N: usize> InlineText<N> {
    /// `s`, inline when it fits.
    #[must_use]
    pub fn new(s: &str) -> Self {
        Self::inline_with(|buf| {
            let dst = buf.get_mut(..s.len())?;
            dst.copy_from_slice(s.as_bytes());
            Some(s.len())
        })
        .unwrap_or_else(|| Self(Repr::Heap(s.to_owned())))
    }

    /// The text `write` puts at the front of an `N`-byte buffer (it returns the length, or
    /// `None` when the text does not fit); `write` must leave UTF-8 there (whole `str`s, ASCII
    /// changed in place), else the text reads as empty.
    pub fn inline_with(write: impl FnOnce(&mut [u8; N]) -> Option<usize>) -> Option<Self> {
        let mut buf = [0; N];
        let len = write(&mut buf).filter(|&n| n <= N)?;
        Some(Self(Repr::Inline {
            buf,
            len: u8::try_from(len).ok()?,
        }))
    }

    /// Whether the text is held inline.
    #[must_use]
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Written as UTF-8 (see `inline_with`): the fallback is never taken.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }

    /// The text's bytes, not checked again (for writers that copy them as they are).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { buf, len } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Repr::Heap(s) => s.as_bytes(),
        }
    }
}

impl<const N: usize> From<String> for InlineText<N> {
    fn from(s: String) -> Self {
        Self(Repr::Heap(s))
    }
}

impl<const N: usize> std::ops::Deref for InlineText<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> std::fmt::Debug for InlineText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> serde::Serialize for InlineText<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn holds_any_length_whole_inline_up_to_its_bound() {
        for s in [
            String::new(),
            "127.0.0.1".into(),
            "x".repeat(8),
            "y".repeat(9),
            "é".repeat(4),
            "é".repeat(5),
        ] {
            let t = InlineText::<8>::new(&s);
            assert_eq!(&*t, s.as_str());
            assert_eq!(t.as_bytes(), s.as_bytes());
            assert_eq!(t.is_inline(), s.len() <= 8, "{s}");
            assert_eq!(format!("{t:?}"), format!("{s:?}"));
        }
    }

    #[test]
    fn a_writer_that_does_not_fit_or_overstates_is_refused() {
        assert!(InlineText::<4>::inline_with(|_| None).is_none());
        assert!(InlineText::<4>::inline_with(|_| Some(5)).is_none());
        let t = InlineText::<4>::inline_with(|b| {
            b.get_mut(..2).unwrap().copy_from_slice(b"ok");
            Some(2)
        })
        .unwrap();
        assert_eq!(&*t, "ok");
        // Bytes that are not UTF-8 read as empty text, never as something else.
        let bad = InlineText::<4>::inline_with(|b| {
            b[0] = 0xff;
            Some(1)
        })
        .unwrap();
        assert_eq!(&*bad, "");
        assert_eq!(
            &*InlineText::<4>::from(String::from("on the heap")),
            "on the heap"
        );
    }
}
