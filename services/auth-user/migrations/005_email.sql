-- E-mail links (verification and password reset): single-use, expiring, stored as SHA-256
-- digests. A link is bound to the address it was sent to: changing the address voids it.
CREATE TABLE email_tokens (
  token_hash  text PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('verify', 'reset')),
  email       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- Mails waiting for the SMTP server, written in the transaction that makes their link. A row is
-- deleted once the server accepts it; one given up on keeps its error but loses its body.
CREATE TABLE outbox (
  id               bigserial PRIMARY KEY,
  recipient        text NOT NULL,
  subject          text NOT NULL,
  body             text NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);
