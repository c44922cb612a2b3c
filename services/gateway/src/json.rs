//! The JSON shapes of the HTTP API. Money is integer cents (`price: 4990` is ¥49.90) and
//! times are unix milliseconds, exactly as in the protos — the gateway translates
//! transport, not meaning.
//!
//! Why separate structs instead of serialising the generated proto types: the protos'
//! enums and defaults are a gRPC concern (`sort_by: 2`), and the HTTP API is a contract of
//! its own. Owning these types means a proto change cannot silently change the JSON.

// Every struct derives both `Serialize` and `Deserialize`: the gateway needs one
// direction, the tests (and any Rust client) the other, and one definition serves both so
// they cannot disagree.

use bookstore_proto::{catalog, user};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
/// A user's public profile. Built only from the proto `User`, which has no password hash:
/// the JSON cannot leak what the message does not carry.
pub struct UserJson {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub created_at: i64,
}

// The conversions are `From` impls so handlers can write `.map(UserJson::from)` and the
// mapping for each type exists exactly once.
impl From<user::User> for UserJson {
    fn from(u: user::User) -> Self {
        Self { id: u.id, username: u.username, email: u.email, created_at: u.created_at }
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
///
/// Times stay unix milliseconds instead of ISO-8601 strings: a client formats them for its
/// own locale and time zone, and numbers survive every JSON library unchanged.
pub struct BookJson {
    pub id: u64,
    pub title: String,
    pub author: String,
    pub isbn: String,
    pub publisher: String,
    /// Cents.
    pub price: i64,
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

/// A page of books (list and search).
#[derive(Debug, Serialize, Deserialize)]
///
/// `total` lets a client draw page numbers (`ceil(total / page_size)`); `page` and
/// `page_size` echo what the service actually used (after its defaults and cap), which is
/// not always what the client asked for.
pub struct BookPageJson {
    pub books: Vec<BookJson>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

impl BookPageJson {
    /// A page from the fields ListBooks and SearchBooks responses share (two proto
    /// messages with the same shape; one conversion for both).
    pub fn new(books: Vec<catalog::Book>, total: u64, page: u32, page_size: u32) -> Self {
        Self { books: books.into_iter().map(BookJson::from).collect(), total, page, page_size }
    }
}

/// `POST /api/v1/users/register`.
#[derive(Serialize, Deserialize)]
///
/// `#[serde(default)]` on optional fields: a client may omit `email`. Required fields have
/// no default, so a body without `username` is a 400 from the JSON extractor, before any
/// upstream call.
pub struct RegisterBody {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: String,
}

/// `POST /api/v1/users/login`.
#[derive(Serialize, Deserialize)]
///
/// Both fields required. There is deliberately no "remember me" flag: token lifetime is a
/// server policy (`jwt_ttl_secs`), not a client's choice.
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

// The two bodies that hold a password implement `Debug` by hand and print `***` for it:
// a derived `Debug` would put the password into the first `tracing::debug!(?body)` anyone
// adds while chasing a bug — and request logs are read by many more people than the
// user table. (The proto requests they become are redacted the same way.)
impl std::fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterBody")
            .field("username", &self.username)
            .field("password", &"***")
            .field("email", &self.email)
            .finish()
    }
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginBody")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// The answer to a login.
#[derive(Debug, Serialize, Deserialize)]
///
/// `expires_at` is unix *seconds*, as in the JWT itself, so a client can compare it with
/// the token's own `exp` claim without converting units.
pub struct SessionJson {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: Option<UserJson>,
}

/// `POST /api/v1/books`.
#[derive(Debug, Serialize, Deserialize)]
///
/// `price` is cents, an integer. A client sending `59.9` (yuan, a float) gets a 400 from
/// the JSON parser — the type system catching the most common money bug at the door.
pub struct PublishBody {
    pub title: String,
    pub author: String,
    #[serde(default)]
    pub isbn: String,
    #[serde(default)]
    pub publisher: String,
    /// Cents.
    pub price: i64,
    #[serde(default)]
    pub stock: i32,
    #[serde(default)]
    pub description: String,
}

/// `GET /api/v1/books?page=&page_size=&sort=price|created_at|title&order=asc|desc&keyword=`.
#[derive(Debug, Default, Deserialize)]
///
/// All fields optional: `GET /api/v1/books` alone is page 1, 20 books, newest first. The
/// words `sort` and `order` are the HTTP vocabulary; the handler maps them to the proto
/// enums, refusing unknown words instead of silently using the default (a typo such as
/// `sort=prise` should be an error the developer sees, not a wrong order they do not).
pub struct ListParams {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub keyword: Option<String>,
}

/// `GET /api/v1/books/search?q=&page=&page_size=`.
#[derive(Debug, Default, Deserialize)]
///
/// `q` is optional in the type so that a missing `q` reaches catalog-service as an empty
/// query and gets *its* error message ("query must not be empty"), the same as over gRPC.
pub struct SearchParams {
    pub q: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[cfg(test)]
mod tests {
    use bookstore_proto::user::{LoginRequest, RegisterRequest};

    use super::*;

    /// `{:?}` of every request shape that carries a password — the gateway's JSON bodies
    /// and the gRPC requests they turn into — shows the username but never the password.
    #[test]
    fn password_bodies_redact_the_password_in_debug() {
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
        for p in printed {
            assert!(!p.contains(secret) && p.contains("alice") && p.contains("***"), "{p}");
        }
    }
}
