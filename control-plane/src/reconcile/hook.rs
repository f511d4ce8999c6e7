//! The application cutover hook of a cutover group (`group::Hook`): the cutover's
//! `application_hook` step waits until every member of its group is verified ONLINE
//! and writable on its MI, then one member's step claims the run in the store and
//! runs the hook in a task of its own — a command (no shell; `FERRY_HOOK` holds the
//! JSON below) or a webhook (POSTed the JSON) — so it runs once for the group; the
//! others wait for its outcome. A failed hook fails each member's step; `ferry
//! migrate retry` of a member runs it again (so hooks should be safe to repeat), and
//! the other members' retries then find its new outcome.
//!
//! ```json
//! {"group": "shop", "databases": [{"migration": "...", "host": "sql01", "instance": "default",
//!   "database": "Shop", "managed_instance": "mi-prod", "server": "mi-prod.abc.database.windows.net", "port": 1433}]}
//! ```

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::azure::ManagedInstanceId;
use crate::context::Context;
use crate::cutover::group::{Group, Hook};
use crate::migration::StepState;
use crate::store::cutovers::Wait;
use crate::store::migrations::{MigrationRecord, StepRecord};
use crate::store::StoreError;

/// How much of a hook's output its step keeps.
const OUTPUT_TAIL: usize = 1000;

/// Runs the `application_hook` step of `m`.
pub async fn step(
    shared: &Context,
    m: &MigrationRecord,
    step: &StepRecord,
    now: i64,
) -> Result<(), StoreError> {
    let store = &shared.store;
    let done = |detail: String| async move {
        tracing::info!(migration = %m.id, %detail, "application hook step done");
        store
            .finish_step(&m.id, step.seq, (StepState::Done, false), &detail, now)
            .await
    };
    let Some(group) = store.group_of(&m.id).await? else {
        return done("not in a cutover group: no application hook".into()).await;
    };
    let Some(hook) = group.hook.clone() else {
        return done(format!("group {} has no application hook", group.name)).await;
    };
    let members = store.member_progress(&group).await?;
    let unverified: Vec<String> = members
        .iter()
        .filter(|x| !x.verified)
        .map(|x| {
            format!(
                "{} on {} ({}, {})",
                x.database,
                x.host,
                x.id,
                x.state.as_str()
            )
        })
        .collect();
    let note = |why: String| async move {
        store
            .note_step((&m.id, step.seq), &why, Wait::Closed, now)
            .await
    };
    if !unverified.is_empty() {
        let why = format!(
            "waiting for the group's other members to be verified on their MI before its hook runs: {}",
            unverified.join("; ")
        );
        return super::cutover_steps::wait_or_fail(shared, (m, step), &why, now).await;
    }
    // A run left 'running' longer than this was lost with a stopped control plane.
    let lost_before = now - (hook.timeout_secs() as i64 + 30) * 1000;
    match store.hook_run(&group.name).await? {
        Some(run) if run.state == "done" => {
            done(format!("group {}'s hook ran: {}", group.name, run.detail)).await
        }
        Some(run) if run.state == "failed" => {
            let detail = format!(
                "group {}'s hook failed: {}; fix it, then `ferry migrate retry {}` runs it again",
                group.name, run.detail, m.id
            );
            store
                .finish_step(&m.id, step.seq, (StepState::Failed, false), &detail, now)
                .await
        }
        Some(run) if run.state == "running" && run.started_at_ms >= lost_before => {
            note(format!(
                "group {}'s hook ({}) runs since {}",
                group.name,
                hook.describe(),
                crate::rfc3339::format(run.started_at_ms)
            ))
            .await
        }
        _ => {
            if store.claim_hook(&group.name, lost_before, now).await? {
                let payload = payload(shared, &group).await?;
                tracing::info!(group = %group.name, hook = %hook.describe(), "running the application hook");
                let (store, name, clock) =
                    (store.clone(), group.name.clone(), shared.clock.clone());
                let span = super::validation::intent_span(m, "application_hook");
                tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        let outcome = execute(&hook, &name, &payload).await;
                        if let Err(e) = &outcome {
                            tracing::warn!(group = %name, error = %e, "the application hook failed");
                        }
                        let (ok, detail) = match outcome {
                            Ok(detail) => (true, detail),
                            Err(detail) => (false, detail),
                        };
                        let at = clock.now_ms();
                        if let Err(e) = store.finish_hook((&name, now), ok, &detail, at).await {
                            tracing::error!(group = %name, error = %e, "cannot record the hook's outcome");
                        }
                    },
                    span,
                ));
            }
            note(format!("running group {}'s hook", group.name)).await
        }
    }
}

/// The endpoints the hook is given: each member's database on its MI.
async fn payload(shared: &Context, group: &Group) -> Result<String, StoreError> {
    let mut databases = Vec::new();
    for id in &group.migrations {
        let Some(m) = shared.store.migration(id).await? else {
            continue;
        };
        let mi = match ManagedInstanceId::parse(&m.target_key) {
            Ok(key) => shared.store.target(&key).await?.map(|t| t.instance),
            Err(_) => None,
        };
        databases.push(json!({
            "migration": m.id,
            "host": m.host,
            "instance": m.instance,
            "database": m.database,
            "managed_instance": mi.as_ref().map(|mi| mi.id.name.clone()),
            "server": mi.map(|mi| mi.fqdn),
            "port": shared.config.cutover.mi_sql.port,
        }));
    }
    Ok(json!({ "group": group.name, "databases": databases }).to_string())
}

/// Runs `hook` once; what it said, or why it failed.
pub async fn execute(hook: &Hook, group: &str, payload: &str) -> Result<String, String> {
    let limit = Duration::from_secs(hook.timeout_secs());
    match hook {
        Hook::Command { argv, .. } => {
            let child = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env("FERRY_HOOK", payload)
                .env("FERRY_GROUP", group)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
            let output = tokio::time::timeout(limit, child.wait_with_output())
                .await
                .map_err(|_| {
                    format!(
                        "{} did not finish within {} s (stopped)",
                        argv[0],
                        limit.as_secs()
                    )
                })?
                .map_err(|e| format!("{}: {e}", argv[0]))?;
            let said = |bytes: &[u8]| tail(&String::from_utf8_lossy(bytes));
            if output.status.success() {
                Ok(format!("{} exited 0: {}", argv[0], said(&output.stdout)))
            } else {
                Err(format!(
                    "{} exited with {}: {}",
                    argv[0],
                    output.status,
                    said(&output.stderr)
                ))
            }
        }
        Hook::Webhook { url, .. } => {
            let client = reqwest::Client::builder()
                .timeout(limit)
                .build()
                .map_err(|e| e.to_string())?;
            let answer = client
                .post(url)
                .header("content-type", "application/json")
                .body(payload.to_string())
                .send()
                .await
                .map_err(|e| format!("POST {url}: {e}"))?;
            let status = answer.status();
            let body = tail(&answer.text().await.unwrap_or_default());
            if status.is_success() {
                Ok(format!("POST {url}: {status}: {body}"))
            } else {
                Err(format!("POST {url}: {status}: {body}"))
            }
        }
    }
}

/// The end of `text`, trimmed, at most [`OUTPUT_TAIL`] bytes.
fn tail(text: &str) -> String {
    let text = text.trim();
    let mut start = text.len().saturating_sub(OUTPUT_TAIL);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_hook_gets_the_endpoints_and_its_exit_status_counts() {
        let said = execute(
            &Hook::Command {
                argv: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    "echo \"$FERRY_GROUP $FERRY_HOOK\"".into(),
                ],
                timeout_secs: 10,
            },
            "shop",
            "{\"x\":1}",
        )
        .await
        .unwrap();
        assert!(said.ends_with("shop {\"x\":1}"), "{said}");
        let failed = execute(
            &Hook::Command {
                argv: vec!["/bin/sh".into(), "-c".into(), "echo no >&2; exit 3".into()],
                timeout_secs: 10,
            },
            "shop",
            "{}",
        )
        .await
        .unwrap_err();
        assert!(
            failed.contains("exit status: 3") && failed.ends_with("no"),
            "{failed}"
        );
        let slow = execute(
            &Hook::Command {
                argv: vec!["/bin/sleep".into(), "30".into()],
                timeout_secs: 1,
            },
            "shop",
            "{}",
        )
        .await
        .unwrap_err();
        assert!(slow.contains("did not finish within 1 s"), "{slow}");
        assert!(execute(
            &Hook::Command {
                argv: vec!["/nonexistent/hook".into()],
                timeout_secs: 1
            },
            "shop",
            "{}"
        )
        .await
        .unwrap_err()
        .contains("cannot start"));
    }
}
