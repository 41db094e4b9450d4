//! Where a canonical request or a string to sign is written, and the stack buffer in front of
//! a hash.

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::signing_key::HmacSha256;

/// Where a canonical request or a string to sign is written: a buffer (to return it), or
/// straight into the hash or MAC that consumes it, so verifying a request builds neither (a
/// session token header alone is ~1 KB).
pub(crate) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

impl Sink for HmacSha256 {
    fn put(&mut self, bytes: &[u8]) {
        Mac::update(self, bytes);
    }
}

impl<S: Sink> Sink for &mut S {
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }
}

/// Size of a [`Buffered`] sink's buffer: a whole string to sign, and the canonical request of
/// a typical Query API call, fit in it.
const BUFFERED: usize = 256;

/// A sink fed through a buffer on the stack: a canonical request arrives in many small pieces
/// (a newline, a colon, a header name), each of which would otherwise be one call into the
/// hash's own block buffer (and one `memcpy`); pieces longer than the buffer (a session token)
/// go straight through.
pub(crate) struct Buffered<S: Sink> {
    inner: S,
    buf: [u8; BUFFERED],
    len: usize,
}

impl<S: Sink> Buffered<S> {
    /// An empty buffer in front of `inner`.
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            buf: [0; BUFFERED],
            len: 0,
        }
    }

    /// Writes out what is buffered and gives back the sink.
    pub(crate) fn finish(mut self) -> S {
        self.flush();
        self.inner
    }

    fn flush(&mut self) {
        if let Some(pending) = self.buf.get(..self.len)
            && !pending.is_empty()
        {
            self.inner.put(pending);
        }
        self.len = 0;
    }
}

impl<S: Sink> Sink for Buffered<S> {
    fn put(&mut self, bytes: &[u8]) {
        // A separator: one byte, stored without a copy call.
        if let [b] = bytes
            && let Some(slot) = self.buf.get_mut(self.len)
        {
            *slot = *b;
            self.len += 1;
            return;
        }
        let end = self.len + bytes.len();
        if let Some(room) = self.buf.get_mut(self.len..end) {
            room.copy_from_slice(bytes);
            self.len = end;
            return;
        }
        self.flush();
        match self.buf.get_mut(..bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.inner.put(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn buffering_writes_the_same_bytes(
            pieces in proptest::collection::vec(proptest::collection::vec(0_u8..=255, 0..600), 0..12)
        ) {
            let mut direct = Vec::new();
            let mut buffered = Buffered::new(Vec::new());
            for p in &pieces {
                direct.put(p);
                buffered.put(p);
            }
            proptest::prop_assert_eq!(buffered.finish(), direct);
        }
    }
}
