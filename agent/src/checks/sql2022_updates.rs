//! MI-LINK-SQL2022-UPDATE: SQL Server 2022 before CU10 cannot take a link from the MI,
//! and before CU13 cannot fail over with T-SQL (mi-link.md §1.1).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-SQL2022-UPDATE",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "SQL Server 2022 has the updates for failback and T-SQL failover",
    remedy: "Install SQL Server 2022 CU13 (16.0.4125.3) or later before the migration if you may need to fail back to SQL Server or fail over with T-SQL.",
    evaluate,
};

const CU10: [u32; 4] = [16, 0, 4095, 4];
const CU13: [u32; 4] = [16, 0, 4125, 3];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if server.major() != 16 || server.build >= CU13 {
        return Ok(Vec::new());
    }
    let missing = if server.build < CU10 {
        "a link from the MI back to SQL Server (needs CU10, 16.0.4095.4) and failover with ALTER AVAILABILITY GROUP ... FAILOVER (needs CU13, 16.0.4125.3)"
    } else {
        "failover with ALTER AVAILABILITY GROUP ... FAILOVER (needs CU13, 16.0.4125.3)"
    };
    Ok(vec![Hit::instance(format!(
        "build {} can create the link but not {missing}",
        server.product_version
    ))
    .evidence("product_version", &server.product_version)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn only_2022_before_cu13_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        server(&mut facts).build = [16, 0, 4095, 4];
        assert_eq!(found(&CHECK, &facts), ["instance"]);
        server(&mut facts).build = [15, 0, 4312, 2];
        assert!(found(&CHECK, &facts).is_empty());
    }
}
