//! Source references: lessons quote our real code by file and marker, never by copy.
//!
//! DON'T paste code into a lesson: the paste is correct the day it is written and wrong
//! the day someone fixes the code — and a learner cannot tell which one they are reading.
//! DO point at the code: a line `{{source: services/inventory/src/race.rs#naive}}` in a
//! lesson is replaced, when the lesson is shown, by the lines between the markers
//!
//! ```text
//! // lesson:naive:start
//! …the code the lesson talks about…
//! // lesson:naive:end
//! ```
//!
//! in that file (any comment syntax: `//`, `--`, `#` — only the `lesson:<name>:start|end`
//! text matters). Without `#marker` the whole file is quoted. `lessons check` verifies that
//! every reference resolves, so a renamed file or a deleted marker fails CI.
//!
//! ## Why markers beat pasted excerpts (and line numbers)
//!
//! Three ways to put code in a lesson, and how each one fails:
//! - ❌ paste: drifts silently. The service gets a fix, the lesson keeps the bug, and CI is
//!   green because nothing connects the two.
//! - ❌ `path:40-62` line ranges: drift *loudly wrong* — add one import above and the lesson
//!   quotes half a function plus the first line of the next, still without any error.
//! - ✅ named markers: the excerpt moves with the code, because the markers are in the
//!   code. Edit inside the span and the lesson shows the edit; delete or duplicate a marker
//!   and `lessons check` fails with the lesson and line. The only thing a marker cannot
//!   catch is a change of *meaning* — that is what reviewing a lesson diff is for.
//!
//! The cost is two comment lines in the quoted file. They are ordinary comments (no
//! behaviour), excluded from the excerpt, and they tell the next editor "a lesson quotes
//! this — keep it readable".
//!
//! Try it: add a start/end marker comment pair named `demo` (as in the example above)
//! around any function, put `{{source: <path>#demo}}` on its own line in a lesson,
//! and open the lesson. Then move the end marker above the start marker and run
//! `bookstore-lab lessons check` to see the error you would get in CI.

use std::path::Path;

// Carries the lesson line number so an error points at the lesson to edit, not only at
// the source file that changed.
/// One `{{source: …}}` reference found in a lesson.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRef {
    // Forward slashes and never absolute, as written in the lesson: the same lesson then
    // resolves in every checkout, on every machine.
    /// Path relative to the repository root.
    pub path: String,
    /// The marker name, or `None` for the whole file.
    pub marker: Option<String>,
    /// 1-based line of the reference in the lesson (for error messages).
    pub line: usize,
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.marker {
            Some(m) => write!(f, "{}#{m}", self.path),
            None => write!(f, "{}", self.path),
        }
    }
}

// A reference must be alone on its line (after trimming). Inline references in prose
// would be easy to write by accident in an explanation *about* references — like this
// module's docs — and a whole-line rule makes them unambiguous.
/// Parses a line as a reference: `{{source: path}}` or `{{source: path#marker}}`.
pub fn parse_line(line: &str, number: usize) -> Option<SourceRef> {
    // Whitespace around the path and marker is forgiven (`{{source:  a.rs # x }}`): a
    // reference that fails on a stray space would be a paper cut for every lesson author.
    let inner = line.trim().strip_prefix("{{source:")?.strip_suffix("}}")?.trim();
    let (path, marker) = match inner.split_once('#') {
        Some((p, m)) => (p.trim(), Some(m.trim().to_string())),
        None => (inner, None),
    };
    Some(SourceRef { path: path.to_string(), marker, line: number })
}

/// Every reference in a lesson, in order.
pub fn references(text: &str) -> Vec<SourceRef> {
    text.lines().enumerate().filter_map(|(i, l)| parse_line(l, i + 1)).collect()
}

// Spans may nest or overlap (a lesson may quote a whole function and, later, two lines of
// it); inner markers are dropped from the outer excerpt so the learner never sees the
// scaffolding. The name rule (letters, digits, `-`, `_`) keeps prose that happens to
// contain "lesson:" from being mistaken for a marker.
/// True for a marker line of any name (`lesson:x:start` / `lesson:x:end`), which is
/// scaffolding for the lesson engine and is left out of excerpts.
// `split("lesson:").skip(1)` looks at the text after every occurrence, so a line holding
// a marker after other text (`code(); // lesson:x:end`) is still recognised.
fn is_marker_line(line: &str) -> bool {
    line.split("lesson:").skip(1).any(|rest| {
        let mut parts = rest.splitn(3, ':');
        let name = parts.next().unwrap_or("");
        let edge = parts.next().unwrap_or("");
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && (edge.starts_with("start") || edge.starts_with("end"))
    })
}

// Matching is by substring on each line, so the comment syntax does not matter — one
// function handles Rust, Lua, SQL and TOML. An empty span is an error too: markers
// around nothing usually mean the code moved out from between them.
/// The lines between `lesson:<marker>:start` and `lesson:<marker>:end`, dedented. Each
/// marker must appear exactly once, start before end — anything else is an error, because
/// an ambiguous marker would quote the wrong code.
pub fn extract(text: &str, marker: &str) -> anyhow::Result<String> {
    let start_tag = format!("lesson:{marker}:start");
    let end_tag = format!("lesson:{marker}:end");
    let lines: Vec<&str> = text.lines().collect();
    // Counting every hit rather than taking the first is the whole point: two spans with the
    // same name would otherwise quote whichever comes first, silently.
    let find = |tag: &str| -> anyhow::Result<usize> {
        let hits: Vec<usize> =
            lines.iter().enumerate().filter(|(_, l)| l.contains(tag)).map(|(i, _)| i).collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => anyhow::bail!("marker `{tag}` not found"),
            _ => anyhow::bail!("marker `{tag}` appears {} times", hits.len()),
        }
    };
    let (start, end) = (find(&start_tag)?, find(&end_tag)?);
    anyhow::ensure!(start < end, "`{end_tag}` comes before `{start_tag}`");
    let body: Vec<&str> =
        lines[start + 1..end].iter().copied().filter(|l| !is_marker_line(l)).collect();
    anyhow::ensure!(
        body.iter().any(|l| !l.trim().is_empty()),
        "marker `{marker}` encloses no code"
    );
    Ok(dedent(&body))
}

// Computed in bytes, which is right for indentation made of spaces (what rustfmt and our
// Lua use). Tabs count as one column each; mixing them would misalign, and none of the
// quoted files does. Trailing blank lines are dropped so the fence closes tightly.
/// Removes the indentation every non-blank line shares, so an excerpt from inside an
/// `impl` block does not start four columns to the right.
fn dedent(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    // Lines shorter than the common indent can only be blank ones (non-blank lines define
    // the minimum), so they become empty instead of panicking on the slice. Slicing by bytes
    // is safe because the indent is leading ASCII spaces; a full-width (U+3000) indent would
    // break it, and our sources have none.
    let mut out: Vec<&str> =
        lines.iter().map(|l| if l.len() >= indent { &l[indent..] } else { "" }).collect();
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

// The path is joined to the repository root without canonicalising: lessons are our own
// files, not input from strangers, so a `../` in a reference is a bug for
// `lessons check` to surface, not an attack to defend against.
/// Reads the text a reference points at (relative to `root`).
pub fn resolve(reference: &SourceRef, root: &Path) -> anyhow::Result<String> {
    let path = root.join(&reference.path);
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", reference.path))?;
    match &reference.marker {
        Some(m) => extract(&text, m).map_err(|e| anyhow::anyhow!("{}: {e}", reference.path)),
        None => Ok(text.trim_end().to_string()),
    }
}

/// The code-fence language for a file, by extension (for readers and syntax colours).
// The fence language is informational in the terminal (the TUI colours all code alike),
// but the expanded text is also what `--no-tui` prints, and a Markdown viewer reading
// that output colours by it.
fn language(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "rs" => "rust",
        "lua" => "lua",
        "sql" => "sql",
        "proto" => "protobuf",
        "toml" => "toml",
        // `sh`, not `bash`: a ```` ```bash ```` block is a command the lesson runs (see
        // `lessons::blocks`), and a quoted script is code to read, not to execute.
        "sh" => "sh",
        _ => "text",
    }
}

// The `📄 path#marker` header is what turns a quote into a pointer: the learner sees the
// code *and* where to open it in their editor, and the file they open matches the quote.
// What a learner gets for `{{source: lua/decr.lua}}` (shape only):
// ```text
// 📄 lua/decr.lua
// ```lua
// -- the script as it is in the repository today
// ```
// ```
/// The lesson with every reference line replaced by a fenced excerpt headed by where it
/// comes from, so the learner can open the file and read on.
pub fn expand(text: &str, root: &Path) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() * 2);
    for (i, line) in text.lines().enumerate() {
        // Lines are rebuilt one by one, so a reference inside a lesson's own code fence would be
        // expanded too; lessons put references on their own lines between paragraphs.
        match parse_line(line, i + 1) {
            Some(r) => {
                let code = resolve(&r, root)?;
                out.push_str(&format!("📄 {r}\n```{}\n{code}\n```\n", language(&r.path)));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the syntax, including the whole-line rule: an inline mention is not a reference.
    /// A reference line is recognised with and without a marker, other lines are not.
    #[test]
    fn reference_lines_parse_with_and_without_marker() {
        let r = parse_line("  {{source: lua/decr.lua#body}} ", 3).unwrap();
        assert_eq!(r.path, "lua/decr.lua");
        assert_eq!(r.marker.as_deref(), Some("body"));
        assert_eq!(parse_line("{{source: a/b.sql}}", 1).unwrap().marker, None);
        assert!(parse_line("see {{source: a}} inline", 1).is_none());
    }

    // Proves the three excerpt rules at once: the outer span's common indent (4) is removed,
    // the relative indent of the inner line (2 more) is kept, and the nested marker `y` is
    // not shown.
    /// The excerpt is what lies between the markers, dedented, without nested markers.
    #[test]
    fn extract_returns_dedented_lines_between_markers() {
        let text = "fn a() {\n    // lesson:x:start\n    let a = 1;\n    // lesson:y:start\n      let b = 2;\n    // lesson:x:end\n}\n";
        assert_eq!(extract(text, "x").unwrap(), "let a = 1;\n  let b = 2;");
    }

    // Proves the failure modes are errors: each one would otherwise quote the wrong code
    // (nothing, the wrong one of two spans, or the file between them).
    /// Missing, duplicated and reversed markers are errors, never a wrong excerpt.
    #[test]
    fn extract_rejects_missing_duplicate_and_reversed_markers() {
        assert!(extract("nothing here", "x").is_err());
        let dup = "-- lesson:x:start\na\n-- lesson:x:start\n-- lesson:x:end\n";
        assert!(extract(dup, "x").is_err());
        let rev = "-- lesson:x:end\na\n-- lesson:x:start\n";
        assert!(extract(rev, "x").is_err());
    }
}
