#!/usr/bin/env bash
# Rate-limit leases across processes: three gateways (two event loops each) share one Redis and
# one caller's limit of 2,000 a minute, which each loop spends from leases. Clients hit all three,
# first paced, then as fast as they can, then again after the leases have expired, until every
# gateway refuses: the requests admitted in all never pass the limit, Redis's window counts
# exactly what they admitted once the unspent tokens are back, and the gateways made far fewer
# Redis calls than they answered requests. Redis decides alone here (a generous timeout, and
# fail-closed: this replica's local share, the fallback when Redis is slow, is not the shared
# limit). Needs E2E_REDIS_PORT (tests/run sets it). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup leases "${LEASES_TEST_PORT_BASE:-23000}"
LIMIT=2000
R=(redis-cli -p "$E2E_REDIS_PORT")
# A key name of its own: the other e2e tests' gateways (key "e2e") share this Redis, and their
# requests would count in the same window.
"${R[@]}" DEL 'rl:{key:e2e-leases}' 'rl:{key:e2e-leases}:n' >/dev/null

PIDS3=()
cleanup3() { for p in "${PIDS3[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; alone_cleanup; }
trap cleanup3 EXIT
SECRET=$(openssl rand -hex 32); INTERNAL=$(openssl rand -hex 32)
for i in 0 1 2; do
  env -i PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    TSAN_OPTIONS="${TSAN_OPTIONS:-}" HTTP_PORT=$((GW_HTTP + i)) HTTPS_PORT=$((GW_TLS + i)) METRICS_PORT=$((GW_METRICS + i)) \
    BIND_ADDRESS=127.0.0.1 TLS_CERT_FILE="$DIR/certs/server.crt" TLS_KEY_FILE="$DIR/certs/server.key" \
    API_KEYS="[{\"key\":\"$KEY\",\"name\":\"e2e-leases\",\"tier\":\"enterprise\"}]" JWT_SECRET="$SECRET" \
    INTERNAL_TOKEN_SECRET="$INTERNAL" REDIS_URL="$REDIS_URL" PROCESSING_URL="http://127.0.0.1:$UP" \
    RATE_LIMIT_REQUESTS=$LIMIT RATE_LIMIT_PERIOD_SECONDS=60 RATE_LIMIT_LEASE_MIN=1000 RATE_LIMIT_LEASE_MS=300 \
    GATEWAY_REPLICAS=3 EVENT_LOOPS=2 ACCESS_EVENTS=false AUDIT_SPOOL_DIR="$DIR/spool-$i" \
    REDIS_TIMEOUT_MS=3000 RATE_LIMIT_FAILURE_MODE=closed \
    "$BIN/services/gateway/gateway" > "$DIR/gateway-$i.log" 2>&1 &
  PIDS3+=($!)
done
for i in 0 1 2; do wait_ready "http://127.0.0.1:$((GW_METRICS + i))/ready"; done
calls() { "${R[@]}" INFO commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ { n += $3 } END { print n + 0 }'; }
C0=$(calls)

# The clients: <threads> keep-alive connections spread over the three gateways, <requests> in
# all, <pause> seconds between a thread's requests; prints "admitted refused other".
cat > "$DIR/clients.py" <<'PY'
import http.client, sys, threading, time
base, key, threads, total, pause = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
counts = {200: 0, 429: 0, "other": 0}
lock = threading.Lock()
left = [total]
def client(i):
    conn = http.client.HTTPConnection("127.0.0.1", base + i % 3, timeout=10)
    while True:
        with lock:
            if left[0] == 0: return
            left[0] -= 1
        try:
            conn.request("POST", "/api/test", body=b'{"test_name":"lease"}',
                         headers={"X-API-Key": key, "Content-Type": "application/json"})
            r = conn.getresponse(); r.read(); status = r.status
        except Exception:
            status = "other"; conn.close(); conn = http.client.HTTPConnection("127.0.0.1", base + i % 3, timeout=10)
        with lock: counts[status if status in counts else "other"] += 1
        if pause: time.sleep(pause)
ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
print(counts[200], counts[429], counts["other"])
PY
admitted=0; refused=0; other=0; sent=0
run() {  # run <threads> <requests> <pause>
  local a r o
  read -r a r o <<<"$(python3 "$DIR/clients.py" "$GW_HTTP" "$KEY" "$1" "$2" "$3")"
  admitted=$((admitted + a)); refused=$((refused + r)); other=$((other + o)); sent=$((sent + $2))
  echo "    $1 clients, $2 requests, pause $3 s: $a admitted, $r refused, $o other (admitted so far $admitted)"
}
run 3 150 0.01    # paced: a trip per request until the rate is known
run 12 1800 0     # as fast as they go
sleep 1           # the leases expire and go back
run 12 1800 0     # what is left, then refusals everywhere
sleep 1
run 12 600 0
check "no request failed otherwise than by the limit" "$other" 0
[ "$admitted" -le "$LIMIT" ] && pass "admitted in all: $admitted of a limit of $LIMIT (sent $sent)" \
  || fail "admitted $admitted, past the limit of $LIMIT"
[ "$admitted" -ge $((LIMIT * 9 / 10)) ] && pass "the limit is reached, not stranded in leases ($admitted)" \
  || fail "only $admitted of $LIMIT admitted: tokens stranded"
# Every lease expired 300 ms after it was taken and went back at the next sweep: Redis's window
# then counts exactly the requests the three gateways admitted.
for _ in $(seq 30); do
  [ "$("${R[@]}" GET 'rl:{key:e2e-leases}:n')" = "$admitted" ] && break; sleep 0.1
done
check "Redis's window counts exactly the admitted requests" "$("${R[@]}" GET 'rl:{key:e2e-leases}:n')" "$admitted"
[ "$fails" -eq 0 ] || { "${R[@]}" ZRANGE "rl:{key:e2e-leases}" 0 -1 WITHSCORES | paste - - | tail -20; "${R[@]}" TIME; }
C1=$(calls)
[ $((C1 - C0)) -lt $((sent / 2)) ] && pass "Redis script calls: $((C1 - C0)) for $sent requests" \
  || fail "Redis script calls: $((C1 - C0)) for $sent requests (leases not used?)"
for i in 0 1 2; do
  kill -TERM "${PIDS3[$i]}"
  for _ in $(seq 150); do kill -0 "${PIDS3[$i]}" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "${PIDS3[$i]}" 2>/dev/null; then fail "gateway $i did not stop"
  else wait "${PIDS3[$i]}" && rc=0 || rc=$?; check "gateway $i exit code" "$rc" 0; fi
done
PIDS3=()
if [ "$fails" -ne 0 ]; then
  for i in 0 1 2; do grep -A30 "ERROR: AddressSanitizer\|WARNING: ThreadSanitizer\|runtime error" "$DIR/gateway-$i.log" | head -40 || true; done
fi
echo "leases: $fails failure(s)"
[ "$fails" -eq 0 ]
