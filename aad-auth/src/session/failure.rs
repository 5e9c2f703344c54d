//! Session-store failures while a request is served. actix-session's middleware turns store
//! errors into opaque 500s, so every failure of the session store, the token cache or the idle
//! clock is also reported through a task-local flag, which the login routes' middleware turns
//! into 503 with `Retry-After` (`login::middleware`).

use std::cell::Cell;
use std::fmt::Display;
use std::future::Future;

tokio::task_local! {
    static STORE_FAILED: Cell<bool>;
}

/// The session store could not be reached (already logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreUnavailable;

/// Logs a store failure and marks the current request, if it runs inside [`watch`].
pub(crate) fn report(what: &'static str, error: &dyn Display) -> StoreUnavailable {
    tracing::warn!(error = %error, "{what}");
    // Outside a session route (a guard in the app's own handlers) there is no flag: the caller
    // answers with the error it gets back.
    let _ = STORE_FAILED.try_with(|failed| failed.set(true));
    StoreUnavailable
}

/// Runs `request` and says whether the session store failed meanwhile.
pub(crate) async fn watch<T>(request: impl Future<Output = T>) -> (T, bool) {
    STORE_FAILED
        .scope(Cell::new(false), async move {
            let output = request.await;
            (output, STORE_FAILED.with(Cell::get))
        })
        .await
}
