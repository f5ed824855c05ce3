//! Random identifiers: lock owner tokens and session ids.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `bytes` bytes from the thread-local CSPRNG (ChaCha, seeded and periodically
/// reseeded from the operating system), as unpadded URL-safe base64.
pub(crate) fn random_token<const BYTES: usize>() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; BYTES]>())
}

#[cfg(test)]
mod tests {
    use super::random_token;

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = random_token::<16>();
        let b = random_token::<16>();
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
