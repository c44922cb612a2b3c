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
use tonic::transport::Channel;

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
    let mut inv = InventoryServiceClient::new(channel(&targets.inventory).await?);
    let log = async |inv: &mut InventoryServiceClient<Channel>| {
        let r = inv.get_stock_log(GetStockLogRequest { book_id: book, page: 1, page_size: 50 });
        anyhow::Ok(r.await?.into_inner().logs)
    };
    // The log's newest id before the request: the high-water mark the pair must be
    // above (see the comment on this function). The max of one page is the newest id only
    // because page 1 holds the newest rows (`ORDER BY id DESC`).
    let before = log(&mut inv).await?.iter().map(|l| l.id).max().unwrap_or(0);
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
            pair = Some((l, r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Read after the pair was found (or the wait gave up): by then the compensation has run,
    // so an `available` equal to the one before `f` is the proof that nothing leaked.
    let stock = inv.get_stock(GetStockRequest { book_id: book }).await?.into_inner().stock;
    let available = stock.map_or(0, |s| s.available);
    Ok(match pair {
        // `abs`: the log signs each movement (a lock leaves `available`, negative; a release
        // comes back, positive), and the note speaks of units.
        Some(((order, locked), (_, released))) => format!(
            "提交失败（{:?}）：#{order} 锁定 {} 件 → 补偿释放 {} 件，available 仍为 {available}",
            err.code(),
            locked.abs(),
            released.abs()
        ),
        // No lock at all: the stock was already gone, LockStock refused before any commit.
        // (The same note would appear if the syncer were more than 3 s behind: the pair
        // would exist but not yet be in the log. The error code tells the two apart —
        // FAILED_PRECONDITION for no stock, UNAVAILABLE for the injected commit failure.)
        None => format!(
            "下单失败（{:?}）：{}；没有锁定任何库存（先按 c 取消一单腾出库存，再按 f）",
            err.code(),
            err.message()
        ),
    })
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
