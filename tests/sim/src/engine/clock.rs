//! The lab's clock: how much time has passed for the workloads. A running lab follows
//! real time; a test can take a manual clock and move it by hand, so that what a
//! workload did over ten seconds is known exactly without waiting ten seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LabClock {
    origin: Option<Instant>,
    /// Time added by hand, in nanoseconds.
    offset: AtomicU64,
}

impl LabClock {
    /// Real time, from now.
    pub fn real() -> LabClock {
        LabClock {
            origin: Some(Instant::now()),
            offset: AtomicU64::new(0),
        }
    }

    /// Stands still until [`LabClock::advance`] moves it.
    pub fn manual() -> LabClock {
        LabClock {
            origin: None,
            offset: AtomicU64::new(0),
        }
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        let real = self.origin.map_or(Duration::ZERO, |o| o.elapsed());
        real + Duration::from_nanos(self.offset.load(Ordering::Relaxed))
    }

    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_by_hand() {
        let clock = LabClock::manual();
        assert_eq!(clock.elapsed(), Duration::ZERO);
        clock.advance(Duration::from_secs(10));
        clock.advance(Duration::from_millis(500));
        assert_eq!(clock.elapsed(), Duration::from_millis(10_500));
    }
}
