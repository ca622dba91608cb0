//! Passwords (argon2id), random tokens, and sign-in: the security mechanics the web layer calls.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::store::sessions::{self, LoginOutcome};
use crate::store::{Actor, Store, StoreError, StoreResult, users};

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        // Hashing with the default parameters and a fresh salt cannot fail; an empty hash would never verify.
        .unwrap_or_default()
}

/// Checks a password against a stored hash; a malformed hash never verifies.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// 32 random bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored id of a session token.
pub fn session_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A random password that meets the default rule: 16 characters from all four classes.
pub fn random_password() -> String {
    const SETS: [&[u8]; 4] = [b"abcdefghijkmnpqrstuvwxyz", b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"23456789", b"@#%+=!?"];
    let mut out = Vec::with_capacity(16);
    for i in 0..16 {
        let set = SETS[i % 4];
        out.push(set[(OsRng.next_u32() as usize) % set.len()]);
    }
    // Shuffle so that the class pattern is not fixed.
    for i in (1..out.len()).rev() {
        out.swap(i, (OsRng.next_u32() as usize) % (i + 1));
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A hash of a password nobody knows, verified against for unknown users so that their answer takes as long.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()))
}

/// A successful sign-in: the cookie token and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The cookie value.
    pub token: String,
}

/// Signs `login` in with `password`. The password check runs on a blocking thread; the outcome (failure count,
/// lock under the security policy stored in force, session, audit) is recorded in one write.
pub async fn sign_in(
    store: &Store,
    now: chrono::NaiveDateTime,
    login: &str,
    password: &str,
    source: &str,
) -> StoreResult<Result<SignedIn, LoginOutcome>> {
    let login_lc = login.trim().to_ascii_lowercase();
    let found = {
        let login_lc = login_lc.clone();
        store.read(move |c| users::find_for_login(c, &login_lc)).await?
    };
    let password = password.to_string();
    let (user_id, region, hash) = match &found {
        Some((u, h)) => (Some(u.id), Some(u.region), h.clone()),
        None => (None, None, decoy_hash().to_string()),
    };
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|_| StoreError::Unavailable)?
        && user_id.is_some();
    let token = random_token();
    let sid = session_id(&token);
    let csrf = random_token();
    let actor = Actor { id: user_id, login: login_lc.chars().take(64).collect(), region, source: source.to_string() };
    let outcome =
        store.write(move |tx| sessions::record_login(tx, now, &actor, user_id, password_ok, &sid, &csrf)).await?;
    Ok(match outcome {
        LoginOutcome::Success => Ok(SignedIn { token }),
        other => Err(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash_password("Abcdefg1!");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Abcdefg1!", &h));
        assert!(!verify_password("Abcdefg1?", &h));
        assert!(!verify_password("Abcdefg1!", "not a hash"));
    }

    #[test]
    fn random_passwords_meet_the_rule() {
        let p = crate::domain::security::SecurityPolicy::default();
        for _ in 0..50 {
            let pw = random_password();
            assert!(p.check_password("password", &pw).is_ok(), "{pw}");
        }
        assert_ne!(random_token(), random_token());
    }
}
