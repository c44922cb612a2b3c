//! argon2id password hashing, run off the async runtime.
//!
//! Why argon2id: it is *memory-hard* (19 MiB per hash with the OWASP parameters used
//! here), so an attacker with a stolen table cannot run thousands of guesses in parallel
//! on a GPU the way they can against SHA-256 or even bcrypt.
//!
//! DON'T: `sha256(password)` or `md5(salt + password)` — fast hashes are the problem, not
//! the solution; a GPU tries billions per second.
//! DON'T: hash on the async runtime. One hash takes tens of milliseconds of pure CPU; done
//! inside an `async fn` it blocks that worker thread, and every other request scheduled on
//! it (health checks included) waits. `spawn_blocking` moves it to the blocking pool.
//! DO: bound how many hashes run at once ([`Hasher`]'s semaphore): 1,000 concurrent logins
//! would otherwise ask for 19 GiB of memory at the same moment.
//!
//! ## The parameters, and what a PHC string records
//!
//! `Argon2::default()` is argon2id, version 0x13, m = 19 MiB, t = 2 passes, p = 1 lane —
//! the OWASP password-storage recommendation. Raising `m` costs the attacker memory per
//! guess (the scarce resource on a GPU); raising `t` costs everyone time linearly. The
//! stored value is a PHC string:
//!
//! ```text
//! $argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>
//!  algorithm  version  parameters    16 random bytes  32-byte output
//! ```
//!
//! Because the parameters travel with each hash, old hashes keep verifying after the
//! defaults are raised; a service can re-hash on the next successful login.
//!
//! Measured cost: roughly 20–40 ms per hash in a release build on one core (several times
//! more in a debug build). That is the point: negligible for one login, ruinous for
//! someone trying a billion passwords.
//! ## A short history of getting this wrong
//!
//! Plain text (one database leak = every password); unsalted MD5/SHA-1 (rainbow tables
//! reverse common passwords instantly); salted SHA-256 (no tables, but a GPU still tries
//! ~10⁹ guesses per second); bcrypt (slow by design, but needs little memory, so GPUs and
//! ASICs still parallelise it); argon2id (slow *and* memory-hard — the 2015 Password
//! Hashing Competition winner and today's OWASP first choice).
//!
use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier, password_hash::SaltString};
use tokio::sync::Semaphore;

use crate::{Error, domain::Password};

/// Hashes and verifies passwords with a bounded number running at once.
///
/// A semaphore rather than a dedicated thread pool: tokio's blocking pool already has the
/// threads (up to 512 by default); the semaphore only decides how many of them may hash
/// at once. Waiting for a permit is an async wait, so a queue of logins costs memory for
/// the waiting futures, not for 19 MiB hashes.
#[derive(Clone, Debug)]
pub struct Hasher {
    /// One permit per hash allowed to run; an `Arc`, so every clone of the service draws
    /// from the same set and the bound holds per process, not per clone.
    permits: Arc<Semaphore>,
    /// Hashes running right now — at most the number of permits. Exposed through
    /// [`Hasher::running`] so the bound can be observed, not just believed.
    running: Arc<AtomicUsize>,
}

/// The default bounds concurrency by the machine's cores; tests and services use the same
/// value, so a test run exercises the same queueing a production instance would. On a
/// 2-core lab machine that means two hashes at a time, the rest wait their turn.
impl Default for Hasher {
    fn default() -> Self {
        // One hash per core: more would only queue inside the OS scheduler instead of here.
        // 2 when the standard library cannot tell: the size of the lab's reference machine.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::with_limit(cores)
    }
}

impl Hasher {
    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a fresh salt.
    ///
    /// The salt comes from `rand::random` (the thread-local CSPRNG, seeded from the OS);
    /// a salt needs to be unique, not secret, but a predictable one would let an attacker
    /// precompute tables for it.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        // An owned copy: the blocking closure may outlive this future (see `blocking`).
        let password = password.clone();
        self.blocking(move || {
            // A random 16-byte salt per password: equal passwords get different hashes,
            // so one cracked hash does not unlock every account that shares it.
            let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
                .map_err(|e| Error::Crypto(e.to_string()))?;
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Crypto(e.to_string()))
        })
        .await
    }

    /// Whether `password` matches `stored`. With `stored = None` (no such user) it still
    /// spends the time of a real verification against a dummy hash and answers `false`.
    ///
    /// DO: equalise the time. If an unknown username answered in 1 ms and a known one in
    /// 40 ms, the identical error messages would not help: the clock would tell.
    pub async fn verify(&self, password: &Password, stored: Option<String>) -> Result<bool, Error> {
        let password = password.clone();
        self.blocking(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_string());
            // A stored hash that does not parse (a corrupted row) is an internal error, not a
            // failed login: the password the user typed may well be right.
            let parsed = PasswordHash::new(&stored).map_err(|e| Error::Crypto(e.to_string()))?;
            let matches =
                Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
            // `known &&`: even if some input matched the dummy hash, an unknown user could
            // not log in; the dummy exists to spend time, never to grant anything.
            Ok(known && matches)
        })
        .await
    }

    /// At most `limit` hashes or verifications at once; the rest wait, asynchronously, for a
    /// permit. The tests use a limit of 2 to make the bound visible on any machine.
    pub fn with_limit(limit: usize) -> Self {
        Self { permits: Arc::new(Semaphore::new(limit)), running: Arc::default() }
    }

    /// How many hashes or verifications are running on the blocking pool right now — a
    /// gauge for tests; it never exceeds the limit, even while callers give up.
    pub fn running(&self) -> usize {
        // `SeqCst` for a test gauge: free next to a 20 ms hash, and the tests then need no
        // reasoning about memory orderings to trust what they read.
        self.running.load(Ordering::SeqCst)
    }

    /// Runs `work` on the blocking pool once a permit is free.
    ///
    /// The permit is *owned* and moves into the blocking closure, so it is released when
    /// the hash ends — not when the caller stops waiting. The difference shows under
    /// load: a cancelled request (the client hung up, the gateway's 3 s deadline fired)
    /// drops this future, but `spawn_blocking` cannot be cancelled and keeps hashing.
    /// ❌ With a borrowed permit (`acquire()`, held in this future) that cancellation freed
    /// the permit at once, the next caller started another 19 MiB hash next to the
    /// orphaned one, and a flood of impatient clients ran an unbounded number of them —
    /// the very thing the semaphore was for. ✅ Tie a limit to the work, not to whoever
    /// is waiting for it.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        // Fails only on a closed semaphore, which nothing here closes: mapped, not unwrapped.
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| Error::Crypto(e.to_string()))?;
        let running = Running::enter(&self.running);
        tokio::task::spawn_blocking(move || {
            // Both guards end with the closure, whether `work` returns or panics. Tuple
            // fields drop first to last, so the count goes down *before* the permit is
            // freed: the other way round, the next hash could start and count itself in
            // the instant between, and `running()` would read one above the bound.
            let _held = (running, permit);
            work()
        })
        .await
        .map_err(|e| Error::Crypto(format!("hashing task failed: {e}")))?
    }
}

/// Counts one running hash for as long as it lives (a guard, so a panicking hash is
/// uncounted too).
struct Running(Arc<AtomicUsize>);

impl Running {
    /// Counts one more running hash; the count goes down when the guard drops.
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A hash of a random password, computed once, verified against when the user is unknown.
///
/// Computed lazily with the same default parameters as real hashes, so verifying against
/// it costs the same time. It is hashed from random bytes nobody knows, so no password
/// can ever match it (and `verify` answers `false` for unknown users regardless).
///
/// One caveat, honestly: the first unknown-user login after start pays for computing it
/// (one extra hash), so only that one call is slower; every later one reuses the string.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes fit");
        Argon2::default()
            .hash_password(&rand::random::<[u8; 16]>(), &salt)
            .expect("hashing random bytes cannot fail")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Twenty callers each give up after 2 ms — clients hitting a deadline while their
    /// hash runs. With a bound of 2, never more than 2 hashes may run at once, however
    /// many callers walked away. (Before the permit moved into the closure, each
    /// cancellation freed a permit while its hash ran on, and the count climbed to ~20.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_bound_holds_when_callers_cancel() {
        let hasher = Hasher::with_limit(2);
        let password = Password::parse("correct horse battery staple").unwrap();
        // The highest number of hashes seen running at once, sampled after every cancelled
        // call and then every millisecond: a hash lasts tens of milliseconds, so any
        // overlap beyond the bound is long enough to be seen.
        let mut peak = 0;
        for _ in 0..20 {
            let (h, p) = (hasher.clone(), password.clone());
            let cancelled =
                tokio::time::timeout(Duration::from_millis(2), async move { h.hash(&p).await });
            // Each caller really is cancelled (not finished): otherwise the test would be
            // about normal completion, which the old code handled too.
            assert!(cancelled.await.is_err(), "a hash takes longer than 2 ms");
            peak = peak.max(hasher.running());
        }
        // Keep watching until the orphaned hashes are done.
        // 30 s only guards against a hang: twenty debug-build hashes, two at a time, are done
        // in a few seconds.
        let deadline = Instant::now() + Duration::from_secs(30);
        while hasher.running() > 0 && Instant::now() < deadline {
            peak = peak.max(hasher.running());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(peak >= 1, "no hash ever ran: the test would prove nothing");
        assert!(peak <= 2, "{peak} hashes ran at once with a bound of 2");
        assert_eq!(hasher.running(), 0);
    }
}
