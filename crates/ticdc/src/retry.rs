//! The one backoff and time budget for everything cdcform may repeat: client reads, re-sent
//! writes whose repetition is harmless, and polls for a state. Capped exponential backoff with
//! jitter (backon), a `Retry-After` from the server honoured, and a deadline instead of a count,
//! so an owner election (an etcd session TTL of 10 s plus the campaign) is ridden through.
//! A retry inside a retry never outlives the outer one: [`within`] scopes a deadline that
//! every nested budget respects.

use std::future::Future;
use std::time::Duration;

// tokio's clock: the real one in a run, a paused one that tests advance at will.
use tokio::time::Instant;

use backon::BackoffBuilder;

/// Default `--retry-for`: longer than an etcd session TTL (10 s) plus an election.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);

/// Longest pause between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Run `fut` so that no retry inside it waits past `deadline` (the earlier of this one and any
/// deadline already in scope).
pub async fn within<F: Future>(deadline: Instant, fut: F) -> F::Output {
    let deadline = scoped_deadline().map_or(deadline, |d| d.min(deadline));
    DEADLINE.scope(deadline, fut).await
}

/// The deadline set by an enclosing [`within`], if any.
pub fn scoped_deadline() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Delays between attempts: exponential from `min` (×`factor`), capped at `max`. Retries of a
/// failed call add jitter (up to the delay again) so parallel callers do not hit a recovering
/// server in step; polls for a state do not.
pub struct Backoff(backon::ExponentialBackoff, Duration);

impl Backoff {
    pub fn new(min: Duration, max: Duration, factor: f32) -> Backoff {
        Self::build(min, max, factor, true)
    }

    /// Without jitter, for polling a state.
    pub fn polling(min: Duration, max: Duration, factor: f32) -> Backoff {
        Self::build(min, max, factor, false)
    }

    fn build(min: Duration, max: Duration, factor: f32, jitter: bool) -> Backoff {
        let min = min.max(Duration::from_millis(1));
        let mut b = backon::ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max.max(min))
            .with_factor(factor)
            .without_max_times();
        if jitter {
            b = b.with_jitter();
        }
        Backoff(b.build(), max.max(min))
    }

    pub fn next_delay(&mut self) -> Duration {
        self.0.next().unwrap_or(self.1)
    }
}

/// How long to keep trying, and how fast to start.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub retry_for: Duration,
    pub min_delay: Duration,
}

impl Budget {
    pub fn new(retry_for: Duration, min_delay: Duration) -> Budget {
        Budget {
            retry_for,
            min_delay,
        }
    }

    /// When this budget runs out, counted from now and capped by an enclosing [`within`].
    pub fn deadline(&self) -> Instant {
        let own = Instant::now() + self.retry_for;
        scoped_deadline().map_or(own, |d| d.min(own))
    }
}

/// What the caller makes of one failed attempt.
pub enum Verdict {
    /// Try again, not before `after` (a `Retry-After`) when given.
    Again { after: Option<Duration> },
    /// Definitive: give up now.
    Stop,
}

/// The last error once the budget is spent (or the error was definitive), with the count.
#[derive(Debug)]
pub struct Exhausted<E> {
    pub error: E,
    pub attempts: u32,
    pub elapsed: Duration,
}

impl<E> Exhausted<E> {
    /// "after N attempts in Xs", or nothing when there was a single attempt.
    pub fn attempts_note(&self) -> Option<String> {
        (self.attempts > 1).then(|| attempts_note(self.attempts, self.elapsed))
    }
}

pub fn attempts_note(attempts: u32, elapsed: Duration) -> String {
    format!("after {attempts} attempts in {:.1}s", elapsed.as_secs_f64())
}

/// Run `op` until it succeeds, `verdict` says stop, or the budget runs out. `waiting` is told
/// about each failure that will be retried (the error and the time left), to report progress.
pub async fn retry<T, E, F, Fut>(
    budget: Budget,
    mut op: F,
    verdict: impl Fn(&E) -> Verdict,
    mut waiting: impl FnMut(&E, Duration),
) -> Result<T, Exhausted<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let t0 = Instant::now();
    let deadline = budget.deadline();
    let mut backoff = Backoff::new(budget.min_delay, MAX_DELAY, 2.0);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let delay = match verdict(&error) {
            Verdict::Stop => None,
            Verdict::Again { after } => {
                let d = backoff.next_delay().max(after.unwrap_or_default());
                (Instant::now() + d <= deadline).then_some(d)
            }
        };
        let Some(delay) = delay else {
            return Err(Exhausted {
                error,
                attempts,
                elapsed: t0.elapsed(),
            });
        };
        waiting(&error, deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_until_success_and_counts_attempts() {
        let mut n = 0;
        let r: Result<u32, Exhausted<&str>> = retry(
            Budget::new(Duration::from_secs(5), Duration::from_millis(1)),
            || {
                n += 1;
                let v = n;
                async move {
                    if v < 4 {
                        Err("busy")
                    } else {
                        Ok(v)
                    }
                }
            },
            |_| Verdict::Again { after: None },
            |_, _| {},
        )
        .await;
        assert_eq!(r.unwrap(), 4);
    }

    #[tokio::test]
    async fn gives_up_when_the_budget_is_spent_and_says_how_often() {
        let t0 = Instant::now();
        let r: Result<(), _> = retry(
            Budget::new(Duration::from_millis(60), Duration::from_millis(5)),
            || async { Err::<(), _>("down") },
            |_| Verdict::Again { after: None },
            |_, _| {},
        )
        .await;
        let e = r.unwrap_err();
        assert!(e.attempts >= 2, "{}", e.attempts);
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert!(e
            .attempts_note()
            .unwrap()
            .starts_with(&format!("after {} attempts in ", e.attempts)));
    }

    #[tokio::test]
    async fn stop_ends_at_once_and_retry_after_beyond_the_budget_ends_too() {
        let e = retry(
            Budget::new(Duration::from_secs(5), Duration::from_millis(1)),
            || async { Err::<(), _>("bad") },
            |_| Verdict::Stop,
            |_, _| {},
        )
        .await
        .unwrap_err();
        assert_eq!(e.attempts, 1);
        assert_eq!(e.attempts_note(), None);
        let e = retry(
            Budget::new(Duration::from_millis(100), Duration::from_millis(1)),
            || async { Err::<(), _>("busy") },
            |_| Verdict::Again {
                after: Some(Duration::from_secs(30)),
            },
            |_, _| {},
        )
        .await
        .unwrap_err();
        assert_eq!(e.attempts, 1);
    }

    /// On tokio's paused clock: a 60 s budget against a server that stays down is spent in
    /// about 60 s of (virtual) time, with backoff from 100 ms doubling to the 2 s cap plus up to
    /// as much again of jitter: five attempts ramping up, then one every 2 to 4 s, so 18 to 36
    /// attempts, not hundreds; a `Retry-After` longer than the backoff is waited in full.
    #[tokio::test(start_paused = true)]
    async fn a_budget_is_spent_in_its_own_time_with_capped_backoff() {
        let t0 = Instant::now();
        let mut waits = Vec::new();
        let e = retry(
            Budget::new(Duration::from_secs(60), Duration::from_millis(100)),
            || async { Err::<(), _>("down") },
            |_| Verdict::Again { after: None },
            |_, left| waits.push(left),
        )
        .await
        .unwrap_err();
        let spent = t0.elapsed();
        assert!(
            spent >= Duration::from_secs(56) && spent <= Duration::from_secs(60),
            "{spent:?}"
        );
        assert!((18..=36).contains(&e.attempts), "{} attempts", e.attempts);
        assert_eq!(waits.len() as u32, e.attempts - 1);
        assert!(
            waits.windows(2).all(|w| w[0] >= w[1]),
            "time left only shrinks"
        );
        // Retry-After: 5 s each time, so about 60 / 5 attempts.
        let t0 = Instant::now();
        let e = retry(
            Budget::new(Duration::from_secs(60), Duration::from_millis(100)),
            || async { Err::<(), _>("busy") },
            |_| Verdict::Again {
                after: Some(Duration::from_secs(5)),
            },
            |_, _| {},
        )
        .await
        .unwrap_err();
        assert!((11..=13).contains(&e.attempts), "{} attempts", e.attempts);
        assert!(
            t0.elapsed() >= Duration::from_secs(55),
            "{:?}",
            t0.elapsed()
        );
    }

    #[tokio::test]
    async fn an_enclosing_deadline_caps_a_nested_budget() {
        let outer = Instant::now() + Duration::from_millis(50);
        let d = within(outer, async {
            Budget::new(Duration::from_secs(60), Duration::from_millis(1)).deadline()
        })
        .await;
        assert!(d <= outer);
    }
}
