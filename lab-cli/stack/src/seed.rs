//! First-start content: the seed catalogue and the matching stock, so the lab has books to
//! list, cache and sell on its very first screen.
//!
//! Both steps go through the services' own front doors — `catalog-service seed` (the
//! course's import from `bookstore.books`) and inventory's `IncrStock` RPC — never by
//! writing another service's tables from here. And both are idempotent, which is what
//! lets `up` run them every time without asking "was this done before?":
//! - the catalogue import uses `INSERT IGNORE` on a unique ISBN;
//! - each restock carries the request id `seed:<book_id>`, and inventory applies a request
//!   id at most once (its Lua script keeps a marker per id); books inventory already
//!   knows (stocked before, or published with their own stock) are not restocked at all;
//! - the lab's admin account ([`ensure_admin`]) is made by `user-service ensure-admin`,
//!   which promotes an existing account instead of failing on it.
//!
//! ✅ DO make set-up steps idempotent and re-run them; ❌ DON'T keep a "seeded = true" flag
//! beside the data — the flag and the data disagree the day someone restores a backup or
//! flushes Redis, and the lab then starts empty with no way to notice.

use std::{path::Path, process::Command};

use anyhow::{Context, bail};
use bookstore_proto::{
    catalog::{
        ListBooksRequest, SortField, SortOrder, catalog_service_client::CatalogServiceClient,
    },
    inventory::{
        GetStocksRequest, IncrStockRequest, inventory_service_client::InventoryServiceClient,
    },
};
use futures::{StreamExt, stream};

use crate::state::StackState;

/// Runs both steps; `bin_dir` holds `catalog-service`.
pub async fn seed(dir: &Path, bin_dir: &Path, state: &StackState) -> anyhow::Result<()> {
    // By the record, not by the course's ports: with `--free-ports` (tests, a second lab)
    // the services are elsewhere, and `stack.json` is the one place that knows where.
    let catalog = state.service("catalog").context("catalog-service is not running")?;
    let inventory = state.service("inventory").context("inventory-service is not running")?;

    // Step 1: the catalogue. A child process with the same environment the service has,
    // so it writes to the same database the running service reads. A blocking
    // `Command::status` inside async code: it holds one runtime thread for the second or
    // two the import takes — acceptable for a one-off set-up step, not on a request path.
    let log = std::fs::File::create(dir.join("logs/seed.log"))?;
    let status = Command::new(bin_dir.join("catalog-service"))
        .arg("seed")
        // `catalog-service` loads its whole settings before it looks at `seed`, so both
        // URLs are set to the stack's: a default or a shell's value would seed elsewhere.
        .env("BOOKSTORE_MYSQL_URL", state.mysql_url()?)
        .env("BOOKSTORE_REDIS_URL", state.redis_url()?)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("cannot run `catalog-service seed`")?;
    if !status.success() {
        bail!("`catalog-service seed` failed; see {}", dir.join("logs/seed.log").display());
    }

    // Step 2: stock for every book, read back through ListBooks (the catalogue is the
    // source of truth for which books exist; `initial_stock` is the seed quantity —
    // `stock` is inventory's live figure, 0 for a book this step has not stocked yet).
    // Pages of 100 in creation order: a stable order, so a book inserted while we page
    // (a learner publishing during `up`) lands at the end instead of shifting the pages
    // under us. A short page is the last one.
    // `books`: (id, opening stock) of every book still to be stocked, gathered before any
    // write, so a failure while paging leaves inventory as it was.
    let mut books = Vec::new();
    let mut client = CatalogServiceClient::connect(format!("http://{}", catalog.address)).await?;
    let mut inventory =
        InventoryServiceClient::connect(format!("http://{}", inventory.address)).await?;
    for page in 1.. {
        let resp = client
            .list_books(ListBooksRequest {
                page,
                page_size: 100,
                sort_by: SortField::CreatedAt as i32,
                order: SortOrder::Asc as i32,
                keyword: String::new(),
            })
            .await?
            .into_inner();
        let done = resp.books.len() < 100;
        // Books whose opening stock is 0 are skipped (the seed makes some sold out on
        // purpose, and IncrStock refuses a quantity of 0).
        let page: Vec<(u64, i32)> = resp
            .books
            .into_iter()
            .filter(|b| b.initial_stock > 0)
            .map(|b| (b.id, b.initial_stock))
            .collect();
        // Only books inventory has no row for. A book published through PublishBook got
        // its opening stock from catalog under `publish:<id>`; restocking it here under
        // `seed:<id>` (a different id, so no replay) put that stock on the shelf twice.
        // ❌ DON'T count on request ids to dedupe across two writers: each one's id only
        // guards against its own retries. (Pages of 100 = GetStocks' batch limit.)
        if !page.is_empty() {
            let known: std::collections::HashSet<u64> = inventory
                .get_stocks(GetStocksRequest { book_ids: page.iter().map(|b| b.0).collect() })
                .await?
                .into_inner()
                .stocks
                .into_iter()
                .map(|s| s.book_id)
                .collect();
            books.extend(page.into_iter().filter(|b| !known.contains(&b.0)));
        }
        if done {
            break;
        }
    }

    // 32 requests in flight: enough to finish 5,000 restocks in about a second, few enough
    // not to starve the services the learner is about to look at.
    let failures = stream::iter(books.iter().copied())
        .map(|(book_id, stock)| {
            let mut client = inventory.clone();
            async move {
                // The whole quantity in one call: IncrStock refuses more than 10,000 at
                // once, and seed quantities are 0–500.
                client
                    .incr_stock(IncrStockRequest {
                        book_id,
                        quantity: stock,
                        request_id: format!("seed:{book_id}"),
                        remark: "seed".into(),
                    })
                    .await
                    .err()
            }
        })
        .buffer_unordered(32)
        // Answers arrive in completion order, so `first` below is the first to fail in
        // time, not the lowest book id; only the errors are kept.
        .filter_map(|e| async move { e })
        .collect::<Vec<_>>()
        .await;
    // Every restock is attempted before failing, and the count is reported: "3 of 5,000
    // failed" and "5,000 of 5,000 failed" point at different problems. A re-run of `up`
    // repeats only the missing ones in effect, since applied ids are replays.
    if let Some(first) = failures.first() {
        bail!("{} of {} restocks failed; first: {first}", failures.len(), books.len());
    }
    // "newly stocked", not "stocked": on a second `up` it prints 0, which is the learner's
    // evidence that the run was a no-op rather than a second helping of stock.
    eprintln!("==> seed catalogue ready: {} books newly stocked", books.len());
    Ok(())
}

/// The lab's admin account: `admin` / `bookstore-admin-dev` (development only — the
/// services refuse that password outside development). Publishing books needs it.
pub const ADMIN_USERNAME: &str = "admin";
/// See [`ADMIN_USERNAME`]. Also in the README and the Day 29 lesson.
pub const ADMIN_PASSWORD: &str = "bookstore-admin-dev";

/// Makes the lab's admin account ([`ADMIN_USERNAME`]) through `user-service ensure-admin`,
/// the operator's command — there is no RPC that grants admin (see user-service).
///
/// Run by every `up`, with or without `--no-seed`: an account is not catalogue content,
/// and the experiments that publish a book (Day 29, 31–34) log in as it.
pub async fn ensure_admin(dir: &Path, bin_dir: &Path, state: &StackState) -> anyhow::Result<()> {
    // The operator's command, run as a child with the same MySQL URL the running
    // user-service has: the account lands in the database it reads, through the same
    // argon2 hashing code, and no lab code writes user-service's tables.
    let log = std::fs::File::create(dir.join("logs/admin.log"))?;
    let status = Command::new(bin_dir.join("user-service"))
        .args(["ensure-admin", ADMIN_USERNAME])
        .env("BOOKSTORE_MYSQL_URL", state.mysql_url()?)
        // The built-in password is accepted in development only, which the lab runs.
        .env("BOOKSTORE_ENVIRONMENT", "development")
        .env("BOOKSTORE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .context("cannot run `user-service ensure-admin`")?;
    if !status.success() {
        bail!("`user-service ensure-admin` failed; see {}", dir.join("logs/admin.log").display());
    }
    Ok(())
}
