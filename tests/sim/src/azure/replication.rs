//! How one database of a link moves from SQL Server to the managed instance, on the
//! lab clock (mi-link.md §3): seeding copies the database at the network's bandwidth,
//! then the log written meanwhile and since catches up, then the MI's hardened LSN
//! follows SQL Server's end of log, trailing by the network's delay (asynchronous
//! commit) or not at all (synchronous commit: each commit waits for the MI).
//!
//! Seeding is not resilient: losing the connection restarts it from the beginning.
//! A log backup taken on SQL Server while seeding runs truncates log the seeding
//! still needs; the seeding then fails with 1408 and only a new link recovers
//! (mi-link.md §3.4).
//!
//! The model is a pure function of what each look at the link sees (connected or
//! not, where SQL Server's log stands), so the lab can bring it up to date lazily,
//! whenever someone looks, and get the same answer a continuous simulation would
//! for constant workloads.

use std::time::Duration;

use super::link::LinkError;

/// Where the partner's log stands, in bytes written since the database began (the
/// lab's LSNs are a function of it; see `engine::log`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PartnerLog {
    pub written: f64,
    /// Where the log stood one network delay ago: what can have reached the MI.
    pub sent: f64,
    /// Bytes per second the workload writes now.
    pub rate: f64,
    /// Where the last log backup (not COPY_ONLY) ended, if any was taken.
    pub log_backup: Option<f64>,
    /// The bytes seeding copies: the data files' size.
    pub size: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Not connected, or the database cannot be seeded yet.
    Waiting,
    Seeding {
        started: Duration,
        /// Bytes to copy, and copied so far.
        size: f64,
        copied: f64,
        /// The partner's log position when the copy began: the copy is consistent as
        /// of it, and the log from there on must still be on SQL Server at the end.
        from: f64,
    },
    /// Seeded: the MI holds the database and applies the log it receives.
    Replicating,
    /// Seeding failed in a way only dropping and recreating the link fixes.
    Failed(LinkError),
}

/// One database of a link, on the MI's side.
#[derive(Debug, Clone)]
pub struct Replica {
    pub phase: Phase,
    /// Seeding attempts so far (a lost connection starts another).
    pub attempts: u32,
    /// Log bytes (partner coordinates) the MI has hardened.
    pub hardened: f64,
    /// When `hardened` last moved, and when seeding last completed.
    pub hardened_at: Option<Duration>,
    pub seeded_at: Option<Duration>,
    /// The log has caught up since the last (re)connection.
    pub caught_up: bool,
    /// Bytes per second the last step moved (seeding or log).
    pub transfer_rate: f64,
    /// Lab time the model has been brought up to.
    pub updated: Duration,
}

/// What a step changed that the engines must show.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A seeding attempt began (the MI creates the database, RESTORING).
    SeedingStarted,
    /// The connection was lost while seeding; the copy is thrown away.
    SeedingAborted,
    /// The copy is complete as of log position `from`; the database is ONLINE on the MI.
    Seeded {
        from: f64,
    },
    Failed(LinkError),
}

/// What a step sees of the link and the network.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    /// Connected, and this database may be seeded (no per-database error).
    pub ready: bool,
    /// Synchronous commit on both sides.
    pub sync: bool,
    /// This database's share of the network, bytes per second.
    pub bandwidth: f64,
    pub latency: Duration,
    /// When link creation gives up on a database still seeding: six days after the
    /// link was created (mi-link.md §3.2).
    pub cancel_at: Duration,
}

/// How long link creation may take before Azure cancels it.
pub const CREATION_LIMIT: Duration = Duration::from_secs(6 * 24 * 3600);

impl Replica {
    pub fn new(now: Duration) -> Replica {
        Replica {
            phase: Phase::Waiting,
            attempts: 0,
            hardened: 0.0,
            hardened_at: None,
            seeded_at: None,
            caught_up: false,
            transfer_rate: 0.0,
            updated: now,
        }
    }

    /// Whether this database is using the network now: seeding, or catching up.
    pub fn busy(&self) -> bool {
        matches!(self.phase, Phase::Seeding { .. })
            || (self.phase == Phase::Replicating && !self.caught_up)
    }

    /// The log the MI has not hardened yet, bytes.
    pub fn backlog(&self, partner: &PartnerLog) -> f64 {
        (partner.written - self.hardened).max(0.0)
    }

    /// How far behind the MI is, in seconds of the partner's workload (at least one
    /// while anything is behind and nothing is being written).
    pub fn lag_secs(&self, partner: &PartnerLog) -> i64 {
        let backlog = self.backlog(partner);
        match (backlog > 0.0, partner.rate > 0.0) {
            (false, _) => 0,
            (true, true) => (backlog / partner.rate).ceil() as i64,
            (true, false) => 1,
        }
    }

    /// sys.dm_hadr_database_replica_states.synchronization_state of the MI's copy:
    /// 0 NOT SYNCHRONIZING, 1 SYNCHRONIZING, 2 SYNCHRONIZED (synchronous commit and
    /// caught up).
    pub fn synchronization_state(&self, connected: bool, sync: bool) -> i64 {
        match (connected, self.caught_up && sync) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2,
        }
    }

    /// Brings the replica up to `now`, given what is seen now.
    pub fn advance(&mut self, now: Duration, partner: &PartnerLog, c: Conditions) -> Vec<Event> {
        let mut events = Vec::new();
        let mut dt = now.saturating_sub(self.updated).as_secs_f64();
        self.updated = self.updated.max(now);
        self.transfer_rate = 0.0;
        if !c.ready {
            self.caught_up = false;
            if matches!(self.phase, Phase::Seeding { .. }) {
                self.phase = Phase::Waiting;
                events.push(Event::SeedingAborted);
            }
            return events;
        }
        if self.phase == Phase::Waiting {
            self.attempts += 1;
            self.phase = Phase::Seeding {
                started: now,
                size: partner.size.max(1.0),
                copied: 0.0,
                from: partner.written,
            };
            events.push(Event::SeedingStarted);
            return events;
        }
        if let Phase::Seeding {
            size, copied, from, ..
        } = &mut self.phase
        {
            let needed = (*size - *copied) / c.bandwidth;
            let done_at = now.as_secs_f64() - dt + needed;
            if now >= c.cancel_at && done_at > c.cancel_at.as_secs_f64() {
                return self.fail(0, "Link creation was cancelled: seeding did not complete within 6 days of the link's creation. Give the link more bandwidth, or fewer databases at once, then drop and recreate it.");
            }
            if needed > dt {
                *copied += c.bandwidth * dt;
                self.transfer_rate = c.bandwidth;
                return events;
            }
            let from = *from;
            dt -= needed;
            let done = now - Duration::from_secs_f64(dt);
            // Log backups since the copy began truncated log it still needs.
            if partner.log_backup.is_some_and(|b| b > from) {
                return self.fail(1408, "The remote copy of the database is not recovered far enough to enable database mirroring or to join it to the availability group: a log backup on SQL Server truncated log the seeding still needed. Drop and recreate the link, and pause log backups until seeding completes.");
            }
            self.phase = Phase::Replicating;
            self.hardened = from;
            self.hardened_at = Some(done);
            self.seeded_at = Some(done);
            events.push(Event::Seeded { from });
        }
        if self.phase == Phase::Replicating {
            self.ship_log(now, dt, partner, c);
        }
        events
    }

    /// Seeding failed for good (only a new link recovers): the one event of the step.
    fn fail(&mut self, number: u32, text: &str) -> Vec<Event> {
        let e = LinkError {
            number,
            text: text.into(),
        };
        self.phase = Phase::Failed(e.clone());
        vec![Event::Failed(e)]
    }

    /// `dt` seconds of log shipping, ending at `now`. Asynchronous commit: the MI
    /// can have what SQL Server had written one network delay ago. Synchronous commit,
    /// once caught up: every commit waits for the MI, so it has it all.
    fn ship_log(&mut self, now: Duration, dt: f64, partner: &PartnerLog, c: Conditions) {
        if c.sync && self.caught_up {
            // Each commit waited until the MI hardened it.
            if partner.written > self.hardened {
                self.hardened = partner.written;
                self.hardened_at = Some(now);
            }
            return;
        }
        let target = partner.sent.max(self.hardened);
        let moved = (target - self.hardened).min(c.bandwidth * dt).max(0.0);
        if moved > 0.0 {
            self.hardened += moved;
            self.hardened_at = Some(now);
            self.transfer_rate = moved / dt.max(f64::EPSILON);
        }
        if self.hardened >= target - 0.5 {
            self.caught_up = true;
            if c.sync {
                self.hardened = partner.written;
                self.hardened_at = Some(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1_048_576.0;

    fn conditions(ready: bool, sync: bool) -> Conditions {
        Conditions {
            ready,
            sync,
            bandwidth: 10.0 * MB,
            latency: Duration::from_millis(100),
            cancel_at: CREATION_LIMIT,
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A database of `size` bytes with 1 MB of log and no workload.
    fn idle(size: f64) -> PartnerLog {
        PartnerLog {
            written: MB,
            sent: MB,
            rate: 0.0,
            log_backup: None,
            size,
        }
    }

    #[test]
    fn seeding_copies_at_the_bandwidth_then_the_log_catches_up() {
        let mut r = Replica::new(secs(0));
        let mut log = PartnerLog {
            written: 1000.0 * MB,
            sent: 1000.0 * MB,
            rate: MB,
            log_backup: None,
            size: 100.0 * MB,
        };
        assert_eq!(
            r.advance(secs(0), &log, conditions(true, false)),
            vec![Event::SeedingStarted]
        );
        log.written += 5.0 * MB;
        log.sent = log.written - 0.1 * MB;
        assert!(r.advance(secs(5), &log, conditions(true, false)).is_empty());
        assert!(
            matches!(r.phase, Phase::Seeding { copied, .. } if (copied - 50.0 * MB).abs() < 1.0)
        );
        // Done at 10 s; the 10 MB written since 0 s arrive within the next second.
        log.written += 5.0 * MB;
        log.sent = log.written - 0.1 * MB;
        let events = r.advance(secs(10), &log, conditions(true, false));
        assert_eq!(events, vec![Event::Seeded { from: 1000.0 * MB }]);
        assert_eq!(r.hardened, 1000.0 * MB);
        assert!(!r.caught_up && r.busy());
        log.written += 2.0 * MB;
        log.sent = log.written - 0.1 * MB;
        r.advance(secs(12), &log, conditions(true, false));
        assert!(r.caught_up);
        // Asynchronous: one network delay behind.
        assert!((r.backlog(&log) - 0.1 * MB).abs() < 1.0);
        // Synchronous: nothing behind.
        log.written += MB;
        r.advance(secs(13), &log, conditions(true, true));
        assert_eq!(r.backlog(&log), 0.0);
    }

    #[test]
    fn a_lost_connection_restarts_seeding() {
        let mut r = Replica::new(secs(0));
        let log = idle(100.0 * MB);
        r.advance(secs(0), &log, conditions(true, false));
        r.advance(secs(5), &log, conditions(true, false));
        assert_eq!(
            r.advance(secs(6), &log, conditions(false, false)),
            vec![Event::SeedingAborted]
        );
        assert_eq!(
            r.advance(secs(7), &log, conditions(true, false)),
            vec![Event::SeedingStarted]
        );
        assert_eq!(r.attempts, 2);
        assert!(matches!(r.phase, Phase::Seeding { copied, .. } if copied == 0.0));
    }

    #[test]
    fn a_log_backup_during_seeding_fails_it_with_1408() {
        let mut r = Replica::new(secs(0));
        let mut log = PartnerLog {
            log_backup: Some(0.5 * MB),
            ..idle(10.0 * MB)
        };
        r.advance(secs(0), &log, conditions(true, false));
        log.written = 2.0 * MB;
        log.log_backup = Some(2.0 * MB);
        let events = r.advance(secs(2), &log, conditions(true, false));
        assert!(matches!(&events[..], [Event::Failed(e)] if e.number == 1408));
        // It stays failed, connected or not.
        assert!(r.advance(secs(3), &log, conditions(true, false)).is_empty());
        assert!(matches!(r.phase, Phase::Failed(_)));
    }

    #[test]
    fn seeding_still_running_six_days_after_the_link_was_created_is_cancelled() {
        let mut r = Replica::new(secs(0));
        let log = idle(10.0 * 1024.0 * 1024.0 * MB);
        let slow = Conditions {
            bandwidth: 10_000.0,
            ..conditions(true, false)
        };
        r.advance(secs(0), &log, slow);
        assert!(r.advance(CREATION_LIMIT - secs(1), &log, slow).is_empty());
        let events = r.advance(CREATION_LIMIT + secs(1), &log, slow);
        assert!(
            matches!(&events[..], [Event::Failed(e)] if e.text.contains("6 days")),
            "{events:?}"
        );
        // A copy that completes in time is not.
        let mut quick = Replica::new(secs(0));
        let small = idle(MB);
        quick.advance(secs(0), &small, slow);
        let events = quick.advance(CREATION_LIMIT + secs(1), &small, slow);
        assert!(matches!(&events[..], [Event::Seeded { .. }]), "{events:?}");
    }
}
