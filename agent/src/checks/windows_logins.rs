//! MI-WINDOWS-LOGINS: Windows logins and groups need Microsoft Entra ID on the managed
//! instance (mi-link.md §6.2 WindowsAuthentication).

use super::facts::{got, Facts, Missing};
use super::{listed, Check, Hit, Scope, Severity};

pub const CHECK: Check = Check {
    id: "MI-WINDOWS-LOGINS",
    scope: Scope::Instance,
    severity: Severity::Warning,
    title: "No Windows logins",
    remedy: "Map each Windows login or group to a Microsoft Entra ID principal (CREATE LOGIN ... FROM EXTERNAL PROVIDER on the MI) and re-map the database users after cutover; logins are not carried by the link.",
    evaluate,
};

/// Built-in accounts every Windows host has; they do not move anywhere.
const BUILT_IN: [&str; 3] = ["NT SERVICE\\", "NT AUTHORITY\\", "BUILTIN\\"];

fn evaluate(facts: &Facts) -> Result<Vec<Hit>, Missing> {
    let names: Vec<String> = got(&facts.logins)?
        .iter()
        .filter(|l| matches!(l.kind.as_str(), "U" | "G"))
        .filter(|l| {
            let upper = l.name.to_ascii_uppercase();
            !BUILT_IN.iter().any(|b| upper.starts_with(b))
        })
        .map(|l| l.name.clone())
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Hit::instance(format!(
        "{} Windows login(s) or group(s): {}",
        names.len(),
        listed(&names, 5)
    ))
    .evidence("windows_principals", names.len())
    .objects(names.iter().map(|n| format!("login {n}")))])
}

#[cfg(test)]
mod tests {
    use super::super::facts::Login;
    use super::super::fixture::{found, ready};
    use super::*;

    #[test]
    fn windows_logins_but_not_service_accounts_are_flagged() {
        let mut facts = ready();
        let login = |name: &str, kind: &str| Login {
            name: name.into(),
            kind: kind.into(),
            disabled: false,
        };
        facts.logins = Ok(vec![
            login("NT SERVICE\\MSSQLSERVER", "U"),
            login("sa", "S"),
        ]);
        assert!(found(&CHECK, &facts).is_empty());
        facts.logins = Ok(vec![login("CONTOSO\\app", "U")]);
        assert_eq!(found(&CHECK, &facts), ["instance"]);
    }
}
