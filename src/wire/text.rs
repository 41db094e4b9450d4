//! Text joined into a buffer the caller holds (on its stack, or inline in a value), for the
//! short strings a request builds only to read or to copy once more: no `String` allocated.

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
