//! Errors as HTTP: a status code and a JSON body `{"error":{"code":"NOT_FOUND","message":"…"}}`.
//!
//! The gateway's one error type is [`ApiError`]. Upstream services answer with gRPC codes;
//! [`http_status`] is the one table that turns them into HTTP statuses:
//!
//! | gRPC code | HTTP | meaning for the client |
//! |---|---|---|
//! | INVALID_ARGUMENT, OUT_OF_RANGE | 400 | fix the request |
//! | UNAUTHENTICATED | 401 | log in (again) |
//! | PERMISSION_DENIED | 403 | you are known, but not allowed |
//! | NOT_FOUND | 404 | no such thing |
//! | ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION | 409 | conflicts with the current state |
//! | RESOURCE_EXHAUSTED | 429 | slow down |
//! | UNIMPLEMENTED | 501 | not built (yet) |
//! | UNAVAILABLE | 503 | retry later |
//! | DEADLINE_EXCEEDED | 504 | the upstream was too slow |
//! | anything else | 500 | our fault; details are in our logs, not in the body |
//!
//! DO: keep the machine-readable `code` stable (clients switch on it) and the `message`
//! human. DON'T: answer every failure with 500 or, worse, 200 + `{"ok": false}` — HTTP
//! clients, proxies and retry policies all understand status codes, and nothing else.
//! ## 401 or 403?
//!
//! 401 Unauthorized means "I do not know who you are" (no token, bad token): log in.
//! 403 Forbidden means "I know who you are, and you may not": logging in again will not
//! help. Mixing them up sends clients into login loops, or hides a permission problem
//! behind a login screen. The gRPC codes make the same split (UNAUTHENTICATED vs
//! PERMISSION_DENIED), so the mapping is one-to-one.
//!
//! ## The body shape
//!
//! ```json
//! {"error": {"code": "NOT_FOUND", "message": "book not found"}}
//! ```
//!
//! Always an object under `error`, never a bare string: a client can test
//! `body.error?.code` on any response, and the shape has room for more fields later
//! (a request id, field-level details) without breaking anyone.
//!
//! ## What a client may retry
//!
//! | status | retry? | why |
//! |---|---|---|
//! | 400, 401, 403, 404, 413 | no, not as is | the request itself is the problem |
//! | 409 ABORTED | yes, at once | a race inside the service; the same request will settle it |
//! | 409 FAILED_PRECONDITION, ALREADY_EXISTS | no | the state forbids it; retrying cannot change that |
//! | 429, 503 | yes, with backoff | overloaded or down; hammering makes it worse |
//! | 504 | yes, *with the same idempotency key* | the outcome is unknown: it may have happened |
//! | 500 | perhaps once | our bug, or a database hiccup; the log says which |
//!
//! The 504 row is the one that bites: a CreateOrder that timed out at the gateway may
//! still commit behind it. Retrying without a key creates a second order; retrying with
//! the same key returns the first. That is what `Idempotency-Key` is for.
//!
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use tonic::Code;

/// An HTTP error answer.
///
/// `code` is the machine-readable name (the gRPC code's name, so a client that speaks both
/// protocols sees one vocabulary); `message` is for the developer reading the response.
///
/// Not an `enum`: the gateway's own errors are few (bad request, unauthenticated,
/// timeout), and everything else arrives as a gRPC status, already classified by the
/// service that knew what went wrong. One struct with the final status and code keeps
/// that classification instead of re-deriving it.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status line: what proxies, browsers and retry policies act on.
    pub status: StatusCode,
    /// The gRPC code's name (`NOT_FOUND`): what a client's code switches on.
    pub code: &'static str,
    /// For the developer reading the response; never upstream text on a 500.
    pub message: String,
}

impl ApiError {
    /// The general constructor; the named ones below cover the gateway's own errors, and
    /// `From<tonic::Status>` covers everything an upstream answers. `code` is `'static`:
    /// the set of codes is closed, and a client must never see one it cannot look up.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400 for a request the gateway itself could not read (bad JSON, bad query string, a
    /// path segment that is not a number). The message is axum's description of what it
    /// could not parse, which is exactly what the client's developer needs to fix it.
    ///
    /// The code is `INVALID_ARGUMENT`, the same a service would give, so a client handles
    /// "the gateway could not read it" and "the service refused it" with one branch.
    /// Used for rejections of the query string, the JSON body and the path.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// The answer to a JSON body the gateway could not take: 413 Payload Too Large when it
    /// exceeded the body limit (axum's default, 2 MB), 400 for everything else (bad
    /// syntax, missing fields, wrong content type).
    ///
    /// Why 413 matters although both are "your fault": a client that gets 400 fixes its
    /// JSON and sends the same 3 MB again; 413 tells it (and any proxy or SDK retry logic)
    /// that the *size* is the problem. axum's rejection already knows which it is
    /// (`status()`); flattening every rejection to 400 threw that away.
    pub fn from_json(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(StatusCode::PAYLOAD_TOO_LARGE, "INVALID_ARGUMENT", e.body_text())
        } else {
            Self::bad_request(e.body_text())
        }
    }

    /// 401 for a missing or malformed `Authorization` header — decided by the gateway alone,
    /// with no upstream call; a token that is well-formed but refused comes back from
    /// user-service as UNAUTHENTICATED and becomes the same 401 through `From<Status>`.
    ///
    /// Real HTTP servers add `WWW-Authenticate: Bearer` to a 401; browsers use it to pick
    /// a login method. JSON API clients read the body instead, so we keep to the body.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    /// 504 when an upstream call outlived the gateway's timeout.
    ///
    /// 504 Gateway Timeout is exactly this: the gateway gave up waiting on an upstream.
    /// (408 would mean the *client* was too slow to send its request.)
    pub fn timeout(upstream: &str) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "DEADLINE_EXCEEDED",
            format!("{upstream} did not answer in time"),
        )
    }
}

/// The mapping table above, as code.
///
/// `Code::Ok` appears only for completeness: a successful call never becomes an
/// `ApiError`. Codes without a clear HTTP twin (`Cancelled`, `Unknown`, `DataLoss`,
/// `Internal`) are 500: from the client's side they all mean "not your fault, not now".
///
/// A pure function of the code, so it is unit-testable and identical for every route;
/// the alternative — each handler choosing its own status — is how an API ends up
/// answering "not found" with 400 on one route and 404 on the next.
pub fn http_status(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::Ok => (StatusCode::OK, "OK"),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
        Code::OutOfRange => (StatusCode::BAD_REQUEST, "OUT_OF_RANGE"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Code::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "ALREADY_EXISTS"),
        Code::Aborted => (StatusCode::CONFLICT, "ABORTED"),
        // 409 rather than 400: the request was well-formed, the resource's *state* forbids
        // it (cancel a shipped order). 422 is also defensible; what matters is one choice.
        Code::FailedPrecondition => (StatusCode::CONFLICT, "FAILED_PRECONDITION"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "UNIMPLEMENTED"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "DEADLINE_EXCEEDED"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
    }
}

/// The one conversion from upstream errors. Because every handler goes through it, the
/// rule "a 500 carries no upstream text" holds everywhere by construction.
impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        // The code decides; the message is carried along (or replaced, for 500s). Never the
        // other way round: messages are for humans and change between versions.
        let (http, code) = http_status(status.code());
        // Upstreams already send only safe messages for INTERNAL ("internal error"), but
        // the gateway does not rely on it: a 500 never carries upstream text.
        let message = if http == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = ?status.code(), message = status.message(), "upstream failure");
            "internal error".to_string()
        } else {
            status.message().to_string()
        };
        Self::new(http, code, message)
    }
}

/// The JSON body is built with `json!` rather than a derived struct: the shape is tiny,
/// fixed, and reads here exactly as a client will see it.
impl IntoResponse for ApiError {
    /// The status line and the body; axum adds `content-type: application/json`, so a
    /// client can parse every error the same way it parses every answer.
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
