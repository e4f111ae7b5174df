#!/usr/bin/env bash
# The hostile-client suite (tests/hostile/hostile.py) against the four services through the TLS
# gateway, with timeouts and caps made short by configuration so that it runs in seconds, and
# the gateway held to 200 file descriptors. Needs E2E_PG_DIR, E2E_PG_PORT, E2E_REDIS_PORT
# (tests/run sets them). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
: "${E2E_PG_DIR:?}" "${E2E_PG_PORT:?}" "${E2E_REDIS_PORT:?}"
DIR=$(mktemp -d /tmp/suite-hostile.XXXXXX)
mkdir -p "$DIR/logs"
rc=0
cleanup() {
  stop_services "$DIR"
  if [ $rc -ne 0 ]; then for f in "$DIR"/logs/*.log; do echo "--- $f"; tail -n 15 "$f" | cut -c1-400; done; fi
  if [ -n "${E2E_KEEP:-}" ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

make_certs "$DIR/certs"
write_env "$DIR/env" "$DIR" "$E2E_PG_PORT" "$E2E_REDIS_PORT" 29000 "$DIR/secrets"
DB=suite_hostile_$(openssl rand -hex 4)
sed -i "s|/suite\$|/$DB|" "$DIR/env"
sed -i "s|^REDIS_URL=.*|&/2|" "$DIR/env"  # a Redis database of its own (seed000.sh uses 1), emptied below
cat >> "$DIR/env" <<ENV
ARGON2_MEMORY_KIB=1024
LOGIN_RATE_PER_MINUTE=8
HTTP_PORT=29080
HEADER_TIMEOUT_MS=1500
IDLE_TIMEOUT_MS=8000
MAX_CONNECTIONS_PER_CLIENT=50
UPSTREAM_TIMEOUT_MS=5000
RATE_LIMIT_REQUESTS=100000
ENV
. "$DIR/secrets"; set -a; . "$DIR/env"; set +a
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null  # a rerun starts with empty rate-limit buckets
pg_setup_suite "$E2E_PG_DIR" "$E2E_PG_PORT" "$DB" "$DB_PASSWORD"
start_services "$BIN" "$DIR" "$DIR/env"
for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
wait_ready "https://localhost:$HTTPS_PORT/ready" --cacert "$DIR/certs/ca.crt"
prlimit --pid "$(cat "$DIR/gateway.pid")" --nofile=200:200

export HOSTILE_DIR=$DIR CA_CERT=$DIR/certs/ca.crt GATEWAY_PID=$(cat "$DIR/gateway.pid")
export PROCESSING_PID=$(cat "$DIR/processing.pid")
export API_KEY API_KEY_2 JWT_SECRET INTERNAL_TOKEN_SECRET HTTPS_PORT HTTP_PORT METRICS_PORT AUTH_PORT PROCESSING_PORT AUDIT_PORT
export ADMIN_USERNAME ADMIN_PASSWORD
PY=$(command -v python3)
"$PY" "$ROOT/tests/hostile/hostile.py" || rc=$?

# Whatever the attacks did, nothing may have died or logged a lost exception.
for svc in gateway auth-user processing audit; do
  if ! alive "$(cat "$DIR/$svc.pid")"; then echo "  FAIL $svc died"; rc=1; fi
done
if grep -h -E '"(unhandled exception|unhandled non-standard exception|request dropped without a reply|worker task threw)"' "$DIR"/logs/*.log; then
  echo "  FAIL an exception reached the request path unhandled"; rc=1
fi
# A sanitizer finding makes a service exit non-zero at the latest when it stops.
for svc in gateway processing auth-user audit; do
  pid=$(cat "$DIR/$svc.pid"); kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" && code=0 || code=$?
  rm -f "$DIR/$svc.pid"
  if [ "$code" != 0 ]; then echo "  FAIL $svc exited $code"; rc=1; fi
done
exit $rc
