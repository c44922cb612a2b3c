//! `bookstore-lab lessons check`: every problem in `lessons/`, so CI fails and not a learner.
//!
//! What is checked, and why each one:
//! - the manifest parses and has the `format_version` this binary reads;
//! - ids are unique (two `day30` entries would make `lesson day30` ambiguous);
//! - an available lesson has a file that exists; a planned one has none (no placeholder
//!   text pretending to be a lesson);
//! - an available lesson has the five sections every lesson promises (the idea, DO/DON'T,
//!   the experiment, pitfalls, "check it yourself");
//! - every `{{source: path#marker}}` resolves: the file exists and the marker is found
//!   exactly once — the guarantee that quoted code is the real, current code;
//! - every `{{measured:KEY}}` in a `reveal` block is a key the lesson's experiment fills
//!   (`experiments::figure_keys`), so an answer never shows a hole;
//! - a `checkpoint` block parses, has 3–5 items with at least one task, answers in range,
//!   explanations, and every task's `check` passes `bash -n` (syntax only — whether it
//!   works on a stack is `lessons check --run`'s job, [`super::live`]);
//! - every command block passes `bash -n` too: a quote left open fails here, in a second,
//!   instead of after a stack start.
//!
//! Design choices:
//! - ✅ collect *every* problem, then report; a check that stops at the first error turns
//!   one rename into five CI round trips.
//! - ✅ the check is a library function returning a report, not a command that prints:
//!   `cargo test` (tests/lessons_check.rs) and `bookstore-lab lessons check` share it, so
//!   CI and a teacher at their desk see the same verdict.
//! - ❌ no network, no database: it checks the *text*. Whether the quoted code is still
//!   correct is the code's own tests' job; this guarantees that the lesson shows it.
//!
//! What it does not check (yet), so nobody assumes it does:
//! - that a code fence is closed (an unclosed one styles the rest of the lesson as code);
//! - that the `experiment` a lesson names works against a running stack — that needs the
//!   stack; the tmux end-to-end test covers Day 30's;
//! - orphan markers: a `lesson:x:start/end` pair in the code that no lesson quotes any
//!   more. Harmless, but it misleads the next editor into keeping code "for a lesson";
//! - that the prose still matches the code it quotes — that is what review is for.

use std::collections::HashSet;

use super::{Library, blocks::BlockKind, manifest::Manifest, source};

// A fixed skeleton is what makes seven lessons by different authors feel like one course,
// and it guarantees every lesson ends with commands the learner can run to verify it.
// Matched by prefix, so `## 实验：三种扣减赛跑` satisfies `## 实验`.
/// The sections (level-2 headings) every available lesson has, in this order.
pub const REQUIRED_SECTIONS: &[&str] =
    &["## 核心概念", "## DO / DON'T", "## 实验", "## 常见陷阱", "## 自己动手验证"];

// The counts are part of the success message (`2 lessons, 9 source references`) so a
// check that silently checked nothing — a wrong directory, an empty manifest — is visible.
/// What `lessons check` found: one line per problem, and what was checked.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Each line starts with the lesson id, so `… | grep day30` finds one lesson's problems.
    pub problems: Vec<String>,
    /// Number of lessons and source references verified.
    pub lessons: usize,
    pub references: usize,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the `lessons/` directory at `dir`.
pub fn run(dir: &std::path::Path) -> CheckReport {
    let mut report = CheckReport::default();
    // A manifest that does not parse stops the check: without it there is no list of lessons
    // to check, and anything reported after would be noise.
    let manifest = match Manifest::load(dir) {
        Ok(m) => m,
        Err(e) => {
            report.problems.push(format!("{e:#}"));
            return report;
        }
    };
    // Built directly (not `Library::load`) because the manifest was already loaded above and
    // its error already reported.
    let lib = Library { dir: dir.to_path_buf(), manifest };
    // A reference's path is relative to the repository root, the parent of `lessons/` —
    // which is why the tests below build `lessons/` with the quoted files beside it.
    let root = lib.repo_root();
    let mut seen = HashSet::new();
    for entry in &lib.manifest.lessons {
        report.lessons += 1;
        let id = &entry.id;
        // A duplicate is reported but the entry is still checked: its file may have problems of
        // its own, and reporting them now saves a round trip.
        if !seen.insert(id.clone()) {
            report.problems.push(format!("{id}: duplicate lesson id"));
        }
        // The four combinations of (has file, is available), each with its own message: the
        // match is exhaustive, so a new status variant would force a decision here.
        match (&entry.file, entry.is_available()) {
            (None, true) => report.problems.push(format!("{id}: available but has no `file`")),
            (Some(f), false) => report
                .problems
                .push(format!("{id}: planned lessons have no text, but `file = {f:?}` is set")),
            (None, false) => {}
            (Some(file), true) => {
                let text = match std::fs::read_to_string(dir.join(file)) {
                    Ok(t) => t,
                    Err(e) => {
                        report.problems.push(format!("{id}: lessons/{file}: {e}"));
                        continue;
                    }
                };
                // Sections are checked on the *raw* Markdown, references on each reference line: the
                // check never expands the lesson, so one broken reference cannot hide the others.
                check_sections(id, &text, &mut report.problems);
                // Blocks on the raw text as well: their line numbers are the author's, and an
                // expanded excerpt never adds a `bash` block (see `source.rs`).
                check_blocks(id, file, entry.experiment, &text, &mut report.problems);
                // Each reference is resolved exactly as the TUI would resolve it (same `source::resolve`),
                // so "check passed" means "every lesson displays".
                for r in source::references(&text) {
                    report.references += 1;
                    if let Err(e) = source::resolve(&r, &root) {
                        report
                            .problems
                            .push(format!("{id}: lessons/{file}:{}: {r}: {e:#}", r.line));
                    }
                }
            }
        }
    }
    report
}

// `bash -n` parses without running: cheap enough for every block of every lesson, and it
// catches what review misses in a 30-line command (an unclosed quote, a stray `fi`).
// What it cannot catch is anything bash only learns by running: a misspelt command or
// flag (`grpcurl -plaintxt`) parses fine, and only `--run` against a stack fails it.
fn bash_syntax(script: &str) -> Result<(), String> {
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Reveal keys, checkpoint structure and the shell syntax of commands and checks.
fn check_blocks(
    id: &str,
    file: &str,
    experiment: Option<super::ExperimentKind>,
    text: &str,
    problems: &mut Vec<String>,
) {
    // The same `blocks::blocks` the TUI and `--run` use: the check validates the blocks the
    // screen will number and run, never a second opinion about where a block is.
    let mut checkpoints = 0;
    for b in super::blocks::blocks(text) {
        let at = format!("{id}: lessons/{file}:{}", b.line);
        match b.kind {
            BlockKind::Run | BlockKind::NoRun => {
                if let Err(e) = bash_syntax(&b.body) {
                    problems.push(format!("{at}: bash -n: {e}"));
                }
                // The format's rule for `norun`: say why on the first line, or the next editor
                // "fixes" it back into a block that hangs the check.
                if b.kind == BlockKind::NoRun && !b.body.trim_start().starts_with('#') {
                    problems.push(format!(
                        "{at}: a `bash norun` block starts with a `#` comment saying why"
                    ));
                }
            }
            BlockKind::Reveal => {
                let Some(kind) = experiment else {
                    problems
                        .push(format!("{at}: a reveal block in a lesson without an experiment"));
                    continue;
                };
                // The known keys go into the message: the author sees the spelling that would
                // have worked without opening the experiment's source.
                let keys = crate::experiments::figure_keys(kind);
                for k in super::blocks::placeholders(&b.body) {
                    if !keys.contains(&k) {
                        problems.push(format!(
                            "{at}: unknown key `{{{{measured:{k}}}}}` (known: {})",
                            keys.join(", ")
                        ));
                    }
                }
            }
            BlockKind::Checkpoint => {
                checkpoints += 1;
                match super::blocks::Checkpoint::parse(&b.body) {
                    Err(e) => problems.push(format!("{at}: {e:#}")),
                    Ok(cp) => {
                        problems.extend(cp.problems().into_iter().map(|p| format!("{at}: {p}")));
                        for (i, t) in cp.task.iter().enumerate() {
                            // Checks are scripts too, and a syntax error in one reads to the
                            // learner as a task that can never pass.
                            if let Err(e) = bash_syntax(&t.check) {
                                problems.push(format!("{at}: task {} check: bash -n: {e}", i + 1));
                            }
                        }
                    }
                }
            }
        }
    }
    // More than one is an error because the screen opens the first only (`App::checkpoint`)
    // and progress ids (`q1`, `t1`) are per lesson: a second one's items could never pass.
    if checkpoints > 1 {
        problems
            .push(format!("{id}: lessons/{file}: {checkpoints} checkpoint blocks (one expected)"));
    }
}

// "Out of order" compares positions among the headings found: a lesson with `## 实验`
// before `## DO / DON'T` is flagged, because the experiment is meant to test what the
// DO/DON'T section claimed.
/// Reports every required section that is missing or out of order.
fn check_sections(id: &str, text: &str, problems: &mut Vec<String>) {
    // Raw lines, not parsed headings: a `## ` line inside a code block (a bash comment
    // `## step 2`) is counted as a heading too. Harmless unless it repeats a required name,
    // when it could satisfy or misorder a section that the page does not show as one.
    let headings: Vec<&str> =
        text.lines().filter(|l| l.starts_with("## ")).map(str::trim_end).collect();
    // `last` is the position of the previous required section among all `##` headings, so
    // extra sections in between (a lesson may add `## 延伸阅读`) are allowed; only the order of
    // the required ones is enforced.
    let mut last = 0;
    for section in REQUIRED_SECTIONS {
        match headings.iter().position(|h| h.starts_with(section)) {
            None => problems.push(format!("{id}: missing section `{section}`")),
            Some(p) if p < last => {
                problems.push(format!("{id}: section `{section}` is out of order"))
            }
            Some(p) => last = p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Builds a throwaway repository (`lessons/` plus source files beside it) so each test
    // states exactly the content it checks; the real `lessons/` is checked by
    // tests/lessons_check.rs.
    fn lab(manifest: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lessons");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
        for (path, text) in files {
            let p = root.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        root
    }

    // The five required headings and nothing else: the smallest body `check_sections`
    // accepts, so a test's other content is the only thing that can produce a problem.
    const SECTIONS: &str = "## 核心概念\n## DO / DON'T\n## 实验\n## 常见陷阱\n## 自己动手验证\n";

    // Proves the drift guarantee: the marker was deleted (the file has none), and the check
    // says which lesson, which line and which reference — exactly one problem, no noise.
    /// A lesson whose reference points at a marker that does not exist fails the check,
    /// naming the lesson, the line and the reference.
    #[test]
    fn a_broken_marker_reference_is_reported() {
        let body = format!("{SECTIONS}{{{{source: code.lua#gone}}}}\n");
        let root = lab(
            "format_version = 1\n[[lesson]]\nid = \"d\"\nday = 29\ntitle = \"t\"\nstatus = \"available\"\nfile = \"d.md\"\n",
            &[("lessons/d.md", &body), ("code.lua", "-- no markers\n")],
        );
        let r = run(&root.path().join("lessons"));
        // Exactly one: the five sections are present, so a section rule misfiring on this
        // lesson would show up here as a second problem.
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("code.lua#gone"), "{:?}", r.problems);
    }

    // Proves the version gate: format 99 stops the check with a message naming the version.
    /// A newer manifest format is refused instead of misread.
    #[test]
    fn an_unknown_format_version_is_reported() {
        // No lessons at all: the version gate must stop the check before the (empty) list is
        // walked, or a future format would pass as "0 lessons, all fine".
        let root = lab("format_version = 99\n", &[]);
        let r = run(&root.path().join("lessons"));
        assert!(!r.is_ok());
        assert!(r.problems[0].contains("format_version 99"));
    }

    // Proves both structure rules in one run, which also shows that problems accumulate
    // (the check did not stop after the first).
    /// Planned lessons must not carry text, and available ones need all five sections.
    #[test]
    fn planned_text_and_missing_sections_are_reported() {
        let root = lab(
            "format_version = 1\n[[lesson]]\nid = \"a\"\nday = 29\ntitle = \"t\"\nstatus = \"available\"\nfile = \"a.md\"\n[[lesson]]\nid = \"p\"\nday = 31\ntitle = \"t\"\nstatus = \"planned\"\nfile = \"p.md\"\n",
            &[("lessons/a.md", "## 核心概念\n")],
        );
        let r = run(&root.path().join("lessons"));
        assert!(r.problems.iter().any(|p| p.contains("p: planned")));
        assert!(r.problems.iter().any(|p| p.contains("missing section `## 实验`")));
    }
}
