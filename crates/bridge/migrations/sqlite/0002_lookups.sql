-- Lookups: the inbox by record (what happened to CRM product 123?), newest first.
CREATE INDEX events_record ON events (system, module, record_id, id);

-- The audit is also queried by job (what did this run send?).
CREATE INDEX audit_job ON audit (job_id, id);
