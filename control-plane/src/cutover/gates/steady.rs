//! How the two sides' LSNs moved across SQL Server's readings: the replication gate's
//! "equal in N consecutive readings" and the workload gate's "log still since".

use serde::{Deserialize, Serialize};

use crate::migration::observe::Observation;

/// How the two sides' LSNs moved across SQL Server's readings, folded into each
/// observation from the one before ([`Steady::follow`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Steady {
    /// The LSN both sides last had hardened alike, and in how many consecutive SQL
    /// Server readings they did (0: they differ, or SQL Server's reading is missing).
    pub equal_lsn: String,
    pub equal_readings: u32,
    /// SQL Server's end of log, and the first reading that showed it.
    pub end_of_log: String,
    pub end_of_log_since_ms: i64,
}

impl Steady {
    /// `now`'s LSN history, given the observation before it.
    pub fn follow(before: Option<&Observation>, now: &Observation) -> Steady {
        let Some(sql) = &now.sql else {
            return Steady::default();
        };
        let prior = before.map(|b| &b.steady);
        let new_reading = before.is_none_or(|b| b.sql_observed_ms != now.sql_observed_ms);
        let equal =
            !sql.local_hardened_lsn.is_empty() && sql.local_hardened_lsn == now.last_hardened_lsn;
        let equal_readings = match prior {
            _ if !equal => 0,
            Some(p) if p.equal_readings > 0 && p.equal_lsn == sql.local_hardened_lsn => {
                p.equal_readings + u32::from(new_reading)
            }
            _ => 1,
        };
        let end_of_log_since_ms = match prior {
            Some(p) if p.end_of_log == sql.end_of_log_lsn && p.end_of_log_since_ms > 0 => {
                p.end_of_log_since_ms
            }
            _ => now.sql_observed_ms,
        };
        Steady {
            equal_lsn: if equal {
                sql.local_hardened_lsn.clone()
            } else {
                String::new()
            },
            equal_readings,
            end_of_log: sql.end_of_log_lsn.clone(),
            end_of_log_since_ms,
        }
    }
}
