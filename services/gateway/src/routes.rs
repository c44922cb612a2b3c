//! The handlers: read HTTP (path, query, JSON, `Authorization`), call gRPC, write JSON.
//!
//! Every extractor is taken as a `Result`, so a malformed query string or body becomes the
//! same JSON error shape as everything else instead of axum's plain-text rejection.
//!
//! Every handler has the same four steps, in the same order:
//!
//! 1. **extract** — path, query string, JSON body, `Authorization` header; a failure here
//!    is the client's (400/401) and costs no upstream call;
//! 2. **translate** — HTTP vocabulary to the proto request (`sort=price` →
//!    `SortField::Price`), adding the deadline ([`Upstreams::request`]);
//! 3. **call** — through [`Upstreams::call`], which bounds the wait and maps gRPC errors;
//! 4. **answer** — proto response to the JSON shapes of [`crate::json`], with the status
//!    code the operation deserves (201 for creations, 200 otherwise).
//!
//! Clients are cloned per call (`up.users.clone()`): a tonic client method takes
//! `&mut self`, and a clone is only a handle on the shared channel.
//!
//! What a handler does *not* do, on purpose: validate fields (the service does, for every
//! caller), cache answers (catalog-service does, with invalidation), log bodies (they may
//! hold passwords), or retry upstream calls (a retry of a non-idempotent call is the
//! client's decision, made with an idempotency key; the gateway cannot know it is safe).
//!
//! Order routes are in [`crate::orders`], payment routes in [`crate::payments`]; both follow
//! the same four steps.
//!
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

/// Every handler returns `Result<_, ApiError>`; axum turns the error into the JSON
/// response through `IntoResponse`, so `?` is all a handler needs.
type ApiResult<T> = Result<T, ApiError>;

/// The bearer token of an HTTP request — by reusing the platform's gRPC-metadata parser,
/// so HTTP and gRPC callers are held to exactly the same rules.
///
/// The header is only parsed here, never trusted: the token's validity is decided by
/// user-service. A missing or malformed header is answered at once with 401, without an
/// upstream call.
///
/// The header map is copied to build a `MetadataMap` (a few hundred bytes per request):
/// the price of one parser, and therefore one set of rules, for both protocols.
pub(crate) fn bearer(headers: &HeaderMap) -> ApiResult<String> {
    bookstore_platform::auth::bearer_token(&MetadataMap::from_headers(headers.clone()))
        .map_err(|status| ApiError::unauthenticated(status.message()))
}

/// A gRPC request carrying the deadline and the caller's own token as `authorization`
/// metadata: what every Bearer route sends upstream (books, orders, payments).
///
/// Why forward the caller's token: every upstream authorises by the *caller's* identity,
/// which only the caller's token carries. ❌ DON'T give the gateway one credential of its
/// own for all calls — every service would then see "the gateway" and could no longer
/// tell whose order it is, so any shopper could read any order.
pub(crate) fn authed<T>(
    up: &Upstreams,
    headers: &HeaderMap,
    message: T,
) -> ApiResult<tonic::Request<T>> {
    let token = bearer(headers)?;
    let mut req = up.request(message);
    // Rebuilt from the parsed token rather than copied: what goes upstream is exactly
    // `Bearer <token>`, whatever case or spacing the client used.
    let value = format!("Bearer {token}")
        .parse()
        .map_err(|_| ApiError::unauthenticated("token is not valid header text"))?;
    req.metadata_mut().insert("authorization", value);
    Ok(req)
}

/// `POST /api/v1/users/register` → 201 `{"user": …}`: registers a new user.
///
/// 201 Created rather than 200: a new resource exists now. Clients and proxies treat the
/// two differently (201 is never cached), and REST clients expect it.
pub async fn register(
    State(up): State<Upstreams>,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let Json(body) = body.map_err(ApiError::from_json)?;
    // The gateway's deadline rides along (`grpc-timeout`); user-service hashes with argon2
    // (~20–40 ms), well inside it.
    let req = up.request(RegisterRequest {
        username: body.username,
        password: body.password,
        email: body.email,
    });
    // Validation (username alphabet, password length, e-mail shape) is user-service's; an
    // invalid body comes back as INVALID_ARGUMENT and leaves here as 400.
    let resp = up.call("user-service", up.users.clone().register(req)).await?;
    // The profile as stored (id, created_at from the database), never an echo of the body.
    let user = resp.user.map(UserJson::from);
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "user": user }))))
}

/// `POST /api/v1/users/login` → `{"token", "expires_at", "user"}`.
///
/// The gateway does not look inside the token or set a cookie: it passes the JWT to the
/// client, which sends it back as `Authorization: Bearer …`. (A browser app would rather
/// store it in an HttpOnly cookie to keep it away from scripts; this API serves `curl`
/// and the lab, so a header is the honest choice.)
pub async fn login(
    State(up): State<Upstreams>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> ApiResult<Json<SessionJson>> {
    let Json(body) = body.map_err(ApiError::from_json)?;
    // The password passes through the gateway in memory only; it is never logged (the
    // request struct is not printed anywhere) and never stored.
    let req = up.request(LoginRequest { username: body.username, password: body.password });
    // A wrong password and an unknown user come back as the same UNAUTHENTICATED, and leave
    // here as the same 401 body: the gateway adds no hint of its own.
    let resp = up.call("user-service", up.users.clone().login(req)).await?;
    Ok(Json(SessionJson {
        token: resp.token,
        expires_at: resp.expires_at,
        user: resp.user.map(UserJson::from),
    }))
}

/// `GET /api/v1/users/me` (Bearer) → `{"user": …}`: validate the token with user-service,
/// then fetch the profile of whoever it names.
///
/// Two upstream calls in sequence, each with its own timeout: the worst case is twice the
/// timeout. A stricter gateway would give the whole request one budget and pass what is
/// left to each call; with two short calls we keep it simple and say so.
pub async fn me(
    State(up): State<Upstreams>,
    headers: HeaderMap,
) -> ApiResult<Json<serde_json::Value>> {
    let token = bearer(&headers)?;
    // Step one: who is this? The token's claims are not read here; user-service's answer
    // is the only source of the user id (the gateway holds no JWT secret to check them).
    let who = up
        .call(
            "user-service",
            up.users.clone().validate_token(up.request(ValidateTokenRequest { token })),
        )
        .await?;
    // Step two: the profile of exactly that id. The request has no user id a client could
    // change, so `/me` can only ever be the caller's own profile.
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
///
/// `page_size` is passed as given (0 when absent): catalog-service applies the default and
/// the cap, so the answer's `page_size` tells the client what it really got.
pub async fn list_books(
    State(up): State<Upstreams>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> ApiResult<Json<BookPageJson>> {
    // Every parameter is optional (`ListParams`), so only a malformed one (`page=-1`,
    // `page_size=lots`) fails here.
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    // HTTP words → proto enums. Absent means the documented default; anything else that
    // is not in the list is the caller's mistake and is said so.
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
    // `page` defaults to 1 here only for readability of the request; 0 would mean 1 too.
    let req = up.request(ListBooksRequest {
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(0),
        sort_by: sort as i32,
        order: order as i32,
        keyword: p.keyword.unwrap_or_default(),
    });
    // Caching is catalog-service's business: the gateway adds no cache of its own, so
    // there is exactly one place to invalidate when a book changes. (A gateway cache would
    // also be per instance, and two instances would show two different catalogues.)
    let r = up.call("catalog-service", up.catalog.clone().list_books(req)).await?;
    // `page` and `page_size` from the answer, not the request: what the service applied.
    Ok(Json(BookPageJson::new(r.books, r.total, r.page, r.page_size)))
}

/// `GET /api/v1/books/search?q=…`.
///
/// `q` is passed through untouched: escaping `%` and `_` is catalog-service's job (it owns
/// the SQL), and a gateway that escaped too would double-escape.
pub async fn search_books(
    State(up): State<Upstreams>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<BookPageJson>> {
    // A bad query string (`page=two`) is our 400, in the JSON shape, before any upstream.
    let Query(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    // Page and size pass through like ListBooks': the service defaults and caps them.
    let req = up.request(SearchBooksRequest {
        query: p.q.unwrap_or_default(),
        page: p.page.unwrap_or(1),
        page_size: p.page_size.unwrap_or(0),
    });
    // Search is the most expensive read (`LIKE '%…%'` scans every row); catalog caches it
    // under the list version, so a repeated search is a Redis hit, not a scan.
    let r = up.call("catalog-service", up.catalog.clone().search_books(req)).await?;
    Ok(Json(BookPageJson::new(r.books, r.total, r.page, r.page_size)))
}

/// `GET /api/v1/books/{id}`.
///
/// A non-numeric id (`/api/v1/books/abc`) is a 400 from the path extractor; id 0 reaches
/// catalog-service, which answers INVALID_ARGUMENT → 400 as well. Same answer, one rule.
pub async fn get_book(
    State(up): State<Upstreams>,
    id: Result<Path<u64>, PathRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    // `u64` in the path: `-1`, `1.5` and `abc` are all the extractor's 400.
    let Path(id) = id.map_err(|_| ApiError::bad_request("book id must be a positive integer"))?;
    // A missing book is catalog's NOT_FOUND → 404 with the JSON body; the gateway does not
    // distinguish "never existed" from "cached as missing", and neither should a client.
    let r = up
        .call("catalog-service", up.catalog.clone().get_book(up.request(GetBookRequest { id })))
        .await?;
    Ok(Json(serde_json::json!({ "book": r.book.map(BookJson::from) })))
}

/// `POST /api/v1/books` (Bearer, admin role) → 201 `{"book": …}`; a shopper's token is 403.
///
/// The gateway checks the token first (an anonymous request costs catalog-service
/// nothing), then forwards it as gRPC metadata: catalog-service checks it again, because
/// it must not trust that every caller came through the gateway.
///
/// The order of checks is: token, then body. An anonymous caller with a malformed body
/// gets 401, not 400 — telling unauthenticated callers how to shape a valid request is
/// information they have not earned.
pub async fn publish_book(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    body: Result<Json<PublishBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    // A refused token ends here with 401; an unreachable user-service with 503, never a
    // publish "because the check could not be made".
    let token = bearer(&headers)?;
    let who = up
        .call(
            "user-service",
            up.users
                .clone()
                .validate_token(up.request(ValidateTokenRequest { token: token.clone() })),
        )
        .await?;
    // A shopper's valid token is 403 here, before the body is read — by the same platform
    // rule catalog-service applies again (it must not trust that callers came through us).
    bookstore_platform::auth::require_role(&who.roles, bookstore_platform::auth::ADMIN_ROLE)?;
    let Json(b) = body.map_err(ApiError::from_json)?;
    // Forward the caller's own token, not a gateway credential: catalog-service must know
    // *who* publishes (it records the user id), and it re-validates rather than trusting
    // that the caller came through the gateway ("zero trust" between services).
    let req = authed(
        &up,
        &headers,
        PublishBookRequest {
            title: b.title,
            author: b.author,
            isbn: b.isbn,
            publisher: b.publisher,
            price: b.price,
            stock: b.stock,
            description: b.description,
        },
    )?;
    // From here on, catalog-service decides: field validation (400), a duplicate ISBN
    // (409), or the new book (201).
    let r = up.call("catalog-service", up.catalog.clone().publish_book(req)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "book": r.book.map(BookJson::from) }))))
}
