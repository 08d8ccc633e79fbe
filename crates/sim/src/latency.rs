//! The simulator's `--latency`, met to within a fraction of a millisecond.
//!
//! tokio's timer wheel has a 1 ms resolution and rounds every sleep up, so `--latency 5ms`
//! cost about 6.1 ms a request. Here one thread keeps the pending deadlines in a heap, waits on a
//! condition variable until the earliest one is close (futex timeouts are precise to tens of
//! microseconds), spins the last stretch, and wakes the request's task.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// The last stretch before a deadline is waited by spinning (with `yield_now`).
const SPIN: Duration = Duration::from_micros(150);

struct Pending {
    at: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

#[derive(Default)]
struct Timer {
    heap: Mutex<(BinaryHeap<Reverse<Pending>>, u64)>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("sim-latency".into())
            .spawn(move || run(t))
            .expect("the latency thread starts");
        t
    })
}

fn run(t: &'static Timer) {
    let mut g = t.heap.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let now = Instant::now();
        let next = g.0.peek().map(|Reverse(p)| p.at);
        match next {
            None => g = t.changed.wait(g).unwrap_or_else(|e| e.into_inner()),
            Some(at) if at <= now => {
                if let Some(Reverse(p)) = g.0.pop() {
                    let _ = p.wake.send(());
                }
            }
            Some(at) if at - now > SPIN => {
                g = t
                    .changed
                    .wait_timeout(g, at - now - SPIN)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            Some(_) => {
                drop(g);
                std::thread::yield_now();
                g = t.heap.lock().unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// Resolve at `deadline` (never before it; late by well under 0.2 ms on an idle machine).
pub async fn sleep_until(deadline: Instant) {
    if deadline <= Instant::now() {
        return;
    }
    let (tx, rx) = oneshot::channel();
    {
        let t = timer();
        let mut g = t.heap.lock().unwrap_or_else(|e| e.into_inner());
        g.1 += 1;
        let seq = g.1;
        g.0.push(Reverse(Pending {
            at: deadline,
            seq,
            wake: tx,
        }));
        t.changed.notify_one();
    }
    let _ = rx.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Never early, whatever the order deadlines arrive in. How late it wakes is a matter of
    /// machine load: `cargo bench -- latency` measures it (no timed assertion here).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wakes_at_the_deadline_never_before() {
        let base = Instant::now() + Duration::from_millis(3);
        let waits = (0..40u64).map(|i| {
            // Deadlines registered out of order.
            let at = base + Duration::from_micros((i * 7919) % 2000);
            async move {
                sleep_until(at).await;
                assert!(Instant::now() >= at, "woke early");
            }
        });
        futures::future::join_all(waits).await;
    }
}
