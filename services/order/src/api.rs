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
//!
//! How a status change travels, for CancelOrder and UpdateOrderStatus (the sweeper's expiry
//! is a batch UPDATE of its own, see [`crate::sweeper`]):
//!
//! ```text
//! move_to(id, to)
//!   └ Store::transition        conditional UPDATE: status + the stock action it owes, one row
//!        ├ Changed(order, a) → settle(a): ReleaseStock | confirm | IncrStock, then clear_action
//!        ├ Owes(order)       → settle the *previous* change's action first, then try again
//!        ├ Already / Illegal / Expired → answered as they are, nothing written
//!   (inventory down? the action stays recorded, the answer is still "done", the sweeper settles it)
//! ```
//!
//! Every handler ends in [`finish`], which counts the outcome and maps the error: one line
//! per RPC decides the gRPC answer, and no RPC can forget its metric.
//!
//! ✅ DO check "is this the caller's order?" here, in the service that owns the orders,
//! on every RPC. ❌ DON'T leave it to the gateway: order-service is reachable over gRPC by
//! every other service (and by grpcurl), so a rule enforced only in front of it holds for
//! nobody who goes around the front.

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

/// Metadata key of the lab's fault injection (see [`create::Fault`]). Metadata rather than
/// a request field, so the proto — the contract with every client — carries no lab knob.
pub const FAULT_HEADER: &str = "x-lab-fault";

/// The handler: the store, the peers and the few settings the RPCs read.
///
/// It owns no state of its own beyond handles: everything an RPC decides on is read from
/// order_db or a peer during that RPC, so two instances (or a restarted one) answer the
/// same question the same way.
#[derive(Clone)]
pub struct OrderApi {
    store: Store,
    /// Shared with the sweeper: the same channels and deadlines for both.
    peers: Peers,
    inner: Arc<Config>,
}

/// What the handlers need from the settings.
pub struct Config {
    /// How long a new order stays payable (`expires_at = NOW(3) + window`).
    pub payment_window_secs: u64,
    /// What UpdateOrderStatus's `x-service-token` must equal.
    pub service_token: Secret,
    /// Whether `x-lab-fault` is honoured; off in production, so no client header can make
    /// a creation fail or stall with stock locked.
    pub lab_faults: bool,
}

impl OrderApi {
    /// The handlers over `store` and `peers`; `config` is shared behind an `Arc`, so the
    /// per-connection clones tonic makes copy two handles and a pointer.
    pub fn new(store: Store, peers: Peers, config: Config) -> Self {
        Self { store, peers, inner: Arc::new(config) }
    }

    /// The caller's user id, from the Bearer token via user-service.
    ///
    /// Asked on every RPC, never cached: one ~1 ms call to user-service, against a cache
    /// that would keep honouring a token after it expired. The id comes from user-service's
    /// answer, never from the token's claims read here, so a forged token proves nothing.
    async fn caller<T>(&self, request: &Request<T>) -> Result<u64, Status> {
        // A missing or malformed header is UNAUTHENTICATED here, without a call to user-service.
        let token = bearer_token(request.metadata())?;
        Ok(self.peers.validate(&token).await?.user_id)
    }

    /// Order `id` if it belongs to `user_id`. Someone else's order is NOT_FOUND, exactly like
    /// a missing one: PERMISSION_DENIED would confirm that the id exists, and ids are
    /// sequential — a scraper could count every shop's orders.
    async fn owned(&self, id: u64, user_id: u64) -> Result<OrderRow, Error> {
        // One read decides both "exists" and "is yours", so there is no moment at which
        // the two answers could be told apart by timing either.
        match self.store.get(id).await? {
            Some(o) if o.user_id == user_id => Ok(o),
            _ => Err(Error::NotFound(format!("order {id} not found"))),
        }
    }

    /// Whether the request carries the service credential (compared in constant time by
    /// the platform); `PermissionDenied` otherwise — the caller may well be a logged-in
    /// shopper, who is known but not allowed (403, not 401).
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

    /// The lab fault the request asks for, or `Fault::None` when lab faults are off: a
    /// production instance ignores the header entirely instead of refusing it, so its
    /// presence reveals nothing and costs nothing.
    fn fault<T>(&self, request: &Request<T>) -> Result<Fault, Error> {
        match request.metadata().get(FAULT_HEADER) {
            // A header that is not text parses as "" and is refused like any unknown fault.
            Some(v) if self.inner.lab_faults => Fault::parse(v.to_str().unwrap_or("")),
            _ => Ok(Fault::None),
        }
    }

    /// Applies a transition and settles the stock it owes; maps the outcomes to answers.
    ///
    /// Up to three rounds: an `Owes` settles the earlier change's stock work and tries the
    /// move again. An order still changing under us after three rounds is answered ABORTED,
    /// and the caller retries (every move is idempotent, so a retry is safe).
    async fn move_to(&self, id: u64, to: OrderStatus, reason: &str) -> Result<OrderRow, Error> {
        for _ in 0..3 {
            match self.store.transition(id, to, reason).await? {
                // No such order: for CancelOrder already checked by `owned`, for the service a
                // plain NOT_FOUND.
                None => return Err(Error::NotFound(format!("order {id} not found"))),
                // Here a failure is the answer: the move cannot happen before the old debt is
                // paid, so if inventory is down the caller gets UNAVAILABLE and retries.
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
                // Already there: a retried cancel, a relay delivering Paid twice. The answer
                // is the order as it is, exactly as for the first call — idempotent.
                Some(Transition::Already(order)) => return Ok(order),
                // The message names both states: "order 7 is Shipped; it cannot become
                // Cancelled" tells a shopper (and a support agent) exactly why.
                Some(Transition::Illegal(order)) => {
                    return Err(Error::FailedPrecondition(format!(
                        "order {id} is {:?}; it cannot become {to:?}",
                        order.status
                    )));
                }
                // FAILED_PRECONDITION, not NOT_FOUND or ABORTED: the relay treats it as final
                // and refunds; a retryable code here would retry a dead order forever.
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
///
/// Public because the sweeper runs exactly this for owed actions: one implementation of
/// "pay inventory what an order owes", whoever notices the debt first.
pub async fn settle(
    store: &Store,
    peers: &Peers,
    order: &OrderRow,
    action: StockAction,
) -> Result<(), Error> {
    match action {
        // Nothing owed: nothing to call, nothing to clear.
        StockAction::None => return Ok(()),
        // The reason travels to inventory's ledger (`inventory_logs.remark`), so an operator
        // reading stock movements sees "expired" or the shopper's words, not just "release".
        StockAction::Release => {
            let reason = if order.cancel_reason.is_empty() {
                "order cancelled"
            } else {
                &order.cancel_reason
            };
            peers.release(order.id, reason).await?
        }
        StockAction::Confirm => peers.confirm(order.id).await?,
        // The lines from the order as stored: what was sold is what comes back, whatever the
        // request that cancelled it said.
        StockAction::Return => {
            let lines: Vec<_> = order.items.iter().map(|i| (i.book_id, i.quantity)).collect();
            peers.return_sold(order.id, &lines).await?
        }
    }
    // Cleared only after inventory acknowledged: a crash between the two leaves the action
    // recorded, and the sweeper calls inventory again — harmless, every call is idempotent.
    store.clear_action(order.id, action).await
}

/// One place where results become answers, and where every RPC is counted by outcome
/// (`order_operations_total{op, result}`; `result` is [`Error::label`], a closed set).
fn finish<T>(op: &'static str, result: Result<T, Error>) -> Result<Response<T>, Status> {
    let label = match &result {
        Ok(_) => "ok",
        Err(e) => e.label(),
    };
    metrics::counter!("order_operations_total", "op" => op, "result" => label).increment(1);
    result.map(Response::new).map_err(Status::from)
}

/// The five RPCs. Every one but UpdateOrderStatus learns who the caller is from a Bearer
/// token, checked by user-service; UpdateOrderStatus instead checks the service
/// credential, and trusts no user at all.
#[tonic::async_trait]
impl OrderService for OrderApi {
    /// CreateOrder: the orchestration lives in [`create::run`]; this adapts it to tonic and
    /// attaches the call chain.
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        // The token is passed to `create::run` unvalidated: it is checked there, side by
        // side with the price lookups, instead of costing a round trip up front.
        let token = bearer_token(request.metadata())?;
        // An unknown fault is refused here, before any work: a lab run with a typo fails
        // loudly instead of quietly taking the happy path.
        let fault = self.fault(&request)?;
        let req = request.into_inner();
        let ctx = create::Ctx {
            store: &self.store,
            peers: &self.peers,
            payment_window_secs: self.inner.payment_window_secs,
        };
        // The items are copied out of the proto as plain pairs: `create` knows nothing of
        // tonic, and its unit of work is a parsed basket, not a wire message.
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
        // The call chain travels back as `server-timing` metadata, beside the answer: the
        // lab draws it, and `grpcurl -v` shows it, without a tracing backend. Only on
        // success — a failed creation's partial chain would mislead more than it shows.
        let timing = created.as_ref().ok().map(|c| c.trace.header());
        // `replayed` tells the caller (and the gateway's 200/201) whether anything happened now.
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

    /// GetOrder: the caller's own order, or NOT_FOUND.
    ///
    /// The order's own fields, lines included; besides user-service (who is asking?), no
    /// other service is consulted: an order is a snapshot, read with two indexed queries.
    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        // Order id 0 needs no special case: no order has it, so it is NOT_FOUND like any
        // id that is not the caller's.
        let user = self.caller(&request).await?;
        let id = request.get_ref().order_id;
        let result =
            self.owned(id, user).await.map(|o| pb::GetOrderResponse { order: Some(to_proto(&o)) });
        finish("get", result)
    }

    /// ListOrders: a page of the caller's orders, newest first, optionally of one status.
    ///
    /// Three statements for any page: the page, the count, and the lines of the whole page.
    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let user = self.caller(&request).await?;
        let req = request.into_inner();
        let result = async {
            // 0 (UNSPECIFIED) is "every status", the proto's default for an unset filter.
            let status = match req.status {
                0 => None,
                // An unknown number is INVALID_ARGUMENT, not "every status": a filter the
                // server cannot read must not silently widen to everything.
                s => Some(OrderStatus::from_proto(s)?),
            };
            // The caller's own orders only: the user id comes from the token, and the request
            // has no field that could name anyone else.
            let (page, size) = domain::page(req.page, req.page_size);
            let (orders, total) = self.store.list(user, status, page, size).await?;
            Ok(pb::ListOrdersResponse { orders: orders.iter().map(to_proto).collect(), total })
        };
        finish("list", result.await)
    }

    /// CancelOrder: the owner cancels a Pending or Paid order; its stock is released or
    /// returned, within the request if inventory answers, by the sweeper otherwise.
    ///
    /// A gap, said plainly: cancelling a *Paid* order returns its units but does not refund
    /// the money — nothing tells payment-service (it refunds only payments that arrive for
    /// an order that can no longer be paid). A real shop would record a "refund owed"
    /// row here, committed together with the status change (an outbox like
    /// payment-service's), and let a relay deliver it.
    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        // The caller first, outside the counted body: without a valid token there is no
        // caller to attribute the cancel to.
        let user = self.caller(&request).await?;
        let req = request.into_inner();
        let result = async {
            // Ownership first, then the move: `move_to` itself knows no owners (the service
            // path and the sweeper use it too). A shopper may cancel Pending and Paid
            // orders; a Shipped one is FAILED_PRECONDITION, decided by the state machine.
            self.owned(req.order_id, user).await?;
            let reason = cancel_reason(&req.reason, "cancelled by user")?;
            let order = self.move_to(req.order_id, OrderStatus::Cancelled, &reason).await?;
            Ok(pb::CancelOrderResponse { order: Some(to_proto(&order)) })
        };
        finish("cancel", result.await)
    }

    /// UpdateOrderStatus: payment-service's Paid, an operator's Shipped/Completed/Cancelled —
    /// any legal move, for any order, with the service credential only.
    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Result<Response<pb::UpdateOrderStatusResponse>, Status> {
        let result = async {
            // The credential before anything is read: an unauthorised caller learns nothing,
            // not even whether the order id exists.
            self.check_service(&request)?;
            let req = request.get_ref();
            let to = OrderStatus::from_proto(req.status)?;
            // The same `move_to` as CancelOrder: one implementation of the state machine for
            // both RPCs, so a rule cannot hold for one and not the other. (The sweeper's
            // expiry is the one other writer: a batch UPDATE with the same Pending condition.)
            let reason = cancel_reason(&req.reason, "cancelled by service")?;
            let order = self.move_to(req.order_id, to, &reason).await?;
            Ok(pb::UpdateOrderStatusResponse { order: Some(to_proto(&order)) })
        };
        finish("update_status", result.await)
    }
}

/// A caller's cancel reason: at most 200 characters (the column), else `default`.
///
/// Trimmed first, so "   " counts as no reason; counted in characters, so a Chinese
/// reason of 200 characters fits a `VARCHAR(200)` column just as an English one does.
fn cancel_reason(raw: &str, default: &str) -> Result<String, Error> {
    let raw = raw.trim();
    if raw.chars().count() > 200 {
        return Err(Error::InvalidArgument("reason is longer than 200 characters".into()));
    }
    Ok(if raw.is_empty() { default.to_string() } else { raw.to_string() })
}

/// Unix milliseconds of a `DATETIME(3)`, which sqlx's MySQL sessions read as UTC: the
/// unit every proto timestamp uses, so a client compares `expires_at` with its own clock.
fn millis(t: &chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// The stored order as the proto's message. `request_body` and `stock_action` stay behind:
/// the first is the idempotency check's business, the second inventory bookkeeping that
/// means nothing to a shopper.
pub fn to_proto(o: &OrderRow) -> pb::Order {
    pb::Order {
        id: o.id,
        order_no: o.order_no.clone(),
        user_id: o.user_id,
        total: o.total,
        status: o.status.to_proto() as i32,
        // The snapshot lines as stored, in book-id order.
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
