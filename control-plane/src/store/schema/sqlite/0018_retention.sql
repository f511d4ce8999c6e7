-- The retention sweep (store::retention) finds what is past its horizon by these,
-- without reading whole tables.
CREATE INDEX reports_by_receipt ON reports (received_at);
CREATE INDEX refused_reports_by_age ON refused_reports (refused_at);
CREATE INDEX commands_by_update ON commands (updated_at);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX connection_tests_by_age ON connection_tests (created_at);
