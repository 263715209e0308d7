//! Key ranges for prefix lists and watches.
//!
//! Keys compare as raw UTF-8 bytes everywhere (Rust `str` order and SQLite's
//! BINARY collation agree), so "all keys with this prefix" is the half-open
//! byte range `[prefix, prefix_end(prefix))`.

use crate::ListOptions;

/// The smallest byte string greater than every string starting with `prefix`,
/// or `None` when there is no upper bound (empty prefix).
pub(crate) fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        // UTF-8 never contains 0xFF, but stay correct for any byte string.
        if last < 0xFF {
            bytes.push(last + 1);
            return Some(bytes);
        }
    }
    None
}

/// Where a list starts: either at the prefix itself (inclusive) or strictly
/// after the pagination cursor, whichever is later.
pub(crate) enum ListStart<'a> {
    AtOrAfter(&'a str),
    After(&'a str),
}

pub(crate) fn list_start(opts: &ListOptions) -> ListStart<'_> {
    match opts.start_after.as_deref() {
        Some(cursor) if cursor >= opts.prefix.as_str() => ListStart::After(cursor),
        _ => ListStart::AtOrAfter(&opts.prefix),
    }
}

/// The effective limit: `None` or 0 mean "everything".
pub(crate) fn effective_limit(opts: &ListOptions) -> Option<usize> {
    opts.limit.filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(
            prefix_end("/registry/pods/"),
            Some(b"/registry/pods0".to_vec())
        );
        assert_eq!(prefix_end(""), None);
        // Every key under the prefix sorts below the end, a sibling does not.
        let end = prefix_end("/a/").unwrap_or_default();
        assert!(b"/a/\xef\xbf\xbf".as_slice() < end.as_slice());
        assert!(b"/a0".as_slice() >= end.as_slice());
    }

    #[test]
    fn list_start_uses_the_later_bound() {
        let mut opts = ListOptions {
            prefix: "/p/".into(),
            ..Default::default()
        };
        assert!(matches!(list_start(&opts), ListStart::AtOrAfter("/p/")));
        opts.start_after = Some("/p/b".into());
        assert!(matches!(list_start(&opts), ListStart::After("/p/b")));
        opts.start_after = Some("/a".into());
        assert!(matches!(list_start(&opts), ListStart::AtOrAfter("/p/")));
    }
}
