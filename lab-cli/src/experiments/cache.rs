//! Day 29's experiment: a skewed read load on catalog-service, and the cache's hit rate.
//!
//! Real shops are skewed: a few books get most of the views. The load picks book ids and
//! list pages with a Zipf distribution (rank k is chosen ∝ 1/k^s), through the running
//! catalog-service's gRPC API, so the cache-aside code under test is the service's own.
//! The hit rate is read from the service's `/metrics` (`cache_requests_total`), never
//! computed by the lab from its own guesses — the number is what the service observed.
//!
//! Invalidation, made visible: the learner publishes a book or changes the hottest book's
//! stock. Both are writes that must evict cached entries (DESIGN.md §4). The screen shows
//! the hottest book's stock as read through the cache: it changes at once (DO: evict on
//! write), and the hit rate dips while the evicted keys refill.

use std::{sync::Arc, time::Duration};

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use bookstore_proto::{
    catalog::{
        GetBookRequest, ListBooksRequest, PublishBookRequest, UpdateStockRequest,
        catalog_service_client::CatalogServiceClient,
    },
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

use crate::metrics;

/// Books per list page in the read load.
const PAGE_SIZE: u32 = 20;

/// The knobs of the read load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CacheParams {
    /// Concurrent readers.
    pub readers: u32,
    /// Seconds of load.
    pub duration_secs: u32,
    /// Zipf exponent: 0 = uniform, 1 = classic web skew, higher = a few books get it all.
    pub skew: f64,
}

impl Default for CacheParams {
    fn default() -> Self {
        Self { readers: 16, duration_secs: 30, skew: 1.1 }
    }
}

/// Hit/miss counts of both caches (differences of two scrapes).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HitCounts {
    pub list_hits: f64,
    pub list_misses: f64,
    pub detail_hits: f64,
    pub detail_misses: f64,
}

impl HitCounts {
    fn read(s: &metrics::Scrape) -> Self {
        let c =
            |cache, result| s.sum("cache_requests_total", &[("cache", cache), ("result", result)]);
        Self {
            list_hits: c("list", "hit"),
            list_misses: c("list", "miss"),
            detail_hits: c("detail", "hit"),
            detail_misses: c("detail", "miss"),
        }
    }

    fn minus(&self, o: &Self) -> Self {
        Self {
            list_hits: self.list_hits - o.list_hits,
            list_misses: self.list_misses - o.list_misses,
            detail_hits: self.detail_hits - o.detail_hits,
            detail_misses: self.detail_misses - o.detail_misses,
        }
    }

    /// Hit rate over both caches, `None` when nothing was looked up.
    pub fn rate(&self) -> Option<f64> {
        let hits = self.list_hits + self.detail_hits;
        let total = hits + self.list_misses + self.detail_misses;
        (total > 0.0).then(|| hits / total)
    }
}

/// What the runner reports.
#[derive(Clone, Debug)]
pub enum CacheEvent {
    /// Load started over `books` books; `hot` is the most-read one.
    Started {
        books: u64,
        hot: u64,
    },
    /// Once a second: load so far, hit counts of the last second and since the start, and
    /// the hottest book's stock as the cache serves it.
    Progress {
        load: Snapshot,
        last_second: HitCounts,
        total: HitCounts,
        hot_stock: Option<i32>,
    },
    /// A learner action finished (publish, stock change), as a line to show.
    Note(String),
    Done,
    Failed(String),
}

/// Addresses of the services the experiment talks to.
#[derive(Clone, Debug)]
pub struct CacheTargets {
    /// catalog-service gRPC `host:port`.
    pub catalog: String,
    /// catalog-service metrics `host:port`.
    pub catalog_metrics: Option<String>,
    /// user-service gRPC `host:port` (for the token PublishBook needs).
    pub user: Option<String>,
}

/// Ranks 1..=n chosen ∝ 1/k^s, sampled by binary search in the cumulative weights.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (1..=n.max(1))
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        Self { cdf }
    }

    /// A 0-based rank: 0 is the most popular.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cdf.last().unwrap_or(&1.0);
        let x = rng.random::<f64>() * total;
        self.cdf.partition_point(|c| *c < x).min(self.cdf.len() - 1)
    }
}

/// A gRPC channel with short timeouts: a lab talking to a stopped service should say so
/// in two seconds, not hang the screen for the OS's TCP timeout.
async fn channel(address: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await?)
}

/// Every book id in the catalogue, in list order (newest first), read through ListBooks
/// rather than SQL: the experiment sees the catalogue the way a client does, and does not
/// depend on the service's table layout. Capped at 50 pages of 100 (plenty for a skew).
async fn book_ids(client: &mut CatalogServiceClient<Channel>) -> anyhow::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for page in 1..=50 {
        let resp = client
            .list_books(ListBooksRequest { page, page_size: 100, ..Default::default() })
            .await?
            .into_inner();
        let n = resp.books.len();
        ids.extend(resp.books.into_iter().map(|b| b.id));
        if n < 100 {
            break;
        }
    }
    Ok(ids)
}

/// Runs the skewed read load for `params.duration_secs`, reporting once a second.
pub async fn run(
    targets: CacheTargets,
    params: CacheParams,
    events: mpsc::UnboundedSender<CacheEvent>,
) -> anyhow::Result<()> {
    let channel = channel(&targets.catalog).await?;
    let mut client = CatalogServiceClient::new(channel.clone());
    let ids = book_ids(&mut client).await?;
    anyhow::ensure!(
        !ids.is_empty(),
        "the catalogue is empty: seed it first (see the lesson's 自己动手验证)"
    );
    let ids = Arc::new(ids);
    let hot = ids[0];
    let pages = ids.len().div_ceil(PAGE_SIZE as usize);
    let by_id = Arc::new(Zipf::new(ids.len(), params.skew));
    let by_page = Arc::new(Zipf::new(pages, params.skew));
    let _ = events.send(CacheEvent::Started { books: ids.len() as u64, hot });

    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let scrape = |http: reqwest::Client| {
        let addr = targets.catalog_metrics.clone();
        async move {
            match addr {
                Some(a) => metrics::scrape(&http, &a).await.map(|s| HitCounts::read(&s)).ok(),
                None => None,
            }
        }
    };
    let start = scrape(http.clone()).await.unwrap_or_default();

    // Four reads in five are book details, one is a list page: a shop's browse pattern.
    let (tx, rx) = watch::channel(Snapshot::default());
    let load = {
        let (ids, by_id, by_page) = (ids.clone(), by_id.clone(), by_page.clone());
        let client = client.clone();
        let cfg = LoadConfig::timed(
            params.readers as usize,
            Duration::from_secs(u64::from(params.duration_secs.max(1))),
        );
        tokio::spawn(bookstore_loadgen::run(
            cfg,
            move |i| {
                let mut client = client.clone();
                let (id, page) = {
                    let mut rng = rand::rng();
                    (ids[by_id.sample(&mut rng)], by_page.sample(&mut rng) as u32 + 1)
                };
                async move {
                    let r = if i % 5 == 4 {
                        client
                            .list_books(ListBooksRequest {
                                page,
                                page_size: PAGE_SIZE,
                                ..Default::default()
                            })
                            .await
                            .map(drop)
                    } else {
                        client.get_book(GetBookRequest { id }).await.map(drop)
                    };
                    match r {
                        Ok(()) => Outcome::Success,
                        Err(s) if s.code() == tonic::Code::NotFound => Outcome::Rejected,
                        Err(_) => Outcome::Failed,
                    }
                }
            },
            Some(tx),
        ))
    };

    // Sample once a second until the load is done.
    let mut prev = start;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = scrape(http.clone()).await.unwrap_or(prev);
        let hot_stock = client
            .get_book(GetBookRequest { id: hot })
            .await
            .ok()
            .and_then(|r| r.into_inner().book)
            .map(|b| b.stock);
        let snapshot = rx.borrow().clone();
        let done = load.is_finished();
        let _ = events.send(CacheEvent::Progress {
            load: snapshot,
            last_second: now.minus(&prev),
            total: now.minus(&start),
            hot_stock,
        });
        prev = now;
        if done {
            break;
        }
    }
    let _ = load.await;
    let _ = events.send(CacheEvent::Done);
    Ok(())
}

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
    let mut req = tonic::Request::new(PublishBookRequest {
        title: format!("实验室新书 {name}"),
        author: "bookstore-lab".into(),
        isbn: format!("978{:010}", rand::rng().random_range(0..10_000_000_000u64)),
        publisher: "实验室出版社".into(),
        price: 4200,
        stock: 10,
        description: "Day 29 缓存失效实验中发布".into(),
    });
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

/// A learner's write: set the hottest book's stock to a new value through UpdateStock.
pub async fn change_stock(targets: &CacheTargets, book: u64) -> anyhow::Result<String> {
    let mut catalog = CatalogServiceClient::new(channel(&targets.catalog).await?);
    let current = catalog
        .get_book(GetBookRequest { id: book })
        .await?
        .into_inner()
        .book
        .map_or(0, |b| b.stock);
    let next = if current > 5 { current - 1 } else { current + 10 };
    catalog.update_stock(UpdateStockRequest { book_id: book, stock: next }).await?;
    Ok(format!("图书 {book} 库存 {current} → {next}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With s > 0 the first rank is drawn far more often than the last.
    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(100, 1.1);
        let mut rng = rand::rng();
        let mut counts = [0u32; 100];
        for _ in 0..20_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > 10 * counts[99].max(1), "{counts:?}");
    }

    /// The hit rate covers both caches and is undefined with no lookups.
    #[test]
    fn hit_rate_combines_both_caches() {
        let h =
            HitCounts { list_hits: 1.0, list_misses: 1.0, detail_hits: 7.0, detail_misses: 1.0 };
        assert_eq!(h.rate(), Some(0.8));
        assert_eq!(HitCounts::default().rate(), None);
    }
}
