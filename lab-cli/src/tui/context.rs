//! Where the TUI's commands find the stack: addresses re-read from `stack.json` each time.

use std::path::PathBuf;

use bookstore_stack::StackState;

use crate::experiments::{cache::CacheTargets, orders::OrderTargets, payments::PaymentTargets};

// Only paths, no connections: every command that needs a service re-reads `stack.json`
// at the moment it runs, because the learner may `bookstore-lab up` or `down` in another
// terminal while the TUI is open. Caching addresses here would send the next race to a
// port that no longer listens.
/// Where the TUI finds the stack and keeps progress.
#[derive(Clone, Debug)]
pub struct Context {
    /// The lab directory (`--dir`): `stack.json`, `progress.json`.
    pub lab_dir: PathBuf,
}

impl Context {
    /// The catalog (and its metrics port), user and inventory addresses recorded by the
    /// supervisor right now; only catalog-service is required.
    // The user-service address is optional here: reads need only the catalog, and the
    // missing user-service is reported when (and only if) the learner presses `p`; the
    // same for inventory and `u`, which sells through inventory and must evict nothing.
    pub fn cache_targets(&self) -> anyhow::Result<CacheTargets> {
        // No `stack.json` (nothing was ever started here) is an empty record, so the error
        // names the missing service — what the learner can act on. A file that does not
        // parse stays an error (`?`): read as empty, it would hide a stack that runs.
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        let catalog = state.service("catalog").ok_or_else(|| {
            anyhow::anyhow!("catalog-service is not running (start it with `bookstore-lab up`)")
        })?;
        Ok(CacheTargets {
            catalog: catalog.address.clone(),
            catalog_metrics: catalog.metrics.clone(),
            user: state.service("user").map(|c| c.address.clone()),
            inventory: state.service("inventory").map(|c| c.address.clone()),
        })
    }

    // Every name is required: an order needs a token (user), a price (catalog) and stock
    // (inventory) besides order-service itself, and saying which one is missing before the
    // run beats twenty UNAVAILABLE orders. Re-read at each command like the cache targets,
    // so a service restarted on another port (free ports) is found again.
    /// The four services the orders experiment calls; all must be running.
    pub fn order_targets(&self) -> anyhow::Result<OrderTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        // `service(name)` is the record named exactly `user`, `order`, …: with `--replicas`
        // the extra instances are `user-2`, … and are not picked, so the experiments call
        // the first instance directly and a replica the learner stopped cannot break them.
        let addr = |name: &str| address(&state, name, &format!("{name}-service"));
        Ok(OrderTargets {
            order: addr("order")?,
            inventory: addr("inventory")?,
            catalog: addr("catalog")?,
            user: addr("user")?,
        })
    }

    // Read at each key press like the others — and it matters more here: scenario 3 kills
    // payment-service and `up` restarts it with a new pid and a new metrics port, so the
    // next scenario must not use the record from before the kill.
    /// The six addresses the payments experiment calls (all required), plus the lab
    /// directory for scenario 3's kill and restart.
    pub fn payment_targets(&self) -> anyhow::Result<PaymentTargets> {
        let state = StackState::load(&self.lab_dir)?.unwrap_or_default();
        // The HTTP gateway is required as well: the lab posts the payment provider's
        // callbacks through its `mock-callback` route (the duplicate-callback scenario).
        let addr = |name: &str| address(&state, name, name);
        Ok(PaymentTargets {
            order: addr("order")?,
            inventory: addr("inventory")?,
            catalog: addr("catalog")?,
            user: addr("user")?,
            payment: addr("payment")?,
            gateway: addr("gateway")?,
            payment_metrics: state.service("payment").and_then(|c| c.metrics.clone()),
            lab_dir: self.lab_dir.clone(),
        })
    }
}

/// The recorded address of the service `name`, or an error that calls it `shown` and says
/// how to start it.
fn address(state: &StackState, name: &str, shown: &str) -> anyhow::Result<String> {
    state
        .service(name)
        .map(|c| c.address.clone())
        .ok_or_else(|| anyhow::anyhow!("{shown} is not running (start it with `bookstore-lab up`)"))
}
