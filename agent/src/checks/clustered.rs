//! MI-FAILOVER-CLUSTER-INSTANCE: failover cluster instances are not supported by the Arc
//! migration path (mi-link.md §1.2 item 11).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-FAILOVER-CLUSTER-INSTANCE",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "The instance is not a failover cluster instance",
    remedy: "Test the link on the cluster's active node before the migration window; Microsoft's Arc migration does not support failover cluster instances, and a cluster failover during seeding restarts it.",
    evaluate,
};

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    if !server.clustered {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(
        "the instance is a failover cluster instance",
    )
    .evidence("IsClustered", 1)])
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn a_cluster_instance_is_flagged() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        server(&mut facts).clustered = true;
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
