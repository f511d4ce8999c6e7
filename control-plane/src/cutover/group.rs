//! Cutover groups: databases that must cut over together, all or none (a plan file's
//! `[[group]]`), each with the application hook run once every member is ONLINE and
//! writable on its MI — a command or a webhook given the new connection endpoints,
//! which repoints the application.
//!
//! Hooks are defined by whoever runs the control plane, in its configuration
//! (`[[hook]]`); a plan names one. An operator writing plans cannot make the control
//! plane run a program of their choosing (it runs with access to the CA's key).
//!
//! ```toml
//! # ferry-control.toml
//! [[hook]]
//! name = "repoint-shop"
//! command = ["/usr/local/bin/repoint-shop", "--env", "prod"]   # no shell
//! timeout_secs = 300
//! # or: webhook = "https://deploy.example.com/ferry/shop" (https only, no redirects)
//!
//! # a plan
//! [[group]]
//! name = "shop"
//! members = [{ host = "sql01", database = "Shop" }, { host = "sql01", database = "ShopAudit" }]
//! hook = "repoint-shop"
//! ```

use serde::{Deserialize, Serialize};

use super::wave::Member;

/// A group as the plan file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    pub name: String,
    pub members: Vec<Member>,
    /// The name of a hook in the control plane's configuration.
    pub hook: Option<String>,
}

/// A hook as the control plane's configuration defines it (`[[hook]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookFile {
    pub name: String,
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
    /// POSTed the same JSON; a 2xx answer is success (no redirect is followed).
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
}

/// A group as stored: its members resolved to migration ids, its hook by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// A hook of the control plane's configuration. A group stored by an earlier
    /// version with its hook written inline reads as naming none that exists.
    #[serde(default, deserialize_with = "hook_name")]
    pub hook: Option<String>,
    pub migrations: Vec<String>,
}

/// A stored group's hook: its name, or (an earlier version's inline hook) a name no
/// configuration has, so that running it says to apply the plan again.
fn hook_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => Some(name),
        Some(_) => Some("(an inline hook: apply the plan again, naming a configured hook)".into()),
    })
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
            super::wave::check_name(hook, &format!("{at}.hook"))?;
        }
    }
    Ok(())
}

/// A configured hook, checked (`at` names it in the configuration): a command by its
/// absolute path (run directly, no shell), or a webhook over https (plain http only to
/// this host, and only when `loopback_http` allows it: the lab's).
pub fn hook(file: &HookFile, at: &str, loopback_http: bool) -> Result<Hook, String> {
    super::wave::check_name(&file.name, &format!("{at}.name"))?;
    let timeout_secs = file.timeout_secs.unwrap_or(HOOK_TIMEOUT_SECS);
    if !(1..=3600).contains(&timeout_secs) {
        return Err(format!("{at}.timeout_secs: 1 to 3600"));
    }
    match (&file.command, &file.webhook) {
        (Some(argv), None) => {
            if !argv.first().is_some_and(|p| p.starts_with('/')) {
                return Err(format!(
                    "{at}.command: the program's absolute path first, then its arguments"
                ));
            }
            Ok(Hook::Command {
                argv: argv.clone(),
                timeout_secs,
            })
        }
        (None, Some(url)) => {
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("{at}.webhook: {e}"))?;
            let loopback = parsed
                .host_str()
                .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| ip.is_loopback());
            let allowed = parsed.scheme() == "https"
                || (parsed.scheme() == "http" && loopback && loopback_http);
            if !allowed {
                return Err(format!(
                    "{at}.webhook: https:// only (plain http to this host's loopback address only with [cutover] webhook_loopback_http = true, for a lab)"
                ));
            }
            Ok(Hook::Webhook {
                url: url.clone(),
                timeout_secs,
            })
        }
        _ => Err(format!(
            "{at}: either command = [\"/path\", ...] or webhook = \"https://...\""
        )),
    }
}

/// The configured hooks, checked, by name (each name once).
pub fn configured(files: &[HookFile], loopback_http: bool) -> Result<Vec<(String, Hook)>, String> {
    let mut hooks: Vec<(String, Hook)> = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let at = format!("hook[{n}]");
        let checked = hook(file, &at, loopback_http)?;
        if hooks
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(&file.name))
        {
            return Err(format!("{at}.name: hook {:?} is defined twice", file.name));
        }
        hooks.push((file.name.clone(), checked));
    }
    Ok(hooks)
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

    fn configured_hook(text: &str) -> HookFile {
        toml::from_str(&format!("name = \"repoint\"\n{text}")).unwrap()
    }

    #[test]
    fn configured_hooks_are_checked_and_bad_ones_name_their_field() {
        assert_eq!(
            hook(
                &configured_hook("command = [\"/bin/true\", \"x\"]"),
                "hook[0]",
                false
            )
            .unwrap(),
            Hook::Command {
                argv: vec!["/bin/true".into(), "x".into()],
                timeout_secs: 300
            }
        );
        for (text, field) in [
            ("command = [\"true\"]", "hook[0].command"),
            ("webhook = \"http://example.com/x\"", "hook[0].webhook"),
            ("webhook = \"http://127.0.0.1:9/x\"", "hook[0].webhook"),
            (
                "webhook = \"https://x\"\ncommand = [\"/bin/true\"]",
                "hook[0]",
            ),
            (
                "command = [\"/bin/true\"]\ntimeout_secs = 0",
                "timeout_secs",
            ),
        ] {
            let err = hook(&configured_hook(text), "hook[0]", false).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
        // Plain http to this host's loopback, only where the lab allows it.
        assert!(hook(
            &configured_hook("webhook = \"http://127.0.0.1:9/x\""),
            "h",
            true
        )
        .is_ok());
        assert!(hook(
            &configured_hook("webhook = \"http://[::1]:9/x\""),
            "h",
            true
        )
        .is_ok());
        assert!(hook(
            &configured_hook("webhook = \"http://example.com/x\""),
            "h",
            true
        )
        .is_err());
        let twice = [
            configured_hook("command = [\"/bin/true\"]"),
            configured_hook("command = [\"/bin/false\"]"),
        ];
        assert!(configured(&twice, false)
            .unwrap_err()
            .contains("defined twice"));
    }

    #[test]
    fn groups_parse_and_bad_ones_name_their_field() {
        let good = group("hook = \"repoint-shop\"\n");
        check(&good).unwrap();
        assert_eq!(good[0].hook.as_deref(), Some("repoint-shop"));
        // A plan cannot define a command: it names a configured hook.
        let text = "[[group]]\nname = \"shop\"\nmembers = [{ host = \"a\", database = \"X\" }, { host = \"a\", database = \"Y\" }]\nhook = { command = [\"/bin/sh\", \"-c\", \"id\"] }\n";
        assert!(toml::from_str::<super::super::wave::PlanFile>(text).is_err());
        let stored: Group = serde_json::from_str(
            r#"{"name":"shop","hook":{"command":{"argv":["/bin/sh"],"timeout_secs":1}},"migrations":[]}"#,
        )
        .unwrap();
        assert!(stored.hook.unwrap().contains("apply the plan again"));
        let mut one = group("");
        one[0].members.pop();
        assert!(check(&one).unwrap_err().contains("two or more"));
    }
}
