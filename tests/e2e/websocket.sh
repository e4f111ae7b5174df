#!/usr/bin/env bash
# WebSocket through the gateway (issue 25): a route with "websocket": true relays an upgrade
# to a real WebSocket server (Debian's python3-websockets) after the chain ran on the upgrade
# request: echo over TLS and plain HTTP, a 1 MiB message each way, the identity and request id
# the upstream received (and no API key), an upgrade without credentials refused with 401, an
# upgrade on a route without "websocket" not relayed, upgrades counted against a route's rate
# limit, and a silent connection closed at the route's idle limit. Needs E2E_REDIS_PORT
# (tests/run sets it). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
# Debian's interpreter, which the package serves (a python3 earlier on PATH may not see it).
PY=/usr/bin/python3
$PY -c 'import websockets' 2>/dev/null || install_deps python3-websockets
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup websocket "${WEBSOCKET_TEST_PORT_BASE:-25000}"
WS=$((UP + 1))

# The upstream: echoes; /ws/headers answers with what the upgrade request carried.
cat > "$DIR/ws_server.py" <<'PY'
import asyncio, json, sys, websockets
async def handler(ws, path=None):
    if ws.path == "/ws/headers":
        await ws.send(json.dumps({k.lower(): v for k, v in ws.request_headers.raw_items()}))
        return
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.exceptions.ConnectionClosed:
        pass  # the gateway's idle limit, for one of them
async def main():
    async with websockets.serve(handler, "127.0.0.1", int(sys.argv[1]), max_size=None):
        await asyncio.Future()
asyncio.run(main())
PY
$PY "$DIR/ws_server.py" "$WS" & WS_PID=$!
trap 'kill $WS_PID 2>/dev/null || true; alone_cleanup' EXIT

cat > "$DIR/gateway.json" <<JSON
{
  "upstreams": [{"name": "auth-user"}, {"name": "processing"}, {"name": "audit"}, {"name": "echo", "url": "http://127.0.0.1:$WS"}],
  "routes": [
    {"prefix": "/ws/", "methods": ["GET"], "upstream": "echo", "auth": "any", "websocket": true, "websocket_idle_ms": 1000},
    {"prefix": "/limited/", "methods": ["GET"], "upstream": "echo", "auth": "any", "websocket": true, "rate_limit": 2},
    {"prefix": "/plain/", "methods": ["GET"], "upstream": "echo", "auth": "any"}
  ]
}
JSON
# A second key, named for this run alone: a rate limit counts by the key's name, and other
# tests' requests under the first key's may still be in the window.
LIMITED_KEY="sk-e2e-$(openssl rand -hex 12)"
gateway_start GATEWAY_CONFIG="$DIR/gateway.json" \
  API_KEYS="[{\"key\":\"$KEY\",\"name\":\"e2e\",\"tier\":\"enterprise\"},{\"key\":\"$LIMITED_KEY\",\"name\":\"ws-$(openssl rand -hex 6)\",\"tier\":\"enterprise\"}]"

cat > "$DIR/client.py" <<'PY'
import asyncio, json, ssl, sys, time, websockets
tls_port, http_port, key, ca, limited_key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
out = {}
async def status_of(uri, **kw):
    try:
        async with websockets.connect(uri, **kw):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
async def main():
    auth = {"X-API-Key": key}
    # A key that has made no request: the route's limit is 2 a period (counted over the
    # caller's requests), an upgrade counts once, as any request (the relay's messages do not),
    # so the third upgrade is refused.
    limited = []
    for _ in range(3):
        code = await status_of(f"wss://localhost:{tls_port}/limited/echo", ssl=ctx, extra_headers={"X-API-Key": limited_key})
        limited.append(code)
    out["limited"] = " ".join(map(str, limited))
    async with websockets.connect(f"wss://localhost:{tls_port}/ws/echo", ssl=ctx, extra_headers=auth, max_size=None) as ws:
        await ws.send("hello")
        out["tls_echo"] = await ws.recv()
        big = bytes((i * 7) % 251 for i in range(1 << 20))
        await ws.send(big)
        out["big_intact"] = (await ws.recv()) == big
    async with websockets.connect(f"ws://127.0.0.1:{http_port}/ws/echo", extra_headers=auth) as ws:
        await ws.send("plain")
        out["plain_echo"] = await ws.recv()
    async with websockets.connect(f"wss://localhost:{tls_port}/ws/headers", ssl=ctx, extra_headers=auth) as ws:
        seen = json.loads(await ws.recv())
        out["upstream_identity"] = "x-internal-identity" in seen
        out["upstream_request_id"] = "x-request-id" in seen
        out["upstream_api_key"] = "x-api-key" in seen
    out["no_credentials"] = await status_of(f"wss://localhost:{tls_port}/ws/echo", ssl=ctx)
    out["route_without_websocket"] = await status_of(f"wss://localhost:{tls_port}/plain/echo", ssl=ctx, extra_headers=auth)
    async with websockets.connect(f"wss://localhost:{tls_port}/ws/echo", ssl=ctx, extra_headers=auth, ping_interval=None) as ws:
        quiet = time.monotonic()  # the gateway's last byte either way is later than this
        await ws.send("once")
        await ws.recv()
        try:
            await asyncio.wait_for(ws.recv(), 10)
            out["idle_closed_after_s"] = -1
        except websockets.exceptions.ConnectionClosed:
            out["idle_closed_after_s"] = round(time.monotonic() - quiet, 2)
    print(json.dumps(out))
asyncio.run(main())
PY
S=$($PY "$DIR/client.py" "$GW_TLS" "$GW_HTTP" "$KEY" "$DIR/certs/ca.crt" "$LIMITED_KEY")
q() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1" <<<"$S"; }
check "echo over TLS" "$(q tls_echo)" hello
check "a 1 MiB message each way, intact" "$(q big_intact)" True
check "echo over plain HTTP" "$(q plain_echo)" plain
check "the upstream got the signed identity" "$(q upstream_identity)" True
check "the upstream got the request id" "$(q upstream_request_id)" True
check "the API key stayed at the edge" "$(q upstream_api_key)" False
check "an upgrade without credentials: 401" "$(q no_credentials)" 401
check "upgrades count against the route's rate limit, once each" "$(q limited)" "101 101 429"
check "an upgrade on a route without websocket is not relayed" "$( [ "$(q route_without_websocket)" != 101 ] && echo yes)" yes
# The idle limit is 1 s: the close comes after it (counted from before the last message, which
# the gateway relayed later), and not long after.
check "a silent connection closed at the idle limit" "$(python3 -c "print(1.0 <= $(q idle_closed_after_s) <= 6)")" True
check "the upgrade is counted as a request (101, protocol ws, in the metrics)" \
  "$(curl -s "http://127.0.0.1:$GW_METRICS/metrics" | grep -c 'http_requests_total{.*protocol="ws",route="/ws/",status_code="101"')" 1
gateway_stop
check "gateway exit code" "$GW_RC" 0
[ "$fails" -eq 0 ]
