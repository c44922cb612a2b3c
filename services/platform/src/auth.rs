//! Reading the caller's token from gRPC metadata.
//!
//! DO: carry credentials in metadata (`authorization: Bearer <jwt>`), like HTTP headers —
//! grpcurl (`-H`), the gateway and every client library know how to set it.
//! DON'T: put tokens in request messages; they end up in request logs and caches.
//!
//! Also here: [`require_role`], the one check of what a validated caller may do, so every
//! service refuses a shopper the same way (PERMISSION_DENIED, HTTP 403).
//!
//! What it is NOT: token *validation*. This only extracts the string; whether it is a
//! valid, unexpired JWT is user-service's business (ValidateToken). Keeping the two apart
//! means the other services need no JWT secret at all.

use tonic::{Status, metadata::MetadataMap};

/// The bearer token of a request, or `Unauthenticated` with a message saying what is wrong.
pub fn bearer_token(metadata: &MetadataMap) -> Result<String, Status> {
    // gRPC metadata keys are lowercase (HTTP/2 headers are), so "authorization" matches
    // whatever case the client wrote.
    let value = metadata
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing authorization metadata"))?;
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("authorization metadata is not ASCII"))?;
    // The scheme is case-insensitive (RFC 7235): "Bearer", "bearer" and "BEARER" all count.
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        // `trim`: extra spaces after the scheme (`Bearer  abc`) are tolerated, not a 401.
        .map(|(_, token)| token.trim())
        .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
    // `Bearer ` with nothing after it: refused here, so user-service is never asked to
    // validate an empty string.
    if token.is_empty() {
        return Err(Status::unauthenticated("empty bearer token"));
    }
    Ok(token.to_string())
}

/// The role that may publish books (and, later, any other catalogue or stock write).
/// user-service puts it in the token of accounts made admin by `user-service ensure-admin`.
pub const ADMIN_ROLE: &str = "admin";

/// `Ok` if `roles` (ValidateToken's answer) holds `role`, else PERMISSION_DENIED.
///
/// PERMISSION_DENIED and not UNAUTHENTICATED: the caller *is* known, logging in again
/// would not help. Clients must be able to tell the two apart — 401 means "get a new
/// token", 403 means "this account may not". ❌ DON'T decide from the username (`admin`):
/// names are chosen by whoever registers first; the role is granted by an operator and
/// signed into the token.
pub fn require_role(roles: &[String], role: &str) -> Result<(), Status> {
    // Exact and case-sensitive: `Admin` is not `admin`, so no near-miss spelling that a
    // registration or a buggy issuer produced can pass for the role.
    if roles.iter().any(|r| r == role) {
        Ok(())
    } else {
        Err(Status::permission_denied(format!("this action needs the {role} role")))
    }
}

/// The metadata key of the internal service credential (payment-service → order-service's
/// UpdateOrderStatus, the payment gateway → MockCallback).
pub const SERVICE_TOKEN_HEADER: &str = "x-service-token";

/// The service credential the lab ships with. Each service refuses it outside development
/// (the same rule as the JWT secret): anyone who has read this file could mark orders paid.
pub const DEV_SERVICE_TOKEN: &str = "bookstore-lab-development-service-token";

/// Refuses to start a service whose service credential is still [`DEV_SERVICE_TOKEN`] in any
/// environment but `development`; order- and payment-service call it from their
/// `Settings::check`.
///
/// Why at start-up and not per request: a misconfigured production instance that serves
/// with the published token has already lost — any caller could mark an order Paid or
/// confirm a payment that never happened. ✅ DO fail before binding the port, where the
/// operator reads the error; ❌ DON'T log a warning and serve anyway (nobody reads it).
/// The default environment is production, so forgetting to set one is also refused.
pub fn refuse_dev_service_token(
    common: &crate::CommonSettings,
    token: &crate::Secret,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        common.is_development() || token.expose() != DEV_SERVICE_TOKEN,
        "refusing to start: BOOKSTORE_SERVICE_TOKEN is the built-in development token and \
         environment is {:?}",
        common.environment
    );
    Ok(())
}

/// Whether `metadata` carries the service credential `secret`, compared in constant time:
/// a byte-by-byte compare with an early exit would let a caller learn the secret's prefix
/// from response times, one byte at a time.
pub fn has_service_token(metadata: &MetadataMap, secret: &crate::Secret) -> bool {
    // A missing or non-text header is compared as "": it fails like any wrong value, through
    // the same code path, so a caller cannot tell "absent" from "wrong" by the answer.
    let given = metadata.get(SERVICE_TOKEN_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let want = secret.expose().as_bytes();
    // The length check does leak the secret's length; the content is compared with an OR of
    // XORs over every byte, so the time does not depend on where the first difference is.
    given.len() == want.len() && given.bytes().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metadata with just an `authorization` entry, as a client would send it (gRPC
    /// metadata keys are lowercase on the wire, as HTTP/2 headers are).
    fn meta(v: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", v.parse().unwrap());
        m
    }

    /// The normal case: the token comes back without the scheme, ready to validate.
    /// (Both spellings of the scheme: RFC 7235 makes it case-insensitive, and clients do
    /// send `BEARER`.)
    #[test]
    fn accepts_a_bearer_token() {
        assert_eq!(bearer_token(&meta("Bearer abc.def")).unwrap(), "abc.def");
        assert_eq!(bearer_token(&meta("BEARER abc.def")).unwrap(), "abc.def");
    }

    /// The service credential matches only byte for byte: a prefix, a longer string and a
    /// missing header are all refused (the constant-time compare must still say "no").
    #[test]
    fn the_service_token_must_match_exactly() {
        let secret = crate::Secret::new("s3cret-token");
        let with = |v: &str| {
            let mut m = MetadataMap::new();
            m.insert(SERVICE_TOKEN_HEADER, v.parse().unwrap());
            m
        };
        assert!(has_service_token(&with("s3cret-token"), &secret));
        // One byte short and one byte long: both refused by the length check; the XOR fold
        // is what decides the exact match above.
        assert!(!has_service_token(&with("s3cret-toke"), &secret));
        assert!(!has_service_token(&with("s3cret-token!"), &secret));
        assert!(!has_service_token(&MetadataMap::new(), &secret));
    }

    /// The published token passes only in development; production (the default) needs its own.
    #[test]
    fn the_dev_service_token_is_refused_outside_development() {
        let mut common = crate::CommonSettings::defaults(0, "any_db");
        let dev = crate::Secret::new(DEV_SERVICE_TOKEN);
        assert!(refuse_dev_service_token(&common, &dev).is_err(), "production is the default");
        assert!(refuse_dev_service_token(&common, &crate::Secret::new("own-token")).is_ok());
        common.environment = "development".into();
        assert!(refuse_dev_service_token(&common, &dev).is_ok());
    }

    /// Only the exact role passes: a shopper's token, no roles at all (a token from before
    /// roles existed) and a look-alike are all PERMISSION_DENIED.
    #[test]
    fn only_the_named_role_passes() {
        let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(require_role(&roles(&["admin"]), ADMIN_ROLE).is_ok());
        // `Admin` and `admins`: the near-misses a case-insensitive or `contains` check would
        // wrongly let through.
        for denied in [roles(&["customer"]), roles(&[]), roles(&["Admin", "admins"])] {
            let err = require_role(&denied, ADMIN_ROLE).unwrap_err();
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{denied:?}");
        }
    }

    /// No header, another scheme (Basic auth) and an empty token are all refused. Each must
    /// fail here, as `Unauthenticated`, before any service logic runs on a request whose
    /// caller we do not know.
    #[test]
    fn rejects_missing_or_malformed_authorization() {
        assert!(bearer_token(&MetadataMap::new()).is_err());
        // A real scheme with a well-formed value: refused for the scheme, not for its shape.
        assert!(bearer_token(&meta("Basic dXNlcg==")).is_err());
        // Spaces only: the scheme matches, and the trimmed token is empty.
        assert!(bearer_token(&meta("Bearer   ")).is_err());
    }
}
