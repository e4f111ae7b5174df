-- Per-client-address attempt counters of login and registration (fixed one-minute windows),
-- shared by every replica. Old windows are pruned as new ones start.
CREATE TABLE throttle (
  action     text NOT NULL,
  client     text NOT NULL,
  window_at  timestamptz NOT NULL,
  attempts   integer NOT NULL DEFAULT 0,
  PRIMARY KEY (action, client, window_at)
);
CREATE INDEX throttle_window ON throttle (window_at);
