#!/usr/bin/env bash
# HTTP/2 at the gateway's edge (issue 25): curl (--http2 over TLS, ALPN; prior knowledge on the
# plain port), nghttp (20 streams on one connection) and h2load all get their answers through
# the same chain as HTTP/1.1 (the API key checked, a refusal in our envelope, the security
# headers and request id on every answer); a 20 MiB upload and a 20 MiB answer stream through
# intact under flow control; the requests are counted with protocol "h2". Needs E2E_REDIS_PORT
# (tests/run sets it). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
command -v nghttp >/dev/null && command -v h2load >/dev/null || install_deps nghttp2-client
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup http2 "${HTTP2_TEST_PORT_BASE:-22000}"
gateway_start
MIB=1048576
T="https://localhost:$GW_TLS"
C=(curl -s --cacert "$DIR/certs/ca.crt" -H "X-API-Key: $KEY")
sum_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes"], d["sha256"])'; }

check "curl --http2 over TLS: h2 by ALPN, answered" \
  "$("${C[@]}" --http2 -o /dev/null -w '%{http_version} %{http_code}' -d abc "$T/jobs/sum")" "2 200"
check "curl with prior knowledge on the plain port: h2c, answered" \
  "$("${C[@]}" --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' -d abc "http://127.0.0.1:$GW_HTTP/jobs/sum")" "2 200"
check "an HTTP/1.1 client on the TLS port still gets HTTP/1.1" \
  "$("${C[@]}" --http1.1 -o /dev/null -w '%{http_version} %{http_code}' -d abc "$T/jobs/sum")" "1.1 200"
check "the body over h2 reaches the upstream" "$("${C[@]}" --http2 -d abc "$T/jobs/sum" | sum_of)" \
  "3 $(printf abc | sha256sum | cut -d' ' -f1)"
curl -s --cacert "$DIR/certs/ca.crt" --http2 -D "$DIR/h401" -o "$DIR/b401" -d abc "$T/jobs/sum" || true
check "no credentials over h2: 401" "$(sed -n 's/^HTTP\/2 \([0-9]*\).*/\1/p' "$DIR/h401" | tr -d '\r')" 401
check "the refusal in our envelope" "$(python3 -c 'import json,sys; print("error" in json.load(open(sys.argv[1])))' "$DIR/b401")" True
check "the security headers and the request id on an h2 answer" \
  "$(grep -ci '^x-content-type-options: nosniff\|^x-request-id: ' "$DIR/h401")" 2

# nghttp: 20 requests in flight on one connection.
head -c 2048 /dev/urandom > "$DIR/small.bin"
nghttp -n -s -m 20 -d "$DIR/small.bin" -H "x-api-key: $KEY" "$T/jobs/sum" > "$DIR/nghttp.txt" 2>&1 || true
check "nghttp: 20 streams on one connection, all answered" "$(grep -c ' 200 ' "$DIR/nghttp.txt" || true)" 20

# Bodies larger than any window, both ways.
head -c $((20 * MIB)) /dev/urandom > "$DIR/up.bin"
check "a 20 MiB upload over h2 arrives intact" \
  "$("${C[@]}" --http2 -X POST -T "$DIR/up.bin" -H 'Content-Type: application/octet-stream' "$T/jobs/sum" | sum_of)" \
  "$((20 * MIB)) $(sha256sum < "$DIR/up.bin" | cut -d' ' -f1)"
check "a 20 MiB answer over h2 arrives intact" \
  "$("${C[@]}" --http2 "$T/jobs/big?n=$((20 * MIB))" | sha256sum | cut -d' ' -f1)" \
  "$(python3 -c 'import sys; p=bytes(range(256))*4096; sys.stdout.buffer.write((p*20)[:20*1048576])' | sha256sum | cut -d' ' -f1)"

# h2load: 200 requests, 4 connections of 10 streams.
h2load -n 200 -c 4 -m 10 -d "$DIR/small.bin" -H "x-api-key: $KEY" "$T/jobs/sum" > "$DIR/h2load.txt" 2>&1 || true
check "h2load: 200 requests, every one 2xx" "$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$DIR/h2load.txt")" 200
check "the requests are counted with protocol h2" \
  "$([ "$(curl -s "http://127.0.0.1:$GW_METRICS/metrics" | grep -c 'http_requests_total{.*protocol="h2".*status_code="200"')" -gt 0 ] && echo yes)" yes  # -c reads it all (-q: SIGPIPE, pipefail)
gateway_stop
check "gateway exit code" "$GW_RC" 0
[ "$fails" -eq 0 ]
