//! Cutover groups: databases that must cut over together, all or none (a plan file's
//! `[[group]]`), each with the application hook run once every member is ONLINE and
//! writable on its MI — a command or a webhook given the new connection endpoints,
//! which repoints the application.
//!
//! ```toml
//! [[group]]
//! name = "shop"
//! members = [{ host = "sql01", database = "Shop" }, { host = "sql01", database = "ShopAudit" }]
//! hook = { command = ["/usr/local/bin/repoint-shop", "--env", "prod"], timeout_secs = 300 }
//! # or: hook = { webhook = "https://deploy.example.com/ferry/shop", timeout_secs = 60 }
//! ```

use serde::{Deserialize, Serialize};

use super::wave::Member;

/// A group as the plan file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    pub name: String,
    pub members: Vec<Member>,
    pub hook: Option<HookFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookFile {
    pub command: Option<Vec<String>>,
    pub webhook: Option<String>,
    pub timeout_secs: Option<u64>,
}

/// How long a hook may run when the plan does not say.
const HOOK_TIMEOUT_SECS: u64 = 300;

/// The application cutover hook: run once per group, after every member is verified
/// on its MI and before the links are removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hook {
    /// Run on the control plane's host (no shell), with `FERRY_HOOK` holding the
    /// endpoints (JSON); exit status 0 is success.
    Command {
        argv: Vec<String>,
        timeout_secs: u64,
    },
    /// POSTed the same JSON; a 2xx answer is success.
    Webhook { url: String, timeout_secs: u64 },
}

impl Hook {
    pub fn timeout_secs(&self) -> u64 {
        match self {
            Hook::Command { timeout_secs, .. } | Hook::Webhook { timeout_secs, .. } => {
                *timeout_secs
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Hook::Command { argv, .. } => format!("command {}", argv.join(" ")),
            Hook::Webhook { url, .. } => format!("webhook {url}"),
        }
    }
}

/// A group as stored: its members resolved to migration ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub hook: Option<Hook>,
    pub migrations: Vec<String>,
}

/// Checks the plan's groups; every error names the field and what to write.
pub fn check(groups: &[GroupFile]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for (n, group) in groups.iter().enumerate() {
        let at = format!("group[{n}]");
        super::wave::check_name(&group.name, &at)?;
        if !names.insert(group.name.trim().to_ascii_lowercase()) {
            return Err(format!(
                "{at}.name: group {:?} is declared twice",
                group.name
            ));
        }
        if group.members.len() < 2 && group.members.iter().all(|m| m.selector.is_empty()) {
            return Err(format!(
                "{at}.members: a group holds the databases that cut over together: list two or more"
            ));
        }
        for (k, member) in group.members.iter().enumerate() {
            member.check(&format!("{at}.members[{k}]"))?;
        }
        if let Some(hook) = &group.hook {
            self::hook(hook, &at)?;
        }
    }
    Ok(())
}

/// The stored hook of a group's file (validated).
pub fn hook(file: &HookFile, at: &str) -> Result<Hook, String> {
    let timeout_secs = file.timeout_secs.unwrap_or(HOOK_TIMEOUT_SECS);
    if !(1..=3600).contains(&timeout_secs) {
        return Err(format!("{at}.hook.timeout_secs: 1 to 3600"));
    }
    match (&file.command, &file.webhook) {
        (Some(argv), None) => {
            if !argv.first().is_some_and(|p| p.starts_with('/')) {
                return Err(format!(
                    "{at}.hook.command: the program's absolute path first, then its arguments"
                ));
            }
            Ok(Hook::Command {
                argv: argv.clone(),
                timeout_secs,
            })
        }
        (None, Some(url)) => {
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("{at}.hook.webhook: {e}"))?;
            let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                return Err(format!(
                    "{at}.hook.webhook: https:// (plain http only to this host)"
                ));
            }
            Ok(Hook::Webhook {
                url: url.clone(),
                timeout_secs,
            })
        }
        _ => Err(format!(
            "{at}.hook: either command = [\"/path\", ...] or webhook = \"https://...\""
        )),
    }
}

/// What a group's gate and hook read of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProgress {
    pub id: String,
    pub host: String,
    pub database: String,
    pub state: crate::migration::State,
    /// Its failover step began (running or done).
    pub failover_begun: bool,
    /// Its database was verified ONLINE and writable on the MI (verify_on_mi done).
    pub verified: bool,
    /// When the driver last found every gate of its own open.
    pub gates_open_at_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(extra: &str) -> Vec<GroupFile> {
        let text = format!(
            "[[group]]\nname = \"shop\"\nmembers = [{{ host = \"a\", database = \"X\" }}, {{ host = \"a\", database = \"Y\" }}]\n{extra}"
        );
        toml::from_str::<super::super::wave::PlanFile>(&text)
            .unwrap()
            .groups
    }

    #[test]
    fn groups_parse_and_bad_ones_name_their_field() {
        let good = group("hook = { command = [\"/bin/true\", \"x\"] }\n");
        check(&good).unwrap();
        assert_eq!(
            hook(good[0].hook.as_ref().unwrap(), "").unwrap(),
            Hook::Command {
                argv: vec!["/bin/true".into(), "x".into()],
                timeout_secs: 300
            }
        );
        for (extra, field) in [
            ("hook = { command = [\"true\"] }\n", "group[0].hook.command"),
            (
                "hook = { webhook = \"http://example.com/x\" }\n",
                "group[0].hook.webhook",
            ),
            (
                "hook = { webhook = \"https://x\", command = [\"/bin/true\"] }\n",
                "group[0].hook",
            ),
            (
                "hook = { command = [\"/bin/true\"], timeout_secs = 0 }\n",
                "timeout_secs",
            ),
        ] {
            let err = check(&group(extra)).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
        assert!(check(&group("hook = { webhook = \"http://127.0.0.1:9/x\" }\n")).is_ok());
        let mut one = group("");
        one[0].members.pop();
        assert!(check(&one).unwrap_err().contains("two or more"));
    }
}
