-- The audit is also read by action: `zoho-bridge leaks` lists the totals mismatches
-- (action `totals_mismatch`), newest first.
CREATE INDEX audit_action ON audit (action, id);
