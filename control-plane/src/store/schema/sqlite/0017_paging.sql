-- The orders list RPCs page in (keyset pagination: each page starts after the last
-- key of the one before), so a page costs the same at any depth.
CREATE INDEX agents_by_name ON agents (name, id);
CREATE INDEX migrations_by_age ON migrations (created_at, id);
