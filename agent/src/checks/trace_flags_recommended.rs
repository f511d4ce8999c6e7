//! MI-LINK-TRACE-FLAGS: trace flags 1800 and 9567 are recommended on the SQL Server side
//! of a link (mi-link.md §1.2 item 5).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-TRACE-FLAGS",
    scope: Scope::Instance,
    severity: Severity::Info,
    title: "Trace flags 1800 and 9567 are on for the link",
    remedy: "Add -T1800 (log disks with different sector sizes) and -T9567 (compressed seeding) as startup parameters and restart SQL Server; check with DBCC TRACESTATUS(-1).",
    evaluate,
};

/// Flags that serve the link on the SQL Server side; they do not move to the MI.
pub const FOR_THE_LINK: [i32; 3] = [1800, 9567, 12381];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let on = got(&facts.trace_flags)?;
    let missing: Vec<String> = [1800, 9567]
        .iter()
        .filter(|f| !on.contains(f))
        .map(|f| f.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "recommended trace flags not on: {}",
        missing.join(", ")
    ))
    .evidence("global_trace_flags", listed_flags(on))])
}

/// "1800, 9567", or "none".
pub fn listed_flags(on: &[i32]) -> String {
    if on.is_empty() {
        return "none".into();
    }
    on.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn missing_link_flags_are_advised() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.trace_flags = Ok(vec![9567]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
