//! `progress.json`: which lessons the learner has finished.
//!
//! Progress is explicit state in one small file in the lab directory (`.lab/progress.json`),
//! as rustlings does it: the learner can read it, delete it, or reset one lesson with
//! `bookstore-lab lesson day30 --reset`. It is written atomically (temp file + rename), so
//! a lab killed mid-write never leaves a half file that would lose all progress.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

const FILE: &str = "progress.json";

/// Lesson id → Unix seconds when it was marked done.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    #[serde(default)]
    pub completed: BTreeMap<String, u64>,
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

    pub fn save(&self, lab_dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(lab_dir)?;
        let tmp = lab_dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)?;
        std::fs::rename(tmp, lab_dir.join(FILE))?;
        Ok(())
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.completed.contains_key(id)
    }

    pub fn mark_done(&mut self, id: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.completed.entry(id.to_string()).or_insert(now);
    }

    /// Forgets a lesson (`--reset`); true if it had been done.
    pub fn reset(&mut self, id: &str) -> bool {
        self.completed.remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
