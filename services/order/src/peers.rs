//! The three services order-service calls, each call bounded by a deadline, each answer
//! translated into our own [`Error`].
//!
//! Channels come from `bookstore_platform::clients::channel` (one dialling code for every
//! service; Day 35 puts discovery behind it). This module decides what only the caller
//! can decide: how long each call may take, and what each peer error means *for an order*.
//!
//! Which calls are safe to retry — the question every orchestrator must answer per call:
//! ValidateToken and GetBook are reads; LockStock, ReleaseStock, the confirm and IncrStock
//! are idempotent per order id / request id in inventory. So every call here may be
//! repeated after an unknown outcome, which is what makes the compensation and the sweeper
//! safe. We still do not retry inside a request: the caller's deadline is better spent
//! failing fast and letting the sweeper finish the job.
//!
//! | call | keyed by | a repeat … | its refusals mean | anything else means |
//! |---|---|---|---|---|
//! | ValidateToken | — (a read) | changes nothing | UNAUTHENTICATED: bad token | UNAVAILABLE |
//! | GetBook | — (a read) | changes nothing | NOT_FOUND: no such book | UNAVAILABLE |
//! | LockStock | order id | answers "already locked" | FAILED_PRECONDITION / NOT_FOUND: no stock | UNAVAILABLE, maybe locked |
//! | ReleaseStock | order id | releases nothing more | — (never final) | UNAVAILABLE, retried |
//! | DecrStock (confirm) | order id | confirms nothing more | — (never final) | UNAVAILABLE, retried |
//! | IncrStock (return) | `order-<id>-return-<book>` | adds nothing more | — (never final) | UNAVAILABLE, retried |
//!
//! The last column is the one to remember: after a timeout the *outcome* is unknown, so
//! the caller must behave as if the call might have happened — which is only affordable
//! because every call in this table can safely happen twice.

use std::{future::Future, time::Duration};

use bookstore_platform::clients::Balanced;
use bookstore_proto::{
    catalog::{GetBookRequest, catalog_service_client::CatalogServiceClient},
    inventory::{
        DecrStockRequest, IncrStockRequest, LockStockRequest, ReleaseStockRequest, StockItem,
        inventory_service_client::InventoryServiceClient,
    },
    user::{ValidateTokenRequest, user_service_client::UserServiceClient},
};
use tonic::Code;

use crate::{Error, domain::Lines};

/// Who a valid token belongs to, as user-service answered it.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The only thing order-service needs to know about a caller: whose orders are theirs.
    pub user_id: u64,
}

/// What an order copies from the catalogue: the snapshot. Only these three fields: stock
/// is inventory's to decide, and the catalogue's displayed figure plays no part in an order.
#[derive(Clone, Debug)]
pub struct BookSnapshot {
    pub book_id: u64,
    /// Copied so an order still reads right after the book is renamed or removed.
    pub title: String,
    /// Unit price in cents, as the catalogue says at the moment of ordering.
    pub price: i64,
}

/// Clients of user-, catalog- and inventory-service (cheap to clone: channels are handles).
#[derive(Clone)]
pub struct Peers {
    users: UserServiceClient<Balanced>,
    catalog: CatalogServiceClient<Balanced>,
    inventory: InventoryServiceClient<Balanced>,
    /// One deadline for every call (`upstream_timeout_ms`, 3 s by default). A CreateOrder
    /// waits for at most two in sequence (the parallel lookups, then LockStock), and
    /// `Settings::check` makes the stale-intent bound exceed three of them plus a second.
    timeout: Duration,
}

/// The addresses [`Peers::new`] dials: three URLs, borrowed, since they are only read
/// while the channels are built.
pub struct PeerAddrs<'a> {
    pub user: &'a str,
    pub catalog: &'a str,
    pub inventory: &'a str,
}

impl Peers {
    pub fn new(addrs: PeerAddrs<'_>, timeout: Duration) -> anyhow::Result<Self> {
        use bookstore_platform::clients::channel;
        Ok(Self {
            users: UserServiceClient::new(channel("user-service", addrs.user)?),
            catalog: CatalogServiceClient::new(channel("catalog-service", addrs.catalog)?),
            inventory: InventoryServiceClient::new(channel("inventory-service", addrs.inventory)?),
            timeout,
        })
    }

    /// ValidateToken: who is calling. Only UNAUTHENTICATED means "bad token"; any other
    /// failure is user-service's trouble, answered UNAVAILABLE so the client retries rather
    /// than logging the user out.
    ///
    /// ❌ DON'T fail open: an order accepted because "user-service did not answer" would be
    /// an order with no owner, or with whatever owner the request claimed.
    pub async fn validate(&self, token: &str) -> Result<Identity, Error> {
        let req = ValidateTokenRequest { token: token.to_string() };
        let mut c = self.users.clone();
        match self.bounded("user-service", c.validate_token(self.request(req))).await {
            // The id from user-service's answer, the only source order-service believes.
            Ok(r) => Ok(Identity { user_id: r.user_id }),
            // user-service's own words ("invalid token: expired") pass through: they tell the
            // client whether to log in again, and user-service chose them to be safe to show.
            Err(s) if s.code() == Code::Unauthenticated => {
                Err(Error::Unauthenticated(s.message().to_string()))
            }
            Err(s) => Err(unavailable("user-service", &s)),
        }
    }

    /// GetBook: the title and the price, as the catalogue says *now*. The order keeps this
    /// copy forever: ✅ DO snapshot the price at order time; ❌ DON'T read it again at
    /// payment — a price change between ordering and paying would change what the buyer
    /// agreed to, and a client-sent price would let the buyer set it.
    pub async fn book(&self, book_id: u64) -> Result<BookSnapshot, Error> {
        let mut c = self.catalog.clone();
        // No retry here either: a cache miss in catalog costs one primary-key SELECT, and a
        // failure is answered UNAVAILABLE for the client (with its key) to retry.
        match self
            .bounded("catalog-service", c.get_book(self.request(GetBookRequest { id: book_id })))
            .await
        {
            // Served from catalog's Redis cache almost always (a detail entry lives an hour),
            // so N parallel GetBooks cost about one loopback round trip together.
            Ok(r) => {
                let b = r.book.ok_or_else(|| Error::Corrupt("GetBook answered no book".into()))?;
                Ok(BookSnapshot { book_id, title: b.title, price: b.price })
            }
            // The caller named a book that does not exist: their mistake, said as ours.
            Err(s) if s.code() == Code::NotFound => {
                Err(Error::NotFound(format!("book {book_id} not found")))
            }
            Err(s) => Err(unavailable("catalog-service", &s)),
        }
    }

    /// LockStock, keyed by the order id (all-or-nothing in inventory: one Lua script checks
    /// every line, then locks every line, with nothing else running on Redis in between). Its refusals are the
    /// buyer's answer (not enough stock, a book without stock); anything else — including a
    /// timeout, after which the lock may or may not exist — is UNAVAILABLE, and the caller
    /// must compensate as if it had been locked.
    pub async fn lock(&self, order_id: u64, lines: &Lines) -> Result<(), Error> {
        // Keyed by the order id that the intent row already made durable: a retry, a resumed
        // creation and the sweeper's release all name the same lock.
        let req = LockStockRequest { order_id, items: stock_items(lines) };
        let mut c = self.inventory.clone();
        match self.bounded("inventory-service", c.lock_stock(self.request(req))).await {
            Ok(_) => Ok(()),
            // Not enough stock: a definite "no", nothing was locked (all-or-nothing).
            Err(s) if s.code() == Code::FailedPrecondition => {
                Err(Error::FailedPrecondition(s.message().to_string()))
            }
            // A book inventory has never been stocked with.
            Err(s) if s.code() == Code::NotFound => Err(Error::NotFound(s.message().to_string())),
            Err(s) => Err(unavailable("inventory-service", &s)),
        }
    }

    /// ReleaseStock: give the order's locked units back. A no-op in inventory when the order
    /// holds nothing, so calling it "to be sure" is always safe.
    ///
    /// Every failure is UNAVAILABLE, including inventory's refusals: there is no answer to
    /// a release that would make us stop trying, so the caller (abandon, the sweeper) keeps
    /// the debt recorded and tries again.
    pub async fn release(&self, order_id: u64, reason: &str) -> Result<(), Error> {
        // The reason ends up in inventory's ledger next to the released units.
        let req = ReleaseStockRequest { order_id, reason: reason.to_string() };
        let mut c = self.inventory.clone();
        self.bounded("inventory-service", c.release_stock(self.request(req)))
            .await
            .map(drop)
            .map_err(|s| unavailable("inventory-service", &s))
    }

    /// DecrStock's confirm form (no items): the order's locked units become sold.
    ///
    /// Idempotent per order id in inventory: the relay's at-least-once delivery of "paid"
    /// may confirm the same order twice, and the second confirm changes nothing.
    pub async fn confirm(&self, order_id: u64) -> Result<(), Error> {
        // No items: inventory confirms exactly what this order locked, so the two services
        // can never disagree about the quantities of a sale.
        let req = DecrStockRequest { order_id, items: vec![] };
        let mut c = self.inventory.clone();
        self.bounded("inventory-service", c.decr_stock(self.request(req)))
            .await
            .map(drop)
            .map_err(|s| unavailable("inventory-service", &s))
    }

    /// A paid order cancelled: its units go back on sale through IncrStock, one call per
    /// line, each keyed `order-<id>-return-<book>` so a retried return adds them once.
    ///
    /// One call per line, in sequence, stopping at the first failure: the lines already
    /// returned are keyed, so the retry (the action stays owed) adds only the missing ones.
    pub async fn return_sold(&self, order_id: u64, lines: &[(u64, i32)]) -> Result<(), Error> {
        for &(book_id, quantity) in lines {
            let req = IncrStockRequest {
                book_id,
                quantity,
                request_id: format!("order-{order_id}-return-{book_id}"),
                remark: format!("order {order_id} cancelled after payment"),
            };
            let mut c = self.inventory.clone();
            self.bounded("inventory-service", c.incr_stock(self.request(req)))
                .await
                .map_err(|s| unavailable("inventory-service", &s))?;
        }
        Ok(())
    }

    /// A request carrying our deadline (`grpc-timeout`), so the peer can give up too.
    ///
    /// The same deadline for every call, not a share of the caller's remaining budget: a
    /// simplification the module admits (the gateway's 3 s and ours are equal, so a slow
    /// chain shows as a 504 at the gateway while we finish or compensate on our own).
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        r.set_timeout(self.timeout);
        r
    }

    /// Awaits a call for at most the deadline. Our own clock, not only the header: a peer
    /// that accepted the connection and hangs would otherwise hold the order request open
    /// (and, on the abandon path, the intent's row lock with it).
    ///
    /// The timeout becomes DEADLINE_EXCEEDED, which every caller above maps to UNAVAILABLE:
    /// for an order, "too slow" and "down" mean the same thing — not decided, try again.
    async fn bounded<T>(
        &self,
        peer: &'static str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(format!("{peer} timed out"))),
        }
    }
}

/// The basket in inventory's shape, ascending by book id as `Lines` keeps it.
fn stock_items(lines: &Lines) -> Vec<StockItem> {
    lines.iter().map(|(book_id, quantity)| StockItem { book_id, quantity }).collect()
}

/// A peer's failure as our UNAVAILABLE: the caller sees "<peer> unavailable", the peer's
/// code and message go to our log only.
fn unavailable(peer: &'static str, s: &tonic::Status) -> Error {
    Error::Unavailable { peer, detail: format!("{:?}: {}", s.code(), s.message()) }
}
