//! Lessons as data: the engine that reads `lessons/`, checks it and remembers progress.
//!
//! The content (Markdown in Simplified Chinese plus `lessons/manifest.toml`) lives apart
//! from this code, the way rustlings keeps its exercises apart from its runner: a teacher
//! edits a lesson without touching Rust, and `bookstore-lab lessons check` (run by
//! `cargo test`) catches a broken lesson before a learner does.
//!
//! - [`manifest`]: the manifest format (`format_version`, one entry per day) and loading it.
//! - [`source`]: `{{source: path#marker}}` references — excerpts of our real code, read at
//!   display time so a lesson can never drift from the code it quotes.
//! - [`check`]: `lessons check`, every problem of the manifest and the references.
//! - [`blocks`]: the blocks a lesson acts on — commands, reveals, the checkpoint.
//! - [`live`]: `lessons check --run` — every command and checkpoint check on a private stack.
//! - [`runner`]: runs a command block (TUI and `lessons check --run` alike).
//! - [`progress`]: `progress.json` in the lab directory — which lessons are done.
//!
//! ## Why lessons are data (the rustlings model)
//!
//! rustlings ships its exercises as files plus an `info.toml` that lists them in order; the
//! runner only knows how to read that list, run an exercise and record progress. We copy
//! the shape for the same reasons:
//! - ✅ a teacher fixes a typo or adds Day 31 with a Markdown file and a manifest entry —
//!   no Rust, no recompiling, a reviewable diff of prose;
//! - ✅ the engine is small and generic: nothing here knows what Day 30 *says*; the
//!   manifest says which experiment a lesson opens (`experiment = "race"`);
//! - ✅ the content is checkable as data: `lessons check` validates structure and every
//!   code reference in CI, like a linter for the course;
//! - ❌ the alternative — lessons as `const &str` in Rust, or screens that hard-code the
//!   lesson text — mixes content with code, and every wording fix becomes a code review
//!   and a release.
//!
//! The text is CommonMark (plus GFM tables), parsed by pulldown-cmark and laid out for the
//! window by `ui::markdown`: paragraphs reflow, tables get borders, code stays verbatim.
//! `--no-tui` prints the Markdown itself, which any Markdown viewer reads. So write lessons
//! as ordinary CommonMark: hard-wrap prose wherever convenient (it is reflowed), use GFM
//! tables for comparisons (they get borders and fit the window), and keep commands in
//! ```` ```bash ```` blocks under 78 columns (split with `\`), because code is never
//! reflowed — a longer line is folded at the window's edge with a `↪`.
//!
//! ## Writing a lesson (the workflow this engine supports)
//!
//! 1. an entry in `lessons/manifest.toml` (`status = "planned"` until the text exists);
//! 2. `lessons/dayNN/lesson.md` with the five required sections, then `status = "available"`;
//! 3. wherever the lesson shows code, a `lesson:<name>:start`/`end` comment pair around it
//!    in the source and a `{{source: path#name}}` line in the lesson (see [`source`]);
//! 4. `bookstore-lab lessons check`, then read the lesson in the TUI at 80 columns;
//! 5. if it is Day 30's first page, the lesson snapshot in tests/screens.rs changes —
//!    review and accept it like any screen change.

pub mod blocks;
pub mod check;
pub mod live;
pub mod manifest;
pub mod progress;
pub mod runner;
pub mod source;

use std::path::{Path, PathBuf};

pub use manifest::{ExperimentKind, LessonEntry, LessonStatus, Manifest};

// Source references are resolved relative to the *repository root* (the parent of
// `lessons/`), because lessons quote `services/…` and `lua/…`, which live beside it.
/// The `lessons/` directory and its parsed manifest.
#[derive(Clone, Debug)]
pub struct Library {
    /// `…/lessons`.
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Library {
    /// Loads `dir/manifest.toml` (without checking references: that is [`check::run`]).
    pub fn load(dir: impl AsRef<Path>) -> anyhow::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::load(&dir)?;
        Ok(Self { dir, manifest })
    }

    /// Finds `lessons/` (see [`find_dir`]) and loads it.
    pub fn discover() -> anyhow::Result<Self> {
        Self::load(find_dir()?)
    }

    /// The repository root: source references are relative to it.
    pub fn repo_root(&self) -> PathBuf {
        self.dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
    }

    pub fn get(&self, id: &str) -> Option<&LessonEntry> {
        self.manifest.lessons.iter().find(|l| l.id == id)
    }

    // Expansion fails as a whole if one reference is broken: a lesson with a hole where the
    // code should be would teach around a missing piece. The TUI shows the error instead,
    // and `lessons check` catches it before anyone opens the lesson.
    /// The lesson's Markdown with every source reference replaced by the real excerpt.
    /// A planned lesson has no text: it says so instead of pretending to be a lesson.
    pub fn text(&self, entry: &LessonEntry) -> anyhow::Result<String> {
        let Some(file) = &entry.file else {
            anyhow::bail!("lesson {} is not available yet", entry.id)
        };
        let raw = std::fs::read_to_string(self.dir.join(file))
            .map_err(|e| anyhow::anyhow!("lessons/{file}: {e}"))?;
        source::expand(&raw, &self.repo_root())
    }
}

// The order matters: the environment variable wins (tests point it at a temporary
// copy), then the working directory (a learner editing lessons in their own checkout
// sees their edits), and only then the compile-time path (`cargo run` from outside the
// checkout still works). A release binary shipped alone would need the lessons next to
// it — the last error says how to point at them.
/// Where `lessons/` is: `$BOOKSTORE_LESSONS_DIR`, else the nearest `lessons/manifest.toml`
/// at or above the current directory, else the copy next to this crate's sources (so a
/// `cargo run` from anywhere in the checkout finds it).
pub fn find_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("BOOKSTORE_LESSONS_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Ok(mut dir) = std::env::current_dir() {
        loop {
            if dir.join("lessons/manifest.toml").is_file() {
                return Ok(dir.join("lessons"));
            }
            if !dir.pop() {
                break;
            }
        }
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    if built_in.join("manifest.toml").is_file() {
        return Ok(built_in.canonicalize()?);
    }
    anyhow::bail!("cannot find lessons/manifest.toml (set BOOKSTORE_LESSONS_DIR)")
}
