//! From differences to verdicts: the first-sighting memory that tells lag from loss.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use super::{Board, GRACE, Invariant, Row, Sample, Verdict};

impl Board {
    /// The board for one sample: each check's verdict, with lagging differences aged by
    /// their first sighting (see the module docs).
    ///
    /// Needs `&mut self` because it is the board's memory: `seen` gains this sample's new
    /// differences and forgets the resolved ones, `ever` gains its reds. Ages are wall-clock
    /// time between calls, not a count of calls, so a sample slowed by a paused MariaDB
    /// ages a difference by the seconds that really passed. One row per check, always in
    /// `Invariant::ALL`'s order.
    pub fn judge(&mut self, s: &Sample) -> Vec<Row> {
        // One `now` for the whole sample: every difference of this tick is aged against
        // the same instant, so two rows never disagree about when "now" was.
        let now = Instant::now();
        // The (check, difference) pairs seen in this sample: whatever is not in it is
        // forgotten at the end, so a resolved difference cannot keep its old age.
        let mut live = HashSet::new();
        let mut rows = Vec::new();
        // Every check, every sample, in the board's order: a row that is skipped
        // when its store is down would make the board jump.
        for inv in Invariant::ALL {
            let (broken, lagging, unknown) = self.check(inv, s);
            let mut old = Vec::new();
            let mut young = Vec::new();
            let mut oldest = Duration::ZERO;
            // lesson:lag-or-loss:start
            // A difference is identified by its text, which names the order and the
            // values: the same text seen again is the same difference, aging;
            // a changed value is a new one, whose clock starts again.
            for item in lagging {
                let first = *self.seen.entry((inv, item.clone())).or_insert(now);
                live.insert((inv, item.clone()));
                let age = now - first;
                if age > GRACE {
                    old.push(format!("{item}（{} 秒未追上）", age.as_secs()));
                } else {
                    // Only the still-young differences set the row's age: the old ones are
                    // already reported as broken, with their own age in the text.
                    oldest = oldest.max(age);
                    young.push(item);
                }
            }
            let broken: Vec<String> = broken.into_iter().chain(old).collect();
            // lesson:lag-or-loss:end
            let verdict = if !broken.is_empty() {
                let ever = self.ever.entry(inv).or_default();
                for b in &broken {
                    // Capped at 20 per check: a systematic bug would otherwise
                    // grow the list by a line per order per second.
                    if !ever.contains(b) && ever.len() < 20 {
                        ever.push(b.clone());
                    }
                }
                Verdict::Broken(broken)
            // Broken wins over unknown: a difference Redis alone proves is red even
            // while MariaDB is down. Unknown wins over lagging: a lag judged from a
            // half-dead sample is a guess.
            } else if let Some(why) = unknown {
                Verdict::Unknown(why)
            } else if !young.is_empty() {
                Verdict::Lagging { oldest, items: young }
            } else {
                Verdict::Holds
            };
            // `ever` already includes this sample's reds (added above), so a row that
            // is red now carries them in `ever_broken` too — up to the cap of 20.
            rows.push(Row { invariant: inv, verdict, ever_broken: self.ever.get(&inv).cloned() });
        }
        // A difference that disappeared is forgotten: if it comes back, it is a new one.
        self.seen.retain(|k, _| live.contains(k));
        rows
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::experiments::flash::board::sample::{Counters, OrderRow, PAY_SUCCESS, PENDING};

    // A board over nothing: `judge` needs no connection, only the book and its stock.
    // Port 1 is never listened on: a test that accidentally sampled would fail loudly
    // instead of reading a real stack.
    // The tests are `#[tokio::test]` although `judge` never awaits: sqlx's lazy pool starts
    // its maintenance task when it is built, and that needs a runtime.
    fn board() -> Board {
        Board::new("mysql://root@127.0.0.1:1", "redis://127.0.0.1:1", 7, 10).unwrap()
    }

    // Ten units: two paid (one order each), one pending, seven for sale — consistent in
    // every store, so each test below breaks exactly one thing.
    fn sample() -> Sample {
        let c = Counters { avail: 7, locked: 1, sold: 2, total: 10 };
        let order =
            |status| OrderRow { status, total: 5900, quantity: 1, expires_at: i64::MAX / 2 };
        let mut s = Sample {
            redis: Some(c),
            mysql: Some(c),
            logged: Some(c),
            mysql_ok: true,
            now_ms: 1_000,
            ..Sample::default()
        };
        s.orders = BTreeMap::from([(1, order(2)), (2, order(2)), (3, order(PENDING))]);
        s.confirms = HashMap::from([(1, 1), (2, 1)]);
        s.locked = BTreeMap::from([(3, 1)]);
        s.payments = BTreeMap::from([
            (1, vec![("PAY1".into(), PAY_SUCCESS, 5900)]),
            (2, vec![("PAY2".into(), PAY_SUCCESS, 5900)]),
        ]);
        s
    }

    // Looked up by invariant, not by index: the tests must not depend on the board's row
    // order, which `Invariant::ALL` may change.
    fn verdict(rows: &[Row], inv: Invariant) -> &Verdict {
        &rows.iter().find(|r| r.invariant == inv).unwrap().verdict
    }

    /// The consistent sample holds everywhere; a double confirm or an oversold counter is
    /// red at once — those can never be lag.
    #[tokio::test]
    async fn atomic_promises_break_at_once() {
        // The order matters: the first assertion proves the baseline sample is green, so
        // each red below is caused by the one field that test changed.
        let mut b = board();
        assert!(b.judge(&sample()).iter().all(|r| r.verdict == Verdict::Holds));
        let mut s = sample();
        // A double confirm: one order, two units handed over. The sum `sold` would hide
        // it if another order had none, which is why the row counts per order.
        s.confirms.insert(1, 2);
        assert!(verdict(&b.judge(&s), Invariant::PaidSoldOnce).is_broken());
        let mut s = sample();
        // One unit sold twice: sold 11 of 10, and the four counters no longer add up.
        s.redis = Some(Counters { avail: -1, locked: 1, sold: 11, total: 10 });
        let rows = b.judge(&s);
        assert!(verdict(&rows, Invariant::NoOversell).is_broken());
        assert!(verdict(&rows, Invariant::Conservation).is_broken());
    }

    /// A confirm on its way is lagging, not broken, and a broken promise stays on the
    /// board (`ever_broken`) after it turned green again.
    #[tokio::test]
    async fn a_difference_is_lag_until_it_outlives_the_grace() {
        let mut b = board();
        let mut s = sample();
        // Order 2 is Paid but its confirm has not arrived; the counters say so too
        // (two units locked and one sold, not one and two), the same in every store.
        s.confirms.remove(&2);
        s.redis = Some(Counters { avail: 7, locked: 2, sold: 1, total: 10 });
        s.mysql = s.redis;
        s.logged = s.redis;
        let rows = b.judge(&s);
        assert!(matches!(verdict(&rows, Invariant::PaidSoldOnce), Verdict::Lagging { .. }));
        // Pretend it was first seen longer ago than the grace allows. Moving the first
        // sighting back, not sleeping 20 s: the test stays fast, and it exercises the same
        // `now - first > GRACE` comparison a real sale reaches by waiting.
        for seen in b.seen.values_mut() {
            *seen -= GRACE + Duration::from_secs(1);
        }
        // The same sample again: same text, so the same difference, now past the grace —
        // a board that keyed differences by something that changes each tick would
        // restart the clock here and never turn red.
        let rows = b.judge(&s);
        assert!(verdict(&rows, Invariant::PaidSoldOnce).is_broken());
        // The confirm arrives: green now, but `ever_broken` must remember the red — the
        // regression it catches is a board that forgets and passes a healed sale.
        let rows = b.judge(&sample());
        let row = rows.iter().find(|r| r.invariant == Invariant::PaidSoldOnce).unwrap();
        assert_eq!(row.verdict, Verdict::Holds);
        assert!(row.ever_broken.is_some(), "the broken promise is remembered");
    }

    /// Without MariaDB nothing is called broken from half-read rows — every check is
    /// "unknown" — except what Redis alone proves broken.
    #[tokio::test]
    async fn a_paused_mariadb_is_unknown_not_broken() {
        let mut b = board();
        // What `sample` leaves after a MariaDB timeout: no rows, `mysql_ok` false,
        // an error line. With no orders read, a naive check would call every paid
        // order's payment missing.
        let paused = |redis| Sample {
            redis: Some(redis),
            errors: vec!["MariaDB: no answer in 4 s (paused?)".into()],
            ..Sample::default()
        };
        let rows = b.judge(&paused(Counters { avail: 7, locked: 1, sold: 2, total: 10 }));
        for inv in Invariant::ALL {
            assert!(matches!(verdict(&rows, inv), Verdict::Unknown(_)), "{inv:?}");
        }
        // 7+1+3 = 11 ≠ 10: Redis alone proves it, so it is red with MariaDB down.
        let rows = b.judge(&paused(Counters { avail: 7, locked: 1, sold: 3, total: 10 }));
        assert!(verdict(&rows, Invariant::Conservation).is_broken());
    }

    /// A paid order needs its successful payment, of its exact total.
    #[tokio::test]
    async fn a_paid_order_without_its_payment_is_broken() {
        let mut b = board();
        let mut s = sample();
        s.payments.remove(&2);
        assert!(verdict(&b.judge(&s), Invariant::PaymentBacked).is_broken());
        let mut s = sample();
        // A success of 1 cent for a 59.00 order: the amount check, separately from the
        // "has a payment" check above.
        s.payments.insert(2, vec![("PAY2".into(), PAY_SUCCESS, 1)]);
        assert!(verdict(&b.judge(&s), Invariant::PaymentBacked).is_broken());
    }
}
