//! What a sale reports while it runs and when it ends: the per-second [`Tick`], each
//! fault's [`FaultRecord`], the final [`Summary`], and the [`FlashEvent`]s that carry them.

use super::{FlashParams, board::Row, checklist, shopper::Route};

/// One injected fault and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRecord {
    /// [`Fault::label`], for the screen and the summary.
    pub label: String,
    /// Seconds into the sale.
    /// Measured from the sale's `started` (after the book was published), like
    /// [`Tick::elapsed_s`], so a fault's row lines up with the ticks around it.
    pub at_s: f64,
    /// The step the recovery is timed on ([`Fault::route`]).
    pub route: Route,
    /// The action's own report, or its error.
    pub note: Option<String>,
    /// From the moment the loop received the fault to the end of the lab's action (see the
    /// `flash` module docs); `None` while it runs, and for an action that failed.
    pub restored_ms: Option<u64>,
    /// From the same start to the *answer* of the first non-error request on `route` that
    /// was sent after the fault began. `None` until one arrives; it stays `None` when no
    /// request on that route was sent afterwards (the sale ended first), shown as "-".
    pub recovered_ms: Option<u64>,
    /// Answers on `route` that were errors between the fault and the recovery.
    pub failed_answers: u64,
}

/// The shoppers' counts at one moment.
///
/// Every field is a count of shoppers or of requests, read from [`Tally`]'s atomics one
/// by one: a tick may see one counter a request ahead of another. That is fine for a
/// display; the one decision taken from these numbers (all shoppers `finished`) reads a
/// single counter, the last one each shopper bumps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// The sale's `FlashParams::shoppers`: every other count is a part of it, and catch-up
    /// begins when `finished` reaches it.
    pub shoppers: u64,
    /// Shoppers past register and login (their set-up steps).
    pub logged_in: u64,
    /// Shoppers who got an order (one each, whatever retries it took).
    pub placed: u64,
    /// Shoppers who never got an order because the sale stayed sold out until it ended.
    pub refused: u64,
    /// Shoppers who got an order and left it unpaid on purpose.
    pub abandoned: u64,
    /// Shoppers who *saw* their order turn Paid. order_db's count (in [`Summary::orders`])
    /// may be higher: a shopper who gave up polling may still have paid.
    pub paid: u64,
    /// Requests re-sent, over all shoppers and steps: the cost of the faults in traffic.
    pub retries: u64,
    /// Retries the gateway answered from its idempotency record: each is a duplicate order
    /// that the key prevented.
    pub replayed: u64,
    /// Shoppers who stopped on a final error or a step's deadline.
    pub gave_up: u64,
    /// Shoppers done for any reason (including a stop); catch-up waits for all of them.
    pub finished: u64,
    /// Shoppers whose task panicked: a bug of the lab, not of the stores (in `finished`).
    /// The summary has a line for it when it is not 0; the tick line and the TUI do not.
    pub crashed: u64,
    /// The last give-up's reason: one line is enough to tell a fault that outlasted the
    /// retries from a request the lab built wrong.
    pub last_error: Option<String>,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Shoppers still arriving or checking out; faults can be injected.
    Selling,
    /// Shoppers done; waiting for every store to agree.
    CatchingUp,
    /// Every check held after catch-up, or `CATCH_UP` ran out; the summary follows.
    Done,
}

/// One second of the sale.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Seconds since the sale started (set-up excluded).
    pub elapsed_s: f64,
    /// The phase *after* this tick's decision: the tick that moves to `Done` is the last
    /// one, and it says so itself.
    pub phase: Phase,
    pub counts: Counts,
    /// Successful requests per second over the last second, and their p99.
    ///
    /// "Per second" holds only while ticks are a second apart: a tick delayed by a blocked
    /// sample (a paused MariaDB) counts every success since the previous tick. Successes
    /// include every route — register, login, orders, payments and the poll that saw Paid —
    /// so it answers "is the system serving at all", not "how many orders per second".
    pub rps: f64,
    /// The latencies behind it include registration and login, whose argon2 hashing
    /// dominates the first seconds of the ramp; `None` in a second with no success.
    pub p99_ms: Option<f64>,
    /// The six checks as judged from this tick's sample.
    pub board: Vec<Row>,
    /// Every fault so far, in the order they were injected, with its timing filled in as
    /// far as it is known.
    pub faults: Vec<FaultRecord>,
    /// Inventory's counters for the book as Redis has them (available, locked, sold).
    /// `None` while Redis does not answer; the screen then shows "?" rather than the last
    /// known numbers, which would look like a frozen but healthy sale.
    pub stock: Option<(i64, i64, i64)>,
}

/// The end of a sale.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The sale's fresh book id: every order of the run is about it and nothing else.
    pub book: u64,
    pub params: FlashParams,
    /// The final tick: its board is the post-catch-up verdict, with `ever_broken` for what
    /// was red on the way.
    pub last: Tick,
    /// Orders of the book in order_db: pending, paid, cancelled (incl. expired).
    /// Read from the final sample, so they are the store's truth, not the shoppers' view;
    /// all zero if MariaDB did not answer that last sample.
    pub orders: (usize, usize, usize),
    /// Every check held after catch-up and none was ever red.
    pub held: bool,
}

/// Events of a run, each tagged with the run (a sale) that sent it — as the orders and
/// payments experiments do: a sale the learner left with Esc goes on to its catch-up in
/// the background, and its late events must not land on the next sale's screen.
#[derive(Clone, Debug, PartialEq)]
pub enum FlashEvent {
    /// The book is on sale; `instances` are what the learner can kill (see [`killable`]).
    Ready { run: u64, book: u64, params: FlashParams, instances: Vec<String> },
    /// One sample of the sale, once a second. Boxed, like `Finished`: the board's rows make
    /// it far larger than the other variants, and an enum is as large as its largest.
    Tick { run: u64, tick: Box<Tick> },
    /// A fault's action finished (or failed): a line for the footer.
    Note { run: u64, text: String },
    /// The sale is over (catch-up held, or `CATCH_UP` ran out): sent once, after the last
    /// tick, with the same summary `run` returns.
    Finished { run: u64, summary: Box<Summary> },
    /// The run could not start (sent by the task that runs it).
    Failed { run: u64, message: String },
    /// The completion checklist's answer, or why it could not be made (key `v`). No run:
    /// it reads the stack and the saved benches, not a sale, and comes at any time.
    Checklist(Result<Vec<checklist::Item>, String>),
}
