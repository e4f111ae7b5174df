-- Service accounts for OAuth's client_credentials grant: a machine client authenticates with its
-- client_id and secret at POST /oauth/token and gets an access token without a user. The secret
-- is 256 random bits, shown once; its SHA-256 is stored (a slow hash adds nothing to a secret no
-- dictionary holds, and would hand every caller of the token endpoint a way to burn CPU).
CREATE TABLE service_clients (
  id            bigserial PRIMARY KEY,
  client_id     text NOT NULL UNIQUE,
  name          text NOT NULL,
  secret_hash   text NOT NULL,
  scopes        text[] NOT NULL DEFAULT '{}',
  tier          text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
