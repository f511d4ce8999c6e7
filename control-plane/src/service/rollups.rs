//! A run's whole-run figures (its checks rolled up, its databases counted by
//! readiness), kept while no host's assessment has arrived for the run since they
//! were read: each is a pass over the run (about 230 ms at 10,000 hosts), and every
//! `ferry assess report` asks for the first page that carries them. A run's results
//! change only when a host's assessment is stored for it, which counts as a reported
//! target, so (run, reported targets) says when the figures are still true; the
//! retention sweep removes whole runs, whose ids are never reused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::assess::readiness::Readiness;
use crate::store::assessments::RuleRow;

/// Runs whose figures are kept (the newest asked for).
const KEPT: usize = 8;

/// A run's whole-run figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollup {
    pub rules: Vec<RuleRow>,
    pub readiness: Vec<(Readiness, u32)>,
}

#[derive(Default)]
pub struct Rollups {
    /// (run id, reported targets when read, the figures), the newest last.
    kept: Mutex<VecDeque<(String, u32, Arc<Rollup>)>>,
}

impl Rollups {
    /// The run's figures as read when `reported` of its targets had reported.
    pub fn get(&self, run: &str, reported: u32) -> Option<Arc<Rollup>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter()
            .find(|(id, at, _)| id == run && *at == reported)
            .map(|(_, _, rollup)| rollup.clone())
    }

    /// Keeps the run's figures, read when `reported` of its targets had reported
    /// (counted before the figures were read: a report landing in between makes the
    /// next count differ, so the figures are read again).
    pub fn put(&self, run: &str, reported: u32, rollup: Arc<Rollup>) {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.retain(|(id, ..)| id != run);
        kept.push_back((run.to_string(), reported, rollup));
        while kept.len() > KEPT {
            kept.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(n: u32) -> Arc<Rollup> {
        Arc::new(Rollup {
            rules: Vec::new(),
            readiness: vec![(Readiness::Ready, n)],
        })
    }

    #[test]
    fn figures_hold_until_a_report_arrives_and_the_newest_runs_are_kept() {
        let rollups = Rollups::default();
        assert_eq!(rollups.get("r1", 3), None);
        rollups.put("r1", 3, rollup(3));
        assert_eq!(rollups.get("r1", 3), Some(rollup(3)));
        assert_eq!(rollups.get("r1", 4), None, "a report arrived since");
        rollups.put("r1", 4, rollup(4));
        assert_eq!(rollups.get("r1", 3), None, "replaced");
        for n in 0..KEPT {
            rollups.put(&format!("other{n}"), 1, rollup(1));
        }
        assert_eq!(rollups.get("r1", 4), None, "the oldest run asked for went");
        assert_eq!(
            rollups.get(&format!("other{}", KEPT - 1), 1),
            Some(rollup(1))
        );
    }
}
