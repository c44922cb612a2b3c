//! The event loop: pulldown-cmark's events in, the page's rows out (see the parent
//! module's "events in, rows out"); blocks, lists, quotes and headings are laid out here,
//! code blocks in `code` and tables in `table`.

use pulldown_cmark::{Event, HeadingLevel, Tag, TagEnd};
use ratatui::{
    style::{Color, Modifier, Style},
    text::{Line, Span},
};

use super::{CODE, DIM, Piece, plain, str_width, table::Table, tint, wrap::wrap};

// Why a stack of margins rather than an indent number: a quote's bar, a bullet and the
// spaces under a bullet are different strings, and nesting mixes them in any order (a list
// in a quote, a quote in a list). Each container pushes its own and pops it at its end.
/// A container's contribution to the left margin: what its first row shows (a bullet)
/// and what every later row shows (as many spaces, so wrapped text hangs under the text).
#[derive(Clone, Debug)]
// Invariant: `first` and `rest` are equally wide (the item pads with the marker's own
// width, a quote uses its bar for both). `text_width` sums `rest` only, so a wider bullet
// would push its first row one column past the window.
struct Margin {
    /// What the container's first row shows: a bullet, a number, a quote's bar.
    first: Span<'static>,
    /// What every later row shows in the same place, as wide as `first`.
    rest: Span<'static>,
    /// Set once the first row is emitted: the bullet shows once per item, not per row.
    used: bool,
}

/// The state of one layout pass: one lesson's events at one width, turned into rows.
///
/// Each field is state some open construct leaves behind until its `End` event; nothing
/// here survives past the document, which is why `render` builds a fresh one each time
/// (and why caching a `Writer` would buy nothing).
#[derive(Default)]
pub(super) struct Writer {
    /// The window's text width; containers take their margins out of it.
    width: usize,
    /// The rows emitted so far; `lines.len()` is the row the next emit lands on.
    pub(super) lines: Vec<Line<'static>>,
    /// What becomes [`super::Doc::headings`]: each heading's row, recorded before it is drawn.
    pub(super) headings: Vec<(usize, String)>,
    /// Inline content of the block being read (paragraph, heading, tight list item, cell).
    inline: Vec<Piece>,
    /// Bold / italic / link styles currently open, combined for new text.
    styles: Vec<Style>,
    /// The open containers' margins, outermost first: the order they are drawn in.
    margins: Vec<Margin>,
    /// For each open list: the next number (ordered) or `None` (bullets).
    lists: Vec<Option<u64>>,
    /// Set while inside a heading: its level decides the style at `End(Heading)`.
    heading: Option<HeadingLevel>,
    /// Set while inside a code block: text is collected verbatim, never wrapped.
    pub(super) code: Option<String>,
    /// Set while inside a table: text goes to the current cell instead of `inline`.
    table: Option<Table>,
    /// A blank row is owed before the next block (blocks are separated by one).
    blank: bool,
    /// The last block was a `📄 path#marker` header: its excerpt follows without a gap.
    pub(super) header: bool,
    /// Which command block to highlight (0-based, document order), if any.
    pub(super) selected: Option<usize>,
    /// The label row of each `bash` block seen so far: entry `k` is "命令 k+1". Becomes
    /// `Doc::commands`, the rows Tab scrolls to, so its order must be `blocks::commands`'.
    pub(super) commands: Vec<usize>,
    /// How the open code block's rows are drawn (commands and outputs differ from code).
    pub(super) code_style: Style,
    /// The open code block is a run's output: its first row is the status line.
    pub(super) output: bool,
}

impl Writer {
    /// A fresh writer for a page `width` columns wide, command `selected` highlighted.
    pub(super) fn new(width: usize, selected: Option<usize>) -> Self {
        Self { width, selected, ..Self::default() }
    }

    /// Feeds one parser event; events must arrive in document order, as the parser yields
    /// them, because every open construct's state waits here for its `End`.
    // One arm per event kind; the `_` arm swallows the kinds the lessons cannot produce with
    // only tables enabled (footnotes, task markers, math) — ignoring them is the honest
    // rendering of "not part of our Markdown".
    pub(super) fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            // Inside a code block the text is kept as one string with its newlines, styles
            // ignored: its rows are cut at `End(CodeBlock)`, one style for the whole block.
            Event::Text(t) => match &mut self.code {
                Some(code) => code.push_str(&t),
                None => self.push_text(&t, self.inline_style()),
            },
            // Patched over the open styles, so inline code inside bold is bold *and* cyan.
            Event::Code(t) => self.push_text(&t, self.inline_style().patch(CODE)),
            Event::SoftBreak => self.inline.push(Piece::Soft),
            // A hard break (`\` or two spaces at a line's end) ends the row here: what came
            // before is laid out now, the rest starts a new row under the same margins.
            Event::HardBreak => {
                self.flush();
            }
            // Raw HTML is shown as written: lessons have none, and hiding it would hide a mistake.
            Event::Html(t) | Event::InlineHtml(t) => self.push_text(&t, DIM),
            Event::Rule => {
                self.open_block(true);
                // At most 40 columns: a rule across a 200-column window reads as a frame border.
                self.emit(vec![Span::styled("─".repeat(self.text_width().min(40)), DIM)]);
                self.blank = true;
            }
            _ => {}
        }
    }

    /// The style for new inline text: every open emphasis and link style, combined.
    // Nested styles combine (`**bold _and italic_**`): each open tag patches the ones below.
    fn inline_style(&self) -> Style {
        self.styles.iter().fold(Style::new(), |acc, s| acc.patch(*s))
    }

    /// Adds styled text to whatever is being collected: the open table cell or the block.
    // Inside a table, text belongs to the last cell of the last row (pulldown-cmark emits
    // only inline events in cells); everywhere else to the pending block.
    fn push_text(&mut self, text: &str, style: Style) {
        match self.table.as_mut().and_then(|t| t.rows.last_mut()).and_then(|r| r.last_mut()) {
            Some(cell) => cell.push(Piece::Text(text.to_string(), style)),
            None => self.inline.push(Piece::Text(text.to_string(), style)),
        }
    }

    /// A construct opens: blocks lay out what is pending first, then push their state.
    // Block starts first settle what came before (`open_block`), then push their state.
    // Every push here has its pop in `end`; an unbalanced pair would leak a margin or a
    // style into everything after it, down to the page's last row.
    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open_block(true),
            Tag::Heading { level, .. } => {
                self.open_block(true);
                self.heading = Some(level);
            }
            // A quote is a margin (the bar on every row) plus a style (grey italic) for all text
            // inside; both are popped at its end, whatever it contained.
            Tag::BlockQuote(_) => {
                self.open_block(true);
                // `▍`, not `│`: against the frame's own `│` border a second thin bar read as a
                // double border.
                let bar = Span::styled("▍ ", DIM);
                self.margins.push(Margin { first: bar.clone(), rest: bar, used: false });
                self.styles.push(Style::new().fg(Color::Gray).add_modifier(Modifier::ITALIC));
            }
            Tag::CodeBlock(kind) => self.start_code_block(&kind),
            Tag::List(start) => {
                // A nested list starts right under its item's text, without a blank row.
                self.open_block(self.lists.is_empty());
                // `start` is the first number as written (`3.` → 3), so a numbered list that
                // resumes after a paragraph keeps counting where the author did.
                self.lists.push(start);
            }
            Tag::Item => self.start_item(),
            // From here to `End(Table)` text is routed into cells (`push_text`), so nothing of the
            // table reaches `inline` and no stray row can appear above the border.
            Tag::Table(alignments) => {
                self.open_block(true);
                self.table = Some(Table { alignments, ..Table::default() });
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(row) = self.table.as_mut().and_then(|t| t.rows.last_mut()) {
                    row.push(Vec::new());
                }
            }
            // Emphasis is a modifier, never a replaced colour, so a bold word in a red ❌ line
            // stays red and a bold word in a quote stays grey.
            Tag::Strong => self.styles.push(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Emphasis => self.styles.push(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strikethrough => {
                self.styles.push(Style::new().add_modifier(Modifier::CROSSED_OUT))
            }
            Tag::Link { .. } => self.styles.push(Style::new().add_modifier(Modifier::UNDERLINED)),
            _ => {}
        }
    }

    /// A construct closes: the mirror of `start`, popping what it pushed.
    // Block ends lay out (flush) and owe a blank row; inline ends only pop a style.
    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.blank = true;
            }
            TagEnd::Heading(_) => self.end_heading(),
            // Anything still pending is laid out before the pop, inside the bar; the pops are
            // balanced because `Start(BlockQuote)` pushed exactly one margin and one style.
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.margins.pop();
                self.styles.pop();
                self.blank = true;
            }
            // The block's text arrives in pieces (one `Text` per source line, sometimes more);
            // it is laid out once, whole, when the fence closes.
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.code_lines(&code);
                self.blank = true;
            }
            // Only the outermost list owes a blank row: a nested list ending inside an item is
            // followed by the next item, which must not drift away from its siblings.
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.blank = self.lists.is_empty();
            }
            // A tight item's text arrives without a paragraph around it: this flush lays it out
            // while the item's margin is still on the stack, so it gets the bullet.
            TagEnd::Item => {
                self.flush();
                self.margins.pop();
            }
            // Counted when the head closes, so the rows pushed so far are exactly the head's.
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_lines(&t);
                }
                self.blank = true;
            }
            TagEnd::Strong | TagEnd::Emphasis | TagEnd::Strikethrough | TagEnd::Link => {
                self.styles.pop();
            }
            _ => {}
        }
    }

    // The marker is measured, not assumed: `10. ` is one column wider than `9. `, and
    // the continuation rows of item 10 must hang under its text, not under item 9's.
    /// Opens a list item: pushes its margin, the bullet or number on its first row.
    fn start_item(&mut self) {
        // No blank row between items: in a loose list each item's text is a paragraph, and
        // its `Start(Paragraph)` owes the blank row itself.
        self.open_block(false);
        let marker = match self.lists.last_mut() {
            Some(Some(n)) => {
                let k = *n;
                *n += 1;
                format!("{k}. ")
            }
            _ => "• ".to_string(),
        };
        let pad = " ".repeat(str_width(&marker));
        self.margins.push(Margin { first: Span::raw(marker), rest: Span::raw(pad), used: false });
    }

    // The heading's style is applied to every piece (inline code in a heading keeps its
    // colour, `patch`) and its row recorded *before* it is emitted — the row it lands on
    // is what `[`/`]` jump to.
    /// Closes a heading: styles and prefixes its text, records its row, lays it out.
    fn end_heading(&mut self) {
        // `heading` is set by every `Start(Heading)`; H3 is only the fallback style for an
        // end without its start, which the parser does not produce.
        let level = self.heading.take().unwrap_or(HeadingLevel::H3);
        let title = plain(&self.inline);
        let (prefix, style) = match level {
            HeadingLevel::H1 => (
                "",
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ),
            HeadingLevel::H2 => ("■ ", Style::new().fg(Color::Yellow).bold()),
            _ => ("▸ ", Style::new().bold()),
        };
        self.headings.push((self.lines.len(), title));
        let pieces = std::mem::take(&mut self.inline);
        let mut with_prefix = vec![Piece::Text(prefix.into(), style)];
        with_prefix.extend(pieces.into_iter().map(|p| match p {
            Piece::Text(t, s) => Piece::Text(t, style.patch(s)),
            soft => soft,
        }));
        self.inline = with_prefix;
        self.flush();
        self.blank = true;
    }

    /// Before a block: lay out what is pending, then the owed blank row (if `spaced`).
    pub(super) fn open_block(&mut self, spaced: bool) {
        self.flush();
        // Never a blank first row: a page that opened on an empty row would look scrolled.
        if spaced && self.blank && !self.lines.is_empty() {
            self.lines.push(Line::default());
        }
        self.blank = false;
        self.header = false;
    }

    /// The columns left for text inside the current margins.
    pub(super) fn text_width(&self) -> usize {
        let margin: usize = self.margins.iter().map(|m| m.rest.width()).sum();
        // Four columns at least: a list in a quote in a list in a narrow window could leave
        // zero, and at width 0 no character fits, so every one would get a row of its own.
        self.width.saturating_sub(margin).max(4)
    }

    // Every row of the document goes through here, so margins cannot be forgotten by any
    // block type: code rows inside a list item are indented like its text, table rows inside
    // a quote carry the bar.
    /// Pushes one row with the current margins in front (each margin's bullet only once).
    pub(super) fn emit(&mut self, body: Vec<Span<'static>>) {
        let mut spans = Vec::with_capacity(body.len() + self.margins.len());
        for m in &mut self.margins {
            spans.push(if m.used { m.rest.clone() } else { m.first.clone() });
            m.used = true;
        }
        spans.extend(body);
        self.lines.push(Line::from(spans));
    }

    /// Lays out the pending inline content as wrapped rows.
    ///
    /// The rows go out under the margins open *now*, so every container flushes before it
    /// pops its margin (see `end`); a flush after the pop would draw an item's text
    /// without its bullet, at the outer level.
    pub(super) fn flush(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        // Tinted before wrapping: the marker that decides the colour (❌/✅/📄) is at the
        // paragraph's start, and every row the paragraph wraps into must carry it.
        let mut pieces = std::mem::take(&mut self.inline);
        // Remembered for the next block only (`open_block` resets it): the excerpt under a
        // `📄` line opens without a blank row, so pointer and code read as one unit.
        self.header = plain(&pieces).starts_with('📄');
        tint(&mut pieces);
        for row in wrap(&pieces, self.text_width()) {
            self.emit(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{render, text};

    // Proves hanging indentation: every wrapped row of an item starts under the item's text.
    /// A wrapped list item continues under its text, not under its bullet.
    #[test]
    fn list_items_hang_when_wrapped() {
        let md = "- 先检查所有商品都够，再扣减——要么全成，要么全不动；\n- 短\n";
        let rows = text(&render(md, 16));
        assert!(rows[0].starts_with("• 先"), "{rows:?}");
        // Exactly two spaces, the bullet's display width: a pad sized by the bullet's byte
        // length (`•` is three bytes) would indent the continuation by four.
        assert!(rows[1].starts_with("  ") && !rows[1].starts_with("   "), "{rows:?}");
        assert!(rows.iter().any(|r| r == "• 短"), "{rows:?}");
    }
}
