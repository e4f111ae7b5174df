-- TOTP second factor (RFC 6238). The secret is sealed under SIGNING_KEYS_SECRET, bound to the
-- user; enabled_at is NULL while an enrolment awaits its first code. last_step refuses a code
-- used once already (a replayed code within its 30 s). Recovery codes are stored as SHA-256.
CREATE TABLE user_totp (
  user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret      bytea NOT NULL,
  enabled_at  timestamptz,
  last_step   bigint NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE totp_recovery_codes (
  user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  text NOT NULL,
  used_at    timestamptz,
  PRIMARY KEY (user_id, code_hash)
);
