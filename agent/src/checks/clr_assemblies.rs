//! MI-CLR-ASSEMBLIES: user CLR assemblies run on a managed instance only from binary and
//! under strict security, where SAFE and EXTERNAL_ACCESS count as UNSAFE (mi-link.md §6.2
//! ClrStrictSecurity, AssemblyFromFile).

use super::facts::{got, Facts, Missing};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-CLR-ASSEMBLIES",
    scope: Scope::Database,
    severity: Severity::Warning,
    title: "CLR assemblies are signed for strict security",
    remedy: "Sign each assembly with a certificate or asymmetric key that has a login with UNSAFE ASSEMBLY permission (or add it with sys.sp_add_trusted_assembly), and make sure scripts create assemblies FROM a binary, not a file path.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let assemblies = got(&facts.assemblies)?;
    let mut hits = Vec::new();
    for database in got(&facts.databases)?.iter().filter(|d| d.online()) {
        let names: Vec<String> = assemblies
            .iter()
            .filter(|a| a.database == database.name)
            .map(|a| format!("{} ({})", a.name, a.permission_set))
            .collect();
        if !names.is_empty() {
            hits.push(
                Hit::database(
                    &database.name,
                    format!("{} CLR assemblies: {}", names.len(), listed(&names, 5)),
                )
                .evidence("assemblies", names.len())
                .objects(names.iter().map(|n| format!("assembly {n}"))),
            );
        }
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::super::facts::Assembly;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn an_assembly_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        facts.assemblies = Ok(vec![Assembly {
            database: "Sales".into(),
            name: "Geo".into(),
            permission_set: "SAFE_ACCESS".into(),
        }]);
        assert_eq!(found(&CHECK, &facts), ["Sales"]);
    }
}
