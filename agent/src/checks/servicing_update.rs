//! MI-LINK-SERVICING-UPDATE: `sp_certificate_add_issuer` exists only with the servicing
//! update the link needs (mi-link.md §1.1).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-SERVICING-UPDATE",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "The servicing update with sp_certificate_add_issuer is installed",
    remedy: "Install the cumulative update (SQL Server 2019 and later) or the Azure Connect pack (2016, 2017) named on the MI-LINK-VERSION page; it adds sys.sp_certificate_add_issuer, which trusts the MI's certificate issuers.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if server.issuer_procedure {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(
        "sys.sp_certificate_add_issuer does not exist: the servicing update for the MI link is missing",
    )
    .evidence("OBJECT_ID('sys.sp_certificate_add_issuer')", "NULL")
    .evidence("product_version", &server.product_version)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn a_missing_procedure_is_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        server(&mut facts).issuer_procedure = false;
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
