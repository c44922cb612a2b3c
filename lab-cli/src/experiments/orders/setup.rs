//! The run's set-up through the public APIs: fresh shoppers, the lab admin's token, and a
//! freshly published book (also used by the payments, flash-sale and cache experiments).

use anyhow::Context as _;
use bookstore_proto::{
    catalog::{PublishBookRequest, catalog_service_client::CatalogServiceClient},
    user::{LoginRequest, RegisterRequest, user_service_client::UserServiceClient},
};
use rand::Rng;

use super::authed;
use crate::experiments::cache::channel;

// Fresh users per run, not one shared lab account: each run's ListOrders then returns
// exactly that run's orders, so no filtering by time is needed, and a learner's own curl
// orders (as `day31-alice`) never mix into the conservation check.
/// `n` fresh users, registered and logged in at once (each register is an argon2 hash on
/// user-service, so doing them together halves the setup on two cores).
///
/// Returns one token per shopper, in the order asked. The first failure fails the call,
/// and the users registered before it stay in user_db: harmless, since their names are
/// unique and nothing else refers to them.
pub(crate) async fn shoppers(user: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let ch = channel(user).await?;
    // Concurrent, over one channel: user-service runs the argon2 hashes in parallel
    // on its blocking pool, up to its own bound on hashes at once.
    let logins = (0..n).map(|_| {
        let mut users = UserServiceClient::new(ch.clone());
        async move {
            // Unique per call (the same helper the tests use), so two runs — or two
            // experiments at once — never register the same name and meet ALREADY_EXISTS.
            let username = bookstore_stack::testing::unique_name("shopper");
            // Derived from the name, so it needs no storage: the token is all the run keeps,
            // and the name alone clears user-service's 8-character minimum.
            let password = format!("{username}-pw-1234");
            users
                .register(RegisterRequest {
                    username: username.clone(),
                    password: password.clone(),
                    email: format!("{username}@lab.local"),
                })
                .await?;
            let r = users.login(LoginRequest { username, password }).await?;
            anyhow::Ok(r.into_inner().token)
        }
    });
    // All or nothing: the burst deals its orders over every token, and a missing
    // shopper would shift which orders belong to whom.
    futures::future::try_join_all(logins).await.context("register the experiment's shoppers")
}

/// Logs in as the lab's admin account (`admin`, made by every `bookstore-lab up`; see
/// `bookstore_stack::seed::ensure_admin`): publishing needs the admin role, which no
/// shopper's token carries.
///
/// Fails when the admin was never seeded (a user_db made without `up`) or its password was
/// changed by hand; the error's context names `up` as the way back.
pub(crate) async fn admin_token(user: &str) -> anyhow::Result<String> {
    use bookstore_stack::seed::{ADMIN_PASSWORD, ADMIN_USERNAME};
    let mut users = UserServiceClient::new(channel(user).await?);
    let login = LoginRequest { username: ADMIN_USERNAME.into(), password: ADMIN_PASSWORD.into() };
    let r = users.login(login).await.context("log in as the lab's admin (made by `up`)")?;
    Ok(r.into_inner().token)
}

// Published as the lab's admin with its opening stock: PublishBook gives the book its
// units in inventory itself (IncrStock `publish:<id>`), so there is no restock step here.
/// Publishes a new book with `stock` units (in inventory, through the publish); returns its id.
///
/// Needs user-service (the admin's login) and catalog-service; inventory is reached by
/// catalog itself. The id is all a caller keeps: every later read of the book goes by it.
pub(crate) async fn fresh_book(user: &str, catalog: &str, stock: u32) -> anyhow::Result<u64> {
    // A fresh admin login per publish: a login costs one argon2 verify, and a token kept
    // across a long TUI session could outlive its two-hour lifetime between two key presses.
    let token = admin_token(user).await?;
    // A random valid ISBN-13 (978 prefix, computed check digit): catalog
    // rejects malformed ones, and a fixed ISBN would collide with the previous run's.
    // Nine random digits make a repeat unlikely over a lab database's life, and a repeat
    // would fail loudly on `uk_books_isbn` rather than hand the run an old, used book.
    // Digit values 0–9, not ASCII: the check-digit rule works on values, and the string
    // is built from them below by adding `b'0'`.
    let first12: Vec<u8> =
        [9u8, 7, 8].into_iter().chain((0..9).map(|_| rand::rng().random_range(0..10u8))).collect();
    let check = bookstore_catalog::domain::isbn13_check_digit(&first12);
    let isbn: String = first12.iter().chain([&check]).map(|d| char::from(b'0' + d)).collect();
    let mut cat = CatalogServiceClient::new(channel(catalog).await?);
    let req = PublishBookRequest {
        title: "限量版：订单实验".into(),
        author: "bookstore-lab".into(),
        isbn,
        publisher: "实验室出版社".into(),
        // 59.00 in cents: the payments experiment's amount checks read this total.
        price: 5900,
        // The proto's opening stock is an `i32`; the lab's knobs stay far below it.
        stock: i32::try_from(stock).unwrap_or(i32::MAX),
        description: "Day 31–32 订单实验用书，库存很少".into(),
    };
    let book = cat
        .publish_book(authed(req, &token)?)
        .await
        .context("publish the experiment's book")?
        .into_inner()
        .book
        .ok_or_else(|| anyhow::anyhow!("PublishBook returned no book"))?;
    Ok(book.id)
}
