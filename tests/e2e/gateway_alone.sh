# Sourced by the e2e tests that run one gateway alone in front of a small upstream
# (json_upstream.py), after deploy/local/lib.sh and tests/checks.sh, with ROOT and BIN set and
# E2E_REDIS_PORT from tests/run. `alone_setup <name> <port base>` makes the scratch directory
# (DIR, with certs/), starts the upstream on the base, and puts the gateway on base+80 (HTTP),
# +443 (TLS) and +90 (metrics); a base under the kernel's ephemeral range (32768-60999).
UPSTREAM_PID= GW_PID=

alone_setup() {
  DIR=$(mktemp -d "/tmp/suite-$1.XXXXXX")
  UP=$2; GW_HTTP=$((UP + 80)); GW_TLS=$((UP + 443)); GW_METRICS=$((UP + 90))
  KEY="sk-e2e-$(openssl rand -hex 12)"
  trap alone_cleanup EXIT
  make_certs "$DIR/certs"
  upstream_start
}

# alone_cleanup: for the EXIT trap; on a failure, the gateway's sanitizer findings and last lines.
alone_cleanup() {
  [ -z "$UPSTREAM_PID" ] || kill "$UPSTREAM_PID" 2>/dev/null || true
  [ -f "$DIR/gateway.pid" ] && kill -KILL "$(cat "$DIR/gateway.pid")" 2>/dev/null || true
  if [ "$fails" -ne 0 ] && [ -f "$DIR/gateway.log" ]; then
    grep -A30 "ERROR: AddressSanitizer\|WARNING: ThreadSanitizer\|runtime error" "$DIR/gateway.log" |
      grep -v '"message":"request"' | head -60
    tail -n 20 "$DIR/gateway.log"
  fi
  rm -rf "$DIR"
}

upstream_start() {
  python3 "$ROOT/tests/e2e/json_upstream.py" "$UP" & UPSTREAM_PID=$!
  for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d x "http://127.0.0.1:$UP/")" = 200 ] && return; sleep 0.1; done
}

# gateway_start [VAR=value ...]: the gateway with KEY (enterprise) and the upstream as processing,
# the sanitizers' options passed through; waits until it is ready.
gateway_start() {
  env -i PATH="$PATH" ASAN_OPTIONS="${ASAN_OPTIONS:-}" LSAN_OPTIONS="${LSAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    TSAN_OPTIONS="${TSAN_OPTIONS:-}" HTTP_PORT=$GW_HTTP HTTPS_PORT=$GW_TLS METRICS_PORT=$GW_METRICS BIND_ADDRESS=127.0.0.1 \
    TLS_CERT_FILE="$DIR/certs/server.crt" TLS_KEY_FILE="$DIR/certs/server.key" \
    API_KEYS="[{\"key\":\"$KEY\",\"name\":\"e2e\",\"tier\":\"enterprise\"}]" \
    JWT_SECRET="$(openssl rand -hex 32)" INTERNAL_TOKEN_SECRET="$(openssl rand -hex 32)" \
    REDIS_URL="$REDIS_URL" PROCESSING_URL="http://127.0.0.1:$UP" \
    RATE_LIMIT_REQUESTS=1000000 RATE_LIMIT_PERIOD_SECONDS=60 AUDIT_SPOOL_DIR="$DIR/spool" \
    "$@" "$BIN/services/gateway/gateway" > "$DIR/gateway.log" 2>&1 &
  GW_PID=$!; echo $GW_PID > "$DIR/gateway.pid"
  wait_ready "http://127.0.0.1:$GW_METRICS/ready"
}

# gateway_stop: SIGTERM; GW_RC is its exit code ("none" when it did not stop within 15 s).
gateway_stop() {
  kill -TERM "$GW_PID"
  for _ in $(seq 150); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$GW_PID" 2>/dev/null; then GW_RC=none; else wait "$GW_PID" && GW_RC=0 || GW_RC=$?; fi
  rm -f "$DIR/gateway.pid"
}
