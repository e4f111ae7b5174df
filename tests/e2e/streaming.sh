#!/usr/bin/env bash
# Bodies stream through the gateway both ways with bounded buffers: a 100 MiB enterprise upload
# (declared, with Expect: 100-continue, and chunked) and 100 MiB answers (declared and chunked)
# arrive intact, over HTTP and TLS, while the gateway's peak RSS grows by a small fraction of
# that; past the tier's cap an upload is refused with 413 (by its length before a byte is read,
# or midway when chunked) and the upstream never acts on it. Needs E2E_REDIS_PORT (tests/run
# sets it). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup streaming "${STREAMING_TEST_PORT_BASE:-17000}"
# ASan keeps what is freed in a quarantine (256 MiB by default), so OpenSSL's buffers, freed
# between records (SSL_MODE_RELEASE_BUFFERS), would read as growth; a small one keeps the peak
# near what the gateway holds.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
gateway_start
MIB=1048576
G="http://127.0.0.1:$GW_HTTP"
C=(curl -s -H "X-API-Key: $KEY")
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$GW_PID/status"; }  # peak RSS, KiB
sums() { "${C[@]}" "$G/jobs/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sums"])'; }
sum_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"], d["sha256"])'; }

check "a small body is summed" "$("${C[@]}" -d abc "$G/jobs/sum" | sum_of)" \
  "3 $(printf abc | sha256sum | cut -d' ' -f1)"
hwm_before=$(hwm)
head -c $((100 * MIB)) /dev/urandom > "$DIR/up.bin"
up_sha=$(sha256sum < "$DIR/up.bin" | cut -d' ' -f1)

# -- uploads -------------------------------------------------------------------------------
# curl -T streams the file with its length and Expect: 100-continue.
check "100 MiB upload, declared: intact upstream" \
  "$("${C[@]}" -X POST -T "$DIR/up.bin" -H 'Content-Type: application/octet-stream' "$G/jobs/sum" | sum_of)" \
  "$((100 * MIB)) $up_sha"
check "100 MiB upload, chunked: intact upstream" \
  "$("${C[@]}" -X POST -T - -H 'Content-Type: application/octet-stream' "$G/jobs/sum" < "$DIR/up.bin" | sum_of)" \
  "$((100 * MIB)) $up_sha"
small_sha=$(head -c $((20 * MIB)) "$DIR/up.bin" | sha256sum | cut -d' ' -f1)
check "20 MiB upload over TLS: intact upstream" \
  "$(head -c $((20 * MIB)) "$DIR/up.bin" | "${C[@]}" --cacert "$DIR/certs/ca.crt" -X POST -T - \
       "https://localhost:$GW_TLS/jobs/sum" | sum_of)" "$((20 * MIB)) $small_sha"
before=$(sums)
# Past the enterprise cap (100 MiB) by its declared length: 413 before the body is invited.
status=$(python3 - "$GW_HTTP" "$KEY" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /jobs/sum HTTP/1.1\r\nHost: x\r\nX-API-Key: " + sys.argv[2].encode() +
          b"\r\nContent-Length: 104857601\r\nExpect: 100-continue\r\n\r\n")
s.settimeout(5)
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
)
check "over the cap by Content-Length: 413, not invited" "$status" "HTTP/1.1 413 Payload Too Large"
# Chunked past it: refused midway (part of it went upstream, which never gets it whole).
status=$( { cat "$DIR/up.bin"; head -c $MIB /dev/zero; } |
  "${C[@]}" -o /dev/null -w '%{http_code}' -X POST -T - "$G/jobs/sum" || true)
check "over the cap while chunked: 413" "$status" 413
check "the upstream acted on no refused upload" "$(sums)" "$before"

# -- answers -------------------------------------------------------------------------------
big_sha=$(python3 -c 'import hashlib; p=bytes(range(256))*4096; h=hashlib.sha256()
for _ in range(100): h.update(p)
print(h.hexdigest())')
check "100 MiB answer, declared: intact" "$("${C[@]}" "$G/jobs/big?n=$((100 * MIB))" | sha256sum | cut -d' ' -f1)" "$big_sha"
headers=$("${C[@]}" -D - -o /dev/null "$G/jobs/chunked?n=$((100 * MIB))")
check "100 MiB answer, chunked: chunked to the client" "$(grep -ci '^transfer-encoding: chunked' <<<"$headers")" 1
check "100 MiB answer, chunked: intact" "$("${C[@]}" "$G/jobs/chunked?n=$((100 * MIB))" | sha256sum | cut -d' ' -f1)" "$big_sha"
check "100 MiB answer over TLS: intact" \
  "$("${C[@]}" --cacert "$DIR/certs/ca.crt" "https://localhost:$GW_TLS/jobs/big?n=$((100 * MIB))" | sha256sum | cut -d' ' -f1)" "$big_sha"

# -- memory --------------------------------------------------------------------------------
# ~600 MiB passed through; holding any one body whole would have grown the peak by 100 MiB or more.
grew=$(( ($(hwm) - hwm_before) / 1024 ))
echo "gateway peak RSS: $((hwm_before / 1024)) MiB before the transfers, grew by $grew MiB"
check "peak RSS grew by under 32 MiB" "$( [ "$grew" -lt 32 ] && echo yes || echo "no: $grew MiB")" yes

gateway_stop
check "gateway exit code after SIGTERM (sanitizers clean)" "$GW_RC" 0
[ $fails -eq 0 ]
