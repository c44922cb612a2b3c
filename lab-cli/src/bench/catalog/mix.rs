//! The bench's query mix: 600 distinct ListBooks queries in popularity order, drawn
//! with probability ∝ 1/rank (Zipf, s = 1.0) as a pure function of the operation index.

use bookstore_proto::catalog::{ListBooksRequest, SortField, SortOrder};

/// Pages of the unfiltered lists in the mix. With 20 books a page, the 5,000 seed books
/// fill 250 pages; the mix stops at 100 (nobody reads further), which already makes deep
/// `OFFSET`s (up to 1,980 rows skipped) part of the cold cost.
pub(super) const PAGES: u32 = 100;
/// Pages of each keyword's results in the mix: 10 keywords × 10 pages × 3 sorts plus
/// 100 unfiltered pages × 3 sorts are the 600 distinct queries.
pub(super) const KEYWORD_PAGES: u32 = 10;
/// The Zipf exponent the issue asks for.
///
/// s = 1.0 is the classic web-popularity shape: the top query gets 1/H(n) of the traffic
/// (H(600) ≈ 7.0, so ~14 %), the top 10 about 42 %, and half of the traffic goes to the
/// top ~18 queries — while the remaining half is spread thinly over the long tail, which
/// is what makes a cold cache take a while to reach its steady hit rate.
pub(super) const ZIPF_S: f64 = 1.0;

// A query is described once and rendered twice (gRPC request, HTTP URL), so the two
// protocols provably ask for the same pages.

/// One query of the mix.
///
/// `keyword` is `&'static str` because the keywords come from the seed's word lists,
/// which live for the whole program; queries are then cheap to clone into every request.
#[derive(Clone, Debug)]
pub(super) struct Query {
    /// 1-based, as the API counts.
    page: u32,
    /// One of the three sorts a UI offers; each is its own cache key and its own SQL.
    sort: SortField,
    order: SortOrder,
    /// Empty for "no keyword filter".
    keyword: &'static str,
}

impl Query {
    /// The request as catalog-service receives it. Page size is fixed at 20 (the default a
    /// UI would use), so the mix varies what the course's cache key must capture — page,
    /// sort, order, keyword — and not the size.
    pub(super) fn grpc(&self) -> ListBooksRequest {
        ListBooksRequest {
            page: self.page,
            page_size: 20,
            sort_by: self.sort as i32,
            order: self.order as i32,
            keyword: self.keyword.to_string(),
        }
    }

    /// The same query as a gateway URL. Both protocols must ask for exactly the same
    /// pages, or the HTTP and gRPC rows would measure different cache keys.
    pub(super) fn http_path(&self) -> String {
        // The gateway's spelling of each sort; `_` is CreatedAt, the only other sort the
        // mix uses.
        let sort = match self.sort {
            SortField::Price => "price",
            SortField::Title => "title",
            _ => "created_at",
        };
        let order = if self.order == SortOrder::Asc { "asc" } else { "desc" };
        let mut path =
            format!("/api/v1/books?page={}&page_size=20&sort={sort}&order={order}", self.page);
        if !self.keyword.is_empty() {
            path.push_str("&keyword=");
            // Percent-encode the keyword's UTF-8 bytes (Chinese keywords included): every
            // byte but ASCII letters and digits, which over-encodes a little but can never
            // produce a URL the gateway decodes to a different keyword than gRPC sends.
            for b in self.keyword.bytes() {
                if b.is_ascii_alphanumeric() {
                    path.push(char::from(b));
                } else {
                    path.push_str(&format!("%{b:02X}"));
                }
            }
        }
        path
    }
}

// The mix is built once per run and shared (`Arc`) by every worker; it is read-only, so
// sharing needs no lock.

/// The mix in popularity order (rank 0 = most popular) and its Zipf sampler.
///
/// Sampling from a CDF by binary search is O(log n) per request with no allocation and
/// no lock, which matters here: the sampler runs inside every worker's loop and must not
/// become what the bench measures.
pub(super) struct Mix {
    pub(super) queries: Vec<Query>,
    /// Cumulative weights: `cdf[r] = Σ_{i ≤ r} 1/(i+1)^s`.
    cdf: Vec<f64>,
}

impl Mix {
    /// Builds the 600 queries in rank order and their cumulative Zipf weights.
    pub(super) fn new() -> Self {
        // "" (no keyword) plus the first ten of the seed's own subjects, so every keyword
        // query has results.
        let mut keywords: Vec<&'static str> = vec![""];
        keywords.extend(bookstore_catalog::seed::sample_keywords().into_iter().take(10));
        let sorts = [
            (SortField::CreatedAt, SortOrder::Desc),
            (SortField::Price, SortOrder::Asc),
            (SortField::Title, SortOrder::Asc),
        ];
        let mut queries = Vec::new();
        // Rank order = popularity order: page-major, so page 1 (every keyword, every sort)
        // is more popular than any page 2, and within a page the unfiltered newest-first
        // query comes first. Zipf then gives rank 0 the largest share.
        for page in 1..=PAGES {
            // Keyword results are a few hundred books at most: nobody pages past 10 of
            // them, and a mix that asked for page 80 of "Redis" would measure empty pages.
            let keywords = if page <= KEYWORD_PAGES { &keywords[..] } else { &keywords[..1] };
            for keyword in keywords {
                for (sort, order) in sorts {
                    queries.push(Query { page, sort, order, keyword });
                }
            }
        }
        // The running sum of 1/rank^s: `cdf[r]` is the weight of ranks 0..=r, and the last
        // entry is H(n), the normaliser.
        let mut total = 0.0;
        let cdf = (0..queries.len())
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(ZIPF_S);
                total
            })
            .collect();
        Self { queries, cdf }
    }

    /// The query of operation `op`: a deterministic uniform number from the index,
    /// mapped through the CDF by binary search.
    ///
    /// `partition_point` finds the first rank whose cumulative weight reaches `u`: ranks
    /// with more weight own wider intervals of [0, H(n)) and are found proportionally more
    /// often. `min` guards the floating-point edge where `u` lands exactly on the total.
    pub(super) fn pick(&self, op: u64, salt: u64) -> &Query {
        let total = *self.cdf.last().expect("the mix is not empty");
        // The salt goes into the high 32 bits: XORed into the low bits, a small salt would
        // only swap operation indexes among themselves (salt 1 maps op 0 ↔ 1), and every
        // round would draw the same set of numbers in a different order.
        let u = unit(op ^ salt.rotate_left(32)) * total;
        let rank = self.cdf.partition_point(|c| *c < u).min(self.queries.len() - 1);
        &self.queries[rank]
    }
}

/// SplitMix64 of `x`, as a float in [0, 1): a fast, stateless, well-mixed hash.
///
/// Why not `rand`: a shared RNG behind a lock would serialise 64 workers; thread-local
/// RNGs would make the sequence depend on scheduling. Hashing the operation index gives
/// every operation its own independent-looking number, reproducibly.
/// (The constants are SplitMix64's published ones; the top 53 bits become the mantissa of
/// an `f64` in [0, 1).)
fn unit(x: u64) -> f64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Runs in milliseconds and needs no infrastructure, so it runs with the unit tests.
    // Why test a bench's sampler at all: if it drifted to uniform, every hit rate in the
    // report would silently drop and be blamed on the cache.

    /// The sampler follows Zipf: the top query is drawn about 1/H(n) of the time, and the
    /// choice is a pure function of the operation index.
    #[test]
    fn the_mix_is_zipf_skewed_and_deterministic() {
        let mix = Mix::new();
        let n = 100_000u64;
        // Count how often rank 0 (page 1, no keyword, newest first) is drawn; with
        // 100,000 draws the expected share n / H(600) ≈ 14,300 is met within 10 %.
        let top = (0..n)
            .filter(|op| {
                mix.pick(*op, 0).page == 1
                    && mix.pick(*op, 0).keyword.is_empty()
                    && mix.pick(*op, 0).sort == SortField::CreatedAt
            })
            .count();
        let expected = n as f64 / mix.cdf.last().unwrap();
        assert!(
            (top as f64 - expected).abs() < expected * 0.1,
            "top {top}, expected ≈ {expected:.0}"
        );
        assert_eq!(mix.pick(42, 7).http_path(), mix.pick(42, 7).http_path());
    }
}
