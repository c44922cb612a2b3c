//! Newtypes that parse requests at the door, so the store and the cache only ever see
//! valid, *normalised* values.
//!
//! Normalisation is a caching concern as much as a validation one: `page_size=0` and
//! `page_size=20` are the same query, and so are `keyword=" Rust "` and `keyword="rust"`
//! (the table's collation is case-insensitive). Parsing them to one value first means they
//! share one cache key instead of filling Redis with copies of the same page.
//!
//! | type | accepts | refuses with INVALID_ARGUMENT |
//! |---|---|---|
//! | [`Page`] | page 0 (→1) … 100,000; size 0 (→20) … any (capped at 100) | page > 100,000 |
//! | [`ListQuery`] | sort/order enums (unspecified → newest first), keyword ≤ 100 chars | longer keywords |
//! | [`SearchQuery`] | non-empty text ≤ 100 chars | empty or longer text |
//! | [`BookId`] | 1 … | 0 (proto3's "field not set") |
//! | [`Stock`] | 0 … 1,000,000 | negative, absurd |
//! | [`NewBook`] | title 1–200, author 1–100, price 1–10,000,000 cents, valid ISBN-13 or none | anything else |
//!
//! Capping versus refusing: an over-large page size is *capped* (the client gets a
//! smaller page and can see `page_size` in the answer), a page beyond the limit is
//! *refused* (there is no useful smaller answer). Both change nothing and cost no query.

use bookstore_proto::catalog::{
    ListBooksRequest, PublishBookRequest, SearchBooksRequest, SortField, SortOrder,
};

use crate::Error;

/// Page size when the request says 0.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// DO cap the page size. DON'T trust it: `page_size=10000` would turn one request into a
/// 10,000-row query, a multi-megabyte cache value and a response the client cannot show.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Deep pages cost `OFFSET` rows of work each; nobody reads page 100,001 of a bookshop.
///
/// The bound caps the worst case, it does not make it cheap: page 100,000 at 100 rows is
/// `OFFSET 9999900`, a walk of ten million index entries — on a 5,000-book catalogue
/// an empty page, on a huge one a slow statement (see keyset pagination in `store`).
pub const MAX_PAGE: u32 = 100_000;
/// Longest keyword or search text, in characters.
pub const MAX_KEYWORD_CHARS: usize = 100;

/// The column a list is ordered by. A closed enum, mapped to SQL by [`SortKey::column`]:
/// DON'T put a client's string into `ORDER BY` — it cannot be a bind parameter, so it
/// would be SQL injection waiting to happen.
///
/// Each variant corresponds to one index in `migrations/catalog` — adding a sort key
/// means adding an index, or that sort becomes a full-table filesort on every miss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// `idx_books_created_at`: the front page's order, and the default.
    CreatedAt,
    /// `idx_books_price`: integer cents, so equal prices really are equal (no float noise).
    Price,
    /// `idx_books_title`, compared by the column's collation, not by bytes: `apple` and
    /// `Apple` sort side by side.
    Title,
}

// `column()` returns `&'static str`: the only strings that can reach `ORDER BY` are these
// three literals, whatever a client sends.
impl SortKey {
    /// The column name for `ORDER BY`, one of three literals.
    pub fn column(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Price => "price",
            Self::Title => "title",
        }
    }
}

/// Ascending or descending.
///
/// Descending is the default for every sort, as the proto says: "newest first" is what a
/// catalogue's front page shows. For price and title the gateway's default stays the
/// same, so a client must ask for `order=asc` explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    /// The keyword for `ORDER BY`, applied to the sort column *and* the `id` tie-break, so
    /// a descending page is the exact reverse of the ascending one.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }
}

/// A validated page request: 1-based page, size in 1..=100.
///
/// Both fields are already clamped when a `Page` exists, so the SQL layer and the cache
/// key never see page 0 or size 10,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    pub page: u32,
    pub size: u32,
}

impl Page {
    /// `page` 0 means 1; `size` 0 means 20 and anything above 100 is capped at 100 (the
    /// proto's contract: capping is friendlier than refusing for a UI that asks for "all").
    pub fn parse(page: u32, size: u32) -> Result<Self, Error> {
        if page > MAX_PAGE {
            return Err(Error::InvalidArgument(format!("page must be at most {MAX_PAGE}")));
        }
        Ok(Self {
            page: page.max(1),
            size: match size {
                0 => DEFAULT_PAGE_SIZE,
                s => s.min(MAX_PAGE_SIZE),
            },
        })
    }

    /// Rows to skip.
    ///
    /// Computed in `u64`: `(100,000 − 1) × 100` fits in `u32`, but a later change to the
    /// limits should not be able to overflow silently into a wrong page.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.size)
    }
}

/// Trims, collapses inner whitespace and lowercases. Lowercasing is safe *because* the
/// column collation (`utf8mb4_unicode_ci`) already compares case-insensitively: `Rust` and
/// `rust` return the same rows, so they may share a cache entry.
///
/// Why normalise before the cache and not only in SQL: the cache key is built from the
/// *parsed* query. Without normalisation, `Rust`, `rust` and ` rust ` would be three keys
/// holding three identical copies, and each would miss separately — a lower hit rate for
/// no benefit. DO make the key a function of the *meaning* of the request, not its bytes.
///
/// Whitespace inside is collapsed (`rust  book` → `rust book`) for the same reason; the
/// words stay in order, because `LIKE '%rust book%'` is a phrase match, not a bag of words.
///
/// The 100-character limit is checked *after* normalisation: what is limited is the text
/// that reaches SQL and the cache key, not the padding a client sent around it.
pub fn normalize_keyword(raw: &str) -> Result<String, Error> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    // Unicode lowercasing (`Ä` → `ä`), matching the collation, which folds case beyond
    // ASCII too; Chinese has no case and passes through unchanged.
    let keyword = words.join(" ").to_lowercase();
    if keyword.chars().count() > MAX_KEYWORD_CHARS {
        return Err(Error::InvalidArgument(format!(
            "keyword must be at most {MAX_KEYWORD_CHARS} characters"
        )));
    }
    Ok(keyword)
}

/// A validated ListBooks request: every parameter that changes the answer.
///
/// It derives `Hash` and `Eq` because it *is* the identity of a cached page: two equal
/// `ListQuery` values must produce the same key, and two different ones different keys.
/// [`crate::cache::Cache::list_key`] writes every field into the key — add a field here
/// and forget it there, and two different queries share a cache entry (the course's
/// "key missing parameters" DON'T). The test
/// `a_list_misses_then_hits_and_every_parameter_changes_the_key` guards exactly that.
/// (The field order here is the order of the key's segments, to make the two easy to
/// compare when reading `redis-cli MONITOR` output next to this struct.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListQuery {
    pub page: Page,
    pub sort: SortKey,
    pub direction: Direction,
    /// Normalised; empty means "no filter".
    // Four fields, and the cache key has all four (page counts twice: number and size).
    pub keyword: String,
}

impl ListQuery {
    /// Unspecified enum values (proto3 sends 0 when a client did not set the field) map to
    /// the documented defaults — newest first — so an empty request is a valid request.
    /// An unknown number (a newer client's enum value) also lands on the default through
    /// prost's `sort_by()` accessor instead of failing.
    pub fn parse(req: &ListBooksRequest) -> Result<Self, Error> {
        let sort = match req.sort_by() {
            SortField::Unspecified | SortField::CreatedAt => SortKey::CreatedAt,
            SortField::Price => SortKey::Price,
            SortField::Title => SortKey::Title,
        };
        let direction = match req.order() {
            SortOrder::Unspecified | SortOrder::Desc => Direction::Desc,
            SortOrder::Asc => Direction::Asc,
        };
        Ok(Self {
            page: Page::parse(req.page, req.page_size)?,
            sort,
            direction,
            keyword: normalize_keyword(&req.keyword)?,
        })
    }
}

/// A validated SearchBooks request.
///
/// Search shares [`Page`] and [`normalize_keyword`] with lists, so the same limits and the
/// same normalisation apply; it differs only in the columns it matches (ISBN too) and in
/// refusing an empty query.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub page: Page,
    /// Normalised, never empty.
    pub text: String,
}

impl SearchQuery {
    /// Normalises the text like a list keyword, then refuses what is empty *after*
    /// normalisation: `"   "` would otherwise become `LIKE '%%'`, a full-table answer.
    pub fn parse(req: &SearchBooksRequest) -> Result<Self, Error> {
        let text = normalize_keyword(&req.query)?;
        if text.is_empty() {
            return Err(Error::InvalidArgument("query must not be empty".into()));
        }
        Ok(Self { page: Page::parse(req.page, req.page_size)?, text })
    }
}

// lesson:like-escape:start
/// Escapes a user's text for `LIKE … ESCAPE '\\'`, so that `%`, `_` and `\` match
/// themselves instead of acting as wildcards.
///
/// DON'T: `format!("%{keyword}%")` unescaped. A search for `%` would then match every
/// book (one cheap request = a full-table answer), and `_` would match any character, so
/// a search for `c_t` would find "cat" and "cut". Bind parameters stop SQL injection; they
/// do **not** stop LIKE's own wildcards — that takes this function.
///
/// Example: the user searches `100%`. Unescaped, the pattern is `%100%%`, which matches
/// "1000 Recipes" and "100 Days". Escaped, it is `%100\%%`: the middle `%` is a literal
/// percent sign, and only "100% Pure Rust" matches.
pub fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
// lesson:like-escape:end

/// A positive book id.
///
/// Why a newtype for a number: `get_book(id)` and `update_stock(id, stock)` with bare
/// integers compile just as happily with the arguments swapped. With `BookId` and `Stock`
/// they do not, and "0 is not an id" is checked once, here, instead of in every handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookId(u64);

impl BookId {
    /// Any id but 0, which proto3 sends when the caller never set the field.
    pub fn parse(id: u64) -> Result<Self, Error> {
        if id == 0 {
            return Err(Error::InvalidArgument("book id must be positive".into()));
        }
        Ok(Self(id))
    }

    /// The id, for binding into SQL and building cache keys.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A stock figure: 0..=1,000,000 (`INT` holds more, but a shelf of a million copies of
/// one title is a typo, not a bookshop).
///
/// `i32` because the proto field is `int32`; the check makes "negative" unrepresentable
/// past this point, which the `CHECK (stock >= 0)` constraint then only backs up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stock(i32);

impl Stock {
    /// 0 (sold out, still listed) up to a million; anything else is `InvalidArgument`.
    pub fn parse(stock: i32) -> Result<Self, Error> {
        if (0..=1_000_000).contains(&stock) {
            Ok(Self(stock))
        } else {
            Err(Error::InvalidArgument("stock must be between 0 and 1000000".into()))
        }
    }

    /// The figure, for binding into the UPDATE or INSERT.
    pub fn get(self) -> i32 {
        self.0
    }
}

/// Most expensive book accepted: 100,000 yuan, in cents.
///
/// Bounded on both sides: 0 or negative prices are meaningless, and an upper bound stops a
/// typo (an extra three zeros) from publishing a ¥59,900,000 book.
pub const MAX_PRICE_CENTS: i64 = 10_000_000;

/// The most stock a book can be published with: inventory's largest single IncrStock
/// (its `MAX_QUANTITY`), because the opening stock is exactly one IncrStock. A larger
/// first delivery is published with 10,000 and restocked.
pub const MAX_OPENING_STOCK: i32 = 10_000;

/// A validated PublishBook request.
///
/// Text fields are trimmed before their length is checked, so "  " is an empty title, not
/// a two-character one. Lengths are counted in characters, not bytes: "深入理解" is 4
/// characters (12 bytes in UTF-8), and the columns are sized in characters too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewBook {
    /// 1–200 characters, required; the column is `VARCHAR(200)` in characters, so a title
    /// accepted here always fits, whatever its script.
    pub title: String,
    /// 1–100 characters, required.
    pub author: String,
    /// 13 digits, check digit verified; `None` when the publisher gave none.
    pub isbn: Option<String>,
    /// Optional (0–100 characters): `""` is stored as is, there is no NULL to tell apart.
    pub publisher: String,
    /// Integer cents, 1 ..= [`MAX_PRICE_CENTS`].
    pub price: i64,
    /// The opening figure, 0 ..= [`MAX_OPENING_STOCK`]: PublishBook hands it to inventory
    /// (IncrStock) and keeps it as `initial_stock`; later changes are inventory's.
    pub stock: Stock,
    /// Optional, up to 2,000 characters: a blurb, not a book.
    pub description: String,
}

/// One helper for every free-text field: trim, then check the length in characters, with
/// an error message that names the field. Four fields, one rule, one place to change it.
/// The message gives the bounds, not the value received: echoing input into an error
/// would put up to 2,000 characters of someone's text into the caller's logs.
fn text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, Error> {
    // `trim` removes Unicode whitespace, so a title of only full-width spaces (`　`, typed
    // easily with a Chinese input method) is blank too, not a one-character title.
    let value = raw.trim().to_string();
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(Error::InvalidArgument(format!("{field} must be {min}-{max} characters")));
    }
    Ok(value)
}

impl NewBook {
    /// Price first, then the text fields: the order only decides which error message a
    /// request with several problems gets, and price mistakes (cents vs yuan!) are the
    /// most common — `price: 59.9` from a client that thinks in yuan arrives as 0 or 59.
    pub fn parse(req: &PublishBookRequest) -> Result<Self, Error> {
        if !(1..=MAX_PRICE_CENTS).contains(&req.price) {
            return Err(Error::InvalidArgument(format!("price must be 1-{MAX_PRICE_CENTS} cents")));
        }
        // An empty or blank ISBN is "none" (stored as NULL, see `store::BookRow::isbn`).
        let isbn = match req.isbn.trim() {
            "" => None,
            raw => Some(parse_isbn(raw)?),
        };
        Ok(Self {
            title: text("title", &req.title, 1, 200)?,
            author: text("author", &req.author, 1, 100)?,
            isbn,
            publisher: text("publisher", &req.publisher, 0, 100)?,
            price: req.price,
            // Two rules: the opening cap (10,000, inventory's largest IncrStock) here, the
            // floor of 0 in `Stock::parse`, whose million cap an opening figure never reaches.
            stock: match req.stock {
                n if n > MAX_OPENING_STOCK => {
                    return Err(Error::InvalidArgument(format!(
                        "stock must be between 0 and {MAX_OPENING_STOCK}"
                    )));
                }
                n => Stock::parse(n)?,
            },
            description: text("description", &req.description, 0, 2000)?,
        })
    }
}

/// ISBN-13 check digit of the first 12 digits: weights 1,3,1,3,…; the digit makes the
/// weighted sum a multiple of 10. Catches every single-digit typo, but not every swap of
/// two neighbours: `16` ↔ `61` passes, because 1·1 + 3·6 and 1·6 + 3·1 differ by exactly 10.
///
/// Worked example, `978-7-111-54742-?`: digits 9 7 8 7 1 1 1 5 4 7 4 2 weighted
/// 1 3 1 3 … give 9+21+8+21+1+3+1+15+4+21+4+6 = 114; 10 − (114 mod 10) = 6.
pub fn isbn13_check_digit(first12: &[u8]) -> u8 {
    let sum: u32 = first12
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    // The outer `% 10`: a sum that is already a multiple of 10 needs check digit 0, not 10.
    ((10 - sum % 10) % 10) as u8
}

/// Accepts `978-7-111-54742-6`-style input; returns the 13 digits.
///
/// Only ISBN-13 is accepted (every book since 2007 has one; the 10-digit form converts by
/// prefixing 978 and recomputing the check digit). Hyphens and spaces are presentation
/// and are dropped, so `978-7-111-54742-6` and `9787111547426` are the same book and hit
/// the same unique index.
pub fn parse_isbn(raw: &str) -> Result<String, Error> {
    let digits: Vec<u8> = raw
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_digit(10).map(|d| d as u8))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::InvalidArgument("isbn must contain only digits".into()))?;
    if digits.len() != 13 || isbn13_check_digit(&digits[..12]) != digits[12] {
        return Err(Error::InvalidArgument("isbn must be a valid ISBN-13".into()));
    }
    Ok(digits.iter().map(|d| char::from(b'0' + d)).collect())
}

#[cfg(test)]
// Pure functions, tested without a database: these are the rules every request passes
// through, so they get the fastest tests.
mod tests {
    use super::*;

    /// Each of LIKE's three special characters gets its backslash, and only those.
    #[test]
    fn like_wildcards_in_user_input_are_escaped() {
        assert_eq!(like_contains("100%"), r"%100\%%");
        assert_eq!(like_contains("a_b"), r"%a\_b%");
        assert_eq!(like_contains(r"c:\x"), r"%c:\\x%");
    }

    /// 0/0 is the documented default page, 10,000 rows are capped, page 100,001 is refused.
    #[test]
    fn page_size_is_defaulted_and_capped_and_deep_pages_refused() {
        assert_eq!(Page::parse(0, 0).unwrap(), Page { page: 1, size: 20 });
        assert_eq!(Page::parse(3, 10_000).unwrap().size, MAX_PAGE_SIZE);
        assert!(Page::parse(MAX_PAGE + 1, 10).is_err());
    }

    /// Case and spacing vanish (one cache key for one meaning); 101 characters are refused.
    #[test]
    fn keywords_are_normalised_so_equal_queries_share_a_key() {
        assert_eq!(normalize_keyword("  Rust   Book ").unwrap(), "rust book");
        assert!(normalize_keyword(&"x".repeat(101)).is_err());
    }

    /// Hyphens are dropped; a wrong check digit and a 11-digit number are both refused.
    #[test]
    fn isbn_check_digits_are_verified() {
        assert_eq!(parse_isbn("978-7-111-54742-6").unwrap(), "9787111547426");
        assert!(parse_isbn("9787111547427").is_err());
        assert!(parse_isbn("97871115474").is_err());
    }
}
