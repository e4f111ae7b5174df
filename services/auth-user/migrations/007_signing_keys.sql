-- Access-token signing keys (ES256). The private key is sealed (XChaCha20-Poly1305) under
-- SIGNING_KEYS_SECRET, bound to its kid; the public key is published in the JWKS until every token
-- it signed has expired. The newest key that is not retired signs.
CREATE TABLE signing_keys (
  kid          text PRIMARY KEY,
  algorithm    text NOT NULL DEFAULT 'ES256' CHECK (algorithm = 'ES256'),
  public_jwk   text NOT NULL,
  private_key  bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  retired_at   timestamptz
);
