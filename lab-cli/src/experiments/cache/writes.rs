//! The learner's two writes during the run (`p` and `u`): each must evict cached entries,
//! and the screen shows whether it did.

use bookstore_proto::{
    catalog::{
        GetBookRequest, PublishBookRequest, UpdateStockRequest,
        catalog_service_client::CatalogServiceClient,
    },
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use rand::Rng;

use super::{CacheTargets, channel};

// Registering a fresh user each time is a shortcut: it needs no credentials from the
// learner and no seeded admin, at the price of one throwaway user per press. A real
// admin tool would log in once and keep the token.
// The call chain this press sets off is the course's Week 6 architecture in miniature:
// lab → user-service Register/Login (a JWT) → catalog-service PublishBook with
// `authorization: Bearer …` → catalog asks user-service `ValidateToken` (one holder of the
// signing key) → INSERT in `catalog_db` → `INCR` the list version. Reads need no token; only
// writes pay for the extra RPC. If user-service is down, PublishBook fails *closed*
// (UNAVAILABLE) and the note says so — the right behaviour for an auth check.
/// A learner's write: publish a new book (as a lab user registered on the fly). The
/// catalog must evict its list pages, or the new book stays invisible for 5 minutes.
pub async fn publish_book(targets: &CacheTargets) -> anyhow::Result<String> {
    let user_addr =
        targets.user.as_deref().ok_or_else(|| anyhow::anyhow!("user-service is not running"))?;
    let mut users = UserServiceClient::new(channel(user_addr).await?);
    let name = bookstore_stack::testing::unique_name("lab");
    let password = format!("{name}-pw-1234");
    users
        .register(RegisterRequest {
            username: name.clone(),
            password: password.clone(),
            email: format!("{name}@lab.local"),
        })
        .await?;
    let token =
        users.login(LoginRequest { username: name.clone(), password }).await?.into_inner().token;
    // A random ISBN so repeated presses never hit the catalog's unique-ISBN check
    // (AlreadyExists), which would teach nothing about caching. It must still be a *valid*
    // ISBN-13 — the catalog checks the check digit — so the 13th digit comes from the
    // catalog's own function rather than a second copy of the rule here.
    let first12: Vec<u8> = std::iter::once([9u8, 7, 8])
        .flatten()
        .chain((0..9).map(|_| rand::rng().random_range(0..10u8)))
        .collect();
    let check = bookstore_catalog::domain::isbn13_check_digit(&first12);
    let isbn: String = first12.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
    let mut req = tonic::Request::new(PublishBookRequest {
        title: format!("实验室新书 {name}"),
        author: "bookstore-lab".into(),
        isbn,
        publisher: "实验室出版社".into(),
        // Money in integer cents (¥42.00), as the proto defines it: ❌ DON'T carry prices in
        // floats — 0.1 + 0.2 ≠ 0.3, and an order total that is off by a cent fails the payment
        // reconciliation on Day 34.
        price: 4200,
        stock: 10,
        description: "Day 29 缓存失效实验中发布".into(),
    });
    // gRPC metadata is the HTTP/2 header block; the catalog reads the token with
    // `bookstore_platform::auth::bearer_token`, the same way the gateway forwards it.
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    let book = catalog
        .publish_book(req)
        .await?
        .into_inner()
        .book
        .ok_or_else(|| anyhow::anyhow!("PublishBook returned no book"))?;
    Ok(format!("已发布《{}》(id {})", book.title, book.id))
}

// Down by one while there is stock, back up by ten near zero: pressing `u` repeatedly
// keeps changing the number (each press must be a visible change) without ever
// reaching an invalid negative stock, which the service would refuse.
// UpdateStock is an *internal* RPC (the proto says inventory-service calls it to keep the
// catalogue's displayed stock in step; the gateway never exposes it). The lab calls it
// directly to trigger a catalogue write on demand — a lab privilege, like reading the
// ledger. The value is absolute, not a delta, so a retried call cannot apply twice.
/// A learner's write: set the hottest book's stock to a new value through UpdateStock.
pub async fn change_stock(targets: &CacheTargets, book: u64) -> anyhow::Result<String> {
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    let current = catalog
        .get_book(GetBookRequest { id: book })
        .await?
        .into_inner()
        .book
        .map_or(0, |b| b.stock);
    // Read-modify-write from the client is racy in general (two learners pressing `u` at once
    // could both write 41); it is fine here because the lab is the only writer and the point
    // is the visible change, not the arithmetic. The inventory lessons are where concurrent
    // writes are done properly.
    let next = if current > 5 { current - 1 } else { current + 10 };
    catalog.update_stock(UpdateStockRequest { book_id: book, stock: next }).await?;
    Ok(format!("图书 {book} 库存 {current} → {next}"))
}
