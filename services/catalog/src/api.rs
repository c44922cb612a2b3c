//! The gRPC handlers: parse → cache → (single-flight) store → answer; writes invalidate.

use std::{sync::Arc, time::Duration};

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
    domain::{BookId, ListQuery, NewBook, SearchQuery, Stock},
    singleflight::SingleFlight,
    stats::{CacheKind, Stats},
    store::Store,
};

/// How long after a write the detail key is deleted a second time (see [`CatalogApi::invalidate_book`]).
const SECOND_DELETE_AFTER: Duration = Duration::from_millis(500);

/// The service and its dependencies; cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct CatalogApi {
    store: Store,
    cache: Cache,
    users: UserClient,
    stats: Arc<Stats>,
    lists: Arc<SingleFlight<ListBooksResponse, Status>>,
    searches: Arc<SingleFlight<SearchBooksResponse, Status>>,
    details: Arc<SingleFlight<Option<Book>, Status>>,
}

impl CatalogApi {
    pub fn new(store: Store, cache: Cache, users: UserClient, stats: Arc<Stats>) -> Self {
        Self {
            store,
            cache,
            users,
            stats,
            lists: Default::default(),
            searches: Default::default(),
            details: Default::default(),
        }
    }

    /// ListBooks, cache-aside with single-flight.
    async fn list_books(&self, req: ListBooksRequest) -> Result<ListBooksResponse, Status> {
        let q = ListQuery::parse(&req)?;
        let Some(version) = self.cache.list_version().await else {
            // Redis is down: straight to MySQL (still coalesced per query).
            return self.lists.run(&format!("nocache:{q:?}"), || self.load_list(&q, None)).await;
        };
        let key = self.cache.list_key(version, &q);
        if let Some(bytes) = self.cache.get(&key).await {
            self.stats.cache(CacheKind::List, true);
            return decode(&bytes);
        }
        self.stats.cache(CacheKind::List, false);
        self.lists.run(&key, || self.load_list(&q, Some(&key))).await
    }

    /// The single-flight leader's work: check Redis once more, then MySQL, then fill.
    ///
    /// Why check again: a request that missed a moment ago may reach single-flight just
    /// *after* the previous leader finished and left. Without this second GET it would
    /// start a second query for a key that is now cached.
    async fn load_list(
        &self,
        q: &ListQuery,
        key: Option<&str>,
    ) -> Result<ListBooksResponse, Status> {
        if let Some(key) = key
            && let Some(bytes) = self.cache.get(key).await
        {
            return decode(&bytes);
        }
        let page = self.store.list(q).await?;
        let resp = ListBooksResponse {
            books: page.books,
            total: page.total,
            page: q.page.page,
            page_size: q.page.size,
        };
        if let Some(key) = key {
            self.cache.put(key, &resp.encode_to_vec(), self.cache.ttls.list).await;
        }
        Ok(resp)
    }

    /// SearchBooks: the same shape as ListBooks, under its own keys.
    async fn search_books(&self, req: SearchBooksRequest) -> Result<SearchBooksResponse, Status> {
        let q = SearchQuery::parse(&req)?;
        let version = self.cache.list_version().await;
        let key = version.map(|v| self.cache.search_key(v, &q));
        if let Some(key) = &key {
            if let Some(bytes) = self.cache.get(key).await {
                self.stats.cache(CacheKind::Search, true);
                return decode(&bytes);
            }
            self.stats.cache(CacheKind::Search, false);
        }
        let flight_key = key.clone().unwrap_or_else(|| format!("nocache:{q:?}"));
        self.searches
            .run(&flight_key, || async {
                if let Some(key) = &key
                    && let Some(bytes) = self.cache.get(key).await
                {
                    return decode(&bytes);
                }
                let page = self.store.search(&q).await?;
                let resp = SearchBooksResponse {
                    books: page.books,
                    total: page.total,
                    page: q.page.page,
                    page_size: q.page.size,
                };
                if let Some(key) = &key {
                    self.cache.put(key, &resp.encode_to_vec(), self.cache.ttls.list).await;
                }
                Ok(resp)
            })
            .await
    }

    /// GetBook: cache-aside with negative entries for ids that do not exist.
    async fn get_book(&self, req: GetBookRequest) -> Result<GetBookResponse, Status> {
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
        let book = book.ok_or(Error::NotFound)?;
        Ok(GetBookResponse { book: Some(book) })
    }

    /// Loads one book and caches it — or caches its absence, for a short time.
    async fn load_detail(&self, id: BookId, key: &str) -> Result<Option<Book>, Status> {
        if let Some(bytes) = self.cache.get(key).await {
            return decode_detail(&bytes);
        }
        let book = self.store.get(id).await?;
        match &book {
            Some(b) => self.cache.put(key, &b.encode_to_vec(), self.cache.ttls.detail).await,
            // Penetration defence: remember "no such id" for ~60 s. Short, because the id
            // may be created soon (PublishBook also deletes this entry).
            None => self.cache.put(key, NEGATIVE, self.cache.ttls.negative).await,
        }
        Ok(book)
    }

    /// PublishBook: authenticate, validate, insert, invalidate.
    async fn publish_book(
        &self,
        req: Request<PublishBookRequest>,
    ) -> Result<PublishBookResponse, Status> {
        // Authentication first: an anonymous caller learns nothing, not even which of
        // their fields were invalid.
        let token = bookstore_platform::auth::bearer_token(req.metadata())?;
        let who = self.users.validate(&token).await?;
        let new = NewBook::parse(req.get_ref())?;
        let book = self.store.insert(&new, who.user_id).await?;
        tracing::info!(book_id = book.id, user_id = who.user_id, "book published");
        self.invalidate_book(BookId::parse(book.id)?).await;
        Ok(PublishBookResponse { book: Some(book) })
    }

    /// UpdateStock: set the figure, then invalidate.
    async fn update_stock(&self, req: UpdateStockRequest) -> Result<UpdateStockResponse, Status> {
        let id = BookId::parse(req.book_id)?;
        let stock = Stock::parse(req.stock)?;
        let book = self.store.update_stock(id, stock).await?.ok_or(Error::NotFound)?;
        self.invalidate_book(id).await;
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
    async fn invalidate_book(&self, id: BookId) {
        let key = self.cache.detail_key(id);
        self.details.forget(&key);
        self.cache.delete(&key).await;
        self.cache.bump_list_version().await;
        let cache = self.cache.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SECOND_DELETE_AFTER).await;
            cache.delete(&key).await;
        });
    }
}

/// Decodes a cached protobuf message; a corrupt entry is an internal error (logged).
fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| Error::Corrupt(e.to_string()).into())
}

/// A detail entry: [`NEGATIVE`] means "known not to exist".
fn decode_detail(bytes: &[u8]) -> Result<Option<Book>, Status> {
    if bytes == NEGATIVE { Ok(None) } else { decode(bytes).map(Some) }
}

/// Thin wrappers over the methods above.
#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_books(
        &self,
        request: Request<ListBooksRequest>,
    ) -> Result<Response<ListBooksResponse>, Status> {
        self.list_books(request.into_inner()).await.map(Response::new)
    }

    async fn get_book(
        &self,
        request: Request<GetBookRequest>,
    ) -> Result<Response<GetBookResponse>, Status> {
        self.get_book(request.into_inner()).await.map(Response::new)
    }

    async fn search_books(
        &self,
        request: Request<SearchBooksRequest>,
    ) -> Result<Response<SearchBooksResponse>, Status> {
        self.search_books(request.into_inner()).await.map(Response::new)
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
