#!/usr/bin/env bash
# The gateway's TLS edge, with two event loops (EVENT_LOOPS=2): sslscan (Debian's) finds no
# legacy protocol, weak cipher, renegotiation or compression; TLS 1.1 is refused; ALPN prefers
# h2, takes http/1.1 from a client without it, and answers nothing to one offering neither; sessions resume by ticket over TLS 1.2 and 1.3;
# keep-alive requests through both loops reach the upstream (each loop with its own Redis
# connection); clients that reset mid-answer (EPIPE, ECONNRESET: OpenSSL writes the socket
# itself) leave the gateway alive; an idle connection is closed at IDLE_TIMEOUT_MS, a silent
# one before its handshake at HEADER_TIMEOUT_MS. Needs E2E_REDIS_PORT (tests/run sets it).
# $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
command -v sslscan >/dev/null || install_deps sslscan
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup tls "${TLS_TEST_PORT_BASE:-19000}"
gateway_start EVENT_LOOPS=2 IDLE_TIMEOUT_MS=1000 HEADER_TIMEOUT_MS=1500

# -- sslscan: what the listener offers ------------------------------------------------------
sslscan --no-colour --show-sigs 127.0.0.1:$GW_TLS > "$DIR/scan.txt" 2>&1 || true
proto() { sed -n '/SSL\/TLS Protocols/,/^ *$/p' "$DIR/scan.txt" | awk -v p="$1" '$1 == p {print $2}'; }
check "sslscan: SSLv2" "$(proto SSLv2)" disabled
check "sslscan: SSLv3" "$(proto SSLv3)" disabled
check "sslscan: TLSv1.0" "$(proto TLSv1.0)" disabled
check "sslscan: TLSv1.1" "$(proto TLSv1.1)" disabled
check "sslscan: TLSv1.2" "$(proto TLSv1.2)" enabled
check "sslscan: TLSv1.3" "$(proto TLSv1.3)" enabled
ciphers=$(grep -E '^(Preferred|Accepted)' "$DIR/scan.txt" || true)
check "sslscan: ciphers listed" "$( [ -n "$ciphers" ] && echo yes)" yes
# Every accepted suite: forward secret (ECDHE or TLS 1.3), AEAD, at least 128 bits.
weak=$(printf '%s\n' "$ciphers" | grep -Ev 'TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)|ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)' || true)
check "sslscan: no weak or non-forward-secret cipher" "$weak" ""
check "sslscan: no renegotiation" "$(grep -c 'Session renegotiation not supported' "$DIR/scan.txt")" 1
check "sslscan: no compression" "$(grep -Eic 'Compression (enabled|supported)' "$DIR/scan.txt" || true)" 0

# -- openssl s_client: protocol floor, ALPN, resumption --------------------------------------
sc() { openssl s_client -connect "127.0.0.1:$GW_TLS" -servername localhost "$@" </dev/null 2>&1 || true; }
check "TLS 1.1 refused" "$(sc -tls1_1 | grep -c '^Cipher is (NONE)\|^New, (NONE)' )" 1
# Kept open a moment (an HTTP/2 server speaks first: its SETTINGS), each answer read from a file.
sca() { (sleep 0.5) | openssl s_client -connect "127.0.0.1:$GW_TLS" -servername localhost "$@" > "$DIR/alpn.txt" 2>&1 || true; }
sca -alpn http/1.1,h2
check "ALPN: h2 chosen over http/1.1" "$(grep -a -c 'ALPN protocol: h2' "$DIR/alpn.txt" | grep -c '^[1-9]')" 1
sca -alpn http/1.1,spdy/3
check "ALPN: http/1.1 for a client without h2" "$(grep -a -c 'ALPN protocol: http/1.1' "$DIR/alpn.txt" | grep -c '^[1-9]')" 1
sca -alpn spdy/3
check "ALPN: a client offering neither gets no ALPN" "$(grep -a -c 'No ALPN negotiated' "$DIR/alpn.txt" | grep -c '^[1-9]')" 1
check "TLS 1.2: the session resumes by ticket" "$(sc -tls1_2 -reconnect | grep -c '^Reused, TLSv1.2')" 5
(sleep 1) | openssl s_client -connect "127.0.0.1:$GW_TLS" -tls1_3 -sess_out "$DIR/s13" >/dev/null 2>&1 || true
check "TLS 1.3: the session resumes by ticket" \
  "$( (sleep 1) | openssl s_client -connect "127.0.0.1:$GW_TLS" -tls1_3 -sess_in "$DIR/s13" 2>/dev/null | grep -c '^Reused, TLSv1.3')" 1

# -- requests through both loops, resets mid-answer, idle and handshake timeouts -------------
cat > "$DIR/client.py" <<'PY'
import http.client, json, socket, ssl, struct, sys, time
port, plain, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=sys.argv[4])
out = {}
ok = 0
for c in range(8):  # 8 connections x 25 keep-alive requests: the kernel spreads them over both loops
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    for _ in range(25):
        conn.request("POST", "/api/test", body=b'{"test_name":"tls"}',
                     headers={"X-API-Key": key, "Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        ok += r.status == 200 and body == b'{"ok":true}'
    conn.close()
out["answered"] = ok
# A body of 1 MB over TLS arrives whole (many records, many reads).
conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
conn.request("POST", "/api/test", body=b'{"test_name":"' + b"x" * (1 << 20) + b'"}',
             headers={"X-API-Key": key, "Content-Type": "application/json"})
r = conn.getresponse(); r.read()
out["large_body"] = r.status
conn.close()
# Clients that pipeline requests and reset the connection before reading the answers.
for _ in range(20):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n" * 50)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
time.sleep(0.5)
# An idle keep-alive connection is closed by the server after IDLE_TIMEOUT_MS (1 s).
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
s.settimeout(5)
data = b""
while b'"healthy"' not in data:
    data += s.recv(65536)
t0 = time.time()
try:
    rest = s.recv(65536)
except (ssl.SSLError, ConnectionResetError):
    rest = b""
out["idle_closed_after_s"] = round(time.time() - t0, 1)
out["idle_closed_eof"] = rest == b""
# A TCP connection that never starts its handshake is closed after HEADER_TIMEOUT_MS (1.5 s).
raw = socket.create_connection(("127.0.0.1", port)); raw.settimeout(5)
t0 = time.time()
try:
    got = raw.recv(1)
except ConnectionResetError:
    got = b""
out["silent_closed_after_s"] = round(time.time() - t0, 1)
out["silent_closed_eof"] = got == b""
print(json.dumps(out))
PY
S=$(python3 "$DIR/client.py" "$GW_TLS" "$GW_HTTP" "$KEY" "$DIR/certs/ca.crt")
echo "client: $S"
q() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1" <<<"$S"; }
check "200 keep-alive requests over TLS answered by the upstream" "$(q answered)" 200
check "a 1 MB body over TLS" "$(q large_body)" 200
check "an idle TLS connection closed at the idle timeout (about 1 s)" \
  "$(python3 -c "print(0.7 <= $(q idle_closed_after_s) <= 2.5)")" True
check "... with EOF" "$(q idle_closed_eof)" True
check "a silent connection closed at the handshake timeout (about 1.5 s)" \
  "$(python3 -c "print(1.2 <= $(q silent_closed_after_s) <= 3.0)")" True
check "gateway alive after clients reset mid-answer" "$(kill -0 "$GW_PID" 2>/dev/null && echo yes)" yes
M=$(curl -s "http://127.0.0.1:$GW_METRICS/metrics")
check "a rate-limit Redis connection per loop" \
  "$(grep -cE '^redis_connected\{client="ratelimit(-1)?"\} 1' <<<"$M")" 2
check "plain HTTP on the same gateway" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_HTTP/health")" 200
# Expect: 100-continue (curl sends it for large bodies): the gateway answers 100, reads the body,
# and the client gets the upstream's final answer (not an interim 100 taken for one).
big=$(head -c 4096 /dev/zero | tr '\0' 'x')
out=$(curl -s --cacert "$DIR/certs/ca.crt" -w ' %{http_code}' -H 'Expect: 100-continue' -H "X-API-Key: $KEY" \
  -H 'Content-Type: application/json' -d "{\"test_name\":\"$big\"}" "https://localhost:$GW_TLS/api/test")
check "Expect: 100-continue: the final answer arrives" "$out" '{"ok":true} 200'

gateway_stop
check "gateway exit code after SIGTERM (sanitizers clean)" "$GW_RC" 0
[ $fails -eq 0 ]
