//! Text tables for a terminal: cells padded to display columns, not to characters.
//!
//! `format!("{:<10}", "组件")` pads to ten *chars*, but a terminal draws each CJK char two
//! columns wide: the cell fills 12 columns and everything right of it shifts. Every plain
//! table (`status`, the `--no-tui` dashboard, the lesson list) goes through [`row`], so a
//! header and its rows are laid out by one column list and cannot drift apart.
//!
//! - ✅ DO measure with `unicode-width`, the crate ratatui measures with, so a plain table
//!   and the TUI agree on how wide 库存 is.
//! - ❌ DON'T correct each format string by hand (`{:<width$}` with `width = 10 - extra`):
//!   every new CJK label needs its own arithmetic, and the first one forgotten drifts.
//! - The honest limit: "ambiguous" characters (✔, ✘, ·) count one column here, as in most
//!   terminals; a terminal set to draw them two columns wide (some CJK locales) shifts
//!   the rows that hold them by one, as it shifts the TUI's.

use unicode_width::UnicodeWidthStr;

// printf's convention (`%-10s` left, `%10s` right) rather than a struct per column: a
// table's layout then reads as one line of numbers, header and rows sharing it.
/// `cells` padded to `widths` (terminal columns) and joined by one space: a negative
/// width left-aligns the cell (text), a positive one right-aligns it (numbers).
///
/// A cell longer than its width is printed whole and shifts the rest of its row (like
/// `{:<N}`): a cut address or pid would mislead whoever copies it. Cells and widths pair
/// up in order; extra ones on either side are a caller's slip and are left out.
pub fn row(widths: &[isize], cells: &[&str]) -> String {
    let padded: Vec<String> = widths
        .iter()
        .zip(cells)
        .map(|(w, text)| {
            // `width()` is what the terminal draws (unicode-width, the measure ratatui uses),
            // so 组件 counts 4 and gets 6 spaces in a column of 10, not 8.
            let fill = " ".repeat(w.unsigned_abs().saturating_sub(text.width()));
            if *w > 0 { format!("{fill}{text}") } else { format!("{text}{fill}") }
        })
        .collect();
    padded.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the alignment on the cells that broke `{:<N}`: CJK words, the ✔ mark and
    // ASCII side by side. Each row's second and third cells must start at the same display
    // column as the header's; padding by chars put 组件's row two columns off per char.
    /// Mixed Chinese and ASCII cells line up by terminal columns.
    #[test]
    fn cells_line_up_by_display_width() {
        let cols = [-10, 8, -4];
        let rows =
            [row(&cols, &["组件", "错误率", "详情"]), row(&cols, &["catalog", "0.4%", "ok"])];
        // The display column where each row's last cell starts: the width of the text up
        // to it must be the same in every row.
        let start = |r: &str, cell: &str| r.find(cell).map(|i| r[..i].width());
        assert_eq!([start(&rows[0], "详情"), start(&rows[1], "ok")], [Some(20); 2], "{rows:#?}");
        assert_eq!(rows[0], "组件         错误率 详情");
        // A cell longer than its column is kept whole, as `{:<N}` would keep it.
        assert_eq!(row(&[-2], &["地址很长"]), "地址很长");
    }
}
