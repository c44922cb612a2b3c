//! The gRPC handlers: parse into domain types, call one store method, map the answer.
//!
//! Handlers stay thin on purpose: the rules live in the Lua scripts (atomicity,
//! idempotence) and in `domain` (validation), where a learner can read them without gRPC
//! noise. Each handler counts its outcome in `inventory_operations_total{op, result}`.

use std::time::Duration;

use bookstore_proto::inventory::{self as pb, inventory_service_server::InventoryService};
use sqlx::MySqlPool;
use tonic::{Request, Response, Status};

use crate::domain::{BookId, Lines, OrderId, Quantity, RequestId, parse_remark};
use crate::error::Error;
use crate::ledger;
use crate::store::{Settle, StockStore};

/// The service: the Redis store (hot path) and the MySQL pool (ledger reads).
#[derive(Clone)]
pub struct InventoryApi {
    store: StockStore,
    pool: MySqlPool,
}

impl InventoryApi {
    pub fn new(store: StockStore, pool: MySqlPool) -> Self {
        Self { store, pool }
    }
}

/// Counts the outcome and converts the error: the one exit of every handler.
fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    metrics::counter!("inventory_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl InventoryService for InventoryApi {
    async fn get_stock(
        &self,
        request: Request<pb::GetStockRequest>,
    ) -> Result<Response<pb::GetStockResponse>, Status> {
        let result = async {
            let book = BookId::parse(request.get_ref().book_id)?;
            let stock = self.store.get(book).await?;
            Ok(pb::GetStockResponse { stock: Some(stock.into()) })
        };
        finish("get", result.await)
    }

    async fn lock_stock(
        &self,
        request: Request<pb::LockStockRequest>,
    ) -> Result<Response<pb::LockStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            let lines = Lines::parse(&req.items)?;
            let (stocks, replayed) = self.store.lock(order, &lines).await?;
            Ok(pb::LockStockResponse {
                stocks: stocks.into_iter().map(Into::into).collect(),
                replayed,
            })
        };
        finish("lock", result.await)
    }

    async fn release_stock(
        &self,
        request: Request<pb::ReleaseStockRequest>,
    ) -> Result<Response<pb::ReleaseStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            let reason = parse_remark(&req.reason)?;
            let reason = if reason.is_empty() { "released".to_string() } else { reason };
            let settled = self.store.settle(order, Settle::Release, &reason).await?;
            Ok(pb::ReleaseStockResponse {
                released: settled
                    .lines
                    .into_iter()
                    .map(|(book_id, quantity)| pb::StockItem { book_id, quantity })
                    .collect(),
                replayed: settled.replayed,
            })
        };
        finish("release", result.await)
    }

    async fn decr_stock(
        &self,
        request: Request<pb::DecrStockRequest>,
    ) -> Result<Response<pb::DecrStockResponse>, Status> {
        let req = request.into_inner();
        let confirm = req.items.is_empty();
        let result = async {
            let order = OrderId::parse(req.order_id)?;
            if confirm {
                // The order was paid: its locked units become sold.
                let settled = self.store.settle(order, Settle::Confirm, "paid").await?;
                let mut stocks = Vec::with_capacity(settled.lines.len());
                for (book, _) in &settled.lines {
                    stocks.push(self.store.get(BookId::parse(*book)?).await?.into());
                }
                return Ok(pb::DecrStockResponse { stocks, replayed: settled.replayed });
            }
            let lines = Lines::parse(&req.items)?;
            let (stocks, replayed) = self.store.decr(order, &lines).await?;
            Ok(pb::DecrStockResponse {
                stocks: stocks.into_iter().map(Into::into).collect(),
                replayed,
            })
        };
        finish(if confirm { "confirm" } else { "decr" }, result.await)
    }

    async fn incr_stock(
        &self,
        request: Request<pb::IncrStockRequest>,
    ) -> Result<Response<pb::IncrStockResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let book = BookId::parse(req.book_id)?;
            let qty = Quantity::parse(req.quantity.into())?;
            let request_id = RequestId::parse(&req.request_id)?;
            let remark = parse_remark(&req.remark)?;
            let (stock, replayed) = self.store.incr(book, qty, &request_id, &remark).await?;
            Ok(pb::IncrStockResponse { stock: Some(stock.into()), replayed })
        };
        finish("incr", result.await)
    }

    async fn get_stock_log(
        &self,
        request: Request<pb::GetStockLogRequest>,
    ) -> Result<Response<pb::GetStockLogResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let book = BookId::parse(req.book_id)?;
            let size = match req.page_size {
                0 => 20,
                n => n.min(100),
            };
            let (rows, total) =
                ledger::stock_log(&self.pool, book.get(), req.page.max(1), size).await?;
            Ok(pb::GetStockLogResponse {
                logs: rows
                    .into_iter()
                    .map(|r| pb::StockLog {
                        id: r.id,
                        book_id: r.book_id,
                        quantity: r.quantity,
                        r#type: i32::from(r.kind),
                        order_id: r.order_id.unwrap_or(0),
                        remark: r.remark.unwrap_or_default(),
                        created_at: r.created_at.and_utc().timestamp_millis(),
                    })
                    .collect(),
                total,
            })
        };
        finish("log", result.await)
    }

    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        let req = request.into_inner();
        let result = async {
            let books = req
                .book_ids
                .iter()
                .map(|b| BookId::parse(*b).map(BookId::get))
                .collect::<Result<Vec<_>, _>>()?;
            let (checked, drifts) =
                ledger::reconcile(&self.store, &self.pool, &books, Duration::from_secs(5)).await?;
            Ok(pb::ReconcileResponse {
                checked,
                drifts: drifts
                    .into_iter()
                    .map(|d| pb::StockDrift {
                        book_id: d.book_id,
                        redis: Some(d.redis.into()),
                        mysql: Some(d.mysql.into()),
                    })
                    .collect(),
            })
        };
        finish("reconcile", result.await)
    }
}
