#!/usr/bin/env bash
# Audit ingestion while the gateway runs at full speed: wrk drives POST /process (API key +
# HS256 JWT, every filter on) through the gateway of a stack of its own (PostgreSQL, Redis with
# AOF, the four services), and PostgreSQL then says how the records arrived:
#   - the gateway's req/s (the reference, same run) against the audit records stored per second
#     (process records + the gateway's access events), and how long the backlog took after wrk;
#   - the batch size: records per consumer transaction (each has its own now(), received_at);
#   - the lag from the moment processing answered (the record's timestamp) to the transaction
#     that stored it (received_at): p50, p99, max;
#   - exactly one record per answered request (wrk does not count the up to one answer per
#     connection that arrives after its duration), and the chains verify.
# With INGEST_DRAIN=<consumers> audit is stopped while wrk runs (the events wait in the stream)
# and then that many audit consumers are started together: the records stored per second while
# they drain the backlog is audit's capacity, printed against the gateway's peak of the same run.
# Usage: tests/bench/audit_ingest.sh [build dir (default build/release)] [seconds (10)] [connections (32)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
BIN=${1:-$ROOT/build/release}
SECONDS_RUN=${2:-10}
CONNS=${3:-32}
[ -x "$BIN/services/gateway/gateway" ] || { log "no binaries in $BIN: build first (cmake --preset release && cmake --build build/release)"; exit 2; }
install_deps wrk
DIR=$(mktemp -d /tmp/suite-ingest.XXXXXX)
PG_PORT=${INGEST_PG_PORT:-23532} REDIS_PORT=${INGEST_REDIS_PORT:-23579} BASE=${INGEST_PORT_BASE:-23000}
cleanup() {
  for f in "$DIR"/audit-*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
  stop_services "$DIR"; redis_stop "$DIR/redis"; pg_stop "$DIR/pg"; rm -rf "$DIR"
}
trap cleanup EXIT

make_certs "$DIR/certs"
write_env "$DIR/env" "$DIR" "$PG_PORT" "$REDIS_PORT" "$BASE" "$DIR/secrets"
# Seed 001's variables lift the limit for the run (the harness of issue 12 does the same).
printf "RATE_LIMIT_REQUESTS=1000000\nRATE_LIMIT_PERIOD_SECONDS=60\n" >> "$DIR/env"
. "$DIR/secrets"; set -a; . "$DIR/env"; set +a
pg_start "$DIR/pg" "$PG_PORT"
pg_setup_suite "$DIR/pg" "$PG_PORT" suite "$DB_PASSWORD"
redis_start "$DIR/redis" "$REDIS_PORT" --appendonly yes --appendfsync everysec
start_services "$BIN" "$DIR" "$DIR/env"
for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
GW=https://localhost:$HTTPS_PORT
wait_ready "$GW/ready" --cacert "$DIR/certs/ca.crt"
TOKEN=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"ingest\",\"exp\":$(( $(date +%s) + 3600 ))}")
sql() { pg_psql "$DIR/pg" "$PG_PORT" -d suite -tAc "$1"; }

cat > "$DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$API_KEY"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.body = '{"dataset_id":"ingest","action":"count","payload":{"items":[1,2,3]}}'
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout, latency:percentile(50), latency:percentile(99),
    summary.duration, summary.errors.status))
end
LUA
DRAIN=${INGEST_DRAIN:-0}
if [ "$DRAIN" -gt 0 ]; then
  log "audit stopped: the events wait in the stream"
  kill -TERM "$(cat "$DIR/audit.pid")"; for _ in $(seq 100); do alive "$(cat "$DIR/audit.pid")" || break; sleep 0.1; done
  rm -f "$DIR/audit.pid"
fi
log "wrk -t2 -c$CONNS -d${SECONDS_RUN}s POST /process through the gateway"
wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" --latency -s "$DIR/post.lua" "$GW/process" > "$DIR/wrk.out"
t_end=$(date +%s%N)
read -r _ reqs errors p50 p99 dur_us status_errors < <(grep '^WRK' "$DIR/wrk.out")
answered=$((reqs - errors))
if [ "$DRAIN" -gt 0 ]; then
  sleep 2  # the publishers' last batches reach the stream
  log "$DRAIN audit consumer(s) started on the backlog"
  t_end=$(date +%s%N)
  start_services "$BIN" "$DIR" "$DIR/env"  # the first, as the stack runs it
  for i in $(seq 2 "$DRAIN"); do
    mkdir -p "$DIR/audit-$i"
    start_instance "$BIN" "$DIR" "$DIR/env" audit "$i" PORT=$((AUDIT_PORT + 10 * i)) AUDIT_CONSUMER_NAME=audit-$i \
      AUDIT_LOG_FILE="$DIR/audit-$i/requests.log"
  done
fi

# The backlog: until every answered request is stored, and as many access events (at most 120 s).
# The chains' heads (a few rows) are polled; the counts, which scan the tables, only once the
# heads say enough records are stored, so that the polling takes no share of the drain.
for _ in $(seq 1200); do
  [ "$(sql "SELECT coalesce(min(n), 0) FROM (SELECT sum(seq) AS n FROM audit.chain_heads
             WHERE chain IN ('requests', 'access_events') GROUP BY chain HAVING count(*) > 0) h")" -ge "$answered" ] &&
    [ "$(sql "SELECT count(*) FROM audit.requests WHERE dataset_id = 'ingest'")" -ge "$answered" ] &&
    [ "$(sql "SELECT count(*) FROM audit.access_events WHERE path = '/process'")" -ge "$answered" ] && break
  sleep 0.1
done
drain_ms=$(( ($(date +%s%N) - t_end) / 1000000 ))
stored=$(sql "SELECT count(*) FROM audit.requests WHERE dataset_id = 'ingest'")
distinct=$(sql "SELECT count(DISTINCT request_id) FROM audit.requests WHERE dataset_id = 'ingest'")
access=$(sql "SELECT count(*) FROM audit.access_events WHERE path = '/process'")
read -r window batches_p batches_a lag50 lag99 lagmax < <(sql "
  WITH r AS (SELECT received_at, timestamp FROM audit.requests WHERE dataset_id = 'ingest'),
       a AS (SELECT received_at FROM audit.access_events WHERE path = '/process'),
       span AS (SELECT received_at FROM r UNION ALL SELECT received_at FROM a)
  SELECT round(extract(epoch FROM (SELECT max(received_at) - min(received_at) FROM span))::numeric, 3),
         (SELECT count(DISTINCT received_at) FROM r),
         (SELECT count(DISTINCT received_at) FROM audit.access_events WHERE path = '/process'),
         round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - timestamp)) * 1000)::numeric, 1),
         round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - timestamp)) * 1000)::numeric, 1),
         round((max(extract(epoch FROM received_at - timestamp)) * 1000)::numeric, 1)
  FROM r" | tr '|' ' ')
valid=$(sql "SELECT bool_and(v.reason IS NULL) FROM unnest(ARRAY['requests','access_events']) c, audit.verify_chain(c) v")

awk -v reqs="$reqs" -v errors="$errors" -v dur="$dur_us" -v p50="$p50" -v p99="$p99" -v stored="$stored" \
    -v access="$access" -v window="$window" -v bp="$batches_p" -v ba="$batches_a" -v drain="$drain_ms" \
    -v l50="$lag50" -v l99="$lag99" -v lmax="$lagmax" -v conns="$CONNS" -v drain_n="$DRAIN" 'BEGIN {
  rps = reqs / (dur / 1e6); ingest = (stored + access) / (window > 0 ? window : 1)
  printf "gateway (reference)     %8.0f req/s  p50 %.2f ms  p99 %.2f ms  (%d requests, %d errors, %d connections)\n", rps, p50 / 1000, p99 / 1000, reqs, errors, conns
  printf "audit ingestion         %8.0f records/s (%d process + %d access records over %.2f s)  = %.2fx the gateway'"'"'s records/s%s\n", ingest, stored, access, window, ingest / (2 * rps), (drain_n > 0 ? sprintf(" (%d consumer(s) draining a backlog: capacity)", drain_n) : "")
  printf "batch size              %8.1f process records per transaction, %.1f access events (%d and %d transactions)\n", stored / (bp > 0 ? bp : 1), access / (ba > 0 ? ba : 1), bp, ba
  printf "lag answer -> stored    p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", l50, l99, lmax
  printf "backlog after the run   %d ms until every answered request was stored\n", drain
}'
echo "answered $answered, stored $stored (distinct $distinct), access events $access, chains valid: $valid"
# wrk counts the answers within its duration; up to one request per connection is answered after.
[ "$stored" -ge "$answered" ] && [ "$stored" -le $((answered + CONNS)) ] && [ "$distinct" = "$stored" ] &&
  [ "$valid" = t ] || { log "records lost or doubled"; exit 1; }
