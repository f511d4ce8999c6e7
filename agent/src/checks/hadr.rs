//! MI-LINK-HADR-DISABLED: Always On availability groups must be enabled (mi-link.md §1.2).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-HADR-DISABLED",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "Always On availability groups are enabled",
    remedy: "Enable Always On availability groups (SQL Server Configuration Manager, Enable-SqlAlwaysOn, or on Linux `mssql-conf set hadr.hadrenabled 1`) and restart the SQL Server service. SQL Server 2016 also needs a (single-node) Windows failover cluster.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if server.hadr_enabled {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(
        "Always On availability groups are disabled; the link is a distributed availability group",
    )
    .evidence("IsHadrEnabled", 0)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn disabled_hadr_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        server(&mut facts).hadr_enabled = false;
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
