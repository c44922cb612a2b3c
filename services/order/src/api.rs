//! The gRPC handlers: read the request, ask the domain, answer. Who may do what is decided
//! here, next to the data it protects:
//!
//! | RPC | caller | rule |
//! |---|---|---|
//! | CreateOrder, GetOrder, ListOrders, CancelOrder | a user (Bearer token) | only their own orders |
//! | UpdateOrderStatus | a service (`x-service-token`) | Paid, Shipped, Completed are not user actions |
//!
//! Why a shared service credential and not the user's token for UpdateOrderStatus: "this
//! order is paid" is a statement only payment-service can make. If a user's token could
//! move an order to Paid, any shopper could mark their own order paid without paying. A
//! shared secret in metadata is the simplest credential that separates the two; mTLS with a
//! certificate per service (or signed service tokens) is the production form of the same
//! idea, and would also say *which* service is calling.

use std::sync::Arc;

use bookstore_platform::{Secret, auth::bearer_token};
use bookstore_proto::order::{self as pb, order_service_server::OrderService};
use tonic::{Request, Response, Status};

use crate::{
    Error,
    create::{self, Fault},
    domain::{self, Status as OrderStatus, StockAction},
    peers::Peers,
    store::{OrderRow, Store, Transition},
};

/// Metadata key of the lab's fault injection (see [`create::Fault`]).
pub const FAULT_HEADER: &str = "x-lab-fault";

/// The handler: the store, the peers and the few settings the RPCs read.
#[derive(Clone)]
pub struct OrderApi {
    store: Store,
    peers: Peers,
    inner: Arc<Config>,
}

/// What the handlers need from the settings.
pub struct Config {
    pub payment_window_secs: u64,
    pub service_token: Secret,
    pub lab_faults: bool,
}

impl OrderApi {
    pub fn new(store: Store, peers: Peers, config: Config) -> Self {
        Self { store, peers, inner: Arc::new(config) }
    }

    /// The caller's user id, from the Bearer token via user-service.
    async fn caller<T>(&self, request: &Request<T>) -> Result<u64, Status> {
        let token = bearer_token(request.metadata())?;
        Ok(self.peers.validate(&token).await?.user_id)
    }

    /// Order `id` if it belongs to `user_id`. Someone else's order is NOT_FOUND, exactly like
    /// a missing one: PERMISSION_DENIED would confirm that the id exists, and ids are
    /// sequential — a scraper could count every shop's orders.
    async fn owned(&self, id: u64, user_id: u64) -> Result<OrderRow, Error> {
        match self.store.get(id).await? {
            Some(o) if o.user_id == user_id => Ok(o),
            _ => Err(Error::NotFound(format!("order {id} not found"))),
        }
    }

    fn check_service<T>(&self, request: &Request<T>) -> Result<(), Error> {
        if bookstore_platform::auth::has_service_token(
            request.metadata(),
            &self.inner.service_token,
        ) {
            Ok(())
        } else {
            Err(Error::PermissionDenied("UpdateOrderStatus needs the service credential".into()))
        }
    }

    fn fault<T>(&self, request: &Request<T>) -> Result<Fault, Error> {
        match request.metadata().get(FAULT_HEADER) {
            Some(v) if self.inner.lab_faults => Fault::parse(v.to_str().unwrap_or("")),
            _ => Ok(Fault::None),
        }
    }

    /// Applies a transition and settles the stock it owes; maps the outcomes to answers.
    async fn move_to(&self, id: u64, to: OrderStatus, reason: &str) -> Result<OrderRow, Error> {
        // Twice at most around a debt: settle the previous change's stock work, then move.
        for _ in 0..3 {
            match self.store.transition(id, to, reason).await? {
                None => return Err(Error::NotFound(format!("order {id} not found"))),
                Some(Transition::Owes(order)) => {
                    settle(&self.store, &self.peers, &order, order.stock_action).await?
                }
                Some(Transition::Changed(order, action)) => {
                    // The debt is committed with the status; paying it now is an
                    // optimisation. If inventory is down, the answer is still "done" — the
                    // sweeper settles it.
                    if let Err(e) = settle(&self.store, &self.peers, &order, action).await {
                        tracing::warn!(order_id = id, error = %e, "stock action deferred to the sweeper");
                    }
                    return Ok(order);
                }
                Some(Transition::Already(order)) => return Ok(order),
                Some(Transition::Illegal(order)) => {
                    return Err(Error::FailedPrecondition(format!(
                        "order {id} is {:?}; it cannot become {to:?}",
                        order.status
                    )));
                }
                Some(Transition::Expired(_)) => {
                    return Err(Error::FailedPrecondition(format!(
                        "order {id} has expired; it can no longer be paid"
                    )));
                }
            }
        }
        Err(Error::Aborted(format!("order {id} is changing too fast; retry")))
    }
}

/// Performs `action`, the stock work a status change of `order` owes inventory, and clears
/// it. Idempotent end to end: each inventory call is keyed by the order, and the clear is
/// conditional on the action — so the request path and the sweeper may both run it.
pub async fn settle(
    store: &Store,
    peers: &Peers,
    order: &OrderRow,
    action: StockAction,
) -> Result<(), Error> {
    match action {
        StockAction::None => return Ok(()),
        StockAction::Release => {
            let reason = if order.cancel_reason.is_empty() {
                "order cancelled"
            } else {
                &order.cancel_reason
            };
            peers.release(order.id, reason).await?
        }
        StockAction::Confirm => peers.confirm(order.id).await?,
        StockAction::Return => {
            let lines: Vec<_> = order.items.iter().map(|i| (i.book_id, i.quantity)).collect();
            peers.return_sold(order.id, &lines).await?
        }
    }
    store.clear_action(order.id, action).await
}

/// One place where results become answers, and where every RPC is counted by outcome.
fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    metrics::counter!("order_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let token = bearer_token(request.metadata())?;
        let fault = self.fault(&request)?;
        let req = request.into_inner();
        let ctx = create::Ctx {
            store: &self.store,
            peers: &self.peers,
            payment_window_secs: self.inner.payment_window_secs,
        };
        let created = create::run(
            &ctx,
            create::Request {
                token: &token,
                items: req.items.iter().map(|i| (i.book_id, i.quantity)).collect(),
                idempotency_key: &req.idempotency_key,
                fault,
            },
        )
        .await;
        // The call chain travels back as `server-timing` metadata, beside the answer.
        let timing = created.as_ref().ok().map(|c| c.trace.header());
        let answer = created.map(|c| pb::CreateOrderResponse {
            order: Some(to_proto(&c.order)),
            replayed: c.replayed,
        });
        let mut response = finish("create", answer)?;
        if let Some(Ok(v)) = timing.map(|t| t.parse()) {
            response.metadata_mut().insert("server-timing", v);
        }
        Ok(response)
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let user = self.caller(&request).await?;
        let id = request.get_ref().order_id;
        let result =
            self.owned(id, user).await.map(|o| pb::GetOrderResponse { order: Some(to_proto(&o)) });
        finish("get", result)
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let user = self.caller(&request).await?;
        let req = request.into_inner();
        let result = async {
            let status = match req.status {
                0 => None,
                s => Some(OrderStatus::from_proto(s)?),
            };
            let (page, size) = domain::page(req.page, req.page_size);
            let (orders, total) = self.store.list(user, status, page, size).await?;
            Ok(pb::ListOrdersResponse { orders: orders.iter().map(to_proto).collect(), total })
        };
        finish("list", result.await)
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let user = self.caller(&request).await?;
        let req = request.into_inner();
        let result = async {
            self.owned(req.order_id, user).await?;
            let reason = cancel_reason(&req.reason, "cancelled by user")?;
            let order = self.move_to(req.order_id, OrderStatus::Cancelled, &reason).await?;
            Ok(pb::CancelOrderResponse { order: Some(to_proto(&order)) })
        };
        finish("cancel", result.await)
    }

    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Result<Response<pb::UpdateOrderStatusResponse>, Status> {
        let result = async {
            self.check_service(&request)?;
            let req = request.get_ref();
            let to = OrderStatus::from_proto(req.status)?;
            let reason = cancel_reason(&req.reason, "cancelled by service")?;
            let order = self.move_to(req.order_id, to, &reason).await?;
            Ok(pb::UpdateOrderStatusResponse { order: Some(to_proto(&order)) })
        };
        finish("update_status", result.await)
    }
}

/// A caller's cancel reason: at most 200 characters (the column), else `default`.
fn cancel_reason(raw: &str, default: &str) -> Result<String, Error> {
    let raw = raw.trim();
    if raw.chars().count() > 200 {
        return Err(Error::InvalidArgument("reason is longer than 200 characters".into()));
    }
    Ok(if raw.is_empty() { default.to_string() } else { raw.to_string() })
}

fn millis(t: &chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// The stored order as the proto's message.
pub fn to_proto(o: &OrderRow) -> pb::Order {
    pb::Order {
        id: o.id,
        order_no: o.order_no.clone(),
        user_id: o.user_id,
        total: o.total,
        status: o.status.to_proto() as i32,
        items: o
            .items
            .iter()
            .map(|i| pb::OrderItem {
                book_id: i.book_id,
                title: i.title.clone(),
                quantity: i.quantity,
                price: i.price,
            })
            .collect(),
        created_at: millis(&o.created_at),
        updated_at: millis(&o.updated_at),
        expires_at: millis(&o.expires_at),
        cancel_reason: o.cancel_reason.clone(),
    }
}
