-- Security events (seed 002's /security/events, seed 004's fields), append-only like requests.
CREATE TABLE security_events (
  id           bigserial PRIMARY KEY,
  event_id     uuid NOT NULL UNIQUE,
  stream_id    text NOT NULL,
  timestamp    timestamptz NOT NULL,
  request_id   text,
  service      text NOT NULL,
  event_type   text NOT NULL,
  severity     text NOT NULL,
  user_id      bigint,
  username     text,
  client       text,
  user_agent   text,
  details      jsonb,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_timestamp_idx ON security_events (timestamp DESC);
CREATE INDEX security_events_type_idx ON security_events (event_type, timestamp DESC);
CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON security_events
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
