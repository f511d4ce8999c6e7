//! MI-CROSS-DATABASE: modules that use objects in other databases (three-part names)
//! or on other servers (four-part names). The link moves one database at a time, so
//! after a cutover the names resolve only if the other database moved to the same
//! managed instance with it, and the linked server exists there.

use std::collections::BTreeSet;

use super::facts::{got, Facts, Missing, Reference};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-CROSS-DATABASE",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "Modules use no other database or server",
    remedy: "Migrate the databases that use each other to the same managed instance and cut them over together (one cutover group); create the linked servers the four-part names use on the managed instance, or change the code to reach those servers another way.",
    evaluate,
};

/// Databases every managed instance has; names in them still resolve after a cutover.
const SYSTEM_DATABASES: [&str; 4] = ["master", "msdb", "model", "tempdb"];

/// Whether `r`, made in database `home`, names something outside it.
fn leaves(r: &Reference, home: &str) -> bool {
    match (&r.server, &r.database) {
        (Some(_), _) => true,
        (None, Some(database)) => {
            !database.eq_ignore_ascii_case(home)
                && !SYSTEM_DATABASES
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(database))
        }
        (None, None) => false,
    }
}

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let references = got(&facts.references)?;
    let mut hits = Vec::new();
    for database in got(&facts.databases)?.iter().filter(|d| d.online()) {
        let outside: Vec<&Reference> = references
            .iter()
            .filter(|r| r.module.database == database.name && leaves(r, &database.name))
            .collect();
        if outside.is_empty() {
            continue;
        }
        let databases: BTreeSet<String> = outside
            .iter()
            .filter(|r| r.server.is_none())
            .filter_map(|r| r.database.clone())
            .collect();
        let servers: BTreeSet<String> = outside.iter().filter_map(|r| r.server.clone()).collect();
        let modules: BTreeSet<String> = outside.iter().map(|r| r.module.to_string()).collect();
        let mut targets: Vec<String> = databases.iter().cloned().collect();
        targets.extend(servers.iter().map(|s| format!("linked server {s}")));
        let mut hit = Hit::database(
            &database.name,
            format!("{} module(s) use {}", modules.len(), listed(&targets, 5)),
        );
        if !databases.is_empty() {
            hit = hit.evidence(
                "databases",
                databases.into_iter().collect::<Vec<_>>().join(", "),
            );
        }
        if !servers.is_empty() {
            hit = hit.evidence(
                "linked_servers",
                servers.into_iter().collect::<Vec<_>>().join(", "),
            );
        }
        hits.push(
            hit.objects(
                outside
                    .iter()
                    .map(|r| format!("{} uses {}", r.module, r.target())),
            ),
        );
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::super::facts::ModuleName;
    use super::super::fixture::{found, ready};
    use super::*;

    fn reference(server: Option<&str>, database: &str) -> Reference {
        Reference {
            module: ModuleName {
                database: "Sales".into(),
                schema: "dbo".into(),
                name: "RecentOrders".into(),
                kind: "VIEW".into(),
            },
            server: server.map(Into::into),
            database: Some(database.into()),
            schema: Some("dbo".into()),
            entity: "Orders".into(),
        }
    }

    #[test]
    fn other_databases_and_servers_are_flagged_but_not_home_or_system() {
        let mut facts = ready();
        facts.references = Ok(vec![reference(None, "sales"), reference(None, "msdb")]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.references = Ok(vec![reference(None, "Inventory")]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
        facts.references = Ok(vec![reference(Some("HQ"), "Sales")]);
        let hits = (CHECK.evaluate)(&facts).unwrap();
        assert_eq!(hits[0].message, "1 module(s) use linked server HQ");
        assert_eq!(
            hits[0].objects,
            ["view dbo.RecentOrders uses HQ.Sales.dbo.Orders"]
        );
    }
}
