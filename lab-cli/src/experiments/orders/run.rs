//! The run itself, as the named steps `run` calls in order: set-up, the lone order's call
//! chain, the burst, and the watch that samples the conservation check once a second.

use std::time::Duration;

use bookstore_loadgen::{LoadConfig, Outcome, Snapshot};
use bookstore_proto::{
    inventory::{GetStockRequest, inventory_service_client::InventoryServiceClient},
    order::{ListOrdersRequest, OrderStatus, order_service_client::OrderServiceClient},
};
use tokio::sync::{mpsc, watch};
use tonic::{Code, transport::Channel};

use super::{
    OrderParams, OrderTargets, OrdersEvent, PendingOrder, StockView, authed, fresh_book, one_unit,
    parse_chain, shoppers,
};
// The cache experiment's channel (2 s connect, 5 s per request): one definition of how the
// lab dials a service, so a stopped service fails the same way in every experiment.
use crate::experiments::cache::channel;

/// Wall-clock ms, the unit of the orders' `expires_at` (order_db's clock, same machine).
///
/// Not a monotonic `Instant`: the countdown is `expires_at − now`, and only two readings
/// of the same wall clock can be subtracted. A lab on another machine than the stack would
/// count down by the two clocks' skew.
fn unix_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs setup, the chain, the burst, then watches until no order of the run is Pending
/// (the sweeper expired or the learner cancelled them all), at most ten minutes.
///
/// Events, all tagged `run`, in this order: `Ready`, `Chain`, `Burst`s and one `BurstDone`,
/// `Watch`es, and `Done` last. An error returns early without `Done` (the TUI's
/// `spawn_experiment` turns it into `Failed`); what the run made stays behind — the
/// shoppers, the book and any Pending orders, which the sweeper expires like any others.
pub async fn run(
    run: u64,
    targets: OrderTargets,
    params: OrderParams,
    events: mpsc::UnboundedSender<OrdersEvent>,
) -> anyhow::Result<()> {
    // Dialled once for the whole run, burst and watch: the watch lasts up to ten
    // minutes, and a tonic channel reconnects on its own if order-service restarts.
    let order_ch = channel(&targets.order).await?;
    let inv_ch = channel(&targets.inventory).await?;
    // At least one shopper and one unit: zero of either would make the run's
    // division of attempts and its conservation check meaningless.
    let tokens = shoppers(&targets.user, params.shoppers.max(1) as usize).await?;
    let book = fresh_book(&targets.user, &targets.catalog, params.stock.max(1)).await?;
    // Ready before the first order: from here the screen's `f` and `c` can act on the run's
    // book, and every order they cause is one the watch's ListOrders will find.
    let _ = events.send(OrdersEvent::Ready { run, book, tokens: tokens.clone() });

    // One order alone first: under the burst every step would include queueing behind the
    // other 19, and the chain would show contention instead of the shape of the call.
    let mut orders = OrderServiceClient::new(order_ch.clone());
    lone_order(run, &mut orders, book, &tokens[0], &events).await?;
    burst(run, &orders, book, &tokens, params.attempts, &events).await;
    watch_until_done(run, &order_ch, &inv_ch, &tokens, book, &events).await?;
    let _ = events.send(OrdersEvent::Done { run });
    Ok(())
}

/// The first CreateOrder, alone, and its `server-timing` chain sent to the screen.
///
/// A refusal fails the run (`?`): the book is fresh with at least one unit, so a "no"
/// here is a broken stack, not a result the burst could still explain.
async fn lone_order(
    run: u64,
    orders: &mut OrderServiceClient<Channel>,
    book: u64,
    token: &str,
    events: &mpsc::UnboundedSender<OrdersEvent>,
) -> anyhow::Result<()> {
    // It takes one unit too: the burst then meets `stock − 1`, and its `created` is
    // one less than the stock — the first order is counted in the watch's Pending.
    let first = orders.create_order(authed(one_unit(book), token)?).await?;
    let header = first
        .metadata()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        // No header (a service without the timing layer): an empty chain, not a
        // failed run.
        .unwrap_or_default()
        .to_string();
    let _ = events.send(OrdersEvent::Chain { run, steps: parse_chain(&header) });
    Ok(())
}

/// `attempts` CreateOrders at once through the load engine, their counts sent as they come.
///
/// Never fails: every answer, errors included, is an outcome the engine counts, so one
/// UNAVAILABLE shows as "errors 1" next to the created and refused counts instead of
/// ending the run and hiding them.
async fn burst(
    run: u64,
    orders: &OrderServiceClient<Channel>,
    book: u64,
    tokens: &[String],
    attempts: u32,
    events: &mpsc::UnboundedSender<OrdersEvent>,
) {
    // The burst: `attempts` workers, one CreateOrder each, through the one load engine.
    // FAILED_PRECONDITION is inventory's correct "not enough stock" → Rejected, not Failed.
    // A watch channel, not a queue: the forwarder below sends the latest counts each
    // time it wakes, and skips snapshots it was too slow to see instead of falling
    // behind.
    let (tx, mut rx) = watch::channel(Snapshot::default());
    let forward = {
        let events = events.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let load = rx.borrow_and_update().clone();
                let _ = events.send(OrdersEvent::Burst { run, load });
            }
        })
    };
    let n = attempts.max(1) as usize;
    // Shared by `Arc`: the closure runs once per request and only reads the list.
    let tokens_for_load = std::sync::Arc::new(tokens.to_vec());
    let client = orders.clone();
    let load = bookstore_loadgen::run(
        // `n` workers and `n` requests: every request starts at once, one per
        // worker — a burst, not a rate.
        LoadConfig::counted(n, n as u64),
        move |i| {
            let mut client = client.clone();
            // Round robin over the shoppers: several orders per owner, so the
            // watch's per-owner ListOrders sees them all.
            let token = tokens_for_load[i as usize % tokens_for_load.len()].clone();
            async move {
                // A token that cannot be a header fails this attempt only, counted as an
                // error like any other, so the burst's totals still add up to `attempts`.
                let Ok(req) = authed(one_unit(book), &token) else { return Outcome::Failed };
                // Each attempt is timed by the load engine from before this closure ran to the
                // answer: the p50/p99 the screen shows are the caller's view of a CreateOrder,
                // queueing behind the other attempts included.
                match client.create_order(req).await {
                    Ok(_) => Outcome::Success,
                    Err(s) if s.code() == Code::FailedPrecondition => Outcome::Rejected,
                    // Anything else — UNAVAILABLE, a timeout — is a real error: the
                    // "errors 0" of the module docs.
                    Err(_) => Outcome::Failed,
                }
            }
        },
        Some(tx),
    )
    .await;
    // The forwarder ends when `tx` is dropped with the load engine, so every
    // Burst event is sent before BurstDone.
    let _ = forward.await;
    let _ = events.send(OrdersEvent::BurstDone { run, load });
}

/// Samples once a second until nothing of the run is Pending (or the cap, or the screen
/// is gone).
///
/// Reaching the cap is `Ok`, not an error: the last `Watch` already shows which orders
/// are still Pending, and that list is the evidence of a stuck sweeper.
async fn watch_until_done(
    run: u64,
    order_ch: &Channel,
    inv_ch: &Channel,
    tokens: &[String],
    book: u64,
    events: &mpsc::UnboundedSender<OrdersEvent>,
) -> anyhow::Result<()> {
    // The watch: until nothing is Pending, or ten minutes (far beyond the lab's 2-minute
    // window plus the 2-second sweep, so only a stuck sweeper reaches the cap), or the
    // screen is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    // Tokio's default missed-tick behaviour is to burst: after a sample slower than a second
    // (eight ListOrders on a loaded machine) the late ticks fire back to back. Harmless for
    // the screen, because each Watch carries the clock of its own sample (`now`), so the
    // countdown stays right however the samples bunch.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while tokio::time::Instant::now() < deadline && !events.is_closed() {
        // The first tick fires at once: the first sample is taken right after the
        // burst, so the screen shows the sold-out stock without waiting a second.
        tick.tick().await;
        // A failed sample ends the run (`?`): the watch has no fault to ride out,
        // and a stack that stops answering is the news.
        let (stock, pending, cancelled) = sample(order_ch, inv_ch, tokens, book).await?;
        // Decided before sending: the last Watch, with nothing Pending and the stock
        // all back, is still shown before the run ends.
        let done = pending.is_empty();
        let _ =
            events.send(OrdersEvent::Watch { run, stock, pending, cancelled, now: unix_now_ms() });
        if done {
            break;
        }
    }
    Ok(())
}

// Orders are read through ListOrders as each owner — the public API — rather than from
// order_db: the experiment must not depend on the service's tables, and reading as the
// owner also exercises the owner-only rule. The cost is one call per shopper and status
// per second (8 with the defaults), negligible next to the burst. GetStock is read
// first: a cancel or an expiry landing between the two reads shows as a momentary
// "locked > pending" (the lock counted, its order already gone from the Pending list)
// for one sample at most, never as a lasting red line.
/// One sample: GetStock, and every shopper's Pending and Cancelled orders of the book.
///
/// Returns the counters, the Pending orders oldest first and the number of Cancelled
/// ones; the first failed call fails the whole sample, so a half-read sample (counters
/// without their orders) is never judged.
async fn sample(
    order: &Channel,
    inv: &Channel,
    tokens: &[String],
    book: u64,
) -> anyhow::Result<(StockView, Vec<PendingOrder>, u64)> {
    let s = InventoryServiceClient::new(inv.clone())
        .get_stock(GetStockRequest { book_id: book })
        .await?
        .into_inner()
        .stock
        .unwrap_or_default();
    let stock =
        StockView { available: s.available, locked: s.locked, sold: s.sold, total: s.total };
    let mut pending = Vec::new();
    let mut cancelled = 0;
    let mut client = OrderServiceClient::new(order.clone());
    for (shopper, token) in tokens.iter().enumerate() {
        for status in [OrderStatus::Pending, OrderStatus::Cancelled] {
            // One page of 50: a run makes `attempts + 1` CreateOrders over the shoppers
            // (five or six each with the defaults), and only `stock` become orders. The
            // TUI's largest stock (50 units over 4 shoppers) keeps every list far below a
            // page; a truncated list would read as `locked > pending`, a false leak.
            let req = ListOrdersRequest { page: 1, page_size: 50, status: status as i32 };
            let list = client.list_orders(authed(req, token)?).await?.into_inner();
            for o in list.orders {
                let quantity: i64 = o
                    .items
                    .iter()
                    .filter(|i| i.book_id == book)
                    .map(|i| i64::from(i.quantity))
                    .sum();
                // Not this run's book (a shopper's order is always of it; the check is for
                // orders placed by hand with the same token).
                if quantity == 0 {
                    continue;
                }
                if status == OrderStatus::Pending {
                    pending.push(PendingOrder {
                        id: o.id,
                        shopper,
                        quantity,
                        expires_at: o.expires_at,
                    });
                } else {
                    cancelled += 1;
                }
            }
        }
    }
    // Oldest first: the head of the list is the next to expire (what `e` counts down to).
    pending.sort_by_key(|p| (p.expires_at, p.id));
    Ok((stock, pending, cancelled))
}
