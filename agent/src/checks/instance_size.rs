//! MI-INSTANCE-SIZE: the user databases together exceed a managed instance's largest
//! storage (mi-link.md §6.2 MIInstanceSize).

use super::facts::{got, Facts, Missing};
use super::{bytes, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-INSTANCE-SIZE",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "All databases fit one managed instance",
    remedy:
        "Split the databases over several managed instances, or archive data before the migration.",
    evaluate,
};

/// The largest storage of a General Purpose or Business Critical instance: 16 TiB.
pub const MI_MAX_STORAGE: i64 = 16 << 40;

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let total: i64 = got(&facts.databases)?.iter().map(|d| d.size_bytes).sum();
    if total <= MI_MAX_STORAGE {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "the user databases hold {} together; a managed instance stores at most {}",
        bytes(total),
        bytes(MI_MAX_STORAGE)
    ))
    .evidence("total_bytes", total)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn more_than_sixteen_tebibytes_is_flagged() {
        let mut facts = ready();
        sales(&mut facts).size_bytes = MI_MAX_STORAGE + 1;
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
