//! Small text tools of the request path: text joined into a buffer the caller holds (on its
//! stack, or inline in a value), for the short strings a request builds only to read or to copy
//! once more (no `String` allocated); and byte classes checked by one table look-up.

/// `parts` joined at the front of `buf`, as text; `None` when they do not fit.
pub fn join_into<'b>(parts: &[&str], buf: &'b mut [u8]) -> Option<&'b mut str> {
    let mut len = 0;
    for p in parts {
        let end = len + p.len();
        buf.get_mut(len..end)?.copy_from_slice(p.as_bytes());
        len = end;
    }
    // Whole `str`s joined are UTF-8: this always succeeds.
    std::str::from_utf8_mut(buf.get_mut(..len)?).ok()
}

/// Whether the byte `$b` is in the class `|$x| $pred` describes: one look-up in a 256-entry
/// table built at compile time (these classes are checked a byte at a time on every request).
macro_rules! in_byte_class {
    ($b:expr, |$x:ident| $pred:expr) => {{
        const TABLE: [bool; 256] = {
            let mut t = [false; 256];
            let mut i = 0;
            while i < 256 {
                // `i` is below 256, so the cast cannot truncate.
                #[expect(
                    clippy::indexing_slicing,
                    reason = "constant evaluation: an index out of bounds fails the build"
                )]
                {
                    let $x = i as u8;
                    t[i] = $pred;
                }
                i += 1;
            }
            t
        };
        TABLE.get(usize::from($b)).copied().unwrap_or(false)
    }};
}
pub(crate) use in_byte_class;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn joins_as_concat_does_when_it_fits(
            parts in proptest::collection::vec(".{0,12}", 0..6),
            room in 0_usize..64,
        ) {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let whole = parts.concat();
            let mut buf = vec![0_u8; room];
            let got = join_into(&parts, &mut buf).map(|s| s.to_owned());
            if whole.len() <= room {
                prop_assert_eq!(got, Some(whole));
            } else {
                prop_assert_eq!(got, None);
            }
        }
    }
}
