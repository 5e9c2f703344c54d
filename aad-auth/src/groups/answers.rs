//! Membership answers: kept per (tenant, user, route's groups) for `AAD_GROUPS_CACHE_TTL`, at
//! most `capacity` of them, and looked up once however many requests ask at the same time.
//!
//! The bound is a count: past `capacity` answers the oldest goes first (first in, first out;
//! every answer lives equally long, so the oldest is also the next to expire). A key is a
//! SHA-256 digest, so an entry costs about 100 bytes whatever the route's group list: the
//! default 10,000 answers stay near 1 MB.
//!
//! Concurrent lookups of one key share one flight (a shared future); its result goes to every
//! waiter, and only an answer is kept: a failure is given to the requests that waited for it and
//! forgotten, so the next request asks again.

// Parses network input: no indexing, no unchecked arithmetic, no unwrap (README, Security notes).
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::unwrap_used, clippy::expect_used)
)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::clock::SharedClock;

/// A cache key: the digest of the tenant, the user and the route's groups.
pub(crate) type Key = [u8; 32];

/// Why no answer could be had: the client is told to come back after `retry_after` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unavailable {
    pub(crate) retry_after: u32,
}

/// One lookup: `Ok(member)` or why there is no answer.
pub(crate) type Outcome = Result<bool, Unavailable>;

type Flight = Shared<BoxFuture<'static, Outcome>>;

struct Entry {
    member: bool,
    expires_at: SystemTime,
    /// Which insertion this is, to tell the live position in `order` from a replaced one.
    seq: u64,
}

#[derive(Default)]
struct State {
    answers: HashMap<Key, Entry>,
    /// Insertion order, oldest first; may hold replaced positions (skipped, and compacted).
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
    flights: HashMap<Key, Flight>,
}

/// The answers and the flights in progress.
pub(crate) struct Answers {
    state: Mutex<State>,
    ttl: Duration,
    capacity: usize,
    clock: SharedClock,
}

impl Answers {
    /// Keeps answers for `ttl` (zero: none), at most `capacity` of them (zero: none).
    pub(crate) fn new(ttl: Duration, capacity: usize, clock: SharedClock) -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(State::default()), ttl, capacity, clock })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every change is one step).
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept answer for `key`, else the answer of `lookup` (started only when no flight for
    /// `key` is under way: then the request joins that one).
    pub(crate) async fn get_or_lookup(
        self: &Arc<Self>,
        key: Key,
        lookup: impl FnOnce() -> BoxFuture<'static, Outcome>,
    ) -> Outcome {
        let flight = {
            let mut state = self.lock();
            let now = self.clock.now();
            match state.answers.get(&key) {
                Some(entry) if entry.expires_at > now => return Ok(entry.member),
                Some(_) => {
                    state.answers.remove(&key);
                }
                None => {}
            }
            match state.flights.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let answers = self.clone();
                    let pending = lookup();
                    let flight = async move {
                        let outcome = pending.await;
                        // Kept before the flight ends, under the same lock, so that no request
                        // finds neither the answer nor the flight.
                        let mut state = answers.lock();
                        if let Ok(member) = outcome {
                            answers.keep(&mut state, key, member);
                        }
                        state.flights.remove(&key);
                        outcome
                    }
                    .boxed()
                    .shared();
                    state.flights.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    fn keep(&self, state: &mut State, key: Key, member: bool) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        let now = self.clock.now();
        let Some(expires_at) = now.checked_add(self.ttl) else { return };
        // Full: expired answers go first, then the oldest.
        while state.answers.len() >= self.capacity {
            let Some((oldest, seq)) = state.order.pop_front() else { break };
            if state.answers.get(&oldest).is_some_and(|entry| entry.seq == seq) {
                state.answers.remove(&oldest);
            }
        }
        let seq = state.next_seq;
        state.next_seq = seq.wrapping_add(1);
        state.answers.insert(key, Entry { member, expires_at, seq });
        state.order.push_back((key, seq));
        // Replaced positions pile up when the same keys come back after expiring; compact them
        // away so that `order` stays within twice the capacity.
        if state.order.len() > self.capacity.saturating_mul(2) {
            let answers = &state.answers;
            let live: VecDeque<(Key, u64)> = state
                .order
                .iter()
                .filter(|(key, seq)| answers.get(key).is_some_and(|entry| entry.seq == *seq))
                .copied()
                .collect();
            state.order = live;
        }
    }

    /// How many answers are kept.
    #[cfg(all(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.lock().answers.len()
    }
}

/// The key of (tenant, user, groups): the groups sorted and without duplicates, so that one
/// route's list names one answer whatever its order.
pub(crate) fn key(tid: &str, oid: &str, groups: &[String]) -> Key {
    let mut sorted: Vec<&str> = groups.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [tid, oid].into_iter().chain(sorted) {
        // Lengths first, so that no two different lists read the same.
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures_util::FutureExt as _;

    use super::{Answers, Unavailable, key};
    use crate::testing::ManualClock;

    fn counting(
        calls: &Arc<AtomicUsize>,
        outcome: super::Outcome,
    ) -> futures_util::future::BoxFuture<'static, super::Outcome> {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            outcome
        }
        .boxed()
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_ttl_and_failures_never() {
        let clock = Arc::new(ManualClock::new());
        let answers = Answers::new(Duration::from_secs(60), 10, clock.clone());
        let calls = Arc::new(AtomicUsize::new(0));
        let k = key("t", "u", &["g".into()]);
        assert_eq!(answers.get_or_lookup(k, || counting(&calls, Ok(true))).await, Ok(true));
        assert_eq!(answers.get_or_lookup(k, || counting(&calls, Ok(false))).await, Ok(true), "kept");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(61));
        assert_eq!(answers.get_or_lookup(k, || counting(&calls, Ok(false))).await, Ok(false), "expired");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let other = key("t", "u", &["h".into()]);
        let down = Err(Unavailable { retry_after: 5 });
        assert_eq!(answers.get_or_lookup(other, || counting(&calls, down)).await, down);
        assert_eq!(answers.get_or_lookup(other, || counting(&calls, Ok(true))).await, Ok(true), "not kept");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_number_of_answers_is_bounded_and_the_oldest_goes_first() {
        let clock = Arc::new(ManualClock::new());
        let answers = Answers::new(Duration::from_secs(3600), 3, clock);
        let calls = Arc::new(AtomicUsize::new(0));
        let keys: Vec<_> = (0..100).map(|i| key("t", &format!("user{i}"), &["g".into()])).collect();
        for k in &keys {
            answers.get_or_lookup(*k, || counting(&calls, Ok(true))).await.unwrap();
            assert!(answers.len() <= 3);
        }
        assert_eq!(answers.len(), 3);
        assert!(answers.lock().order.len() <= 6);
        // The last three are kept, the first is gone.
        let before = calls.load(Ordering::SeqCst);
        for k in &keys[97..] {
            answers.get_or_lookup(*k, || counting(&calls, Ok(true))).await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), before);
        answers.get_or_lookup(keys[0], || counting(&calls, Ok(true))).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), before + 1);
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_key_share_one_flight() {
        let clock = Arc::new(ManualClock::new());
        let answers = Answers::new(Duration::from_secs(60), 10, clock);
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = gate.shared();
        let k = key("t", "u", &["g".into()]);
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (answers, calls, gate) = (answers.clone(), calls.clone(), gate.clone());
                tokio::spawn(async move {
                    answers
                        .get_or_lookup(k, move || {
                            async move {
                                calls.fetch_add(1, Ordering::SeqCst);
                                let _ = gate.await;
                                Err(Unavailable { retry_after: 7 })
                            }
                            .boxed()
                        })
                        .await
                })
            })
            .collect();
        // Every waiter has joined (holds a clone of the one flight) before it is let go.
        let joined = || answers.lock().flights.get(&k).and_then(|flight| flight.strong_count()) == Some(6);
        while !joined() {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Err(Unavailable { retry_after: 7 }), "the failure reaches every waiter");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(answers.lock().flights.is_empty());
    }

    #[test]
    fn keys_ignore_order_and_duplicates_but_not_boundaries() {
        let groups = |list: &[&str]| list.iter().map(|g| (*g).to_owned()).collect::<Vec<_>>();
        assert_eq!(key("t", "u", &groups(&["a", "b", "a"])), key("t", "u", &groups(&["b", "a"])));
        assert_ne!(key("t", "u", &groups(&["ab"])), key("t", "u", &groups(&["a", "b"])));
        assert_ne!(key("t", "ua", &groups(&["b"])), key("t", "u", &groups(&["ab"])));
        assert_ne!(key("t1", "u", &groups(&["a"])), key("t2", "u", &groups(&["a"])));
    }
}
