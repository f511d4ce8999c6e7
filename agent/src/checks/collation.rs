//! MI-LINK-COLLATION: the instance collation should match the managed instance's
//! (mi-link.md §1.2 item 9).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-COLLATION",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "The instance collation matches the managed instance default",
    remedy: "Create (or choose) the target managed instance with the same collation as this instance; an MI's instance collation cannot be changed after it is created.",
    evaluate,
};

/// A managed instance's collation unless chosen otherwise when it is created.
pub const MI_DEFAULT: &str = "SQL_Latin1_General_CP1_CI_AS";

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if server.collation.eq_ignore_ascii_case(MI_DEFAULT) {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "instance collation {} differs from the managed instance default {MI_DEFAULT}",
        server.collation
    ))
    .evidence("collation", &server.collation)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn another_collation_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        server(&mut facts).collation = "Latin1_General_100_CI_AS_SC".into();
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
