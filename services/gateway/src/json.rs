//! The JSON shapes of the HTTP API. Money is integer cents (`price: 4990` is ¥49.90) and
//! times are unix milliseconds, exactly as in the protos — the gateway translates
//! transport, not meaning.
//!
//! Why separate structs instead of serialising the generated proto types: the protos'
//! enums and defaults are a gRPC concern (`sort_by: 2`), and the HTTP API is a contract of
//! its own. Owning these types means a proto change cannot silently change the JSON.
//!
//! What the HTTP side changes, and what it keeps:
//!
//! | on the wire | gRPC | JSON |
//! |---|---|---|
//! | enums | numbers (`SORT_FIELD_PRICE = 2`) | words (`sort=price`, `"status": "paid"`) |
//! | money | `int64` cents | the same integer cents, never a float |
//! | times | `int64` unix ms (JWT `exp`: seconds) | the same numbers, same units |
//! | absent text | `""` (proto3 has no null) | `""`, or the field left out where noted |
//! | errors | a status code + message | an HTTP status + `{"error": {"code", "message"}}` |
//!
//! ❌ DON'T convert cents to yuan "for convenience" here: `49.9` in JSON is a float in
//! every JavaScript client, and `0.1 + 0.2` is not `0.3` — the shop would then show, sum and
//! compare amounts that are not the ones it stored.

// Bodies and responses derive both `Serialize` and `Deserialize`: the gateway needs one
// direction, the tests (and any Rust client) the other, and one definition serves both so
// they cannot disagree. The query-string shapes (`ListParams`, `SearchParams`) are only
// ever read, so they only deserialise.

use bookstore_proto::{catalog, user};
use serde::{Deserialize, Serialize};

/// A user's public profile. Built only from the proto `User`, which has no password hash:
/// the JSON cannot leak what the message does not carry.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserJson {
    pub id: u64,
    pub username: String,
    /// Returned to the user themselves only: on registration and by `GET /users/me`.
    pub email: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

// The conversions are `From` impls so handlers can write `.map(UserJson::from)` and the
// mapping for each type exists exactly once.
impl From<user::User> for UserJson {
    /// Field for field; a proto field added later stays out of the JSON until someone
    /// chooses to show it (the same rule as for books, below).
    fn from(u: user::User) -> Self {
        Self { id: u.id, username: u.username, email: u.email, created_at: u.created_at }
    }
}

/// A book as JSON, field for field the proto `Book`.
///
/// Times stay unix milliseconds instead of ISO-8601 strings: a client formats them for its
/// own locale and time zone, and numbers survive every JSON library unchanged.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BookJson {
    pub id: u64,
    pub title: String,
    pub author: String,
    pub isbn: String,
    pub publisher: String,
    /// Cents.
    pub price: i64,
    /// Units a shopper can buy now: inventory's `available`, at most ~0.5 s old (catalog
    /// composes it, see `catalog::live_stock`). A display, not a promise: an order is
    /// checked against inventory itself. (The opening figure, `initial_stock`, is not
    /// exposed: it is history, and a shopper would read it as availability.)
    pub stock: i32,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Field-by-field on purpose (no `..` shortcuts): when the proto gains a field, this
/// conversion keeps compiling and the JSON stays as documented until someone decides to
/// expose the new field — an API change made consciously, not by regenerating code.
impl From<catalog::Book> for BookJson {
    fn from(b: catalog::Book) -> Self {
        Self {
            id: b.id,
            title: b.title,
            author: b.author,
            isbn: b.isbn,
            publisher: b.publisher,
            price: b.price,
            stock: b.stock,
            description: b.description,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// A page of books (list and search): the same shape for both, so a client renders a
/// search result with the code that renders a list.
///
/// `total` lets a client draw page numbers (`ceil(total / page_size)`); `page` and
/// `page_size` echo what the service actually used (after its defaults and cap), which is
/// not always what the client asked for.
#[derive(Debug, Serialize, Deserialize)]
pub struct BookPageJson {
    pub books: Vec<BookJson>,
    /// Books matching the whole query (every page), not the length of `books`.
    pub total: u64,
    /// The page served, 1-based.
    pub page: u32,
    /// The size applied: the request's, defaulted to 20 and capped at 100.
    pub page_size: u32,
}

impl BookPageJson {
    /// A page from the fields ListBooks and SearchBooks responses share (two proto
    /// messages with the same shape; one conversion for both).
    ///
    /// Plain arguments rather than a `From` for each response: the two messages are
    /// different types with the same four fields, and a generic over them would need a
    /// trait the generated code does not have.
    pub fn new(books: Vec<catalog::Book>, total: u64, page: u32, page_size: u32) -> Self {
        Self { books: books.into_iter().map(BookJson::from).collect(), total, page, page_size }
    }
}

/// `POST /api/v1/users/register`.
///
/// `#[serde(default)]` on optional fields: a client may omit `email`. Required fields have
/// no default, so a body without `username` is a 400 from the JSON extractor, before any
/// upstream call.
#[derive(Serialize, Deserialize)]
pub struct RegisterBody {
    /// Passed on unchanged, like the password: user-service alone enforces 3–32 characters of
    /// `A-Z a-z 0-9 _ . -`, so the rule cannot drift between two copies.
    pub username: String,
    /// Passed to user-service as is: the gateway neither trims nor checks it, so the one
    /// rule (8–128 characters) is user-service's.
    pub password: String,
    #[serde(default)]
    pub email: String,
}

/// `POST /api/v1/users/login`.
///
/// Both fields required; neither is checked here (user-service answers a malformed name
/// exactly like a wrong password, so the gateway must not answer it differently).
/// There is deliberately no "remember me" flag: token lifetime is a server policy
/// (`jwt_ttl_secs`), not a client's choice.
#[derive(Serialize, Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

// The two bodies that hold a password implement `Debug` by hand and print `***` for it:
// a derived `Debug` would put the password into the first `tracing::debug!(?body)` anyone
// adds while chasing a bug — and request logs are read by many more people than the
// user table. (The proto requests they become are redacted the same way.)
impl std::fmt::Debug for RegisterBody {
    /// Every field but the password, which prints as `***`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterBody")
            .field("username", &self.username)
            .field("password", &"***")
            .field("email", &self.email)
            .finish()
    }
}

impl std::fmt::Debug for LoginBody {
    /// The username, and `***` for the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// The answer to a login.
///
/// `expires_at` is unix *seconds*, as in the JWT itself, so a client can compare it with
/// the token's own `exp` claim without converting units.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionJson {
    /// The JWT, to be sent back as `Authorization: Bearer <token>`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The profile of whoever logged in, so a client needs no second call to greet them.
    pub user: Option<UserJson>,
}

/// `POST /api/v1/books`.
///
/// `price` is cents, an integer. A client sending `59.9` (yuan, a float) gets a 400 from
/// the JSON parser — the type system catching the most common money bug at the door.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishBody {
    pub title: String,
    pub author: String,
    /// Optional; hyphens allowed. catalog-service keeps the 13 digits and checks the
    /// check digit, so `978-7-111-54742-6` and `9787111547426` are the same book.
    #[serde(default)]
    pub isbn: String,
    #[serde(default)]
    pub publisher: String,
    /// Cents.
    pub price: i64,
    /// The opening stock, put into inventory by the publish (0..=10000); 0 when absent.
    #[serde(default)]
    pub stock: i32,
    /// Up to 2,000 characters; catalog-service enforces it.
    #[serde(default)]
    pub description: String,
}

/// `GET /api/v1/books?page=&page_size=&sort=price|created_at|title&order=asc|desc&keyword=`.
///
/// All fields optional: `GET /api/v1/books` alone is page 1, 20 books, newest first. The
/// words `sort` and `order` are the HTTP vocabulary; the handler maps them to the proto
/// enums, refusing unknown words instead of silently using the default (a typo such as
/// `sort=prise` should be an error the developer sees, not a wrong order they do not).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// 1-based; absent means 1.
    pub page: Option<u32>,
    /// Absent means catalog's default (20); above 100 is capped there.
    pub page_size: Option<u32>,
    /// `price`, `created_at` or `title`.
    pub sort: Option<String>,
    /// `asc` or `desc` (the default, for every sort).
    pub order: Option<String>,
    /// Matched literally (`%` is a percent sign) in title or author, case-insensitively.
    pub keyword: Option<String>,
}

/// `GET /api/v1/books/search?q=&page=&page_size=`.
///
/// `q` is optional in the type so that a missing `q` reaches catalog-service as an empty
/// query and gets *its* error message ("query must not be empty"), the same as over gRPC.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    /// Matched literally in title, author or ISBN digits.
    pub q: Option<String>,
    /// As for lists: 1-based, absent means 1.
    pub page: Option<u32>,
    /// As for lists: default 20, capped at 100 by catalog-service.
    pub page_size: Option<u32>,
}

// A unit test, not an integration test: redaction is a property of the types, and a log
// line is the place it would fail, long before any request reached a service.
#[cfg(test)]
mod tests {
    use bookstore_proto::user::{LoginRequest, RegisterRequest};

    use super::*;

    /// `{:?}` of every request shape that carries a password — the gateway's JSON bodies
    /// and the gRPC requests they turn into — shows the username but never the password.
    #[test]
    fn password_bodies_redact_the_password_in_debug() {
        // A password that cannot appear by accident in any other field's output.
        let secret = "hunter2-correct-horse";
        let printed = [
            format!(
                "{:?}",
                RegisterBody {
                    username: "alice".into(),
                    password: secret.into(),
                    email: String::new()
                }
            ),
            format!("{:?}", LoginBody { username: "alice".into(), password: secret.into() }),
            format!(
                "{:?}",
                RegisterRequest {
                    username: "alice".into(),
                    password: secret.into(),
                    email: String::new()
                }
            ),
            format!("{:?}", LoginRequest { username: "alice".into(), password: secret.into() }),
        ];
        // Three checks per shape: the secret is absent, the username is still there (so the
        // log line is useful), and the redaction marker shows that a field was hidden.
        for p in printed {
            assert!(!p.contains(secret) && p.contains("alice") && p.contains("***"), "{p}");
        }
    }
}
