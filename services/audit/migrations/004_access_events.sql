-- The gateway's access events: every answer it gave, refusals included (type "request").
-- Append-only like the rest; the query string is never stored (it may carry an api_key).
CREATE TABLE access_events (
  id           bigserial PRIMARY KEY,
  event_id     uuid NOT NULL UNIQUE,
  stream_id    text NOT NULL,
  timestamp    timestamptz NOT NULL,
  request_id   text NOT NULL,
  method       text NOT NULL,
  route        text NOT NULL,
  path         text NOT NULL,
  http_status  integer NOT NULL,
  reason       text NOT NULL,
  duration_ms  integer NOT NULL,
  client       text,
  subject      text,
  auth_method  text NOT NULL,
  key_id       text,
  tier         text NOT NULL,
  bytes_in     bigint NOT NULL,
  bytes_out    bigint NOT NULL,
  user_agent   text,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_events_timestamp_idx ON access_events (timestamp DESC);
CREATE INDEX access_events_client_idx ON access_events (client, timestamp DESC);
CREATE TRIGGER access_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_events
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
