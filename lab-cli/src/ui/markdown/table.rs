//! Tables: collected whole, columns fitted to the window by display width, cells wrapped.

use pulldown_cmark::Alignment;
use ratatui::text::Span;

use super::{DIM, Piece, plain, str_width, tint, wrap::wrap, writer::Writer};

/// A table being read: its cells collected unwrapped until `End(Table)` lays it out.
///
/// A table cannot be laid out row by row: a column's width depends on every cell in it,
/// the last row's included. So cells are collected whole (rows × cells × pieces) and laid
/// out at `End(Table)`.
#[derive(Default)]
pub(super) struct Table {
    /// From the delimiter row (`|:---:|` centres); `None` reads as left.
    pub(super) alignments: Vec<Alignment>,
    /// Head and body rows in order; each cell's inline pieces, unwrapped.
    pub(super) rows: Vec<Vec<Vec<Piece>>>,
    /// How many of `rows` are the header (GFM allows exactly one; counted, not assumed).
    pub(super) head_rows: usize,
}

/// A laid-out cell: its wrapped rows, each a row of spans.
type Cell = Vec<Vec<Span<'static>>>;

impl Writer {
    // Three passes: measure every cell's natural width, fit the column widths into the
    // window (`fit_columns`), then wrap each cell into its column with the same `wrap` as
    // paragraphs and pad each row of each cell by display width. Padding by `chars().count()`
    // instead is the classic bug this replaces: `库存` is 2 chars but 4 columns, and every
    // Chinese cell pushed its border two columns per character out of line.
    /// A table with box borders; columns sized by display width, cells wrapped inside.
    pub(super) fn table_lines(&mut self, t: &Table) {
        // Columns from the widest row, so every cell the parser gave has a column however
        // ragged the table; no cells at all draws nothing, not a border of zero columns.
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if cols == 0 {
            return;
        }
        let natural = natural_widths(t, cols);
        // Each column costs its text plus one space either side plus one border, and the row
        // one more border: three columns in 80 leave 70 for text.
        let available = self.text_width().saturating_sub(3 * cols + 1);
        let widths = fit_columns(&natural, available);
        // `w + 2`: the padding space on either side of a cell's text, so each `┬`/`┼`/`┴`
        // sits exactly above or below a `│` of the rows.
        let border = |l: &str, m: &str, r: &str| {
            let inner: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            vec![Span::styled(format!("{l}{}{r}", inner.join(m)), DIM)]
        };
        let laid = lay_out_cells(t, cols, &widths);
        // Tables whose rows are all one line tall read fine without dividers (and are shorter);
        // as soon as one body row wraps, every body row gets one so each row's extent is clear.
        let any_wraps = laid.iter().skip(t.head_rows).any(|r| r.iter().any(|c| c.len() > 1));
        self.emit(border("┌", "┬", "┐"));
        for (i, row) in laid.iter().enumerate() {
            if i > 0 && (i == t.head_rows || (i > t.head_rows && any_wraps)) {
                self.emit(border("├", "┼", "┤"));
            }
            self.table_row(row, &widths, &t.alignments);
        }
        self.emit(border("└", "┴", "┘"));
    }

    // A row is as tall as its tallest cell; shorter cells are padded with blank rows, so
    // every border stays in its column down the whole row.
    /// Emits one table row: as many screen rows as its tallest cell, each cell padded.
    ///
    /// `row` has one cell per entry of `widths`, which `lay_out_cells` guarantees; a
    /// column with no entry in `alignments` is drawn left-aligned.
    fn table_row(&mut self, row: &[Cell], widths: &[usize], alignments: &[Alignment]) {
        let height = row.iter().map(Vec::len).max().unwrap_or(1).max(1);
        for k in 0..height {
            let mut spans = vec![Span::styled("│", DIM)];
            for (c, cell) in row.iter().enumerate() {
                let content = cell.get(k).cloned().unwrap_or_default();
                let used: usize = content.iter().map(Span::width).sum();
                let gap = widths[c].saturating_sub(used);
                // The gap is in display columns (a cell with `✅` is 2 wide), split per the
                // delimiter row's alignment; one space of padding either side.
                let (left, right) = match alignments.get(c) {
                    Some(Alignment::Right) => (gap, 0),
                    Some(Alignment::Center) => (gap / 2, gap - gap / 2),
                    _ => (0, gap),
                };
                spans.push(Span::raw(" ".repeat(left + 1)));
                spans.extend(content);
                spans.push(Span::raw(" ".repeat(right + 1)));
                spans.push(Span::styled("│", DIM));
            }
            self.emit(spans);
        }
    }
}

/// Each column's natural width: its widest cell, in display columns, unwrapped.
// Header cells are measured before they are bolded, which is safe only because bold does
// not change a character's width in a terminal cell grid.
fn natural_widths(t: &Table, cols: usize) -> Vec<usize> {
    (0..cols)
        .map(|c| {
            t.rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|p| str_width(&plain(p)))
                .max()
                .unwrap_or(0)
                // An empty column still gets one column, so it draws as `│   │` and not
                // as two borders run together.
                .max(1)
        })
        .collect()
}

/// Every cell wrapped into its column's width: rows × columns × wrapped rows.
///
/// Guarantees `table_row` relies on: every row has exactly `cols` cells (missing ones
/// empty), and no wrapped row of a cell is wider than `widths[c]` (`wrap` cuts an
/// over-long word by characters). When the floor of 4 in `fit_columns` keeps the columns
/// wider than the window, the whole table overflows, never one cell past its border.
fn lay_out_cells(t: &Table, cols: usize, widths: &[usize]) -> Vec<Vec<Cell>> {
    t.rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            (0..cols)
                .map(|c| {
                    // A row with fewer cells than the widest gets empty ones, so its borders
                    // still line up with the columns above and below it.
                    let empty = Vec::new();
                    let cell = row.get(c).unwrap_or(&empty);
                    // Header cells are bolded *before* wrapping, so the bold text is
                    // measured and wrapped like any other (bold does not change width).
                    let mut pieces: Vec<Piece> = if i < t.head_rows {
                        cell.iter()
                            .map(|p| match p {
                                Piece::Text(s, st) => Piece::Text(s.clone(), st.bold()),
                                soft => soft.clone(),
                            })
                            .collect()
                    } else {
                        cell.clone()
                    };
                    tint(&mut pieces);
                    wrap(&pieces, widths[c])
                })
                .collect()
        })
        .collect()
}

// Greedy and simple on purpose: a real layout engine (CSS's auto tables) also considers
// the longest unbreakable word of each column, but Chinese text breaks between any two
// characters, so in our tables nearly every column can shrink gracefully. The floor of 4
// keeps a column readable when the window is very narrow; the table then overflows rather
// than showing columns of one character each.
/// Column widths that fit `available`: the natural widths if they fit, else the widest
/// column is narrowed first, again and again — short columns (`naive`, `✅`) keep their
/// width and the long prose columns share what is left.
// One column at a time, one column per step: at most (sum − available) steps, a few
// hundred for the widest lesson table, laid out once per frame without a measurable cost.
fn fit_columns(natural: &[usize], available: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    let floor = 4;
    while widths.iter().sum::<usize>() > available {
        // Of equally wide columns `max_by_key` picks the last, so the rightmost gives first —
        // a fixed order, so a table lays out the same on every frame.
        let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|(_, w)| *w) else {
            break;
        };
        if w <= floor {
            break;
        }
        widths[i] = w - 1;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::super::{render, str_width, text};

    // Proves the table contract: borders instead of `|---|`, every row exactly as wide as the
    // border (CJK counted as two), and wrapped cells when the natural width does not fit.
    // The equal-width assertion is the one that catches padding by `chars().count()`: the
    // Chinese cells' rows would come out wider than the border.
    /// Tables are boxed and aligned by display width, wrapping cells to fit.
    #[test]
    fn tables_align_by_display_width() {
        let md = "| 策略 | 代价 |\n|---|---|\n| naive | 所有买家在一把行锁上排队，每次持锁跨三次网络往返 |\n| Lua | 一次往返 |\n";
        let rows = text(&render(md, 30));
        assert!(rows.iter().all(|r| !r.contains("---")), "{rows:?}");
        assert!(rows[0].starts_with('┌') && rows.last().unwrap().starts_with('└'), "{rows:?}");
        let w = str_width(&rows[0]);
        assert!(w <= 30);
        assert!(rows.iter().all(|r| str_width(r) == w), "{rows:?}");
    }
}
