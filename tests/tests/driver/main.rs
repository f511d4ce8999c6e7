//! The migration driver in process: its store on SQLite, a clock the test moves,
//! agents played by writing their commands' fates into the store, ARM not configured
//! (these cases make no ARM call). One test per race the driver must not lose: a replica that lost its lease
//! acts on nothing; a command an agent took and never reported ends its step with
//! the cause and a retry path; one migration's unreadable row holds up no other.

use std::sync::Arc;
use std::time::Duration;

use ferry_control::azure::{ManagedInstance, ManagedInstanceId};
use ferry_control::context::{Clock, Context};
use ferry_control::fleet::ca::CertificateAuthority;
use ferry_control::fleet::identity::AgentId;
use ferry_control::fleet::metrics::FleetMetrics;
use ferry_control::fleet::sessions::SessionRegistry;
use ferry_control::migration::{journal, Options, State, StepState};
use ferry_control::reconcile::driver::{self, LEASE};
use ferry_control::sizing::prices::{PriceTable, EXAMPLE};
use ferry_control::store::commands::{CommandKind, CommandState};
use ferry_control::store::migrations::MigrationRecord;
use ferry_control::store::tokens::{NewAgent, NewToken};
use ferry_control::store::{Store, StoreError};
use ferry_control::ControlConfig;
use ferry_proto::clock::now_ms;

mod races;

const MI: &str = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.Sql/managedInstances/mi-one";
const TTL: Duration = Duration::from_secs(60);

struct Harness {
    ctx: Context,
    agent: AgentId,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new(configure: impl FnOnce(&mut ControlConfig)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ControlConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        configure(&mut config);
        let store = Store::open(&config.effective_database_url()).await.unwrap();
        let ca = CertificateAuthority::load_or_create(&dir.path().join("ca"), None).unwrap();
        let arm = ferry_control::azure::connect(&config.azure).unwrap();
        let sessions = Arc::new(SessionRegistry::default());
        let ctx = Context {
            store,
            clock: Clock::manual(now_ms()),
            ca: Arc::new(ca),
            config: Arc::new(config),
            prices: Arc::new(PriceTable::parse(EXAMPLE).unwrap()),
            arm: Arc::new(arm),
            metrics: Arc::new(FleetMetrics::new(sessions.clone())),
            driver_gauges: Arc::default(),
            sessions,
            heartbeats: Arc::default(),
            rollups: Arc::default(),
        };
        let agent = enroll(&ctx.store).await;
        let id = ManagedInstanceId::parse(MI).unwrap();
        let target = ManagedInstance {
            id,
            location: "westeurope".into(),
            tier: "GeneralPurpose".into(),
            family: "Gen5".into(),
            vcores: 8,
            storage_gb: 256,
            fqdn: "mi-one.0123456789ab.database.windows.net".into(),
            collation: "SQL_Latin1_General_CP1_CI_AS".into(),
            update_policy: "SQLServer2022".into(),
            state: "Ready".into(),
            provisioning_state: "Succeeded".into(),
        };
        ctx.store
            .put_target(&target, "operator/test", now_ms())
            .await
            .unwrap();
        Harness {
            ctx,
            agent,
            _dir: dir,
        }
    }

    /// A migration of `database`, its set-up steps journaled and pending.
    async fn migration(&self, database: &str) -> String {
        let id = format!("m-{database}");
        let record = MigrationRecord::preparing(
            id.clone(),
            (self.agent, "sql01".into()),
            ("default".into(), database.into()),
            (
                ManagedInstanceId::parse(MI).unwrap().key(),
                format!("DAG_{database}"),
            ),
            Options::default(),
            ("operator/test".into(), now_ms()),
        );
        assert_eq!(
            self.ctx.store.create_migration(&record).await.unwrap(),
            None
        );
        id
    }

    /// The lease taken by `holder`, and the context fenced by it.
    async fn driving(&self, holder: &str, ttl_ms: i64) -> Context {
        let fence = self
            .ctx
            .store
            .take_lease(LEASE, holder, ttl_ms)
            .await
            .unwrap()
            .expect("the lease is free");
        self.ctx.fenced(fence)
    }

    async fn steps(&self, id: &str) -> Vec<(String, StepState, String)> {
        let steps = self.ctx.store.migration_steps(id).await.unwrap();
        steps
            .into_iter()
            .map(|s| (s.name, s.state, s.detail))
            .collect()
    }

    async fn link_step_commands(&self) -> Vec<(String, CommandState)> {
        let commands = self
            .ctx
            .store
            .list_commands(Some(self.agent), 100)
            .await
            .unwrap();
        commands
            .into_iter()
            .filter(|c| c.kind == CommandKind::RunLinkSteps)
            .map(|c| (c.id, c.state))
            .collect()
    }
}

async fn enroll(store: &Store) -> AgentId {
    let now = now_ms();
    store
        .insert_token(&NewToken {
            id: "t1".into(),
            secret_hash: "hash-t1".into(),
            description: String::new(),
            created_by: "operator/test".into(),
            created_at_ms: now,
            expires_at_ms: now + 60_000,
        })
        .await
        .unwrap();
    let agent = NewAgent {
        id: AgentId(uuid::Uuid::new_v4()),
        name: "sql01".into(),
        agent_version: "0.1.0".into(),
        cert_serial: "01".into(),
        cert_not_after_ms: now + 86_400_000,
    };
    store
        .enroll_agent("t1", "hash-t1", &agent, now)
        .await
        .unwrap();
    agent.id
}

/// A replica whose lease another took over does nothing, however its tick began;
/// the holder's tick sends the agent its steps.
#[tokio::test]
async fn a_replica_that_lost_its_lease_acts_on_nothing() {
    let h = Harness::new(|_| {}).await;
    let id = h.migration("Sales").await;
    // A took the lease; it lapsed (0 ms) and B took it over.
    let stale = h.driving("replica-a", 0).await;
    let holder = h.driving("replica-b", 60_000).await;
    let refused = driver::tick(&stale, TTL).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    assert!(h.link_step_commands().await.is_empty(), "no command sent");
    assert!(h
        .steps(&id)
        .await
        .iter()
        .all(|(_, state, _)| *state == StepState::Pending));

    driver::tick(&holder, TTL).await.unwrap();
    let sent = h.link_step_commands().await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let agent_run = journal::STEPS
        .iter()
        .take_while(|(_, side)| *side == journal::Side::Agent)
        .count();
    let steps = h.steps(&id).await;
    assert!(steps[..agent_run]
        .iter()
        .all(|(_, state, _)| *state == StepState::Running));
    // B's tick again, A's again: nothing sent twice, A still refused.
    driver::tick(&holder, TTL).await.unwrap();
    assert!(driver::tick(&stale, TTL).await.is_err());
    assert_eq!(h.link_step_commands().await.len(), 1);
}

/// An agent that took its command and never reported (it died and came back after
/// the command's deadline): the step fails, saying so and how to retry, and the retry
/// sends the steps again.
#[tokio::test]
async fn a_command_taken_and_never_reported_fails_its_step_with_the_cause() {
    let h = Harness::new(|c| c.migrations.report_timeout_secs = 60).await;
    let id = h.migration("Sales").await;
    let ctx = h.driving("replica-a", 60_000).await;
    driver::tick(&ctx, TTL).await.unwrap();
    let sent = h.link_step_commands().await;
    let [(command, CommandState::Pending)] = &sent[..] else {
        panic!("one command pending: {sent:?}")
    };
    // Taken now, not reported yet: within the report timeout it waits.
    let clock = &h.ctx.clock;
    assert!(h
        .ctx
        .store
        .ack_command(h.agent, command, clock.now_ms())
        .await
        .unwrap());
    clock.advance(59_000);
    driver::tick(&ctx, TTL).await.unwrap();
    let m = h.ctx.store.migration(&id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Preparing, "{}", m.detail);
    // Past the report timeout (60 s here), it is not waited for any longer.
    clock.advance(2_000);
    driver::tick(&ctx, TTL).await.unwrap();
    let m = h.ctx.store.migration(&id).await.unwrap().unwrap();
    assert_eq!(m.state, State::Failed, "{}", m.detail);
    assert!(
        m.detail.contains("has not reported")
            && m.detail.contains(&format!("ferry migrate retry {id}")),
        "{}",
        m.detail
    );
    assert!(h
        .ctx
        .store
        .retry_migration(&id, "operator/test", now_ms())
        .await
        .unwrap());
    driver::tick(&ctx, TTL).await.unwrap();
    let commands = h.link_step_commands().await;
    assert_eq!(commands.len(), 2, "sent again: {commands:?}");
}

/// A migration whose stored cutover intent does not decode fails no one else: the
/// tick goes on to the next migration.
#[tokio::test]
async fn one_unreadable_migration_holds_up_no_other() {
    let h = Harness::new(|_| {}).await;
    let broken = h.migration("Broken").await;
    let store = &h.ctx.store;
    store
        .set_migration_state(
            (&broken, State::Preparing),
            State::Seeding,
            "linked",
            None,
            now_ms(),
        )
        .await
        .unwrap();
    let started = store
        .start_cutover(
            (&broken, "{not json"),
            &journal::names(&journal::CUTOVER),
            "operator/test",
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(started, ferry_control::store::migrations::Change::Made);
    let fine = h.migration("Fine").await;
    let ctx = h.driving("replica-a", 60_000).await;
    driver::tick(&ctx, TTL).await.unwrap();
    assert_eq!(
        h.link_step_commands().await.len(),
        1,
        "Fine's steps were sent"
    );
    let fine_steps = h.steps(&fine).await;
    assert_eq!(fine_steps[0].1, StepState::Running);
    let broken_now = store.migration(&broken).await.unwrap().unwrap();
    assert_eq!(
        broken_now.state,
        State::CuttingOver,
        "left for the operator to see"
    );
}
