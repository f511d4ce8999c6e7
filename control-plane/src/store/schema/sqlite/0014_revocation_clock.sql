-- When a revocation was recorded by the database's own clock: replicas look for
-- revocations since a time they also take from the database, so no replica's clock
-- can make one miss a revocation another recorded.
ALTER TABLE agents ADD COLUMN revoked_db_at BIGINT;
