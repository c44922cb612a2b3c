//! Lessons as a terminal page: CommonMark parsed by pulldown-cmark, laid out here for a
//! given width.
//!
//! The parser is a crate (pulldown-cmark, already in the build through prost's docs, so it
//! costs no new download); the layout is ours, because what a lesson needs from it is
//! about the terminal, not about Markdown:
//! - paragraphs are **reflowed** to the window: the source is hard-wrapped at ~95 columns,
//!   and a line break in the source is a space in English but nothing between two Chinese
//!   characters (`整体。⏎课程` must not become `整体。 课程`);
//! - widths are **display columns** (unicode-width, the table ratatui places cells by): a
//!   CJK character takes two, so `库存` is 4 columns, not 2 chars or 6 bytes;
//! - list items hang: a wrapped item continues under its text, not under its bullet;
//! - tables get box borders and columns sized by display width; cells wrap inside them;
//! - inline code and bold are *styles*, so no `**` or backtick is ever deleted from the
//!   text — code spans and code blocks show exactly what the source has;
//! - code blocks keep their lines (no reflow); a line wider than the window is folded at
//!   the edge, and the folded rest starts with a dim `↪` so it cannot pass for a new line;
//! - the page remembers where each heading landed, for section jumps (`[` / `]`), and
//!   where each command block (```` ```bash ````) starts, for Tab; a command block gets a
//!   label row above it (`▷ 命令 2`) and nothing beside its lines, so a terminal selection
//!   of the command copies the command and nothing else;
//! - a ```` ```lab-output ```` block (the output of a run, inserted by `ui::lesson`) is
//!   drawn dim, with its first line (the exit status) in green or red.
//!
//! Why not tui-markdown (checked, 0.3.13): it targets ratatui-core 0.1, so it would fit
//! ratatui 0.30, and its tables are good — but it returns one `Line` per paragraph and
//! leaves wrapping to `Paragraph`: list items would wrap back to column 0, every source
//! line break between Chinese characters would become a space, and the renderer would not
//! know where headings land after wrapping, which section jumps and a clamped scroll need.
//! Wrapping here means those all come from one layout pass.
//!
//! The course's own conventions keep their colours: a paragraph or item starting with ❌
//! is red, with ✅ green (the verdict reads even when skimmed), and the `📄 path#marker`
//! line above a quoted excerpt is dimmed — a pointer, not prose.
//!
//! ## How it works: events in, rows out
//!
//! pulldown-cmark does not build a tree; it yields a flat stream of events —
//! `Start(Paragraph)`, `Text("库存")`, `Start(Strong)`, `Text("超卖")`, `End(Strong)`, …,
//! `End(Paragraph)` — and a renderer is a state machine over that stream. [`Writer`] keeps
//! exactly the state the stream leaves open:
//!
//! ```text
//!   Start(Item) ──► push a Margin ("• " first, "  " after)      container state
//!   Start(Strong) ─► push a Style                                inline state
//!   Text(..) ──────► append a Piece to `inline`                  content
//!   End(Paragraph) ► flush: wrap `inline` to the width left       layout
//!                    after the margins, emit rows, owe a blank
//! ```
//!
//! Layout happens only at a block's end, when the whole paragraph is known: wrapping needs
//! the neighbours of each source line break (is it between two Chinese characters?) and
//! the width the margins leave. ✅ DO lay out whole blocks; ❌ DON'T emit rows while
//! reading text — a row emitted before the paragraph ends cannot be re-wrapped when the
//! next piece turns out to belong on it.
//!
//! The same shape explains the nesting: a list inside a quote inside a list is just three
//! margins on the stack, and every emitted row concatenates them (bullets once, padding
//! after), so no block type needs to know what contains it.
//!
//! ## What it does not do (honest shortcuts)
//!
//! - links show their text, underlined, but not their URL: the lessons link nowhere yet,
//!   and a URL in the middle of a reflowed Chinese sentence would break it badly;
//! - images, footnotes and task lists are not enabled, so their syntax shows as written;
//! - raw HTML is shown as text (dimmed) rather than interpreted;
//! - there is no syntax highlighting: all code is one colour. tui-markdown would bring
//!   syntect for that — megabytes of grammars for a colour the lesson does not need;
//! - a table wider than the window even at its narrowest columns overflows on the right
//!   instead of scrolling sideways.
//!
//! Cost: a lesson of ~400 lines (with its expanded excerpts) lays out in well under a
//! millisecond, so it is laid out on every frame and key press rather than cached in
//! `App` (the DON'T in `ui/mod.rs`: derived data in the state goes stale on resize).

use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::{
    style::{Color, Modifier, Style},
    text::{Line, Span},
};
use unicode_width::UnicodeWidthChar;

// Plain data, so the key handler (`App::lesson_key`) and the renderer (`ui::lesson`) can
// both call `render` and get the same rows; nothing here borrows the Markdown text.
/// A lesson laid out for one width.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    pub lines: Vec<Line<'static>>,
    /// Each heading's row in `lines` and its text, in order (for `[`/`]` and the footer).
    pub headings: Vec<(usize, String)>,
    /// The label row of each command block, in order (for Tab and scrolling to it).
    pub commands: Vec<usize>,
}

// Linear scans: a lesson has a dozen headings, and the keys ask once per press.
impl Doc {
    /// The heading whose section contains `row` (the last heading at or above it).
    pub fn section_at(&self, row: usize) -> Option<&str> {
        self.headings.iter().rev().find(|(r, _)| *r <= row).map(|(_, t)| t.as_str())
    }

    /// The row of the first heading below `row`, if any.
    pub fn next_heading(&self, row: usize) -> Option<usize> {
        self.headings.iter().map(|(r, _)| *r).find(|r| *r > row)
    }

    /// The row of the last heading above `row`, if any.
    pub fn previous_heading(&self, row: usize) -> Option<usize> {
        self.headings.iter().rev().map(|(r, _)| *r).find(|r| *r < row)
    }
}

// Code in cyan (inline and blocks alike) so quoted source stands apart from prose at a
// glance; decoration (borders, bars, the 📄 line) in dark grey, so it recedes behind the
// content it frames.
const CODE: Style = Style::new().fg(Color::Cyan);
const DIM: Style = Style::new().fg(Color::DarkGray);

/// Lays `markdown` out in rows of at most `width` display columns.
pub fn render(markdown: &str, width: u16) -> Doc {
    render_selected(markdown, width, None)
}

/// [`render`], with command block `selected` (0-based, in document order) highlighted.
pub fn render_selected(markdown: &str, width: u16, selected: Option<usize>) -> Doc {
    // Tables are the only extension the lessons use; the others (footnotes, task lists,
    // smart punctuation) would only turn ordinary characters into surprises.
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
    // A floor of 8 columns: below that nothing reads anyway, and every width computation
    // below may then subtract margins without reaching zero.
    let mut w = Writer { width: usize::from(width).max(8), selected, ..Writer::default() };
    for event in parser {
        w.event(event);
    }
    // A document may end inside a block (text without a closing blank line is still a
    // paragraph, but a truncated excerpt could leave inline content pending).
    w.flush();
    Doc { lines: w.lines, headings: w.headings, commands: w.commands }
}

// Inline content is kept as styled runs until the block ends, not as `Span`s, because the
// wrapper cuts runs into words and re-assembles them into rows; a `Span` would have to be
// split apart again.
/// One run of inline text with its style; `Soft` is a source line break, resolved to a
/// space or nothing when the paragraph is laid out (it depends on both neighbours).
#[derive(Clone, Debug)]
enum Piece {
    Text(String, Style),
    Soft,
}

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
    first: Span<'static>,
    rest: Span<'static>,
    /// Set once the first row is emitted: the bullet shows once per item, not per row.
    used: bool,
}

// A table cannot be laid out row by row: a column's width depends on every cell in it,
// the last row's included. So cells are collected whole (rows × cells × pieces) and laid
// out at `End(Table)`.
#[derive(Default)]
struct Table {
    /// From the delimiter row (`|:---:|` centres); `None` reads as left.
    alignments: Vec<Alignment>,
    rows: Vec<Vec<Vec<Piece>>>,
    /// How many of `rows` are the header (GFM allows exactly one; counted, not assumed).
    head_rows: usize,
}

// The event loop's state. Each field is state some open construct leaves behind until its
// `End` event; nothing here survives past the document, which is why `render` builds a
// fresh one each time (and why caching a `Writer` would buy nothing).
#[derive(Default)]
struct Writer {
    /// The window's text width; containers take their margins out of it.
    width: usize,
    lines: Vec<Line<'static>>,
    headings: Vec<(usize, String)>,
    /// Inline content of the block being read (paragraph, heading, tight list item, cell).
    inline: Vec<Piece>,
    /// Bold / italic / link styles currently open, combined for new text.
    styles: Vec<Style>,
    margins: Vec<Margin>,
    /// For each open list: the next number (ordered) or `None` (bullets).
    lists: Vec<Option<u64>>,
    /// Set while inside a heading: its level decides the style at `End(Heading)`.
    heading: Option<HeadingLevel>,
    /// Set while inside a code block: text is collected verbatim, never wrapped.
    code: Option<String>,
    /// Set while inside a table: text goes to the current cell instead of `inline`.
    table: Option<Table>,
    /// A blank row is owed before the next block (blocks are separated by one).
    blank: bool,
    /// The last block was a `📄 path#marker` header: its excerpt follows without a gap.
    header: bool,
    /// Which command block to highlight, and the label rows of those seen so far.
    selected: Option<usize>,
    commands: Vec<usize>,
    /// How the open code block's rows are drawn (commands and outputs differ from code).
    code_style: Style,
    /// The open code block is a run's output: its first row is the status line.
    output: bool,
}

impl Writer {
    // One arm per event kind; the `_` arm swallows the kinds the lessons cannot produce with
    // only tables enabled (footnotes, task markers, math) — ignoring them is the honest
    // rendering of "not part of our Markdown".
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => match &mut self.code {
                Some(code) => code.push_str(&t),
                None => self.push_text(&t, self.inline_style()),
            },
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

    // Nested styles combine (`**bold _and italic_**`): each open tag patches the ones below.
    fn inline_style(&self) -> Style {
        self.styles.iter().fold(Style::new(), |acc, s| acc.patch(*s))
    }

    // Inside a table, text belongs to the last cell of the last row (pulldown-cmark emits
    // only inline events in cells); everywhere else to the pending block.
    fn push_text(&mut self, text: &str, style: Style) {
        match self.table.as_mut().and_then(|t| t.rows.last_mut()).and_then(|r| r.last_mut()) {
            Some(cell) => cell.push(Piece::Text(text.to_string(), style)),
            None => self.inline.push(Piece::Text(text.to_string(), style)),
        }
    }

    // Block starts first settle what came before (`open_block`), then push their state.
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
            Tag::CodeBlock(kind) => {
                let info = match &kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
                    CodeBlockKind::Indented => "",
                };
                self.open_block(!self.header);
                self.code = Some(String::new());
                self.code_style = CODE;
                self.output = info == "lab-output";
                if self.output {
                    self.code_style = Style::new().fg(Color::Gray);
                }
                // The label is a row of its own, *above* the command: the selection mark never
                // shares a row with the command text (see the module doc on copying).
                // `info` is the first word, so `bash norun` is labelled too, as
                // `blocks::commands` counts it. ❌ DON'T compare the whole info string: a
                // `norun` block would lose its number while the keys still count it, and from
                // there on Enter would run the block after the one the learner selected.
                if info == "bash" {
                    let k = self.commands.len();
                    self.commands.push(self.lines.len());
                    let label = if self.selected == Some(k) {
                        self.code_style = CODE.add_modifier(Modifier::BOLD);
                        Span::styled(
                            format!("▶ 命令 {} · Enter 运行 · Tab 下一条", k + 1),
                            Style::new().fg(Color::Yellow).bold(),
                        )
                    } else {
                        Span::styled(format!("▷ 命令 {}", k + 1), DIM)
                    };
                    self.emit(vec![label]);
                }
            }
            Tag::List(start) => {
                // A nested list starts right under its item's text, without a blank row.
                self.open_block(self.lists.is_empty());
                self.lists.push(start);
            }
            // The marker is measured, not assumed: `10. ` is one column wider than `9. `, and
            // the continuation rows of item 10 must hang under its text, not under item 9's.
            Tag::Item => {
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
                self.margins.push(Margin {
                    first: Span::raw(marker),
                    rest: Span::raw(pad),
                    used: false,
                });
            }
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

    // Block ends lay out (flush) and owe a blank row; inline ends only pop a style.
    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.blank = true;
            }
            // The heading's style is applied to every piece (inline code in a heading keeps its
            // colour, `patch`) and its row recorded *before* it is emitted — the row it lands on
            // is what `[`/`]` jump to.
            TagEnd::Heading(_) => {
                let level = self.heading.take().unwrap_or(HeadingLevel::H3);
                let title = plain(&self.inline);
                let (prefix, style) = match level {
                    HeadingLevel::H1 => (
                        "",
                        Style::new()
                            .fg(Color::Yellow)
                            .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
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

    /// Before a block: lay out what is pending, then the owed blank row (if `spaced`).
    fn open_block(&mut self, spaced: bool) {
        self.flush();
        if spaced && self.blank && !self.lines.is_empty() {
            self.lines.push(Line::default());
        }
        self.blank = false;
        self.header = false;
    }

    /// The columns left for text inside the current margins.
    fn text_width(&self) -> usize {
        let margin: usize = self.margins.iter().map(|m| m.rest.width()).sum();
        // Four columns at least: a list in a quote in a list in a narrow window could leave
        // zero, and at width 0 no character fits, so every one would get a row of its own.
        self.width.saturating_sub(margin).max(4)
    }

    // Every row of the document goes through here, so margins cannot be forgotten by any
    // block type: code rows inside a list item are indented like its text, table rows inside
    // a quote carry the bar.
    /// Pushes one row with the current margins in front (each margin's bullet only once).
    fn emit(&mut self, body: Vec<Span<'static>>) {
        let mut spans = Vec::with_capacity(body.len() + self.margins.len());
        for m in &mut self.margins {
            spans.push(if m.used { m.rest.clone() } else { m.first.clone() });
            m.used = true;
        }
        spans.extend(body);
        self.lines.push(Line::from(spans));
    }

    /// Lays out the pending inline content as wrapped rows.
    fn flush(&mut self) {
        if self.inline.is_empty() {
            return;
        }
        let mut pieces = std::mem::take(&mut self.inline);
        // Remembered for the next block only (`open_block` resets it): the excerpt under a
        // `📄` line opens without a blank row, so pointer and code read as one unit.
        self.header = plain(&pieces).starts_with('📄');
        tint(&mut pieces);
        for row in wrap(&pieces, self.text_width()) {
            self.emit(row);
        }
    }

    // Folding, not reflowing: the line's characters and indentation stay exactly as in the
    // source, only the overflow moves to the next row behind a `↪` (two columns, counted in
    // `used`). ❌ DON'T cut long code lines at the edge: a quoted SQL statement or a command
    // that loses its tail teaches something false. ❌ DON'T reflow code either: joining lines
    // changes what the code says.
    /// Code as written: one row per source line, folded only where it would be cut off.
    fn code_lines(&mut self, code: &str) {
        let width = self.text_width();
        for line in code.trim_end_matches('\n').split('\n') {
            let mut row = String::new();
            let mut used = 0;
            let mut folded = false;
            for c in line.chars() {
                // A tab counts 0 here (a control character has no width), while a terminal
                // draws up to 8: lessons indent code with spaces, and run output has its tabs
                // expanded by `runner::clean_lines`, but a tab in a lesson's code block would
                // let that row run past the fold point.
                let w = c.width().unwrap_or(0);
                if used + w > width {
                    self.emit_code_row(std::mem::take(&mut row), folded);
                    folded = true;
                    used = 2;
                }
                row.push(c);
                used += w;
            }
            self.emit_code_row(row, folded);
        }
    }

    // One span per row for the code itself: the whole row is one colour, and keeping it a
    // single span makes a copied row (terminal selection) exactly the source's text after
    // the `↪` marker.
    fn emit_code_row(&mut self, row: String, folded: bool) {
        let mut spans = Vec::new();
        if folded {
            spans.push(Span::styled("↪ ", DIM));
        }
        // An output's first row is its status (`✔ 退出码 0 · 0.4 s`): coloured by verdict so
        // a failed run reads as failed before a word of its output is read.
        let style = if self.output {
            self.output = false;
            match row.chars().next() {
                Some('✔') => Style::new().fg(Color::Green),
                Some('✘') => Style::new().fg(Color::Red),
                _ => Style::new().fg(Color::Yellow),
            }
        } else {
            self.code_style
        };
        spans.push(Span::styled(row, style));
        self.emit(spans);
    }

    // Three passes: measure every cell's natural width, fit the column widths into the
    // window (`fit_columns`), then wrap each cell into its column with the same `wrap` as
    // paragraphs and pad each row of each cell by display width. Padding by `chars().count()`
    // instead is the classic bug this replaces: `库存` is 2 chars but 4 columns, and every
    // Chinese cell pushed its border two columns per character out of line.
    /// A table with box borders; columns sized by display width, cells wrapped inside.
    fn table_lines(&mut self, t: &Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if cols == 0 {
            return;
        }
        let natural: Vec<usize> = (0..cols)
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
            .collect();
        // Each column costs its text plus one space either side plus one border.
        let available = self.text_width().saturating_sub(3 * cols + 1);
        let widths = fit_columns(&natural, available);
        let border = |l: &str, m: &str, r: &str| {
            let inner: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            vec![Span::styled(format!("{l}{}{r}", inner.join(m)), DIM)]
        };
        // Rows that wrap get a divider between them, or two wrapped rows would read as one.
        let laid: Vec<Vec<Vec<Vec<Span<'static>>>>> = t
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                (0..cols)
                    .map(|c| {
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
            .collect();
        // Tables whose rows are all one line tall read fine without dividers (and are shorter);
        // as soon as one body row wraps, every body row gets one so each row's extent is clear.
        let any_wraps = laid.iter().skip(t.head_rows).any(|r| r.iter().any(|c| c.len() > 1));
        self.emit(border("┌", "┬", "┐"));
        for (i, row) in laid.iter().enumerate() {
            if i > 0 && (i == t.head_rows || (i > t.head_rows && any_wraps)) {
                self.emit(border("├", "┼", "┤"));
            }
            // A row is as tall as its tallest cell; shorter cells are padded with blank rows, so
            // every border stays in its column down the whole row.
            let height = row.iter().map(Vec::len).max().unwrap_or(1).max(1);
            for k in 0..height {
                let mut spans = vec![Span::styled("│", DIM)];
                for (c, cell) in row.iter().enumerate() {
                    let content = cell.get(k).cloned().unwrap_or_default();
                    let used: usize = content.iter().map(Span::width).sum();
                    let gap = widths[c].saturating_sub(used);
                    // The gap is in display columns (a cell with `✅` is 2 wide), split per the
                    // delimiter row's alignment; one space of padding either side.
                    let (left, right) = match t.alignments.get(c) {
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
        self.emit(border("└", "┴", "┘"));
    }
}

// The course's markers and the excerpt header colour their whole block or cell (see the
// module doc); text that has a colour of its own (inline code) keeps it.
fn tint(pieces: &mut [Piece]) {
    let text = plain(pieces);
    let text = text.trim_start();
    let tint = if text.starts_with('📄') {
        DIM
    } else if text.starts_with('❌') {
        Style::new().fg(Color::Red)
    } else if text.starts_with('✅') {
        Style::new().fg(Color::Green)
    } else {
        return;
    };
    for p in pieces {
        if let Piece::Text(_, s) = p
            && s.fg.is_none()
        {
            *s = tint.patch(*s);
        }
    }
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

// Per character, the way the wrapper and the table measure: a control character has no
// width (`None` → 0), a CJK character or an emoji like ✅ takes 2.
fn str_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The text of some pieces, soft breaks as spaces (for headings and tinting).
fn plain(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t, _) => t.as_str(),
            Piece::Soft => " ",
        })
        .collect()
}

// "Wide" is the terminal's notion (two cells), which for our text coincides with "Chinese,
// Japanese, Korean or emoji" — the characters between which a line may break without a
// space.
fn is_wide(c: char) -> bool {
    c.width().unwrap_or(0) >= 2
}

// Fullwidth punctuation (`，。？：（）` live in U+3000–U+303F and U+FF00–U+FFEF) plus the
// dashes and quotes Chinese text uses: no space is ever wanted next to them.
fn is_cjk_punct(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '—' | '…' | '“' | '”' | '‘' | '’')
}

// Chinese line-breaking rules (kinsoku), the minimum that matters: a row must not start
// with closing punctuation (`，` alone at the start of a row reads as a typo) and must not
// end with opening punctuation.
fn no_break_before(c: char) -> bool {
    "，。、；：？！）》」』”’…,.;:?!)]}%".contains(c)
}

fn no_break_after(c: char) -> bool {
    "（《「『“‘([{".contains(c)
}

/// The styled runs of one word, in order.
type Parts = Vec<(String, Style)>;

/// How an atom joins the one before it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Glue {
    /// Part of the same word: never broken here.
    None,
    /// A break is allowed and costs nothing (between CJK characters).
    Break,
    /// A space; dropped when the row breaks here.
    Space,
}

// The wrapping algorithm, in three stages (each a loop below):
// ```text
//   pieces  [Text("检查 `x`", plain) · Soft · Text("and", bold)]
//   atoms   检 查 ␣x ␣and      one per CJK char, one per ASCII word, glue before each
//   words   [检] [查] [x] [and] atoms joined by Glue::None (a word can span styles)
//   rows    greedy: a word goes on the row if it fits, else starts the next one
// ```
// Greedy (first fit) rather than optimal (Knuth–Plass): terminals have no justification to
// balance, and greedy is what every terminal pager does, so the result looks familiar.
/// Wraps styled pieces into rows of at most `width` columns (display width).
fn wrap(pieces: &[Piece], width: usize) -> Vec<Vec<Span<'static>>> {
    // 1. Cut the text into atoms: a run of narrow characters is one word; every wide (CJK)
    //    character is its own atom, because Chinese breaks between any two characters.
    let mut atoms: Vec<(String, Style, Glue)> = Vec::new();
    let mut pending_space = false;
    let mut prev: Option<char> = None;
    for (i, piece) in pieces.iter().enumerate() {
        let (text, style) = match piece {
            Piece::Text(t, s) => (t.as_str(), *s),
            // A source line break: nothing between two CJK characters or next to Chinese
            // punctuation (`？⏎1 号书` must not become `？ 1 号书`), a space otherwise.
            Piece::Soft => {
                let next = pieces[i + 1..].iter().find_map(|p| match p {
                    Piece::Text(t, _) => t.chars().next(),
                    Piece::Soft => None,
                });
                let cjk = (prev.is_some_and(is_wide) && next.is_some_and(is_wide))
                    || prev.is_some_and(is_cjk_punct)
                    || next.is_some_and(is_cjk_punct);
                if !cjk {
                    pending_space = true;
                }
                continue;
            }
        };
        for c in text.chars() {
            // Runs of whitespace collapse into one potential space, as in HTML: the source's
            // alignment spaces mean nothing once the paragraph is reflowed.
            if c == '\n' || c.is_whitespace() {
                pending_space = true;
                continue;
            }
            // The glue before `c`: a space if whitespace preceded it; otherwise no break inside a
            // run of narrow characters (an English word, `stock=1`) or where kinsoku forbids it,
            // and a free break next to a wide character.
            let glue = if pending_space && prev.is_some() {
                Glue::Space
            } else if prev.is_none()
                || no_break_before(c)
                || prev.is_some_and(no_break_after)
                || !(is_wide(c) || prev.is_some_and(is_wide))
            {
                Glue::None
            } else {
                Glue::Break
            };
            pending_space = false;
            prev = Some(c);
            // Narrow characters of one style accumulate into one atom (fewer spans per row);
            // wide ones stay single so each is a candidate break point.
            match atoms.last_mut() {
                Some((s, st, _)) if glue == Glue::None && *st == style && !is_wide(c) => s.push(c),
                _ => atoms.push((c.to_string(), style, glue)),
            }
        }
    }
    // 2. Words: atoms joined by `Glue::None` (a word may span styles, e.g. `-1`**：**).
    let mut words: Vec<(Glue, Parts, usize)> = Vec::new();
    for (text, style, glue) in atoms {
        let w = str_width(&text);
        match (glue, words.last_mut()) {
            (Glue::None, Some((_, parts, width))) => {
                parts.push((text, style));
                *width += w;
            }
            _ => words.push((glue, vec![(text, style)], w)),
        }
    }
    // 3. Greedy filling; a word wider than a whole row is split by characters.
    // `used` is the current row's width so far; a space is only paid between two words on
    // the same row — at a break it disappears, so no row starts or ends with one.
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    for (glue, parts, w) in words {
        let space = usize::from(glue == Glue::Space && used > 0);
        if used > 0 && used + space + w > width {
            rows.push(Vec::new());
            used = 0;
        } else if space == 1 {
            rows.last_mut().expect("a row").push(Span::raw(" "));
            used += 1;
        }
        for (text, style) in parts {
            if used + str_width(&text) <= width {
                used += str_width(&text);
                rows.last_mut().expect("a row").push(Span::styled(text, style));
                continue;
            }
            // Wider than what is left even on a fresh row (a long URL or identifier in a narrow
            // table column): cut by characters, the only way it can be shown whole.
            let mut chunk = String::new();
            for c in text.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > width && used > 0 {
                    rows.last_mut()
                        .expect("a row")
                        .push(Span::styled(std::mem::take(&mut chunk), style));
                    rows.push(Vec::new());
                    used = 0;
                }
                chunk.push(c);
                used += cw;
            }
            rows.last_mut().expect("a row").push(Span::styled(chunk, style));
        }
    }
    // A word that opened a new row only to be split leaves an empty row behind; an empty
    // paragraph still takes one row, so a table cell without text keeps its height.
    rows.retain(|r| !r.is_empty());
    if rows.is_empty() {
        rows.push(Vec::new());
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    // The rows as plain strings: the tests assert on what a learner reads, and compare
    // styles separately (spans) only where the style *is* the behaviour under test.
    fn text(doc: &Doc) -> Vec<String> {
        doc.lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    // Display columns, the unit every width rule here is stated in.
    fn width(line: &str) -> usize {
        str_width(line)
    }

    // Proves the reflow rules at once: the source line break between two Chinese characters
    // disappears, the one between English words becomes a space, and no row is wider than
    // the window (CJK counted as two columns).
    /// Paragraphs are reflowed by display width; a CJK line break joins without a space.
    #[test]
    fn paragraphs_reflow_by_display_width() {
        let md = "检查和扣减必须是一个不可分割的整体。\n课程的例子：库存还剩 1 本，两个请求同时到达，\nthen both\nread the row. 为什么是 0？\n1 号书在\nRust 里";
        let rows = text(&render(md, 20));
        let joined = text(&render(md, 200)).concat();
        assert!(joined.contains("整体。课程"), "{rows:?}");
        assert!(joined.contains("both read"), "{rows:?}");
        assert!(joined.contains("0？1 号书在 Rust"), "{rows:?}");
        assert!(rows.iter().all(|r| width(r) <= 20), "{rows:?}");
        assert!(rows.iter().all(|r| !r.starts_with('，') && !r.starts_with('。')), "{rows:?}");
    }

    // Proves that `**` and backticks inside code survive (the old renderer deleted both
    // everywhere), and that inline code and bold become styles instead of symbols.
    /// Inline code and bold are styled; code keeps every character.
    #[test]
    fn code_keeps_stars_and_backticks_and_inline_styles_apply() {
        let md = "**超卖**：`a ** b`\n\n```rust\nlet s = \"**\"; // `x`\n```\n";
        let doc = render(md, 60);
        let rows = text(&doc);
        assert_eq!(rows[0], "超卖：a ** b");
        assert!(rows.contains(&"let s = \"**\"; // `x`".to_string()), "{rows:?}");
        let first = &doc.lines[0].spans;
        assert!(first[0].style.add_modifier.contains(Modifier::BOLD));
        assert!(first.iter().any(|s| s.content.contains("a") && s.style.fg == Some(Color::Cyan)));
    }

    // Proves hanging indentation: every wrapped row of an item starts under the item's text.
    /// A wrapped list item continues under its text, not under its bullet.
    #[test]
    fn list_items_hang_when_wrapped() {
        let md = "- 先检查所有商品都够，再扣减——要么全成，要么全不动；\n- 短\n";
        let rows = text(&render(md, 16));
        assert!(rows[0].starts_with("• 先"), "{rows:?}");
        assert!(rows[1].starts_with("  ") && !rows[1].starts_with("   "), "{rows:?}");
        assert!(rows.iter().any(|r| r == "• 短"), "{rows:?}");
    }

    // Proves the table contract: borders instead of `|---|`, every row exactly as wide as the
    // border (CJK counted as two), and wrapped cells when the natural width does not fit.
    /// Tables are boxed and aligned by display width, wrapping cells to fit.
    #[test]
    fn tables_align_by_display_width() {
        let md = "| 策略 | 代价 |\n|---|---|\n| naive | 所有买家在一把行锁上排队，每次持锁跨三次网络往返 |\n| Lua | 一次往返 |\n";
        let rows = text(&render(md, 30));
        assert!(rows.iter().all(|r| !r.contains("---")), "{rows:?}");
        assert!(rows[0].starts_with('┌') && rows.last().unwrap().starts_with('└'), "{rows:?}");
        let w = width(&rows[0]);
        assert!(w <= 30);
        assert!(rows.iter().all(|r| width(r) == w), "{rows:?}");
    }

    // Proves the section index: headings are found on the rows where they were drawn, and
    // the jumps move between them.
    /// Heading rows are recorded for section jumps.
    #[test]
    fn headings_are_indexed_for_jumps() {
        let doc = render("# A\n\ntext\n\n## B\n\nmore\n\n## C\n", 40);
        let rows: Vec<usize> = doc.headings.iter().map(|(r, _)| *r).collect();
        assert_eq!(
            doc.headings.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert!(text(&doc)[rows[1]].contains("■ B"));
        assert_eq!(doc.next_heading(0), Some(rows[1]));
        assert_eq!(doc.previous_heading(rows[2]), Some(rows[1]));
        assert_eq!(doc.section_at(rows[1] + 1), Some("B"));
    }
}
