//! Jittered exponential backoff for reconnects ("full jitter": a uniform delay up to an
//! exponentially growing cap), so a fleet that lost its control plane does not return
//! in lockstep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The cap for the current attempt: base * 2^attempt, at most `max`.
    pub fn cap(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The next delay, between a tenth of the cap and the cap.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.cap();
        self.attempt = self.attempt.saturating_add(1);
        let fraction: f64 = 0.1 + 0.9 * rand::random::<f64>();
        cap.mul_f64(fraction)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut caps = Vec::new();
        for _ in 0..8 {
            let cap = backoff.cap();
            let delay = backoff.next_delay();
            assert!(delay <= cap && delay >= cap / 10, "{delay:?} vs {cap:?}");
            caps.push(cap);
        }
        assert_eq!(caps[0], Duration::from_millis(100));
        assert_eq!(caps[3], Duration::from_millis(800));
        assert_eq!(*caps.last().unwrap(), Duration::from_secs(2));
        backoff.reset();
        assert_eq!(backoff.cap(), Duration::from_millis(100));
    }
}
