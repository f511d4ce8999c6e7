//! ARM's Retry-After, honoured. A 429 or 503 that carries it holds every call to that
//! subscription until then (ARM throttles per subscription and principal, and pressing
//! a throttled one prolongs it); a long-running operation's Retry-After holds the next
//! poll of that operation. In memory: a restarted control plane calls once, and ARM
//! tells it again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest wait Ferry takes from a Retry-After: a header asking for more (or
/// garbled) must not stop the control plane for good.
const LONGEST: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub struct Pace {
    until: Mutex<HashMap<String, Instant>>,
}

/// What a wait is keyed by: the subscription an ARM URL or resource id names (the
/// whole path when it names none), or one operation's polling URL ([`operation_key`]).
pub fn subscription_key(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url).to_ascii_lowercase();
    match path.split_once("/subscriptions/") {
        Some((_, rest)) => format!("subscription {}", rest.split('/').next().unwrap_or("")),
        None => format!("endpoint {path}"),
    }
}

pub fn operation_key(url: &str) -> String {
    format!("operation {url}")
}

impl Pace {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds calls under `key` for `seconds` from now (never shortening a longer hold).
    pub fn hold(&self, key: String, seconds: u64) {
        let now = Instant::now();
        let until = now + Duration::from_secs(seconds).min(LONGEST);
        let mut held = self.lock();
        held.retain(|_, at| *at > now);
        let at = held.entry(key).or_insert(until);
        *at = (*at).max(until);
    }

    /// How long calls under `key` are still held, if they are.
    pub fn left(&self, key: &str) -> Option<Duration> {
        let at = *self.lock().get(key)?;
        at.checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hold_is_per_subscription_and_capped() {
        let pace = Pace::default();
        let a = "https://arm/subscriptions/AAA/resourceGroups/g/providers/Microsoft.Sql/managedInstances/x?api-version=1";
        let b =
            "https://arm/subscriptions/bbb/providers/Microsoft.Sql/locations/l/operationResults/1";
        assert_eq!(subscription_key(a), "subscription aaa");
        assert_eq!(subscription_key(b), "subscription bbb");
        let id = "/subscriptions/AAA/resourceGroups/g/providers/Microsoft.Sql/managedInstances/x";
        assert_eq!(subscription_key(id), "subscription aaa");
        pace.hold(subscription_key(a), 30);
        let left = pace.left(&subscription_key(a)).unwrap();
        assert!(left > Duration::from_secs(29) && left <= Duration::from_secs(30));
        assert_eq!(pace.left(&subscription_key(b)), None);
        // A shorter Retry-After does not cut a longer one short; a huge one is capped.
        pace.hold(subscription_key(a), 1);
        assert!(pace.left(&subscription_key(a)).unwrap() > Duration::from_secs(29));
        pace.hold(operation_key(b), u64::MAX);
        assert!(pace.left(&operation_key(b)).unwrap() <= LONGEST);
        pace.hold(operation_key(a), 0);
        assert_eq!(pace.left(&operation_key(a)), None);
    }
}
