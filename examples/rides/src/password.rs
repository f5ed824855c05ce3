//! Passwords: Argon2id with its default cost (19 MiB, 2 passes, the OWASP minimum),
//! a random salt per password, stored as a PHC string (`$argon2id$v=19$m=…$salt$hash`).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

/// Hashing failed (the system's random source, or parameters out of range).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub(crate) struct HashError(String);

/// The PHC string for `password`, with a fresh random salt.
pub(crate) fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|err| HashError(err.to_string()))
}

/// Whether `password` matches `stored` (a PHC string; anything else matches nothing).
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends what a check against a real account costs, for an email with no account:
/// a sign-in answers as slowly for an unknown email as for a wrong password, so the
/// time taken does not tell which emails are registered.
pub(crate) fn verify_nothing(password: &str) {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let decoy = DECOY.get_or_init(|| hash("decoy password").unwrap_or_default());
    let _ = verify(password, decoy);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterz", &stored));
        assert!(!verify("correct horse battery", "not a hash"));
        assert_ne!(
            stored,
            hash("correct horse battery").expect("hash"),
            "salted"
        );
    }
}
