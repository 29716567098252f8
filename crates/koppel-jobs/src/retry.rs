//! When a failed attempt is tried again: exponential backoff with jitter.
//!
//! The jitter matters: when a remote system fails for many administrations at once, their retries
//! would otherwise all arrive at the same moment again ("thundering herd").

use rand::Rng;
use std::time::Duration;

/// Exponential backoff with "equal jitter": the delay before attempt `n + 1` is half of
/// `base × 2^(n−1)` (capped at `max`) plus a random part up to the other half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The longest the delay after `attempt` can be (no jitter).
    pub fn ceiling(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base.saturating_mul(1_u32 << doublings).min(self.max)
    }

    /// The delay before the attempt after `attempt` (counted from 1), with fresh jitter.
    pub fn delay(&self, attempt: i64, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.random_range(0..=jitter_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_double_within_their_jitter_band_and_stop_at_the_maximum() {
        let policy = RetryPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (attempt, ceiling_secs) in [(1, 10), (2, 20), (3, 40), (4, 60), (30, 60)] {
            assert_eq!(policy.ceiling(attempt), Duration::from_secs(ceiling_secs));
            let delays: Vec<Duration> = (0..200).map(|_| policy.delay(attempt, &mut rng)).collect();
            let ceiling = Duration::from_secs(ceiling_secs);
            assert!(
                delays.iter().all(|d| *d >= ceiling / 2 && *d <= ceiling),
                "attempt {attempt}: {delays:?}"
            );
            // Jitter: the delays are not all the same.
            assert!(
                delays.iter().any(|d| *d != delays[0]),
                "attempt {attempt} has no jitter"
            );
        }
    }
}
