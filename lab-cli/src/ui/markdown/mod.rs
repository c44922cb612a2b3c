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
//!
//! ## Where each part lives
//!
//! - `writer`: the event loop's state and the blocks that are only margins and text
//!   (paragraphs, headings, lists, quotes, rules);
//! - `code`: code blocks — the command label, folding, a run's output and its status row;
//! - `table`: tables — cells collected whole, columns fitted, rows drawn with borders;
//! - `wrap`: line breaking of prose by display width, the rules for CJK and spaces;
//! - here: the entry points, the inline [`Piece`] every part passes around, and the
//!   measurements every part must make the same way (`str_width`, `plain`, `tint`).

mod code;
mod table;
mod wrap;
mod writer;

use pulldown_cmark::{Options, Parser};
use ratatui::{
    style::{Color, Style},
    text::Line,
};
use unicode_width::UnicodeWidthChar;

use writer::Writer;

// Plain data, so the key handler (`App::lesson_key`) and the renderer (`ui::lesson`) can
// both call `render` and get the same rows; nothing here borrows the Markdown text.
/// A lesson laid out for one width.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// The page's rows, each at most the width asked for; scrolling is a slice of these.
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
// `width` is the whole text area (the lesson frame's inner width, from `ui::lesson` when
// drawing and from `lesson::text_size` when a key scrolls); lists and quotes take their
// margins out of it here, so the caller never thinks about them.
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
    let mut w = Writer::new(usize::from(width).max(8), selected);
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

// The rows as plain strings: the tests assert on what a learner reads, and compare
// styles separately (spans) only where the style *is* the behaviour under test.
#[cfg(test)]
fn text(doc: &Doc) -> Vec<String> {
    doc.lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the section index: headings are found on the rows where they were drawn, and
    // the jumps move between them. A heading recorded after its rows were emitted would be
    // off by its own height, and `]` would land one row under the heading.
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
