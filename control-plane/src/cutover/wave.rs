//! Plans and waves: a plan file (`ferry plan apply FILE`, TOML) groups migrations into
//! waves, each with a maintenance window, the approvals it needs, and what a failure
//! in it does to the rest (and into cutover groups, `super::group`). A plan is declarative: applying it makes the stored waves
//! exactly the file's (a wave left out is removed), and applying the same file again
//! changes nothing.
//!
//! ```toml
//! [[wave]]
//! name = "wave-1"
//! approvals = 1                 # distinct approvers, besides [cutover] approvals
//! on_failure = "halt"           # or "continue": a failed cutover holds the others
//! window = { start = "2026-12-05T22:00:00+01:00", end = "2026-12-06T02:00:00+01:00" }
//! # or every week: window = { days = ["sat", "sun"], from = "22:00", to = "02:00", time_zone = "Europe/Paris" }
//! members = [{ host = "sql01", database = "Sales" }, { host = "sql02", instance = "default", database = "CRM" }]
//! # or every migration on the hosts labelled so (`ferry host label`), when applied:
//! # members = [{ selector = ["env=prod", "site=paris"] }]
//! ```

use serde::{Deserialize, Serialize};

use super::window::{Recurring, Window};

/// A wave as the plan file gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaveFile {
    pub name: String,
    #[serde(default)]
    pub approvals: u32,
    #[serde(default)]
    pub on_failure: OnFailure,
    pub window: Option<WindowFile>,
    pub members: Vec<Member>,
}

/// A one-off window (`start`, `end`: RFC 3339 with offsets) or a recurring one
/// (`days`, `from`, `to`, `time_zone`; `super::window`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowFile {
    pub start: Option<String>,
    pub end: Option<String>,
    #[serde(default)]
    pub days: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub time_zone: Option<String>,
}

/// Databases of the plan: one by host and database (and instance, when several of the
/// host's have it), or every migration on the hosts whose labels match `selector`
/// (`["env=prod", "site=paris"]`; only of `database`, when given), as they are when
/// the plan is applied.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub instance: String,
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub selector: Vec<String>,
}

impl Member {
    /// Checks that it names a database or selects hosts; errors name `at`.
    pub fn check(&self, at: &str) -> Result<(), String> {
        match (self.selector.is_empty(), self.host.is_empty()) {
            (true, false) if !self.database.is_empty() => Ok(()),
            (true, _) => Err(format!(
                "{at}: name a host and a database ({{ host, database }}) or select hosts by label ({{ selector = [\"env=prod\"] }})"
            )),
            (false, true) => crate::fleet::labels::parse_selector(&self.selector)
                .map(drop)
                .map_err(|e| format!("{at}.selector: {e}")),
            (false, false) => Err(format!(
                "{at}: a host or a selector, not both"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// A failed cutover in the wave holds every other one before its failover.
    #[default]
    Halt,
    /// The others go on.
    Continue,
}

/// A plan file: its waves and its cutover groups (`super::group`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    #[serde(default, rename = "wave")]
    pub waves: Vec<WaveFile>,
    #[serde(default, rename = "group")]
    pub groups: Vec<super::group::GroupFile>,
}

/// A wave as stored: its members resolved to migration ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    pub name: String,
    pub approvals: u32,
    pub on_failure: OnFailure,
    pub window: Option<Window>,
    pub migrations: Vec<String>,
}

/// Parses a plan file; every error names the field and what to write.
pub fn parse(text: &str) -> Result<PlanFile, String> {
    let plan: PlanFile = toml::from_str(text).map_err(|e| format!("the plan file: {e}"))?;
    let mut names = std::collections::HashSet::new();
    for (n, wave) in plan.waves.iter().enumerate() {
        let at = format!("wave[{n}]");
        check_name(&wave.name, &at)?;
        let name = wave.name.trim();
        if !names.insert(name.to_ascii_lowercase()) {
            return Err(format!("{at}.name: wave {name:?} is declared twice"));
        }
        if wave.members.is_empty() {
            return Err(format!(
                "{at}.members: list the wave's databases ({{ host, database }})"
            ));
        }
        for (k, member) in wave.members.iter().enumerate() {
            member.check(&format!("{at}.members[{k}]"))?;
        }
        if let Some(w) = &wave.window {
            window_of(w, &at)?;
        }
    }
    super::group::check(&plan.groups)?;
    Ok(plan)
}

/// A wave's or a group's name: 1 to 64 letters, digits, '-', '_' or '.'.
pub(super) fn check_name(name: &str, at: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "{at}.name: 1 to 64 letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// The window of a wave (validated by [`parse`]).
pub fn window(wave: &WaveFile) -> Option<Window> {
    wave.window.as_ref().and_then(|w| window_of(w, "").ok())
}

/// A window file as stored; errors name `at.window.<field>`.
fn window_of(w: &WindowFile, at: &str) -> Result<Window, String> {
    let at = format!("{at}.window");
    match (&w.start, &w.end, &w.from, &w.to, &w.time_zone) {
        (Some(start), Some(end), None, None, None) if w.days.is_empty() => {
            let (start, end) = (time_ms(start, &at, "start")?, time_ms(end, &at, "end")?);
            if end <= start {
                return Err(format!("{at}.end: must be after its start"));
            }
            Ok(Window::OneOff(start, end))
        }
        (None, None, Some(from), Some(to), Some(zone)) => {
            let recurring = Recurring {
                days: w.days.clone(),
                from: from.clone(),
                to: to.clone(),
                time_zone: zone.clone(),
            };
            recurring.check(&at)?;
            Ok(Window::Recurring(recurring))
        }
        _ => Err(format!(
            "{at}: either {{ start, end }} (RFC 3339 with offsets) or {{ days, from, to, time_zone }} (recurring, e.g. days = [\"sat\"], from = \"22:00\", to = \"02:00\", time_zone = \"Europe/Paris\")"
        )),
    }
}

fn time_ms(text: &str, at: &str, field: &str) -> Result<i64, String> {
    crate::rfc3339::parse_ms(text).map_err(|e| {
            format!("{at}.{field}: {text:?} is not an RFC 3339 time with its offset (2026-12-05T22:00:00+01:00): {e}")
        })
}

/// A stored wave, whether it is paused, and who approved it as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveRecord {
    pub wave: Wave,
    pub paused: bool,
    pub approvers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deploy_example_parses() {
        let plan = parse(include_str!("../../../deploy/plan.example.toml")).unwrap();
        assert_eq!((plan.waves.len(), plan.groups.len()), (1, 1));
        assert!(plan.groups[0].hook.is_some());
    }

    #[test]
    fn a_plan_parses_and_bad_ones_name_their_field() {
        let good = r#"
[[wave]]
name = "wave-1"
approvals = 1
window = { start = "2026-12-05T22:00:00+01:00", end = "2026-12-06T02:00:00+01:00" }
members = [{ host = "sql01", database = "Sales" }]
"#;
        let waves = parse(good).unwrap().waves;
        let selected = good.replace(
            "host = \"sql01\"",
            "selector = [\"env=prod\", \"site=paris\"]",
        );
        assert_eq!(
            parse(&selected).unwrap().waves[0].members[0].selector.len(),
            2
        );
        assert_eq!(waves[0].on_failure, OnFailure::Halt);
        assert!(matches!(window(&waves[0]), Some(Window::OneOff(s, e)) if e - s == 4 * 3_600_000));
        let weekly = good.replace(
            "window = { start = \"2026-12-05T22:00:00+01:00\", end = \"2026-12-06T02:00:00+01:00\" }",
            "window = { days = [\"sat\"], from = \"22:00\", to = \"02:00\", time_zone = \"Europe/Paris\" }",
        );
        assert!(matches!(
            window(&parse(&weekly).unwrap().waves[0]),
            Some(Window::Recurring(r)) if r.time_zone == "Europe/Paris"
        ));
        let mixed = weekly.replace("days = [\"sat\"]", "start = \"2026-12-05T22:00:00+01:00\"");
        assert!(parse(&mixed)
            .unwrap_err()
            .contains("wave[0].window: either"));
        for (bad, field) in [
            (good.replace("wave-1", "wave 1"), "wave[0].name"),
            (
                good.replace("+01:00\", end", "\", end"),
                "wave[0].window.start",
            ),
            (
                good.replace("2026-12-06T02", "2026-12-04T02"),
                "wave[0].window.end",
            ),
            (
                good.replace(
                    "members = [{ host = \"sql01\", database = \"Sales\" }]",
                    "members = []",
                ),
                "wave[0].members",
            ),
            (format!("{good}{good}"), "declared twice"),
            (good.replace("approvals", "approval"), "unknown field"),
            (
                good.replace("host = \"sql01\", ", ""),
                "wave[0].members[0]: name a host",
            ),
            (
                good.replace("host = \"sql01\"", "selector = [\"env\"]"),
                "wave[0].members[0].selector",
            ),
            (
                good.replace(
                    "host = \"sql01\"",
                    "host = \"a\", selector = [\"env=prod\"]",
                ),
                "not both",
            ),
        ] {
            let err = parse(&bad).unwrap_err();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
