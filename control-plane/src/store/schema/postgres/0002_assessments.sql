-- Readiness assessments: fleet runs, their targets (one command per host), and what
-- each instance's checks found, with the readiness derived per database.

CREATE TABLE assessment_runs (
    id          TEXT PRIMARY KEY,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    deadline_at BIGINT NOT NULL,
    -- What was asked for, as the operator said it ("all", "hosts: a, b").
    selector    TEXT NOT NULL,
    -- "manual" or "schedule".
    trigger_kind TEXT NOT NULL
);
CREATE INDEX assessment_runs_newest ON assessment_runs (created_at);

-- A target's progress is its command's state (queued for offline hosts, delivered,
-- done, failed, expired at the run's deadline).
CREATE TABLE assessment_targets (
    run_id      TEXT NOT NULL REFERENCES assessment_runs (id),
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    command_id  TEXT NOT NULL UNIQUE REFERENCES commands (id),
    reported_at BIGINT,
    PRIMARY KEY (run_id, agent_id)
);

CREATE TABLE assessment_instances (
    run_id          TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    instance_name   TEXT NOT NULL,
    reachable       BIGINT NOT NULL,
    error           TEXT NOT NULL,
    product_version TEXT NOT NULL,
    readiness       TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id, instance_name),
    FOREIGN KEY (run_id, agent_id) REFERENCES assessment_targets (run_id, agent_id)
);

CREATE TABLE assessment_databases (
    run_id        TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    database_name TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    readiness     TEXT NOT NULL,
    -- The check ids that decided the readiness, comma-separated.
    reasons       TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id, instance_name, database_name),
    FOREIGN KEY (run_id, agent_id, instance_name) REFERENCES assessment_instances (run_id, agent_id, instance_name)
);

CREATE TABLE assessment_results (
    run_id        TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    check_id      TEXT NOT NULL,
    scope         TEXT NOT NULL,
    severity      TEXT NOT NULL,
    title         TEXT NOT NULL,
    remedy        TEXT NOT NULL,
    status        TEXT NOT NULL,
    unknown_cause TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id, instance_name, check_id),
    FOREIGN KEY (run_id, agent_id, instance_name) REFERENCES assessment_instances (run_id, agent_id, instance_name)
);

CREATE TABLE assessment_findings (
    run_id        TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    check_id      TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    -- '' for the instance as a whole.
    database_name TEXT NOT NULL,
    message       TEXT NOT NULL,
    -- JSON: [[key, value], ...] and [object, ...].
    evidence      TEXT NOT NULL,
    objects       TEXT NOT NULL,
    PRIMARY KEY (run_id, agent_id, instance_name, check_id, seq),
    FOREIGN KEY (run_id, agent_id, instance_name, check_id) REFERENCES assessment_results (run_id, agent_id, instance_name, check_id)
);
