//! Code blocks: command labels, folding of long lines, and the status row of a run's output.

use pulldown_cmark::CodeBlockKind;
use ratatui::{
    style::{Color, Modifier, Style},
    text::Span,
};
use unicode_width::UnicodeWidthChar;

use super::{CODE, DIM, writer::Writer};

impl Writer {
    /// Opens a code block: its style (code, command or run output) and, for a `bash`
    /// block, the numbered label row above it.
    pub(super) fn start_code_block(&mut self, kind: &CodeBlockKind<'_>) {
        let info = match kind {
            CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
            // An indented block has no info string: plain code, never a command — as in
            // `blocks::blocks`, which looks at fences only, so the two number commands alike.
            CodeBlockKind::Indented => "",
        };
        // No blank row under a `📄 path#marker` line (`header`, set by `flush`): the
        // pointer and its excerpt read as one unit; any other block gets its gap.
        self.open_block(!self.header);
        self.code = Some(String::new());
        // Reset for every block: the previous block's bold (selected command) or grey
        // (output) style would otherwise carry into this one.
        self.code_style = CODE;
        // An output is grey, not cyan: it is what the lab printed, not code the lesson asks
        // the learner to read or type, and it must not pass for the command above it.
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
            // Recorded before the emit, so it is the label's own row: the row Tab scrolls to,
            // keeping the label and the first two command rows in view (`App::command_key`).
            self.commands.push(self.lines.len());
            // The selected block's own rows turn bold too, so the command Enter will run is
            // marked where the learner reads it, not only on the label row above it.
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

    // Folding, not reflowing: the line's characters and indentation stay exactly as in the
    // source, only the overflow moves to the next row behind a `↪` (two columns, counted in
    // `used`). ❌ DON'T cut long code lines at the edge: a quoted SQL statement or a command
    // that loses its tail teaches something false. ❌ DON'T reflow code either: joining lines
    // changes what the code says.
    /// Code as written: one row per source line, folded only where it would be cut off.
    pub(super) fn code_lines(&mut self, code: &str) {
        let width = self.text_width();
        // The block's text ends in a newline, trimmed so it adds no empty last row; an empty
        // block still splits into one empty line, so it draws as one blank code row.
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
                // `width` is at least 4 (`text_width`), so a fresh folded row — the 2-column
                // `↪` plus one character of at most 2 — always fits: no row is ever empty.
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

    /// Emits one code row: the `↪` mark if it continues a folded line, then the text.
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
        // Cleared at the first row: only the status is coloured, and if the status itself
        // folds, its continuation is drawn grey like the output under it.
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
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier};

    use super::super::{render, text};

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
}
