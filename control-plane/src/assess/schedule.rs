//! The assessment schedule: fixed slots of `interval` starting at the Unix epoch plus
//! `offset` (by default weekly, Sunday 23:00 UTC). Each slot has one scheduled run whose
//! id is derived from the slot, so replicas that both notice a slot create one run
//! between them (the store refuses the second insert). A control plane that was down at a
//! slot's start runs it when it comes back, within the same slot.

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    interval_ms: i64,
    offset_ms: i64,
}

impl Schedule {
    /// None when the schedule is off (`interval_secs` 0).
    pub fn new(interval_secs: u64, offset_secs: u64) -> Option<Self> {
        (interval_secs > 0).then(|| Schedule {
            interval_ms: interval_secs as i64 * 1000,
            offset_ms: offset_secs as i64 * 1000,
        })
    }

    /// The start of the slot `now_ms` falls in.
    pub fn slot_start(&self, now_ms: i64) -> i64 {
        (now_ms - self.offset_ms).div_euclid(self.interval_ms) * self.interval_ms + self.offset_ms
    }

    /// The scheduled run's id for the slot starting at `slot_start_ms`, e.g.
    /// `scheduled-2026-11-22T23:00:00Z`.
    pub fn run_id(slot_start_ms: i64) -> String {
        let (days, ms) = (
            slot_start_ms.div_euclid(DAY_MS),
            slot_start_ms.rem_euclid(DAY_MS),
        );
        let (y, m, d) = civil_from_days(days);
        let secs = ms / 1000;
        format!(
            "scheduled-{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T12:00:00Z, a Monday.
    const MONDAY_NOON: i64 = 1_795_435_200_000;

    #[test]
    fn the_default_weekly_slot_starts_on_sunday_at_eleven_pm() {
        let weekly = Schedule::new(7 * 86_400, 3 * 86_400 + 23 * 3600).unwrap();
        let slot = weekly.slot_start(MONDAY_NOON);
        assert_eq!(Schedule::run_id(slot), "scheduled-2026-11-22T23:00:00Z");
        // Every instant of the slot maps to it; the next slot starts a week later.
        assert_eq!(weekly.slot_start(slot), slot);
        assert_eq!(weekly.slot_start(slot + 7 * DAY_MS - 1), slot);
        assert_eq!(
            Schedule::run_id(weekly.slot_start(slot + 7 * DAY_MS)),
            "scheduled-2026-11-29T23:00:00Z"
        );
    }

    #[test]
    fn dates_are_civil_dates() {
        assert_eq!(Schedule::run_id(0), "scheduled-1970-01-01T00:00:00Z");
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(Schedule::new(0, 0).is_none());
    }
}
