#!/usr/bin/env bash
# End to end: no answered request loses its audit records while Redis is away. With a Redis of
# its own (stopped and started here), through the TLS gateway: requests answered while Redis is
# down, then processing killed with -9, then more requests, then processing stopped by SIGTERM
# (it must not wait out the drain), then Redis back: every answered POST /process has exactly
# one record in PostgreSQL and one NDJSON line, and one access event from the gateway. Then the
# NDJSON file's disk is full for a while (a file-size limit on audit): PostgreSQL keeps taking
# records, the file gets no torn line, and catches up, each line once, when there is room.
# Needs E2E_PG_DIR, E2E_PG_PORT (tests/run sets them). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
: "${E2E_PG_DIR:?}" "${E2E_PG_PORT:?}"
DIR=$(mktemp -d /tmp/suite-spool.XXXXXX)
mkdir -p "$DIR/logs"
REDIS_PORT=${SPOOL_TEST_REDIS_PORT:-26579}
. "$ROOT/tests/checks.sh"
cleanup() {
  local rc=$?
  stop_services "$DIR"
  redis_stop "$DIR/redis"
  if [ $fails -ne 0 ] || [ $rc -ne 0 ]; then for f in "$DIR"/logs/*.log; do echo "--- $f"; tail -n 20 "$f"; done; fi
  if [ -n "${E2E_KEEP:-}" ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
redis_up() { redis_start "$DIR/redis" "$REDIS_PORT" --appendonly yes --save ''; }
redis_up

make_certs "$DIR/certs"
write_env "$DIR/env" "$DIR" "$E2E_PG_PORT" "$REDIS_PORT" 26000 "$DIR/secrets"
DB=suite_spool_$(openssl rand -hex 4)
sed -i "s|/suite\$|/$DB|" "$DIR/env"
# Short deadlines, so that a request meeting a Redis that is gone is not the subject here.
printf "RATE_LIMIT_REQUESTS=100000\nREDIS_TIMEOUT_MS=200\nDRAIN_TIMEOUT_MS=8000\n" >> "$DIR/env"
. "$DIR/secrets"; set -a; . "$DIR/env"; set +a
pg_setup_suite "$E2E_PG_DIR" "$E2E_PG_PORT" "$DB" "$DB_PASSWORD"
start_services "$BIN" "$DIR" "$DIR/env"
GW=https://localhost:$HTTPS_PORT
for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
wait_ready "$GW/ready" --cacert "$DIR/certs/ca.crt"
TOKEN=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"spool\",\"exp\":$(( $(date +%s) + 3600 ))}")
sql() { PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc "$1"; }
# send <n> <tag>: n POST /process; each answered request's id goes to $DIR/answered
send() {
  local i out
  for i in $(seq "$1"); do
    out=$(curl -s --cacert "$DIR/certs/ca.crt" -o "$DIR/b" -w '%{http_code}' -X POST "$GW/process" \
      -H "X-API-Key: $API_KEY" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      -H "X-Request-ID: $2-$i" -d "{\"dataset_id\":\"spool\",\"action\":\"count\",\"payload\":{\"items\":[$i]}}") || out=000
    [ "$out" = 200 ] && echo "$2-$i" >> "$DIR/answered"
  done
}

echo "Redis up: 20 requests"
send 20 up
echo "Redis gone: 30 requests, then processing killed with -9"
redis-cli -p "$REDIS_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
rm -f "$DIR/redis/redis.pid"
send 30 down
kill -KILL "$(cat "$DIR/processing.pid")"; wait "$(cat "$DIR/processing.pid")" 2>/dev/null || true
rm -f "$DIR/processing.pid"
start_services "$BIN" "$DIR" "$DIR/env"
wait_ready "http://127.0.0.1:$PROCESSING_PORT/ready"
echo "still gone: 10 requests, then processing stopped by SIGTERM"
send 10 after-kill
pid=$(cat "$DIR/processing.pid"); t0=$(date +%s%N)
kill -TERM "$pid"; wait "$pid" 2>/dev/null && rc=0 || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -f "$DIR/processing.pid"
check "processing exits 0 with Redis down" "$rc" 0
check "without waiting out the 8 s drain for Redis" "$([ "$ms" -lt 5000 ] && echo quick || echo "$ms ms")" quick
grep -q '"audit events kept in the spool for the next start"' "$DIR/logs/processing.log" &&
  pass "it says the events wait in the spool" || fail "no word of the spool at stop"
check "no event given up" "$(grep -c 'not published at stop\|events dropped' "$DIR/logs/processing.log" "$DIR/logs/gateway.log" | awk -F: '{s += $2} END {print s}')" 0
start_services "$BIN" "$DIR" "$DIR/env"
wait_ready "http://127.0.0.1:$PROCESSING_PORT/ready"
echo "Redis back"
redis_up
answered=$(wc -l < "$DIR/answered")
check "every request was answered" "$answered" 60
for _ in $(seq 150); do
  [ "$(sql "SELECT count(*) FROM audit.requests WHERE dataset_id = 'spool'")" = "$answered" ] &&
    [ "$(sql "SELECT count(*) FROM audit.access_events WHERE path = '/process' AND http_status = 200")" = "$answered" ] && break
  sleep 0.2
done
sort "$DIR/answered" > "$DIR/answered.sorted"
sql "SELECT request_id FROM audit.requests WHERE dataset_id = 'spool' ORDER BY 1" | sort > "$DIR/stored"
check "one record per answered request in PostgreSQL" "$(sort -u "$DIR/stored" | diff - "$DIR/answered.sorted" >/dev/null && wc -l < "$DIR/stored")" "$answered"
check "one access event per answered request" \
  "$(sql "SELECT count(DISTINCT request_id) || ' ' || count(*) FROM audit.access_events WHERE path = '/process' AND http_status = 200")" \
  "$answered $answered"
check "one NDJSON line per answered request" "$(jq -r 'select(.dataset_id == "spool") | .request_id' "$AUDIT_LOG_FILE" | sort | uniq | wc -l) $(grep -c '"spool"' "$AUDIT_LOG_FILE")" \
  "$answered $answered"
echo "the NDJSON file's disk full for a while"
M="http://127.0.0.1:$AUDIT_PORT/metrics"
size=$(stat -c %s "$AUDIT_LOG_FILE")
prlimit --pid "$(cat "$DIR/audit.pid")" --fsize="$((size + 200)):"  # room for less than one more line
send 20 full
for _ in $(seq 100); do
  [ "$(sql "SELECT count(*) FROM audit.requests WHERE dataset_id = 'spool'")" = 80 ] && break
  sleep 0.2
done
check "PostgreSQL takes the records meanwhile" "$(sql "SELECT count(*) FROM audit.requests WHERE dataset_id = 'spool'")" 80
sleep 1.5  # an attempt or two more against the full file
check "the file is behind, and says so" "$(curl -s "$M" | grep '^audit_ndjson_behind ' | awk '{print $2}')" 1
check "no torn line while full" "$(jq -c . "$AUDIT_LOG_FILE" >/dev/null 2>&1 && echo whole)" whole
check "no line of the 20 yet" "$(grep -c '"full-' "$AUDIT_LOG_FILE" || true)" 0
prlimit --pid "$(cat "$DIR/audit.pid")" --fsize=unlimited:
for _ in $(seq 100); do
  [ "$(grep -c '"spool"' "$AUDIT_LOG_FILE")" = 80 ] && break
  sleep 0.2
done
check "room again: every line, once, whole" \
  "$(jq -r 'select(.dataset_id == "spool") | .request_id' "$AUDIT_LOG_FILE" | sort -u | wc -l) $(wc -l < "$AUDIT_LOG_FILE") $(jq -c . "$AUDIT_LOG_FILE" >/dev/null 2>&1 && echo whole)" \
  "80 80 whole"
# The gauge drops once the writer has finished its batch, a moment after its lines are on disk.
behind() { curl -s "$M" | grep '^audit_ndjson_behind ' | awk '{print $2}'; }
for _ in $(seq 25); do [ "$(behind)" = 0 ] && break; sleep 0.2; done
check "the file caught up" "$(behind)" 0

echo "e2e audit spool: $fails failure(s)"
[ $fails -eq 0 ]
