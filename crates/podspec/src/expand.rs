//! The kubelet's `$(VAR)` expansion, used for env values, command and args.
//!
//! Rules (from the kubelet's forked `expansion` package):
//! - `$(NAME)` becomes the value of NAME; an unknown NAME stays `$(NAME)`.
//! - `$$` is an escaped `$`: `$$(NAME)` gives the literal `$(NAME)`.
//! - `$(` without a closing `)` and `$` before any other character stay as written.

/// Expands `$(VAR)` references in `s`. `vars` returns `None` for an unknown
/// variable, which then stays verbatim.
pub fn expand(s: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&s[checkpoint..cursor]);
            let rest = &s[cursor + 1..];
            // How many bytes after the `$` this operator consumed.
            let advance = match bytes[cursor + 1] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match vars(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    let next = rest.chars().next().map_or(1, char::len_utf8);
                    out.push('$');
                    out.push_str(&rest[..next]);
                    next
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < s.len() {
        out.push_str(&s[checkpoint..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "VAR_A" => Some("A".into()),
            "VAR_B" => Some("B".into()),
            "VAR_C" => Some("C".into()),
            "VAR_REF" => Some("$(VAR_A)".into()),
            "VAR_EMPTY" => Some(String::new()),
            "" => None,
            _ => None,
        }
    }

    #[test]
    fn table() {
        // Cases follow the upstream expansion test table.
        let cases: &[(&str, &str)] = &[
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)-1", "A-1"),
            ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("foo\\$(VAR_C)bar", "foo\\Cbar"),
            ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
            ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$(VAR_A", "$(VAR_A"),
            ("$(", "$("),
            ("$", "$"),
            ("foo$", "foo$"),
            ("$VAR_A", "$VAR_A"),
            ("$()", "$()"),
            ("$(VAR_A)$", "A$"),
            ("f$oo", "f$oo"),
            ("$é(VAR_A)", "$é(VAR_A)"),
            ("no refs here", "no refs here"),
            ("", ""),
            ("$(VAR_A)(", "A("),
            ("$(VAR_A))", "A)"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &lookup), *want, "expand({input:?})");
        }
    }
}
