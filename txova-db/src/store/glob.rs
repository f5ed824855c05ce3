//! Redis glob patterns (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), matched the way Redis's
//! `stringmatchlen` does, so `delete_pattern` means the same on the embedded store as
//! on a server.

/// The glob that matches exactly the keys starting with `prefix`: its special
/// characters escaped, then `*`.
#[cfg(any(feature = "redis", test))]
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '^') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    pattern
}

/// Whether `text` matches the Redis glob `pattern`.
pub(crate) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index).
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    backtrack = Some((p, t));
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pattern, p, text[t])
                        && matched
                    {
                        p = next;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                // An escaped character that differs: no match here.
                b'\\' if p + 1 < pattern.len() => {}
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match &mut backtrack {
            Some((bp, bt)) => {
                *bt += 1;
                p = *bp;
                t = *bt;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class starting at `pattern[start] == b'['`: whether it
/// matched, and the index after the closing `]`.
fn class(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(i)? {
            b']' => break,
            b'\\' => {
                matched |= *pattern.get(i + 1)? == c;
                i += 2;
            }
            &lo if pattern.get(i + 1) == Some(&b'-')
                && pattern.get(i + 2).is_some_and(|&hi| hi != b']') =>
            {
                let hi = pattern[i + 2];
                let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                matched |= (lo..=hi).contains(&c);
                i += 3;
            }
            &other => {
                matched |= other == c;
                i += 1;
            }
        }
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{matches, prefix_pattern};

    proptest! {
        /// An escaped prefix matches exactly the keys that start with it, whatever
        /// glob characters it holds.
        #[test]
        fn a_prefix_pattern_matches_exactly_its_prefix(
            prefix in "[a-c*?\\[\\]\\\\^-]{0,6}",
            key in "[a-c*?\\[\\]\\\\^-]{0,8}",
        ) {
            let pattern = prefix_pattern(&prefix);
            prop_assert_eq!(matches(pattern.as_bytes(), key.as_bytes()), key.starts_with(&prefix));
            let extended = format!("{prefix}{key}");
            prop_assert!(matches(pattern.as_bytes(), extended.as_bytes()));
        }
    }

    #[test]
    fn follows_redis_glob_rules() {
        let cases: &[(&str, &str, bool)] = &[
            ("user:*", "user:1", true),
            ("user:*", "user:", true),
            ("user:*", "users:1", false),
            ("*", "", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-c]llo", "hbllo", true),
            ("h[a-c]llo", "hdllo", false),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("\\x", "\\", false),
            ("*:profile:*", "user:profile:42", true),
            ("*a*b", "xaxxb", true),
            ("*a*b", "xaxxc", false),
            ("ride:%2A", "ride:%2A", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                *expected,
                "{pattern} ~ {text}"
            );
        }
    }
}
