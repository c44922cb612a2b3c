//! The Day 29 cache screen's state: the load's figures, the hit-rate series and the two
//! writes that must invalidate.

use bookstore_loadgen::Snapshot;
use ratatui::crossterm::event::KeyCode;

use super::{App, Command, Screen, step};
use crate::experiments::cache::{CacheEvent, CacheParams, HitCounts};

// Counts are kept twice on purpose: `last_second` drives the sparkline (how the hit rate
// moves right now, e.g. the dip after an invalidation) and `total` the headline (what
// the run achieved overall). One without the other hides either the dip or the result.
/// The Day 29 cache screen.
#[derive(Clone, Debug, Default)]
pub struct CacheState {
    /// The knobs for the next run (`-`/`+` readers); a running load keeps the ones it
    /// started with, because `StartCache` carries a copy.
    pub params: CacheParams,
    pub running: bool,
    /// A run finished in this session: the lesson's reveal may quote its figures.
    pub done: bool,
    /// How many books the run listed; the Zipf ranks are spread over exactly these, so a
    /// larger catalogue at the same skew lowers the hit rate a short run can reach.
    pub books: u64,
    // `None` until the run has listed the catalogue; the `u` key needs it and says so.
    /// The most-read book (Zipf rank 0: the newest listed), whose stock `u` changes and the
    /// screen follows.
    pub hot: Option<u64>,
    /// The load engine's snapshot: client-side TPS and latency, cumulative since Enter.
    pub load: Snapshot,
    /// Hit rate per second, in percent (for the sparkline).
    // Integers because ratatui's `Sparkline` takes `u64`s; rounded percent is all a
    // sparkline 78 columns wide can show anyway. It grows by one per second of a run (30
    // by default), so it needs no cap for a lab session.
    pub hit_series: Vec<u64>,
    /// catalog-service's own `cache_requests_total`, differenced over the last second —
    /// the server's count, not a guess from client-side latencies.
    pub last_second: HitCounts,
    /// The same counters since the run's first scrape (the baseline taken at start), so
    /// lookups from before Enter (a lesson command's `grpcurl`) are not in the headline.
    pub total: HitCounts,
    // `None` when the read failed (service restarted mid-run): the screen shows `-` rather
    // than a stale number that would look like a missed invalidation.
    pub hot_stock: Option<i32>,
    /// Answers to `p` and `u`, oldest first, so each dip can be matched to its write.
    pub notes: Vec<String>,
    /// Why the run stopped (catalog-service not running, say); replaces the status line.
    pub error: Option<String>,
}

// 16 (the default, `CacheParams::default`) is a step, so the first `+` or `-` lands on a
// neighbour instead of snapping somewhere unexpected; 1 reader is there to show that the
// hit rate does not depend on concurrency, only on the skew and the catalogue size.
/// Steps of the readers knob.
const READER_STEPS: &[u32] = &[1, 4, 8, 16, 32, 64];

impl App {
    // `p` and `u` are allowed while the load runs — that is the point: the learner writes
    // *during* the read load and watches the hit rate dip and the hot book's stock change
    // within a second. They do not need a running load either; then only the note appears.
    /// Keys of the cache experiment: start, and the two writes that must invalidate.
    pub(super) fn cache_key(&mut self, code: KeyCode) -> Vec<Command> {
        match code {
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace => self.screen = Screen::Lesson,
            KeyCode::Enter | KeyCode::Char('r') if !self.cache.running => {
                let params = self.cache.params;
                self.cache = CacheState { params, running: true, ..CacheState::default() };
                return vec![Command::StartCache(params)];
            }
            KeyCode::Char('p') => {
                self.notice = Some("正在发布新书…".into());
                return vec![Command::PublishBook];
            }
            KeyCode::Char('u') => match self.cache.hot {
                Some(id) => {
                    self.notice = Some(format!("正在修改图书 {id} 的库存…"));
                    return vec![Command::ChangeStock(id)];
                }
                None => self.notice = Some("先按 Enter 开始实验，找到最热的书".into()),
            },
            // Readers move in powers of two-ish steps: the hit rate barely depends on the number of
            // readers, but the service's CPU does, and on a 2-core laptop 64 readers is already
            // enough to see the catalog-service saturate in the dashboard.
            KeyCode::Char('-') => {
                self.cache.params.readers = step(READER_STEPS, self.cache.params.readers, false)
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.cache.params.readers = step(READER_STEPS, self.cache.params.readers, true)
            }
            // Enter during a run lands here and does nothing: the load ends on its own after
            // `duration_secs`, and a second load would double the readers behind one chart.
            _ => {}
        }
        Vec::new()
    }

    // A second with zero lookups (the load has not started, or a scrape failed) would plot
    // as a 0 % hit rate, and a learner would read it as "the cache emptied". Skipping it is
    // the honest rendering: no data is not the same as bad data.
    /// Folds a cache event into the screen state; the per-second hit rate is appended to
    /// the sparkline only when something was looked up in that second (no fake zeros).
    pub(super) fn on_cache(&mut self, e: CacheEvent) {
        let c = &mut self.cache;
        match e {
            // The runner picks the hot book (the newest one listed, rank 0 of its Zipf draw);
            // the screen only learns it here, which is why `u` waits for this event.
            CacheEvent::Started { books, hot } => {
                c.books = books;
                c.hot = Some(hot);
            }
            CacheEvent::Progress { load, last_second, total, hot_stock } => {
                c.load = load;
                c.last_second = last_second;
                c.total = total;
                c.hot_stock = hot_stock;
                if let Some(r) = last_second.rate() {
                    c.hit_series.push((r * 100.0).round() as u64);
                }
            }
            // Notes (publish / stock change results) go both to the footer, where the learner is
            // looking, and to the list on the screen, which keeps the history of the writes so the
            // dips in the sparkline can be matched to them afterwards.
            CacheEvent::Note(n) => {
                c.notes.push(n.clone());
                self.notice = Some(n);
            }
            CacheEvent::Done => {
                c.running = false;
                c.done = true;
            }
            CacheEvent::Failed(msg) => {
                c.running = false;
                c.error = Some(msg);
            }
        }
    }
}
