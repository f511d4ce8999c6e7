-- Fencing: every taking of a lease by a new holder raises its epoch, and a driver's
-- writes check the epoch they were made under (store/leases.rs). A migration's
-- revision rises with every operator change that bears on its cutover's gates, and
-- its failover is journaled only under the revision the gates were judged at.
ALTER TABLE leases ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE migrations ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
