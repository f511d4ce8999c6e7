//! Maintenance windows: when a cutover may fail over. One-off (two instants, RFC 3339
//! with their offsets) or recurring (days of the week, a local time of day to open
//! and to close, in an IANA time zone: `{ days = ["sat", "sun"], from = "22:00", to =
//! "02:00", time_zone = "Europe/Paris" }`; a window whose `to` is not after its `from`
//! closes the next day). Local times follow the zone's daylight saving rules (jiff,
//! with the IANA database of the system or, without one, the one built in).

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A stored window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Window {
    /// Unix ms, end exclusive.
    OneOff(i64, i64),
    Recurring(Recurring),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    /// Days it opens on (mon .. sun); empty: every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Local times of day, HH:MM.
    pub from: String,
    pub to: String,
    /// IANA name, e.g. Europe/Paris.
    pub time_zone: String,
}

/// Where `now` stands against a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Now {
    /// Open; closes at (Unix ms).
    Open(i64),
    /// Opens next at.
    Opens(i64),
    /// A one-off window that closed at.
    Over(i64),
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

impl Recurring {
    /// Checks every field; the error names it (`at` is where the window is).
    pub fn check(&self, at: &str) -> Result<(), String> {
        self.zone(at)?;
        time(&self.from).map_err(|e| format!("{at}.from: {e}"))?;
        time(&self.to).map_err(|e| format!("{at}.to: {e}"))?;
        for day in &self.days {
            weekday(day).ok_or_else(|| {
                format!("{at}.days: {day:?} is not a day: mon, tue, wed, thu, fri, sat or sun")
            })?;
        }
        Ok(())
    }

    fn zone(&self, at: &str) -> Result<TimeZone, String> {
        TimeZone::get(&self.time_zone).map_err(|e| {
            format!(
                "{at}.time_zone: {:?} is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC): {e}",
                self.time_zone
            )
        })
    }

    fn now(&self, now_ms: i64) -> Result<Now, String> {
        let zone = self.zone("window")?;
        let (from, to) = (time(&self.from)?, time(&self.to)?);
        let days: Vec<Weekday> = self.days.iter().filter_map(|d| weekday(d)).collect();
        let now = Timestamp::from_millisecond(now_ms)
            .map_err(|e| e.to_string())?
            .to_zoned(zone.clone());
        let today = now.date();
        let mut next = None;
        // Yesterday's may still be open; the next one is within a week.
        for offset in -1..=7i32 {
            let date = today
                .checked_add(jiff::Span::new().days(offset))
                .map_err(|e| e.to_string())?;
            if !days.is_empty() && !days.contains(&date.weekday()) {
                continue;
            }
            let close_date = if to > from {
                date
            } else {
                date.tomorrow().map_err(|e| e.to_string())?
            };
            let ms = |d: jiff::civil::Date, t: Time| -> Result<i64, String> {
                Ok(d.to_datetime(t)
                    .to_zoned(zone.clone())
                    .map_err(|e| e.to_string())?
                    .timestamp()
                    .as_millisecond())
            };
            let (opens, closes) = (ms(date, from)?, ms(close_date, to)?);
            if opens <= now_ms && now_ms < closes {
                return Ok(Now::Open(closes));
            }
            if opens > now_ms && next.is_none() {
                next = Some(opens);
            }
        }
        next.map(Now::Opens)
            .ok_or_else(|| "the window never opens".to_string())
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {}-{} {}",
            if self.days.is_empty() {
                "daily".to_string()
            } else {
                self.days.join(",")
            },
            self.from,
            self.to,
            self.time_zone
        )
    }
}

impl Window {
    /// Where `now_ms` stands; an error only for a stored window this build cannot read.
    pub fn now(&self, now_ms: i64) -> Result<Now, String> {
        match self {
            Window::OneOff(start, end) if now_ms < *start => Ok(Now::Opens(*start)),
            Window::OneOff(_, end) if now_ms < *end => Ok(Now::Open(*end)),
            Window::OneOff(_, end) => Ok(Now::Over(*end)),
            Window::Recurring(r) => r.now(now_ms),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Window::OneOff(start, end) => format!(
                "{} to {}",
                crate::rfc3339::format(*start),
                crate::rfc3339::format(*end)
            ),
            Window::Recurring(r) => r.describe(),
        }
    }
}

fn weekday(day: &str) -> Option<Weekday> {
    DAYS.iter()
        .find(|(name, _)| day.eq_ignore_ascii_case(name))
        .map(|(_, d)| *d)
}

fn time(text: &str) -> Result<Time, String> {
    let (h, m) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not HH:MM"))?;
    let number = |s: &str, max: i8| {
        s.parse::<i8>()
            .ok()
            .filter(|n| (0..=max).contains(n) && s.len() == 2)
            .ok_or_else(|| format!("{text:?} is not HH:MM (00:00 to 23:59)"))
    };
    Time::new(number(h, 23)?, number(m, 59)?, 0, 0).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        crate::rfc3339::parse_ms(text).unwrap()
    }

    fn weekend_nights() -> Window {
        Window::Recurring(Recurring {
            days: vec!["sat".into(), "sun".into()],
            from: "22:00".into(),
            to: "02:00".into(),
            time_zone: "Europe/Paris".into(),
        })
    }

    #[test]
    fn a_recurring_window_opens_on_its_days_in_its_zone_and_closes_the_next_morning() {
        let w = weekend_nights();
        // Saturday 2026-12-05 21:30 in Paris (UTC+1): opens at 22:00 local.
        assert_eq!(
            w.now(ms("2026-12-05T21:30:00+01:00")),
            Ok(Now::Opens(ms("2026-12-05T22:00:00+01:00")))
        );
        // Sunday 01:00 local: Saturday's is still open, until 02:00.
        assert_eq!(
            w.now(ms("2026-12-06T01:00:00+01:00")),
            Ok(Now::Open(ms("2026-12-06T02:00:00+01:00")))
        );
        // Monday 01:00 local: Sunday's window, opened on Sunday 22:00.
        assert_eq!(
            w.now(ms("2026-12-07T01:00:00+01:00")),
            Ok(Now::Open(ms("2026-12-07T02:00:00+01:00")))
        );
        // Monday noon: the next Saturday.
        assert_eq!(
            w.now(ms("2026-12-07T12:00:00+01:00")),
            Ok(Now::Opens(ms("2026-12-12T22:00:00+01:00")))
        );
        // In summer Paris is UTC+2: the same local hour is another instant.
        assert_eq!(
            w.now(ms("2026-07-04T19:00:00Z")),
            Ok(Now::Opens(ms("2026-07-04T22:00:00+02:00")))
        );
    }

    #[test]
    fn one_off_windows_open_close_and_are_over() {
        let w = Window::OneOff(1_000, 2_000);
        assert_eq!(w.now(999), Ok(Now::Opens(1_000)));
        assert_eq!(w.now(1_000), Ok(Now::Open(2_000)));
        assert_eq!(w.now(2_000), Ok(Now::Over(2_000)));
        // Stored as two numbers, as before recurring windows existed.
        let stored: Window = serde_json::from_str("[1000,2000]").unwrap();
        assert_eq!(stored, w);
    }

    #[test]
    fn bad_fields_are_named() {
        let Window::Recurring(good) = weekend_nights() else {
            unreachable!()
        };
        good.check("wave[0].window").unwrap();
        for (bad, field) in [
            (
                Recurring {
                    time_zone: "Mars/Olympus".into(),
                    ..good.clone()
                },
                "window.time_zone",
            ),
            (
                Recurring {
                    from: "25:00".into(),
                    ..good.clone()
                },
                "window.from",
            ),
            (
                Recurring {
                    to: "2".into(),
                    ..good.clone()
                },
                "window.to",
            ),
            (
                Recurring {
                    days: vec!["someday".into()],
                    ..good.clone()
                },
                "window.days",
            ),
        ] {
            let err = bad.check("wave[0].window").unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
