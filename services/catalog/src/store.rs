//! The `books` table: SQL only. Every statement is counted in [`Stats`], which is how the
//! tests prove "500 concurrent reads → 1 load" instead of assuming it.
//!
//! ## Which index serves which query
//!
//! | ListBooks sort | index used | cost of a page |
//! |---|---|---|
//! | `created_at` (default) | `idx_books_created_at` | read 20 rows in index order (+ OFFSET rows skipped) |
//! | `price` | `idx_books_price` | the same |
//! | `title` | `idx_books_title` | the same |
//! | any, with a keyword | none: `LIKE '%kw%'` cannot seek | scan all rows, filter, sort |
//!
//! Those are the costs of [`Store::page`] and of [`Store::matches`], which runs the same
//! statement without `OFFSET` once per filter and order, so that the cache can hold the
//! ids; with them cached, any page is 20 primary-key reads ([`Store::page_from`]).
//!
//! A B-tree index can answer `LIKE 'rust%'` (a prefix) but not `LIKE '%rust%'`: the
//! wildcard in front means the match may start anywhere, so every row must be read. That
//! is fine at 5,000 books behind a cache and hopeless at 5 million — the course's reason
//! for moving search to Elasticsearch in Week 7.
//!
//! ## Deep pages
//!
//! `LIMIT 20 OFFSET 19980` makes MySQL walk and discard 19,980 index entries to return 20.
//! That is why `MAX_PAGE` exists and why public APIs at scale switch to *keyset*
//! pagination (`WHERE (price, id) > (?, ?) ORDER BY price, id LIMIT 20`), which costs the
//! same for page 1 and page 10,000. The course's API is page-numbered, so we keep OFFSET
//! and bound it, and the cache absorbs the repeats.
//!
//! ## Runtime-checked queries
//!
//! `sqlx::query_as("…")` (a function) is used instead of `sqlx::query_as!` (the macro),
//! because the macro needs a live database or a prepared `.sqlx` cache at *compile*
//! time, and a learner's first `cargo build` must not depend on a running MariaDB. The
//! integration tests are what check these statements against the real schema.

use std::sync::Arc;

use bookstore_proto::catalog::Book;
use chrono::NaiveDateTime;
use sqlx::{MySqlPool, QueryBuilder};

use crate::{
    Error,
    domain::{
        BookId, Direction, ListQuery, NewBook, Page, SearchQuery, SortKey, Stock, like_contains,
    },
    stats::Stats,
};

/// One row of `books`.
///
/// Field types mirror the column types exactly (`BIGINT UNSIGNED` → `u64`, `INT` → `i32`,
/// nullable → `Option`): sqlx checks them at run time and fails loudly on a mismatch,
/// rather than truncating a price or reading NULL as an empty string.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BookRow {
    pub id: u64,
    pub title: String,
    pub author: String,
    /// NULL when the publisher gave none. NULL and not `''`: the UNIQUE index on `isbn`
    /// admits any number of NULLs but only one empty string, so a second ISBN-less book
    /// stored as `''` would be refused as a duplicate.
    pub isbn: Option<String>,
    pub publisher: String,
    /// Integer cents (分), like every amount in the system.
    pub price: i64,
    /// The opening stock, sent as `initial_stock`; the shown figure is inventory's.
    pub stock: i32,
    pub description: String,
    /// `DATETIME`, which stores no zone: UTC by the session setting (see the `From` below).
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Rows become proto messages at the edge of the store. The store could return `BookRow`
/// and let the handler convert, but the proto `Book` is also what the cache holds, so
/// converting once here keeps one representation above this module.
impl From<BookRow> for Book {
    fn from(r: BookRow) -> Self {
        Book {
            id: r.id,
            title: r.title,
            author: r.author,
            // proto3 strings have no "absent": `""` means no ISBN on the wire, as in
            // PublishBook's request.
            isbn: r.isbn.unwrap_or_default(),
            publisher: r.publisher,
            price: r.price,
            // Not the shown stock: `live_stock` lays inventory's figure over every answer.
            // The column is kept as `initial_stock`, and the cached bytes carry no live
            // figure that a sale could make stale.
            stock: 0,
            initial_stock: r.stock,
            description: r.description,
            // The session time zone is UTC (sqlx sets it), so DATETIME is UTC.
            created_at: r.created_at.and_utc().timestamp_millis(),
            updated_at: r.updated_at.and_utc().timestamp_millis(),
        }
    }
}

/// A row of a page plus the total of the whole filtered set (see [`Store::list`]).
/// `#[sqlx(flatten)]` reads the book columns into a nested [`BookRow`], so the same row
/// type serves single-book queries and pages alike.
#[derive(sqlx::FromRow)]
struct PagedRow {
    #[sqlx(flatten)]
    book: BookRow,
    /// Signed because `COUNT(*)` is a `BIGINT`: sqlx refuses to decode it into `u64`.
    total: i64,
}

/// The columns [`BookRow`] reads, listed rather than `SELECT *`: the audit column
/// `published_by` stays in the table, and the statement shows exactly what it returns
/// (sqlx would ignore extra columns, but every read would still ship them).
const COLUMNS: &str =
    "id, title, author, isbn, publisher, price, stock, description, created_at, updated_at";
/// [`COLUMNS`] of the `b` side of a page's deferred join (see [`Store::list`]).
const PAGE_COLUMNS: &str = "b.id, b.title, b.author, b.isbn, b.publisher, b.price, b.stock, \
     b.description, b.created_at, b.updated_at";

/// Appends `WHERE (c1 LIKE ? ESCAPE '\\' OR c2 LIKE ? …)` when there is a pattern.
///
/// `ESCAPE '\\'` (one backslash once MySQL has read the string literal) names the escape
/// character that [`like_contains`] used. It is MySQL's default too, but saying it makes
/// the contract between the two functions visible in the SQL.
///
/// The same pattern is bound once per column (`?` can only be used once each); binding
/// the escaped pattern — never formatting it into the SQL text — keeps the user's text
/// data, not code, even though LIKE gives some of its characters meaning.
fn push_filter(sql: &mut QueryBuilder<'_, sqlx::MySql>, pattern: Option<&str>, columns: &[&str]) {
    let Some(pattern) = pattern else { return };
    // The hint keeps a filtered page on one plan: scan the table once, sort the matches.
    // Left to itself, MySQL walks the sort's index instead whenever it believes `LIMIT`
    // will stop early — it assumes matches are spread evenly and are common, so it expects
    // to stop after `OFFSET + 20` index entries. A `LIKE '%rust%'` that matches 3 % of the
    // books then costs thousands of index entries, each one a random primary-key read, to
    // find its page: measured on the bench's 5,000 books, page 6 of "Rust" by price took
    // 8–13 ms walking `idx_books_price` against 5–8 ms for the scan, and 22 ms median
    // (3,505 rows examined) under the cold bench's 64 readers. The walk wins only on page 1
    // of a common word. ✅ DO pin the plan whose cost does not depend on the data; a p99 is
    // made of the bad cases. (The plan chose the scan on its own while every filtered page
    // also counted its matches with a window function, which needs every row anyway.)
    sql.push(" IGNORE INDEX FOR ORDER BY (idx_books_title, idx_books_price, idx_books_created_at)");
    sql.push(" WHERE ");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(format!("{column} LIKE "));
        sql.push_bind(pattern.to_string());
        sql.push(" ESCAPE '\\\\'");
    }
}

/// A page of books and the number of books matching the filter.
///
/// `total` is `u64` like the proto field, even though `COUNT(*)` is a signed `BIGINT` in
/// MySQL: the conversion happens once, in `Store::page_of`, with a floor at zero.
pub struct BookPage {
    pub books: Vec<Book>,
    pub total: u64,
}

/// How many ids of a filter's matches one cache entry holds (40 KB at 8 bytes an id).
///
/// The bound is what keeps the entry cheap for a filter that matches a million books:
/// pages up to 5,000 matches deep (250 pages of 20) are answered from the ids, deeper
/// ones fall back to the index walk with the total the entry still knows. The bench's
/// catalogue (5,000 books) fits whole, unfiltered lists included.
pub const MATCH_IDS_CAP: usize = 5_000;

/// What a list or search asks for, except its page: which books, in which order.
///
/// One value for both RPCs, so the store has one page statement, one ids statement and
/// one cache shape for both; [`Filter::list`] and [`Filter::search`] say how each RPC's
/// query maps onto it.
pub struct Filter {
    /// Names the statements in `catalog_db_queries_total{query}`: `list` or `search`.
    label: &'static str,
    /// The escaped `LIKE` pattern, or `None` for "every book".
    pattern: Option<String>,
    /// The columns the pattern is matched against.
    columns: &'static [&'static str],
    sort: SortKey,
    direction: Direction,
}

impl Filter {
    /// ListBooks: a keyword matched in title or author (none: every book), the asked sort.
    pub fn list(q: &ListQuery) -> Self {
        Self {
            label: "list",
            pattern: (!q.keyword.is_empty()).then(|| like_contains(&q.keyword)),
            columns: &["title", "author"],
            sort: q.sort,
            direction: q.direction,
        }
    }

    /// SearchBooks: title, author and ISBN, newest first. (Week 7 replaces this with a
    /// search engine: `LIKE '%x%'` cannot use an index and scans every row.)
    ///
    /// ISBN is matched with the same `LIKE`, so searching `978711` finds books by ISBN
    /// prefix (and anywhere inside it); the digits-only normalisation of stored ISBNs
    /// means a search with hyphens would not match — a known limit of LIKE-based search.
    pub fn search(q: &SearchQuery) -> Self {
        Self {
            label: "search",
            pattern: Some(like_contains(&q.text)),
            columns: &["title", "author", "isbn"],
            sort: SortKey::CreatedAt,
            direction: Direction::Desc,
        }
    }

    /// The `ORDER BY` list, its columns qualified by `table` (`""` or `"b."`).
    ///
    /// Column and direction are interpolated into the SQL text (ORDER BY cannot take bind
    /// parameters); they are `&'static str` returned by closed enums, so no user byte can
    /// reach this part of the statement. The `id` tie-break makes the order total: without
    /// it, books with equal prices could swap places between page 1 and page 2, and one
    /// would be shown twice — or, with cached ids, never.
    fn order_by(&self, table: &str) -> String {
        let (col, dir) = (self.sort.column(), self.direction.sql());
        format!("{table}{col} {dir}, {table}id {dir}")
    }
}

/// A filter's total and the ids of its first [`MATCH_IDS_CAP`] matches, in its order.
///
/// The answer to a query *without* its `LIMIT`, reduced to ids: every page of the filter
/// is a slice of it, so one scan serves them all (see [`Store::matches`]).
pub struct Matches {
    pub total: u64,
    pub ids: Vec<u64>,
}

impl Matches {
    /// The slice of these matches that `page` shows (see [`PageIds`]).
    pub fn page(&self, page: Page) -> PageIds {
        let start = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let end = start.saturating_add(page.size as usize);
        let slice = self.ids.get(start..end.min(self.ids.len())).unwrap_or_default();
        PageIds::new(self.total, self.ids.len() as u64, page, slice)
    }
}

/// What one page needs of a filter's [`Matches`]: the total, and the page's ids if the
/// stored ids cover it.
///
/// `ids` is `None` when the page lies (even partly) beyond the stored ids of a filter
/// with more than [`MATCH_IDS_CAP`] matches: the page is then read the old way, with the
/// total already known. `Some(empty)` is a page past the end: no statement at all.
pub struct PageIds {
    pub total: u64,
    pub ids: Option<Vec<u64>>,
}

impl PageIds {
    /// Decides coverage from the total, how many ids are stored, and the stored ids found
    /// at the page's offset (short or empty where they ran out).
    pub fn new(total: u64, stored: u64, page: Page, slice: &[u64]) -> Self {
        let end = page.offset() + u64::from(page.size);
        // Covered: the whole page is inside the stored ids, or the ids are all of the
        // matches (then a short or empty slice is simply the last or a past-the-end page).
        // ❌ DON'T answer a page that straddles the cap from the ids it has: matches
        // 4,990–5,010 of a large filter would come out as a short page of 10 in the middle
        // of the list, and the client would take it for the last one.
        let covered = end <= stored || stored == total;
        let ids = covered.then(|| slice.to_vec());
        Self { total, ids }
    }
}

/// The table, with its query counter.
///
/// Cloning a `Store` is cheap (a pool handle and an `Arc`), so every handler clone shares
/// one connection pool and one set of counters.
#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
    stats: Arc<Stats>,
}

impl Store {
    /// When every connection is busy, a query waits for one (up to the pool's acquire
    /// timeout, 10 s, set in the platform). Under a cache outage that queue is where
    /// requests pile up — visible as latency, and bounded by the gateway's deadline.
    pub fn new(pool: MySqlPool, stats: Arc<Stats>) -> Self {
        Self { pool, stats }
    }

    /// One page of a [`Filter`]'s books, in a total order, with the total of all matches.
    ///
    /// One statement returns both the rows and the total, so one cache miss is one query
    /// (the tests count it). How it is shaped decides what a cold cache costs; measured
    /// on a 5,000-book catalogue (MariaDB 10.11, a busy 2-core machine, µs per statement):
    ///
    /// | statement | page 100 by date | keyword page 6 |
    /// |---|---|---|
    /// | `SELECT <all columns>, COUNT(*) OVER () … LIMIT 20 OFFSET n` (the old one) | 33,000 | 9,500 |
    /// | deferred join, total from `COUNT(*) OVER ()` inside it | 5,300 | 4,900 |
    /// | deferred join, total from a `(SELECT COUNT(*) …)` subquery | 2,900 | 8,300 |
    ///
    /// Why the old one was slow (`EXPLAIN`: `type ALL`, `Using temporary; Using
    /// filesort`): a window function over the whole table makes MySQL read *every* row,
    /// with every column — descriptions included — into a temporary table and sort it,
    /// to return 20. Under 64 concurrent cold readers those 33 ms per miss queued up on the
    /// two cores and the pool: the ~100 ms misses and the p99 near one second of the issue.
    ///
    /// What replaces it, as [`page_of`](Self::page_of) builds it:
    /// - a **deferred join**: the inner query finds the page's 20 *ids* (`EXPLAIN`: `type
    ///   index, Using index` — it walks only the narrow sort index, which InnoDB stores with
    ///   the primary key, so no row is read to skip the `OFFSET`), then the outer query
    ///   fetches just those 20 rows by primary key (`eq_ref`);
    /// - the total from wherever it is cheapest: unfiltered, `(SELECT COUNT(*) FROM books)`
    ///   — an uncorrelated subquery, run once per statement over the smallest index; with
    ///   a keyword, `COUNT(*) OVER ()` inside the inner query, because `LIKE '%kw%'` already
    ///   scans every row once, and a separate COUNT would scan them all a second time.
    ///
    /// ✅ DO read `EXPLAIN` before caching around a slow query: the cache hides the cost
    /// until the day it is cold, which is the day the database can least afford it.
    ///
    /// `known_total` is the filter's total when the cache had it: the statement then
    /// leaves the counting out, and a page past the end is answered without one.
    ///
    /// With the cache up, this statement is the fallback: [`Store::page_from`] reads a
    /// page by its ids when the filter's [`Matches`] cover it, which every page of the
    /// bench's catalogue is. It is what answers when Redis is down, and pages deeper than
    /// [`MATCH_IDS_CAP`].
    pub async fn page(
        &self,
        filter: &Filter,
        page: Page,
        known_total: Option<u64>,
    ) -> Result<BookPage, Error> {
        // A known total answers a page past the end by itself: asking MySQL would scan
        // every match only to return none of them.
        if let Some(total) = known_total
            && page.offset() >= total
        {
            return Ok(BookPage { books: Vec::new(), total });
        }
        let Filter { label, ref pattern, columns, .. } = *filter;
        let pattern = pattern.as_deref();
        // Outer query first: the 20 rows by primary key, then re-sorted, because a derived
        // table has no order of its own (sorting 20 rows is free).
        let mut sql = QueryBuilder::new(format!("SELECT {PAGE_COLUMNS}, "));
        // Where the total comes from (see above) when the cache does not know it: counted
        // by the inner scan when a filter makes it read every row anyway, by a separate
        // index-only COUNT otherwise.
        let inner_total = match (known_total, pattern) {
            // A known total is bound as a constant: the statement then only finds rows, and
            // `LIMIT` may stop at the page's last one. `CAST … AS SIGNED` keeps the column a
            // BIGINT, the type the row decodes, whatever type the server infers for `?`.
            (Some(total), _) => {
                sql.push("CAST(").push_bind(i64::try_from(total).unwrap_or(i64::MAX));
                sql.push(" AS SIGNED)");
                ""
            }
            (None, Some(_)) => {
                sql.push("p.total");
                ", COUNT(*) OVER () AS total"
            }
            (None, None) => {
                sql.push("(SELECT COUNT(*) FROM books)");
                ""
            }
        };
        sql.push(format!(" AS total FROM (SELECT id{inner_total} FROM books"));
        push_filter(&mut sql, pattern, columns);
        let order = filter.order_by("");
        sql.push(format!(" ORDER BY {order} LIMIT "));
        sql.push_bind(page.size);
        sql.push(" OFFSET ");
        sql.push_bind(page.offset());
        sql.push(format!(
            ") AS p JOIN books AS b ON b.id = p.id ORDER BY {}",
            filter.order_by("b.")
        ));

        // Counted before it runs: a failed query still reached MySQL.
        self.stats.db_query(label);
        let rows: Vec<PagedRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let total = match (rows.first(), known_total) {
            (Some(r), _) => u64::try_from(r.total).unwrap_or(0),
            (None, Some(total)) => total,
            // A page past the end has no rows to carry the total; ask for it separately.
            // Only clients paging beyond the last page pay this second statement, and the
            // empty page is cached like any other, so they pay it once per TTL.
            (None, None) if page.page > 1 => self.count(label, pattern, columns).await?,
            // An empty page 1 means nothing matched: the total is 0 without asking.
            (None, None) => 0,
        };
        Ok(BookPage { books: rows.into_iter().map(|r| r.book.into()).collect(), total })
    }

    // lesson:match-ids:start
    /// Every match of `filter` as ids, in its order (the first [`MATCH_IDS_CAP`]), and
    /// their total: the query of [`Store::page`] without its `OFFSET`, one statement.
    ///
    /// Why a cache miss should ask for *all* the ids: with a keyword, every page's own
    /// statement scans the whole table for `LIKE '%kw%'` (5–8 ms on the bench's 5,000
    /// books, alone; 13 ms median under its 64 cold readers), only to keep 20 of the
    /// matches. This statement pays that scan once per filter, sort and list version;
    /// every page after it is 20 primary-key reads ([`Store::page_from`]). Unfiltered, it
    /// walks the sort's index once (`Using index`: the ids live in it) instead of once per
    /// page with a growing `OFFSET`. ✅ DO cache the expensive, shared part of a family of
    /// queries, not only each finished answer. (Feeds and timelines do the same: a cached
    /// list of ids, "hydrated" by key.)
    pub async fn matches(&self, filter: &Filter) -> Result<Matches, Error> {
        let pattern = filter.pattern.as_deref();
        // The total rides along as in `page`: the window when a filter scans every row
        // anyway, the index-only subquery when none does.
        let total =
            if pattern.is_some() { "COUNT(*) OVER ()" } else { "(SELECT COUNT(*) FROM books)" };
        let mut sql = QueryBuilder::new(format!("SELECT id, {total} AS total FROM books"));
        push_filter(&mut sql, pattern, filter.columns);
        // The window is computed before `LIMIT` applies, so the total counts every match
        // even when only the first 5,000 ids come back: a filter with a million matches
        // still knows it has a million, and pages past the stored ids fall back with the
        // right total instead of looking like the end of the list.
        sql.push(format!(" ORDER BY {} LIMIT ", filter.order_by("")));
        sql.push_bind(MATCH_IDS_CAP as u64);
        self.stats.db_query(filter.label);
        // Two narrow columns: the statement ships 5,000 × 16 bytes at most, where the page
        // statement of the same scan ships 20 whole rows; the scan, not the transfer, is
        // what the statement costs.
        let rows: Vec<(u64, i64)> = sql.build_query_as().fetch_all(&self.pool).await?;
        // No row carries no total: nothing matched, or the table is empty.
        let total = rows.first().map_or(0, |(_, t)| u64::try_from(*t).unwrap_or(0));
        Ok(Matches { total, ids: rows.into_iter().map(|(id, _)| id).collect() })
    }

    /// The page that `ids` names: its books by primary key when the ids cover it, else
    /// [`Store::page`] with the total already known.
    ///
    /// The books come back in `ids`' order, which is the filter's: `WHERE id IN (…)`
    /// returns rows in whatever order the server finds them, so they are put back in place
    /// here. An id whose row is gone (a book deleted since the ids were cached) is left out
    /// rather than failing the page.
    pub async fn page_from(
        &self,
        filter: &Filter,
        page: Page,
        ids: PageIds,
    ) -> Result<BookPage, Error> {
        let PageIds { total, ids } = ids;
        let Some(ids) = ids else { return self.page(filter, page, Some(total)).await };
        if ids.is_empty() {
            return Ok(BookPage { books: Vec::new(), total });
        }
        let mut sql = QueryBuilder::new(format!("SELECT {COLUMNS} FROM books WHERE id IN ("));
        let mut list = sql.separated(", ");
        for id in &ids {
            list.push_bind(*id);
        }
        sql.push(")");
        self.stats.db_query(filter.label);
        let mut rows: Vec<BookRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        // Ordered here, not by `ORDER BY FIELD(id, …)`: MySQL would evaluate FIELD per row
        // and filesort, where the ids already say the order. At most 100 ids: a position
        // lookup per row is cheaper than building a map.
        rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
        Ok(BookPage { books: rows.into_iter().map(Book::from).collect(), total })
    }

    // lesson:match-ids:end

    /// `SELECT COUNT(*)` with the same filter as the page: the total for a page past the
    /// end, which has no rows to carry the total.
    async fn count(
        &self,
        label: &'static str,
        pattern: Option<&str>,
        columns: &[&str],
    ) -> Result<u64, Error> {
        let mut sql = QueryBuilder::new("SELECT COUNT(*) FROM books");
        push_filter(&mut sql, pattern, columns);
        self.stats.db_query(label);
        let (n,): (i64,) = sql.build_query_as().fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One book, or `None`.
    ///
    /// A primary-key lookup: one B-tree descent, microseconds. Cheap on its own — which is
    /// why penetration is about *volume*: 10,000 of them per second still saturate MySQL.
    pub async fn get(&self, id: BookId) -> Result<Option<Book>, Error> {
        self.stats.db_query("get");
        let row: Option<BookRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM books WHERE id = ?"))
                .bind(id.get())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(Book::from))
    }

    /// Inserts a book published by `user_id`; a repeated ISBN is `AlreadyExists`.
    ///
    /// The unique index on `isbn` decides duplicates (see the user store for why not
    /// SELECT-then-INSERT); the new row is read back so the answer carries the database's
    /// own `created_at`, not a clock reading from this process.
    pub async fn insert(&self, book: &NewBook, user_id: u64) -> Result<Book, Error> {
        self.stats.db_query("insert");
        let done = sqlx::query(
            "INSERT INTO books (title, author, isbn, publisher, price, stock, description, published_by) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&book.title)
        .bind(&book.author)
        .bind(&book.isbn)
        .bind(&book.publisher)
        .bind(book.price)
        .bind(book.stock.get())
        .bind(&book.description)
        .bind(user_id)
        .execute(&self.pool)
        .await;
        let id = match done {
            // The AUTO_INCREMENT id of *this* connection's INSERT: MySQL keeps it per
            // connection, so concurrent publishes never read each other's id.
            Ok(done) => done.last_insert_id(),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::AlreadyExists("a book with this isbn exists".into()));
            }
            Err(e) => return Err(e.into()),
        };
        // The read-back may run on another pooled connection: fine, because the INSERT ran
        // in autocommit and was committed before `execute` returned.
        self.get(BookId::parse(id)?).await?.ok_or(Error::NotFound)
    }

    /// Sets the stock figure; `None` if the book does not exist.
    ///
    /// Two statements: the UPDATE and a read-back. The read-back is what UpdateStock
    /// returns (the book as stored now), and its `None` is also the "no such book" answer,
    /// so one statement settles both.
    pub async fn update_stock(&self, id: BookId, stock: Stock) -> Result<Option<Book>, Error> {
        self.stats.db_query("update_stock");
        sqlx::query("UPDATE books SET stock = ? WHERE id = ?")
            .bind(stock.get())
            .bind(id.get())
            .execute(&self.pool)
            .await?;
        // The affected-rows count is not used: the read-back is needed for the answer anyway.
        // (sqlx connects with `CLIENT_FOUND_ROWS`, so the count would be rows *matched*;
        // without that flag MySQL reports rows *changed*, 0 for an unchanged figure — a
        // trap when this code moves to another driver.)
        self.get(id).await
    }
}

impl Store {
    /// The book with this ISBN and who published it (`published_by`, NULL for seed books):
    /// what PublishBook compares a duplicate ISBN against to tell a retry from a clash.
    pub async fn by_isbn(&self, isbn: &str) -> Result<Option<(Book, Option<u64>)>, Error> {
        self.stats.db_query("by_isbn");
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            book: BookRow,
            published_by: Option<u64>,
        }
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS}, published_by FROM books WHERE isbn = ?"))
                .bind(isbn)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| (Book::from(r.book), r.published_by)))
    }

    /// Deletes a book PublishBook just inserted and could not give stock: the compensation
    /// that keeps a publish all-or-nothing (see `CatalogApi::publish_book`).
    pub async fn delete(&self, id: BookId) -> Result<(), Error> {
        self.stats.db_query("delete");
        sqlx::query("DELETE FROM books WHERE id = ?").bind(id.get()).execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, size: u32) -> Page {
        Page { page, size }
    }

    /// Which pages cached ids answer, and which fall back to the page statement: a
    /// filter with more matches than were stored must never answer a page that runs past
    /// the stored ids with a short page, nor call a deep page "past the end".
    #[test]
    fn stored_ids_answer_the_pages_they_cover_and_only_those() {
        // Every match stored (7 of 7): the last page is short, past the end is empty.
        let all = Matches { total: 7, ids: (1..=7).collect() };
        assert_eq!(all.page(page(1, 5)).ids, Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(all.page(page(2, 5)).ids, Some(vec![6, 7]));
        assert_eq!(all.page(page(9, 5)).ids, Some(vec![]));

        // Capped: 10 ids stored of 1,000 matches. Inside: from the ids; straddling the
        // last stored id or beyond it: `None`, the statement with the total known.
        let capped = Matches { total: 1_000, ids: (1..=10).collect() };
        assert_eq!(capped.page(page(2, 5)).ids, Some(vec![6, 7, 8, 9, 10]));
        assert_eq!(capped.page(page(2, 6)).ids, None);
        assert_eq!(capped.page(page(50, 5)).ids, None);
        assert_eq!(capped.page(page(50, 5)).total, 1_000);

        // Nothing matched: every page is empty, with no statement.
        let none = Matches { total: 0, ids: vec![] };
        assert_eq!(none.page(page(1, 20)).ids, Some(vec![]));
    }
}
