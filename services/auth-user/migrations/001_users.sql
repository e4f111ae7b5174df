CREATE TABLE users (
  id               bigserial PRIMARY KEY,
  username         text NOT NULL,
  email            text NOT NULL,
  password_hash    text NOT NULL,
  roles            text[] NOT NULL DEFAULT ARRAY['user'],
  is_active        boolean NOT NULL DEFAULT true,
  is_verified      boolean NOT NULL DEFAULT false,
  failed_attempts  integer NOT NULL DEFAULT 0,
  locked_until     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
