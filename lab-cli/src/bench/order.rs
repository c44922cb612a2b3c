//! `bookstore-lab bench order` — what does one CreateOrder cost, and which of its steps
//! bounds it?
//!
//! One run starts the whole order graph in this process (`bookstore_order::graph`: user,
//! catalog with the seed catalogue, inventory, order — fresh databases and key prefixes)
//! and measures, `--runs` times each, interleaved:
//!
//! | path | what it measures |
//! |---|---|
//! | `no-op gRPC` | `Health/Check` on order-service: the transport's ceiling |
//! | `ValidateToken` | user-service alone (an HS256 check: pure CPU) |
//! | `GetBook` | catalog-service alone (a cache hit after the first round) |
//! | `LockStock` | inventory-service alone (one Lua script and a stream entry) |
//! | `order insert tx` | order-service's own SQL alone: the intent INSERT, then the commit (delete intent, order, line) |
//! | `CreateOrder` | the whole chain over gRPC |
//!
//! There are as many buyers as workers, each with its own token (registered before the
//! clock starts); an operation takes token `op % workers`, so a buyer's orders come from
//! whichever worker draws its index, and the calls in flight at any instant mostly belong to
//! different buyers. One unit of one of 50 well-stocked books per order — many buyers, no
//! single-row hot spot, so what is measured is the orchestration, not one contended lock.
//!
//! Reading the table: CreateOrder cannot be faster than its slowest step, and its latency
//! is at least the sum of the steps that run one after the other (the lookups in parallel,
//! then claim, lock, commit). `vs_slowest` is CreateOrder's TPS ÷ the slowest step's — the
//! course's aim is ≥ 0.5. Everything the bench creates is dropped at the end.
//!
//! Why the slowest step is a fair bound: every step row runs with the same `--concurrency`
//! workers as the CreateOrder row, so each service sees about the concurrency it sees
//! inside a CreateOrder at that many callers. A step measured at 1 caller, or at 1,000,
//! would bound a different chain.
//!
//! What would make these rows lie, and what keeps them honest:
//! - a sold-out book: a refusal is far cheaper than a sale, so CreateOrder would speed up
//!   as stock ran out — the restock keeps every row selling for the whole bench;
//! - one hot book: every LockStock would queue on one key and the bench would measure
//!   that queue, not orchestration — 50 books share the load;
//! - set-up inside the clock: registering 64 users (argon2 on purpose slow) or opening
//!   connections in the first round would be charged to the first rows — both happen
//!   before any round;
//! - growth across rounds: the insert and CreateOrder rows leave tens of thousands of
//!   unpaid orders behind, so later rounds insert into larger indexes. The rounds are
//!   interleaved, so every row meets that growth alike instead of the last one alone.

use std::sync::Arc;

use anyhow::Context;
use bookstore_loadgen::{
    LoadConfig, Outcome, Summary,
    report::{Report, Row},
};
use bookstore_order::{
    graph::{Graph, url},
    store::{Claim, ItemRow, NewOrder, Store},
};
use bookstore_proto::{
    catalog::{GetBookRequest, catalog_service_client::CatalogServiceClient},
    inventory::{
        IncrStockRequest, LockStockRequest, StockItem,
        inventory_service_client::InventoryServiceClient,
    },
    order::{CreateOrderItem, CreateOrderRequest, order_service_client::OrderServiceClient},
    user::{
        LoginRequest, RegisterRequest, ValidateTokenRequest, user_service_client::UserServiceClient,
    },
};
use tonic::transport::Channel;

use super::{BenchOptions, connect_channels, drop_databases, noop_grpc, pick};

// Row names, also the names `ratio_to` and `vs_slowest` look rows up by: spelled once.
const NOOP: &str = "no-op gRPC";
const VALIDATE: &str = "ValidateToken";
const GET_BOOK: &str = "GetBook";
const LOCK: &str = "LockStock";
const INSERT: &str = "order insert tx";
const CREATE: &str = "CreateOrder";
/// Every row, in the order one round runs them (and the table lists them): the steps
/// first, the whole chain last, so the CreateOrder row of a round runs right after the
/// steps it is compared with, under the same background noise.
const PATHS: [&str; 6] = [NOOP, VALIDATE, GET_BOOK, LOCK, INSERT, CREATE];
/// The rows that are steps of a CreateOrder: what `vs_slowest` and the p50 sum range over.
/// Not the no-op (the transport is in every step already) and not CreateOrder itself.
const STEPS: [&str; 4] = [VALIDATE, GET_BOOK, LOCK, INSERT];
/// Books the orders spread over (ids 1..=BOOKS), each restocked far above a run's sales.
const BOOKS: u64 = 50;
/// The graph's own HS256 secret: user-service refuses one under 32 bytes (a short HMAC
/// key can be brute-forced from any token), so the bench's must pass that check too.
const JWT_SECRET: &str = "bench-order-secret-at-least-32-bytes-long";

/// Runs the order bench.
///
/// The graph is stopped and its databases dropped whether `measure` succeeded or not,
/// and only then is the first error returned: a failed bench must not leave four
/// services and four databases behind on the learner's MariaDB.
pub async fn run(opts: &BenchOptions) -> anyhow::Result<Report> {
    let graph = Graph::spawn(&opts.infra, BOOKS as usize, JWT_SECRET, |s| {
        // The bench's orders are never paid: a window longer than the bench keeps the
        // sweeper from expiring them mid-run (expiry is not what is measured here).
        s.payment_window_secs = 3600;
    })
    .await
    .context("start the in-process order graph")?;
    let databases = graph.databases.clone();
    let result = measure(opts, &graph).await;
    let stopped = graph.stop().await;
    let names: Vec<&str> = databases.iter().map(String::as_str).collect();
    drop_databases(&opts.infra.mysql_url, &names).await;
    let report = result?;
    stopped.context("stop the in-process order graph")?;
    Ok(report)
}

/// Everything a worker needs, shared: per-service channels and as many tokens as workers
/// (picked by operation index, not by worker).
///
/// A channel set per service, each sized by [`connect_channels`]: a step row talks to one
/// service directly, while the CreateOrder row talks to order-service, which reaches the
/// others over its *own* clients — so the chain's internal hops are not spread over the
/// bench's connections, just as in production.
struct Clients {
    /// order-service: the no-op and the CreateOrder rows.
    order: Arc<Vec<Channel>>,
    /// user-service, for the ValidateToken row.
    user: Arc<Vec<Channel>>,
    /// catalog-service, for the GetBook row.
    catalog: Arc<Vec<Channel>>,
    /// inventory-service, for the LockStock row and the restock.
    inventory: Arc<Vec<Channel>>,
    /// One token per worker, registered before any clock starts.
    tokens: Arc<Vec<String>>,
}

/// Interleaved rounds of every path, then the report: rows, ratios, `vs_slowest`, notes.
async fn measure(opts: &BenchOptions, graph: &Graph) -> anyhow::Result<Report> {
    // Connections, tokens and stock are all made before the first clock starts: none of
    // TCP set-up, argon2 hashing or restocking is part of any row.
    let c = Clients {
        order: connect_channels(graph.order, opts.concurrency).await?,
        user: connect_channels(graph.user, opts.concurrency).await?,
        catalog: connect_channels(graph.catalog, opts.concurrency).await?,
        inventory: connect_channels(graph.inventory, opts.concurrency).await?,
        tokens: Arc::new(shoppers(graph, opts.concurrency).await?),
    };
    // Once for the whole bench, not per round: with the defaults (5 s rows, 3 rounds) the
    // LockStock and CreateOrder rows lock some 10⁵ units in all, far below 1.5 million. A
    // much longer `--duration` could sell books out; the `rejected` column would show it.
    restock(&c.inventory[0]).await?;
    // order-service's own pool, opened by its own `connect_db` from the graph's settings,
    // so the insert row queues for a connection exactly as CreateOrder's inserts do.
    // ❌ DON'T size it here by hand: sqlx's default 10 against the service's 20 made
    // the row a tighter bound than the service's SQL really is.
    let pool = bookstore_order::connect_db(&graph.order_settings).await?;
    // order-service's own `Store` over its own database: the insert row runs the very
    // SQL CreateOrder runs, not a copy of it that could drift.
    let store = Store::new(pool);
    // One timed shape for every row: same workers, same window, so the TPS compare.
    let cfg = LoadConfig::timed(opts.concurrency, opts.duration());

    let mut runs: Vec<Vec<Summary>> = vec![Vec::new(); PATHS.len()];
    // LockStock order ids far above the ids order-service hands out (AUTO_INCREMENT from
    // 1), so the direct LockStock rows never collide with a real order's lock.
    let mut lock_base = 1u64 << 40;
    for _round in 0..opts.runs.max(1) {
        for (i, path) in PATHS.iter().enumerate().filter(|(_, p)| opts.wants(p)) {
            let summary = match *path {
                NOOP => noop_grpc(cfg.clone(), c.order.clone()).await,
                VALIDATE => validate_path(cfg.clone(), &c).await,
                GET_BOOK => get_book_path(cfg.clone(), &c).await,
                LOCK => lock_path(cfg.clone(), &c, lock_base).await,
                INSERT => insert_path(cfg.clone(), store.clone()).await,
                CREATE => create_path(cfg.clone(), &c).await,
                _ => unreachable!("every path is matched above"),
            };
            // The next round's ids start past every id this round could have used: a
            // timed run takes an index only when it starts a call, so `completed` covers
            // them, and the margin of one per worker covers a call that never reported
            // (a panicked worker) but may have locked stock under its id. A reused id
            // would be answered as a replay by the lock script — no sale, a faster row.
            if *path == LOCK {
                lock_base += summary.completed() + opts.concurrency as u64 + 1;
            }
            runs[i].push(summary);
        }
    }

    Ok(build_report(opts, &runs))
}

/// The table from the rounds' summaries: rows, ratios, `vs_slowest` and the notes.
fn build_report(opts: &BenchOptions, runs: &[Vec<Summary>]) -> Report {
    let mut report =
        Report::new("order", opts.concurrency, opts.duration().as_secs_f64(), opts.runs.max(1));
    // Rows in `PATHS` order; a row filtered out by `--only` has no summaries and no row, so
    // its ratio and its share of `vs_slowest` are simply absent rather than zero.
    for (path, summaries) in PATHS.iter().zip(runs).filter(|(_, s)| !s.is_empty()) {
        report.rows.push(Row::from_runs(*path, summaries));
    }
    // Every row against the no-op call of order-service: one transport ceiling for all,
    // so the steps' ratios can be compared with each other. The insert row has no gRPC at
    // all; its ratio says how the database's share compares with one bare call.
    report.ratio_to(NOOP, &[VALIDATE, GET_BOOK, LOCK, INSERT, CREATE]);
    // The bottleneck is the step with the lowest TPS: the chain can go no faster, so
    // CreateOrder's TPS over it is the share of the bound that orchestration keeps.
    let slowest = report
        .rows
        .iter()
        .filter(|r| STEPS.contains(&r.name.as_str()))
        .min_by(|a, b| a.tps.total_cmp(&b.tps))
        .map(|r| (r.name.clone(), r.tps));
    // A sum of medians is not the median of a sum, and each step was timed alone, not
    // under the chain's load: the figure is an estimate of the serial floor, shown as
    // such in the note, not a prediction of CreateOrder's p50.
    let steps_p50: u64 =
        report.rows.iter().filter(|r| STEPS.contains(&r.name.as_str())).map(|r| r.p50_us).sum();
    let lookups_p50 =
        |name: &str| report.rows.iter().find(|r| r.name == name).map_or(0, |r| r.p50_us);
    let (validate_p50, book_p50) = (lookups_p50(VALIDATE), lookups_p50(GET_BOOK));
    // `tps > 0.0`: a step that completed no call at all would make the quotient infinite;
    // the fact is left out instead (failed calls do count as completed, so this is rare).
    if let (Some((name, tps)), Some(create)) =
        (slowest, report.rows.iter_mut().find(|r| r.name == CREATE))
        && tps > 0.0
    {
        create.extra.push(("vs_slowest".into(), format!("{:.2}× {name}", create.tps / tps)));
    }
    // The first note answers "where does CreateOrder's time go?": the serial floor (the
    // steps' p50s added up) and what running the two lookups side by side saves — the
    // chain waits for the longer lookup only, so about the shorter one's p50 is saved.
    report.notes.push(format!(
        "CreateOrder = ValidateToken ∥ GetBook（并行）→ 写意图 → LockStock → 提交事务。各步单独的 p50 之和 {:.1} ms；\
         并行查询省下的约为 min(ValidateToken, GetBook) 的 p50 = {:.1} ms",
        steps_p50 as f64 / 1e3,
        validate_p50.min(book_p50) as f64 / 1e3
    ));
    report.notes.push(
        "vs_slowest = CreateOrder 的 TPS ÷ 最慢单步的 TPS（课程目标 ≥ 0.5）；其余比值 ÷ no-op gRPC"
            .into(),
    );
    // The conditions a reader needs to reproduce the figure, kept with the table (a
    // pasted report then carries them into an issue).
    report
        .notes
        .push("每个 worker 是独立用户、独立 token；每单 1 本，分散在 50 本库存充足的书上".into());
    report.notes.push(
        "所有服务、MariaDB、Redis 与负载生成器同在这台 2 核机器上：看比值，绝对 TPS 随机器而变"
            .into(),
    );
    report
}

/// One registered user per worker, logged in: their tokens (argon2 hashing happens here,
/// before any clock starts).
///
/// As many users as workers rather than one shared account: the load is many buyers, as the
/// module docs say, and nothing a service keeps per user becomes one hot entry. The names
/// carry a random run label, so a second bench on the same databases cannot collide.
async fn shoppers(graph: &Graph, n: usize) -> anyhow::Result<Vec<String>> {
    // One connection for all registrations: they run concurrently over it (HTTP/2
    // streams), and set-up speed does not matter — it is outside every clock.
    let users = UserServiceClient::connect(url(graph.user)).await?;
    // A one-letter label: `{run}_{i}` must stay within user-service's 32-character
    // username limit (3–32 of `[A-Za-z0-9_.-]`): 13 characters before the worker index.
    let run = bookstore_stack::testing::unique_name("b");
    let logins = (0..n).map(|i| {
        let mut users = users.clone();
        let username = format!("{run}_{i}");
        async move {
            let password = "bench-password-1".to_string();
            users
                .register(RegisterRequest {
                    username: username.clone(),
                    password: password.clone(),
                    email: String::new(),
                })
                .await?;
            let r = users.login(LoginRequest { username, password }).await?;
            Ok::<_, tonic::Status>(r.into_inner().token)
        }
    });
    // All at once, and the first failure fails the bench: a worker without a token would
    // turn its share of the CreateOrder row into UNAUTHENTICATED failures.
    let tokens =
        futures::future::try_join_all(logins).await.context("register the bench's shoppers")?;
    Ok(tokens)
}

/// 30,000 units of every bench book (1.5 million in all, several times what the LockStock
/// and CreateOrder rows lock at a few thousand per second): no run sells out, so every row
/// measures sales, not refusals.
async fn restock(channel: &Channel) -> anyhow::Result<()> {
    let mut inventory = InventoryServiceClient::new(channel.clone());
    for book in 1..=BOOKS {
        // IncrStock adds at most 10,000 per call. The request ids are the book and the
        // call number, so each of the three calls is a distinct restock, not a replay.
        for i in 0..3 {
            inventory
                .incr_stock(IncrStockRequest {
                    book_id: book,
                    quantity: 10_000,
                    request_id: format!("bench-order-{book}-{i}"),
                    remark: "bench restock".into(),
                })
                .await?;
        }
    }
    Ok(())
}

/// The book of operation `op`: round-robin over ids 1..=BOOKS, so each book takes a
/// 1/50 share and no single row's lock (in inventory or the SQL of an order line) is the
/// hot spot the bench would then be measuring instead of the orchestration.
fn book_for(op: u64) -> u64 {
    op % BOOKS + 1
}

/// Success, a correct refusal (FAILED_PRECONDITION: out of stock, which the restock should
/// make impossible — a non-zero `rejected` column here is worth a look), or a failure.
/// The same mapping on every row, so the columns compare.
fn ok_or_failed<T>(r: Result<T, tonic::Status>) -> Outcome {
    match r {
        Ok(_) => Outcome::Success,
        Err(s) if s.code() == tonic::Code::FailedPrecondition => Outcome::Rejected,
        Err(_) => Outcome::Failed,
    }
}

/// ValidateToken alone: the step every authenticated RPC pays, pure CPU in user-service.
///
/// Tokens are taken by `op`, the same rule as the CreateOrder row, so this row validates
/// the very tokens CreateOrder's calls carry.
async fn validate_path(cfg: LoadConfig, c: &Clients) -> Summary {
    let (channels, tokens) = (c.user.clone(), c.tokens.clone());
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut client = UserServiceClient::new(pick(&channels, op));
            let token = tokens[op as usize % tokens.len()].clone();
            async move { ok_or_failed(client.validate_token(ValidateTokenRequest { token }).await) }
        },
        None,
    )
    .await
}

/// GetBook alone, over the same 50 books CreateOrder buys: after the first call per book
/// these are cache hits, which is also what CreateOrder's own lookup gets.
async fn get_book_path(cfg: LoadConfig, c: &Clients) -> Summary {
    let channels = c.catalog.clone();
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut client = CatalogServiceClient::new(pick(&channels, op));
            async move { ok_or_failed(client.get_book(GetBookRequest { id: book_for(op) }).await) }
        },
        None,
    )
    .await
}

/// LockStock alone, one unit per call under a fresh order id from `base` upwards (see
/// the ranges in [`measure`]): the reservation CreateOrder makes, without order-service.
///
/// The locks are never confirmed or released: each keeps its unit out of `available` for
/// the rest of the bench, which is part of what the restock's 30,000 per book is sized for.
async fn lock_path(cfg: LoadConfig, c: &Clients, base: u64) -> Summary {
    let channels = c.inventory.clone();
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut client = InventoryServiceClient::new(pick(&channels, op));
            let req = LockStockRequest {
                order_id: base + op,
                items: vec![StockItem { book_id: book_for(op), quantity: 1 }],
            };
            async move { ok_or_failed(client.lock_stock(req).await) }
        },
        None,
    )
    .await
}

/// order-service's own SQL, through its own store: claim an intent, then commit the order.
/// No peer calls: this is the database's share of a CreateOrder.
async fn insert_path(cfg: LoadConfig, store: Store) -> Summary {
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let store = store.clone();
            async move {
                // A user id per operation, far above the shoppers' real ids: no intent of
                // this row can ever meet a CreateOrder's. No idempotency key (`None`), so
                // every claim is a plain INSERT — the path a first click takes.
                let user_id = 1_000_000 + op;
                // `"1x1"`: a basket in `Lines::canonical`'s form (book 1 × 1), the text
                // CreateOrder stores with an intent so a keyed retry can be compared with its
                // first attempt. The row's real book varies; a text of the same size costs
                // the same, and no retry ever reads it here.
                let id = match store.claim(user_id, None, "1x1").await {
                    Ok(Claim::New(id)) => id,
                    _ => return Outcome::Failed,
                };
                // The order number from the service's own rule, so the row is shaped exactly
                // like a real order's (its unique index included).
                let order_no = bookstore_order::domain::order_no(id, chrono::Utc::now());
                let items = [ItemRow {
                    book_id: book_for(op),
                    title: "bench".into(),
                    quantity: 1,
                    price: 100,
                }];
                let new = NewOrder {
                    id,
                    order_no: &order_no,
                    user_id,
                    total: 100,
                    key: None,
                    request_body: "1x1",
                    // An hour, like the graph's payment window: the sweeper must not start
                    // expiring these unpaid orders (and calling inventory) mid-bench.
                    expires_in_secs: 3600,
                    items: &items,
                };
                // `Ok(None)` (the intent was gone: swept, or committed by a twin) counts as a
                // failure: with a fresh intent per operation and an hour's window it cannot
                // happen here, so seeing one means the bench's premise is broken.
                match store.commit_order(&new).await {
                    Ok(Some(_)) => Outcome::Success,
                    _ => Outcome::Failed,
                }
            }
        },
        None,
    )
    .await
}

/// The whole chain: CreateOrder as a logged-in buyer, one unit of one book.
///
/// No idempotency key: each call is a new order, which is what is measured (a keyed retry
/// would be answered from the stored order, a much cheaper path).
async fn create_path(cfg: LoadConfig, c: &Clients) -> Summary {
    let (channels, tokens) = (c.order.clone(), c.tokens.clone());
    bookstore_loadgen::run(
        cfg,
        move |op| {
            let mut client = OrderServiceClient::new(pick(&channels, op));
            let token = &tokens[op as usize % tokens.len()];
            let mut req = tonic::Request::new(CreateOrderRequest {
                items: vec![CreateOrderItem { book_id: book_for(op), quantity: 1 }],
                idempotency_key: String::new(),
            });
            // Built per call outside the async block, like the request: a token is ASCII,
            // so the parse cannot fail, and the block owns everything it sends.
            let value = format!("Bearer {token}").parse().expect("a token is header text");
            req.metadata_mut().insert("authorization", value);
            async move { ok_or_failed(client.create_order(req).await) }
        },
        None,
    )
    .await
}
