#!/usr/bin/env bash
# Makes the compose stack's .env and env/<service>.env (secrets, chosen here, never committed)
# and certs/ (a CA and the gateway's certificate for localhost), once: existing files are kept
# (the secrets sealed data in PostgreSQL). Needs openssl.
set -euo pipefail
cd "$(dirname "$0")"
umask 077
if [ ! -f .env ]; then
  key=sk-$(openssl rand -hex 16) bench=sk-bench-$(openssl rand -hex 16)
  # What docker-compose substitutes into the file (the database's passwords), then each
  # service's own file: a service sees only the secrets it uses.
  cat > .env <<ENV
COMPOSE_PROJECT_NAME=suite
POSTGRES_PASSWORD=$(openssl rand -hex 16)
DB_PASSWORD=$(openssl rand -hex 16)
API_KEY=$key
BENCH_API_KEY=$bench
ENV
  jwt=$(openssl rand -hex 32) internal=$(openssl rand -hex 32) redis=$(openssl rand -hex 16)
  echo "REDIS_PASSWORD=$redis" >> .env
  mkdir -p env
  common="BIND_ADDRESS=0.0.0.0
INTERNAL_TOKEN_SECRET=$internal
REDIS_URL=redis://suite:$redis@redis:6379"
  cat > env/gateway.env <<ENV
$common
JWT_SECRET=$jwt
API_KEYS=[{"key":"$key","name":"compose","tier":"enterprise"},{"key":"$bench","name":"bench","tier":"unlimited"}]
AUTH_USER_URL=http://auth-user:8081
PROCESSING_URL=http://processing:8082
AUDIT_URL=http://audit:8083
TRUSTED_HOSTS=localhost,127.0.0.1
ENV
  cat > env/auth-user.env <<ENV
$common
JWT_SECRET=$jwt
SIGNING_KEYS_SECRET=$(openssl rand -hex 32)
REQUIRE_EMAIL_VERIFICATION=false
PUBLIC_BASE_URL=https://localhost:8443
ADMIN_USERNAME=admin
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD=Adm1n-$(openssl rand -hex 8)!
ENV
  printf '%s\n' "$common" > env/processing.env
  printf '%s\n' "$common" > env/audit.env
  echo ".env and env/*.env written; the API key is $key"
fi
# Added after the first release: an older .env gains it on the next run.
grep -q '^GRAFANA_ADMIN_PASSWORD=' .env || echo "GRAFANA_ADMIN_PASSWORD=$(openssl rand -hex 12)" >> .env
# Redis with an ACL user and password, added after the first release: an older stack's .env and
# service files gain them (its Redis asks for the password from its next start).
if ! grep -q '^REDIS_PASSWORD=' .env; then
  redis=$(openssl rand -hex 16)
  echo "REDIS_PASSWORD=$redis" >> .env
  sed -i "s|^REDIS_URL=redis://redis:6379\$|REDIS_URL=redis://suite:$redis@redis:6379|" env/*.env
fi
if [ ! -f certs/server.key ]; then
  mkdir -p certs
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout certs/ca.key -out certs/ca.crt -days 90 \
    -subj "/CN=suite compose CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout certs/server.key -out certs/server.csr \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,DNS:gateway,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > certs/server.ext
  openssl x509 -req -in certs/server.csr -CA certs/ca.crt -CAkey certs/ca.key -CAcreateserial -out certs/server.crt \
    -days 90 -extfile certs/server.ext 2>/dev/null
  rm -f certs/server.csr certs/server.ext
  chmod 755 certs && chmod 644 certs/ca.crt certs/server.crt
  # The gateway runs as uid 10001 in its container: it must read its key.
  if [ "$(id -u)" = 0 ]; then chown 10001:10001 certs/server.key; else chmod 644 certs/server.key; fi
  echo "certs/ written (CA: certs/ca.crt, 90 days)"
fi
