//! The learner's two writes during the run: `p` publishes (a catalogue write that must
//! evict the list pages), `u` sells or restocks in inventory (which must evict nothing,
//! yet show on the catalogue's pages within a second). The screen shows both.

use std::time::{Duration, Instant};

use bookstore_proto::{
    catalog::{GetBookRequest, PublishBookRequest, catalog_service_client::CatalogServiceClient},
    inventory::{
        DecrStockRequest, GetStockRequest, IncrStockRequest, StockItem,
        inventory_service_client::InventoryServiceClient,
    },
};
use rand::Rng;

use super::{CacheTargets, channel};

// Logged in as the lab's admin (made by every `up`): publishing needs the admin role, and
// a shopper's token is refused with PERMISSION_DENIED.
// The call chain this press sets off is the course's Week 6 architecture in miniature:
// lab → user-service Login (a JWT with roles) → catalog-service PublishBook with
// `authorization: Bearer …` → catalog asks user-service `ValidateToken` (one holder of the
// signing key) and checks the `admin` role → INSERT in `catalog_db` → IncrStock in
// inventory (the opening stock) → `INCR` the list version. Reads need no token; only
// writes pay for the extra RPC. If user-service is down, PublishBook fails *closed*
// (UNAVAILABLE) and the note says so — the right behaviour for an auth check.
/// A learner's write: publish a new book (as the lab's admin). The catalog must evict its
/// list pages, or the new book stays invisible for 5 minutes.
pub async fn publish_book(targets: &CacheTargets) -> anyhow::Result<String> {
    // user-service is optional for the cache experiment (reads need no token), so
    // its absence is reported here, at the one press that needs it.
    let user_addr =
        targets.user.as_deref().ok_or_else(|| anyhow::anyhow!("user-service is not running"))?;
    let token = crate::experiments::orders::admin_token(user_addr).await?;
    let name = bookstore_stack::testing::unique_name("lab");
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
        // The opening stock, given in inventory by PublishBook itself (IncrStock
        // `publish:<id>`), so the new book is on sale at once.
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
    // The title and id are the service's answer, not the request: the note proves the
    // book exists; the list pages' dip in the hit rate proves they were evicted.
    Ok(format!("已发布《{}》(id {})", book.title, book.id))
}

// Down by one while there is stock, back up by ten near zero: pressing `u` repeatedly
// keeps changing the number (each press must be a visible change) without ever selling
// out the hottest book, whose reads are the experiment.
// The change goes where stock lives — inventory-service (DecrStock, IncrStock), like a
// real sale or delivery — and never through the catalogue: catalog caches no stock, so
// nothing is evicted, and the catalogue shows the new figure once its 500 ms memory of
// the old one has passed. The press then *measures* that: it polls GetBook until the
// catalogue answers the new figure and reports how long it took.
/// A learner's write: sell one copy of the hottest book in inventory (or restock ten near
/// zero), then wait until catalog-service's GetBook shows it; reports both figures and
/// the delay.
pub async fn change_stock(targets: &CacheTargets, book: u64) -> anyhow::Result<String> {
    let inv_addr = targets
        .inventory
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("inventory-service is not running"))?;
    let mut inventory = InventoryServiceClient::new(channel(inv_addr).await?);
    let current = inventory.get_stock(GetStockRequest { book_id: book }).await?.into_inner();
    // inventory's own figure, read directly: the "before" of the note must not come
    // from the catalogue, whose display is what is being timed.
    let current = current.stock.map_or(0, |s| s.available);
    // Idempotency keys from the clock: each press is a new sale or delivery, never a replay.
    // As an order id it is far above any real one (order_db's ids count from 1),
    // so the lab's sale can never collide with a real order's settled record.
    let key = chrono::Utc::now().timestamp_micros().unsigned_abs();
    // Above 5: sell one (a direct DecrStock, the shape of a checkout without a
    // lock). At 5 or below: restock ten, so repeated presses cycle between 5 and 15.
    let next = if current > 5 {
        let items = vec![StockItem { book_id: book, quantity: 1 }];
        let r = inventory.decr_stock(DecrStockRequest { order_id: key, items }).await?;
        // The answer's figure, not `current - 1`: if anyone else sold or restocked
        // the book meanwhile, inventory's answer is the only exact "after".
        r.into_inner().stocks.first().map_or(current - 1, |s| s.available)
    } else {
        let r = inventory
            .incr_stock(IncrStockRequest {
                book_id: book,
                quantity: 10,
                request_id: format!("lab-day29-{key}"),
                remark: "Day 29 experiment".into(),
            })
            .await?;
        r.into_inner().stock.map_or(current + 10, |s| s.available)
    };
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    // The clock starts after inventory answered: what is timed is the catalogue's
    // delay in showing a change that has already happened.
    let started = Instant::now();
    // Bounded at 3 s, six times the promise: a catalogue still showing the old figure then
    // is reported as such, not waited for.
    while started.elapsed() < Duration::from_secs(3) {
        let shown = catalog.get_book(GetBookRequest { id: book }).await?.into_inner().book;
        // Equality with the exact figure: a change by someone else in between
        // (a second press, a curl) would never match and end as the 3 s message,
        // a false alarm the note's numbers let the learner recognise.
        if shown.is_some_and(|b| i64::from(b.stock) == next) {
            let ms = started.elapsed().as_millis();
            return Ok(format!(
                "库存服务：图书 {book} {current} → {next}；目录 {ms} ms 后显示 {next}"
            ));
        }
        // 50 ms polls: the reported delay is accurate to about one poll, well
        // under the 500 ms it is compared with.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(format!("库存服务：图书 {book} {current} → {next}；目录 3 秒后仍未显示新值！"))
}
