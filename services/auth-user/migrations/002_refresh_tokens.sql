-- Refresh tokens: opaque to clients, stored as SHA-256 digests, rotated on every use. A family is
-- one login's chain of rotations; presenting a spent token outside the grace window revokes it.
CREATE TABLE refresh_tokens (
  id           bigserial PRIMARY KEY,
  family       text NOT NULL,
  user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  revoked_at   timestamptz,
  client_ip    text,
  user_agent   text
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;
