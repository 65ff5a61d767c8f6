-- Lookups: the inbox by record (what happened to CRM product 123?), newest first.
CREATE INDEX events_record ON events (system, module, record_id, id);

-- The audit is also queried by job (what did this run send?).
CREATE INDEX audit_job ON audit (job_id, id);

-- The queue churns: every job is updated at least twice. Vacuum and analyze it after 2 %
-- of its rows changed rather than autovacuum's default 20 % / 10 %, so dead rows and
-- stale statistics do not slow the claims down (the store also analyzes it itself, for
-- servers running without autovacuum).
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
