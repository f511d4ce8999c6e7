//! SQL Server builds: what a version string means for SERVERPROPERTY, @@VERSION and the
//! features that exist on that build. Known builds carry their documented level and
//! cumulative update (mi-link.md §1.1); other builds of a supported major are accepted
//! as RTM with no update level.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub parts: [u32; 4],
    /// ProductLevel: RTM, SP1, SP3 ...
    pub level: String,
    /// ProductUpdateLevel: CU13 ...; None is NULL, as on RTM builds.
    pub update_level: Option<String>,
}

/// (build, level, update level, short name)
const KNOWN: &[(&str, &str, Option<&str>, &str)] = &[
    ("13.0.6300.2", "SP3", None, "2016 SP3"),
    ("13.0.7000.253", "SP3", None, "2016 SP3 Azure Connect"),
    ("14.0.3456.2", "RTM", Some("CU31"), "2017 CU31"),
    (
        "14.0.3490.10",
        "RTM",
        Some("CU31"),
        "2017 CU31 Azure Connect",
    ),
    ("15.0.2000.5", "RTM", None, "2019 RTM"),
    ("15.0.4198.2", "RTM", Some("CU15"), "2019 CU15"),
    ("15.0.4312.2", "RTM", Some("CU20"), "2019 CU20"),
    ("16.0.1000.6", "RTM", None, "2022 RTM"),
    ("16.0.4095.4", "RTM", Some("CU10"), "2022 CU10"),
    ("16.0.4125.3", "RTM", Some("CU13"), "2022 CU13"),
    ("17.0.1000.7", "RTM", None, "2025 RTM"),
];

/// The first build of each major that has the servicing update with
/// `sp_certificate_add_issuer` (the MI link's minimum builds, mi-link.md §1.1).
const ISSUER_PROCEDURE_FROM: &[[u32; 4]] = &[
    [13, 0, 7000, 253],
    [14, 0, 3490, 10],
    [15, 0, 4312, 2],
    [16, 0, 1000, 6],
    [17, 0, 1000, 7],
];

impl Build {
    /// Parses `16.0.4125.3` or a short name such as `2022 CU13` or `2016 SP3`.
    pub fn parse(text: &str) -> Result<Build, String> {
        let text = text.trim();
        if let Some((build, level, update, _)) = KNOWN
            .iter()
            .find(|(b, _, _, name)| b.eq_ignore_ascii_case(text) || name.eq_ignore_ascii_case(text))
        {
            return Ok(Build {
                parts: parse_parts(build).expect("known builds are well formed"),
                level: level.to_string(),
                update_level: update.map(str::to_string),
            });
        }
        let parts = parse_parts(text).ok_or_else(|| {
            let names: Vec<&str> = KNOWN.iter().map(|k| k.3).collect();
            format!(
                "version '{text}' is neither a build like 16.0.4125.3 nor one of: {}",
                names.join(", ")
            )
        })?;
        if !(13..=17).contains(&parts[0]) {
            return Err(format!(
                "version '{text}': major version {} is not modelled (SQL Server 2016 = 13 to 2025 = 17)",
                parts[0]
            ));
        }
        Ok(Build {
            parts,
            level: "RTM".into(),
            update_level: None,
        })
    }

    pub fn major(&self) -> u32 {
        self.parts[0]
    }

    pub fn product_version(&self) -> String {
        let [a, b, c, d] = self.parts;
        format!("{a}.{b}.{c}.{d}")
    }

    pub fn year(&self) -> u32 {
        match self.major() {
            13 => 2016,
            14 => 2017,
            15 => 2019,
            16 => 2022,
            _ => 2025,
        }
    }

    /// Compatibility level of new databases on this major.
    pub fn default_compatibility_level(&self) -> u8 {
        (self.major() * 10) as u8
    }

    pub fn has_certificate_issuer_procedure(&self) -> bool {
        ISSUER_PROCEDURE_FROM
            .iter()
            .find(|from| from[0] == self.major())
            .is_some_and(|from| compare(&self.parts, from) != Ordering::Less)
    }

    /// The version bytes PRELOGIN and LOGINACK carry: major, minor, build (big-endian).
    pub fn wire_version(&self) -> [u8; 4] {
        let build = (self.parts[2] as u16).to_be_bytes();
        [self.parts[0] as u8, self.parts[1] as u8, build[0], build[1]]
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.product_version())
    }
}

fn parse_parts(text: &str) -> Option<[u32; 4]> {
    let parts: Vec<u32> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn compare(a: &[u32; 4], b: &[u32; 4]) -> Ordering {
    a.iter().cmp(b.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_and_builds_resolve_to_the_documented_levels() {
        let cu13 = Build::parse("2022 CU13").unwrap();
        assert_eq!(cu13.product_version(), "16.0.4125.3");
        assert_eq!(cu13.update_level.as_deref(), Some("CU13"));
        assert_eq!(Build::parse("16.0.4125.3").unwrap(), cu13);
        assert_eq!(Build::parse("16.0.4200.1").unwrap().level, "RTM");
        assert!(Build::parse("12.0.6024.0")
            .unwrap_err()
            .contains("not modelled"));
        assert!(Build::parse("latest").is_err());
    }

    #[test]
    fn the_issuer_procedure_arrives_with_the_servicing_update() {
        assert!(!Build::parse("2016 SP3")
            .unwrap()
            .has_certificate_issuer_procedure());
        assert!(Build::parse("2016 SP3 Azure Connect")
            .unwrap()
            .has_certificate_issuer_procedure());
        assert!(!Build::parse("2019 CU15")
            .unwrap()
            .has_certificate_issuer_procedure());
        assert!(Build::parse("2022 RTM")
            .unwrap()
            .has_certificate_issuer_procedure());
    }
}
