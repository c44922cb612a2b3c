//! `lessons/manifest.toml`: the list of lessons, in course order.
//!
//! The manifest carries a `format_version`, so an older binary meeting newer content
//! refuses clearly ("format 2, this bookstore-lab reads 1") instead of misreading it.
//! Unknown keys are rejected for the same reason: a typo (`experment = …`) must fail
//! `lessons check`, not silently drop the experiment.
//!
//! Why TOML and not YAML or JSON: the course's other config is TOML (Cargo, `config/`),
//! it allows comments (the manifest's header explains itself), and it has no implicit
//! typing surprises (`no` is not a boolean). serde does the parsing; this module only
//! adds the two rules serde cannot know — the version and the status/file pairing (the
//! latter is checked by `check.rs`).

use std::path::Path;

use serde::Deserialize;

// Bump it for a breaking change (a renamed key, a changed meaning). An added optional
// key (`#[serde(default)]`) needs no bump: new binaries still read old manifests. Old
// binaries will refuse the new key (`deny_unknown_fields`) — the conservative choice for
// a course: better "update bookstore-lab" than a lesson silently missing its experiment.
/// The manifest format this binary reads.
pub const FORMAT_VERSION: u32 = 1;

/// The whole manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    // `[[lesson]]` (singular) is how TOML arrays of tables read best; the Rust field is
    // plural because it is a list.
    #[serde(rename = "lesson", default)]
    pub lessons: Vec<LessonEntry>,
}

// Order in the file is course order: the list shows lessons as written, so moving an
// entry is how a teacher reorders the course — no `order` field to keep consistent.
/// One lesson (one course day or pair of days).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LessonEntry {
    /// `day30` — what `bookstore-lab lesson <id>` takes.
    pub id: String,
    /// The course day (29–35).
    pub day: u32,
    /// The title shown in the list.
    pub title: String,
    // Explicit rather than inferred from `file` being present: "planned" is a decision the
    // teacher writes down, and `lessons check` can then flag the contradictions (a planned
    // lesson with a file, an available one without).
    pub status: LessonStatus,
    /// The Markdown file, relative to `lessons/`; only for available lessons.
    #[serde(default)]
    pub file: Option<String>,
    /// The live experiment this lesson opens, if any.
    #[serde(default)]
    // Data, not code: giving Day 31 an experiment is one line here once the engine knows
    // the kind — no `if id == "day31"` anywhere in the TUI.
    pub experiment: Option<ExperimentKind>,
}

impl LessonEntry {
    pub fn is_available(&self) -> bool {
        self.status == LessonStatus::Available
    }
}

/// Written, or announced for later. A planned lesson shows in the list as "not yet
/// available" and has no text — no placeholder that pretends to teach.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LessonStatus {
    Available,
    Planned,
}

// A closed enum: the manifest can only name experiments the engine implements, and a
// typo (`experiment = "races"`) fails parsing instead of opening nothing.
/// The experiments the lab knows how to run.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentKind {
    /// Day 30: naive vs FOR UPDATE vs Lua on the same stock.
    Race,
    /// Day 29: a skewed read load on the catalog, hit rate and invalidation.
    Cache,
    /// Day 31–32: concurrent orders on little stock, compensation, cancel and expiry.
    Orders,
    /// Day 35: load over several user-service instances, `kill -9` one, watch discovery.
    Discovery,
    /// Day 33–34: a payment's timeline, duplicate callbacks, a kill -9, a refund.
    Payments,
    /// Week 6 capstone: a flash sale through the gateway, faults injected, an invariant board.
    Flash,
}

impl Manifest {
    /// Reads and parses `dir/manifest.toml`, refusing a format this binary does not read.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::parse(&text)
    }

    // The version check comes *after* parsing because `format_version` is itself read from the
    // file; a future format that breaks parsing entirely would fail with serde's error, which
    // still names the file and the line.
    // Separate from `load` so tests (and `lessons check` on an in-memory fixture) can parse
    // text without touching the disk.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let m: Manifest =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("manifest.toml: {e}"))?;
        anyhow::ensure!(
            m.format_version == FORMAT_VERSION,
            "manifest.toml has format_version {}, this bookstore-lab reads {FORMAT_VERSION}",
            m.format_version
        );
        Ok(m)
    }
}
