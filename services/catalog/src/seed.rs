//! The seed catalogue: thousands of plausible books, generated deterministically, loaded
//! idempotently. The course imports its catalogue from the monolith's `bookstore.books`;
//! a lab has no monolith, so it generates one.
//!
//! Why generate instead of shipping a data file: a 5,000-row SQL dump is 1 MB of noise in
//! the repository and in every review, and it cannot be resized. A generator is 200
//! lines, produces any size, and — because it is seeded — produces the *same* books on
//! every machine, so "page 3 sorted by price" means the same thing in every learner's lab
//! and in the bench.
//!
//! Determinism rules followed here:
//! - a fixed seed and `ChaCha8Rng`, whose output rand_chacha documents as stable across
//!   versions (`StdRng` may change algorithm between releases and would quietly reshuffle
//!   the catalogue);
//! - dates counted from a fixed epoch, never from "now";
//! - every ISBN derived from the book's index, so it is unique by construction and a
//!   re-run finds every book already there and inserts nothing (see [`seed_catalog`]).
//!
//! The shape of the data, and why it matters for the lessons:
//! - ~60 % Chinese and ~40 % English titles, ~20 % fiction: keywords such as `Rust`,
//!   `Redis` or `算法` match tens to hundreds of books, so keyword pages are realistic;
//! - prices 19.90–198.90 yuan, uniformly: sorting by price gives a full range of pages;
//! - `created_at` spread over ten years: "newest first" is a real order, not all ties;
//! - stock 0–500: some books show as sold out.

use chrono::{DateTime, NaiveDateTime};
use rand::{Rng, SeedableRng, seq::IndexedRandom};
use rand_chacha::ChaCha8Rng;
use sqlx::{MySqlPool, QueryBuilder};

use crate::{Settings, domain::isbn13_check_digit};

/// How many books `catalog-service seed` loads when not told otherwise.
pub const DEFAULT_COUNT: usize = 5_000;

/// ChaCha8 rather than ChaCha20: the same algorithm with fewer rounds — faster, still far
/// beyond what a book generator needs, and still a stable, documented output stream.
///
/// The fixed seed: change it and every lab's catalogue changes.
const SEED: u64 = 20_240_629;

/// Rows per `INSERT`: large enough to amortise round trips, small enough to stay far below
/// `max_allowed_packet` (each row is well under 1 KB; MariaDB's default packet limit is
/// 16 MB, and 500 rows are ~250 KB).
const BATCH: usize = 500;

/// One generated book, before it has an id.
///
/// The same fields as a PublishBook request plus `created_at`: seed books bypass the RPC
/// (no token, no per-book invalidation) because an import is a bulk operation, but they
/// must satisfy the same rules — the unit tests run every seed book through the same
/// validators ([`crate::domain::parse_isbn`], the price range) that PublishBook uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedBook {
    pub title: String,
    pub author: String,
    pub isbn: String,
    pub publisher: String,
    /// Cents, 1,990..=19,900: inside PublishBook's price range by the generator's clamp.
    pub price: i64,
    pub stock: i32,
    pub description: String,
    /// From the fixed epoch, never from "now", so a re-run generates the same instant.
    pub created_at: NaiveDateTime,
}

/// The word lists, from `services/catalog/seed-words.txt` (content as data: a learner can
/// add subjects without touching Rust). Embedded at compile time, so the binary needs no
/// file at run time and the catalogue cannot change under a running lab.
const WORDS: &str = include_str!("../seed-words.txt");

/// The entries of section `[name]` of [`WORDS`]. Panics on a missing or empty section:
/// that is a broken build artefact, caught by the unit tests below, never by a learner.
fn words(name: &str) -> Vec<&'static str> {
    let header = format!("[{name}]");
    let list: Vec<&'static str> = WORDS
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        // Entries are literal: " in Action" keeps its leading space (it is appended to a
        // subject). Only a trailing `\r` (a file saved on Windows) is removed.
        .map(|l| l.trim_end_matches('\r'))
        // Blank lines and `#` lines are skipped, so the word file can explain itself.
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| if l == "<empty>" { "" } else { l })
        .collect();
    assert!(!list.is_empty(), "seed-words.txt has no entries for [{name}]");
    list
}

/// All lists, parsed once per [`generate`] call.
///
/// A struct of named lists rather than a map from name to list: a misspelt list name is a
/// compile error here, and at most one `words("…")` call per list can be wrong — which
/// the unit tests catch, because `generate` loads every list.
struct Words {
    /// A Chinese technical title is prefix + subject + suffix, e.g. 深入理解 + Rust编程 +
    /// （第2版）. The subject is what keyword searches find, so it carries the real words.
    zh_prefix: Vec<&'static str>,
    zh_subject: Vec<&'static str>,
    /// `<empty>` appears more than once on purpose: it is drawn uniformly like any entry,
    /// so repeating it is how most titles get no edition suffix.
    zh_suffix: Vec<&'static str>,
    /// A Chinese novel is adjective + noun (寂静的 + 河流): short, and never a keyword hit
    /// for technical searches, as in a real shop's mix.
    zh_fiction_adj: Vec<&'static str>,
    zh_fiction_noun: Vec<&'static str>,
    /// An English technical title is adjective, space, subject and suffix ("Practical" +
    /// "Rust" + " in Action"); suffixes carry their own leading space.
    en_adj: Vec<&'static str>,
    en_subject: Vec<&'static str>,
    en_suffix: Vec<&'static str>,
    /// English novels are whole titles, picked as they are.
    en_fiction: Vec<&'static str>,
    /// Authors: surname + given name without a space in Chinese, first + last with one in
    /// English; publishers follow the book's language.
    zh_surname: Vec<&'static str>,
    zh_given: Vec<&'static str>,
    en_first: Vec<&'static str>,
    en_last: Vec<&'static str>,
    zh_publisher: Vec<&'static str>,
    en_publisher: Vec<&'static str>,
}

impl Words {
    fn load() -> Self {
        Self {
            zh_prefix: words("zh_prefix"),
            zh_subject: words("zh_subject"),
            zh_suffix: words("zh_suffix"),
            zh_fiction_adj: words("zh_fiction_adj"),
            zh_fiction_noun: words("zh_fiction_noun"),
            en_adj: words("en_adj"),
            en_subject: words("en_subject"),
            en_suffix: words("en_suffix"),
            en_fiction: words("en_fiction"),
            zh_surname: words("zh_surname"),
            zh_given: words("zh_given"),
            en_first: words("en_first"),
            en_last: words("en_last"),
            zh_publisher: words("zh_publisher"),
            en_publisher: words("en_publisher"),
        }
    }
}

/// Keywords a learner (or the bench) can search for: the subjects the titles are made of.
///
/// The bench and the lab's cache experiment draw keywords from here, so their searches
/// always hit real books: a keyword list drawn from elsewhere would measure empty pages.
pub fn sample_keywords() -> Vec<&'static str> {
    let mut list = words("zh_subject");
    list.extend(words("en_subject"));
    // Words that also occur *inside* longer entries (Rust编程, a fiction noun, a prefix,
    // a suffix): searching them exercises the `%…%` match in the middle of a title.
    list.extend(["河流", "Rust", "实战", "Guide"]);
    // `dedup` drops only *adjacent* repeats, so a word already in a subject list ("Rust")
    // stays twice: harmless, it is merely drawn a little more often.
    list.dedup();
    list
}

/// A valid ISBN-13 for book `index`: `978` + `7` (China) or `1` (English) + 8 digits that
/// look random but are a bijection of the index (×7919 mod 10⁸; 7919 is prime and shares
/// no factor with 10⁸), so no two books share an ISBN.
///
/// The prefixes are real ISBN registration groups (978-7 is China, 978-1 English-language);
/// the rest is fiction, so a generated ISBN may collide with a real book's — harmless in a
/// lab, and one more reason the generator never claims to describe real books.
fn isbn_for(index: usize, chinese: bool) -> String {
    // A bijection only for index < 10⁸: past that the bodies repeat, and the seed would
    // silently skip the repeats as "already present". `DEFAULT_COUNT` is 5,000.
    let body = (index as u64 * 7919) % 100_000_000;
    let first12 = format!("978{}{body:08}", if chinese { '7' } else { '1' });
    let digits: Vec<u8> = first12.bytes().map(|b| b - b'0').collect();
    format!("{first12}{}", isbn13_check_digit(&digits))
}

/// The first `count` books of the seed catalogue. Same `count` → same books, always; and
/// the first N books of a larger catalogue are the N books of a smaller one.
pub fn generate(count: usize) -> Vec<SeedBook> {
    let w = Words::load();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    // 2015-01-01T00:00:00Z and ten years of seconds after it.
    let epoch = 1_420_070_400_i64;
    // 365-day years: the span ends three leap days short of 2025, which no page can show.
    let span = 10 * 365 * 24 * 3600_i64;
    // `choose` on a slice draws a uniform index from the RNG: the same RNG state always
    // picks the same word, which is all determinism needs.
    let pick =
        |rng: &mut ChaCha8Rng, list: &[&'static str]| *list.choose(rng).expect("non-empty list");
    (0..count)
        // Every draw happens in a fixed order per book (language, genre, title words,
        // author, price, date, stock). DON'T reorder these lines casually: moving one
        // draw shifts every later book's values and changes the whole catalogue — which
        // the determinism test would then (rightly) not notice, but every learner's
        // "page 3 by price" would.
        .map(|i| {
            let chinese = rng.random_bool(0.6);
            let fiction = rng.random_bool(0.2);
            let (title, author, publisher) = if chinese {
                let title = if fiction {
                    format!(
                        "{}{}",
                        pick(&mut rng, &w.zh_fiction_adj),
                        pick(&mut rng, &w.zh_fiction_noun)
                    )
                } else {
                    format!(
                        "{}{}{}",
                        pick(&mut rng, &w.zh_prefix),
                        pick(&mut rng, &w.zh_subject),
                        pick(&mut rng, &w.zh_suffix)
                    )
                };
                let author =
                    format!("{}{}", pick(&mut rng, &w.zh_surname), pick(&mut rng, &w.zh_given));
                (title, author, pick(&mut rng, &w.zh_publisher))
            } else {
                let title = if fiction {
                    pick(&mut rng, &w.en_fiction).to_string()
                } else {
                    format!(
                        "{} {}{}",
                        pick(&mut rng, &w.en_adj),
                        pick(&mut rng, &w.en_subject),
                        pick(&mut rng, &w.en_suffix)
                    )
                };
                let author =
                    format!("{} {}", pick(&mut rng, &w.en_first), pick(&mut rng, &w.en_last));
                (title, author, pick(&mut rng, &w.en_publisher))
            };
            // Prices as shops set them: 19.90 … 198.90 yuan, ending in .00, .80 or .90 (the
            // clamp lifts the two draws below 19.90, 19.00 and 19.80, to 19.90).
            let yuan = rng.random_range(19..=198_i64);
            let cents = *[0_i64, 80, 90].choose(&mut rng).expect("non-empty");
            let price = (yuan * 100 + cents).clamp(1_990, 19_900);
            // Seconds, uniformly over ten years: newest-first pages are then spread across
            // dates, and `created_at` ties (which the id tie-break resolves) are rare.
            let created = epoch + rng.random_range(0..span);
            // A short description in the book's language, so a detail page looks plausible;
            // it is composed from fields already drawn, so it consumes no randomness.
            let description = if chinese {
                format!("《{title}》由{author}所著，{publisher}出版。")
            } else {
                format!("{title} by {author}, published by {publisher}.")
            };
            SeedBook {
                isbn: isbn_for(i, chinese),
                price,
                // 0 is possible on purpose: the catalogue shows sold-out books too.
                stock: rng.random_range(0..=500),
                created_at: DateTime::from_timestamp(created, 0).expect("in range").naive_utc(),
                publisher: publisher.to_string(),
                title,
                author,
                description,
            }
        })
        .collect()
}

/// Inserts the first `count` seed books into `pool` (which must be migrated), skipping
/// any already present. Returns how many were new: `count` the first time, 0 after.
///
/// Per batch of 500: one `SELECT isbn … WHERE isbn IN (…)` finds the books already there,
/// and only the missing ones are inserted — so a run interrupted half-way can simply be
/// repeated, and a repeat of a complete run inserts (and costs) nothing.
///
/// Why look first instead of letting `INSERT IGNORE` skip the duplicates: InnoDB hands out
/// an auto-increment id to every row it *tries* to insert, and does not take it back when
/// the row is ignored. The lab runs the seed on every `bookstore-lab up`, so each start
/// burned 5,000 ids, and a book published after a few weeks of starts got id 78005.
/// ✅ DO make a repeated import a no-op in what it writes *and* in what it consumes;
/// ❌ DON'T treat "no rows changed" as "nothing happened" — sequences, binlogs and
/// triggers see every attempt. `INSERT IGNORE` stays for the rare race of two seeds
/// running at once, where the loser's burned ids are the lesser evil next to an error.
///
/// Batches of 500 rows per statement: one round trip per 500 books instead of 5,000 round
/// trips — the difference between ~0.3 s and several seconds for the whole catalogue.
pub async fn seed_catalog(pool: &MySqlPool, count: usize) -> anyhow::Result<u64> {
    let books = generate(count);
    // Generation is pure CPU (~10 ms for 5,000 books); the rest is MySQL. Rows are bound
    // as parameters, never formatted into the SQL, so a title with a quote in it is just
    // a title.
    let mut inserted = 0;
    for chunk in books.chunks(BATCH) {
        // 500 ISBNs are 500 placeholders, and the INSERT below 500 × 9 = 4,500: both far
        // under the 65,535 placeholders one prepared statement may carry in MySQL's protocol.
        let mut present = QueryBuilder::new("SELECT isbn FROM books WHERE isbn IN ");
        present.push_tuples(chunk, |mut t, b| {
            t.push_bind(&b.isbn);
        });
        let present: std::collections::HashSet<String> =
            present.build_query_scalar::<String>().fetch_all(pool).await?.into_iter().collect();
        let missing: Vec<&SeedBook> = chunk.iter().filter(|b| !present.contains(&b.isbn)).collect();
        // A complete re-run ends here for every batch: ten SELECTs for 5,000 books (each an
        // IN list probed on the unique index), no INSERT, no id consumed.
        if missing.is_empty() {
            continue;
        }
        let mut sql = QueryBuilder::new(
            "INSERT IGNORE INTO books (title, author, isbn, publisher, price, stock, description, created_at, updated_at) ",
        );
        sql.push_values(missing, |mut row, b| {
            row.push_bind(&b.title)
                .push_bind(&b.author)
                .push_bind(&b.isbn)
                .push_bind(&b.publisher)
                .push_bind(b.price)
                .push_bind(b.stock)
                .push_bind(&b.description)
                .push_bind(b.created_at)
                // `updated_at` = `created_at`: a seed book was never edited. The import time
                // would stamp all 5,000 books with one instant, which no real shop has.
                .push_bind(b.created_at);
        });
        // `rows_affected` counts only rows really inserted: a book a concurrent seed wrote
        // between the SELECT and here is ignored, and not counted as new.
        inserted += sql.build().execute(pool).await?.rows_affected();
    }
    // Statistics for the optimizer, refreshed now rather than whenever InnoDB's background
    // recount gets to the table (it waits for 10 % of rows to change, then runs when it
    // runs). Until then the plans are chosen from the stats of a nearly empty table: the
    // cold bench, run straight after the seed, saw unfiltered deep pages switch between
    // the covering index walk (~1,100 rows examined) and a full scan plus sort (~6,000)
    // from one run to the next. ✅ DO `ANALYZE` after a bulk load; it reads a few index
    // pages per index, milliseconds here.
    if inserted > 0 {
        sqlx::query("ANALYZE TABLE books").execute(pool).await?;
    }
    Ok(inserted)
}

/// `catalog-service seed`: connect (creating and migrating the database if needed), load,
/// and invalidate cached lists so a running service shows the new books at once.
///
/// Why invalidate: a catalog-service may already be running with cached pages of the old,
/// smaller catalogue. The `INCR` makes the new books visible on the next list request,
/// exactly as if they had been published one by one.
pub async fn seed_command(settings: &Settings, count: usize) -> anyhow::Result<u64> {
    let pool = bookstore_platform::db::connect(
        settings.common.mysql_url.expose(),
        &settings.common.database,
        // Two connections: the import sends one statement at a time.
        2,
        &crate::migrator(),
    )
    .await?;
    let inserted = seed_catalog(&pool, count).await?;
    // Only when something was new: the no-op re-run of every `up` must not bump the
    // version, or each start would throw away every cached list page for nothing.
    if inserted > 0 {
        // Redis is optional here: with no Redis there is no cache to invalidate.
        match bookstore_platform::cache::connect(settings.common.redis_url.expose()).await {
            Ok(conn) => {
                crate::cache::Cache::new(conn, &settings.common.redis_prefix, settings.ttls())
                    .bump_list_version()
                    .await
            }
            Err(e) => {
                // Stale for at most the list TTL (`list_ttl_secs`, 5 min by default); the
                // rows are committed either way, so the seed itself has succeeded.
                tracing::warn!(error = %e, "redis unavailable; cached lists expire on their own")
            }
        }
    }
    Ok(inserted)
}

#[cfg(test)]
// The generator's promises, tested without a database: same input → same books; every
// book valid; ISBNs unique. The import itself is exercised by every integration test,
// which seeds its fresh database through `seed_catalog`.
mod tests {
    use super::*;
    use crate::domain::parse_isbn;

    /// Two calls give equal books, and a smaller catalogue is a prefix of a larger one —
    /// what lets a test seed 300 books and the bench 5,000 from the same generator.
    #[test]
    fn the_catalogue_is_the_same_on_every_run() {
        assert_eq!(generate(50), generate(50));
        assert_eq!(generate(10), generate(50)[..10].to_vec());
    }

    /// 2,000 books: every ISBN distinct and valid, every price in range, no empty title or
    /// author — the rules PublishBook enforces, which the import bypasses.
    #[test]
    fn seed_books_are_valid_and_their_isbns_unique() {
        let books = generate(2_000);
        let mut isbns: Vec<_> = books.iter().map(|b| b.isbn.clone()).collect();
        isbns.sort();
        isbns.dedup();
        assert_eq!(isbns.len(), books.len());
        for b in &books {
            assert!(parse_isbn(&b.isbn).is_ok(), "{}", b.isbn);
            assert!((1_990..=19_900).contains(&b.price));
            assert!(!b.title.is_empty() && !b.author.is_empty());
        }
    }
}
