-- The dashboard reads each flow's newest runs (`Activity::recent_runs`). flow and id
-- never change once a job is inserted, so updates of a job do not touch this index.
CREATE INDEX jobs_flow ON jobs (flow, id);
