//! [`prefetch`]: run an iterator on a background thread, a bounded number of items ahead.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Runs `iter` on a background thread that hands its items over through a bounded channel of
/// `depth` slots (`std::sync::mpsc::sync_channel`), so up to `depth` items (plus the one being
/// produced) are ready while the consumer works: memory is bounded by `depth + 1` items.
/// `depth == 0`, or a thread that cannot be started, runs `iter` on the calling thread.
/// The items and their order are exactly those of `iter`. Dropping the [`Prefetch`] stops the
/// thread (at its next hand-over); a panic on the thread is raised again on the consumer's.
///
/// ```
/// use neurite_data::stream::prefetch;
/// let squares: Vec<u64> = prefetch((0..5u64).map(|i| i * i), 2).collect();
/// assert_eq!(squares, vec![0, 1, 4, 9, 16]);
/// ```
pub fn prefetch<I>(iter: I, depth: usize) -> Prefetch<I::Item>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    if depth == 0 {
        return Prefetch(Inner::Inline(Box::new(iter)));
    }
    let (tx, rx) = sync_channel::<I::Item>(depth);
    // The iterator goes to the thread inside an Option, so that it comes back if no thread starts.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(iter)));
    let thread_slot = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("neurite-data-prefetch".into())
        .spawn(move || {
            let Some(iter) = thread_slot.lock().ok().and_then(|mut s| s.take()) else {
                return;
            };
            for item in iter {
                if tx.send(item).is_err() {
                    return; // the consumer is gone
                }
            }
        });
    match spawned {
        Ok(handle) => Prefetch(Inner::Thread {
            rx: Some(rx),
            handle: Some(handle),
        }),
        Err(_) => {
            let iter = slot
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .expect("the thread never started, so the iterator is still here");
            Prefetch(Inner::Inline(Box::new(iter)))
        }
    }
}

/// The iterator [`prefetch`] returns.
pub struct Prefetch<T>(Inner<T>);

enum Inner<T> {
    Inline(Box<dyn Iterator<Item = T> + Send>),
    Thread {
        rx: Option<Receiver<T>>,
        handle: Option<JoinHandle<()>>,
    },
}

impl<T> Iterator for Prefetch<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.0 {
            Inner::Inline(iter) => iter.next(),
            Inner::Thread { rx, handle } => {
                if let Some(item) = rx.as_ref().and_then(|r| r.recv().ok()) {
                    return Some(item);
                }
                // The producer finished (or panicked): end, or raise its panic here.
                drop(rx.take());
                if let Some(h) = handle.take() {
                    if let Err(panic) = h.join() {
                        std::panic::resume_unwind(panic);
                    }
                }
                None
            }
        }
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        if let Inner::Thread { rx, handle } = &mut self.0 {
            drop(rx.take()); // unblocks a producer waiting in `send`
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn yields_what_the_iterator_yields(items in proptest::collection::vec(any::<i32>(), 0..200), depth in 0usize..6) {
            let got: Vec<i32> = prefetch(items.clone().into_iter(), depth).collect();
            prop_assert_eq!(got, items);
        }

        #[test]
        fn stopping_early_ends_the_thread(n in 1usize..100, take in 0usize..10, depth in 1usize..4) {
            let got: Vec<usize> = prefetch(0..n, depth).take(take).collect();
            prop_assert_eq!(got, (0..n.min(take)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panic_on_the_thread_reaches_the_consumer() {
        let caught = std::panic::catch_unwind(|| {
            prefetch((0..3).map(|i| if i == 2 { panic!("bad item") } else { i }), 1).count()
        });
        assert!(caught.is_err());
    }

    #[test]
    fn the_producer_runs_ahead_by_at_most_depth_plus_one() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let produced = Arc::new(AtomicUsize::new(0));
        let p = Arc::clone(&produced);
        let mut it = prefetch(
            (0..100).inspect(move |_| {
                p.fetch_add(1, Ordering::SeqCst);
            }),
            3,
        );
        assert_eq!(it.next(), Some(0));
        std::thread::sleep(std::time::Duration::from_millis(50));
        // One taken, three in the channel, one produced and waiting to be sent.
        assert!(
            produced.load(Ordering::SeqCst) <= 5,
            "{}",
            produced.load(Ordering::SeqCst)
        );
    }
}
