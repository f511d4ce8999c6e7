//! How often one source may try something unauthenticated (enrollment): a token bucket
//! per source address, refilled at a steady rate up to a burst. Pure over the times it
//! is given; the buckets of sources quiet for a while are forgotten, so the table
//! stays small whoever knocks.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources remembered at most; past it, those idle longest are forgotten first.
const MAX_SOURCES: usize = 10_000;

pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    /// At most `per_minute` attempts a minute from one source, all at once at most.
    pub fn per_minute(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Whether `source` may try now; when not, how long until it may.
    pub fn admit(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.per_minute.max(1));
        let per_second = burst / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_SOURCES && !buckets.contains_key(&source) {
            forget_idlest(&mut buckets);
        }
        let bucket = buckets.entry(source).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refilled).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// Forgets the tenth of the sources that were idle longest.
fn forget_idlest(buckets: &mut HashMap<IpAddr, Bucket>) {
    let mut times: Vec<Instant> = buckets.values().map(|b| b.at).collect();
    times.sort_unstable();
    let cutoff = times[times.len() / 10];
    buckets.retain(|_, b| b.at > cutoff);
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn a_source_gets_its_burst_then_waits_and_others_are_not_held() {
        let limit = RateLimit::per_minute(6);
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(limit.admit(ip(1), t0).is_ok());
        }
        let wait = limit.admit(ip(1), t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(9) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        assert!(limit.admit(ip(2), t0).is_ok(), "another source is not held");
        assert!(
            limit.admit(ip(1), t0 + Duration::from_secs(10)).is_ok(),
            "refilled"
        );
        assert!(limit.admit(ip(1), t0 + Duration::from_secs(10)).is_err());
    }

    #[test]
    fn the_table_stays_bounded_whoever_knocks() {
        let limit = RateLimit::per_minute(1);
        let t0 = Instant::now();
        for n in 0..(MAX_SOURCES as u32 * 3) {
            let _ = limit.admit(ip(n), t0 + Duration::from_millis(u64::from(n)));
        }
        let sources = limit.buckets.lock().unwrap().len();
        assert!(sources <= MAX_SOURCES, "{sources}");
    }
}
