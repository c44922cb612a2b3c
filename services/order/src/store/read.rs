//! Reading orders back: one by id, one page of a user's, and the lines of either.

use sqlx::Row;

use super::{
    Store,
    rows::{COLS, OrderRow, item_from_row, order_from_row},
};
use crate::{Error, domain::Status};

impl Store {
    /// Order `id` with its lines, whoever owns it (internal callers and the sweeper). The
    /// owner check is the caller's (`api::owned`): the store answers facts, not permissions.
    ///
    /// Two statements (the order, then its lines), not one JOIN: a JOIN would repeat the
    /// order's columns on every line, and the order without lines would need an outer join.
    pub async fn get(&self, id: u64) -> Result<Option<OrderRow>, Error> {
        // The primary key: one B-tree descent, whatever the table's size.
        let sql = format!("SELECT {COLS} FROM orders WHERE id = ?");
        match sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(self.with_items(order_from_row(&r)?).await?)),
            None => Ok(None),
        }
    }

    /// One page of `user_id`'s orders, newest first, optionally of one status, and the count.
    /// `id` breaks ties between orders of the same millisecond, so a page boundary never
    /// shows one order twice or skips one.
    /// Served by `idx_user_created` (user_id, created_at, id): an index range read backwards,
    /// no filesort. The lines of the whole page come in one `IN (…)` query, not one per order.
    ///
    /// `page` and `size` arrive already bounded by `domain::page` (1-based, ≤ 100).
    pub async fn list(
        &self,
        user_id: u64,
        status: Option<Status>,
        page: u32,
        size: u32,
    ) -> Result<(Vec<OrderRow>, u64), Error> {
        // The filter is a fixed literal or nothing; the status itself is a bind parameter.
        let filter = if status.is_some() { " AND status = ?" } else { "" };
        let sql = format!(
            "SELECT {COLS} FROM orders WHERE user_id = ?{filter} \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        // Binds in the order of the `?`s: user, then the optional status, then paging.
        let mut q = sqlx::query(&sql).bind(user_id);
        if let Some(s) = status {
            q = q.bind(s as i8);
        }
        // `page` is ≥ 1 (domain::page), so `page - 1` cannot underflow; u64 so a huge page
        // number cannot overflow the product.
        let offset = u64::from(page - 1) * u64::from(size);
        let rows = q.bind(size).bind(offset).fetch_all(&self.pool).await?;
        // One corrupt row fails the whole page (`collect` into a `Result`): a list that
        // silently skipped an order would tell its owner the order does not exist.
        let mut orders = rows.iter().map(order_from_row).collect::<Result<Vec<_>, _>>()?;
        // A second statement for the total, on the same index: cheap per user (a shopper has
        // tens of orders, not millions), and simpler than a window function.
        let count_sql = format!("SELECT COUNT(*) FROM orders WHERE user_id = ?{filter}");
        let mut c = sqlx::query_scalar::<_, i64>(&count_sql).bind(user_id);
        if let Some(s) = status {
            c = c.bind(s as i8);
        }
        let total = c.fetch_one(&self.pool).await?;
        // Lines last, for the page only: `total` may be in the thousands, the page is ≤ 100.
        self.attach_items(&mut orders).await?;
        Ok((orders, total as u64))
    }

    /// `order` with its lines, in book-id order (the order `Lines` created them in), so a
    /// replay and the first answer list the lines identically.
    pub(super) async fn with_items(&self, mut order: OrderRow) -> Result<OrderRow, Error> {
        let rows = sqlx::query("SELECT order_id, book_id, title, quantity, price FROM order_items WHERE order_id = ? ORDER BY book_id")
            .bind(order.id)
            .fetch_all(&self.pool)
            .await?;
        order.items = rows.iter().map(item_from_row).collect::<Result<_, _>>()?;
        Ok(order)
    }

    /// The lines of a whole page in one `IN (…)` query instead of one per order: 100
    /// orders cost two statements, not 101 (the "N+1 queries" a list endpoint falls into).
    pub(super) async fn attach_items(&self, orders: &mut [OrderRow]) -> Result<(), Error> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::new(
            "SELECT order_id, book_id, title, quantity, price FROM order_items WHERE order_id IN (",
        );
        let mut ids = q.separated(", ");
        for o in orders.iter() {
            ids.push_bind(o.id);
        }
        q.push(") ORDER BY order_id, book_id");
        let rows = q.build().fetch_all(&self.pool).await?;
        // A linear search per line: a page is at most 100 orders, so a map would cost more
        // to build than it saves.
        // Every line finds its order: the `IN` list is exactly this page's ids. Pushed in
        // the query's `book_id` order, so each order's lines match what `with_items` returns.
        for r in &rows {
            let order_id: u64 = r.try_get("order_id")?;
            if let Some(o) = orders.iter_mut().find(|o| o.id == order_id) {
                o.items.push(item_from_row(r)?);
            }
        }
        Ok(())
    }
}
