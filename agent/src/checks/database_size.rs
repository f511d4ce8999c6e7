//! MI-DATABASE-SIZE: a database larger than a managed instance's largest storage cannot
//! move there (mi-link.md §6.2 MIDatabaseSize).

use super::facts::{got, Facts, Missing};
use super::instance_size::MI_MAX_STORAGE;
use super::{bytes, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-DATABASE-SIZE",
    scope: Scope::Database,
    severity: Severity::Blocker,
    title: "The database fits a managed instance",
    remedy: "Archive or purge data until the database is under the limit, or split it; otherwise consider SQL Server on an Azure VM.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    Ok(got(&facts.databases)?
        .iter()
        .filter(|d| d.size_bytes > MI_MAX_STORAGE)
        .map(|d| {
            Hit::database(
                &d.name,
                format!(
                    "{} is more than a managed instance stores ({})",
                    bytes(d.size_bytes),
                    bytes(MI_MAX_STORAGE)
                ),
            )
            .evidence("size_bytes", d.size_bytes)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn too_large_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        sales(&mut facts).size_bytes = MI_MAX_STORAGE + 1;
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
