//! The call chain of one CreateOrder, rebuilt from the `server-timing` header order-service
//! sends back, for the chain view's bars.

// Milliseconds as `f64` because that is what the header carries (`dur=0.81`): a step of
// 80 µs is real (a cached GetBook), and rounding it to whole milliseconds would draw the
// token check and the lookups as zero-length bars.
/// One step of a CreateOrder's call chain, placed on a time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainStep {
    /// The step's name in the header (`ValidateToken`, `GetBook-<id>`, `claim`, …).
    pub name: String,
    /// Milliseconds after the request started (parallel steps share a start).
    pub start_ms: f64,
    /// The step's own duration, as the service measured it (the header's `dur`).
    pub dur_ms: f64,
}

impl ChainStep {
    /// ValidateToken and the GetBooks: the steps create.rs runs side by side.
    ///
    /// By name, because the header carries no start times (see [`parse_chain`]); a new
    /// parallel step in create.rs needs its name added here.
    pub fn parallel(&self) -> bool {
        self.name == "ValidateToken" || self.name.starts_with("GetBook")
    }

    // Relative on purpose: absolute milliseconds move with the machine's load, the *shape*
    // (which steps overlap, which one dominates) is what the lesson is about. At least one
    // column, so a 0.05 ms step still shows.
    /// The bar's first column and width on an axis `axis` columns wide spanning `total` ms.
    pub fn bar(&self, total: f64, axis: usize) -> (usize, usize) {
        let col = |ms: f64| ((ms / total.max(1e-6)) * axis as f64).round() as usize;
        // `start` stays below `axis`, so `axis - start >= 1` and the clamp's bounds are in
        // order (`clamp` panics when min > max) — which is also what lets the renderer pad
        // with `AXIS - start - len` without underflow.
        let start = col(self.start_ms).min(axis.saturating_sub(1));
        (start, col(self.dur_ms).clamp(1, axis - start))
    }
}

// Why the start times can be reconstructed from durations alone: create.rs runs the token
// check and every GetBook together (`tokio::join!`), and everything after them strictly in
// sequence. So the lookups all start at 0, `claim` starts when the slowest lookup ended,
// and each later step starts where the previous one ended. If the service ever changed
// that shape, this function (not the header) would be what lies — the unit test below
// pins the shape next to the header format it reads.
/// Parses a `server-timing` value (`ValidateToken;dur=0.81, GetBook-7;dur=1.10, …`) into
/// steps on a time axis: ValidateToken and the GetBooks side by side, the rest in a row.
pub fn parse_chain(header: &str) -> Vec<ChainStep> {
    let mut steps = Vec::new();
    let mut lookups_end: f64 = 0.0;
    let mut cursor: Option<f64> = None;
    for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, dur) = match part.split_once(";dur=") {
            Some((n, d)) => (n.trim(), d.trim().parse::<f64>().unwrap_or(0.0)),
            None => (part, 0.0),
        };
        // A part without `;dur=` keeps its place with zero length: the chain's order is
        // the service's, and a malformed entry must not shift the later steps.
        let parallel = ChainStep { name: name.to_string(), start_ms: 0.0, dur_ms: dur }.parallel();
        let start = if parallel {
            // The lookups overlap, so the chain moves on when the slowest one ends.
            lookups_end = lookups_end.max(dur);
            0.0
        } else {
            let s = cursor.unwrap_or(lookups_end);
            cursor = Some(s + dur);
            s
        };
        steps.push(ChainStep { name: name.to_string(), start_ms: start, dur_ms: dur });
    }
    steps
}

/// The end of the chain (ms): what the request cost the service, end to end.
///
/// The handler's steps only, as the service timed them: the network and the client's
/// own overhead are not in it.
pub fn chain_total(steps: &[ChainStep]) -> f64 {
    steps.iter().map(|s| s.start_ms + s.dur_ms).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ended, and the rest follow one another.
    /// Parallel lookups start at 0; the later steps are laid end to end.
    ///
    /// It fails if `claim` starts at the first lookup's end instead of the slowest's
    /// (ValidateToken 0.81 < GetBook 1.10), or if a sequential step is drawn from 0.
    #[test]
    fn chain_puts_lookups_side_by_side_and_the_rest_in_a_row() {
        let s = parse_chain(
            "ValidateToken;dur=0.81, GetBook-7;dur=1.10, claim;dur=0.50, LockStock;dur=0.40, commit;dur=2.00",
        );
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["ValidateToken", "GetBook-7", "claim", "LockStock", "commit"]);
        assert_eq!((s[0].start_ms, s[1].start_ms), (0.0, 0.0));
        assert_eq!(s[2].start_ms, 1.10);
        assert!((s[4].start_ms - 2.0).abs() < 1e-9);
        assert!((chain_total(&s) - 4.0).abs() < 1e-9);
        assert!(parse_chain("").is_empty());
    }
}
