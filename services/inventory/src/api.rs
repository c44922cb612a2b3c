//! The gRPC handlers: parse into domain types, call one store method, map the answer.
//!
//! Handlers stay thin on purpose: the rules live in the Lua scripts (atomicity,
//! idempotence) and in `domain` (validation), where a learner can read them without gRPC
//! noise. Each handler counts its outcome in `inventory_operations_total{op, result}`.

use std::time::Duration;

use bookstore_proto::inventory::{self as pb, inventory_service_server::InventoryService};
use sqlx::MySqlPool;
use tonic::{Request, Response, Status};

use crate::domain::{BookId, Lines, OrderId, Quantity, RequestId, parse_remark};
use crate::error::Error;
use crate::ledger;
use crate::store::{Settle, StockStore};

/// Most ids one GetStocks may ask for: a catalogue page is at most 100 books.
pub const MAX_BATCH: usize = 100;

/// The service: the Redis store (hot path) and the MySQL pool (ledger reads).
///
/// Cloned per connection by tonic, so both fields are cheap handles (a multiplexed Redis
/// connection, a pool) — DON'T put a `Mutex` around anything here: every request would
/// queue on it, and the Lua script already provides all the mutual exclusion needed.
#[derive(Clone)]
pub struct InventoryApi {
    store: StockStore,
    /// Read-only here: GetStockLog and Reconcile read the ledger, and no handler writes it.
    /// The syncer is the ledger's one writer, so a slow MySQL slows the audit screens and
    /// the sync lag, never a sale.
    pool: MySqlPool,
}

impl InventoryApi {
    /// The handlers over an already connected store and pool (built by [`crate::run`]).
    pub fn new(store: StockStore, pool: MySqlPool) -> Self {
        Self { store, pool }
    }
}

/// Counts the outcome and converts the error: the one exit of every handler.
///
/// The metric's `result` label is the error's short name (`out_of_stock`, `invalid`, …):
/// the lab's dashboard plots "sold out" apart from "broken", because a rising
/// `out_of_stock` during a flash sale is success, and a rising `error` is an incident.
fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    // Counted before the conversion, on the domain error: once it is a `Status`, "sold out"
    // and "a precondition failed for another reason" share one code and cannot be told apart.
    metrics::counter!("inventory_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    /// GetStock reads Redis, never MySQL: Redis is where stock is decided, MySQL trails it
    /// by the syncer's lag. DON'T answer "how many are left" from the ledger — a shopper
    /// would see "3 left", click, and be refused because those 3 sold a millisecond ago.
    /// The one HMGET is atomic, so the four counters it returns are always conserved.
    async fn get_stock(
        &self,
        request: Request<pb::GetStockRequest>,
    ) -> Result<Response<pb::GetStockResponse>, Status> {
        // The body is an async block returning `Result<_, Error>`, so `?` works on domain and
        // store errors alike; `finish` is the single place they become a `Status`.
        let result = async {
            let book = BookId::parse(request.get_ref().book_id)?;
            // One HMGET; unknown books come back as NOT_FOUND from the store.
            let stock = self.store.get(book).await?;
            Ok(pb::GetStockResponse { stock: Some(stock.into()) })
        };
        finish("get", result.await)
    }

    /// GetStocks: the counters of up to [`MAX_BATCH`] books in one call — what
    /// catalog-service reads to show live stock on a page without one RPC per book.
    /// Unknown books are left out rather than failing the call: a page of 20 with one book
    /// never stocked must still show the other 19.
    async fn get_stocks(
        &self,
        request: Request<pb::GetStocksRequest>,
    ) -> Result<Response<pb::GetStocksResponse>, Status> {
        let result = async {
            let ids = &request.get_ref().book_ids;
            // Empty is refused, not answered empty: proto3 sends a forgotten repeated field as
            // an empty list, so it is the caller's bug, like an id of 0.
            if ids.is_empty() || ids.len() > MAX_BATCH {
                return Err(Error::InvalidArgument(format!(
                    "book_ids must hold 1 to {MAX_BATCH} ids, got {}",
                    ids.len()
                )));
            }
            // Repeats are answered once: the first mention keeps its place in the answer.
            let mut books: Vec<BookId> = Vec::with_capacity(ids.len());
            for id in ids {
                let book = BookId::parse(*id)?;
                if !books.contains(&book) {
                    books.push(book);
                }
            }
            // The answer follows `books`' order (the store zips its replies with it), so the page
            // can render the list in the order it asked without a lookup by id.
            let stocks = self.store.get_many(&books).await?;
            Ok(pb::GetStocksResponse { stocks: stocks.into_iter().map(Into::into).collect() })
        };
        finish("get_many", result.await)
    }

    /// LockStock, called by order-service when an order is created. All-or-nothing across
    /// the items, so an order never ends up with half its books reserved. A retry with the
    /// same order id (the first reply was lost) answers `replayed = true` and changes
    /// nothing; a retry that arrives after the order was released is refused rather than
    /// reserving stock for a dead order.
    async fn lock_stock(
        &self,
        request: Request<pb::LockStockRequest>,
    ) -> Result<Response<pb::LockStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            // Parse everything before touching Redis: a request is either valid as a whole or
            // refused as a whole, and a refused one leaves no trace (not even a log line).
            let lines = Lines::parse(&req.items)?;
            // All or nothing: on OutOfStock the error names the first short book, and no line
            // of the order was locked. A replay answers the *current* counters, which may
            // include later sales: the caller learns "already locked", not a stale copy.
            let (stocks, replayed) = self.store.lock(order, &lines).await?;
            Ok(pb::LockStockResponse {
                stocks: stocks.into_iter().map(Into::into).collect(),
                replayed,
            })
        };
        finish("lock", result.await)
    }

    /// ReleaseStock: the order was cancelled (or expired). The order record says what to
    /// give back; the request only names the order. An order that holds nothing is a
    /// no-op — not an error — because "make sure this order holds no stock" is what the
    /// caller means, and that is already true.
    async fn release_stock(
        &self,
        request: Request<pb::ReleaseStockRequest>,
    ) -> Result<Response<pb::ReleaseStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            // The reason becomes the log rows' remark, so an auditor sees why stock came back.
            let reason = parse_remark(&req.reason)?;
            // Never an empty remark: every log row says why units moved, so an auditor
            // reading "released" knows it came through this RPC and not from the sweeper.
            let reason = if reason.is_empty() { "released".to_string() } else { reason };
            let settled = self.store.settle(order, Settle::Release, &reason).await?;
            Ok(pb::ReleaseStockResponse {
                released: settled
                    .lines
                    .into_iter()
                    .map(|(book_id, quantity)| pb::StockItem { book_id, quantity })
                    .collect(),
                replayed: settled.replayed,
            })
        };
        finish("release", result.await)
    }

    /// DecrStock, in its two forms (see the proto):
    /// - no items: confirm the order's reservation after payment (locked → sold). The
    ///   response's counters are re-read after the script: one extra round trip per item,
    ///   acceptable on the once-per-order payment path, kept out of the scripts so that
    ///   settle.lua stays a pure state change;
    /// - items: the course's direct decrement (available → sold), idempotent per order id,
    ///   used by the race and the bench. It skips the reservation step, so it suits
    ///   "buy now" flows where payment is already captured.
    async fn decr_stock(
        &self,
        request: Request<pb::DecrStockRequest>,
    ) -> Result<Response<pb::DecrStockResponse>, Status> {
        let req = request.into_inner();
        // Decided before any parsing: an empty list *is* the confirm form by the proto's
        // contract, so it can never be refused as an empty direct sale.
        let confirm = req.items.is_empty();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            if confirm {
                // The order was paid: its locked units become sold.
                // The payment path: called once per paid order, after payment-service's callback.
                let settled = self.store.settle(order, Settle::Confirm, "paid").await?;
                let mut stocks = Vec::with_capacity(settled.lines.len());
                // The settle script answers with the lines it moved; the response promises
                // counters, so read them back (a replay or a no-op moved nothing and returns none).
                for (book, _) in &settled.lines {
                    stocks.push(self.store.get(BookId::parse(*book)?).await?.into());
                }
                return Ok(pb::DecrStockResponse { stocks, replayed: settled.replayed });
            }
            // The direct path: the same validation as LockStock, then one decr.lua call.
            // The same parse as LockStock: a duplicate book here would let one call sell past the
            // stock (see `Lines`), and the direct path has no reservation step to catch it later.
            let lines = Lines::parse(&req.items)?;
            let (stocks, replayed) = self.store.decr(order, &lines).await?;
            Ok(pb::DecrStockResponse {
                stocks: stocks.into_iter().map(Into::into).collect(),
                replayed,
            })
        };
        // Two metric ops for the two forms: sales after payment and direct sales are
        // different business events, and the dashboard shows them apart.
        finish(if confirm { "confirm" } else { "decr" }, result.await)
    }

    /// IncrStock: restock or a return, idempotent per caller-chosen request id. This is the
    /// only way a book gets stock, so it is also how a book "exists" for this service.
    async fn incr_stock(
        &self,
        request: Request<pb::IncrStockRequest>,
    ) -> Result<Response<pb::IncrStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let book = BookId::parse(req.book_id)?;
            let qty = Quantity::parse(req.quantity.into())?;
            // No request id, no restock: without it a retry could not be told from a new restock.
            let request_id = RequestId::parse(&req.request_id)?;
            let remark = parse_remark(&req.remark)?;
            // A replay answers the book's current counters, which may include later sales: the
            // caller learns "already done", not a stale copy of the first answer.
            let (stock, replayed) = self.store.incr(book, qty, &request_id, &remark).await?;
            Ok(pb::IncrStockResponse { stock: Some(stock.into()), replayed })
        };
        finish("incr", result.await)
    }

    /// GetStockLog pages through MySQL, newest first. Offset paging is fine for an audit
    /// screen that reads the first pages; DON'T use OFFSET for deep exports — MySQL reads
    /// and throws away every skipped row, so page 10,000 costs 10,000 pages. An export
    /// would page by "id < last id seen" (keyset pagination) instead.
    async fn get_stock_log(
        &self,
        request: Request<pb::GetStockLogRequest>,
    ) -> Result<Response<pb::GetStockLogResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let book = BookId::parse(req.book_id)?;
            // 0 means "the default" (proto3 cannot tell unset from 0); the cap keeps one call from
            // asking MySQL for a whole book's history at once.
            let size = match req.page_size {
                0 => 20,
                // Clamped, not refused: an audit screen asking for 500 still gets a useful page,
                // and `total` in the answer tells it how many pages there are.
                n => n.min(100),
            };
            // Page 0 (proto3's unset) reads as page 1, like size 0 reads as the default.
            let (rows, total) =
                ledger::stock_log(&self.pool, book.get(), req.page.max(1), size).await?;
            Ok(pb::GetStockLogResponse {
                logs: rows
                    .into_iter()
                    .map(|r| pb::StockLog {
                        id: r.id,
                        book_id: r.book_id,
                        quantity: r.quantity,
                        // The proto enum's numbers are the course's codes, so the column maps 1:1.
                        r#type: i32::from(r.kind),
                        // NULL for restocks (they carry a request id, not an order): sent as 0,
                        // which no real order has, because `OrderId` refuses 0 on the way in.
                        order_id: r.order_id.unwrap_or(0),
                        remark: r.remark.unwrap_or_default(),
                        // Unix milliseconds, as the proto says: no time zone can be misread in
                        // transit.
                        created_at: r.created_at.and_utc().timestamp_millis(),
                    })
                    .collect(),
                total,
            })
        };
        finish("log", result.await)
    }

    /// Reconcile: the operator's "are Redis and MySQL telling the same story?". It waits
    /// up to 5 s for the syncer, then compares as of one instant (see
    /// [`ledger::reconcile`]). A drift means a bug or a lost Redis write — never normal lag.
    /// 5 s is 500 of the syncer's 10 ms polls: a syncer that needs longer is stuck or its
    /// MySQL is down, and "syncer behind" is then the true answer.
    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            // An id of 0 in the filter is a caller bug (proto3's default), refused like elsewhere.
            let books = req
                .book_ids
                .iter()
                .map(|b| BookId::parse(*b).map(BookId::get))
                .collect::<Result<Vec<_>, _>>()?;
            let (checked, drifts) =
                // An empty filter means "every book"; filter or not, the snapshot script reads
                // every book, O(books), which is why Reconcile is an operator call, never on a
                // request path.
                ledger::reconcile(&self.store, &self.pool, &books, Duration::from_secs(5)).await?;
            Ok(pb::ReconcileResponse {
                checked,
                drifts: drifts
                    .into_iter()
                    .map(|d| pb::StockDrift {
                        book_id: d.book_id,
                        redis: Some(d.redis.into()),
                        mysql: Some(d.mysql.into()),
                    })
                    .collect(),
            })
        };
        finish("reconcile", result.await)
    }
}
