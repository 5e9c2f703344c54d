//! Single flight: concurrent requests for one token share one call to Entra. The flight is a
//! shared future; its result goes to every request that joined it, and the flight is forgotten
//! when it ends (a failure is never kept: the next request asks again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

/// A flight's key: the digest of what the token is for (`scopes_key` and its owner).
pub(crate) type Key = [u8; 32];

type Flight<T> = Shared<BoxFuture<'static, T>>;

/// The flights under way, by key.
pub(crate) struct Flights<T: Clone> {
    flights: Mutex<HashMap<Key, Flight<T>>>,
}

impl<T: Clone> Flights<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Flight<T>>> {
        // A panic while holding the lock leaves consistent data (every change is one step).
        self.flights.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T: Clone + Send + Sync + 'static> Flights<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { flights: Mutex::new(HashMap::new()) })
    }

    /// The result of the flight for `key`: the one under way, else a new one running `fetch`.
    pub(crate) async fn join(self: &Arc<Self>, key: Key, fetch: impl FnOnce() -> BoxFuture<'static, T>) -> T {
        let flight = {
            let mut flights = self.lock();
            match flights.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let landing = Landing { flights: Arc::downgrade(self), key };
                    let pending = fetch();
                    let flight = async move {
                        // Forgotten when the flight ends, however it ends (a panic, or dropped
                        // by every request that waited for it).
                        let _landing = landing;
                        pending.await
                    }
                    .boxed()
                    .shared();
                    flights.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// How many flights are under way.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Removes its flight from the map when dropped. Holds the map weakly: the map holds the flight.
struct Landing<T: Clone> {
    flights: Weak<Flights<T>>,
    key: Key,
}

impl<T: Clone> Drop for Landing<T> {
    fn drop(&mut self) {
        if let Some(flights) = self.flights.upgrade() {
            flights.lock().remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_requests_share_one_fetch_and_a_finished_flight_is_forgotten() {
        let flights: Arc<Flights<Result<u32, String>>> = Flights::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let released = released.shared();
        let fetch = |calls: Arc<AtomicUsize>, released: Shared<tokio::sync::oneshot::Receiver<()>>| {
            move || -> BoxFuture<'static, Result<u32, String>> {
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = released.await;
                    Ok(7)
                }
                .boxed()
            }
        };
        let first = flights.join([1; 32], fetch(calls.clone(), released.clone()));
        let second = flights.join([1; 32], fetch(calls.clone(), released.clone()));
        let other = flights.join([2; 32], fetch(calls.clone(), released.clone()));
        let joined = async {
            tokio::task::yield_now().await;
            assert_eq!(flights.len(), 2, "one flight per key");
            let _ = release.send(());
        };
        let (a, b, c, ()) = tokio::join!(first, second, other, joined);
        assert_eq!((a, b, c), (Ok(7), Ok(7), Ok(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one fetch per key");
        assert_eq!(flights.len(), 0);
        // A failure is not kept: the next request fetches again.
        let failed = flights.join([3; 32], || async { Err::<u32, String>("down".into()) }.boxed()).await;
        assert_eq!(failed, Err("down".into()));
        let again = flights.join([3; 32], || async { Ok::<u32, String>(1) }.boxed()).await;
        assert_eq!(again, Ok(1));
    }

    #[tokio::test]
    async fn a_flight_that_panics_is_forgotten_and_the_next_request_flies_again() {
        let flights: Arc<Flights<u32>> = Flights::new();
        let crashed = std::panic::AssertUnwindSafe(flights.join([4; 32], || async { panic!("fetch failed") }.boxed()))
            .catch_unwind()
            .await;
        assert!(crashed.is_err());
        assert_eq!(flights.len(), 0, "the crashed flight is not left in the map");
        assert_eq!(flights.join([4; 32], || async { 5 }.boxed()).await, 5);
    }
}
