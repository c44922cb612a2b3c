//! `progress.json`: which lessons the learner has finished.
//!
//! Progress is explicit state in one small file in the lab directory (`.lab/progress.json`),
//! as rustlings does it: the learner can read it, delete it, or reset one lesson with
//! `bookstore-lab lesson day30 --reset`. It is written atomically (temp file + rename), so
//! a lab killed mid-write never leaves a half file that would lose all progress.
//!
//! Semantics, precisely:
//! - a lesson is *done* when its id is a key of `completed`; the value is when it was first
//!   marked (Unix seconds) — marking again keeps the first date;
//! - it is marked done when every item of its checkpoint has passed (`passed` records
//!   each: questions answered right, tasks whose check exited 0 on the stack) — never on
//!   a keypress. A rustlings exercise is done when it compiles; "understood why naive
//!   oversells" is as close as a program gets to checking understanding, so we check that
//!   rather than take the learner's word;
//! - ids are matched as strings and never validated against the manifest: progress for a
//!   lesson that was renamed or removed is kept, harmlessly, instead of being deleted by a
//!   newer binary;
//! - a missing file means "nothing done"; a *corrupt* file is an error, not silently
//!   "nothing done" — quietly wiping a learner's record is worse than telling them.
//!
//! Why in the lab directory and not `~/.config`: the progress belongs to one checkout of
//! the course; deleting `.lab/` starts the course over, like deleting a rustlings clone.
//!
//! The whole file, after finishing Day 29 and Day 30:
//!
//! ```json
//! {
//!   "completed": {
//!     "day29": 1795920000,
//!     "day30": 1796006400
//!   }
//! }
//! ```
//!
//! Small enough to read and edit by hand; a field added later (say, per-lesson notes)
//! gets `#[serde(default)]` so older files keep loading.
//!
//! With a checkpoint under way, `passed` holds the items so far (`"day31": ["q1", "t1"]`).
//!
//! Try it: pass a lesson's checkpoint (`c` in the lesson), then `cat .lab/progress.json`;
//! reset it with `bookstore-lab lesson day30 --reset` and look again. There is no other state.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use serde::{Deserialize, Serialize};

const FILE: &str = "progress.json";

// A `BTreeMap` so the JSON is written in a stable, sorted order: a learner who keeps
// `.lab/` in a dotfiles repo gets clean diffs.
/// Lesson id → Unix seconds when it was marked done.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    #[serde(default)]
    pub completed: BTreeMap<String, u64>,
    // Added with checkpoints; `default` keeps an older file (only `completed`) loading.
    /// Lesson id → the checkpoint items passed so far (`q1`, `t2`, see `Checkpoint::item_id`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub passed: BTreeMap<String, BTreeSet<String>>,
}

impl Progress {
    /// Reads the file; a missing file is "nothing done yet".
    pub fn load(lab_dir: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(lab_dir.join(FILE)) {
            Ok(text) => Ok(serde_json::from_str(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e.into()),
        }
    }

    // Write-then-rename: `rename` within one directory is atomic on POSIX filesystems, so a
    // reader sees either the old file or the new one, never a truncated mix. ❌ DON'T
    // `fs::write` the real path directly — a crash between truncate and write leaves `{}` or
    // nothing, and the learner's record is gone. (A fully durable version would also fsync
    // the file and the directory; for a progress file a lost last mark is acceptable.)
    pub fn save(&self, lab_dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(lab_dir)?;
        let tmp = lab_dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(tmp, lab_dir.join(FILE))?;
        Ok(())
    }

    // Reads `completed` only: once done, a lesson stays done even if its checkpoint later
    // grows an item — a finished learner is not un-finished by a newer edition of the text.
    pub fn is_done(&self, id: &str) -> bool {
        self.completed.contains_key(id)
    }

    pub fn mark_done(&mut self, id: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // A clock before 1970 (`unwrap_or(0)`) is a broken VM, not a reason to fail marking.
        self.completed.entry(id.to_string()).or_insert(now);
    }

    /// Forgets a lesson (`--reset`): done and every passed item; true if anything was set.
    pub fn reset(&mut self, id: &str) -> bool {
        // Both maps: clearing only `completed` would let the next single pass re-complete
        // the lesson at once from the items still recorded.
        let items = self.passed.remove(id).is_some();
        self.completed.remove(id).is_some() || items
    }

    pub fn has_passed(&self, id: &str, item: &str) -> bool {
        self.passed.get(id).is_some_and(|s| s.contains(item))
    }

    // The done rule lives here, next to the state it changes, so the TUI cannot mark a lesson
    // done any other way. `all` is every item id of the lesson's checkpoint: an empty list
    // (a lesson without a checkpoint) never completes — there is nothing to have passed.
    /// Records that `item` of lesson `id` passed; marks the lesson done once every id of
    /// `all` has passed. Returns true when this pass completed the lesson.
    // Why "every item" and not a score: the one item the stack verifies is a task, and a
    // threshold (4 of 5) lets a learner skip exactly that one and be "done" by reading.
    // ❌ DON'T test `passed.len() == all.len()`: ids of items a later edit removed stay in
    // `passed`, so a count could say done while a newly added item was never passed; the
    // membership test below asks about the current ids only.
    pub fn pass(&mut self, id: &str, item: &str, all: &[String]) -> bool {
        self.passed.entry(id.to_string()).or_default().insert(item.to_string());
        let complete = !all.is_empty() && all.iter().all(|i| self.has_passed(id, i));
        let first = complete && !self.is_done(id);
        if complete {
            self.mark_done(id);
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the whole lifecycle against a real temporary directory: missing file → empty,
    // mark + save + load keeps the lesson, and `reset` reports whether anything was reset
    // (true once, then false), which is what the `--reset` message relies on.
    /// Marking, saving, loading and resetting round-trip through the file.
    #[test]
    fn progress_round_trips_and_resets() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Progress::load(dir.path()).unwrap(), Progress::default());
        let mut p = Progress::default();
        p.mark_done("day30");
        p.save(dir.path()).unwrap();
        let mut back = Progress::load(dir.path()).unwrap();
        assert!(back.is_done("day30"));
        assert!(back.reset("day30"));
        assert!(!back.reset("day30"));
    }

    // Proves the done rule: passing items one by one does not complete the lesson until
    // the last one, a repeated pass is harmless, and the passes survive a save and load.
    /// A lesson is done exactly when every checkpoint item has passed.
    #[test]
    fn a_lesson_is_done_only_when_every_item_passed() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<String> = ["q1", "q2", "t1"].map(String::from).to_vec();
        let mut p = Progress::default();
        assert!(!p.pass("day31", "q1", &all));
        assert!(!p.pass("day31", "q1", &all));
        assert!(!p.pass("day31", "t1", &all));
        assert!(!p.is_done("day31"));
        assert!(p.pass("day31", "q2", &all), "the last item completes the lesson");
        assert!(p.is_done("day31"));
        assert!(!p.pass("day31", "q2", &all), "completing twice is not news");
        p.save(dir.path()).unwrap();
        assert!(Progress::load(dir.path()).unwrap().has_passed("day31", "t1"));
        assert!(!p.pass("day32", "q1", &[]), "no checkpoint, never done");
    }
}
