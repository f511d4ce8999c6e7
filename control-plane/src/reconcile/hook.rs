//! The application cutover hook of a cutover group (`group::Hook`, defined in the
//! control plane's configuration, named by the group): the cutover's
//! `application_hook` step waits until every member of its group is verified ONLINE
//! and writable on its MI, then one member's step claims the run in the store and
//! runs the hook in a task of its own — a command (no shell; `FERRY_HOOK` holds the
//! JSON below) or a webhook (POSTed the JSON, no redirect followed) — so it runs once
//! for the group; the others wait for its outcome. What the hook said goes to the
//! control plane's log only: its steps say whether it succeeded, not its output,
//! which viewers would read. A failed hook fails each member's step; `ferry
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

/// How much of a hook's output the control plane's log keeps.
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
    let Some(hook_name) = group.hook.clone() else {
        return done(format!("group {} has no application hook", group.name)).await;
    };
    let Some(hook) = shared.config.hook(&hook_name) else {
        let detail = format!(
            "group {}'s hook {hook_name:?} is not in the control plane's configuration ([[hook]]): add it there, or apply a plan naming one that is, then `ferry migrate retry {}`",
            group.name, m.id
        );
        return store
            .finish_step(&m.id, step.seq, (StepState::Failed, false), &detail, now)
            .await;
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
                "group {}'s hook {hook_name} runs since {}",
                group.name,
                crate::rfc3339::format(run.started_at_ms)
            ))
            .await
        }
        _ => {
            if store.claim_hook(&group.name, lost_before, now).await? {
                let payload = payload(shared, &group).await?;
                tracing::info!(group = %group.name, hook = %hook_name, "running the application hook");
                let (store, name, clock) =
                    (store.unfenced(), group.name.clone(), shared.clock.clone());
                let span = super::validation::intent_span(m, "application_hook");
                tokio::spawn(tracing::Instrument::instrument(
                    async move {
                        let outcome = execute(&hook, &name, &payload).await;
                        // What it said stays in this log; the step, which viewers
                        // read, says only how it ended.
                        let (ok, detail) = match outcome {
                            Ok(ran) => {
                                tracing::info!(group = %name, hook = %hook_name, said = %ran.said, "the application hook succeeded");
                                (true, format!("hook {hook_name}: {}", ran.ended))
                            }
                            Err(failed) => {
                                tracing::warn!(group = %name, hook = %hook_name, said = %failed.said, ended = %failed.ended, "the application hook failed");
                                (false, format!("hook {hook_name}: {} (its output is in the control plane's log)", failed.ended))
                            }
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

/// How a hook's run ended ("exit status 0", "answered 204 No Content", ...), and
/// what it said (the end of its output, or of the webhook's answer).
#[derive(Debug)]
pub struct Ran {
    pub ended: String,
    pub said: String,
}

/// Runs `hook` once.
pub async fn execute(hook: &Hook, group: &str, payload: &str) -> Result<Ran, Ran> {
    let limit = Duration::from_secs(hook.timeout_secs());
    let failed = |ended: String| Ran {
        ended,
        said: String::new(),
    };
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
                .map_err(|e| failed(format!("cannot start its command: {e}")))?;
            let output = tokio::time::timeout(limit, child.wait_with_output())
                .await
                .map_err(|_| {
                    failed(format!(
                        "did not finish within {} s (stopped)",
                        limit.as_secs()
                    ))
                })?
                .map_err(|e| failed(e.to_string()))?;
            let said = |bytes: &[u8]| tail(&String::from_utf8_lossy(bytes));
            if output.status.success() {
                Ok(Ran {
                    ended: output.status.to_string(),
                    said: said(&output.stdout),
                })
            } else {
                Err(Ran {
                    ended: output.status.to_string(),
                    said: said(&output.stderr),
                })
            }
        }
        Hook::Webhook { url, .. } => {
            ferry_proto::telemetry::install_crypto_provider();
            let client = reqwest::Client::builder()
                .timeout(limit)
                // A redirect could send the endpoints elsewhere: not followed.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| failed(e.to_string()))?;
            let answer = client
                .post(url)
                .header("content-type", "application/json")
                .body(payload.to_string())
                .send()
                .await
                .map_err(|e| failed(format!("the POST failed: {}", without_url(&e))))?;
            let status = answer.status();
            let ran = Ran {
                ended: format!("answered {status}"),
                said: tail(&answer.text().await.unwrap_or_default()),
            };
            if status.is_success() {
                Ok(ran)
            } else {
                Err(ran)
            }
        }
    }
}

/// A request's error without the URL it names (a webhook's URL may hold a secret).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the webhook");
    }
    text
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
        let command = |argv: &[&str], timeout_secs| Hook::Command {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            timeout_secs,
        };
        let ran = execute(
            &command(&["/bin/sh", "-c", "echo \"$FERRY_GROUP $FERRY_HOOK\""], 10),
            "shop",
            "{\"x\":1}",
        )
        .await
        .unwrap();
        assert_eq!(
            (ran.ended.as_str(), ran.said.as_str()),
            ("exit status: 0", "shop {\"x\":1}")
        );
        let failed = execute(
            &command(&["/bin/sh", "-c", "echo no >&2; exit 3"], 10),
            "shop",
            "{}",
        )
        .await
        .unwrap_err();
        assert_eq!(
            (failed.ended.as_str(), failed.said.as_str()),
            ("exit status: 3", "no")
        );
        let slow = execute(&command(&["/bin/sleep", "30"], 1), "shop", "{}")
            .await
            .unwrap_err();
        assert!(slow.ended.contains("did not finish within 1 s"), "{slow:?}");
        let missing = execute(&command(&["/nonexistent/hook"], 1), "shop", "{}")
            .await
            .unwrap_err();
        assert!(missing.ended.contains("cannot start"), "{missing:?}");
    }

    /// A webhook that answers with a redirect is not followed (the endpoints would go
    /// elsewhere); the error does not repeat the webhook's URL.
    #[tokio::test]
    async fn a_webhook_redirect_is_not_followed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let hook = Hook::Webhook {
            url: format!("http://{addr}/secret-token-in-path"),
            timeout_secs: 5,
        };
        let failed = execute(&hook, "shop", "{}").await.unwrap_err();
        assert!(failed.ended.contains("307"), "{failed:?}");
        served.await.unwrap();
    }
}
