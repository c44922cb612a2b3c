//! How a shopper's step is sent: the gateway's retry table, backoff with jitter, and the
//! step's deadline.

use std::{
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;

use super::{Outcome, Route, STEP_DEADLINE, Shopper, Stop, Tally};

impl Shopper {
    /// POSTs `body` to `path` until it succeeds, is refused, fails for good or the step's
    /// deadline passes. Returns the answer's JSON.
    ///
    /// Every try's answer is logged in `tally` under `route` for the fault timing, and each
    /// re-send adds to `tally.retries`. `key` is sent unchanged with every try: the caller
    /// draws it once per checkout, which is what makes re-sending a CreateOrder safe.
    /// `Stop::Refused` is a 409 that is not ABORTED; `Stop::Failed` a final status, or
    /// retrying that outlasted `STEP_DEADLINE`.
    pub(super) async fn send(
        &self,
        tally: &Tally,
        route: Route,
        path: &str,
        body: &Value,
        token: Option<&str>,
        key: Option<&str>,
    ) -> Result<Value, Stop> {
        // lesson:client-retry:start
        let started = Instant::now();
        // 100 ms doubling to 1.6 s: five retries cover the first three seconds,
        // about the length of one injected fault, and later tries come no faster than
        // every 1.6 s — the lateness the `flash` module docs count into "recovered".
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(k) = key {
                req = req.header("idempotency-key", k);
            }
            let sent = Instant::now();
            let verdict = match req.send().await {
                Ok(r) => {
                    let status = r.status();
                    // The gateway sets this header on a 200 that replays the first answer for
                    // the same key: the only way a client can tell "my retry duplicated
                    // nothing" from "my first try never arrived".
                    let replayed = r.headers().contains_key("idempotent-replayed");
                    // A body that is not JSON (a proxy's HTML error page) still goes through
                    // `classify` by its status; `Null` only loses the error code.
                    let v: Value = r.json().await.unwrap_or(Value::Null);
                    classify(status, &v).map(|()| (v, replayed))
                }
                // Refused, reset or timed out: the request may or may not have arrived —
                // the case the idempotency key exists for.
                Err(e) => Err(Retry::After(format!("{}", e.without_url()))),
            };
            let outcome = match &verdict {
                Ok(_) => Outcome::Ok,
                Err(Retry::Refused) => Outcome::Refused,
                Err(_) => Outcome::Error,
            };
            // Every answer is logged, including those about to be retried: the fault
            // timing counts the failed ones, and a success after retries is timed
            // from its own send, not from the step's first try.
            tally.record(route, sent, outcome);
            let why = match verdict {
                Ok((v, replayed)) => {
                    if replayed {
                        tally.replayed.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(v);
                }
                Err(Retry::Refused) => return Err(Stop::Refused),
                Err(Retry::Final(m)) => return Err(Stop::Failed(m)),
                Err(Retry::Now(m)) => {
                    // An ABORTED is a lost race inside the service, not an overload —
                    // often with this checkout's own earlier attempt under the same key,
                    // whose state was still changing: retrying at once is right, and the
                    // backoff restarts small so the next failure does not inherit a long wait.
                    backoff = Duration::from_millis(20);
                    m
                }
                Err(Retry::After(m)) => m,
            };
            // Checked after the answer, not before the send: a step always gets at
            // least one try, and the deadline bounds the retrying, not the request
            // (each request has the client's own 5 s timeout).
            if started.elapsed() > STEP_DEADLINE {
                return Err(Stop::Failed(format!(
                    "gave up after {}s: {why}",
                    STEP_DEADLINE.as_secs()
                )));
            }
            tally.retries.fetch_add(1, Ordering::Relaxed);
            // Jittered, so the retries of 60 shoppers that failed together do not return
            // together and knock the recovering service over again (the thundering herd).
            let jitter = rand::random_range(0.5..1.5);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            backoff = (backoff * 2).min(Duration::from_millis(1600));
        }
        // lesson:client-retry:end
    }
}

/// Why an answer was not a success, and what the client does about it.
///
/// Only `After` grows the backoff. `Refused` and `Final` are decisions about the request:
/// retrying them changes nothing but the load.
enum Retry {
    /// 409 FAILED_PRECONDITION: do not retry; the state says no.
    Refused,
    /// Retry almost at once (409 ABORTED: a race inside the service): after a jittered
    /// 20 ms, with the backoff restarted from there.
    Now(String),
    /// Retry with backoff (429, 500, 502, 503, 504, a dead connection): the base wait
    /// doubles after every retry, up to 1.6 s, and each sleep is jittered around it.
    After(String),
    /// Do not retry (400, 401, 403, 404): the request itself is wrong.
    Final(String),
}

/// The gateway's retry table (see the `shopper` module docs) applied to one answer.
///
/// The error body is the gateway's `{"error": {"code", "message"}}`; the gRPC code name
/// is what tells two 409s apart (sold out is final, a lost race is not).
fn classify(status: StatusCode, body: &Value) -> Result<(), Retry> {
    if status.is_success() {
        return Ok(());
    }
    let code = body["error"]["code"].as_str().unwrap_or("");
    // Status, code and message in one line: it becomes the give-up reason on the screen
    // (`Counts::last_error`), which must say which row of the table ended the visit.
    let what =
        format!("{} {code}: {}", status.as_u16(), body["error"]["message"].as_str().unwrap_or(""));
    Err(match (status.as_u16(), code) {
        (409, "ABORTED") => Retry::Now(what),
        // Any other 409 (FAILED_PRECONDITION, ALREADY_EXISTS for a retried register) is a
        // decision of the current state: the caller treats it as "the answer is no".
        (409, _) => Retry::Refused,
        // 500 is retried too, with backoff: during a MariaDB pause a service can answer
        // INTERNAL for a connection the pause broke; retrying with the same key is safe.
        (429 | 500 | 502 | 503 | 504, _) => Retry::After(what),
        // Everything else, 4xx and unknown codes alike, is final: retrying a request the
        // gateway rejected as malformed or unauthorised would only repeat the rejection.
        _ => Retry::Final(what),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retry table: what is retried, at once or after a pause, and what is final.
    ///
    /// It catches the two costly regressions: a sold-out 409 retried as if it were a race
    /// (sixty shoppers hammering a sold-out book until their deadlines), and a 504 treated
    /// as final (a shopper giving up on an order that may have been placed).
    #[test]
    fn answers_are_classified_by_the_gateways_retry_table() {
        let body = |code: &str| serde_json::json!({"error": {"code": code, "message": "m"}});
        let c = |s: u16, code: &str| classify(StatusCode::from_u16(s).unwrap(), &body(code));
        assert!(c(201, "").is_ok());
        assert!(matches!(c(409, "FAILED_PRECONDITION"), Err(Retry::Refused)));
        assert!(matches!(c(409, "ABORTED"), Err(Retry::Now(_))));
        assert!(matches!(c(504, "DEADLINE_EXCEEDED"), Err(Retry::After(_))));
        assert!(matches!(c(503, "UNAVAILABLE"), Err(Retry::After(_))));
        assert!(matches!(c(400, "INVALID_ARGUMENT"), Err(Retry::Final(_))));
        assert!(matches!(c(401, "UNAUTHENTICATED"), Err(Retry::Final(_))));
    }
}
