//! MI-LINK-EDITION: the MI link needs Enterprise, Standard or Developer (mi-link.md §1.1).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-EDITION",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "SQL Server edition supports the MI link",
    remedy: "Upgrade the instance to Standard, Enterprise or Developer edition (Express and Web cannot host availability groups), or migrate with backup and restore instead.",
    evaluate,
};

const SUPPORTED: [&str; 3] = ["Enterprise", "Standard", "Developer"];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if SUPPORTED.iter().any(|e| server.edition.contains(e)) {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "{} cannot host the availability groups the MI link is made of",
        server.edition
    ))
    .evidence("edition", &server.edition)
    .evidence("engine_edition", server.engine_edition)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn express_is_blocked_and_evaluation_is_not() {
        let mut facts = ready();
        server(&mut facts).edition = "Express Edition (64-bit)".into();
        assert_eq!(found(&CHECK, &facts), ["instance"]);
        server(&mut facts).edition = "Enterprise Evaluation Edition (64-bit)".into();
        assert!(found(&CHECK, &facts).is_empty());
    }
}
