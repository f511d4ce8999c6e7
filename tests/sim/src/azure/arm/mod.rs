//! The ARM stand-in: the `Microsoft.Sql/managedInstances` surface the MI link uses
//! (mi-link.md §2.2), with ARM's authentication, api-version checks, error bodies and
//! long-running operations.
//!
//! - `error`: ARM's error bodies and the 401 challenge.
//! - `operations`: long-running operations and the changes they make on completion.
//! - `instances`: `managedInstances` GET and list.
//! - `certificates`: `serverTrustCertificates` and `endpointCertificates`.
//! - `links`: `distributedAvailabilityGroups`.

mod certificates;
mod error;
mod instances;
mod links;
mod operations;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;

use super::failover;
use super::http::{Handler, Request, Response};
use super::link::{self, observe, Failover, Link, Surroundings, TrustCertificate};
use super::replicate;
use super::token::Authority;
use super::wire::Wires;
use super::ManagedInstance;
use crate::engine::{Instance, LabClock};
use crate::faults::{ArmFault, Faults};
use crate::scenario::azure::Role;

pub use error::{ArmError, ArmResult};
pub use links::LIST_PAGE;
use operations::{Change, Operation, Status};

/// The link's databases the MI holds a seeded copy of.
fn seeded(link: &Link) -> Vec<String> {
    link.databases
        .iter()
        .filter(|d| d.replica.phase == super::replication::Phase::Replicating)
        .map(|d| d.name.clone())
        .collect()
}

/// The api-versions the lab serves for the managed instance, certificate resources.
const VERSIONS: &[&str] = &[
    "2021-08-01-preview",
    "2021-11-01",
    "2022-05-01-preview",
    "2022-08-01-preview",
    "2022-11-01-preview",
    "2023-02-01-preview",
    "2023-05-01-preview",
    "2023-08-01",
    "2023-08-01-preview",
    "2024-05-01-preview",
    "2024-11-01-preview",
    "2025-01-01",
];

/// The child resource types a link's long-running operations change.
const TRUST: &str = "serverTrustCertificates";
const LINKS: &str = "distributedAvailabilityGroups";

/// `distributedAvailabilityGroups` in its current schema (`databases`,
/// `partnerEndpoint`, `instanceAvailabilityGroupName` ...), from 2023-05-01-preview.
const LINK_VERSIONS: &[&str] = &[
    "2023-05-01-preview",
    "2023-08-01-preview",
    "2024-05-01-preview",
    "2024-11-01-preview",
    "2025-01-01",
];

/// Each managed instance's certificates and links (by MI name), and the operations.
#[derive(Default)]
struct State {
    trust: HashMap<String, Vec<TrustCertificate>>,
    links: HashMap<String, Vec<Link>>,
    operations: Vec<Operation>,
    /// Databases that became primary on an MI (failover, or the link deleted) and
    /// the lab time their first automatic full backup completes.
    backups_due: Vec<(Arc<ManagedInstance>, String, Duration)>,
    /// Managed instances scaled since the lab began: vCores and storage (GB).
    scaled: HashMap<String, (u32, u32)>,
    /// What each forced failover lost: the lab's record, per managed instance and link
    /// (Azure keeps none; a test compares it with the rows).
    lost: Vec<LostRecord>,
}

/// A forced failover's loss on one database of one link.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LostRecord {
    pub managed_instance: String,
    pub link: String,
    #[serde(flatten)]
    pub tail: failover::LostTail,
}

/// How long after a database becomes primary on the MI its first automatic full
/// backup completes, before the lab's speed applies.
const FIRST_BACKUP: Duration = Duration::from_secs(300);

impl State {
    fn trusted(&self, mi: &str) -> &[TrustCertificate] {
        self.trust.get(mi).map(Vec::as_slice).unwrap_or_default()
    }

    fn trusted_named(&self, mi: &str, name: &str) -> Option<&TrustCertificate> {
        self.trusted(mi)
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    fn links(&self, mi: &str) -> &[Link] {
        self.links.get(mi).map(Vec::as_slice).unwrap_or_default()
    }

    fn link(&self, mi: &str, name: &str) -> Option<&Link> {
        self.links(mi)
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The MI's first automatic full backups of `databases`, due at `at`.
    fn first_backups(&mut self, mi: &Arc<ManagedInstance>, databases: Vec<String>, at: Duration) {
        for database in databases {
            self.backups_due.push((mi.clone(), database, at));
        }
    }

    /// Makes a completed operation's change; a failover that cannot run is the
    /// operation's error (code, message).
    fn apply(
        &mut self,
        managed: &Arc<ManagedInstance>,
        (sql, faults, wires): (&[Arc<Instance>], &Faults, &Wires),
        change: Change,
        (at, wall): (Duration, time::OffsetDateTime),
        backup_at: Duration,
    ) -> Result<(), (&'static str, String)> {
        let mi = managed.spec.name.as_str();
        let name = change.name().unwrap_or_default().to_string();
        let same = |n: &str| n.eq_ignore_ascii_case(&name);
        match change {
            Change::PutTrust(certificate) => {
                let list = self.trust.entry(mi.to_string()).or_default();
                list.retain(|c| !same(&c.name));
                list.push(certificate);
            }
            Change::DeleteTrust(_) => {
                if let Some(list) = self.trust.get_mut(mi) {
                    list.retain(|c| !same(&c.name));
                }
            }
            Change::PutLink(link) => {
                let list = self.links.entry(mi.to_string()).or_default();
                list.retain(|l| !same(&l.name));
                list.push(Link {
                    created_at: at,
                    ..*link
                });
            }
            Change::SetReplicationMode { sync, .. } => {
                let list = self.links.get_mut(mi).into_iter().flatten();
                for link in list.filter(|l| same(&l.name)) {
                    link.sync = sync;
                }
            }
            Change::Failover { kind, .. } => {
                let trusted = self.trust.get(mi).cloned().unwrap_or_default();
                let list = self.links.get_mut(mi).into_iter().flatten();
                let Some(link) = list.into_iter().find(|l| same(&l.name)) else {
                    return Ok(());
                };
                let around = Surroundings {
                    trusted: &trusted,
                    sql,
                    at: wall,
                    faults,
                    wires,
                };
                let seen = observe(link, managed, &around);
                let partner = seen.partner.clone().filter(|_| seen.connected);
                let sync = replicate::synchronous(link, partner.as_deref());
                let seeded = seeded(link);
                let outcome = failover::failover(managed, link, partner.as_deref(), kind, sync)
                    .map_err(|e| ("FailoverNotPossible", e.text))?;
                let source = seen.partner.clone().or_else(|| {
                    sql.iter()
                        .find(|i| super::link::partner_is(link, i))
                        .cloned()
                });
                if let (Failover::ForcedAllowDataLoss, Some(source)) = (kind, source) {
                    let record = |tail| LostRecord {
                        managed_instance: mi.to_string(),
                        link: link.name.clone(),
                        tail,
                    };
                    let lost: Vec<_> = failover::lost(link, &source)
                        .into_iter()
                        .map(record)
                        .collect();
                    self.lost.extend(lost);
                }
                self.first_backups(managed, seeded, backup_at);
                if outcome == failover::Outcome::Broken {
                    self.links
                        .entry(mi.to_string())
                        .or_default()
                        .retain(|l| !same(&l.name));
                }
            }
            Change::DeleteLink(_) => {
                let mut became_primary = Vec::new();
                if let Some(list) = self.links.get_mut(mi) {
                    for link in list.iter_mut().filter(|l| same(&l.name)) {
                        if link.failover.is_none() {
                            became_primary.extend(seeded(link));
                        }
                        if let Err(e) = failover::leave(managed, link) {
                            tracing::error!(link = %link.name, error = %e, "the MI could not leave the link");
                        }
                    }
                    list.retain(|l| !same(&l.name));
                }
                self.first_backups(managed, became_primary, backup_at);
            }
            Change::Scale { vcores, storage_gb } => {
                self.scaled.insert(mi.to_string(), (vcores, storage_gb));
            }
        }
        Ok(())
    }
}

pub struct Arm {
    authority: Arc<Authority>,
    managed: Vec<Arc<ManagedInstance>>,
    sql: Vec<Arc<Instance>>,
    clock: Arc<LabClock>,
    faults: Arc<Faults>,
    /// SQL Server's connections to the managed instances' link endpoints.
    wires: Wires,
    state: Mutex<State>,
    /// The requests received, oldest first (method, path), the newest
    /// [`REQUESTS_KEPT`]: what tests count (how many failover requests a cutover made).
    requests: Mutex<std::collections::VecDeque<(String, String)>>,
}

/// How many requests [`Arm::requests`] keeps.
const REQUESTS_KEPT: usize = 10_000;

/// One request, resolved to its managed instance where it names one.
struct Call<'a> {
    request: &'a Request,
    /// `https://host:port`, for the URLs the answer carries.
    base: String,
    api_version: String,
    mi: Option<Arc<ManagedInstance>>,
    /// Path segments after `managedInstances/{name}/{child type}`: the child's name
    /// and an action.
    rest: Vec<String>,
}

impl Arm {
    pub fn new(
        authority: Arc<Authority>,
        managed: Vec<Arc<ManagedInstance>>,
        sql: Vec<Arc<Instance>>,
        clock: Arc<LabClock>,
        faults: Arc<Faults>,
    ) -> Arm {
        Arm {
            authority,
            managed,
            sql,
            clock,
            faults,
            wires: Wires::default(),
            state: Mutex::new(State::default()),
            requests: Mutex::default(),
        }
    }

    /// The requests received whose method is `method` (any when empty) and whose path
    /// contains `path` (case-insensitive), oldest first, of the newest kept.
    pub fn requests(&self, method: &str, path: &str) -> Vec<(String, String)> {
        let path = path.to_ascii_lowercase();
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        requests
            .iter()
            .filter(|(m, p)| {
                (method.is_empty() || m.eq_ignore_ascii_case(method))
                    && p.to_ascii_lowercase().contains(&path)
            })
            .cloned()
            .collect()
    }

    fn record(&self, request: &Request) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if requests.len() == REQUESTS_KEPT {
            requests.pop_front();
        }
        requests.push_back((request.method.to_string(), request.path.clone()));
    }

    /// What a managed instance's side of its links sees at `at`.
    fn surroundings<'a>(
        &'a self,
        trusted: &'a [TrustCertificate],
        at: time::OffsetDateTime,
    ) -> Surroundings<'a> {
        Surroundings {
            trusted,
            sql: &self.sql,
            at,
            faults: &self.faults,
            wires: &self.wires,
        }
    }

    fn subscription(&self) -> &str {
        &self.authority.spec.subscription
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.lock_for(None)
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// What the forced failovers so far lost, oldest first.
    pub fn lost(&self) -> Vec<LostRecord> {
        self.lock().lost.clone()
    }

    /// Brings every link and operation up to now: the lab does so before and after
    /// a fault changes, so that every link sees the change when it happens.
    pub fn settle_all(&self) {
        drop(self.lock());
    }

    /// The state, with the links that involve `only` (every link when None) and
    /// every operation brought up to now.
    fn lock_for(&self, only: Option<&Instance>) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.settle(&mut state, only);
        state
    }

    /// Brings the links up to now (those involving `only`, or all), then completes
    /// every operation whose time has come, in order.
    fn settle(&self, state: &mut State, only: Option<&Instance>) {
        let now = self.clock.elapsed();
        self.replicate(state, now, only);
        let mut due: Vec<usize> = (0..state.operations.len())
            .filter(|&n| {
                let op = &state.operations[n];
                matches!(op.status, Status::InProgress) && op.completes_at <= now
            })
            .collect();
        due.sort_by_key(|&n| state.operations[n].completes_at);
        for n in due {
            let op = &state.operations[n];
            let (mi, change, at) = (op.mi.clone(), op.change.clone(), op.completes_at);
            let when = (at, self.authority.time_at(at));
            let backup_at = at + FIRST_BACKUP.div_f64(self.authority.spec.speed);
            let world = (self.sql.as_slice(), self.faults.as_ref(), &self.wires);
            state.operations[n].status = match state.apply(&mi, world, change, when, backup_at) {
                Ok(()) => Status::Succeeded,
                Err((code, message)) => Status::Failed(code, message),
            };
            // A link created now starts at once.
            self.replicate(state, now, None);
        }
        state.backups_due.retain(|(mi, database, at)| {
            if *at > now {
                return true;
            }
            if let Err(e) = mi.engine.automatic_full_backup(database) {
                tracing::error!(database, error = %e, "the MI's automatic backup failed");
            }
            false
        });
    }

    /// Brings the links up to `now`: every link, or those whose managed instance or
    /// partner endpoint is `only`'s (a statement there can change only them).
    fn replicate(&self, state: &mut State, now: Duration, only: Option<&Instance>) {
        let time_at = |d: Duration| self.authority.time_at(d);
        let State { trust, links, .. } = state;
        for mi in &self.managed {
            let Some(list) = links.get_mut(&mi.spec.name) else {
                continue;
            };
            let whole = only.is_none_or(|i| std::ptr::eq(i, &*mi.engine));
            let wanted = |link: &Link| whole || only.is_some_and(|i| link::partner_is(link, i));
            let trusted = trust
                .get(&mi.spec.name)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let around = self.surroundings(trusted, time_at(now));
            replicate::links(mi, list, &around, now, &time_at, &wanted);
        }
    }

    fn route(&self, request: &Request) -> ArmResult<Response> {
        let claims = self
            .authority
            .verify(request.header("authorization"))
            .map_err(|r| ArmError::unauthenticated(r, &self.authority.spec.tenant))?;
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        let (Some(&"subscriptions"), Some(subscription)) = (l.first(), segments.get(1)) else {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "ferry-sim: the ARM stand-in serves /subscriptions/... only, not '{}'",
                    request.path
                ),
            ));
        };
        if !subscription.eq_ignore_ascii_case(self.subscription()) {
            return Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "SubscriptionNotFound",
                format!("The subscription '{subscription}' could not be found."),
            ));
        }
        let host = request.header("host").unwrap_or("localhost");
        let mut call = Call {
            request,
            base: format!("https://{host}"),
            api_version: String::new(),
            mi: None,
            rest: Vec::new(),
        };
        if request.method != http::Method::GET
            && self.authority.role_of(&claims) != Some(Role::Contributor)
        {
            return Err(forbidden(&claims.oid, request));
        }
        match &l[2..] {
            ["providers", "microsoft.sql", "locations", _, kind, _] => {
                call.api_version = version(request, VERSIONS)?;
                self.poll(&call, kind, segments[7])
            }
            ["providers", "microsoft.sql", "managedinstances"] => {
                call.api_version = version(request, VERSIONS)?;
                instances::list(self, &call, None)
            }
            ["resourcegroups", _, "providers", "microsoft.sql", "managedinstances", rest @ ..] => {
                let group = segments[3];
                if !self
                    .managed
                    .iter()
                    .any(|m| m.spec.resource_group.eq_ignore_ascii_case(group))
                {
                    return Err(ArmError::new(
                        StatusCode::NOT_FOUND,
                        "ResourceGroupNotFound",
                        format!("Resource group '{group}' could not be found."),
                    ));
                }
                let Some(name) = rest.first() else {
                    call.api_version = version(request, VERSIONS)?;
                    return instances::list(self, &call, Some(group));
                };
                let kind = rest.get(1).copied().unwrap_or("");
                let versions = if kind == "distributedavailabilitygroups" {
                    LINK_VERSIONS
                } else {
                    VERSIONS
                };
                call.api_version = version(request, versions)?;
                call.mi = Some(
                    self.managed
                        .iter()
                        .find(|m| {
                            m.spec.name == *name
                                && m.spec.resource_group.eq_ignore_ascii_case(group)
                        })
                        .cloned()
                        .ok_or_else(|| {
                            ArmError::not_found(
                                "Microsoft.Sql/managedInstances",
                                segments[7],
                                group,
                            )
                        })?,
                );
                call.rest = segments
                    .get(9..)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                match kind {
                    "" => instances::route(self, &call),
                    "servertrustcertificates" => certificates::trust(self, &call),
                    "endpointcertificates" => certificates::endpoint(self, &call),
                    "distributedavailabilitygroups" => links::route(self, &call),
                    _ => Err(ArmError::new(
                        StatusCode::NOT_FOUND,
                        "InvalidResourceType",
                        format!("The resource type '{}' could not be found in the namespace 'Microsoft.Sql' for api version '{}'.", rest[1], call.api_version),
                    )),
                }
            }
            _ => Err(ArmError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("ferry-sim: no such ARM path '{}'", request.path),
            )),
        }
    }

    /// Starts a long-running operation on `mi` and answers 202 with the URLs to poll.
    fn start(
        &self,
        state: &mut State,
        call: &Call,
        mi: &Arc<ManagedInstance>,
        change: Change,
    ) -> ArmResult<Response> {
        let resource_id = self.resource_id(mi, change.child());
        if state.operations.iter().any(|o| {
            o.resource_id.eq_ignore_ascii_case(&resource_id)
                && matches!(o.status, Status::InProgress)
        }) {
            return Err(ArmError::new(
                StatusCode::CONFLICT,
                "AnotherOperationInProgress",
                format!("Another operation is in progress on the resource '{resource_id}'. Retry after it completes."),
            ));
        }
        let speed = self.authority.spec.speed;
        let delay = change.duration().div_f64(speed);
        let id = crate::engine::new_guid().to_lowercase();
        let location = &mi.spec.location;
        let kind = change.kind();
        let urls = |suffix: &str| {
            format!(
                "{}/subscriptions/{}/providers/Microsoft.Sql/locations/{location}/{kind}{suffix}/{id}?api-version={}",
                call.base,
                self.subscription(),
                call.api_version
            )
        };
        let retry = retry_after(speed);
        state.operations.push(Operation {
            id: id.clone(),
            mi: mi.clone(),
            change,
            resource_id,
            started: rfc3339(self.authority.now()),
            completes_at: self.clock.elapsed() + delay,
            status: Status::InProgress,
        });
        Ok(Response::empty(StatusCode::ACCEPTED)
            .with_header("azure-asyncoperation", urls("AzureAsyncOperation"))
            .with_header("location", urls("OperationResults"))
            .with_header("retry-after", retry))
    }

    /// The two polling URLs of an operation.
    fn poll(&self, call: &Call, kind: &str, id: &str) -> ArmResult<Response> {
        let state = self.lock();
        let op = state
            .operations
            .iter()
            .find(|o| o.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFound",
                    format!("The operation '{id}' was not found."),
                )
            })?;
        if kind.ends_with("azureasyncoperation") {
            let mut body = serde_json::json!({"name": op.id, "status": op.status.name(), "startTime": op.started});
            if let Status::Failed(code, message) = &op.status {
                body["error"] = serde_json::json!({"code": code, "message": message});
            }
            return Ok(Response::json(StatusCode::OK, &body));
        }
        if !kind.ends_with("operationresults") {
            return Err(ArmError::new(StatusCode::NOT_FOUND, "InvalidResourceType", format!("The resource type '{kind}' could not be found in the namespace 'Microsoft.Sql'.")));
        }
        match &op.status {
            Status::InProgress => Ok(Response::empty(StatusCode::ACCEPTED)
                .with_header(
                    "location",
                    format!(
                        "{}{}?api-version={}",
                        call.base, call.request.path, call.api_version
                    ),
                )
                .with_header("retry-after", retry_after(self.authority.spec.speed))),
            Status::Failed(code, message) => Err(ArmError::new(
                StatusCode::BAD_REQUEST,
                code,
                message.clone(),
            )),
            Status::Succeeded if op.change.is_delete() => {
                Ok(Response::empty(StatusCode::NO_CONTENT))
            }
            Status::Succeeded => {
                let mi = &op.mi;
                let body = match (&op.change, op.change.name()) {
                    (Change::PutTrust(_), Some(name)) => {
                        certificates::trust_json(self, mi, state.trusted_named(&mi.spec.name, name))
                    }
                    (_, Some(name)) => links::link_json(self, &state, mi, name),
                    (_, None) => Ok(instances::instance_json(self, &state, mi)),
                };
                body.map(|b| Response::json(StatusCode::OK, &b))
            }
        }
    }

    /// The answer to a request a fault is set for, and how late it comes: a slow ARM
    /// carries the request out and answers late; the other faults fail it (5xx,
    /// throttling, timeouts) without carrying it out.
    fn faulted(
        &self,
        fault: ArmFault,
        request: &Request,
    ) -> (ArmResult<Response>, Option<Duration>) {
        let reads = if request.method == http::Method::GET {
            "read"
        } else {
            "write"
        };
        let refused = match fault {
            ArmFault::Slow { after_secs } => {
                return (self.route(request), Some(Duration::from_secs(after_secs)))
            }
            ArmFault::ServerError => ArmError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "An unexpected error occured while processing the request.",
            ),
            ArmFault::Unavailable { retry_after_secs } => ArmError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable. Please retry the request later.",
            )
            .retry_after(retry_after_secs),
            ArmFault::Throttled { retry_after_secs } => ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!("Number of {reads} requests for subscription '{}' exceeded the limit for the time interval. Please try again after '{retry_after_secs}' seconds.", self.subscription()),
            )
            .retry_after(retry_after_secs),
            ArmFault::Timeout { after_secs } => ArmError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                format!("The gateway did not receive a response from 'Microsoft.Sql' within the specified time period of {after_secs} seconds."),
            )
            .held(Duration::from_secs(after_secs)),
        };
        (Err(refused), None)
    }

    /// The ARM id of a managed instance, or of its child resource.
    fn resource_id(&self, mi: &ManagedInstance, child: Option<(&str, &str)>) -> String {
        let base = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Sql/managedInstances/{}",
            self.subscription(),
            mi.spec.resource_group,
            mi.spec.name
        );
        match child {
            Some((kind, name)) => format!("{base}/{kind}/{name}"),
            None => base,
        }
    }
}

impl crate::engine::Observer for Arm {
    fn catch_up(&self, instance: &Instance) {
        drop(self.lock_for(Some(instance)));
    }
}

impl Handler for Arm {
    fn handle(&self, request: Request) -> Response {
        self.record(&request);
        let (answer, slow) = match self.faults.take_arm(request.method.as_str(), &request.path) {
            Some(fault) => self.faulted(fault, &request),
            None => (self.route(&request), None),
        };
        let mut response = answer.unwrap_or_else(|e| {
            tracing::debug!(code = e.code, path = %request.path, "ARM request refused");
            e.response()
        });
        if slow.is_some() {
            response.delay = slow;
        }
        response
            .with_header("x-ms-request-id", crate::engine::new_guid().to_lowercase())
            .with_header(
                "x-ms-correlation-request-id",
                crate::engine::new_guid().to_lowercase(),
            )
    }
}

/// The request's api-version, if `served` has it.
fn version(request: &Request, served: &[&str]) -> ArmResult<String> {
    let v = request.query("api-version").ok_or_else(|| {
        ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    })?;
    if served.contains(&v) {
        return Ok(v.to_string());
    }
    Err(ArmError::bad_request(
        "NoRegisteredProviderFound",
        format!("No registered resource provider found for location 'westeurope' and API version '{v}' for type 'managedInstances'. The supported api-versions are '{}'.", served.join(", ")),
    ))
}

fn forbidden(oid: &str, request: &Request) -> ArmError {
    let action = if request.method == http::Method::DELETE {
        "delete"
    } else {
        "write"
    };
    ArmError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!("The client '{oid}' with object id '{oid}' does not have authorization to perform action 'Microsoft.Sql/managedInstances/{action}' over scope '{}' or the scope is invalid. If access was recently granted, please refresh your credentials.", request.path),
    )
}

/// Seconds a poller should wait: Azure's ten, at the lab's speed, at least one.
fn retry_after(speed: f64) -> String {
    ((10.0 / speed).ceil().max(1.0) as u64).to_string()
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A property of a JSON object by name, ignoring case, as ARM reads request bodies.
fn property<'a>(object: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The request body's `properties` object, or the error naming what is wrong.
fn body_properties(request: &Request) -> ArmResult<serde_json::Value> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })?;
    property(&body, "properties")
        .filter(|p| p.is_object())
        .cloned()
        .ok_or_else(|| {
            ArmError::invalid_parameter("properties", "the body needs a 'properties' object")
        })
}
