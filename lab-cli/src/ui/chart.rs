//! What the race chart and the dashboard charts share: axes whose bounds follow the data.
//!
//! A `Chart` clips everything outside its axis bounds, so fixed bounds either cut the line
//! off (a faster machine) or squash it into the bottom row (a slower one). Each frame
//! therefore sets the upper bound from the data it draws, rounded *up* to 1, 2 or 5 × a
//! power of ten: the labels stay short round numbers (`2000`, not `1873.4`), and the peak
//! sits at 40–100 % of the height instead of touching the top edge.
//!
//! ❌ DON'T start a rate's y axis anywhere but 0: a line going from 950/s to 1000/s would
//! fill the whole height and look like a doubling.

use ratatui::{style::Style, text::Line, widgets::Axis};

/// The smallest 1, 2 or 5 × 10ⁿ that is ≥ `v` (1 for nothing to show).
pub fn nice_ceil(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    // 730 → magnitude 100 → candidates 100, 200, 500, 1000 → 1000. `10.0` closes the list so
    // a value just under the next power (9.9) finds a bound.
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|c| *c >= v).unwrap_or(v)
}

// Three labels (low, middle, high): at 80 columns an axis has room for little more, and
// the middle one is what lets the eye read a point's value without counting rows.
/// An axis from `low` to `high` titled `title`, its labels formatted by `fmt`.
pub fn axis(title: &str, low: f64, high: f64, fmt: impl Fn(f64) -> String) -> Axis<'static> {
    Axis::default()
        .title(title.to_string())
        .bounds([low, high])
        .labels([fmt(low), fmt((low + high) / 2.0), fmt(high)].map(Line::from))
        // Grey: the axes frame the lines, they are not data; the lines keep the colour.
        .style(Style::new().dark_gray())
}

/// `1500.0` → `1500`, `1.5` → `1.5`: whole numbers without a decimal point.
pub fn short(v: f64) -> String {
    // One decimal is all a label at this width can carry; the bounds are round numbers, so
    // only a middle label of a small bound (0.05 s) ever needs it.
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the rounding the labels rely on, at a bound (2000 stays 2000), just above one
    // (2001 → 5000) and below 1 (0.03 → 0.05), plus the empty case.
    /// Bounds round up to 1, 2 or 5 × 10ⁿ.
    #[test]
    fn bounds_round_up_to_short_numbers() {
        assert_eq!(nice_ceil(2000.0), 2000.0);
        assert_eq!(nice_ceil(2001.0), 5000.0);
        assert_eq!(nice_ceil(730.0), 1000.0);
        assert!((nice_ceil(0.03) - 0.05).abs() < 1e-12);
        assert_eq!(nice_ceil(0.0), 1.0);
    }
}
