//! MI-DB-COUNT: more than 100 user databases (mi-link.md §6.2 NumDbExceeds100; at most
//! 100 links per General Purpose or Business Critical instance, §1.3).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-DB-COUNT",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "At most 100 user databases",
    remedy: "Spread the databases over several managed instances (at most 100 links each, 500 on Next-gen General Purpose), or retire unused databases first.",
    evaluate,
};

pub const LIMIT: usize = 100;

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let count = got(&facts.databases)?.len();
    if count <= LIMIT {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "{count} user databases; one managed instance holds at most {LIMIT} links"
    ))
    .evidence("user_databases", count)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, sales};
    use super::*;

    #[test]
    fn more_than_a_hundred_is_flagged() {
        let mut facts = ready();
        let one = sales(&mut facts).clone();
        facts.databases = Ok(vec![one; 101]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
