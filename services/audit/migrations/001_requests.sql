CREATE TABLE requests (
  id           bigserial PRIMARY KEY,
  event_id     uuid NOT NULL UNIQUE,
  stream_id    text NOT NULL,
  timestamp    timestamptz NOT NULL,
  request_id   text NOT NULL,
  dataset_id   text,
  action       text,
  status       text NOT NULL,
  duration_ms  integer NOT NULL,
  output       jsonb,
  http_status  integer NOT NULL,
  client       text,
  subject      text,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_timestamp_idx ON requests (timestamp DESC);
CREATE INDEX requests_request_id_idx ON requests (request_id);
CREATE INDEX requests_dataset_idx ON requests (dataset_id, timestamp DESC);
