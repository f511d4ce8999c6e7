//! Seeding admission (`[migrations]` limits): how many links may seed at once —
//! altogether, from one host, into one managed instance — and how much bandwidth the
//! seedings on one network path (a host to an MI) may use together. A link seeds from
//! its `create_link` step until it catches up; a migration over a limit waits, queued,
//! before creating its link (its SQL Server side is ready), and goes when a slot frees.
//! Seeding cannot be throttled once it runs, so the bandwidth limit admits a new one
//! only while the path's seedings, as SQL Server last measured them, leave room.

/// The limits (`[migrations]`); 0 is none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeedingLimits {
    pub max_seeding: u32,
    pub max_seeding_per_host: u32,
    pub max_seeding_per_target: u32,
    /// Mbit/s the seedings of one host to one MI may use together.
    pub seeding_mbps_per_path: f64,
}

/// A link that seeds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeding {
    pub migration: String,
    pub host: String,
    pub target: String,
    /// SQL Server's last measured transfer rate, if it reported one.
    pub rate_bytes_per_second: Option<i64>,
}

/// Whether a link from `host` to `target` may start seeding now; when not, why (and
/// what frees it).
pub fn admit(
    (host, target): (&str, &str),
    seeding: &[Seeding],
    limits: &SeedingLimits,
) -> Result<(), String> {
    let names = |list: Vec<&Seeding>| {
        list.iter()
            .map(|s| s.migration.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let over = |limit: u32, list: Vec<&Seeding>, what: &str, setting: &str| {
        if limit > 0 && list.len() >= limit as usize {
            Err(format!(
                "queued: {} link(s) seed {what} already ({}; [migrations] {setting} = {limit}): it goes when one catches up",
                list.len(),
                names(list)
            ))
        } else {
            Ok(())
        }
    };
    over(
        limits.max_seeding,
        seeding.iter().collect(),
        "in all",
        "max_seeding",
    )?;
    let from_host = seeding.iter().filter(|s| s.host == host).collect();
    over(
        limits.max_seeding_per_host,
        from_host,
        "from this host",
        "max_seeding_per_host",
    )?;
    let into_target = seeding.iter().filter(|s| s.target == target).collect();
    over(
        limits.max_seeding_per_target,
        into_target,
        "into this MI",
        "max_seeding_per_target",
    )?;
    if limits.seeding_mbps_per_path > 0.0 {
        let path: Vec<&Seeding> = seeding
            .iter()
            .filter(|s| s.host == host && s.target == target)
            .collect();
        if let Some(unmeasured) = path.iter().find(|s| s.rate_bytes_per_second.is_none()) {
            return Err(format!(
                "queued: {}'s seeding on this path has not reported its rate yet ([migrations] seeding_mbps_per_path = {})",
                unmeasured.migration, limits.seeding_mbps_per_path
            ));
        }
        let used: i64 = path.iter().filter_map(|s| s.rate_bytes_per_second).sum();
        let mbps = used as f64 * 8.0 / 1_000_000.0;
        if !path.is_empty() && mbps >= limits.seeding_mbps_per_path {
            return Err(format!(
                "queued: the seedings on this path use {mbps:.1} Mbit/s ({}) of [migrations] seeding_mbps_per_path = {}",
                names(path),
                limits.seeding_mbps_per_path
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeding(id: &str, host: &str, target: &str, rate: Option<i64>) -> Seeding {
        Seeding {
            migration: id.into(),
            host: host.into(),
            target: target.into(),
            rate_bytes_per_second: rate,
        }
    }

    #[test]
    fn each_limit_queues_with_its_setting_named() {
        let now = [
            seeding("m1", "h1", "mi1", Some(1_000_000)),
            seeding("m2", "h2", "mi1", Some(500_000)),
        ];
        let none = SeedingLimits::default();
        assert!(admit(("h1", "mi1"), &now, &none).is_ok());
        for (limits, setting) in [
            (
                SeedingLimits {
                    max_seeding: 2,
                    ..none
                },
                "max_seeding = 2",
            ),
            (
                SeedingLimits {
                    max_seeding_per_host: 1,
                    ..none
                },
                "max_seeding_per_host = 1",
            ),
            (
                SeedingLimits {
                    max_seeding_per_target: 2,
                    ..none
                },
                "max_seeding_per_target = 2",
            ),
            (
                SeedingLimits {
                    seeding_mbps_per_path: 8.0,
                    ..none
                },
                "seeding_mbps_per_path = 8",
            ),
        ] {
            let why = admit(("h1", "mi1"), &now, &limits).unwrap_err();
            assert!(why.starts_with("queued") && why.contains(setting), "{why}");
        }
        // Another host, another MI: the per-host and per-path limits leave it.
        let loose = SeedingLimits {
            max_seeding_per_host: 1,
            seeding_mbps_per_path: 8.0,
            ..none
        };
        assert!(admit(("h3", "mi2"), &now, &loose).is_ok());
        assert!(admit(
            ("h1", "mi1"),
            &now,
            &SeedingLimits {
                seeding_mbps_per_path: 9.0,
                ..none
            }
        )
        .is_ok());
        let unmeasured = [seeding("m3", "h1", "mi1", None)];
        assert!(admit(
            ("h1", "mi1"),
            &unmeasured,
            &SeedingLimits {
                seeding_mbps_per_path: 100.0,
                ..none
            }
        )
        .unwrap_err()
        .contains("not reported its rate"));
    }
}
