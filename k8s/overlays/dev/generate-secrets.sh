#!/usr/bin/env bash
# Makes this overlay's secrets.env and a self-signed tls.crt/tls.key (both git-ignored), once:
# an existing file is kept (its secrets sealed data in PostgreSQL). Needs openssl.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
if [ ! -f secrets.env ]; then
  db=$(openssl rand -hex 16) redis=$(openssl rand -hex 16)
  key=sk-$(openssl rand -hex 16)
  cat > secrets.env <<SECRETS
JWT_SECRET=$(openssl rand -hex 32)
INTERNAL_TOKEN_SECRET=$(openssl rand -hex 32)
SIGNING_KEYS_SECRET=$(openssl rand -hex 32)
API_KEYS=[{"key":"$key","name":"dev","tier":"enterprise"}]
REDIS_PASSWORD=$redis
REDIS_URL=redis://suite:$redis@redis:6379
POSTGRES_PASSWORD=$(openssl rand -hex 16)
DB_PASSWORD=$db
AUTH_DATABASE_URL=postgresql://auth:$db@postgres:5432/suite
PROCESSING_DATABASE_URL=postgresql://processing:$db@postgres:5432/suite
AUDIT_DATABASE_URL=postgresql://audit:$db@postgres:5432/suite
AUDIT_MIGRATE_DATABASE_URL=postgresql://audit_owner:$db@postgres:5432/suite
SECRETS
  echo "secrets.env written; the API key is $key"
fi
# Redis with an ACL user and password, added after the first release to older files.
if ! grep -q '^REDIS_PASSWORD=' secrets.env; then
  redis=$(openssl rand -hex 16)
  echo "REDIS_PASSWORD=$redis" >> secrets.env
  sed -i "s|^REDIS_URL=redis://redis:6379\$|REDIS_URL=redis://suite:$redis@redis:6379|" secrets.env
fi
if [ ! -f tls.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.crt -days 90 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,DNS:gateway,IP:127.0.0.1" 2>/dev/null
  echo "tls.crt/tls.key written (self-signed, 90 days)"
fi
