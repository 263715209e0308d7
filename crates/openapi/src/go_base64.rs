//! Where Go's `base64.StdEncoding.Decode` gives up on a `[]byte` field's
//! string (Secret `data`): encoding/json reports that error verbatim,
//! "illegal base64 data at input byte 4".

/// The offset Go's `CorruptInputError` names, or None when `src` decodes.
/// Follows `decodeQuantum`: padding required, `\r` and `\n` skipped
/// anywhere, nothing allowed after the padding.
pub(crate) fn corrupt_input_offset(src: &[u8]) -> Option<usize> {
    let is_newline = |c: u8| c == b'\n' || c == b'\r';
    let mut si = 0;
    while si < src.len() {
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                // Input ended inside a quantum: padding was required.
                return (j != 0).then(|| si - j);
            }
            let c = src[si];
            si += 1;
            if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' {
                return Some(si - 1);
            }
            match j {
                0 | 1 => return Some(si - 1),
                2 => {
                    // "==" expected; the first is consumed.
                    while si < src.len() && is_newline(src[si]) {
                        si += 1;
                    }
                    if si == src.len() {
                        return Some(src.len());
                    }
                    if src[si] != b'=' {
                        return Some(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && is_newline(src[si]) {
                si += 1;
            }
            // Anything after the padding is trailing garbage.
            return (si < src.len()).then_some(si);
        }
    }
    None
}

/// Go's `CorruptInputError.Error()`.
pub(crate) fn corrupt_input_message(offset: usize) -> String {
    format!("illegal base64 data at input byte {offset}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_go() {
        for ok in [
            "",
            "aGVsbG8=",
            "aGVsbG8h",
            "aGk=",
            "YQ==",
            "aGVs\nbG8=",
            "YQ=\n=",
        ] {
            assert_eq!(corrupt_input_offset(ok.as_bytes()), None, "{ok:?}");
        }
        for (bad, at) in [
            ("hello", 4),    // 5 chars: the quantum "o" ends early
            ("abc", 0),      // no padding
            ("ab$d", 2),     // illegal character
            ("a===", 1),     // padding after one character
            ("YQ=", 3),      // second "=" missing
            ("YQ=a", 2),     // wrong second padding character
            ("YWI=YQ==", 4), // data after padding
            ("not base64!", 3),
        ] {
            assert_eq!(corrupt_input_offset(bad.as_bytes()), Some(at), "{bad:?}");
        }
    }
}
