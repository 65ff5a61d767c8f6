-- The inbox is queried by record (what happened to CRM product 123?), newest first.
CREATE INDEX events_record ON events (system, module, record_id, id);
