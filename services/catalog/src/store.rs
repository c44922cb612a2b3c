//! The `books` table: SQL only. Every statement is counted in [`Stats`], which is how the
//! tests prove "500 concurrent reads → 1 query" instead of assuming it.
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

/// Which page of a filter's matches to fetch, in which order, and the filter's total if
/// the cache already knows it (then nothing is counted).
#[derive(Clone, Copy)]
struct Paging {
    sort: SortKey,
    direction: Direction,
    page: Page,
    known_total: Option<u64>,
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

    /// A page, optionally filtered by keyword (title or author, matched literally).
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
    /// `known_total` is the filter's total when the cache had it (see
    /// [`Cache::list_count_key`](crate::cache::Cache::list_count_key)): the statement then
    /// leaves the counting out, and a page past the end is answered without one.
    pub async fn list(&self, q: &ListQuery, known_total: Option<u64>) -> Result<BookPage, Error> {
        let filter = (!q.keyword.is_empty()).then(|| like_contains(&q.keyword));
        let page = Paging { sort: q.sort, direction: q.direction, page: q.page, known_total };
        self.page_of("list", filter.as_deref(), &["title", "author"], page).await
    }

    /// SearchBooks: LIKE over title, author and ISBN, newest first. (Week 7 replaces this
    /// with a search engine: `LIKE '%x%'` cannot use an index and scans every row.)
    ///
    /// ISBN is matched with the same `LIKE`, so searching `978711` finds books by ISBN
    /// prefix (and anywhere inside it); the digits-only normalisation of stored ISBNs
    /// means a search with hyphens would not match — a known limit of LIKE-based search.
    pub async fn search(
        &self,
        q: &SearchQuery,
        known_total: Option<u64>,
    ) -> Result<BookPage, Error> {
        let pattern = like_contains(&q.text);
        let page = Paging {
            sort: SortKey::CreatedAt,
            direction: Direction::Desc,
            page: q.page,
            known_total,
        };
        self.page_of("search", Some(&pattern), &["title", "author", "isbn"], page).await
    }

    /// One page of books matching `pattern` (a LIKE pattern over `columns`, or none), in
    /// a total order, with the total of all matches: the statement shape `list` explains.
    /// `label` names the query in the `catalog_db_queries_total` counter.
    async fn page_of(
        &self,
        label: &'static str,
        pattern: Option<&str>,
        columns: &[&str],
        paging: Paging,
    ) -> Result<BookPage, Error> {
        let Paging { sort, direction, page, known_total } = paging;
        // A known total answers a page past the end by itself: asking MySQL would scan
        // every match only to return none of them.
        if let Some(total) = known_total
            && page.offset() >= total
        {
            return Ok(BookPage { books: Vec::new(), total });
        }
        // These two strings are interpolated into the SQL text (ORDER BY cannot take bind
        // parameters); they are `&'static str` returned by closed enums, so no user byte
        // can reach this part of the statement. The `id` tie-break makes the order total:
        // without it, books with equal prices could swap places between page 1 and page 2,
        // and one would be shown twice.
        let (col, dir) = (sort.column(), direction.sql());
        // Outer query first: the 20 rows by primary key, then re-sorted, because a derived
        // table has no order of its own (sorting 20 rows is free).
        let mut sql = QueryBuilder::new(format!("SELECT {PAGE_COLUMNS}, "));
        // Where the total comes from (see `list`) when the cache does not know it: counted
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
        sql.push(format!(" ORDER BY {col} {dir}, id {dir} LIMIT "));
        sql.push_bind(page.size);
        sql.push(" OFFSET ");
        sql.push_bind(page.offset());
        sql.push(format!(
            ") AS p JOIN books AS b ON b.id = p.id ORDER BY b.{col} {dir}, b.id {dir}"
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
