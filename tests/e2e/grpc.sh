#!/usr/bin/env bash
# gRPC callers through the gateway (issue 25), with a real gRPC client (Debian's python3-grpcio)
# over TLS (ALPN h2) and h2c: a call the gateway refuses is answered in gRPC's terms (HTTP 200,
# Trailers-Only, grpc-status and grpc-message), as Envoy does: no credentials 16
# UNAUTHENTICATED, past the route's rate limit 8 RESOURCE_EXHAUSTED, an upstream that cannot be
# reached 14 UNAVAILABLE. Needs E2E_REDIS_PORT (tests/run sets it). $1 = binaries.
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
cat > "$DIR/gateway.json" <<JSON
{
  "upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"},
                {"name": "down", "url": "http://127.0.0.1:$DOWN"}],
  "routes": [
    {"prefix": "/echo.Echo/", "methods": ["POST"], "upstream": "processing", "auth": "api_key"},
    {"prefix": "/limited.Echo/", "methods": ["POST"], "upstream": "processing", "auth": "api_key", "rate_limit": 1},
    {"prefix": "/down.Down/", "methods": ["POST"], "upstream": "down", "auth": "api_key"}
  ]
}
JSON
# A key of this run's own: the route's limit counts by the key's name.
LIMITED_KEY="sk-e2e-$(openssl rand -hex 12)"
gateway_start GATEWAY_CONFIG="$DIR/gateway.json" \
  API_KEYS="[{\"key\":\"$KEY\",\"name\":\"e2e\",\"tier\":\"enterprise\"},{\"key\":\"$LIMITED_KEY\",\"name\":\"grpc-$(openssl rand -hex 6)\",\"tier\":\"enterprise\"}]"

cat > "$DIR/client.py" <<'PY'
import json, sys, grpc
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
gateway_stop
check "gateway exit code" "$GW_RC" 0
[ "$fails" -eq 0 ]
