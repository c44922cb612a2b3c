# One image with every bookstore binary; compose.yaml picks the binary per service.
# Build:  docker compose build      (the lab itself runs fine without Docker: `make lab`)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --workspace --bins \
 && mkdir /out \
 && cp target/release/user-service target/release/catalog-service target/release/inventory-service \
       target/release/order-service target/release/payment-service target/release/gateway \
       target/release/bookstore-lab /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# Listen on all interfaces inside the container; compose publishes only what it must.
ENV BOOKSTORE_HOST=0.0.0.0
