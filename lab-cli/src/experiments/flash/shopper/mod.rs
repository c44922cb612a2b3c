//! One simulated shopper of the flash sale: register, log in, order one copy, pay, wait
//! until the order is Paid — over the gateway's public HTTP API, retrying the way a real
//! client must when the system behind it is failing.
//!
//! The retry policy is the gateway's own table (`services/gateway/src/error.rs`, "What a
//! client may retry") turned into code: 429, 500, 502, 503, 504 and a refused or reset
//! connection are retried with backoff; a 409 `ABORTED` at once; every other 4xx is final.
//! The one rule that makes retrying safe is the idempotency key: it is drawn once per
//! checkout and sent with every retry of that checkout, so a CreateOrder that timed out
//! at the gateway but committed behind it is answered with the same order instead of a
//! second one. A shopper that drew a new key per attempt would buy twice whenever the
//! gateway timed out — the board's "每个已支付订单恰好售出一次" would not notice (each
//! order sold once), but the shopper's second order would lock a unit nobody pays for. CreatePayment needs no key:
//! payment-service keeps one live payment per order, so a retry answers the same one.
//!
//! This file is the visit, step by step; `retry` is how each step's request is sent and
//! retried.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

mod retry;

/// The steps whose failures and recoveries the faults are timed against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// Register and login: the shopper's set-up, and the route timed for no fault (the
    /// user service is not in the script's kill list, but a learner may kill it by hand).
    Login,
    /// `POST /api/v1/orders`.
    Order,
    /// `POST /api/v1/orders/{id}/payments`.
    Pay,
    /// A poll that found the order Paid: the relay delivered (payment → order-service).
    ///
    /// Only the poll that finds Paid is logged (the polls before it are the expected wait),
    /// so a fault timed on this route always shows 0 failed answers: its cost is in the
    /// recovery time alone.
    Paid,
}

/// How a request ended, as far as recovery is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx: the step happened (or had happened, for a replay).
    Ok,
    /// A correct "no" (409 FAILED_PRECONDITION: sold out): the service is up and deciding.
    Refused,
    /// An error or no answer: the service (or what it needs) is not there.
    Error,
}

/// One answered request, for timing recoveries: when it was sent and how it ended.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub route: Route,
    /// Taken just before the request left: recovery counts only requests sent after a
    /// fault began (see `time_faults` in the sale's runner).
    pub sent: Instant,
    /// When the answer arrived.
    pub done: Instant,
    /// The classification, not the status code: recovery timing needs only "answered",
    /// "refused" and "failed", and the retry table has already mapped codes to those.
    pub outcome: Outcome,
}

/// Everything the shoppers count, shared by all of them (atomics: 60 tasks add to it).
///
/// Relaxed atomics: each counter is independent and only displayed, and no thread waits
/// on one to see another's writes. The vectors sit behind std `Mutex`es, held for one
/// push or one copy and never across an `.await`, so a Tokio mutex would only add cost.
#[derive(Debug, Default)]
pub struct Tally {
    /// Shoppers who got a token (one per shopper, not per login request).
    pub logged_in: AtomicU64,
    /// Checkouts that got an order (201 or a replayed 200).
    pub placed: AtomicU64,
    /// CreateOrder answered 409 FAILED_PRECONDITION: sold out, the correct "no".
    pub refused: AtomicU64,
    /// Orders the shopper left unpaid on purpose (they expire or stay Pending).
    pub abandoned: AtomicU64,
    /// Orders the shopper saw turn Paid.
    pub paid: AtomicU64,
    /// Requests re-sent after a retryable answer (503, 504, 409 ABORTED, a dead connection).
    pub retries: AtomicU64,
    /// Replays the gateway marked `Idempotent-Replayed: true`: retries that found their
    /// first attempt had committed — each one an order the key kept from being doubled.
    pub replayed: AtomicU64,
    /// Shoppers who gave up (a final error or the step's deadline).
    pub gave_up: AtomicU64,
    /// Shoppers done, for whatever reason.
    pub finished: AtomicU64,
    /// Shoppers whose task panicked (or was aborted): counted in `finished` too, by
    /// [`Tally::crash`], because nobody else will ever count them.
    pub crashed: AtomicU64,
    /// Ids of the orders the shoppers were given (the board checks them too).
    pub orders: Mutex<Vec<u64>>,
    /// The last final error, for the screen.
    pub last_error: Mutex<Option<String>>,
    /// Every answered request (a few thousand per run), newest last.
    pub log: Mutex<Vec<Attempt>>,
    /// Latencies of successful requests since the last tick, in µs.
    pub latencies: Mutex<Vec<u32>>,
}

impl Tally {
    /// Logs one answered request; a success's latency also goes to the tick's p99.
    ///
    /// The latency is `sent` to now, measured after the body was read by the caller, so it
    /// is what the shopper waited, not only the time to the first header. µs in a `u32`
    /// caps at about 71 minutes — far beyond the 5 s client timeout.
    fn record(&self, route: Route, sent: Instant, outcome: Outcome) {
        let done = Instant::now();
        self.log.lock().expect("not poisoned").push(Attempt { route, sent, done, outcome });
        if outcome == Outcome::Ok {
            let us = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.latencies.lock().expect("not poisoned").push(us);
        }
    }

    /// Counts a give-up and keeps its reason for the screen (the latest one wins).
    fn fail(&self, message: String) {
        self.gave_up.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("not poisoned") = Some(message);
    }

    /// Counts a shopper whose task ended without returning (`visit` never reached its
    /// `finished` bump): as finished, so catch-up can begin, and as crashed, so the
    /// report says the lab itself broke rather than passing the sale as a clean run.
    /// Public, unlike `fail`: the runner's watch on the task calls it from outside.
    pub fn crash(&self, e: &tokio::task::JoinError) {
        self.crashed.fetch_add(1, Ordering::Relaxed);
        self.finished.fetch_add(1, Ordering::Relaxed);
        // `into_inner` on poison: the panic may have struck while this very lock was held,
        // and the crash must still be recorded, not turned into a second panic.
        *self.last_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(format!("shopper task crashed: {e}"));
    }
}

/// How one shopper behaves.
#[derive(Clone, Debug)]
pub struct Shopper {
    /// The sale's one client, cloned (a clone shares the connection pool).
    pub http: reqwest::Client,
    /// `http://host:port` of the gateway.
    pub base: String,
    /// The sale's book: every shopper orders one copy of it.
    pub book: u64,
    /// This shopper leaves its order unpaid.
    pub abandons: bool,
    /// Waits this long before it starts (the sale's doors open over a ramp, so faults
    /// injected later still meet checkouts in flight).
    pub arrives_after: Duration,
    /// Until then a refused shopper tries again every 2 s, as people do on a sold-out sale
    /// page (a unit can come back when another order is cancelled) — which also keeps
    /// CreateOrder traffic flowing for the faults to be timed against.
    pub sale_ends: Instant,
}

/// The longest one step is retried before the shopper gives up: long enough to ride out
/// any fault the lab injects (a MariaDB pause of a few seconds, a restart of a service),
/// short enough that a real outage ends the run instead of hanging it.
///
/// The backoff caps at 1.6 s, so 45 s is about 30 tries of one step. The poll for Paid
/// gets twice this: the payment gateway's mock adds its own 3 s, and the relay fault
/// holds the delivery until payment-service is back.
const STEP_DEADLINE: Duration = Duration::from_secs(45);

/// What a step ended with, when it did not succeed.
enum Stop {
    /// 409 FAILED_PRECONDITION: the state forbids it (sold out, order no longer payable).
    Refused,
    /// A final error or the deadline: the message says which.
    Failed(String),
}

impl Shopper {
    /// The whole visit; counts go to `tally`. Returns when the shopper is done or `stop`
    /// is set (then between steps).
    pub async fn visit(self, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
        tokio::time::sleep(self.arrives_after).await;
        if !stop.load(Ordering::Relaxed) {
            self.checkout(&tally, &stop).await;
        }
        // Bumped here, after every way `checkout` can return: catch-up begins only when
        // `finished` reaches the number of shoppers. A panic in a step skips it; the
        // runner's watch on the task's `JoinHandle` then counts it (`Tally::crash`).
        tally.finished.fetch_add(1, Ordering::Relaxed);
    }

    /// Register, log in, order (again while sold out), pay, poll until Paid; each exit
    /// counts in exactly one of `refused`, `abandoned`, `paid`, `gave_up` — or in none when
    /// `stop` cut the visit short.
    async fn checkout(&self, tally: &Tally, stop: &AtomicBool) {
        let Some(token) = self.sign_in(tally).await else { return };
        tally.logged_in.fetch_add(1, Ordering::Relaxed);
        let Some(order) = self.place_order(tally, stop, &token).await else { return };
        tally.placed.fetch_add(1, Ordering::Relaxed);
        // Recorded before paying, so the board checks this order's payments even if
        // the shopper never gets to pay (a give-up, an abandon, a stop).
        let id = order["order"]["id"].as_u64().unwrap_or_default();
        tally.orders.lock().expect("not poisoned").push(id);
        let total = order["order"]["total"].as_i64().unwrap_or_default();
        // Abandoned right after the order: its unit stays locked until the payment
        // window ends, which is what keeps `locked` non-zero through the run.
        if self.abandons {
            tally.abandoned.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // The order's own total, as a shop's checkout page would send it: the board's
        // "payment amount = order total" check proves nobody rewrote it on the way.
        let pay = serde_json::json!({"amount": total});
        let path = format!("/api/v1/orders/{id}/payments");
        // No idempotency key: payment-service keeps one live payment per order, so a
        // retried CreatePayment is answered with the same payment (module docs).
        if let Err(e) = self.send(tally, Route::Pay, &path, &pay, Some(&token), None).await {
            let m = match e {
                Stop::Refused => "payment refused (order no longer payable)".into(),
                Stop::Failed(m) => m,
            };
            return tally.fail(format!("pay: {m}"));
        }
        self.wait_paid(tally, stop, id, &token).await;
    }

    /// Registers and logs in a fresh user; `None` after a give-up (already counted).
    async fn sign_in(&self, tally: &Tally) -> Option<String> {
        // Unique per shopper and per run: a second sale on the same stack must not log in
        // as the first sale's users (their passwords are the same pattern).
        let name = bookstore_stack::testing::unique_name("flash");
        let password = format!("{name}-pw-1234");
        let reg = serde_json::json!({"username": name, "password": password, "email": format!("{name}@lab.local")});
        let login = serde_json::json!({"username": name, "password": password});
        // Registration is not a step the faults are timed on (it is the shopper's set-up),
        // but it goes through the same retries: a shopper arriving during a fault waits.
        // A 409 to a retried registration is its own success arriving late (the first try
        // created the user, its answer was lost): go on and log in.
        match self.send(tally, Route::Login, "/api/v1/users/register", &reg, None, None).await {
            Ok(_) | Err(Stop::Refused) => {}
            Err(Stop::Failed(m)) => {
                tally.fail(format!("register: {m}"));
                return None;
            }
        }
        // Unlike the registration's 409 above, no refusal of a login is a late success:
        // a refused login ends the visit.
        match self.send(tally, Route::Login, "/api/v1/users/login", &login, None, None).await {
            // A 2xx without a token (a gateway bug) goes on with an empty one: the
            // order step then fails as 401, final, and the give-up names the step.
            Ok(v) => Some(v["token"].as_str().unwrap_or_default().to_string()),
            Err(Stop::Refused) => {
                tally.fail("login: refused".into());
                None
            }
            Err(Stop::Failed(m)) => {
                tally.fail(format!("login: {m}"));
                None
            }
        }
    }

    /// Orders one copy, again every 2 s while sold out; `None` when the visit ends here
    /// (refused to the end, a give-up, or `stop`), already counted.
    async fn place_order(&self, tally: &Tally, stop: &AtomicBool, token: &str) -> Option<Value> {
        // One unit per order: "paid orders' quantity = sold" is then a count of orders,
        // and three shoppers per unit compete for the stock.
        let body = serde_json::json!({"items": [{"book_id": self.book, "quantity": 1}]});
        // One key per checkout, kept across every retry of it (see the module docs).
        // Refused orders are tried again until the sale ends (see `sale_ends`). Each try
        // draws a new key: it is a new checkout, not a retry of one whose outcome is unknown.
        let mut key = format!("flash-{:016x}", rand::random::<u64>());
        for round in 0.. {
            if round > 0 {
                // The next round must start before the sale ends: a refusal after
                // `sale_ends` would keep CreateOrder traffic going into catch-up.
                if Instant::now() + Duration::from_secs(2) > self.sale_ends {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                key = format!("flash-{:016x}", rand::random::<u64>());
            }
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            match self
                .send(tally, Route::Order, "/api/v1/orders", &body, Some(token), Some(&key))
                .await
            {
                Ok(v) => return Some(v),
                Err(Stop::Refused) => {}
                Err(Stop::Failed(m)) => {
                    tally.fail(format!("order: {m}"));
                    return None;
                }
            }
        }
        // Refused at every round until the sale ended: sold out for this shopper.
        tally.refused.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Polls the paid order until the relay's delivery shows as Paid, or gives up.
    async fn wait_paid(&self, tally: &Tally, stop: &AtomicBool, id: u64, token: &str) {
        // Poll the order, as a shop's "waiting for your payment" page does: Paid arrives
        // after the mock gateway's 3 s and one relay pass — longer when a fault held the
        // relay, which is exactly what the Paid route's recovery time measures.
        let started = Instant::now();
        // GetOrder through the gateway as the owner: the shopper sees what the shop
        // shows, not payment-service's own state.
        let url = format!("{}/api/v1/orders/{id}", self.base);
        while started.elapsed() < STEP_DEADLINE * 2 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let sent = Instant::now();
            // Failed or not-yet-Paid polls are not recorded: they are the expected
            // wait, not errors. Only the poll that sees Paid is logged, which makes it
            // the first "answer" the relay fault's recovery is timed on.
            let answer = self.http.get(&url).bearer_auth(token).send().await;
            if let Ok(r) = answer
                && r.status().is_success()
                && let Ok(v) = r.json::<Value>().await
            {
                match v["order"]["status"].as_str() {
                    // Any status at or after Paid: the relay delivered, whatever came
                    // after it.
                    Some("paid" | "shipped" | "completed") => {
                        tally.record(Route::Paid, sent, Outcome::Ok);
                        tally.paid.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    // Cancelled after the shopper paid: the payment window closed first, or
                    // a refund ran — the board's payment row says which promise that touches.
                    Some("cancelled") => return tally.fail(format!("order {id} cancelled")),
                    _ => {}
                }
            }
            // 250 ms: Paid is seen within a quarter second of the relay's delivery,
            // at four GETs a second per waiting shopper — small next to the sale.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tally.fail(format!("order {id} not paid within {}s", (STEP_DEADLINE * 2).as_secs()));
    }
}
