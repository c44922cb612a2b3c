//! The gRPC handlers: parse → cache → (single-flight) store → answer; writes invalidate.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bookstore_proto::catalog::{
    Book, GetBookRequest, GetBookResponse, ListBooksRequest, ListBooksResponse, PublishBookRequest,
    PublishBookResponse, SearchBooksRequest, SearchBooksResponse, UpdateStockRequest,
    UpdateStockResponse, catalog_service_server::CatalogService,
};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::{
    Error,
    auth::UserClient,
    cache::{Cache, NEGATIVE},
    domain::{BookId, ListQuery, NewBook, Page, SearchQuery, Stock},
    live_stock::LiveStock,
    singleflight::SingleFlight,
    stats::{CacheKind, Stats},
    store::{BookPage, Filter, Matches, Store},
};

/// How long after a write the detail key is deleted a second time (see [`CatalogApi::invalidate_book`]).
///
/// 500 ms must exceed the longest plausible "read old row → SET cache" window of a
/// concurrent reader (a detail load is ~1 ms; 500 leaves room for a slow moment). Too
/// long and the window in which a stale entry can be served grows with it.
const SECOND_DELETE_AFTER: Duration = Duration::from_millis(500);

/// A detail load that took longer than this does not write the cache: it answers its
/// callers and drops the value.
///
/// Why: the second delete only catches a stale fill that lands within 500 ms of the write.
/// A load that read the row before the write commits and fills the cache later than that
/// — stalled on the pool (its acquire timeout is 10 s), a slow MySQL, a starved task —
/// would cache the pre-write row for the detail TTL, an hour. A load that fills within
/// 250 ms of its own start, which was before the commit, fills before the second delete
/// with 250 ms to spare (for the write's own DEL and a second instance's network). ✅ DO
/// bound the fill by the load's start, not by the SELECT's duration alone: the stall can
/// be anywhere between the start and the SET. ❌ DON'T answer the slow caller with an
/// error instead: the row it read is fine to *return* — only caching it is not.
const FILL_DEADLINE: Duration = Duration::from_millis(250);
const _: () = assert!(FILL_DEADLINE.as_millis() < SECOND_DELETE_AFTER.as_millis());

/// The service and its dependencies; cheap to clone (everything inside is shared).
/// Single-flight groups, one per kind of value: a list page, a search page, a
/// detail (`Option<Book>`, where `None` is "known not to exist"). Errors are carried as
/// `Status` because they are handed to every waiter, and `Status` can be cloned while a
/// `sqlx::Error` cannot; the conversion happens once, in the leader.
#[derive(Clone)]
pub struct CatalogApi {
    store: Store,
    cache: Cache,
    users: UserClient,
    /// inventory's live stock, laid over every answer (never cached with the book).
    stock: LiveStock,
    stats: Arc<Stats>,
    lists: Arc<SingleFlight<ListBooksResponse, Status>>,
    searches: Arc<SingleFlight<SearchBooksResponse, Status>>,
    details: Arc<SingleFlight<Option<Book>, Status>>,
    /// One more group, below the list and search leaders: a filter's matches (see
    /// [`CatalogApi::find_matches`]).
    matches: Arc<SingleFlight<Arc<Matches>, Status>>,
}

// The inherent methods below return `Result<_, Status>` rather than `Result<_, Error>`:
// single-flight hands one result to many waiters, and only `Status` is `Clone`. Domain
// errors still go through the one `From<Error> for Status` at each `?`.
impl CatalogApi {
    /// The service over its store, cache and user-service client, with empty single-flight
    /// groups. One is built per process and cloned into tonic's server, so every request
    /// coalesces with every other request of this instance (not across instances: each
    /// instance may run one load per key, and Redis then shares the result).
    pub fn new(
        store: Store,
        cache: Cache,
        users: UserClient,
        stock: LiveStock,
        stats: Arc<Stats>,
    ) -> Self {
        Self {
            store,
            cache,
            users,
            stock,
            stats,
            lists: Default::default(),
            searches: Default::default(),
            details: Default::default(),
            matches: Default::default(),
        }
    }

    /// ListBooks, cache-aside with single-flight.
    ///
    /// Counting: a request is a *hit* if its first GET found the key, a *miss* otherwise —
    /// even if it then found the value inside single-flight. That keeps the hit rate the
    /// plain "answered from cache on first try" figure the course asks for, and the
    /// stampede protection shows up separately, as a low `catalog_db_queries_total`.
    ///
    /// Why protobuf bytes in Redis rather than JSON: the handler must return the proto
    /// message anyway, so encoding it is the cheapest possible serialisation (no field
    /// names, varint numbers: a 20-book page is ~3 KB instead of ~6 KB of JSON), and
    /// decoding it is a copy. The price: `redis-cli GET` shows binary. DO write down the
    /// encoding next to the key (here) so the next person does not guess.
    // lesson:cache-aside:start
    async fn list_books(&self, req: ListBooksRequest) -> Result<ListBooksResponse, Status> {
        let q = ListQuery::parse(&req)?;
        let filter = Filter::list(&q);
        // Steps 1 and 2 in one round trip: read the version stamp (every list key embeds
        // it, which is what lets a write's single `INCR` invalidate all pages) and the
        // entry for it. A hit is decoded and returned without touching MySQL.
        let Some(found) = self.cache.versioned_get(|v| self.cache.list_key(v, &q)).await else {
            // Redis is down: straight to MySQL, still coalesced per query. The flight key
            // is the query's Debug form, prefixed so it can never equal a real cache key:
            // without Redis there is no cache key to coalesce on, but identical queries
            // should still share one load — this is exactly the moment MySQL is most
            // exposed, since every request now misses.
            return self
                .lists
                .run(&format!("nocache:{q:?}"), || self.lead(None, &filter, q.page))
                .await;
        };
        if let Some(bytes) = found.value {
            self.stats.cache(CacheKind::List, true);
            return decode(&bytes);
        }
        // Step 3: a miss. The key itself is the single-flight key: requests for the same
        // page coalesce, requests for different pages proceed in parallel.
        self.stats.cache(CacheKind::List, false);
        let matches_key = self.cache.list_matches_key(found.version, &q);
        let slot = Slot { matches_key, key: found.key };
        self.lists.run(&slot.key, || self.lead(Some(&slot), &filter, q.page)).await
    }

    /// What every list or search leader does: look at Redis once more, read the page from
    /// MySQL, fill the cache.
    ///
    /// Why look again: a request that missed a moment ago may reach single-flight just
    /// *after* the previous leader finished and left. Without this second GET it would
    /// start a second query for a key that is now cached. The same round trip reads the
    /// filter's cached matches at this page's offset: when they are there, the page costs
    /// 20 primary-key reads and no scan ([`Store::page_from`]).
    ///
    /// `slot` is `None` when Redis is down: the load then neither re-checks nor fills the
    /// cache, it only answers. If the query fails, the error goes to every waiter and
    /// *nothing* is cached: caching an error would turn a one-second database hiccup into
    /// five minutes of failures.
    async fn lead<M: PageAnswer>(
        &self,
        slot: Option<&Slot>,
        filter: &Filter,
        applied: Page,
    ) -> Result<M, Status> {
        let Some(slot) = slot else {
            return Ok(M::answer(self.store.page(filter, applied, None).await?, applied));
        };
        let (cached, ids) =
            self.cache.get_with_matches(&slot.key, &slot.matches_key, applied).await;
        if let Some(bytes) = cached {
            return decode(&bytes);
        }
        let ids = match ids {
            Some(ids) => ids,
            None => self.find_matches(filter, &slot.matches_key).await?.page(applied),
        };
        let resp = M::answer(self.store.page_from(filter, applied, ids).await?, applied);
        self.cache.put(&slot.key, &resp.encode_to_vec(), self.cache.ttls.list).await;
        Ok(resp)
    }

    /// A filter's matches from MySQL, cached for every page after this one; one scan per
    /// filter, order and version, however many pages miss at once.
    ///
    /// Single-flight again, one level down: the first moments after a write are when many
    /// *different* pages of one filter miss together (page 1 and 2 of "rust", by price and
    /// by title), and each page's leader would otherwise run the same scan. Keyed by the
    /// matches key, so pages of one filter and order share it and nothing else does.
    ///
    /// No second look at Redis before the scan, unlike the page leader: the leader's
    /// pipelined read just missed this key, and a fill landing in between costs one
    /// duplicate scan per instance, once per version — cheaper than a round trip on
    /// every first miss. An `Arc`, because every waiter of the flight gets a copy of up
    /// to 5,000 ids and only reads them.
    async fn find_matches(&self, filter: &Filter, key: &str) -> Result<Arc<Matches>, Status> {
        self.matches
            .run(key, || async {
                let found = Arc::new(self.store.matches(filter).await?);
                self.cache.put_matches(key, &found).await;
                Ok(found)
            })
            .await
    }
    // lesson:cache-aside:end

    /// SearchBooks: the same shape as ListBooks, under its own keys.
    ///
    /// Search is cached although the course caches only lists: `LIKE '%…%'` cannot use an
    /// index and scans every row, so it is the most expensive read we have — exactly the
    /// kind of query a cache is for. Its keys carry the list version, so a publish makes
    /// new books searchable at once.
    async fn search_books(&self, req: SearchBooksRequest) -> Result<SearchBooksResponse, Status> {
        let q = SearchQuery::parse(&req)?;
        let filter = Filter::search(&q);
        let lookup = self.cache.versioned_get(|v| self.cache.search_key(v, &q)).await;
        let slot = match lookup {
            Some(found) => {
                if let Some(bytes) = found.value {
                    self.stats.cache(CacheKind::Search, true);
                    return decode(&bytes);
                }
                self.stats.cache(CacheKind::Search, false);
                let matches_key = self.cache.search_matches_key(found.version, &q);
                Some(Slot { key: found.key, matches_key })
            }
            None => None,
        };
        // As in `list_books`: the cache key when Redis answered, else a `nocache:` key, so
        // identical searches share one LIKE scan either way.
        // The same `nocache:` prefix as lists, but another flight group (`searches`), so a
        // search and a list whose Debug forms happened to match could still not share a load.
        let flight_key = slot.as_ref().map_or_else(|| format!("nocache:{q:?}"), |s| s.key.clone());
        self.searches.run(&flight_key, || self.lead(slot.as_ref(), &filter, q.page)).await
    }

    /// GetBook: cache-aside with negative entries for ids that do not exist.
    ///
    /// Ids that do not exist are the attack surface for *penetration*: nothing is ever
    /// cached for them, so without negative entries each lookup reaches MySQL. A client
    /// that loops over ids 1..10⁹ would turn into 10⁹ primary-key lookups. With them, each
    /// missing id costs one query per minute, however often it is asked for.
    ///
    /// DON'T fix penetration by caching "not found" for an hour: a book published a minute
    /// later would look missing for the rest of the hour. Short TTL plus deletion on
    /// publish (see [`CatalogApi::invalidate_book`]) gives both protection and freshness.
    /// A Bloom filter of existing ids is the heavier alternative for huge id spaces.
    async fn get_book(&self, req: GetBookRequest) -> Result<GetBookResponse, Status> {
        // Detail reads skip the version: a book's key is deleted precisely by every write
        // to that book, which is cheaper and more precise than invalidating all details.
        let id = BookId::parse(req.id)?;
        let key = self.cache.detail_key(id);
        let book = match self.cache.get(&key).await {
            Some(bytes) => {
                // A negative entry is a hit too: it answered without touching MySQL.
                self.stats.cache(CacheKind::Detail, true);
                decode_detail(&bytes)?
            }
            None => {
                self.stats.cache(CacheKind::Detail, false);
                self.details.run(&key, || self.load_detail(id, &key)).await?
            }
        };
        // The flight shares `Option<Book>`, not a NOT_FOUND status: "missing" is a value to
        // cache (the negative entry), not a failure; each caller makes its own NOT_FOUND.
        let book = book.ok_or(Error::NotFound)?;
        Ok(GetBookResponse { book: Some(book) })
    }

    /// Loads one book and caches it — or caches its absence, for a short time.
    ///
    /// The leader of a detail flight: double-check Redis, then one primary-key SELECT,
    /// then cache either the book (1 h) or its absence (60 s). Waiters receive the same
    /// `Option<Book>`; `get_book` turns `None` into NOT_FOUND for each of them.
    async fn load_detail(&self, id: BookId, key: &str) -> Result<Option<Book>, Status> {
        let started = Instant::now();
        if let Some(bytes) = self.cache.get(key).await {
            return decode_detail(&bytes);
        }
        let book = self.store.get(id).await?;
        if started.elapsed() > FILL_DEADLINE {
            tracing::warn!(
                book_id = id.get(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "slow detail load not cached"
            );
            return Ok(book);
        }
        match &book {
            Some(b) => self.cache.put(key, &b.encode_to_vec(), self.cache.ttls.detail).await,
            // Penetration defence: remember "no such id" for ~60 s. Short, because the id
            // may be created soon (PublishBook also deletes this entry).
            None => self.cache.put(key, NEGATIVE, self.cache.ttls.negative).await,
        }
        Ok(book)
    }

    /// PublishBook: authenticate, authorise (admin), validate, insert, open the stock in
    /// inventory, invalidate.
    ///
    /// Authentication is delegated: the token is passed to user-service's ValidateToken,
    /// and only its answer counts. A token that user-service refuses is UNAUTHENTICATED
    /// here too; a user-service that cannot be reached is UNAVAILABLE — never "let it
    /// through because the check failed open". A valid token without the `admin` role is
    /// PERMISSION_DENIED, before the body is even parsed: shoppers do not publish.
    ///
    /// ## The stock, all or nothing, once
    ///
    /// A book is only sellable once inventory has its row, so the opening stock is part of
    /// publishing: IncrStock with request id `publish:<book_id>` right after the INSERT.
    /// - inventory unreachable → the inserted row is deleted again and the answer is
    ///   UNAVAILABLE: nothing was published, the caller may retry. ❌ DON'T answer OK with
    ///   a book that cannot be ordered, nor leave it listed with "0 left" by accident.
    /// - a retry of the same publish (the first answer was lost) → the INSERT meets the
    ///   ISBN's unique index; if the row there is the *same* book (ISBN, title, author,
    ///   price, opening stock) by the *same* account, it is a retry: IncrStock runs again
    ///   with the same request id, which inventory answers as a replay (no stock added),
    ///   and the existing book is answered. A different book under that ISBN is
    ///   ALREADY_EXISTS, as before.
    /// - known gap: a book without an ISBN has no natural key, so its retry publishes a
    ///   second book (with its own stock). An `Idempotency-Key`, as CreateOrder takes,
    ///   would close it; publishing is an admin's rare act, and we say so instead.
    /// - known gap: if IncrStock applied but its answer was lost *and* the compensation
    ///   deleted the row, inventory keeps stock under an id no book has — unsellable
    ///   (order-service prices through GetBook, which answers NOT_FOUND) and visible in
    ///   GetStockLog as "opening stock (PublishBook)".
    // lesson:publish-auth:start
    async fn publish_book(
        &self,
        req: Request<PublishBookRequest>,
    ) -> Result<PublishBookResponse, Status> {
        // Authentication first: an anonymous caller learns nothing, not even which of
        // their fields were invalid.
        // Metadata is gRPC's header block; the platform helper accepts exactly
        // `authorization: Bearer <jwt>` and answers UNAUTHENTICATED otherwise.
        let token = bookstore_platform::auth::bearer_token(req.metadata())?;
        // One RPC to user-service per publish (~1 ms on loopback, bounded by the 3 s
        // deadline); reads never pay it, which is why it is not cached (see `auth`).
        let who = self.users.validate(&token).await?;
        // Authorisation: the role is in the signed token, checked by the one platform rule.
        bookstore_platform::auth::require_role(&who.roles, bookstore_platform::auth::ADMIN_ROLE)?;
        // lesson:publish-auth:end
        let new = NewBook::parse(req.get_ref())?;
        // The publisher's id is recorded with the book (`published_by`): the audit trail
        // of who added what, taken from the verified token, never from the request body.
        // `inserted` tells the two cases apart for the compensation below: only a row this
        // call created may be deleted by it — never the original of a retried publish.
        let (mut book, inserted) = match self.store.insert(&new, who.user_id).await {
            Ok(book) => (book, true),
            Err(Error::AlreadyExists(msg)) => {
                (self.retried(&new, who.user_id).await?.ok_or(Error::AlreadyExists(msg))?, false)
            }
            Err(e) => return Err(e.into()),
        };
        let id = BookId::parse(book.id)?;
        // Stock 0 needs no inventory row: the book shows 0 and cannot be ordered, which is
        // what 0 means; a later IncrStock creates the row.
        if new.stock.get() > 0 {
            match self.stock.open(book.id, new.stock.get()).await {
                Ok(available) => book.stock = available,
                Err(e) => {
                    if inserted {
                        // The compensation: the row goes, and so does anything a concurrent
                        // list read may have cached with it.
                        self.store.delete(id).await?;
                        self.invalidate_book(id).await;
                    }
                    return Err(e.into());
                }
            }
        }
        tracing::info!(book_id = book.id, user_id = who.user_id, inserted, "book published");
        // The new id may already be cached as *missing* (someone looked it up before it
        // existed, or probed ids): invalidation deletes that negative entry with the rest,
        // so the book is readable at once, not after the negative TTL.
        self.invalidate_book(id).await;
        Ok(PublishBookResponse { book: Some(book) })
    }

    /// The book already stored under `new`'s ISBN, if it is `new` itself published by
    /// `user_id` — a retry — and `None` for a different book (the ISBN clash).
    async fn retried(&self, new: &NewBook, user_id: u64) -> Result<Option<Book>, Status> {
        // No ISBN cannot reach here today (only the ISBN index raises AlreadyExists); `None`
        // keeps the answer ALREADY_EXISTS if another unique index is ever added.
        let Some(isbn) = &new.isbn else { return Ok(None) };
        // Gone since the INSERT failed (a concurrent publish's compensation deleted it):
        // answered as the clash, and the client's next retry then inserts afresh.
        let Some((book, by)) = self.store.by_isbn(isbn).await? else { return Ok(None) };
        // The fields a retry cannot change without being a different publish. Publisher
        // and description are left out: a client that trims a blurb between retries is
        // still retrying. The account must match: another admin's book under this ISBN
        // is a clash, or one admin could "retry" their way into someone else's book.
        let same = by == Some(user_id)
            && book.title == new.title
            && book.author == new.author
            && book.price == new.price
            && book.initial_stock == new.stock.get();
        Ok(same.then_some(book))
    }

    /// UpdateStock: set catalog's own record of the stock (`initial_stock`), then invalidate.
    ///
    /// Internal, and the gateway never routes it. It no longer changes what shoppers see:
    /// that is inventory's live figure ([`crate::live_stock`]). What remains is a catalogue
    /// write the tests use to trigger an invalidation on demand. ❌ DON'T wire sales into
    /// it: it bumps the list version, so every sale would empty every list cache — the
    /// avalanche `live_stock` exists to avoid. The request carries the *absolute* figure,
    /// not a delta, so a retried call sets the same value again instead of subtracting twice.
    async fn update_stock(&self, req: UpdateStockRequest) -> Result<UpdateStockResponse, Status> {
        let id = BookId::parse(req.book_id)?;
        let stock = Stock::parse(req.stock)?;
        // An unknown id changed no row, so there is nothing to invalidate: NOT_FOUND at once.
        let mut book = self.store.update_stock(id, stock).await?.ok_or(Error::NotFound)?;
        self.invalidate_book(id).await;
        // Overlaid like every answer: `stock` is inventory's figure, so this reply cannot
        // suggest that the figure just written is what shoppers now see.
        self.stock.overlay(std::slice::from_mut(&mut book)).await;
        Ok(UpdateStockResponse { book: Some(book) })
    }

    /// Everything a write to book `id` can have made stale: its detail entry (positive or
    /// negative), and every list and search page (one `INCR`).
    ///
    /// The order is the course's: **write the database first, then delete the cache.**
    /// DON'T update the cache instead of deleting it: two concurrent writers can leave
    /// the cache holding the older value forever (until TTL), and the value computed for
    /// the cache may differ from what the database stored (defaults, triggers).
    ///
    /// One race remains: a reader that loaded the *old* row just before our UPDATE may
    /// write it to the cache just after our DEL. So the key is deleted a second time a
    /// moment later ("delayed double delete"); the TTL bounds anything that still slips
    /// through. Lists do not need this: a late writer of an old list writes it under the
    /// old version number, which nobody reads any more.
    // lesson:invalidate:start
    async fn invalidate_book(&self, id: BookId) {
        // Order inside the invalidation: forget the in-flight load first (so no new reader
        // joins a pre-write load), then delete, then bump the list version.
        let key = self.cache.detail_key(id);
        self.details.forget(&key);
        self.cache.delete(&key).await;
        self.cache.bump_list_version().await;
        // The task owns a clone of the cache handle and the key, not the request: it outlives
        // the RPC, which has long answered by the time the second delete happens.
        let cache = self.cache.clone();
        // Fire and forget: the write's answer does not wait for the second delete. If the
        // process dies in those 500 ms, the TTL is the backstop.
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_DELETE_AFTER).await;
            cache.delete(&key).await;
        });
    }
    // lesson:invalidate:end
}

/// Where a list or search leader finds and leaves its answer: the page's key and its
/// filter's matches key, both of the list version the lookup read.
struct Slot {
    key: String,
    matches_key: String,
}

/// A list or search answer built from a store page: both RPCs answer the same four fields,
/// so one leader ([`CatalogApi::lead`]) builds and caches either.
///
/// The applied page and size (defaulted, capped), not the request's: a client that asked
/// for 10,000 rows reads `page_size: 100` and knows why it got 100.
trait PageAnswer: Message + Default {
    fn answer(page: BookPage, applied: Page) -> Self;
}

impl PageAnswer for ListBooksResponse {
    fn answer(page: BookPage, applied: Page) -> Self {
        Self { books: page.books, total: page.total, page: applied.page, page_size: applied.size }
    }
}

impl PageAnswer for SearchBooksResponse {
    fn answer(page: BookPage, applied: Page) -> Self {
        Self { books: page.books, total: page.total, page: applied.page, page_size: applied.size }
    }
}

/// Decodes a cached protobuf message; a corrupt entry is an internal error (logged).
///
/// A value that does not decode means a different version of this service wrote the key
/// with a different message layout (protobuf tolerates added fields, not changed types).
/// The request fails with INTERNAL rather than guessing; the entry expires on its TTL.
/// A fleet that changes the cached layout should also change the key prefix
/// (`catalog:v2:…`) so old and new instances never read each other's entries.
fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| Error::Corrupt(e.to_string()).into())
}

/// A detail entry: [`NEGATIVE`] means "known not to exist".
///
/// The check is an exact comparison with the empty marker, so a corrupt non-empty value
/// is still reported (as INTERNAL) instead of being mistaken for "not found".
fn decode_detail(bytes: &[u8]) -> Result<Option<Book>, Status> {
    if bytes == NEGATIVE { Ok(None) } else { decode(bytes).map(Some) }
}

// Below: the tonic trait. Each method unwraps the request (or, for PublishBook, keeps it
// whole, because the token is in its metadata) and delegates. The one step added here is
// the live stock over each read's answer: *after* the cache and single-flight, so the
// cached bytes never hold a figure a sale could make stale (see `live_stock`).

/// Thin wrappers over the methods above.
#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_books(
        &self,
        request: Request<ListBooksRequest>,
    ) -> Result<Response<ListBooksResponse>, Status> {
        let mut r = self.list_books(request.into_inner()).await?;
        self.stock.overlay(&mut r.books).await;
        Ok(Response::new(r))
    }

    async fn get_book(
        &self,
        request: Request<GetBookRequest>,
    ) -> Result<Response<GetBookResponse>, Status> {
        let mut r = self.get_book(request.into_inner()).await?;
        self.stock.overlay(r.book.as_mut_slice()).await;
        Ok(Response::new(r))
    }

    async fn search_books(
        &self,
        request: Request<SearchBooksRequest>,
    ) -> Result<Response<SearchBooksResponse>, Status> {
        let mut r = self.search_books(request.into_inner()).await?;
        self.stock.overlay(&mut r.books).await;
        Ok(Response::new(r))
    }

    async fn publish_book(
        &self,
        request: Request<PublishBookRequest>,
    ) -> Result<Response<PublishBookResponse>, Status> {
        self.publish_book(request).await.map(Response::new)
    }

    async fn update_stock(
        &self,
        request: Request<UpdateStockRequest>,
    ) -> Result<Response<UpdateStockResponse>, Status> {
        self.update_stock(request.into_inner()).await.map(Response::new)
    }
}
