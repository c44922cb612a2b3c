//! # bookstore-proto — the contracts, compiled once
//!
//! Every service's gRPC API, generated from `proto/bookstore/<svc>/v1/*.proto` by
//! `build.rs`. Servers implement the `*_server` traits; everyone else uses the
//! `*_client` types. The protos are the source of truth for each RPC's contract
//! (idempotence, errors, who may call it) — read them before the Rust code.
//!
//! - [`user`], [`catalog`], [`inventory`], [`order`], [`payment`]: one module per service.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC reflection.

/// Encoded `FileDescriptorSet` of every bookstore proto (for tonic-reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/bookstore_descriptor.bin"));

/// user-service: Register, Login, ValidateToken, GetUser.
#[allow(clippy::all)] // generated code: its doc comments come from the .proto files
pub mod user {
    tonic::include_proto!("bookstore.user.v1");

    // `Debug` by hand for the two requests that carry a password (build.rs skips the
    // derived one): `tracing::debug!(?request)` while chasing a bug must not write a
    // password into a log that many people read. ✅ DO redact in the type, once;
    // ❌ DON'T rely on every future log line remembering to leave the field out.
    impl std::fmt::Debug for RegisterRequest {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RegisterRequest")
                .field("username", &self.username)
                .field("password", &"***")
                .field("email", &self.email)
                .finish()
        }
    }

    impl std::fmt::Debug for LoginRequest {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("LoginRequest")
                .field("username", &self.username)
                .field("password", &"***")
                .finish()
        }
    }
}

/// catalog-service: ListBooks, GetBook, SearchBooks, PublishBook, UpdateStock.
#[allow(clippy::all)] // generated code: its doc comments come from the .proto files
pub mod catalog {
    tonic::include_proto!("bookstore.catalog.v1");
}

/// inventory-service: GetStock, LockStock, ReleaseStock, DecrStock, IncrStock,
/// GetStockLog (+ Reconcile).
#[allow(clippy::all)] // generated code: its doc comments come from the .proto files
pub mod inventory {
    tonic::include_proto!("bookstore.inventory.v1");
}

/// order-service: CreateOrder, GetOrder, ListOrders, CancelOrder, UpdateOrderStatus.
#[allow(clippy::all)] // generated code: its doc comments come from the .proto files
pub mod order {
    tonic::include_proto!("bookstore.order.v1");
}

/// payment-service: CreatePayment, QueryPayment, MockCallback.
#[allow(clippy::all)] // generated code: its doc comments come from the .proto files
pub mod payment {
    tonic::include_proto!("bookstore.payment.v1");
}
