-- Seed 003's jobs: queued by POST /jobs, claimed by any replica's workers with
-- FOR UPDATE SKIP LOCKED, kept alive by a heartbeat, retried with backoff.
CREATE TABLE jobs (
  id            uuid PRIMARY KEY,
  owner         text NOT NULL,          -- "user:<subject>" or "key:<key id>": who may read or cancel it
  request_id    text NOT NULL,          -- the POST /jobs that made it
  dataset_id    text NOT NULL,
  action        text NOT NULL,
  body          jsonb NOT NULL,         -- the validated request, as POST /process takes it
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL CHECK (max_attempts >= 1),
  run_after     timestamptz NOT NULL DEFAULT now(),
  worker        text,                   -- the claiming worker while running
  heartbeat_at  timestamptz,
  result        jsonb,                  -- the data of a completed run
  error         jsonb,                  -- {"code","message"} of the last failed run
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz
);
-- The claim's scan and the queue depth: queued jobs in due order.
CREATE INDEX jobs_queued_idx ON jobs (run_after, created_at) WHERE status = 'queued';
-- The reaper's scan: running jobs by heartbeat.
CREATE INDEX jobs_running_idx ON jobs (heartbeat_at) WHERE status = 'running';
-- The per-owner cap on unfinished jobs.
CREATE INDEX jobs_owner_open_idx ON jobs (owner) WHERE status IN ('queued', 'running');
-- Retention: finished jobs by age.
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;
