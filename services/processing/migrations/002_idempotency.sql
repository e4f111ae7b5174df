-- Idempotency-Key: the first answer to a (caller, route, key) is kept for 24 hours and given
-- again to a retry with the same body; another body under the same key is a 409.
CREATE TABLE idempotency_keys (
  owner        text NOT NULL,
  route        text NOT NULL,
  key          text NOT NULL,
  body_sha256  text NOT NULL,
  status       integer,                -- NULL while the first request is being answered
  response     text,                   -- the answer's body
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner, route, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
