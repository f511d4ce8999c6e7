//! MI-LINK-VERSION: the SQL Server build supports the MI link (mi-link.md §1.1).

use super::facts::{got, Facts, Missing};
use super::{Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-LINK-VERSION",
    scope: Scope::Instance,
    severity: Severity::Blocker,
    title: "SQL Server version and build support the MI link",
    remedy: "Install the minimum cumulative update (and, for SQL Server 2016 and 2017, the Azure Connect pack) listed on the page, then assess again.",
    evaluate,
};

/// The first build of each major version that can create a link to the MI.
pub const MINIMUM: &[([u32; 4], &str)] = &[
    (
        [13, 0, 7000, 253],
        "SQL Server 2016 SP3 with the Azure Connect pack (13.0.7000.253)",
    ),
    (
        [14, 0, 3490, 10],
        "SQL Server 2017 CU31 with the Azure Connect pack (14.0.3490.10)",
    ),
    ([15, 0, 4312, 2], "SQL Server 2019 CU20 (15.0.4312.2)"),
    ([16, 0, 1000, 6], "SQL Server 2022 RTM (16.0.1000.6)"),
    ([17, 0, 1000, 7], "SQL Server 2025 RTM (17.0.1000.7)"),
];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let server = got(&facts.server)?;
    let hit = |message: String, minimum: &str| {
        vec![Hit::instance(message)
            .evidence("product_version", &server.product_version)
            .evidence("minimum", minimum)]
    };
    if server.major() < 13 {
        return Ok(hit(
            format!(
                "SQL Server {} cannot host an MI link: 2014 and earlier have no distributed availability groups",
                server.product_version
            ),
            "SQL Server 2016 SP3 with the Azure Connect pack",
        ));
    }
    Ok(
        match MINIMUM.iter().find(|(build, _)| build[0] == server.major()) {
            Some((minimum, name)) if server.build < *minimum => hit(
                format!(
                    "build {} is older than the first that supports the MI link, {name}",
                    server.product_version
                ),
                name,
            ),
            _ => Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{found, ready, server};
    use super::*;

    #[test]
    fn builds_below_the_table_are_blocked() {
        let mut facts = ready();
        assert!(found(&CHECK, &facts).is_empty());
        for (build, blocked) in [
            ([15, 0, 4198, 2], true),
            ([15, 0, 4312, 2], false),
            ([13, 0, 6300, 2], true),
            ([13, 0, 7000, 253], false),
            ([14, 0, 3456, 2], true),
            ([12, 0, 6024, 0], true),
            ([18, 0, 1000, 1], false),
        ] {
            server(&mut facts).build = build;
            assert_eq!(found(&CHECK, &facts).len() == 1, blocked, "{build:?}");
        }
    }
}
