//! The screen's two actions on a running experiment: `f` (a commit that fails after its
//! lock) and `c` (cancel one Pending order), each a one-shot call given what it needs.

use std::time::Duration;

use bookstore_proto::{
    inventory::{
        GetStockLogRequest, GetStockRequest, StockLogType,
        inventory_service_client::InventoryServiceClient,
    },
    order::{CancelOrderRequest, order_service_client::OrderServiceClient},
};
use tonic::{Status, transport::Channel};

use super::{OrderTargets, authed, one_unit};
use crate::experiments::cache::channel;

// The proof is read from inventory's own stock log rather than inferred from the counters:
// the lock lasts a few milliseconds, far too short for a 1 Hz sample to catch, but the log
// keeps both movements with the order id that owned them. The log is written to MySQL
// from inventory's event stream, a moment after the Redis change, hence the short poll;
// and only entries newer than the newest one before the request count — an earlier
// cancel also left a LOCK/RELEASE pair, which must not be mistaken for this one.
/// `f`: one CreateOrder with `x-lab-fault: fail-commit`. The lock is taken, the commit
/// fails, the compensation releases it; the note shows both log entries.
///
/// Needs a token of the run's shoppers and the run's book. A refused order is part of the
/// answer (the note), not an error; only a call that cannot be made at all (a service
/// down, a bad header) returns `Err`.
pub async fn fail_commit(targets: &OrderTargets, token: &str, book: u64) -> anyhow::Result<String> {
    // One channel to inventory for the whole action: the log polls and both stock readings
    // share it, so the 3 s poll costs no reconnects.
    let mut inv = InventoryServiceClient::new(channel(&targets.inventory).await?);
    let log = async |inv: &mut InventoryServiceClient<Channel>| {
        let r = inv.get_stock_log(GetStockLogRequest { book_id: book, page: 1, page_size: 50 });
        anyhow::Ok(r.await?.into_inner().logs)
    };
    // The log's newest id before the request: the high-water mark the pair must be
    // above (see the comment on this function). The max of one page is the newest id only
    // because page 1 holds the newest rows (`ORDER BY id DESC`).
    let before = log(&mut inv).await?.iter().map(|l| l.id).max().unwrap_or(0);
    // `available` before the request too: the note compares it with the one after, which
    // proves (or not) the release from Redis's own counter, whatever the log shows yet.
    let available = async |inv: &mut InventoryServiceClient<Channel>| {
        let s = inv.get_stock(GetStockRequest { book_id: book }).await?.into_inner().stock;
        anyhow::Ok(s.map_or(0, |s| s.available))
    };
    let available_before = available(&mut inv).await?;
    // An ordinary one-unit order of a real shopper: only the commit is faulty, so the lock
    // it takes is exactly the one a real order would take.
    let mut req = authed(one_unit(book), token)?;
    // Honoured only when order-service runs with `BOOKSTORE_LAB_FAULTS=true`,
    // which the lab's stack sets; a production build ignores the header.
    req.metadata_mut().insert("x-lab-fault", "fail-commit".parse()?);
    let answer = OrderServiceClient::new(channel(&targets.order).await?).create_order(req).await;
    let err = match answer {
        // No fault without the lab's switch: the order is real, holds a unit, and
        // the watch will count it as Pending like any other.
        Ok(_) => anyhow::bail!(
            "the order committed: is order-service running with BOOKSTORE_LAB_FAULTS=true?"
        ),
        Err(s) => s,
    };
    // As the wire carries them: prost keeps `StockLog::type` a plain `i32`.
    let (lock, release) = (StockLogType::Lock as i32, StockLogType::Release as i32);
    let mut pair = None;
    // Up to 20 × 150 ms = 3 s for both entries to reach MySQL through the syncer.
    for _ in 0..20 {
        let logs: Vec<_> = log(&mut inv).await?.into_iter().filter(|l| l.id > before).collect();
        // The first LOCK and the first RELEASE above the mark, not matched by order
        // id: on the run's own quiet book they are this request's, but an expiry of
        // another order inside the same 3 s would pair with this lock.
        let find = |t: i32| logs.iter().find(|l| l.r#type == t).map(|l| (l.order_id, l.quantity));
        if let (Some(l), Some(r)) = (find(lock), find(release)) {
            pair = Some((l.0, l.1, r.1));
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Read after the pair was found (or the wait gave up). The compensation ran before
    // CreateOrder answered (order-service releases, then returns the error) unless that
    // release failed and was left to the sweeper: an `available` equal to the one before
    // `f` is the proof that nothing leaked, whatever the log shows yet.
    let available_after = available(&mut inv).await?;
    Ok(commit_note(&err, pair, (available_before, available_after)))
}

/// The note for `f`'s answer: what the stock log and the two `available` readings show.
///
/// `pair` is the LOCK's order and quantity and the RELEASE's quantity found in the log,
/// `None` when the log showed no pair within the 3 s poll; `available` is (before, after).
fn commit_note(err: &Status, pair: Option<(u64, i32, i32)>, available: (i64, i64)) -> String {
    let code = err.code();
    // Both readings, never "still": an unchanged `available` is a comparison the learner
    // can see, not a claim the note makes for them.
    let stock = format!("available {} → {}", available.0, available.1);
    match pair {
        // `abs`: the log signs each movement (a lock leaves `available`, negative; a release
        // comes back, positive), and the note speaks of units.
        Some((order, locked, released)) => format!(
            "提交失败（{code:?}）：#{order} 锁定 {} 件 → 补偿释放 {} 件，{stock}",
            locked.abs(),
            released.abs()
        ),
        // FAILED_PRECONDITION: LockStock refused (no stock), so no lock was ever taken.
        None if code == tonic::Code::FailedPrecondition => format!(
            "下单失败（{code:?}）：{}；没有锁定任何库存（先按 c 取消一单腾出库存，再按 f）",
            err.message()
        ),
        // Any other code (the injected fault is UNAVAILABLE, after the lock): a lock may
        // well have been taken and released, only the syncer has not written the pair to
        // the log within 3 s. ❌ DON'T claim "nothing was locked" from an empty log: the log
        // trails Redis, and only the counters are read here.
        None => format!(
            "提交失败（{code:?}）：{}；3 秒内库存日志里还没有这次的锁定/释放记录（同步器落后），\
             无法从日志证明补偿；{stock}",
            err.message()
        ),
    }
}

// The answer is shown as the service returned it: the status comes from the response,
// so a cancel that silently did nothing (an order that had meanwhile expired is already
// Cancelled — cancelling twice is a no-op by contract) still reads "Cancelled", and the
// next sample's counters tell whether the units moved.
/// `c`: cancels one Pending order as its owner; the stock returns at once.
///
/// `token` must be the owner's: anyone else's gets NOT_FOUND, which comes back as `Err`
/// and is shown as a failed note, the order untouched.
pub async fn cancel(targets: &OrderTargets, token: &str, order_id: u64) -> anyhow::Result<String> {
    let req = CancelOrderRequest { order_id, reason: "cancelled in the lab".into() };
    let order = OrderServiceClient::new(channel(&targets.order).await?)
        .cancel_order(authed(req, token)?)
        .await?
        .into_inner()
        .order
        .ok_or_else(|| anyhow::anyhow!("CancelOrder returned no order"))?;
    Ok(format!("订单 #{} 已取消（{:?}），锁定的库存回到 available", order.id, order.status()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the syncer more than 3 s behind, the injected commit failure (UNAVAILABLE)
    /// finds no pair in the log: the note must not claim nothing was locked — it says the
    /// log is behind and shows the measured `available` — while a real refusal
    /// (FAILED_PRECONDITION) still says no stock was locked.
    #[test]
    fn an_empty_log_after_a_failed_commit_is_not_called_no_lock() {
        let fault = Status::unavailable("order_db unavailable: lab fault: commit failed");
        // The syncer's lag: no pair in the log, `available` back where it was (the
        // release happened in Redis, where inventory keeps the truth).
        let lagging = commit_note(&fault, None, (5, 5));
        assert!(!lagging.contains("没有锁定任何库存"), "{lagging}");
        assert!(lagging.contains("同步器落后") && lagging.contains("available 5 → 5"), "{lagging}");
        // LockStock's refusal: no lock was ever taken, so the old sentence is true here.
        let sold_out = Status::failed_precondition("insufficient stock");
        assert!(commit_note(&sold_out, None, (0, 0)).contains("没有锁定任何库存"));
        // A pair found: both movements in units (the log's signs dropped), both readings.
        let found = commit_note(&fault, Some((7, -1, 1)), (5, 5));
        assert!(found.contains("#7 锁定 1 件 → 补偿释放 1 件，available 5 → 5"), "{found}");
    }
}
