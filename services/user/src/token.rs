//! Issuing and checking JWTs (HS256).
//!
//! A JWT is `base64(header).base64(claims).base64(signature)`: anyone can *read* the
//! claims, only the holder of the secret can *produce* a valid signature. So:
//! DO: put only identifiers and short-lived facts in claims (user id, username, roles) and
//! always check the signature *and* the expiry before trusting them.
//! DON'T: put secrets into a token, or permissions into a *long-lived* one — a role taken
//! away holds until `exp` (see [`Claims::roles`]) — and never
//! accept `alg: none` — [`TokenKeys::verify`] pins the algorithm to HS256, so a token that
//! names another algorithm is refused instead of being checked the attacker's way.
//!
//! ## Anatomy (decode any token at jwt.io and you will see this)
//!
//! ```text
//! eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9      {"alg":"HS256","typ":"JWT"}
//! .eyJzdWIiOiI3IiwidXNlcm5hbWUiOiJhbGljZSIsImlhdCI6…,"exp":…}
//!                                          {"sub":"7","username":"alice","roles":["customer"],"iat":…,"exp":…}
//! .<HMAC-SHA256(secret, header.claims)>    the only part that needs the secret
//! ```
//!
//! ## Which failures are which
//!
//! | the token | what `verify` says | gRPC code |
//! |---|---|---|
//! | signed by us, `exp` in the future | the claims | OK |
//! | signed by us, `exp` past (+5 s leeway) | `expired` | UNAUTHENTICATED |
//! | signed with any other key | `bad signature` | UNAUTHENTICATED |
//! | `alg` other than HS256 (incl. `none`) | `unexpected algorithm` | UNAUTHENTICATED |
//! | not three base64 parts / not JSON | `malformed` | UNAUTHENTICATED |
//!
//! The short reason goes into the message because it helps a developer fix a client
//! ("expired" means log in again); it reveals nothing an attacker could not see by
//! decoding the token themselves.
//! ## Why HS256 (and when to switch)
//!
//! HS256 uses one shared secret to sign *and* verify. That is right while only
//! user-service verifies (other services call ValidateToken). If services ever verify
//! locally, switch to an asymmetric algorithm (RS256 or EdDSA): user-service keeps the
//! private key, everyone else gets only the public key, and a compromised catalog-service
//! can no longer mint tokens. The claims and the rest of this module would not change.
//!
use bookstore_platform::Secret;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::Error;

/// What a token says about its holder. `sub`, `iat` and `exp` are the registered JWT
/// claim names (RFC 7519), so any JWT tool (jwt.io) shows them correctly.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a string (the RFC makes `sub` a string).
    pub sub: String,
    /// The name at login time, for display only: services authorise by `sub`, the id, which
    /// never changes; a name is only as current as the token that carries it.
    pub username: String,
    /// What the holder may do (`["customer"]`, `["admin"]`), signed like the rest: a
    /// shopper cannot add `admin` without breaking the signature. A token issued before
    /// roles existed has none and is treated as a shopper's (`default`), never an admin's.
    /// Revocation caveat: a role taken away applies from the next login, up to
    /// `jwt_ttl_secs` later — the price of checking tokens without a database read.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Issued at, unix seconds. Not checked by `verify` (only `exp` is); kept so a token
    /// says when its holder logged in, which an audit or a "log out older sessions" needs.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
}

/// The signing and verification keys, derived once from the configured secret.
#[derive(Clone)]
pub struct TokenKeys {
    /// Made from the same bytes as `decoding`: HS256 is symmetric, one secret signs and checks.
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The rules fixed in `new` (HS256 only, `exp` and `sub` required, 5 s leeway), shared
    /// by every `verify`.
    validation: Validation,
}

impl TokenKeys {
    /// Derives both keys from `secret` and fixes the rules every token is checked by:
    /// HS256 only, `exp` and `sub` required, 5 s of clock leeway.
    ///
    /// Built once in [`crate::run`] and cloned into the API: the keys and the `Validation`
    /// are the same for every request, so building them per call would be wasted work.
    pub fn new(secret: &Secret) -> Self {
        let bytes = secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        // A token without an expiry would be valid forever: require one. `sub` too: it is
        // the user id `validate` answers, and a token without it would name nobody.
        validation.set_required_spec_claims(&["exp", "sub"]);
        // The library's default grace period is 60 s. Our services share one clock (one
        // machine, or NTP in production), so a few seconds cover the skew; a minute would
        // only extend every stolen token's life.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    /// Signs `claims`. Tests use it directly to mint expired tokens.
    ///
    /// Signing cannot fail for HS256 with valid claims; the error path exists because the
    /// library's API is general (RSA keys can be malformed) and is mapped to INTERNAL.
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        // HS256 in the header too, the one algorithm `verify` accepts: a token we sign always
        // passes our own algorithm check.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| Error::Crypto(e.to_string()))
    }

    /// Checks signature, algorithm and expiry, and returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                Error::InvalidToken(match e.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::InvalidAlgorithm => "unexpected algorithm",
                    // Bad base64, bad JSON, a missing `exp` or `sub`: one word, because the
                    // client's fix is the same for all of them — log in again.
                    _ => "malformed",
                })
            })
    }
}

/// Seconds since the epoch, now.
///
/// One helper so that issuing and checking agree on the unit: JWT times are *seconds*
/// (RFC 7519 "NumericDate"), unlike the milliseconds the protos use for `created_at`.
pub fn now_secs() -> i64 {
    // The wall clock, not a monotonic one: JWT times must mean the same on every machine
    // that reads them, which only an (NTP-synchronised) wall clock gives.
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys for a test secret (long enough for HS256, as `Settings::check` demands).
    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&Secret::new(secret))
    }

    /// Claims for user 7 that expire `exp_offset` seconds from now (negative: already past).
    fn claims(exp_offset: i64) -> Claims {
        Claims {
            sub: "7".into(),
            username: "alice".into(),
            roles: vec!["customer".into()],
            iat: now_secs(),
            exp: now_secs() + exp_offset,
        }
    }

    /// A token round-trips with its own key, and the *reason* for refusing a foreign one
    /// is the signature — not the expiry or the shape, which are both fine here.
    #[test]
    fn a_signed_token_verifies_with_the_same_secret_only() {
        let a = keys("a-secret-that-is-long-enough-for-hs256!!");
        let b = keys("another-secret-that-is-long-enough-too!!");
        // 60 s ahead: valid with room to spare beyond the 5 s leeway, so only the key differs.
        let token = a.sign(&claims(60)).unwrap();
        assert_eq!(a.verify(&token).unwrap().sub, "7");
        assert!(matches!(b.verify(&token), Err(Error::InvalidToken("bad signature"))));
    }

    /// Two minutes past `exp` is beyond the 5 s leeway, so "expired"; three dot-separated
    /// parts that are not base64 JSON are "malformed" — the two failures a client most often
    /// meets, each with the reason that tells its developer what to do.
    #[test]
    fn expired_and_garbage_tokens_are_refused() {
        let k = keys("a-secret-that-is-long-enough-for-hs256!!");
        let old = k.sign(&claims(-120)).unwrap();
        assert!(matches!(k.verify(&old), Err(Error::InvalidToken("expired"))));
        assert!(matches!(k.verify("not.a.jwt"), Err(Error::InvalidToken("malformed"))));
    }
}
