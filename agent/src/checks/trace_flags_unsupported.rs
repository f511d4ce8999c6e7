//! MI-TF-UNSUPPORTED: global trace flags a managed instance does not accept (mi-link.md
//! §6.2, rule TraceFlags). The link's own flags (1800, 9567, 12381) serve the SQL Server
//! side only and are not reported.

use super::facts::{got, Facts, Missing};
use super::trace_flags_recommended::{listed_flags, FOR_THE_LINK};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-TF-UNSUPPORTED",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "Global trace flags are supported on the managed instance",
    remedy: "Find out why each flag is on and whether the application depends on it; the managed instance accepts only the global trace flags listed on the page.",
    evaluate,
};

/// Global trace flags a managed instance accepts (DBCC TRACEON with -1).
pub const ACCEPTED_ON_MI: [i32; 11] = [
    460, 2301, 2389, 2390, 2453, 2467, 7471, 8207, 9389, 10316, 11024,
];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let on = got(&facts.trace_flags)?;
    let bad: Vec<String> = on
        .iter()
        .filter(|f| !ACCEPTED_ON_MI.contains(f) && !FOR_THE_LINK.contains(f))
        .map(|f| f.to_string())
        .collect();
    if bad.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "global trace flags the managed instance does not support: {}",
        bad.join(", ")
    ))
    .evidence("global_trace_flags", listed_flags(on))
    .objects(bad.iter().map(|f| format!("trace flag {f}")))])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn flags_the_mi_refuses_are_warned() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.trace_flags = Ok(vec![1118, 2453, 9567]);
        let hits = (CHECK.evaluate)(&facts).unwrap();
        assert_eq!(hits[0].objects, ["trace flag 1118"]);
    }
}
