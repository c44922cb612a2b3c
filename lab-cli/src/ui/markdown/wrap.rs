//! Line breaking for prose: CJK characters break anywhere, English at spaces, with the
//! minimum of Chinese kinsoku, all measured in display columns.

use ratatui::{style::Style, text::Span};
use unicode_width::UnicodeWidthChar;

use super::{Piece, str_width};

/// Whether `c` takes two terminal columns; a line may break on either side of it.
// "Wide" is the terminal's notion (two cells), which for our text coincides with "Chinese,
// Japanese, Korean or emoji" — the characters between which a line may break without a
// space.
fn is_wide(c: char) -> bool {
    c.width().unwrap_or(0) >= 2
}

/// Whether `c` is Chinese punctuation, next to which a source line break adds no space.
// Fullwidth punctuation (`，。？：（）` live in U+3000–U+303F and U+FF00–U+FFEF) plus the
// dashes and quotes Chinese text uses: no space is ever wanted next to them.
fn is_cjk_punct(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '—' | '…' | '“' | '”' | '‘' | '’')
}

/// Closing punctuation that must not start a row: the break before it is forbidden.
// Chinese line-breaking rules (kinsoku), the minimum that matters: a row must not start
// with closing punctuation (`，` alone at the start of a row reads as a typo) and must not
// end with opening punctuation.
// ASCII closers are in the list too: after a CJK character `)` or `,` would otherwise be a
// free break point (`Glue::Break`), and a row could start with `)`.
fn no_break_before(c: char) -> bool {
    "，。、；：？！）》」』”’…,.;:?!)]}%".contains(c)
}

/// Opening punctuation that must not end a row: the break after it is forbidden, so an
/// opening `（` or `“` always shares its row with the first word it opens.
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

// The wrapping algorithm, in three stages (`atoms`, `words`, `fill_rows` below):
// ```text
//   pieces  [Text("检查 `x`", plain) · Soft · Text("and", bold)]
//   atoms   检 查 ␣x ␣and      one per CJK char, one per ASCII word, glue before each
//   words   [检] [查] [x] [and] atoms joined by Glue::None (a word can span styles)
//   rows    greedy: a word goes on the row if it fits, else starts the next one
// ```
// Greedy (first fit) rather than optimal (Knuth–Plass): terminals have no justification to
// balance, and greedy is what every terminal pager does, so the result looks familiar.
/// Wraps styled pieces into rows of at most `width` columns (display width).
///
/// Always at least one row (an empty paragraph is one empty row), and no row is wider
/// than `width` unless one character alone is (a CJK character at `width` 1): the
/// table pads each cell row to its column by that bound.
pub(super) fn wrap(pieces: &[Piece], width: usize) -> Vec<Vec<Span<'static>>> {
    fill_rows(words(atoms(pieces)), width)
}

/// One atom: its text, its style, and how it joins the atom before it.
type Atom = (String, Style, Glue);

/// One unbreakable word: the glue before it, its styled parts, its display width.
type Word = (Glue, Parts, usize);

// 1. Cut the text into atoms: a run of narrow characters is one word; every wide (CJK)
//    character is its own atom, because Chinese breaks between any two characters.
/// Stage 1 of `wrap`: the pieces cut into atoms, each with the glue before it.
fn atoms(pieces: &[Piece]) -> Vec<Atom> {
    let mut atoms: Vec<Atom> = Vec::new();
    let mut pending_space = false;
    // Carried across pieces, so glue is decided across style changes: `**超卖**：` is one
    // decision between `卖` and `：`, whatever their styles.
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
            // `prev.is_some()`: whitespace before the paragraph's first character is dropped,
            // so a row never opens with a space the source had for alignment.
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
    atoms
}

// 2. Words: atoms joined by `Glue::None` (a word may span styles, e.g. `-1`**：**).
/// Stage 2 of `wrap`: atoms joined into words wherever their glue is `Glue::None`.
fn words(atoms: Vec<Atom>) -> Vec<Word> {
    let mut words: Vec<Word> = Vec::new();
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
    words
}

// 3. Greedy filling; a word wider than a whole row is split by characters.
// `used` is the current row's width so far; a space is only paid between two words on
// the same row — at a break it disappears, so no row starts or ends with one.
/// Stage 3 of `wrap`: words filled greedily into rows of at most `width` columns.
fn fill_rows(words: Vec<Word>, width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new()];
    let mut used = 0;
    // A word moves to a new row only from a row that holds something (`used > 0`): on an
    // empty row it is cut instead, so an over-wide word cannot push rows forever.
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
    use super::super::{render, str_width, text};

    // Proves the reflow rules at once: the source line break between two Chinese characters
    // disappears, the one between English words becomes a space, and no row is wider than
    // the window (CJK counted as two columns).
    /// Paragraphs are reflowed by display width; a CJK line break joins without a space.
    #[test]
    fn paragraphs_reflow_by_display_width() {
        let md = "检查和扣减必须是一个不可分割的整体。\n课程的例子：库存还剩 1 本，两个请求同时到达，\nthen both\nread the row. 为什么是 0？\n1 号书在\nRust 里";
        // Laid out twice: at 200 no row breaks, so the joins can be asserted on one string;
        // at 20 it wraps into many rows, so the width and kinsoku rules are asserted on those.
        let rows = text(&render(md, 20));
        let joined = text(&render(md, 200)).concat();
        assert!(joined.contains("整体。课程"), "{rows:?}");
        assert!(joined.contains("both read"), "{rows:?}");
        assert!(joined.contains("0？1 号书在 Rust"), "{rows:?}");
        assert!(rows.iter().all(|r| str_width(r) <= 20), "{rows:?}");
        assert!(rows.iter().all(|r| !r.starts_with('，') && !r.starts_with('。')), "{rows:?}");
    }
}
