//! The lab's fault controls: library calls for tests in the same process, and the
//! same over a plain-HTTP API on loopback for other processes (`ferry-sim` prints
//! its address). Every call checks its names and values and says which is wrong.
//!
//! | Request | Body (JSON) |
//! |---|---|
//! | `POST /network/cut`, `POST /network/restore` | `instance`, `managed_instance`, `direction`: `to_managed_instance` / `from_managed_instance` / `both` |
//! | `POST /network/shape` | `instance`, `managed_instance`, `added_latency_ms` (0-60000), `bandwidth_mbps` (a cap, or null for none) |
//! | `POST /instances/{name}/stop`, `.../start` | none |
//! | `POST /instances/{name}/hang`, `.../resume` | none |
//! | `POST /instances/{name}/hold` | `statement`: text; batches containing it run, then their replies wait |
//! | `POST /instances/{name}/release` | none: the held replies go out |
//! | `POST /instances/{mi}/hold-redo`, `.../resume-redo` | none: the managed instance hardens the log but applies none of it (its rows trail) |
//! | `POST /arm/fail` | `kind`: `server_error` / `unavailable` / `throttled` / `timeout` / `slow` (carried out, answered `after_secs` late); `count`; `retry_after_secs`; `after_secs`; `path_contains` (only requests to such paths); `method` (only requests of it) |
//! | `POST /certificates/expire` | `instance`, `certificate` (a certificate in master) |
//! | `POST /service-account-token` | `subject`, `issuer` (the lab's own when absent): answers `{"token": "..."}`, a workload's federated token for workload identity |
//! | `GET /lost` | none: what each forced failover lost, per database: `managed_instance`, `link`, `database`, `from_lsn` (the MI's last hardened), `to_lsn` (SQL Server's end of log then), `log_bytes`, `row_changes` (`[["dbo.Orders", 3]]`) |
//!
//! | `GET /arm/requests` | none: every ARM request received (the newest 10,000), oldest first: `{"requests": [["POST", "/subscriptions/..."], ...]}` |
//!
//! Answers: 204 when done (200 with JSON for the token, `GET /lost` and `GET /arm/requests`); 400 or 404 with
//! `{"error": "..."}` otherwise.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;

use crate::azure::arm::{Arm, LostRecord};
use crate::azure::http::{Handler, Request, Response};
use crate::azure::ManagedInstance;
use crate::engine::Instance;
use crate::faults::{ArmFault, Direction, Faults};
use crate::port::Port;

pub struct Control {
    pub faults: Arc<Faults>,
    pub(crate) ports: Vec<Port>,
    pub(crate) arm: Option<Arc<Arm>>,
    pub(crate) instances: Vec<Arc<Instance>>,
    pub(crate) managed: Vec<Arc<ManagedInstance>>,
}

/// A fault control refused: what is wrong, and the HTTP status that says so.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub status: StatusCode,
    pub message: String,
}

fn refused(message: String) -> Refused {
    Refused {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

fn unknown(message: String) -> Refused {
    Refused {
        status: StatusCode::NOT_FOUND,
        message,
    }
}

pub type Controlled = Result<(), Refused>;

impl Control {
    /// Cuts traffic between SQL Server `instance` and managed instance `mi`.
    pub fn cut(&self, instance: &str, mi: &str, direction: Direction) -> Controlled {
        self.path(instance, mi)?;
        self.change(|f| f.set_cut(instance, mi, direction, true));
        Ok(())
    }

    pub fn restore(&self, instance: &str, mi: &str, direction: Direction) -> Controlled {
        self.path(instance, mi)?;
        self.change(|f| f.set_cut(instance, mi, direction, false));
        Ok(())
    }

    /// Delays (on top of the MI's configured latency) and caps the path's bandwidth.
    pub fn shape(
        &self,
        instance: &str,
        mi: &str,
        added_latency: Duration,
        bandwidth_mbps: Option<f64>,
    ) -> Controlled {
        self.path(instance, mi)?;
        if added_latency > Duration::from_secs(60) {
            return Err(refused(
                "added_latency_ms: at most 60000 (a minute)".to_string(),
            ));
        }
        if let Some(mbps) = bandwidth_mbps.filter(|m| !(*m > 0.0 && *m <= 100_000.0)) {
            return Err(refused(format!(
                "bandwidth_mbps: {mbps} is not in (0, 100000]; use null for no cap"
            )));
        }
        self.change(|f| f.set_shape(instance, mi, added_latency, bandwidth_mbps));
        Ok(())
    }

    /// Stops (`running` false) or starts a SQL Server or managed instance: its ports
    /// close and its sessions end; started again, it has what it had.
    pub fn set_running(&self, name: &str, running: bool) -> Controlled {
        self.any_instance(name)?;
        self.change(|f| f.set_stopped(name, !running));
        Ok(())
    }

    /// Hangs a SQL Server or managed instance (`hung` true): it accepts connections
    /// and answers none, as a hung server does, until it resumes and serves them.
    pub fn set_hung(&self, name: &str, hung: bool) -> Controlled {
        self.any_instance(name)?;
        self.change(|f| f.set_hung(name, hung));
        Ok(())
    }

    /// Holds (`held` true) or resumes managed instance `name`'s redo: it goes on
    /// hardening the log it receives, but its databases' rows stay as they were
    /// (a redo queue builds, `instanceRedoReplicationLagSeconds` grows) until it resumes.
    pub fn set_redo_held(&self, name: &str, held: bool) -> Controlled {
        self.managed_named(name)?;
        self.change(|f| f.set_redo_held(name, held));
        Ok(())
    }

    /// Connections waiting on instance `name` while it is hung.
    pub fn held_connections(&self, name: &str) -> usize {
        self.ports
            .iter()
            .filter(|p| p.owner.eq_ignore_ascii_case(name))
            .map(Port::held)
            .sum()
    }

    /// Holds the replies of SQL Server or managed instance `name` to batches
    /// containing `statement` (case-insensitive): the batch runs, then its reply waits
    /// until [`Control::release_replies`] or until its client goes.
    pub fn hold_replies(&self, name: &str, statement: &str) -> Controlled {
        if statement.trim().is_empty() {
            return Err(refused(
                "statement: empty; give text that the batches to hold contain".to_string(),
            ));
        }
        self.engine(name)?.held_replies.hold(statement);
        Ok(())
    }

    pub fn release_replies(&self, name: &str) -> Controlled {
        self.engine(name)?.held_replies.release();
        Ok(())
    }

    /// Replies of instance `name` waiting on a hold now.
    pub fn held_replies(&self, name: &str) -> usize {
        self.engine(name).map_or(0, |i| i.held_replies.waiting())
    }

    /// ARM answers the next `count` requests with `fault`.
    pub fn fail_arm(&self, fault: ArmFault, count: u32) -> Controlled {
        self.fail_arm_on(fault, count, "")
    }

    /// ARM answers the next `count` requests whose path contains `path`
    /// (case-insensitive; empty: all) with `fault`.
    pub fn fail_arm_on(&self, fault: ArmFault, count: u32, path: &str) -> Controlled {
        self.fail_arm_request(fault, count, ("", path))
    }

    /// As [`Control::fail_arm_on`], for requests of `method` (GET, PUT, PATCH, POST,
    /// DELETE; empty: any) only.
    pub fn fail_arm_request(
        &self,
        fault: ArmFault,
        count: u32,
        (method, path): (&str, &str),
    ) -> Controlled {
        if self.arm.is_none() {
            return Err(refused(
                "the lab has no Azure: its scenario declares no managed instance".to_string(),
            ));
        }
        let known = ["", "GET", "PUT", "PATCH", "POST", "DELETE"];
        if !known.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Err(refused(format!(
                "method: {method:?} is not one of GET, PUT, PATCH, POST, DELETE (or empty: any)"
            )));
        }
        self.faults.fail_arm_request(fault, count, (method, path));
        Ok(())
    }

    /// The ARM requests the lab received of `method` (any when empty) to paths
    /// containing `path` (case-insensitive), oldest first.
    pub fn arm_requests(&self, method: &str, path: &str) -> Vec<(String, String)> {
        self.arm
            .as_ref()
            .map(|arm| arm.requests(method, path))
            .unwrap_or_default()
    }

    /// ARM requests the fault set last is still to answer (0: all were answered).
    pub fn arm_faults_left(&self) -> u32 {
        self.faults.arm_faults_left()
    }

    /// Master's certificate `certificate` on SQL Server `instance` expires now.
    pub fn expire_certificate(&self, instance: &str, certificate: &str) -> Controlled {
        let sql = self.sql(instance)?;
        if sql.master_certificate(certificate).is_none() {
            return Err(unknown(format!(
                "certificate: '{instance}' has no certificate '{certificate}' in master"
            )));
        }
        self.change(|f| {
            if let Some(der) = sql.expire_certificate(certificate) {
                f.expire(der);
            }
        });
        Ok(())
    }

    /// The engine of SQL Server instance or managed instance `name`.
    fn engine(&self, name: &str) -> Result<&Arc<Instance>, Refused> {
        self.sql(name)
            .or_else(|_| self.managed_named(name).map(|m| &m.engine))
            .map_err(|_| {
                unknown(format!(
                    "instance: the lab has no instance or managed instance '{name}'"
                ))
            })
    }

    fn sql(&self, name: &str) -> Result<&Arc<Instance>, Refused> {
        self.instances
            .iter()
            .find(|i| i.info.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                unknown(format!(
                    "instance: the lab has no SQL Server instance '{name}'"
                ))
            })
    }

    /// Refuses a name that is neither a SQL Server nor a managed instance of the lab.
    fn any_instance(&self, name: &str) -> Controlled {
        if self.sql(name).is_err() && self.managed_named(name).is_err() {
            return Err(unknown(format!(
                "the lab has no instance or managed instance '{name}'"
            )));
        }
        Ok(())
    }

    fn managed_named(&self, name: &str) -> Result<&Arc<ManagedInstance>, Refused> {
        self.managed
            .iter()
            .find(|m| m.spec.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                unknown(format!(
                    "managed_instance: the lab has no managed instance '{name}'"
                ))
            })
    }

    /// Both ends of a path exist.
    fn path(&self, instance: &str, mi: &str) -> Controlled {
        self.sql(instance)?;
        self.managed_named(mi)?;
        Ok(())
    }

    /// Makes a change to the faults at one moment: every link is brought up to now
    /// before it (under the old conditions); the ports follow it; then every link
    /// is brought up to now again, seeing the new conditions (a link whose path
    /// came back reconnects through the port that opened).
    fn change(&self, make: impl FnOnce(&Faults)) {
        if let Some(arm) = &self.arm {
            arm.settle_all();
        }
        make(&self.faults);
        for port in &self.ports {
            let closed = self.faults.is_stopped(&port.owner)
                || (port.link && self.faults.inbound_cut(&port.owner));
            if let Err(e) = port.set_open(!closed) {
                tracing::error!(owner = %port.owner, error = %e, "cannot open the port again");
            }
            port.set_hung(self.faults.is_hung(&port.owner));
        }
        if let Some(arm) = &self.arm {
            arm.settle_all();
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathBody {
    instance: String,
    managed_instance: String,
    direction: Direction,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeBody {
    instance: String,
    managed_instance: String,
    #[serde(default)]
    added_latency_ms: u64,
    #[serde(default)]
    bandwidth_mbps: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum ArmKind {
    ServerError,
    Unavailable,
    Throttled,
    Timeout,
    Slow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArmBody {
    kind: ArmKind,
    #[serde(default = "one")]
    count: u32,
    #[serde(default = "one")]
    retry_after_secs: u64,
    #[serde(default = "minute")]
    after_secs: u64,
    #[serde(default)]
    path_contains: String,
    #[serde(default)]
    method: String,
}

fn one<T: From<u8>>() -> T {
    T::from(1)
}

fn minute() -> u64 {
    60
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    statement: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    subject: String,
    issuer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {
    instance: String,
    certificate: String,
}

fn body<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, Refused> {
    serde_json::from_slice(&request.body).map_err(|e| refused(format!("the request body: {e}")))
}

impl Handler for Control {
    fn handle(&self, request: Request) -> Response {
        let refusal =
            |e: Refused| Response::json(e.status, &serde_json::json!({"error": e.message}));
        if let Some(answer) = self.answer(&request) {
            return answer.map_or_else(refusal, |v| Response::json(StatusCode::OK, &v));
        }
        self.route(&request)
            .map_or_else(refusal, |()| Response::empty(StatusCode::NO_CONTENT))
    }
}

impl Control {
    /// What each forced failover so far lost (see [`LostRecord`]).
    pub fn lost(&self) -> Vec<LostRecord> {
        self.arm.as_ref().map(|a| a.lost()).unwrap_or_default()
    }

    /// A service account token for `subject` from `issuer` (the lab's own by
    /// default), as a cluster projects it for workload identity: azure_identity's
    /// `WorkloadIdentityCredential` reads it from `AZURE_FEDERATED_TOKEN_FILE`.
    pub fn service_account_token(
        &self,
        subject: &str,
        issuer: Option<&str>,
    ) -> Result<String, Refused> {
        let arm = self.arm.as_ref().ok_or_else(|| {
            refused("the lab has no Azure: declare a [[managed_instance]]".into())
        })?;
        if subject.trim().is_empty() {
            return Err(refused(
                "subject: must not be empty (e.g. system:serviceaccount:ferry:ferry-control)"
                    .into(),
            ));
        }
        let issuer = issuer.unwrap_or(crate::scenario::azure::DEFAULT_ISSUER);
        Ok(arm.authority().service_account_token(issuer, subject))
    }

    /// The requests answered with JSON rather than done: None for the others.
    fn answer(&self, request: &Request) -> Option<Result<serde_json::Value, Refused>> {
        let path = request.path.trim_matches('/');
        match (&request.method, path) {
            (&http::Method::GET, "lost") => {
                Some(Ok(serde_json::to_value(self.lost()).unwrap_or_default()))
            }
            (&http::Method::GET, "arm/requests") => Some(Ok(serde_json::json!({
                "requests": self.arm_requests("", ""),
            }))),
            (&http::Method::POST, "service-account-token") => Some(
                body::<TokenBody>(request)
                    .and_then(|b| self.service_account_token(&b.subject, b.issuer.as_deref()))
                    .map(|token| serde_json::json!({ "token": token })),
            ),
            _ => None,
        }
    }

    fn route(&self, request: &Request) -> Controlled {
        if request.method != http::Method::POST {
            return Err(refused(format!(
                "{} {}: the control API takes POST only, and GET /lost and /arm/requests",
                request.method, request.path
            )));
        }
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["network", action @ ("cut" | "restore")] => {
                let b: PathBody = body(request)?;
                if *action == "cut" {
                    self.cut(&b.instance, &b.managed_instance, b.direction)
                } else {
                    self.restore(&b.instance, &b.managed_instance, b.direction)
                }
            }
            ["network", "shape"] => {
                let b: ShapeBody = body(request)?;
                let latency = Duration::from_millis(b.added_latency_ms);
                self.shape(&b.instance, &b.managed_instance, latency, b.bandwidth_mbps)
            }
            ["instances", name, action @ ("stop" | "start")] => {
                self.set_running(name, *action == "start")
            }
            ["instances", name, action @ ("hang" | "resume")] => {
                self.set_hung(name, *action == "hang")
            }
            ["instances", name, action @ ("hold-redo" | "resume-redo")] => {
                self.set_redo_held(name, *action == "hold-redo")
            }
            ["instances", name, "hold"] => {
                let b: HoldBody = body(request)?;
                self.hold_replies(name, &b.statement)
            }
            ["instances", name, "release"] => self.release_replies(name),
            ["arm", "fail"] => {
                let b: ArmBody = body(request)?;
                let fault = match b.kind {
                    ArmKind::ServerError => ArmFault::ServerError,
                    ArmKind::Unavailable => ArmFault::Unavailable {
                        retry_after_secs: b.retry_after_secs,
                    },
                    ArmKind::Throttled => ArmFault::Throttled {
                        retry_after_secs: b.retry_after_secs,
                    },
                    ArmKind::Timeout => ArmFault::Timeout {
                        after_secs: b.after_secs,
                    },
                    ArmKind::Slow => ArmFault::Slow {
                        after_secs: b.after_secs,
                    },
                };
                self.fail_arm_request(fault, b.count, (&b.method, &b.path_contains))
            }
            ["certificates", "expire"] => {
                let b: ExpireBody = body(request)?;
                self.expire_certificate(&b.instance, &b.certificate)
            }
            _ => Err(unknown(format!(
                "no control at '{}': see the map in ferry-sim's control module",
                request.path
            ))),
        }
    }
}
