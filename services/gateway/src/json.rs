//! The JSON shapes of the HTTP API. Money is integer cents (`price: 4990` is ¥49.90) and
//! times are unix milliseconds, exactly as in the protos — the gateway translates
//! transport, not meaning.
//!
//! Why separate structs instead of serialising the generated proto types: the protos'
//! enums and defaults are a gRPC concern (`sort_by: 2`), and the HTTP API is a contract of
//! its own. Owning these types means a proto change cannot silently change the JSON.

use bookstore_proto::{catalog, user};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserJson {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub created_at: i64,
}

impl From<user::User> for UserJson {
    fn from(u: user::User) -> Self {
        Self { id: u.id, username: u.username, email: u.email, created_at: u.created_at }
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
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
pub struct BookPageJson {
    pub books: Vec<BookJson>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// `POST /api/v1/users/register`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RegisterBody {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub email: String,
}

/// `POST /api/v1/users/login`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

/// The answer to a login.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionJson {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: Option<UserJson>,
}

/// `POST /api/v1/books`.
#[derive(Debug, Serialize, Deserialize)]
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
pub struct ListParams {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub keyword: Option<String>,
}

/// `GET /api/v1/books/search?q=&page=&page_size=`.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}
