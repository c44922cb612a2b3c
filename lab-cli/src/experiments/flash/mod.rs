//! Week 6's capstone — a flash sale through the whole system while the learner breaks it,
//! and a board of invariants that must stay green.
//!
//! ```text
//!  shoppers ×N   register → login → POST /orders (Idempotency-Key) → POST …/payments → poll
//!                └─ over the gateway, arriving over a ramp, retrying as a real client must
//!  faults        kill -9 a service · stop Redis · SIGSTOP MariaDB · kill the outbox relay
//!  board (1 s)   six invariants read from Redis and the three MariaDB databases
//!  end           shoppers done → catch-up (every store agrees) → summary and verdict
//! ```
//!
//! Module map: [`shopper`] (one client's visit and its retry policy), [`faults`] (the real
//! actions on real processes), [`board`] (the invariants and how lag differs from loss),
//! [`checklist`] (the course's completion criteria against the stack and the benches);
//! `runner` runs them together and measures each fault's recovery, `events` holds what it
//! reports, `script` is the plain mode's scripted sale and `report` turns ticks and
//! summaries into the lines and figures the learner reads. This file holds the sale's
//! knobs and where it finds the stack.
//!
//! ## What a fault's numbers mean
//!
//! - **restored**: the lab's action was over (the process back up, MariaDB thawed).
//! - **recovered**: the first *answer* (a success, or a correct "sold out") of the route the fault hits (CreateOrder for most,
//!   CreatePayment for payment-service, "order turned Paid" for the relay) among requests
//!   sent after the fault began. It includes the retries' backoff: a client that waits
//!   1.6 s between tries sees the service back up to 1.6 s late — the price of not
//!   hammering a recovering service.
//! - **failed answers**: requests on that route that came back as errors meanwhile. They
//!   are not lost orders: each was retried with its key, and the board says whether any
//!   promise broke. A fault that shows failed answers and a green board is the point of
//!   the week: failures are normal, broken invariants are not.
//!
//! The summary's verdict needs two things: no check was ever red during the run, and after
//! catch-up every check holds — "eventually" has to arrive.

pub mod board;
pub mod checklist;
mod events;
pub mod faults;
mod report;
mod runner;
mod script;
pub mod shopper;

use std::path::PathBuf;

use anyhow::Context as _;
use bookstore_stack::{StackState, services};

pub use self::{
    events::{Counts, FaultRecord, FlashEvent, Phase, Summary, Tick},
    report::{FIGURE_KEYS, figures, mark, summary_lines, tick_line},
    runner::run,
    script::{DEFAULT_FAULTS, script},
};

/// The knobs of one sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashParams {
    /// Simulated shoppers, each its own registered user.
    /// Each registers its own user, as real shoppers are: order-service scopes idempotency
    /// keys per user (`UNIQUE (user_id, idempotency_key)`), and each order has its own owner.
    pub shoppers: u32,
    /// Units of the sale's book: far fewer than shoppers.
    /// The gap between the two is the lesson: with three shoppers per unit, most checkouts
    /// end in a 409 "sold out", and the board must show that every refusal left the
    /// counters whole — a sale where everyone gets a unit never tests the no-oversell check.
    pub stock: u32,
    /// Shoppers arrive spread over this many seconds.
    /// A ramp, not a burst: faults injected a few seconds in still meet shoppers
    /// mid-checkout, and the first seconds are not all argon2 hashing at the user service.
    pub ramp_secs: u32,
    /// One shopper in this many leaves its order unpaid (0: nobody).
    /// Abandoned orders keep their unit locked: they are what the "no orphan lock" row and
    /// Redis's `locked` counter are checked against. The lab's payment window is 120 s
    /// (`BOOKSTORE_PAYMENT_WINDOW_SECS`), longer than a default sale, so they are usually
    /// still Pending at the end, and `locked` must equal their quantity.
    pub abandon_one_in: u32,
}

// 60 shoppers for 20 units, over 20 s: the sale sells out while faults can still meet
// checkouts in flight, and registering 60 users (two argon2 hashes each) takes seconds,
// not minutes, on 2 cores.
impl Default for FlashParams {
    fn default() -> Self {
        Self { shoppers: 60, stock: 20, ramp_secs: 20, abandon_one_in: 8 }
    }
}

impl FlashParams {
    /// `顾客 60 · 库存 20 · 20 秒内陆续到达`, heading the screen and the plain output.
    pub fn describe(&self) -> String {
        format!("顾客 {} · 库存 {} · {} 秒内陆续到达", self.shoppers, self.stock, self.ramp_secs)
    }
}

/// Where the sale finds the stack (from `stack.json`).
#[derive(Clone, Debug)]
pub struct FlashTargets {
    /// The lab directory: the faults read `stack.json` here for pids, and restart what they
    /// killed with `bookstore-lab --dir <lab_dir> up`.
    pub lab_dir: PathBuf,
    /// `host:port` of the HTTP gateway.
    /// Every shopper request goes here and only here: a restarted instance comes back on
    /// its recorded port, so this address stays valid across every fault.
    pub gateway: String,
    /// gRPC addresses for the set-up (the admin's login, publishing the book).
    pub user: String,
    /// Set-up only, like `user`: publishing the sale's book is not part of what is measured.
    pub catalog: String,
    /// The MariaDB server (no database) and Redis, read by the board.
    /// No database in the URL: the board's queries name `inventory_db.`, `order_db.` and
    /// `payment_db.` tables on one connection instead of opening three pools.
    pub mysql_url: String,
    pub redis_url: String,
    /// Instances the learner can kill (supervisor names, in stack order).
    pub instances: Vec<String>,
}

impl FlashTargets {
    /// Everything from the supervisor's record; the gateway and the three set-up services
    /// must be running.
    pub fn from_lab(lab_dir: &std::path::Path) -> anyhow::Result<Self> {
        let state = StackState::load(lab_dir)?.unwrap_or_default();
        // Read once, at the start: a fault's restart gives a killed service back its
        // recorded port, so these addresses stay right for the whole sale.
        let addr = |name: &str| {
            state.service(name).map(|c| c.address.clone()).with_context(|| {
                format!("{name} is not running (start the stack with `bookstore-lab up`)")
            })
        };
        Ok(Self {
            lab_dir: lab_dir.to_path_buf(),
            gateway: addr("gateway")?,
            user: addr("user")?,
            catalog: addr("catalog")?,
            mysql_url: state.mysql_url()?.to_string(),
            redis_url: state.redis_url()?.to_string(),
            // Every recorded service instance, gateway included; `killable` orders them.
            instances: state.services.iter().map(|c| c.name.clone()).collect(),
        })
    }
}

/// The instances a learner can kill, in the screen's order: the services every checkout
/// writes through first (order, inventory, payment), then the readers, the gateway last
/// (killing the only entrance ends every checkout at once — allowed, but not the default).
pub fn killable(targets: &FlashTargets) -> Vec<String> {
    const ORDER: [&str; 6] = ["order", "inventory", "payment", "catalog", "user", "gateway"];
    // Unknown names sort last; instances of one service sort by their number, so
    // `user` comes before `user-2`.
    let rank = |n: &String| {
        let base = services::spec(n).map_or("", |s| s.name);
        (ORDER.iter().position(|o| *o == base).unwrap_or(ORDER.len()), services::instance_number(n))
    };
    let mut v = targets.instances.clone();
    v.sort_by_key(rank);
    v
}
