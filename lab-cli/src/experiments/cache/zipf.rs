//! The skew of the read load: ranks drawn with probability ∝ 1/k^s.

use rand::Rng;

// How it works: precompute the running sum of weights 1/1^s, 1/2^s, … 1/n^s (the CDF, not
// normalised). To sample, draw x uniform in [0, total) and find the first rank whose
// cumulative weight reaches x — `partition_point` is a binary search, so O(log n) per
// sample after O(n) setup. Rank k is chosen with probability (1/k^s) / total, exactly.
// Why not the `rand_distr::Zipf` crate: it is a fine choice; this is twelve lines the
// lesson can show, with no extra dependency, and the test below checks its shape.
// Where misses come from, which is what skew really changes. Every key's first read is a
// miss (a *cold* miss); after that it hits until it is evicted (a write) or expires (TTL).
// In this experiment Redis has room for everything, so over a long run *both* uniform and
// skewed loads approach 100 % — the difference is how fast. A uniform load over 200 books
// reads all 200 within the first second or two and pays its 200 cold misses up front; a
// Zipf load reads the head at once and the tail only occasionally, so its cold misses
// trickle in for the whole run while the head already hits. The screens show the
// consequence: with skew the hit rate is high *early*, and a single invalidation costs a
// dip only as big as that key's share of the traffic. In production, where the cache is
// smaller than the catalogue, skew decides the steady state too: the head fits, the tail
// keeps missing.
/// Ranks 1..=n chosen ∝ 1/k^s, sampled by binary search in the cumulative weights.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    // `n.max(1)` so an empty catalogue still yields a valid (one-rank) distribution; the
    // caller refuses an empty catalogue earlier anyway.
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

    // `.min(len - 1)` guards the floating-point edge where x rounds to the total itself.
    /// A 0-based rank: 0 is the most popular.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cdf.last().unwrap_or(&1.0);
        let x = rng.random::<f64>() * total;
        self.cdf.partition_point(|c| *c < x).min(self.cdf.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the sampler is skewed the right way round (rank 0 most popular) and strongly:
    // with s = 1.1 the true ratio of rank 1 to rank 100 is 100^1.1 ≈ 158, so a threshold of
    // 10× over 20,000 draws cannot fail by chance, yet would fail for a uniform or reversed
    // sampler.
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
}
