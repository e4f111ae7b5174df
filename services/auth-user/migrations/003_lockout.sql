-- Lockout that a stranger cannot turn against the owner (OWASP's device-cookie scheme) and that
-- does not tell real names from unknown ones.
-- Failures of a client that presented a valid device token count against that device only.
CREATE TABLE device_locks (
  nonce            text PRIMARY KEY,
  user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  failed_attempts  integer NOT NULL DEFAULT 0,
  locked_until     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Names that match no account lock exactly as real ones do. Rows are dropped once stale.
CREATE TABLE unknown_login_locks (
  login            text PRIMARY KEY,
  failed_attempts  integer NOT NULL DEFAULT 0,
  locked_until     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX unknown_login_locks_updated ON unknown_login_locks (updated_at);
