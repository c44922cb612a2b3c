//! The fenced blocks a lesson acts on: commands to run, answers to reveal, a checkpoint.
//!
//! The lesson format (lessons/README.md) gives four info strings a meaning beyond "show
//! this as code": ```` ```bash ```` is a command the TUI runs and `lessons check --run`
//! verifies, ```` ```bash norun ```` a command only a learner runs (it never ends, or it
//! stops the stack), ```` ```reveal ```` the answer to a 先猜再看 question, and
//! ```` ```checkpoint ```` the lesson's closing test (TOML, see [`Checkpoint`]).
//!
//! Blocks are found by pulldown-cmark, the same parser the page is drawn with, and not
//! by scanning for lines that start with three backticks. ❌ DON'T scan lines: a fence
//! inside a list item is indented, a ```` ```` ```` fence may hold a ```` ``` ```` line,
//! and a scanner that disagrees with the renderer runs a block the learner cannot see
//! (or numbers them differently from the screen, so Enter runs the wrong one).

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;

/// What a fenced block is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// `bash`: run in the TUI and by `lessons check --run`.
    Run,
    /// `bash norun`: selectable and runnable in the TUI, skipped by the check.
    NoRun,
    /// `reveal`: Markdown shown once the lesson's experiment has finished a run.
    Reveal,
    /// `checkpoint`: the lesson's questions and tasks (TOML).
    Checkpoint,
}

impl BlockKind {
    /// Whether the learner can select the block and press Enter on it.
    pub fn is_command(self) -> bool {
        matches!(self, BlockKind::Run | BlockKind::NoRun)
    }
}

/// One special block, where it is in the text, and its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// The 1-based line of the opening fence (what a failure report points at).
    pub line: usize,
    /// The byte range of the whole block, fences included (for rewriting the text).
    pub range: Range<usize>,
    /// The text between the fences, verbatim, its last newline included (`echo one\n`); an
    /// indented fence's indentation is already removed by the parser.
    pub body: String,
}

// The info string's first word decides; the rest are flags. Only `norun` is a flag today,
// and `bash` without it is the default on purpose: a command is checked unless its author
// says why not.
// `None` for every other info string (`text`, `rust`, `toml`): those stay ordinary code to
// read, and no key or check ever runs them.
fn kind_of(info: &str) -> Option<BlockKind> {
    let mut words = info.split_whitespace();
    match words.next()? {
        "bash" if words.any(|w| w == "norun") => Some(BlockKind::NoRun),
        "bash" => Some(BlockKind::Run),
        "reveal" => Some(BlockKind::Reveal),
        "checkpoint" => Some(BlockKind::Checkpoint),
        _ => None,
    }
}

/// Every special block of `markdown`, in document order (the order Tab walks).
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    // Offsets come with each event (`into_offset_iter`): the start of `Start(CodeBlock)` is
    // the fence's first byte, which gives both the line to report and the range to replace.
    // The open block's kind, its range so far and the body collected from its `Text` events
    // (pulldown-cmark may split one block's text into several events).
    let mut open: Option<(BlockKind, Range<usize>, String)> = None;
    for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            // Only fences opt in: an indented code block has no info string, so four spaces of
            // indentation can never turn quoted text into a command. Code blocks cannot nest,
            // so one open slot is enough, and an ordinary fence leaves it `None`.
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                open = kind_of(&info).map(|k| (k, range, String::new()));
            }
            // Text outside a special block (prose, ordinary code) arrives here too and is
            // dropped, because nothing is open then.
            Event::Text(t) => {
                if let Some((_, _, body)) = &mut open {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((kind, range, body)) = open.take() {
                    // Lines counted on the raw text, so a failure report points at the line the
                    // author sees in their editor, not at a line of the expanded lesson.
                    let line = markdown[..range.start].matches('\n').count() + 1;
                    out.push(Block { kind, line, range, body });
                }
            }
            _ => {}
        }
    }
    out
}

// `norun` blocks are selectable too: "the check must not run it" is not "the learner must
// not"; a `sleep infinity` watcher is run from the TUI and stopped with Esc.
/// The command blocks only (`bash` and `bash norun`), in order — what Tab selects.
pub fn commands(markdown: &str) -> Vec<Block> {
    blocks(markdown).into_iter().filter(|b| b.kind.is_command()).collect()
}

// Serde shapes of the lesson format's TOML (§4). `deny_unknown_fields` because a typo'd
// key (`explian`) would otherwise silently drop the explanation the check insists on.
/// A lesson's checkpoint: questions answered by number, tasks verified on the stack.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    #[serde(default)]
    pub question: Vec<Question>,
    #[serde(default)]
    pub task: Vec<Task>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub ask: String,
    /// Shown as `1)`, `2)`, … and answered with the number keys (`App::checkpoint_key`);
    /// from ten options on, an option takes two digits (`1` `2`) or a digit and Enter.
    pub options: Vec<String>,
    /// 1-based, as a learner counts (and presses the number key).
    pub answer: usize,
    pub explain: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub ask: String,
    #[serde(default)]
    pub hint: Option<String>,
    /// A bash script: exit 0 = done, 1 = not yet, anything else = the check is broken.
    ///
    /// Run by the same runner as a command block (`-euo pipefail`, the lab's variables,
    /// 60 s). A refused `curl` inside it ends it with curl's code 7, reported as a broken
    /// check; so is an unset variable, although bash exits 1 there (`Outcome::verdict`).
    pub check: String,
    pub explain: String,
}

/// One item of a checkpoint, in the order the learner meets them: questions, then tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Question(&'a Question),
    Task(&'a Task),
}

impl Checkpoint {
    /// Parses a `checkpoint` block's body.
    pub fn parse(body: &str) -> anyhow::Result<Self> {
        // TOML's error names the line and column inside the block; the caller adds the
        // block's own line in the lesson, so the two together point at the typo.
        toml::from_str(body).map_err(|e| anyhow::anyhow!("checkpoint TOML: {e}"))
    }

    /// Questions then tasks: the questions recall the lesson, the tasks then use it.
    // A position in this list is what the screen's selection and the run key
    // (`Purpose::Task { item }`) index by, and `item_id` numbers the same order (questions
    // first), so one position names one item on the screen, in a run and in progress.json.
    pub fn items(&self) -> Vec<Item<'_>> {
        let q = self.question.iter().map(Item::Question);
        q.chain(self.task.iter().map(Item::Task)).collect()
    }

    // Ids by position (`q1`, `t2`), recorded in progress.json. Editing the wording keeps a
    // learner's passes; reordering the questions does not — an honest trade for ids a
    // teacher never has to invent.
    /// The id of item `i` of [`Checkpoint::items`].
    pub fn item_id(&self, i: usize) -> String {
        match i.checked_sub(self.question.len()) {
            None => format!("q{}", i + 1),
            Some(t) => format!("t{}", t + 1),
        }
    }

    /// Structural problems (`lessons check` reports each); `bash -n` is the caller's job.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        // 3–5 because a checkpoint is a gate, not an exam: fewer items prove nothing, more
        // make "done" a chore, and learners start guessing numbers to get through.
        let n = self.question.len() + self.task.len();
        if !(3..=5).contains(&n) {
            out.push(format!("checkpoint has {n} items (3–5 expected)"));
        }
        // A checkpoint of questions only is passed by reading; the task is the part the
        // stack verifies, so it is what makes "done" mean "did it".
        if self.task.is_empty() {
            out.push("checkpoint has no task (at least one the stack can verify)".into());
        }
        for (i, q) in self.question.iter().enumerate() {
            // `answer = 0` is the classic slip of a 0-based habit in a 1-based format; out of
            // range, no number key could ever pass the question and the lesson never completes.
            if q.answer == 0 || q.answer > q.options.len() {
                out.push(format!(
                    "question {}: answer {} is not 1..={}",
                    i + 1,
                    q.answer,
                    q.options.len()
                ));
            }
            if q.explain.trim().is_empty() || q.ask.trim().is_empty() {
                out.push(format!("question {}: empty ask or explain", i + 1));
            }
        }
        // A blank `check` would "pass" at once: `bash -c ''` exits 0, so the first Enter would
        // mark the task done without the stack being asked anything.
        for (i, t) in self.task.iter().enumerate() {
            if t.explain.trim().is_empty() || t.ask.trim().is_empty() || t.check.trim().is_empty() {
                out.push(format!("task {}: empty ask, check or explain", i + 1));
            }
        }
        out
    }
}

// A hand-written scan rather than a regex: the syntax is one fixed prefix and `}}`, and
// the check (every key) and the screen (fill) must agree on what a placeholder is — both
// walk the text the same way, and an unclosed `{{measured:` is left as text by both.
/// `{{measured:KEY}}` placeholders in a reveal body, in order (duplicates kept).
pub fn placeholders(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{measured:") {
        let after = &rest[start + "{{measured:".len()..];
        let Some(end) = after.find("}}") else { break };
        // Trimmed, like `fill`: `{{measured: key }}` and `{{measured:key}}` are one key, so
        // the check and the screen cannot disagree over a space.
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

// An unknown key renders as `?key` rather than disappearing: `lessons check` rejects it
// anyway, and a visible `?` in the TUI is easier to report than a sentence with a hole.
/// `body` with every placeholder replaced by its figure from `value`.
pub fn fill(body: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{measured:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{{measured:".len()..];
        // Unclosed: the rest is copied as written, `{{measured:` included, exactly as
        // `placeholders` stops listing there — the check and the screen see the same text.
        let Some(end) = after.find("}}") else {
            rest = &rest[start..];
            break;
        };
        let key = after[..end].trim();
        out.push_str(&value(key).unwrap_or_else(|| format!("?{key}")));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // One lesson with each case the extraction must agree with the renderer on: a top-level
    // fence, an indented fence in a list item, an ordinary `text` block, a reveal, and a
    // four-backtick fence that holds a ``` line.
    const LESSON: &str = "# T\n\n```bash\necho one\n```\n\n- item\n\n  ```bash norun\n  # never ends\n  sleep infinity\n  ```\n\n```text\nnot a command\n```\n\n```reveal\n答案：{{measured:naive_sold}} 本\n```\n\n````bash\necho '```'\n````\n";

    // Proves extraction agrees with the renderer's parser: an indented fence inside a list
    // item counts, a ```` fence may hold a ``` line, `text` blocks are not commands, and
    // lines point at the opening fence.
    /// Command, norun and reveal blocks are found with their kind, line and body.
    #[test]
    fn blocks_are_found_with_kind_line_and_body() {
        let b = blocks(LESSON);
        let kinds: Vec<BlockKind> = b.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, [BlockKind::Run, BlockKind::NoRun, BlockKind::Reveal, BlockKind::Run]);
        assert_eq!(b[0].line, 3);
        assert_eq!(b[0].body, "echo one\n");
        assert_eq!(b[1].line, 9);
        assert!(b[1].body.starts_with("# never ends\nsleep infinity"), "{:?}", b[1].body);
        assert_eq!(b[3].body, "echo '```'\n");
        // The range ends at the closing fence, without its newline (pulldown-cmark's offsets):
        // a replacement that ends in `\n` keeps the blank line before the next paragraph.
        assert_eq!(&LESSON[b[0].range.clone()], "```bash\necho one\n```");
        assert_eq!(commands(LESSON).len(), 3);
    }

    // Proves the placeholder rules: keys are listed for the check, filled for the screen,
    // and an unknown one stays visible as `?key`.
    /// Placeholders are listed and filled; an unknown key shows as `?key`.
    #[test]
    fn placeholders_are_listed_and_filled() {
        let body = "卖出 {{measured:naive_sold}} 本，{{measured: nope }}。";
        assert_eq!(placeholders(body), ["naive_sold", "nope"]);
        let filled = fill(body, |k| (k == "naive_sold").then(|| "83".to_string()));
        assert_eq!(filled, "卖出 83 本，?nope。");
    }

    // Proves each validation rule fires, so none can silently pass: the bad fixture breaks
    // four at once (answer out of range, a blank explain, no task, two items), and the
    // count catches a rule that stopped firing as well as one that fires twice.
    /// A checkpoint with an answer out of range, a blank explain, no task and two items gets
    /// four problems.
    #[test]
    fn checkpoint_rules_are_enforced() {
        let ok = Checkpoint::parse(
            "[[question]]\nask='a'\noptions=['x','y']\nanswer=2\nexplain='e'\n[[question]]\nask='b'\noptions=['x']\nanswer=1\nexplain='e'\n[[task]]\nask='t'\ncheck='exit 0'\nexplain='e'\n",
        )
        .unwrap();
        assert!(ok.problems().is_empty(), "{:?}", ok.problems());
        // Ids restart per kind: the first task is `t1` even after two questions, so adding a
        // question does not rename the tasks a learner already passed.
        assert_eq!(ok.item_id(1), "q2");
        assert_eq!(ok.item_id(2), "t1");
        let bad = Checkpoint::parse(
            "[[question]]\nask='a'\noptions=['x','y']\nanswer=3\nexplain='e'\n[[question]]\nask='b'\noptions=['x']\nanswer=1\nexplain=' '\n",
        )
        .unwrap();
        let p = bad.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        // `deny_unknown_fields`: the typo is a parse error, not an explanation silently lost.
        assert!(Checkpoint::parse("[[question]]\nask='a'\nexplian='typo'\n").is_err());
    }
}
