//! MI-LINK-AG-SHARED: a single-database link needs an availability group holding only
//! this database; one already in an AG with others cannot be linked (mi-link.md §1.3).

use super::facts::{got, Facts, Missing};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-AG-SHARED",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database is not in an availability group with other databases",
    remedy: "Remove the database from its availability group (ALTER AVAILABILITY GROUP [<ag>] REMOVE DATABASE [<db>]) so the link can put it in an AG of its own, or use the multiple-database link mode where supported.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let members = got(&facts.availability_databases)?;
    let mut hits = Vec::new();
    for database in got(&facts.databases)? {
        for group in members
            .iter()
            .filter(|m| !m.distributed && m.database == database.name)
        {
            let others: Vec<String> = members
                .iter()
                .filter(|m| m.group == group.group && m.database != database.name)
                .map(|m| m.database.clone())
                .collect();
            if !others.is_empty() {
                hits.push(
                    Hit::database(
                        &database.name,
                        format!(
                            "in availability group {} with {}",
                            group.group,
                            listed(&others, 5)
                        ),
                    )
                    .evidence("availability_group", &group.group)
                    .evidence("databases_in_group", others.len() + 1)
                    .objects([format!("availability group {}", group.group)]),
                );
            }
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::super::facts::AvailabilityDatabase;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn a_shared_group_is_blocked() {
        let mut facts = ready();
        let member = |db: &str| AvailabilityDatabase {
            group: "AG1".into(),
            distributed: false,
            database: db.into(),
        };
        facts.availability_databases = Ok(vec![member("Sales")]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.availability_databases = Ok(vec![member("Sales"), member("HR")]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
