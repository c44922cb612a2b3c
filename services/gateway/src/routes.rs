//! The handlers: read HTTP (path, query, JSON, `Authorization`), call gRPC, write JSON.
//!
//! Every extractor is taken as a `Result`, so a malformed query string or body becomes the
//! same JSON error shape as everything else instead of axum's plain-text rejection.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, StatusCode},
};
use bookstore_proto::{
    catalog::{
        GetBookRequest, ListBooksRequest, PublishBookRequest, SearchBooksRequest, SortField,
        SortOrder,
    },
    user::{GetUserRequest, LoginRequest, RegisterRequest, ValidateTokenRequest},
};
use tonic::metadata::MetadataMap;

use crate::{
    error::ApiError,
    json::{
        BookJson, BookPageJson, ListParams, LoginBody, PublishBody, RegisterBody, SearchParams,
        SessionJson, UserJson,
    },
    upstream::Upstreams,
};

type ApiResult<T> = Result<T, ApiError>;

/// The bearer token of an HTTP request — by reusing the platform's gRPC-metadata parser,
/// so HTTP and gRPC callers are held to exactly the same rules.
fn bearer(headers: &HeaderMap) -> ApiResult<String> {
    bookstore_platform::auth::bearer_token(&MetadataMap::from_headers(headers.clone()))
        .map_err(|status| ApiError::unauthenticated(status.message()))
}

/// `POST /api/v1/users/register` → 201 `{"user": …}`.
pub async fn register(
    State(up): State<Upstreams>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req = up.request(RegisterRequest {
        username: body.username,
        password: body.password,
        email: body.email,
    });
    let resp = up.call("user-service", up.users.clone().register(req)).await?;
    let user = resp.user.map(UserJson::from);
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "user": user }))))
}

/// `POST /api/v1/users/login` → `{"token", "expires_at", "user"}`.
pub async fn login(
    State(up): State<Upstreams>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> ApiResult<Json<SessionJson>> {
    let Json(body) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req = up.request(LoginRequest { username: body.username, password: body.password });
    let resp = up.call("user-service", up.users.clone().login(req)).await?;
    Ok(Json(SessionJson {
        token: resp.token,
        expires_at: resp.expires_at,
        user: resp.user.map(UserJson::from),
    }))
}

/// `GET /api/v1/users/me` (Bearer) → `{"user": …}`: validate the token with user-service,
/// then fetch the profile of whoever it names.
pub async fn me(
    State(up): State<Upstreams>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let token = bearer(&headers)?;
    let who = up
        .call(
            "user-service",
            up.users.clone().validate_token(up.request(ValidateTokenRequest { token })),
        )
        .await?;
    let resp = up
        .call(
            "user-service",
            up.users.clone().get_user(up.request(GetUserRequest { user_id: who.user_id })),
        )
        .await?;
    let user = resp.user.map(UserJson::from);
    Ok(Json(serde_json::json!({ "user": user })))
}

/// `GET /api/v1/books` → a page. `sort` and `order` are words on the HTTP side and proto
/// enums on the gRPC side; unknown words are a 400, not silently the default.
pub async fn list_books(
    State(up): State<Upstreams>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<BookPageJson>> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let sort = match p.sort.as_deref() {
        None | Some("created_at") => SortField::CreatedAt,
        Some("price") => SortField::Price,
        Some("title") => SortField::Title,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sort must be price, created_at or title, not {other:?}"
            )));
        }
    };
    let order = match p.order.as_deref() {
        None | Some("desc") => SortOrder::Desc,
        Some("asc") => SortOrder::Asc,
        Some(other) => {
            return Err(ApiError::bad_request(format!("order must be asc or desc, not {other:?}")));
        }
    };
    let req = up.request(ListBooksRequest {
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(0),
        sort_by: sort as i32,
        order: order as i32,
        keyword: p.keyword.unwrap_or_default(),
    });
    let r = up.call("catalog-service", up.catalog.clone().list_books(req)).await?;
    Ok(Json(BookPageJson {
        books: r.books.into_iter().map(BookJson::from).collect(),
        total: r.total,
        page: r.page,
        page_size: r.page_size,
    }))
}

/// `GET /api/v1/books/search?q=…`.
pub async fn search_books(
    State(up): State<Upstreams>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<BookPageJson>> {
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let req = up.request(SearchBooksRequest {
        query: p.q.unwrap_or_default(),
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(0),
    });
    let r = up.call("catalog-service", up.catalog.clone().search_books(req)).await?;
    Ok(Json(BookPageJson {
        books: r.books.into_iter().map(BookJson::from).collect(),
        total: r.total,
        page: r.page,
        page_size: r.page_size,
    }))
}

/// `GET /api/v1/books/{id}`.
pub async fn get_book(
    State(up): State<Upstreams>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("book id must be a positive integer"))?;
    let r = up
        .call("catalog-service", up.catalog.clone().get_book(up.request(GetBookRequest { id })))
        .await?;
    Ok(Json(serde_json::json!({ "book": r.book.map(BookJson::from) })))
}

/// `POST /api/v1/books` (Bearer) → 201 `{"book": …}`.
///
/// The gateway checks the token first (an anonymous request costs catalog-service
/// nothing), then forwards it as gRPC metadata: catalog-service checks it again, because
/// it must not trust that every caller came through the gateway.
pub async fn publish_book(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    body: Result<Json<PublishBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let token = bearer(&headers)?;
    up.call(
        "user-service",
        up.users.clone().validate_token(up.request(ValidateTokenRequest { token: token.clone() })),
    )
    .await?;
    let Json(b) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut req = up.request(PublishBookRequest {
        title: b.title,
        author: b.author,
        isbn: b.isbn,
        publisher: b.publisher,
        price: b.price,
        stock: b.stock,
        description: b.description,
    });
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ApiError::unauthenticated("token is not valid header text"))?;
    req.metadata_mut().insert("authorization", value);
    let r = up.call("catalog-service", up.catalog.clone().publish_book(req)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "book": r.book.map(BookJson::from) }))))
}
