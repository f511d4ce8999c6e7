-- Cutover groups (cutover::group): databases that cut over together, all or none,
-- from a plan file; spec is JSON (the hook and the member migrations).
CREATE TABLE cutover_groups (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The group a migration belongs to ('' for none), and when the driver last found
-- every gate of its own open (NULL: not now) — what the other members wait for.
ALTER TABLE migrations ADD COLUMN cutover_group TEXT NOT NULL DEFAULT '';
ALTER TABLE migrations ADD COLUMN gates_open_at BIGINT;
-- A group's application hook: run once ('running', then 'done' or 'failed').
CREATE TABLE group_hooks (
    group_name  TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    detail      TEXT NOT NULL DEFAULT ''
);
