#!/usr/bin/env bash
# gRPC through the gateway (issue 25), with a real gRPC client and server (Debian's
# python3-grpcio), the client over TLS (ALPN h2) and h2c, the server behind an upstream that
# says "protocol": "h2" (h2c, and over TLS by ALPN with its certificate checked):
#  - passed through: unary with metadata both ways (the API key in it, taken by the gateway;
#    trailing metadata back), server streaming, a 10 MiB streamed upload, a call streaming both
#    ways in turns (each reply before the next message), a deadline, an error status of the
#    service's own;
#  - refused in gRPC's terms (HTTP 200, Trailers-Only, grpc-status and grpc-message), as Envoy
#    does: no credentials 16 UNAUTHENTICATED, past the route's rate limit 8 RESOURCE_EXHAUSTED,
#    an upstream that cannot be reached 14 UNAVAILABLE.
# Needs E2E_REDIS_PORT (tests/run sets it). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
PY=/usr/bin/python3  # Debian's interpreter, which the package serves
$PY -c 'import grpc' 2>/dev/null || install_deps python3-grpcio
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup grpc "${GRPC_TEST_PORT_BASE:-20000}"
DOWN=$((UP + 1))  # nothing listens there
GRPC=$((UP + 2)) GRPCS=$((UP + 3))  # the gRPC service in the clear, and over TLS
cat > "$DIR/service.py" <<'PY'
import hashlib, sys, time
from concurrent import futures
import grpc

def unary(request, context):
    md = dict(context.invocation_metadata())
    context.set_trailing_metadata((("x-served-by", "svc"),))
    return b"|".join([b"echo:" + request, md.get("x-meta", "").encode(),
                      b"key-seen" if "x-api-key" in md else b"no-key",
                      b"identity" if "x-internal-identity" in md else b"no-identity"])

def server_stream(request, context):
    for i in range(5):
        yield b"item %d" % i

def upload(requests, context):
    h, n, count = hashlib.sha256(), 0, 0
    for m in requests:
        h.update(m); n += len(m); count += 1
    return f"{n} {count} {h.hexdigest()}".encode()

def chat(requests, context):
    for m in requests:
        yield b"re:" + m

def slow(request, context):
    time.sleep(3)
    return b"late"

def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

handler = grpc.method_handlers_generic_handler(sys.argv[2], {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
    "Upload": grpc.stream_unary_rpc_method_handler(upload),
    "Chat": grpc.stream_stream_rpc_method_handler(chat),
    "Slow": grpc.unary_unary_rpc_method_handler(slow),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((handler,))
if len(sys.argv) > 3:  # TLS: certificate and key
    creds = grpc.ssl_server_credentials([(open(sys.argv[4], "rb").read(), open(sys.argv[3], "rb").read())])
    server.add_secure_port("127.0.0.1:" + sys.argv[1], creds)
else:
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
server.start()
server.wait_for_termination()
PY
$PY "$DIR/service.py" "$GRPC" test.Svc & SERVICE_PID=$!
$PY "$DIR/service.py" "$GRPCS" secure.Svc "$DIR/certs/server.crt" "$DIR/certs/server.key" & SECURE_PID=$!
trap 'kill $SERVICE_PID $SECURE_PID 2>/dev/null; alone_cleanup' EXIT
cat > "$DIR/gateway.json" <<JSON
{
  "upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                {"name": "down", "url": "http://127.0.0.1:$DOWN"},
                {"name": "grpc", "url": "http://127.0.0.1:$GRPC", "protocol": "h2"},
                {"name": "grpcs", "url": "https://localhost:$GRPCS", "protocol": "h2", "ca_file": "$DIR/certs/ca.crt"},
                {"name": "untrusted", "url": "https://localhost:$GRPCS", "protocol": "h2"}],
  "routes": [
    {"prefix": "/echo.Echo/", "methods": ["POST"], "upstream": "processing", "auth": "api_key"},
    {"prefix": "/limited.Echo/", "methods": ["POST"], "upstream": "processing", "auth": "api_key", "rate_limit": 1},
    {"prefix": "/down.Down/", "methods": ["POST"], "upstream": "down", "auth": "api_key"},
    {"prefix": "/test.Svc/", "methods": ["POST"], "upstream": "grpc", "auth": "api_key"},
    {"prefix": "/secure.Svc/", "methods": ["POST"], "upstream": "grpcs", "auth": "api_key"},
    {"prefix": "/untrusted.Svc/", "methods": ["POST"], "upstream": "untrusted", "auth": "api_key"}
  ]
}
JSON
# A key of this run's own: the route's limit counts by the key's name.
LIMITED_KEY="sk-e2e-$(openssl rand -hex 12)"
gateway_start GATEWAY_CONFIG="$DIR/gateway.json" \
  API_KEYS="[{\"key\":\"$KEY\",\"name\":\"e2e\",\"tier\":\"enterprise\"},{\"key\":\"$LIMITED_KEY\",\"name\":\"grpc-$(openssl rand -hex 6)\",\"tier\":\"enterprise\"}]"

cat > "$DIR/client.py" <<'PY'
import hashlib, json, sys, threading, grpc
tls_port, http_port, key, limited_key, ca = sys.argv[1:6]
creds = grpc.ssl_channel_credentials(open(ca, "rb").read())
out = {}
def call(channel, method, metadata=()):
    stub = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    try:
        stub(b"\x00\x00\x00\x00\x00", metadata=metadata, timeout=10)
        return ["OK", ""]
    except grpc.RpcError as e:
        return [e.code().name, e.details()]
with grpc.secure_channel(f"localhost:{tls_port}", creds) as tls, grpc.insecure_channel(f"127.0.0.1:{http_port}") as plain:
    out["no_key_tls"] = call(tls, "/echo.Echo/Say")
    out["no_key_h2c"] = call(plain, "/echo.Echo/Say")
    out["limited"] = [call(tls, "/limited.Echo/Say", (("x-api-key", limited_key),))[0] for _ in range(3)]
    out["down"] = call(tls, "/down.Down/Say", (("x-api-key", key),))
    for name, ch in (("tls", tls), ("h2c", plain)):
        md = (("x-api-key", key), ("x-meta", "m-" + name))
        unary = ch.unary_unary("/test.Svc/Unary", request_serializer=None, response_deserializer=None)
        reply, c = unary.with_call(b"hello", metadata=md, timeout=10)
        out[name + "_unary"] = [reply.decode(), dict(c.trailing_metadata()).get("x-served-by", "")]
        stream = ch.unary_stream("/test.Svc/ServerStream", request_serializer=None, response_deserializer=None)
        out[name + "_server_stream"] = [m.decode() for m in stream(b"", metadata=md, timeout=10)]
        fail = ch.unary_unary("/test.Svc/Fail", request_serializer=None, response_deserializer=None)
        try:
            fail(b"", metadata=md, timeout=10)
            out[name + "_fail"] = ["OK", ""]
        except grpc.RpcError as e:
            out[name + "_fail"] = [e.code().name, e.details()]
    # 10 MiB in 160 messages of 64 KiB, streamed up.
    pieces = [bytes([i % 251]) * 65536 for i in range(160)]
    upload = tls.stream_unary("/test.Svc/Upload", request_serializer=None, response_deserializer=None)
    out["upload"] = upload(iter(pieces), metadata=(("x-api-key", key),), timeout=60).decode()
    out["upload_expected"] = f"{sum(map(len, pieces))} {len(pieces)} {hashlib.sha256(b''.join(pieces)).hexdigest()}"
    # Both ways in turns: the next message leaves only once the last one's reply came back.
    chat = tls.stream_stream("/test.Svc/Chat", request_serializer=None, response_deserializer=None)
    turn = threading.Semaphore(1)
    def messages():
        for i in range(5):
            if not turn.acquire(timeout=10):
                return
            yield b"m%d" % i
    replies = []
    for r in chat(messages(), metadata=(("x-api-key", key),), timeout=30):
        replies.append(r.decode())
        turn.release()
    out["chat"] = replies
    # The service over TLS: its certificate checked against the CA given; the system's store
    # does not know that CA, so the other upstream cannot be reached.
    secure = tls.unary_unary("/secure.Svc/Unary", request_serializer=None, response_deserializer=None)
    out["secure_unary"] = secure(b"over tls", metadata=(("x-api-key", key), ("x-meta", "s")), timeout=10).decode()
    secure_stream = tls.unary_stream("/secure.Svc/ServerStream", request_serializer=None, response_deserializer=None)
    out["secure_stream"] = [m.decode() for m in secure_stream(b"", metadata=(("x-api-key", key),), timeout=10)]
    out["untrusted"] = call(tls, "/untrusted.Svc/Unary", (("x-api-key", key),))
    slow = tls.unary_unary("/test.Svc/Slow", request_serializer=None, response_deserializer=None)
    try:
        slow(b"", metadata=(("x-api-key", key),), timeout=1)
        out["deadline"] = "OK"
    except grpc.RpcError as e:
        out["deadline"] = e.code().name
print(json.dumps(out))
PY
S=$($PY "$DIR/client.py" "$GW_TLS" "$GW_HTTP" "$KEY" "$LIMITED_KEY" "$DIR/certs/ca.crt")
q() { python3 -c "import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(' '.join(v) if isinstance(v, list) else v)" "$1" <<<"$S"; }
check "no API key (TLS): UNAUTHENTICATED, with our message" "$(q no_key_tls)" \
  "UNAUTHENTICATED API key required (query param 'api_key' or header 'X-API-Key')"
check "no API key (h2c): UNAUTHENTICATED" "$(q no_key_h2c | cut -d' ' -f1)" UNAUTHENTICATED
# The first call is admitted and forwarded (the upstream is no gRPC server: its answer is not
# one), the next two are past the route's limit of 1.
check "past the route's rate limit: RESOURCE_EXHAUSTED" "$(q limited | cut -d' ' -f2-)" "RESOURCE_EXHAUSTED RESOURCE_EXHAUSTED"
check "an upstream that cannot be reached: UNAVAILABLE" "$(q down | cut -d' ' -f1)" UNAVAILABLE
for p in tls h2c; do
  check "unary ($p): the message, the caller's metadata, the key taken by the gateway, our identity added" \
    "$(q ${p}_unary)" "echo:hello|m-$p|no-key|identity svc"
  check "server streaming ($p): five messages in order" "$(q ${p}_server_stream)" "item 0 item 1 item 2 item 3 item 4"
  check "the service's own error status ($p) passes" "$(q ${p}_fail)" "NOT_FOUND no such thing"
done
check "10 MiB streamed upload arrives whole, message by message" "$(q upload)" "$(q upload_expected)"
check "unary to a TLS upstream (h2 by ALPN, its certificate checked)" "$(q secure_unary)" "echo:over tls|s|no-key|identity"
check "server streaming from the TLS upstream" "$(q secure_stream)" "item 0 item 1 item 2 item 3 item 4"
check "a TLS upstream whose certificate is not trusted: UNAVAILABLE" "$(q untrusted | cut -d' ' -f1)" UNAVAILABLE
check "a call streaming both ways, in turns" "$(q chat)" "re:m0 re:m1 re:m2 re:m3 re:m4"
check "a deadline passed: DEADLINE_EXCEEDED" "$(q deadline)" DEADLINE_EXCEEDED
check "gRPC calls counted with the grpc protocol label" \
  "$([ "$(curl -s "http://127.0.0.1:$GW_METRICS/metrics" | grep -c '^http_requests_total{.*protocol="grpc"')" -gt 0 ] && echo yes)" yes  # -c reads it all (-q: SIGPIPE, pipefail)
gateway_stop
check "gateway exit code" "$GW_RC" 0
[ "$fails" -eq 0 ]
