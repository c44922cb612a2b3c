//! The stock a shopper sees: inventory-service's live figure, laid over every answer.
//!
//! inventory-service is the source of truth for stock (it sells, locks and releases); the
//! catalogue only *shows* it. Before this module, the catalogue showed its own `stock`
//! column, which nothing updated after a sale: a book sold out in inventory still said
//! "303 left". This module replaces that figure in every GetBook, ListBooks, SearchBooks
//! and PublishBook answer with inventory's `available`, read at answer time.
//!
//! ## Why compose at read time, and not push every sale into the catalogue
//!
//! | design | what a sale costs the catalogue | how fresh the shown stock is |
//! |---|---|---|
//! | ❌ inventory calls UpdateStock on every sale | a DB write, a detail DEL and an `INCR` of the list version: *every* list and search page is invalidated — a flash sale of 2,000 sales/s empties the list cache 2,000 times a second (an avalanche made by ourselves) | exact, at the cost of the cache |
//! | a read model fed by inventory's change stream | nothing per read; a consumer per catalog deployment | the consumer's lag; but the stream is inventory's private Redis data, and reading it would couple catalog to inventory's key layout |
//! | ✅ cache the slow-changing fields, read the fast-changing one live | nothing at all: the cached pages hold title, price, … and no stock, so a sale invalidates nothing | at most twice [`LiveStock`]'s TTL (1 s) plus one RPC behind inventory, one TTL on a page read continuously |
//!
//! The rule behind the choice: ✅ DO cache data by how often it changes. A book's title
//! changes once a year, its stock many times a second; cached in one value, the stock
//! decides the TTL of the title. Split, each gets the freshness it needs.
//!
//! ## The short-lived read, and what it costs inventory
//!
//! One page of 20 books is one `GetStocks` RPC (one pipelined HMGET per book in
//! inventory's Redis), not 20 GetStock calls. Each figure is then remembered here for
//! [`LiveStock::ttl`] (500 ms by default): a hot page read 10,000 times a second by one
//! catalog instance asks inventory at most twice a second, not 10,000 times — the same
//! Redis node that must keep selling. A shorter TTL is fresher and costs inventory more;
//! 0 reads live on every request.
//!
//! ## The consistency it gives, said plainly
//!
//! - A sale that inventory applied more than 2 × TTL + one RPC (≈ 1 s) before a read is
//!   shown by that read; on a page read continuously, one TTL + one RPC (≈ 0.5 s), because
//!   its figures are re-read in the background as soon as they pass the TTL (see
//!   [`LiveStock::overlay`]). Not more: two catalog instances may show different figures
//!   for that long, and a figure can be a moment behind a sale a shopper just made.
//! - A shown figure is a *display*, never a promise: LockStock in inventory decides, so a
//!   shopper who sees "1 left" may still be told "sold out" — never the other way round
//!   (no oversell, whatever this module shows).
//! - inventory down or slow (over `stock_timeout_ms`, 300 ms): the last figure this
//!   instance saw, or 0 if it saw none. A warning is logged and
//!   `catalog_live_stock_reads_total{result="unavailable"}` counts it. Nothing can be
//!   sold while inventory is down, so a stale or zero figure misleads nobody into an order
//!   that would have succeeded; the page itself still answers (browsing survives).
//! - A book with no inventory row shows 0: it cannot be ordered, and "0 left" says so.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bookstore_platform::clients::Balanced;
use bookstore_proto::{
    catalog::Book,
    inventory::{
        GetStocksRequest, IncrStockRequest, inventory_service_client::InventoryServiceClient,
    },
};
use tokio::sync::mpsc;
use tonic::Code;

use crate::{Error, Stats};

/// A figure read from inventory, and when.
#[derive(Clone, Copy)]
struct Seen {
    available: i32,
    /// When the answer arrived, not when it was asked for: the age is under-read by up to
    /// one RPC, which is why the module docs add "+ one RPC" to every bound they promise.
    at: Instant,
    /// Set while one request re-reads this stale figure (see [`LiveStock::overlay`]).
    refreshing: Option<Instant>,
}

impl Seen {
    /// A figure as inventory just answered it, claimed by nobody.
    fn answered(available: i32, at: Instant) -> Self {
        Self { available, at, refreshing: None }
    }
}

/// What [`LiveStock::overlay`] does with one figure.
enum Need {
    /// Fresh, or stale with its re-read already claimed: shown as it is.
    Shown,
    /// Just stale, now claimed by this request: shown, and re-read by the refresher.
    Behind,
    /// Never seen, or too old to show: read before answering.
    Now,
}

/// inventory-service's stock, read in batches and remembered briefly.
///
/// Cheap to clone: the reader is an `Arc`, the queue a channel handle.
#[derive(Clone)]
pub struct LiveStock {
    /// How long a figure is shown without asking again (`stock_ttl_ms`).
    pub ttl: Duration,
    reader: Arc<Reader>,
    /// Stale figures for the background refresher (see [`LiveStock::overlay`]). When the
    /// last `LiveStock` clone is dropped with the service, the refresher's queue closes and
    /// the task ends with it.
    behind: mpsc::UnboundedSender<u64>,
}

/// What asks inventory and remembers the answers: shared by the handlers and the
/// background refresher.
struct Reader {
    client: InventoryServiceClient<Balanced>,
    /// Deadline for one GetStocks (`stock_timeout_ms`): past it the page is answered with
    /// what is known, instead of making every shopper wait for a struggling inventory.
    timeout: Duration,
    /// The last figure per book id. A std `Mutex`, not tokio's: it is held for a few map
    /// operations and never across an `.await`. Bounded by the number of books that exist
    /// (ids reach here only after the catalogue found them): ~40 bytes × 5,000 books.
    seen: Mutex<HashMap<u64, Seen>>,
    /// The instance's counters: every GetStocks is counted there.
    stats: Arc<Stats>,
}

impl LiveStock {
    /// A reader of inventory at `addr` (`http://…` or `consul://…`, connected lazily), and
    /// its background refresher (spawned here, so this must run inside the runtime).
    pub fn new(
        addr: &str,
        ttl: Duration,
        timeout: Duration,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let channel = bookstore_platform::clients::channel("inventory-service", addr)?;
        let reader = Arc::new(Reader {
            client: InventoryServiceClient::new(channel),
            timeout,
            seen: Mutex::new(HashMap::new()),
            stats,
        });
        let (behind, queue) = mpsc::unbounded_channel();
        tokio::spawn(refresher(reader.clone(), queue));
        Ok(Self { ttl, reader, behind })
    }

    // lesson:live-stock:start
    /// Sets every book's `stock` to inventory's last known `available` (see the module
    /// docs for how fresh). A figure never seen, or older than twice the TTL, is read now,
    /// one RPC for all of them; a figure just past its TTL is shown as it is and handed to
    /// the background refresher.
    ///
    /// Why not wait for every stale figure: a popular page expires for all of its
    /// concurrent readers at once. ❌ DON'T let every request refresh what it finds stale —
    /// each of them sent the same GetStocks, and a request that waited for it paid a second
    /// RPC on top of its own. ✅ The first reader that finds a figure stale claims its
    /// re-read and queues it; the refresher sends everything queued meanwhile in one
    /// GetStocks (up to 100 ids). A page read all the time is then never waited on. A page
    /// read rarely finds its figures more than 2 × TTL old and reads them inline, so no
    /// figure is ever shown older than 2 × TTL plus one RPC (about a second).
    pub async fn overlay(&self, books: &mut [Book]) {
        let now = Instant::now();
        // The lock is taken twice, never across the RPC: a std `MutexGuard` held over an
        // `.await` would block every other request of this instance for the RPC's length
        // (and does not compile in a `Send` future anyway). Two short sections instead.
        let now_ids: Vec<u64> = {
            let mut seen = self.reader.lock();
            let mut now_ids = Vec::new();
            for book in books.iter() {
                match self.need(seen.get_mut(&book.id), now) {
                    Need::Shown => {}
                    // A send fails only when the refresher is gone with the service.
                    Need::Behind => drop(self.behind.send(book.id)),
                    Need::Now => now_ids.push(book.id),
                }
            }
            now_ids
        };
        if !now_ids.is_empty() {
            self.reader.refresh(&now_ids).await;
        }
        let seen = self.reader.lock();
        for book in books {
            // Still missing only if inventory never answered for it: 0, see the module docs.
            book.stock = seen.get(&book.id).map_or(0, |s| s.available);
        }
    }

    /// What a figure needs before it is shown; claims a re-read for the refresher.
    ///
    /// A claim older than the RPC's timeout is dead (the refresher's call failed or hung)
    /// and is taken over, so one lost answer cannot freeze a figure.
    fn need(&self, seen: Option<&mut Seen>, now: Instant) -> Need {
        let Some(s) = seen else { return Need::Now };
        let age = now.duration_since(s.at);
        if age < self.ttl {
            return Need::Shown;
        }
        if age >= self.ttl * 2 {
            return Need::Now;
        }
        if s.refreshing.is_some_and(|t| now.duration_since(t) < self.reader.timeout) {
            return Need::Shown;
        }
        s.refreshing = Some(now);
        Need::Behind
    }
    // lesson:live-stock:end

    /// Gives a newly published book its opening stock in inventory: IncrStock with request
    /// id `publish:<book_id>`, so a retried publish of the same book adds it once
    /// (inventory answers the retry as a replay). Returns the book's `available` after it.
    ///
    /// The id is derived from the book, not chosen at random per call: a random id would
    /// make every retry a fresh restock, and a publish retried three times would put three
    /// times the stock on the shelf.
    pub async fn open(&self, book_id: u64, quantity: i32) -> Result<i32, Error> {
        let mut request = tonic::Request::new(IncrStockRequest {
            book_id,
            quantity,
            request_id: format!("publish:{book_id}"),
            remark: "opening stock (PublishBook)".into(),
        });
        // A write, so the ordinary upstream deadline of the caller, not the display read's.
        // `max`: a lab that shortens the display timeout to 50 ms must not make publishing
        // fail under ordinary load along with it.
        let deadline = self.reader.timeout.max(Duration::from_secs(3));
        request.set_timeout(deadline);
        let mut client = self.reader.client.clone();
        let stock = match tokio::time::timeout(deadline, client.incr_stock(request)).await {
            Ok(Ok(r)) => r.into_inner().stock.unwrap_or_default(),
            // A refusal of the request itself (a quantity out of range) is the caller's
            // error; anything else means inventory could not be asked.
            Ok(Err(s)) if s.code() == Code::InvalidArgument => {
                return Err(Error::InvalidArgument(s.message().to_string()));
            }
            Ok(Err(s)) => {
                return Err(Error::StockUnavailable(format!("{:?}: {}", s.code(), s.message())));
            }
            Err(_) => return Err(Error::StockUnavailable("timed out".into())),
        };
        // A replay answers the book's current counters, so after a retried publish this is
        // what is on the shelf now (the opening stock minus any sales since), not 0.
        let available = i32::try_from(stock.available.max(0)).unwrap_or(i32::MAX);
        // Remembered now: the publisher's next read shows the stock without waiting a TTL.
        self.reader.lock().insert(book_id, Seen::answered(available, Instant::now()));
        Ok(available)
    }
}

impl Reader {
    /// The figures, whatever state the lock is in.
    ///
    /// A poisoned lock (a panic while it was held) is recovered, not propagated: the map
    /// holds display figures only, so the worst case is one stale number, where `unwrap`
    /// would turn one panic into a failed read on every later request.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One GetStocks for `ids` (at most 100: a page's worth), remembered with the time of
    /// the answer. Ids inventory left out have no row there: remembered as 0.
    async fn refresh(&self, ids: &[u64]) {
        // Both deadlines, as in `auth`: `set_timeout` tells inventory when we stop waiting
        // (`grpc-timeout`), `tokio::time::timeout` enforces it here even on a connect that
        // never completes.
        let mut request = tonic::Request::new(GetStocksRequest { book_ids: ids.to_vec() });
        request.set_timeout(self.timeout);
        let mut client = self.client.clone();
        self.stats.stock_read();
        let answer = tokio::time::timeout(self.timeout, client.get_stocks(request)).await;
        let stocks = match answer {
            Ok(Ok(r)) => r.into_inner().stocks,
            failed => {
                let why = match failed {
                    Ok(Err(status)) => format!("{:?}: {}", status.code(), status.message()),
                    _ => "timed out".to_string(),
                };
                // Keep what is remembered (stale beats blank); see the module docs.
                tracing::warn!(error = %why, books = ids.len(), "GetStocks failed; showing the last known stock");
                metrics::counter!("catalog_live_stock_reads_total", "result" => "unavailable")
                    .increment(1);
                // The claims are released, so the next request tries again at once
                // instead of showing the old figure until the claims time out.
                let mut seen = self.lock();
                for id in ids {
                    if let Some(s) = seen.get_mut(id) {
                        s.refreshing = None;
                    }
                }
                return;
            }
        };
        metrics::counter!("catalog_live_stock_reads_total", "result" => "ok").increment(1);
        let at = Instant::now();
        let mut seen = self.lock();
        // Every id asked for is remembered, the absent ones as 0: otherwise a page with one
        // never-stocked book would re-ask inventory on every read — the penetration pattern
        // of the detail cache, one level down, with the same cure.
        for id in ids {
            seen.insert(*id, Seen::answered(0, at));
        }
        for s in stocks {
            // `available` is an i64 in inventory, an i32 in the catalogue's Book; a shelf
            // beyond 2³¹ copies is shown as the largest figure rather than wrapping negative.
            let available = i32::try_from(s.available.max(0)).unwrap_or(i32::MAX);
            seen.insert(s.book_id, Seen::answered(available, at));
        }
    }
}

/// The background refresher: one GetStocks at a time, for every stale id queued while the
/// previous one was in flight (up to inventory's batch limit of 100).
///
/// No timer: a batch is whatever has queued up, so a quiet instance sends a figure alone
/// and at once, and a busy one gathers the stale figures of many pages into one RPC — the
/// busier, the fewer RPCs per figure. Ends when every `LiveStock` is gone.
///
/// One call in flight, not one per batch: the refresher is the only sender of these
/// re-reads, so inventory sees at most one of them per catalog instance at any moment,
/// however hot the catalogue — and a slow inventory makes the batches bigger instead of
/// the calls more numerous. The queue is unbounded on paper only: an id enters it once
/// per claim, so it never holds more than the books this instance has shown.
async fn refresher(reader: Arc<Reader>, mut queue: mpsc::UnboundedReceiver<u64>) {
    while let Some(first) = queue.recv().await {
        let mut ids = vec![first];
        while ids.len() < 100 {
            match queue.try_recv() {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
        }
        reader.refresh(&ids).await;
    }
}
