#!/usr/bin/env bash
# deploy/local/stack as a user runs it (with this build's binaries, in a directory of its own):
# a service killed with SIGKILL is started again and logged; `status` tells a dead (zombie)
# process from a live one; `down` run without the STACK_* variables of `up` stops this stack's
# Redis by its pid file and leaves a Redis it did not start alone. $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
DIR=$(mktemp -d /tmp/suite-stack.XXXXXX)
. "$ROOT/tests/checks.sh"
DECOY_PORT=${STACK_TEST_DECOY_PORT:-18379}  # the default port: what the old `down` shut down
cleanup() {
  STACK_DIR=$DIR "$ROOT/deploy/local/stack" down >/dev/null 2>&1 || true
  redis_stop "$DIR/decoy"
  if [ $fails -ne 0 ]; then for f in "$DIR"/run/logs/*.log; do echo "--- $f"; tail -n 20 "$f"; done; fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# A Redis this stack did not start, on the port a careless `down` would shut down.
redis_start "$DIR/decoy" "$DECOY_PORT" --save '' --appendonly no
STACK_DIR=$DIR STACK_BIN=$BIN STACK_PG_PORT=${STACK_TEST_PG_PORT:-30532} STACK_REDIS_PORT=${STACK_TEST_REDIS_PORT:-30579} \
  STACK_PORT_BASE=${STACK_TEST_PORT_BASE:-30000} "$ROOT/deploy/local/stack" up
. "$DIR/stack.env"

echo "supervision"
check "status after up" "$(STACK_DIR=$DIR "$ROOT/deploy/local/stack" status | grep -c ': running')" 7
old=$(cat "$DIR/run/processing.child")
kill -KILL "$old"
for _ in $(seq 100); do
  now=$(cat "$DIR/run/processing.child" 2>/dev/null || true)  # read once: the supervisor may remove it meanwhile
  [ -n "$now" ] && [ "$now" != "$old" ] && break; sleep 0.1
done
check "killed service restarted" "$( [ "$(cat "$DIR/run/processing.child" 2>/dev/null)" != "$old" ] && alive "$(cat "$DIR/run/processing.child")" && echo yes)" yes
check "restart logged" "$(grep -c '"message":"service exited; restarting","exit_status":137' "$DIR/run/logs/processing.log")" 1
wait_ready "http://127.0.0.1:30002/ready"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" -H "X-API-Key: $API_KEY" \
  -H 'Content-Type: application/json' -d '{}')
check "request served after the restart" "$code" 200

echo "migrations as a step of their own (the Kubernetes Job's --migrate)"
AUTH_DB=$(grep '^AUTH_DATABASE_URL=' "$DIR/services.env" | cut -d= -f2-)
AUDIT_DB=$(grep '^AUDIT_DATABASE_URL=' "$DIR/services.env" | cut -d= -f2-)
out=$(DATABASE_URL=$AUTH_DB "$BIN/services/auth-user/auth-user" --migrate 2>&1) && rc=0 || rc=$?
check "auth-user --migrate exits 0" "$rc" 0
check "auth-user --migrate: nothing left to apply" "$(echo "$out" | grep '"migrations done"' | grep -c '"applied":0')" 1
out=$(DATABASE_URL=$AUDIT_DB "$BIN/services/audit/audit" --migrate 2>&1) && rc=0 || rc=$?
check "audit --migrate exits 0" "$rc" 0
OWNER_DB=$(grep '^AUDIT_MIGRATE_DATABASE_URL=' "$DIR/services.env" | cut -d= -f2-)
out=$(MIGRATE_DATABASE_URL=$OWNER_DB DATABASE_URL=$AUDIT_DB "$BIN/services/audit/audit" --migrate 2>&1) && rc=0 || rc=$?
check "audit --migrate as the schema owner: nothing left to apply" "$(echo "$out" | grep '"migrations done"' | grep -c '"applied":0')" 1

echo "the audit role may add and read records, and change none"
check "the schema belongs to audit_owner" \
  "$(psql -qtA "$AUDIT_DB" -c "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'audit'")" audit_owner
check "audit reads records" "$(psql -qtA "$AUDIT_DB" -c "SELECT count(*) >= 0 FROM audit.requests")" t
for sql in "UPDATE audit.requests SET status = 'failure'" "DELETE FROM audit.access_events" "TRUNCATE audit.security_events" \
    "ALTER TABLE audit.requests DISABLE TRIGGER requests_append_only" "UPDATE audit.chain_heads SET seq = 0" \
    "CREATE SCHEMA evil"; do
  check "audit may not: $sql" "$(psql -qtA "$AUDIT_DB" -c "$sql" 2>&1 | grep -c 'permission denied\|must be owner')" 1
done
check "the chain verifies" "$(psql -qtA "$AUDIT_DB" -c "SELECT bool_and(v.reason IS NULL) FROM unnest(ARRAY['requests','security_events','access_events']) c, audit.verify_chain(c) v")" t
out=$(DATABASE_URL=postgresql://nobody:wrong@127.0.0.1:1/suite "$BIN/services/audit/audit" --migrate 2>&1) && rc=0 || rc=$?
check "--migrate without a database exits 1" "$rc" 1
check "--migrate without a database says why" "$(echo "$out" | grep -c '"message":"migrations failed"')" 1

echo "tiers (seed 003), as the stack runs them: no RATE_LIMIT_REQUESTS"
. "$DIR/secrets.env"  # API_KEY_2: the stack's free-tier key
redis-cli -p "${STACK_TEST_REDIS_PORT:-30579}" DEL 'rl:{key:local-free}' 'rl:{key:local}' >/dev/null
codes=""
for _ in $(seq 11); do
  codes="$codes $(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" -H "X-API-Key: $API_KEY_2" \
    -H 'Content-Type: application/json' -d '{}')"
done
check "free key: 10 a minute, the 11th refused" "$(echo $codes | tr ' ' '\n' | sort | uniq -c | tr -s ' ' | xargs)" "10 200 1 429"
heads=$(curl -s -D - -o /dev/null --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" -H "X-API-Key: $API_KEY" \
  -H 'Content-Type: application/json' -d '{}' | tr -d '\r')
check "enterprise key: 300 a minute" "$(echo "$heads" | grep -i '^x-ratelimit-limit:' | cut -d' ' -f2)" 300
check "enterprise key: 100,000 a day (IETF RateLimit-Policy)" \
  "$(echo "$heads" | grep -i '^ratelimit-policy:' | cut -d' ' -f2-)" '"window";q=300;w=60, "day";q=100000;w=86400'

echo "Redis down mid-run: each request is still decided (locally, this replica's share), then Redis resumes"
RPORT=${STACK_TEST_REDIS_PORT:-30579}
MPORT=$(grep '^METRICS_PORT=' "$DIR/services.env" | cut -d= -f2)
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 || break; sleep 0.1; done
codes=""
for _ in $(seq 14); do
  codes="$codes $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" \
    -H "X-API-Key: $API_KEY_2" -H 'Content-Type: application/json' -d '{}')"
done
check "free key without Redis: 10 served, then 429 (no 5xx, no wait)" "$(echo $codes | tr ' ' '\n' | sort | uniq -c | tr -s ' ' | xargs)" "10 200 4 429"
metrics=$(curl -s "http://127.0.0.1:$MPORT/metrics")
check "local decisions counted" "$(echo "$metrics" | grep -c 'gateway_ratelimit_decisions_total{decision="local_limited"} 4')" 1
check "breaker open" "$(echo "$metrics" | grep -c '^gateway_ratelimit_breaker_state 1')" 1
check "still ready without Redis (local limits)" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CERT" "$GATEWAY_URL/ready")" 200
check "breaker opening logged once" "$(grep -c 'Redis failing; deciding locally' "$DIR/run/logs/gateway.log")" 1
redis_start "$DIR/redis" "$RPORT" --appendonly yes --appendfsync everysec
resumed=no
for _ in $(seq 60); do
  # Only Redis decides the day's quota: its policy in the answer says Redis is deciding again.
  if curl -s -D - -o /dev/null --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" -H "X-API-Key: $API_KEY" \
       -H 'Content-Type: application/json' -d '{}' | tr -d '\r' | grep -qi '^ratelimit-policy:.*"day"'; then resumed=yes; break; fi
  sleep 0.2
done
check "Redis limits resume" "$resumed" yes
check "resumption logged" "$(grep -c 'Redis answers again' "$DIR/run/logs/gateway.log")" 1

echo "status"
# A zombie: the child of a parent (`sleep 30` after exec) that never reaps it.
( sleep 0.1 & echo $! > "$DIR/zombie.pid"; exec sleep 30 ) & reaper=$!
sleep 0.5
zombie=$(cat "$DIR/zombie.pid")
check "precondition: kill -0 succeeds on the zombie" "$(kill -0 "$zombie" 2>/dev/null && echo yes)" yes
cp "$DIR/run/audit.pid" "$DIR/audit.pid.real"
echo "$zombie" > "$DIR/run/audit.pid"
check "zombie reported dead" "$(STACK_DIR=$DIR "$ROOT/deploy/local/stack" status | grep '^audit:' | cut -d' ' -f2)" dead
cp "$DIR/audit.pid.real" "$DIR/run/audit.pid"
kill "$reaper" 2>/dev/null || true

echo "down"
STACK_DIR=$DIR "$ROOT/deploy/local/stack" down   # no STACK_*_PORT: read back from STACK_DIR
check "stack's Redis stopped" "$(redis-cli -p "${STACK_TEST_REDIS_PORT:-30579}" ping 2>&1 | grep -c PONG)" 0
check "another Redis left alone" "$(redis-cli -p "$DECOY_PORT" ping)" PONG
check "services stopped" "$(STACK_DIR=$DIR "$ROOT/deploy/local/stack" status | grep -c ': stopped')" 7

echo "stack: $fails failure(s)"
[ $fails -eq 0 ]
