-- Cutover (`ferry cutover`): the operator's request kept with the migration, each
-- journaled step tagged with the phase it belongs to (set-up, cutover, the rollback
-- of a cutover cancelled before its failover, teardown), and leases: work that one
-- control-plane replica alone may drive (the migration driver), held until it
-- expires unless renewed.

-- JSON (cutover::Intent); '' when no cutover was asked for.
ALTER TABLE migrations ADD COLUMN cutover TEXT NOT NULL DEFAULT '';

-- setup, cutover, rollback, teardown.
ALTER TABLE migration_steps ADD COLUMN phase TEXT NOT NULL DEFAULT 'setup';
-- Before this version, steps after the set-up's eleven were the teardown's.
UPDATE migration_steps SET phase = 'teardown' WHERE seq >= 11;

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A managed instance holds one database of a name, and one link of a name: a second
-- migration to the same target of a database (from another host) or under a link
-- name already taken there is refused (names compared as SQL Server's default
-- collation does, case-insensitively).
CREATE UNIQUE INDEX migrations_one_database_per_target
    ON migrations (target_id, LOWER(database_name)) WHERE state <> 'cancelled';
CREATE UNIQUE INDEX migrations_one_link_per_target
    ON migrations (target_id, LOWER(link_name)) WHERE state <> 'cancelled';

-- Approvals of a cutover request (the request is the migration's cutover intent,
-- known by when it was made): one row per distinct approver.
CREATE TABLE cutover_approvals (
    migration_id TEXT NOT NULL REFERENCES migrations (id),
    requested_at BIGINT NOT NULL,
    approver     TEXT NOT NULL,
    approved_at  BIGINT NOT NULL,
    PRIMARY KEY (migration_id, requested_at, approver)
);

-- Waves (`ferry plan apply`): a plan's groups of migrations, each with its window,
-- approvals and failure policy (JSON, cutover::wave::Wave), paused or not, and the
-- approvals of the wave as it stands (cleared when a plan changes it).
CREATE TABLE waves (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    paused     BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE TABLE wave_approvals (
    wave        TEXT NOT NULL REFERENCES waves (name),
    approver    TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (wave, approver)
);
-- The wave a migration belongs to ('' for none).
ALTER TABLE migrations ADD COLUMN wave TEXT NOT NULL DEFAULT '';
