//! Newtypes that parse input at the door, so invalid values cannot reach the store.
//!
//! DO: `Username::parse(raw)?` once, in the handler, then pass `Username` around — every
//! function that takes one knows it is valid without checking again.
//! DON'T: pass `&str` deep into the code and validate "somewhere"; the one path that
//! forgets is the one that stores a 10 MB username.

use crate::Error;

/// 3–32 characters of `[A-Za-z0-9_.-]`: printable in any log, safe in any URL.
///
/// The field is private: the only way to get a `Username` is [`Username::parse`], so
/// holding one is proof the check ran. The same pattern guards every newtype here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Accepts `raw` as it is (no trimming, no lowercasing) or refuses it with
    /// `InvalidArgument`.
    ///
    /// Why so strict an alphabet: usernames appear in URLs, logs, JWT claims and terminal
    /// tables. Allowing Unicode would invite look-alike names (`аlice` with a Cyrillic `а`)
    /// and control characters that rewrite a log line; a lab does not need them.
    /// Case is left alone on purpose: the column's collation makes `Alice` and `alice`
    /// one account (see [`crate::store`]), so lowercasing here would be a second rule.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // `len()` counts bytes; the alphabet is ASCII, so here bytes and characters agree.
        let ok = (3..=32).contains(&raw.len())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(Error::InvalidArgument(
                "username must be 3-32 characters of A-Z, a-z, 0-9, '_', '.', '-'".into(),
            ))
        }
    }

    /// The validated name, for binding into SQL and for the JWT's `username` claim.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8–128 characters. Deliberately no "one digit, one symbol" rules: length is what makes
/// a password strong (NIST SP 800-63B), and composition rules push people to `Passw0rd!`.
///
/// The upper bound matters too: hashing cost grows with input length, and an unbounded
/// password field is a cheap way to make the server hash megabytes per request.
///
/// `Clone` because hashing moves a copy to the blocking pool. There is no `as_str` or
/// `Display`: [`Password::expose`] is the only read, greppable like `Secret::expose`.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Accepts any 8–128 characters, spaces and Unicode included, or refuses with
    /// `InvalidArgument`; the password is never trimmed (a trailing space is part of it).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // Characters, not bytes: a passphrase of eight Chinese characters (24 bytes in
        // UTF-8) is eight characters long, and three of them are not "long enough".
        let chars = raw.chars().count();
        if (8..=128).contains(&chars) {
            Ok(Self(raw.to_string()))
        } else {
            Err(Error::InvalidArgument("password must be 8-128 characters".into()))
        }
    }

    /// The plain text, for argon2 only: every other use is a leak waiting to happen.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// `Debug` never prints the password: a `?request` in a log line must not leak it.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// An e-mail address, or empty (the field is optional). The check is intentionally
/// shallow — one `@`, a dot in the domain, no spaces: the only real validation of an
/// address is sending mail to it, which a lab does not do.
///
/// Emails are stored as given (after trimming), not lowercased: the local part is
/// case-sensitive in theory, and the lab never sends mail, so it keeps what the user typed.
/// The address is profile data shown back to its owner (`GET /api/v1/users/me`); nothing
/// in the lab uses it to identify or contact anyone, so it needs no unique index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// An empty (or all-blank) field is "no address"; anything else must pass the shallow
    /// shape check or is refused with `InvalidArgument`.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // Trimmed, unlike usernames and passwords: stray spaces pasted into a form are
        // common in addresses and never part of one.
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self(String::new()));
        }
        // 254 bytes: the longest address that fits SMTP's 256-byte path with its `<>`.
        // Bytes, not characters, because SMTP's limit is counted in octets.
        let ok = raw.len() <= 254
            && !raw.contains(char::is_whitespace)
            // At the first `@`; the `domain.contains('@')` test then refuses a second one,
            // and the dot may not sit at either end (`a@.com`, `a@com.` are typos).
            && raw.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            });
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(Error::InvalidArgument("malformed email address".into()))
        }
    }

    /// The trimmed address, or `""` when none was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Why these limits are in code and not only in the proto comment: the proto documents the
// contract for client authors; this module *enforces* it. A client generated from the
// proto in Go or Python gets no validation for free — the server is the only place where
// the rule holds for everybody.

#[cfg(test)]
mod tests {
    use super::*;

    /// Too short, too long, a space, and SQL punctuation are all refused at the door: the
    /// last one is not an injection risk (queries bind parameters) but a log-reading one.
    #[test]
    fn usernames_outside_the_alphabet_or_length_are_refused() {
        assert!(Username::parse("alice_01").is_ok());
        assert!(Username::parse("al").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        // A space would split the name in every log line and break it in a URL.
        assert!(Username::parse("alice bob").is_err());
        assert!(Username::parse("ali'; --").is_err());
    }

    /// Length is the only rule (a phrase of words passes, `short` does not), and `Debug`
    /// redacts: a password in a `?request` log field must print as `Password(***)`.
    #[test]
    fn passwords_are_judged_by_length_only() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("short").is_err());
        // One over the 128 cap: the bound that keeps a request from making us hash megabytes.
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(format!("{:?}", Password::parse("secret-pass").unwrap()), "Password(***)");
    }

    /// Empty means "none"; a dot-less domain and an embedded space are refused.
    #[test]
    fn emails_are_optional_but_must_look_like_addresses() {
        assert!(Email::parse("").is_ok());
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse("not-an-address").is_err());
        // A domain without a dot: `localhost`-style addresses are real, but never a
        // shopper's, so refusing them catches a forgotten `.com` instead.
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@example.com").is_err());
    }
}
