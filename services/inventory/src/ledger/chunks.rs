//! Fixed statement shapes for the syncer's multi-row statements.

/// Row counts of the syncer's multi-row statements, largest first (see [`fixed_chunks`]).
///
/// Each size is a quarter of the one before, so a remainder below 256 costs at most three
/// statements of each smaller size (12 in all), and 1 in the set makes every length
/// reachable. 256 log rows × 13 binds = 3,328 placeholders, far under MySQL's 65,535.
pub(super) const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// Cuts `rows` into consecutive chunks whose lengths all come from [`CHUNK_SIZES`]
/// (100 rows → 64 + 16 + 16 + 4), so the syncer only ever sends five statement shapes.
///
/// Why it matters — found with `perf` on MariaDB during `bench inventory`: with one
/// statement per batch, every batch of a new size was a *new* statement text (`VALUES
/// (?, …), (?, …)` repeated n times), so sqlx prepared it afresh, and MariaDB's SQL
/// parser (`MYSQLparse`, plus page faults for the parse tree of thousands of
/// placeholders) was the top entry of its profile. Batch sizes follow the traffic, so
/// almost every batch was new. Five fixed shapes are parsed once per connection, kept in
/// sqlx's statement cache, and from then on only executed.
/// ✅ DO keep the number of distinct statement texts small and bounded (bind values,
/// fixed shapes); ❌ DON'T build SQL whose text varies with the data — each variant is
/// parsed, planned and cached on its own.
/// The price: a few more round trips per batch (10 for 1,000 rows), inside one
/// transaction, each far cheaper than re-parsing.
pub(super) fn fixed_chunks<T>(rows: &[T]) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut rest = rows;
    // Greedy, largest first: because each size divides the one before, this is also the
    // fewest statements any split into these sizes can reach.
    for size in CHUNK_SIZES {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            chunks.push(chunk);
            rest = tail;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_SIZES, fixed_chunks};

    /// Every batch size is cut into chunks of the five fixed sizes, in order and without
    /// losing or repeating a row — the syncer's statement shapes stay bounded.
    #[test]
    fn batches_are_cut_into_fixed_statement_shapes() {
        // 0: an empty batch sends no statement; 255: the worst remainder, three of each smaller
        // size; 4000: the syncer's clamp on one batch.
        for n in [0usize, 1, 3, 100, 255, 1000, 4000] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks = fixed_chunks(&rows);
            assert!(chunks.iter().all(|c| CHUNK_SIZES.contains(&c.len())), "{n}");
            assert_eq!(chunks.concat(), rows, "{n}");
        }
        let sizes: Vec<usize> = fixed_chunks(&[0u8; 100]).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [64, 16, 16, 4]);
    }
}
