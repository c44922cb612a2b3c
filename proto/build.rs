//! Compiles every `.proto` under `bookstore/` with protox — a protobuf compiler written in
//! Rust — so a learner needs no system `protoc`. The same descriptor set is written to
//! OUT_DIR so that servers can offer gRPC reflection (`grpcurl list` with no proto files).

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "bookstore/user/v1/user.proto",
    "bookstore/catalog/v1/catalog.proto",
    "bookstore/inventory/v1/inventory.proto",
    "bookstore/order/v1/order.proto",
    "bookstore/payment/v1/payment.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("bookstore_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // RPCs a service has not built yet answer UNIMPLEMENTED instead of not compiling.
        .generate_default_stubs(true)
        // Messages that carry a password get a hand-written `Debug` (in `src/lib.rs`) that
        // prints `***`: a derived one would put the password into any `{:?}` log line.
        .skip_debug([".bookstore.user.v1.RegisterRequest", ".bookstore.user.v1.LoginRequest"])
        .compile_fds(fds)?;
    Ok(())
}
