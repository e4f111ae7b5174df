#!/usr/bin/env bash
# The gateway's benchmark (issue 12): one run, one machine, every ratio against a reference
# measured in the same run. Parts (PARTS, all by default):
#   proxy  wrk -t2 -c64 POST /process (API key + HS256 JWT) against
#            the ideal upstream direct (nginx `return 200` with seed 000's small JSON);
#            nginx as the reference edge gateway (nginx/gateway.conf), 1 and 2 workers;
#            HAProxy doing the same job and verifying the JWT (haproxy/gateway.cfg), 1 and 2 threads;
#            our gateway with no filters (auth none, no rate limit, no access event) and with
#            every filter (API key + JWT + Redis rate limit + headers + request id + access
#            event), 1 and 2 event loops (EVENT_LOOPS);
#          over HTTP and TLS; RUNS rounds after a warm-up, medians. CPU-µs per request of the
#          proxy, the upstream and Redis, from /proc (all threads, every nginx worker).
#   half   p99 at half of our peak (every filter, HTTP, 1 loop), paced connections: the upstream
#          direct, nginx (1 worker) and ours at the same pacing.
#   e2e    POST /process end to end through the whole stack (PostgreSQL, Redis, the four
#          services; dual auth, audit on) against seed 000's FastAPI service as its users run it
#          (tests/bench/fastapi_reference: uvicorn, one process, file + SQLite log).
#   stream STREAM_BYTES bodies (10 MiB) through, wrk -t1 -c4: uploads (PUT /jobs/upload, which
#          the upstream reads whole before it answers: WebDAV into /dev/shm) and
#          downloads (GET /jobs/big, a file the upstream serves) via the upstream direct, nginx
#          (1 worker, request and response buffering off: passed through as they come, as ours
#          does) and ours (every filter, 1 loop), HTTP and TLS: MiB/s and CPU-ms per GiB.
#   h2     the proxy part's request over HTTP/2 (TLS, ALPN h2), h2load -c CONNS -m STREAMS (10)
#          -t2: nginx (`http2` on its TLS listener), HAProxy (`alpn h2`) and ours (every filter),
#          1 and 2 workers / threads / loops; req/s and CPU-µs per request, medians of RUNS.
#   idle   RSS with IDLE_CONNS idle keep-alive connections (one request each), plain, TLS and
#          HTTP/2 over TLS: ours (every filter, 1 loop) and nginx (1 worker).
# Prints one table per part and the targets of issues 12 and 24, met or not.
# Usage: tests/bench/gateway.sh [build dir (build/release)]
#   PARTS="proxy sys alloc h2 half e2e stream idle" RUNS=3 STREAMS=10 DURATION=8s CONNS=64 IDLE_CONNS=10000 STREAM_BYTES=10485760
#   RESULTS_DIR (default .local/bench) keeps each run's TSV files; gateway_report.py prints them again.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tests/bench"
. "$ROOT/deploy/local/lib.sh"
BIN=${1:-$ROOT/build/release}
PARTS=${PARTS:-proxy sys alloc h2 half e2e stream idle}
STREAM_BYTES=${STREAM_BYTES:-10485760}; export STREAM_BYTES
RUNS=${RUNS:-3}; DURATION=${DURATION:-8s}; CONNS=${CONNS:-64}; IDLE_CONNS=${IDLE_CONNS:-10000}
install_deps nginx haproxy strace wrk nghttp2-client python3-jwt python3-fastapi python3-uvicorn
[ -x "$BIN/services/gateway/gateway" ] || { log "building release"; build release; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

DIR=$(mktemp -d /tmp/suite-gwbench.XXXXXX); chmod 755 "$DIR"; mkdir -p "$DIR/logs" "$DIR/redis"
SHM=$(mktemp -d /dev/shm/suite-gwbench.XXXXXX); mkdir -p "$SHM/jobs" "$SHM/tmp"; chmod -R 777 "$SHM"
RESULTS=${RESULTS_DIR:-$ROOT/.local/bench}; mkdir -p "$RESULTS"
PIDS=()
cleanup() {
  local i
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do kill -TERM "${PIDS[i]}" 2>/dev/null || true; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [ -d "$DIR/stack" ] && { stop_services "$DIR/stack"; redis_stop "$DIR/stack/redis"; pg_stop "$DIR/stack/pg"; }
  redis_stop "$DIR/redis"
  rm -rf "$DIR" "$SHM"
}
trap cleanup EXIT
free_ports() { python3 -c '
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"; }
read -r UP N1H N1T N2H N2T REDIS_PORT FASTAPI_PORT H1H H1T H2H H2T <<<"$(free_ports 11)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null
KEY="sk-bench-$(openssl rand -hex 12)"
JWT_SECRET=$(openssl rand -hex 32); INTERNAL=$(openssl rand -hex 32)
JWT=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"bench\",\"exp\":$(( $(date +%s) + 86400 ))}")

nginx_conf() {  # nginx_conf <template> <out> <workers> <http> <tls>
  sed -e "s#@DIR@#$DIR#g" -e "s#@WORKERS@#$3#g" -e "s#@HTTP_PORT@#$4#g" -e "s#@TLS_PORT@#$5#g" \
      -e "s#@PORT@#$UP#g" -e "s#@UPSTREAM_PORT@#$UP#g" -e "s#@CERT@#$DIR/cert.pem#g" -e "s#@KEY@#$DIR/key.pem#g" \
      -e "s#@KEY_VALUE@#$KEY#g" -e "s#@SHM@#$SHM#g" "$1" > "$2"
}
start_nginx() {  # start_nginx <name> <conf>: the master's pid in NGX_<name>
  mkdir -p "$DIR/$1/logs"; sed -i "s#$DIR/\(gateway\|upstream\)#$DIR/$1/\1#g; s#$DIR/tmp-#$DIR/$1/tmp-#g" "$2"
  nginx -p "$DIR/$1/" -c "$2" >"$DIR/logs/$1.out" 2>&1 & PIDS+=($!); printf -v "NGX_$1" %s $!
}
head -c "$STREAM_BYTES" /dev/urandom > "$DIR/big.bin"
nginx_conf "$HERE/nginx/upstream.conf" "$DIR/upstream.conf" 1 0 0
nginx_conf "$HERE/nginx/gateway.conf" "$DIR/n1.conf" 1 "$N1H" "$N1T"
nginx_conf "$HERE/nginx/gateway.conf" "$DIR/n2.conf" 2 "$N2H" "$N2T"
start_nginx up "$DIR/upstream.conf"; start_nginx n1 "$DIR/n1.conf"; start_nginx n2 "$DIR/n2.conf"
# HAProxy, 1 and 2 threads: the key map, the JWT's secret, a PEM of certificate and key.
printf '%s bench\n' "$KEY" > "$DIR/haproxy-keys.map"; cat "$DIR/cert.pem" "$DIR/key.pem" > "$DIR/haproxy.pem"
start_haproxy() {  # start_haproxy <name> <threads> <http> <tls>: its pid in HAP_<name>
  mkdir -p "$DIR/$1"
  sed -e "s#@DIR@#$DIR#g" -e "s#@THREADS@#$2#g" -e "s#@HTTP_PORT@#$3#g" -e "s#@TLS_PORT@#$4#g" -e "s#@UPSTREAM_PORT@#$UP#g" \
      -e "s#@PEM@#$DIR/haproxy.pem#g" -e "s#@JWT_SECRET@#$JWT_SECRET#g" -e "s#pidfile $DIR/haproxy.pid#pidfile $DIR/$1/haproxy.pid#" \
      "$HERE/haproxy/gateway.cfg" > "$DIR/$1/haproxy.cfg"
  haproxy -db -f "$DIR/$1/haproxy.cfg" >"$DIR/logs/$1.out" 2>&1 & PIDS+=($!); printf -v "HAP_$1" %s $!
}
start_haproxy h1 1 "$H1H" "$H1T"; start_haproxy h2 2 "$H2H" "$H2T"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR/redis" \
  --daemonize no --logfile "$DIR/redis/log" & PIDS+=($!); REDIS_PID=$!

# No filters: /process is public and not rate limited, and no access event is sent.
cat > "$DIR/none.json" <<'JSON'
{"upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"}],
 "routes": [{"prefix": "/health", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
            {"prefix": "/ready", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
            {"prefix": "/process", "methods": ["POST"], "upstream": "processing", "auth": "none", "rate_limited": false}],
 "rate_limit": {"enabled": false}}
JSON
start_ours() {  # start_ours <name> <loops> <all|none> [ENV=V...]: ports in <NAME>_H/_T/_M, pid in <NAME>_PID
  local name=$1 loops=$2 filters=$3 h t m; shift 3
  read -r h t m <<<"$(free_ports 3)"
  local extra=()
  [ "$filters" = none ] && extra=(GATEWAY_CONFIG="$DIR/none.json" ACCESS_EVENTS=false)
  mkdir -p "$DIR/spool-$name"
  # A million a second for the benchmark's key: every gateway of the run shares its bucket, and
  # at our rate a million a minute was reached within a round (429s, the run refused).
  env -i PATH="$PATH" HTTP_PORT="$h" HTTPS_PORT="$t" METRICS_PORT="$m" BIND_ADDRESS=127.0.0.1 EVENT_LOOPS="$loops" \
    TLS_CERT_FILE="$DIR/cert.pem" TLS_KEY_FILE="$DIR/key.pem" AUDIT_SPOOL_DIR="$DIR/spool-$name" \
    API_KEYS="[{\"key\":\"$KEY\",\"name\":\"bench\",\"tier\":\"enterprise\"}]" \
    JWT_SECRET="$JWT_SECRET" INTERNAL_TOKEN_SECRET="$INTERNAL" REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
    PROCESSING_URL="http://127.0.0.1:$UP" RATE_LIMIT_REQUESTS=1000000 RATE_LIMIT_PERIOD_SECONDS=1 \
    "${extra[@]}" "$@" "$BIN/services/gateway/gateway" >"$DIR/logs/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "${name^^}_PID" %s $!; printf -v "${name^^}_H" %s "$h"; printf -v "${name^^}_T" %s "$t"
  printf -v "${name^^}_M" %s "$m"
}
workers() { pgrep -P "$1" | tr '\n' ' '; }   # nginx's workers (its master only waits)
ticks() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat") )); done; echo "$t"; }
rss_kb() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status") )); done; echo "$t"; }
wrk_run() {  # wrk_run <url> <key> <conns> <duration> [delay ms]: "rps p50_us p99_us requests bad"
  local out  # WRK_THREADS, BENCH_METHOD and BENCH_BODY_BYTES pass through (the streaming part)
  out=$(BENCH_API_KEY=$2 BENCH_JWT=$JWT BENCH_DELAY_MS=${5:-0} wrk -t"${WRK_THREADS:-2}" -c"$3" -d"$4" --timeout 10s \
        -s "$HERE/wrk_post.lua" "$1" 2>&1 | grep WRKRESULT) || { log "wrk failed on $1"; return 1; }
  declare -A R; local kv; for kv in ${out#WRKRESULT }; do R[${kv%%=*}]=${kv#*=}; done
  echo "${R[rps]} ${R[p50_us]} ${R[p99_us]} ${R[requests]} ${R[bad]}"
}
TCK=$(getconf CLK_TCK)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
TSV="$RESULTS/gateway-bench-$STAMP.tsv"  # written as it goes: a failed part keeps the others' rows
printf 'part\tround\tscen\trps\tp50_us\tp99_us\tbad\tcpu_proxy\tcpu_upstream\tcpu_redis\tredis_calls\n' > "$TSV"
redis_calls() {  # the rate limit's scripts and the access events' XADDs Redis has run so far
  redis-cli -p "$REDIS_PORT" INFO commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|eval|xadd):/ { n += $3 } END { print n + 0 }'
}
measure() {  # measure <part> <round> <scen> <url> <key> <conns> <duration> <delay> <proxy pids...>
  local part=$1 round=$2 scen=$3 url=$4 key=$5 conns=$6 dur=$7 delay=$8; shift 8
  local ups; ups=$(workers "$NGX_up")
  local p0 u0 r0 p1 u1 r1 rps p50 p99 n bad c0 c1
  c0=$(redis_calls); p0=$(ticks "$@"); u0=$(ticks $ups); r0=$(ticks "$REDIS_PID")
  read -r rps p50 p99 n bad <<<"$(wrk_run "$url" "$key" "$conns" "$dur" "$delay")"
  p1=$(ticks "$@"); u1=$(ticks $ups); r1=$(ticks "$REDIS_PID"); c1=$(redis_calls)
  [ "$bad" = 0 ] || { log "$scen: $bad of $n requests failed or were not 2xx: the figures would lie"; exit 1; }
  awk -v part="$part" -v r="$round" -v s="$scen" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v n="$n" -v t="$TCK" \
      -v dp=$((p1 - p0)) -v du=$((u1 - u0)) -v dr=$((r1 - r0)) -v dc=$((c1 - c0)) \
      'BEGIN { printf "%s\t%s\t%s\t%.0f\t%d\t%d\t0\t%.1f\t%.1f\t%.1f\t%.4f\n", part, r, s, rps, p50, p99,
               dp / t * 1e6 / n, du / t * 1e6 / n, dr / t * 1e6 / n, dc / n }' >> "$TSV"
  log "$part round $round $scen: $rps req/s, p50 ${p50} us, p99 ${p99} us"
}
wait_http() {  # wait_http <url>: until it answers (10 s)
  for _ in $(seq 100); do curl -sk -o /dev/null "$1" && return 0; sleep 0.1; done
  log "no answer from $1"; tail -n 3 "$DIR"/logs/*.out >&2; exit 1
}
check_ok() {  # check_ok <url> <key>: the request of the benchmark is answered 200
  local c; c=$(curl -sk -o /dev/null -w '%{http_code}' -X POST -H "X-API-Key: $2" -H "Authorization: Bearer $JWT" \
    -H 'Content-Type: application/json' -d '{"dataset_id":"d","action":"summarize","payload":{"rows":[1]}}' "$1")
  [ "$c" = 200 ] || { log "$1 answered $c"; exit 1; }
}

has() { [[ " $PARTS " == *" $1 "* ]]; }
if has proxy || has half || has stream || has sys || has h2; then
  start_ours a1 1 all; start_ours a2 2 all; start_ours f1 1 none; start_ours f2 2 none
  for n in A1 A2 F1 F2; do m=${n}_M; wait_http "http://127.0.0.1:${!m}/ready"; done
  wait_http "http://127.0.0.1:$UP/"; wait_http "http://127.0.0.1:$N1H/"; wait_http "http://127.0.0.1:$N2H/"
  wait_http "http://127.0.0.1:$H1H/"; wait_http "http://127.0.0.1:$H2H/"
  # One scenario per line: id, url, key, proxy pids.
  SCEN=(
    "up http://127.0.0.1:$UP/process - $(workers "$NGX_up")"
    "n1h http://127.0.0.1:$N1H/process $KEY $(workers "$NGX_n1")"
    "n1t https://127.0.0.1:$N1T/process $KEY $(workers "$NGX_n1")"
    "n2h http://127.0.0.1:$N2H/process $KEY $(workers "$NGX_n2")"
    "n2t https://127.0.0.1:$N2T/process $KEY $(workers "$NGX_n2")"
    "h1h http://127.0.0.1:$H1H/process $KEY $HAP_h1"
    "h1t https://127.0.0.1:$H1T/process $KEY $HAP_h1"
    "h2h http://127.0.0.1:$H2H/process $KEY $HAP_h2"
    "h2t https://127.0.0.1:$H2T/process $KEY $HAP_h2"
    "f1h http://127.0.0.1:$F1_H/process $KEY $F1_PID"
    "f1t https://127.0.0.1:$F1_T/process $KEY $F1_PID"
    "a1h http://127.0.0.1:$A1_H/process $KEY $A1_PID"
    "a1t https://127.0.0.1:$A1_T/process $KEY $A1_PID"
    "f2h http://127.0.0.1:$F2_H/process $KEY $F2_PID"
    "f2t https://127.0.0.1:$F2_T/process $KEY $F2_PID"
    "a2h http://127.0.0.1:$A2_H/process $KEY $A2_PID"
    "a2t https://127.0.0.1:$A2_T/process $KEY $A2_PID"
  )
  for s in "${SCEN[@]}"; do read -r id url key _ <<<"$s"; [ "$key" = - ] && key=""; check_ok "$url" "$key"; done
  curl -sk -D - -o /dev/null -X POST -H "X-API-Key: $KEY" -H "Authorization: Bearer $JWT" -d '{}' \
    "http://127.0.0.1:$A1_H/process" | grep -qi '^x-ratelimit-remaining:' || { log "ours: no rate-limit headers"; exit 1; }
  log "pre-flight ok: every target answers the benchmark's request with 200"
fi
if has proxy; then
  for r in 0 $(seq 1 "$RUNS"); do
    dur=$DURATION; [ "$r" = 0 ] && dur=3s   # round 0 warms up (pools, caches, CPU frequency)
    for s in "${SCEN[@]}"; do
      read -r id url key pids <<<"$s"; [ "$key" = - ] && key=""
      # shellcheck disable=SC2086
      measure proxy "$r" "$id" "$url" "$key" "$CONNS" "$dur" 0 $pids
    done
  done
fi
if has sys; then
  # System calls per request: strace counts every thread's for a short run at the proxy part's
  # load (as the reference harness's STRACE=1; under strace each process runs slower, evenly).
  SYS_TSV="$RESULTS/gateway-sys-$STAMP.tsv"; printf 'scen\tcalls_per_request\ttop\n' > "$SYS_TSV"
  for s in "a1h http://127.0.0.1:$A1_H/process $KEY $A1_PID" "n1h http://127.0.0.1:$N1H/process $KEY $(workers "$NGX_n1")" \
           "h1h http://127.0.0.1:$H1H/process $KEY $HAP_h1"; do
    read -r id url key pids <<<"$s"
    args=(); for p in $pids; do args+=(-p "$p"); done
    strace -c -f -o "$DIR/strace-$id.txt" "${args[@]}" & ST=$!; sleep 1
    read -r _ _ _ n _ <<<"$(wrk_run "$url" "$key" "$CONNS" 3s 0)"
    kill -INT "$ST"; wait "$ST" 2>/dev/null || true
    # strace -c's rows: % time, seconds, usecs/call, calls, [errors], syscall; by time, most first.
    awk -v n="$n" -v id="$id" '$1 ~ /^[0-9.]+$/ && $NF != "total" { total += $4; if ($4 / n >= 0.05) top = top sprintf("%s %.2f, ", $NF, $4 / n) }
      END { printf "%s\t%.2f\t%s\n", id, total / n, substr(top, 1, 240) }' "$DIR/strace-$id.txt" >> "$SYS_TSV"
    log "sys $id: $(tail -1 "$SYS_TSV" | cut -f2) system calls per request"
  done
fi
if has alloc; then
  ALLOC_TSV="$RESULTS/gateway-alloc-$STAMP.tsv"; printf 'scen\tallocations_per_request\n' > "$ALLOC_TSV"
  if [ -x "$BIN/services/gateway/gateway_alloc_tests" ]; then
    a=$(REDIS_URL="redis://127.0.0.1:$REDIS_PORT" "$BIN/services/gateway/gateway_alloc_tests" 2>&1 |
        sed -n 's/.*heap allocations per request on the gateway.s loop: \([0-9.]*\).*/\1/p')
    printf 'a1h\t%s\n' "${a:-?}" >> "$ALLOC_TSV"; log "alloc: ${a:-?} heap allocations per request"
  else
    log "alloc: no $BIN/services/gateway/gateway_alloc_tests (build the tests)"
  fi
fi
if has half; then
  PEAK=$(python3 -c '
import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t") if r["part"] == "proxy" and r["scen"] == "a1h" and r["round"] != "0"]
print(int(statistics.median(float(r["rps"]) for r in rows)) if rows else 0)' "$TSV")
  if [ "$PEAK" = 0 ]; then  # without the proxy part: a short peak measurement
    read -r PEAK _ <<<"$(wrk_run "http://127.0.0.1:$A1_H/process" "$KEY" "$CONNS" "$DURATION")"; PEAK=${PEAK%.*}
  fi
  # Paced connections: each waits HALF_DELAY ms after each answer, so that together they offer
  # about half of our peak.
  HALF_DELAY=10; HALF_CONNS=$(( PEAK / 2 * HALF_DELAY / 1000 )); [ "$HALF_CONNS" -ge 2 ] || HALF_CONNS=2
  log "half load: $HALF_CONNS connections, ${HALF_DELAY} ms between requests (our peak: $PEAK req/s)"
  for r in $(seq 1 "$RUNS"); do
    for s in "up http://127.0.0.1:$UP/process - $(workers "$NGX_up")" "n1h http://127.0.0.1:$N1H/process $KEY $(workers "$NGX_n1")" \
             "a1h http://127.0.0.1:$A1_H/process $KEY $A1_PID"; do
      read -r id url key pids <<<"$s"; [ "$key" = - ] && key=""
      # shellcheck disable=SC2086
      measure half "$r" "$id" "$url" "$key" "$HALF_CONNS" "$DURATION" "$HALF_DELAY" $pids
    done
  done
fi
if has stream; then
  # The upstream, nginx and ours each pass STREAM_BYTES one way per request: a connection per
  # wrk connection, every filter on ours (the enterprise key's body cap is 100 MiB).
  STREAM_SCEN=(
    "up http://127.0.0.1:$UP - $(workers "$NGX_up")"
    "n1h http://127.0.0.1:$N1H $KEY $(workers "$NGX_n1")"
    "n1t https://127.0.0.1:$N1T $KEY $(workers "$NGX_n1")"
    "a1h http://127.0.0.1:$A1_H $KEY $A1_PID"
    "a1t https://127.0.0.1:$A1_T $KEY $A1_PID"
  )
  for s in "${STREAM_SCEN[@]}"; do
    read -r id base key _ <<<"$s"
    got=$(curl -sk -o /dev/null -w '%{http_code} %{size_download}' -H "X-API-Key: $key" "$base/jobs/big")
    [ "$got" = "200 $STREAM_BYTES" ] || { log "$id: GET /jobs/big answered $got"; exit 1; }
    got=$(head -c "$STREAM_BYTES" /dev/zero | curl -sk -o /dev/null -w '%{http_code}' -H "X-API-Key: $key" \
          -H 'Content-Type: application/octet-stream' -X PUT --data-binary @- "$base/jobs/upload")
    [[ "$got" == 20[14] ]] || { log "$id: PUT /jobs/upload answered $got"; exit 1; }
  done
  for r in 0 $(seq 1 "$RUNS"); do
    dur=$DURATION; [ "$r" = 0 ] && dur=3s
    for s in "${STREAM_SCEN[@]}"; do
      read -r id base key pids <<<"$s"; [ "$key" = - ] && key=""
      # shellcheck disable=SC2086
      WRK_THREADS=1 BENCH_METHOD=PUT BENCH_BODY_BYTES=$STREAM_BYTES \
        measure upload "$r" "$id" "$base/jobs/upload" "$key" 4 "$dur" 0 $pids
      # shellcheck disable=SC2086
      WRK_THREADS=1 BENCH_METHOD=GET measure download "$r" "$id" "$base/jobs/big" "$key" 4 "$dur" 0 $pids
    done
  done
fi
if has e2e; then
  S="$DIR/stack"; mkdir -p "$S"
  PG_PORT=${BENCH_PG_PORT:-20532} STACK_REDIS=${BENCH_REDIS_PORT:-20579} BASE=${BENCH_PORT_BASE:-20000}
  make_certs "$S/certs"
  write_env "$S/env" "$S" "$PG_PORT" "$STACK_REDIS" "$BASE" "$S/secrets"
  printf "RATE_LIMIT_REQUESTS=1000000\nRATE_LIMIT_PERIOD_SECONDS=60\nHTTP_PORT=%s\n" $((BASE + 80)) >> "$S/env"
  ( . "$S/secrets"; set -a; . "$S/env"; set +a
    pg_start "$S/pg" "$PG_PORT"; pg_setup_suite "$S/pg" "$PG_PORT" suite "$DB_PASSWORD"
    redis_start "$S/redis" "$STACK_REDIS" --appendonly yes --appendfsync everysec
    start_services "$BIN" "$S" "$S/env"
    for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
    wait_ready "http://127.0.0.1:$((BASE + 90))/ready" )
  . "$S/secrets"
  E2E_JWT=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"bench\",\"exp\":$(( $(date +%s) + 86400 ))}")
  mkdir -p "$DIR/fastapi"
  ( cd "$DIR/fastapi" && exec env API_KEY="$API_KEY" JWT_SECRET="$JWT_SECRET" LOG_DIR="$DIR/fastapi/logs" \
      /usr/bin/python3 -m uvicorn main:app --app-dir "$HERE/fastapi_reference" --host 127.0.0.1 --port "$FASTAPI_PORT" \
      --log-level warning --no-access-log ) >"$DIR/logs/fastapi.log" 2>&1 & PIDS+=($!); FASTAPI_PID=$!
  wait_http "http://127.0.0.1:$FASTAPI_PORT/health"
  JWT_SAVED=$JWT; JWT=$E2E_JWT
  check_ok "http://127.0.0.1:$((BASE + 80))/process" "$API_KEY"; check_ok "http://127.0.0.1:$FASTAPI_PORT/process" "$API_KEY"
  STACK_PIDS="$(cat "$S/gateway.pid") $(cat "$S/processing.pid") $(cat "$S/audit.pid")"
  for r in 0 $(seq 1 "$RUNS"); do
    dur=$DURATION; [ "$r" = 0 ] && dur=3s
    # shellcheck disable=SC2086
    measure e2e "$r" ours "http://127.0.0.1:$((BASE + 80))/process" "$API_KEY" "$CONNS" "$dur" 0 $STACK_PIDS
    measure e2e "$r" fastapi "http://127.0.0.1:$FASTAPI_PORT/process" "$API_KEY" "$CONNS" "$dur" 0 "$FASTAPI_PID"
  done
  JWT=$JWT_SAVED
fi
if has h2; then
  # HTTP/2 over TLS: the same request, 10 streams a connection, through the same gateways.
  printf '%s' '{"dataset_id":"d","action":"summarize","payload":{"rows":[1]}}' > "$DIR/h2body.json"
  h2_measure() {  # h2_measure <round> <scen> <url> <pids...>
    local round=$1 scen=$2 url=$3; shift 3
    local p0 p1 u0 u1 r0 r1 out rps n ok ups; ups=$(workers "$NGX_up")
    [ "$(curl -sk --http2 -o /dev/null -w '%{http_version}' "$url")" = 2 ] || { log "$scen: no h2 in ALPN"; exit 1; }
    p0=$(ticks "$@"); u0=$(ticks $ups); r0=$(ticks "$REDIS_PID")
    out=$(h2load -c "$CONNS" -m "${STREAMS:-10}" -t 2 -D "${DURATION%s}" --warm-up-time=1 -d "$DIR/h2body.json" \
      -H "x-api-key: $KEY" -H "authorization: Bearer $JWT" -H 'content-type: application/json' "$url" 2>&1)
    p1=$(ticks "$@"); u1=$(ticks $ups); r1=$(ticks "$REDIS_PID")
    rps=$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    n=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' <<<"$out"); ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
    [ -n "$rps" ] && [ "${n:-0}" -gt 0 ] || { log "h2load $scen: $(tail -3 <<<"$out")"; exit 1; }
    [ "$n" = "$ok" ] || { log "$scen over h2: $((n - ok)) of $n not 2xx: the figures would lie"; exit 1; }
    awk -v r="$round" -v s="$scen" -v rps="$rps" -v n="$n" -v t="$TCK" -v dp=$((p1 - p0)) -v du=$((u1 - u0)) -v dr=$((r1 - r0)) \
      'BEGIN { printf "h2\t%s\t%s\t%.0f\t0\t0\t0\t%.1f\t%.1f\t%.1f\t\n", r, s, rps, dp / t * 1e6 / n, du / t * 1e6 / n, dr / t * 1e6 / n }' >> "$TSV"
    log "h2 round $round $scen: $rps req/s"
  }
  for r in 0 $(seq 1 "$RUNS"); do
    h2_measure "$r" n1t "https://127.0.0.1:$N1T/process" $(workers "$NGX_n1")
    h2_measure "$r" h1t "https://127.0.0.1:$H1T/process" "$HAP_h1"
    h2_measure "$r" a1t "https://127.0.0.1:$A1_T/process" "$A1_PID"
    h2_measure "$r" n2t "https://127.0.0.1:$N2T/process" $(workers "$NGX_n2")
    h2_measure "$r" h2t "https://127.0.0.1:$H2T/process" "$HAP_h2"
    h2_measure "$r" a2t "https://127.0.0.1:$A2_T/process" "$A2_PID"
  done
fi

if has idle; then
  IDLE_TSV="$RESULTS/gateway-idle-$STAMP.tsv"; printf 'target\tproto\topen\trss_before_kb\trss_kb\n' > "$IDLE_TSV"
  idle() {  # idle <target> <proto> <port> <pids...>
    local target=$1 proto=$2 port=$3; shift 3
    local before after open=0 cpid
    before=$(rss_kb "$@")
    python3 "$HERE/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" "$proto" \
      > "$DIR/idle.out" 2>&1 & cpid=$!
    for _ in $(seq 1200); do grep -q '^open' "$DIR/idle.out" && break; sleep 0.1; done
    open=$(awk '/^open/ {print $2}' "$DIR/idle.out"); sleep 2
    after=$(rss_kb "$@")
    kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
    printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$proto" "${open:-0}" "$before" "$after" >> "$IDLE_TSV"
    log "idle $target $proto: ${open:-0} connections open, RSS ${before} kB -> ${after} kB"
    sleep 3   # the server sees the closes
  }
  # A fresh gateway for each protocol (every filter, 1 loop): what one measurement freed is not
  # counted in the next.
  for proto in plain tls h2; do
    start_ours "mem$proto" 1 all MAX_CONNECTIONS=$((IDLE_CONNS + 1000)) MAX_CONNECTIONS_PER_CLIENT=$((IDLE_CONNS + 1000)) \
      IDLE_TIMEOUT_MS=600000
    m=MEM${proto^^}_M; wait_http "http://127.0.0.1:${!m}/ready"
  done
  idle ours plain "$MEMPLAIN_H" "$MEMPLAIN_PID"
  idle ours tls "$MEMTLS_T" "$MEMTLS_PID"
  idle ours h2 "$MEMH2_T" "$MEMH2_PID"
  # nginx too: a fresh one (1 worker) for each protocol, since a worker keeps what it grew to
  # (after the other parts' load, its RSS did not move with 10,000 more connections).
  for proto in plain tls h2; do
    read -r ih it <<<"$(free_ports 2)"
    nginx_conf "$HERE/nginx/gateway.conf" "$DIR/idle-$proto.conf" 1 "$ih" "$it"
    start_nginx "idle$proto" "$DIR/idle-$proto.conf"
    wait_http "http://127.0.0.1:$ih/"
    pid=NGX_idle$proto
    idle nginx "$proto" "$([ "$proto" = plain ] && echo "$ih" || echo "$it")" "${!pid}" $(workers "${!pid}")
  done
fi

SYS_TSV=${SYS_TSV:-} ALLOC_TSV=${ALLOC_TSV:-} python3 "$HERE/gateway_report.py" "$TSV" "${IDLE_TSV:-}" "$IDLE_CONNS"
