//! Just enough Markdown for lessons: headings, code fences, quotes, tables, lists.
//!
//! A full Markdown renderer would be another dependency for what lessons use: headings
//! bold, code in its own colour (so a quoted excerpt stands out from the prose), the rest
//! as written. Tables are kept verbatim, which reads well in a monospace terminal.
//!
//! ✅/❌ lines get green/red, since the course marks its DO/DON'T with those symbols: the
//! colour carries the verdict even for a learner skimming the page. The `📄 path#marker`
//! headers of quoted code are dimmed — a pointer, not part of the prose.
//!
//! Why not a Markdown crate (pulldown-cmark plus a ratatui adapter): it would parse
//! emphasis, links and nested lists correctly — and the lessons do not need them. The
//! engine stays small enough to read in one sitting, which is the point of a teaching
//! repository; if lessons ever need real tables or links, swapping this function for a
//! crate touches this file only (it returns plain `Line`s).
//!
//! Cost: `lines` runs on every frame of the lesson screen (a few hundred lines of text,
//! well under a millisecond). Caching its result in `App` would put derived data in the
//! state — the DON'T in `ui/mod.rs` — for no visible gain.
//!
//! Shortcut, admitted: lines inside a code fence are styled as code even if the fence is
//! never closed (a broken lesson shows the rest as code); `lessons check` does not catch
//! that yet.

use ratatui::{
    style::{Color, Modifier, Style},
    text::Line,
};

/// Styled lines of a lesson.
///
/// Lines are produced whole (no re-wrapping here): the `Paragraph` that shows them wraps
/// to the terminal width, so the same lesson reads at 80 columns and at 200. `**` and
/// backticks are dropped rather than rendered, which keeps the text readable without
/// an inline parser; code blocks get a colour so quoted source stands apart from prose.
pub fn lines(text: &str) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut in_code = false;
    for raw in text.lines() {
        let line = raw.to_string();
        // The fence line itself is dropped: in a terminal the colour already marks the code,
        // and the bare ``` lines would only waste two rows per excerpt.
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let style = if in_code {
            Style::new().fg(Color::Cyan)
        } else if let Some(h) = line.strip_prefix("# ") {
            out.push(Line::styled(
                h.to_string(),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            ));
            continue;
        // A blank line before every `##` section and a ■ mark: the five required sections are
        // the lesson's skeleton, and they must be easy to find while scrolling.
        } else if let Some(h) = line.strip_prefix("## ") {
            out.push(Line::default());
            out.push(Line::styled(
                format!("■ {h}"),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ));
            continue;
        } else if let Some(h) = line.strip_prefix("### ") {
            out.push(Line::styled(h.to_string(), Style::new().add_modifier(Modifier::BOLD)));
            continue;
        } else if line.starts_with("📄") {
            Style::new().fg(Color::DarkGray)
        } else if line.starts_with('>') {
            Style::new().fg(Color::Gray).add_modifier(Modifier::ITALIC)
        } else if line.contains("❌") {
            Style::new().fg(Color::Red)
        } else if line.contains("✅") {
            Style::new().fg(Color::Green)
        } else {
            Style::new()
        };
        // Inside code fences this also strips backticks and `**` from the quoted code — in
        // practice only from Rust doc comments (`Quantity` shows as Quantity), a known
        // limitation that costs a little emphasis, never meaning.
        out.push(Line::styled(line.replace("**", "").replace('`', ""), style).patch_style(style));
    }
    out
}
