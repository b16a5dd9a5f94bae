//! Signed shopper identity: tokens a store's backend mints so that a browser can act
//! only as its own shopper.
//!
//! With a shopper secret configured (`CLERK_SHOPPER_SECRET`), every `shopper` value
//! that reaches clerk from a browser must be a token:
//!
//! ```text
//! token = ID "." EXP "." hex(HMAC-SHA256(secret, ID "." EXP))
//! ```
//!
//! `EXP` is the expiry in Unix seconds, or `0` for a token that never expires; the
//! signature is 64 lowercase hex digits. The id may itself contain dots: the token is
//! split at its last two dots. A backend computes it without a round trip, e.g.
//! `printf '%s' "s-42.0" | openssl dgst -sha256 -hmac "$CLERK_SHOPPER_SECRET"`.
//! In: a secret and a presented value; out: the verified shopper id, or why not.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest shopper id accepted anywhere (events, parameters, paths).
pub const MAX_SHOPPER_ID_BYTES: usize = 512;
/// Longest token: an id at its longest, an expiry and a signature.
pub const MAX_TOKEN_BYTES: usize = MAX_SHOPPER_ID_BYTES + 1 + 20 + 1 + 64;

/// Why a presented shopper value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "\"{0}\" is not a shopper token; with CLERK_SHOPPER_SECRET set, shopper values must be tokens ID.EXPIRY.SIGNATURE minted by the store's backend"
    )]
    NotAToken(String),
    #[error("the shopper token's signature does not match (forged, or minted with another secret)")]
    BadSignature,
    #[error("the shopper token expired at {0} (Unix seconds); mint a new one")]
    Expired(i64),
}

/// The secret tokens are signed with.
#[derive(Clone)]
pub struct ShopperSecret(Vec<u8>);

impl std::fmt::Debug for ShopperSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShopperSecret(..)")
    }
}

impl ShopperSecret {
    /// A secret from its text; `None` when empty.
    pub fn new(secret: &str) -> Option<ShopperSecret> {
        (!secret.is_empty()).then(|| ShopperSecret(secret.as_bytes().to_vec()))
    }

    /// The secret named by `CLERK_SHOPPER_SECRET`, if set.
    pub fn from_env() -> Option<ShopperSecret> {
        std::env::var("CLERK_SHOPPER_SECRET")
            .ok()
            .and_then(|s| ShopperSecret::new(&s))
    }

    fn signature(&self, id: &str, expires: i64) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(expires.to_string().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The token for `id`, valid until `expires` (Unix seconds; 0 = forever).
    pub fn mint(&self, id: &str, expires: i64) -> String {
        format!("{id}.{expires}.{}", self.signature(id, expires))
    }

    /// The shopper id inside `token`, when its signature holds and it has not expired
    /// at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<String, TokenError> {
        let not_a_token = || TokenError::NotAToken(shorten(token));
        let mut parts = token.rsplitn(3, '.');
        let (Some(signature), Some(expires), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(not_a_token());
        };
        let expires: i64 = expires.parse().map_err(|_| not_a_token())?;
        if id.is_empty() || signature.len() != 64 || id.len() > MAX_SHOPPER_ID_BYTES {
            return Err(not_a_token());
        }
        let expected = self.signature(id, expires);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(TokenError::BadSignature);
        }
        if expires != 0 && expires < now {
            return Err(TokenError::Expired(expires));
        }
        Ok(id.to_string())
    }
}

/// At most 40 characters of a presented value, for messages.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_string(),
    }
}

/// Compares secrets without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_tampering_fails() {
        let secret = ShopperSecret::new("s3cret").unwrap();
        let token = secret.mint("s-42", 0);
        assert_eq!(secret.verify(&token, 1_000).unwrap(), "s-42");
        let dotted = secret.mint("a.b.c", 2_000);
        assert_eq!(secret.verify(&dotted, 1_000).unwrap(), "a.b.c");
        assert_eq!(
            secret.verify(&dotted, 3_000),
            Err(TokenError::Expired(2_000))
        );
        let forged = token.replacen("s-42", "s-43", 1);
        assert_eq!(secret.verify(&forged, 0), Err(TokenError::BadSignature));
        let other = ShopperSecret::new("other").unwrap();
        assert_eq!(other.verify(&token, 0), Err(TokenError::BadSignature));
        let longer = token.replacen(".0.", ".99999999999.", 1);
        assert_eq!(secret.verify(&longer, 0), Err(TokenError::BadSignature));
        for bare in ["s-42", "", "x.y", "s-42.0.abc", "s-42.soon.00"] {
            assert!(
                matches!(secret.verify(bare, 0), Err(TokenError::NotAToken(_))),
                "{bare}"
            );
        }
    }

    #[test]
    fn the_documented_formula_holds() {
        // printf '%s' "s-42.0" | openssl dgst -sha256 -hmac "s3cret"
        let secret = ShopperSecret::new("s3cret").unwrap();
        assert_eq!(
            secret.mint("s-42", 0),
            "s-42.0.41b543a6c84ef198a4fc1ea484d7577588a6b8a5b6b6cdca29122054404b968f"
        );
    }
}
