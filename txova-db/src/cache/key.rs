//! [`CacheKey`]: `service:entity:id` keys whose user-supplied parts cannot change the
//! key's shape.

use std::fmt::{self, Display, Write as _};

/// Builds a cache key from fixed segments and escaped user-supplied parts.
///
/// Fixed text ([`CacheKey::new`], [`literal`](CacheKey::literal)) is written as given;
/// parts ([`part`](CacheKey::part)) are escaped so that a separator (`:`), a glob
/// character (`*`, `?`, `[`, `]`), a backslash, a cluster hash tag (`{`, `}`), `%`,
/// whitespace or a control character cannot split the key, match other keys in
/// `delete_pattern`, or pin it to a slot. Escaping is percent-encoding (`:` becomes
/// `%3A`), so distinct parts give distinct keys.
///
/// ```
/// use txova_db::cache::CacheKey;
///
/// let key = CacheKey::new("user:profile").part(42).finish();
/// assert_eq!(key, "user:profile:42");
///
/// let hostile = CacheKey::new("user:profile").part("1:*").finish();
/// assert_eq!(hostile, "user:profile:1%3A%2A");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    key: String,
}

impl CacheKey {
    /// A key starting with the fixed `prefix` (e.g. `"user:profile"`).
    pub fn new(prefix: &str) -> Self {
        Self {
            key: prefix.to_owned(),
        }
    }

    /// An empty key, for the macros, which add literal text and parts in turn.
    #[doc(hidden)]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            key: String::with_capacity(capacity),
        }
    }

    /// Appends `:` and the escaped `part`.
    pub fn part(mut self, part: impl Display) -> Self {
        self.key.push(':');
        self.push_escaped(&part);
        self
    }

    /// Appends fixed text as given.
    pub fn literal(mut self, text: &str) -> Self {
        self.key.push_str(text);
        self
    }

    /// Appends fixed text (for the macros).
    #[doc(hidden)]
    pub fn push_literal(&mut self, text: &str) {
        self.key.push_str(text);
    }

    /// Appends an escaped part with no separator (for the macros: the separator is in
    /// the key template).
    #[doc(hidden)]
    pub fn push_part<T: Display + ?Sized>(&mut self, part: &T) {
        self.push_escaped(part);
    }

    fn push_escaped<T: Display + ?Sized>(&mut self, part: &T) {
        let mut escaper = Escaper { out: &mut self.key };
        // Writing into a String cannot fail; a Display impl that errors leaves what it
        // wrote so far.
        let _ = write!(escaper, "{part}");
    }

    /// The key.
    pub fn finish(self) -> String {
        self.key
    }

    /// The key so far.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

impl Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// Whether `c` is escaped inside a part.
fn needs_escape(c: char) -> bool {
    matches!(c, ':' | '*' | '?' | '[' | ']' | '\\' | '{' | '}' | '%')
        || c.is_whitespace()
        || c.is_control()
}

struct Escaper<'a> {
    out: &'a mut String,
}

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.contains(needs_escape) {
            self.out.push_str(s);
            return Ok(());
        }
        for c in s.chars() {
            if needs_escape(c) {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(self.out, "%{byte:02X}");
                }
            } else {
                self.out.push(c);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::CacheKey;

    #[test]
    fn escapes_every_shape_changing_character() {
        let key = CacheKey::new("s")
            .part("a:b*c?d[e]f\\g{h}i%j k\nl")
            .finish();
        assert_eq!(key, "s:a%3Ab%2Ac%3Fd%5Be%5Df%5Cg%7Bh%7Di%25j%20k%0Al");
        // Escaping is injective: the escape character is itself escaped.
        assert_ne!(
            CacheKey::new("s").part("%3A").finish(),
            CacheKey::new("s").part(":").finish()
        );
        assert_eq!(CacheKey::new("s").part("plain-é").finish(), "s:plain-é");
    }
}
