-- Migrations (`ferry migrate`): one database of one instance linked to one target
-- managed instance, and the journal of its set-up steps. A step's row is written
-- before it runs (running, with the agent command or ARM operation it waits on) and
-- after (done, blocked or failed, with what it found), so a restarted control plane
-- resumes at the first step not done.

CREATE TABLE migrations (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents (id),
    instance_name   TEXT NOT NULL,
    database_name   TEXT NOT NULL,
    -- The target's key (lower-cased resource id).
    target_id       TEXT NOT NULL,
    link_name       TEXT NOT NULL,
    -- preparing, seeding, catching_up, synchronizing, ready_for_cutover, stalled,
    -- failed, cancelled.
    state           TEXT NOT NULL,
    -- What the state means now; for failed and stalled, the error and what to do.
    detail          TEXT NOT NULL,
    -- JSON: what the operator allowed (migration::Options).
    options         TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- Learned by the steps: SQL Server's endpoint certificate (name, DER as hex) and
    -- listener URL; the MI's endpoint certificate (DER as hex).
    certificate_name TEXT NOT NULL DEFAULT '',
    certificate      TEXT NOT NULL DEFAULT '',
    listener_url     TEXT NOT NULL DEFAULT '',
    mi_certificate   TEXT NOT NULL DEFAULT '',
    -- The newest observation of the link (JSON, migration::Observation) and when it
    -- last showed progress (for stalled).
    observed        TEXT NOT NULL DEFAULT '',
    observed_at     BIGINT,
    progressed_at   BIGINT
);
-- One live migration per database: a second link for it is refused.
CREATE UNIQUE INDEX migrations_one_per_database
    ON migrations (agent_id, instance_name, database_name) WHERE state <> 'cancelled';

CREATE TABLE migration_steps (
    migration_id TEXT NOT NULL REFERENCES migrations (id),
    seq          BIGINT NOT NULL,
    name         TEXT NOT NULL,
    -- pending, running, done, blocked, failed.
    state        TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '',
    -- Whether the step found its work done (nothing applied).
    already_done BIGINT NOT NULL DEFAULT 0,
    -- What the running step waits on: an agent command, an ARM operation URL.
    command_id   TEXT NOT NULL DEFAULT '',
    operation    TEXT NOT NULL DEFAULT '',
    attempts     BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT,
    finished_at  BIGINT,
    PRIMARY KEY (migration_id, seq)
);
CREATE INDEX migration_steps_command ON migration_steps (command_id);
