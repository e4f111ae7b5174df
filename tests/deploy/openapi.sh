#!/usr/bin/env bash
# proto/openapi.yaml: Redocly's lint (redocly.yaml), the description against the gateway's
# routes, and, with the binaries ($1), every described operation against a running stack
# (tests/deploy/openapi/contract.mjs says what each check is).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
T=$ROOT/tests/deploy/openapi
node_deps "$T"
(cd "$ROOT" && "$T/node_modules/.bin/redocly" lint proto/openapi.yaml --config redocly.yaml --format=stylish)
[ $# -ge 1 ] || exec node "$T/contract.mjs" "$ROOT/proto/openapi.yaml" "$ROOT/deploy/gateway/gateway.json"

DIR=$(mktemp -d /tmp/suite-openapi.XXXXXX)
trap 'STACK_DIR=$DIR "$ROOT/deploy/local/stack" down >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
STACK_DIR=$DIR STACK_BIN=$1 STACK_PG_PORT=${OPENAPI_TEST_PG_PORT:-32532} STACK_REDIS_PORT=${OPENAPI_TEST_REDIS_PORT:-32579} \
  STACK_PORT_BASE=${OPENAPI_TEST_PORT_BASE:-32000} "$ROOT/deploy/local/stack" up
. "$DIR/stack.env"
. "$ROOT/tests/checks.sh"
NODE_EXTRA_CA_CERTS=$CA_CERT node "$T/contract.mjs" "$ROOT/proto/openapi.yaml" "$ROOT/deploy/gateway/gateway.json" \
  "$GATEWAY_URL" "$API_KEY" "$ADMIN_USERNAME" "$ADMIN_PASSWORD" || fail "contract"

echo "GET /docs and /openapi.json, from the gateway itself"
heads() { curl -s -D - -o "$DIR/body" --cacert "$CA_CERT" "$GATEWAY_URL$1" | tr -d '\r'; }
h=$(heads /docs)
check "/docs: 200" "$(echo "$h" | head -1 | cut -d' ' -f2)" 200
check "/docs: HTML" "$(echo "$h" | grep -i '^content-type:' | cut -d' ' -f2-)" "text/html; charset=utf-8"
check "/docs: a CSP of its own, scripts from the gateway only" \
  "$(echo "$h" | grep -i '^content-security-policy:' | grep -c "script-src 'self'; style-src 'self'")" 1
check "/docs: no inline script, nothing from another origin" "$(grep -cE '<script>|https?://' "$DIR/body")" 0
for f in docs.js swagger-ui-bundle.js swagger-ui.css; do
  check "/docs/$f: 200" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CERT" "$GATEWAY_URL/docs/$f")" 200
done
check "/docs/../openapi.yaml: 404" "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is --cacert "$CA_CERT" "$GATEWAY_URL/docs/../openapi.yaml")" 404
check "/docs/LICENSE (not served): 404" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_CERT" "$GATEWAY_URL/docs/swagger-ui.LICENSE")" 404
curl -s --cacert "$CA_CERT" "$GATEWAY_URL/openapi.json" > "$DIR/openapi.json"
check "/openapi.json is proto/openapi.yaml" "$(cd "$T" && node --input-type=module -e "
  import { parse } from 'yaml'; import { readFileSync } from 'node:fs'; import { isDeepStrictEqual } from 'node:util';
  console.log(isDeepStrictEqual(parse(readFileSync('$ROOT/proto/openapi.yaml', 'utf8')), JSON.parse(readFileSync('$DIR/openapi.json', 'utf8'))))")" true
echo "the page renders in a browser (Debian's Chromium, headless), under its CSP"
command -v chromium >/dev/null || install_deps chromium
browse() { timeout 60 chromium --headless=new --no-sandbox --disable-gpu --ignore-certificate-errors \
  --enable-logging=stderr --v=0 --virtual-time-budget=8000 --window-size=1280,1800 "$@" "$GATEWAY_URL/docs" 2>>"$DIR/chromium.log"; }
browse --dump-dom > "$DIR/dom.html" || true
paths=$(cd "$T" && node --input-type=module -e "
  import { parse } from 'yaml'; import { readFileSync } from 'node:fs';
  console.log(Object.keys(parse(readFileSync('$ROOT/proto/openapi.yaml', 'utf8')).paths).length)")
check "every described path is listed on the page ($paths)" "$(grep -o 'data-path="[^"]*"' "$DIR/dom.html" | sort -u | wc -l)" "$paths"
check "the browser refused nothing (CSP)" "$(grep -ciE 'refused|content security policy' "$DIR/chromium.log")" 0
browse --screenshot="$1/docs-page.png" >/dev/null || true
check "a screenshot ($1/docs-page.png)" "$( [ -s "$1/docs-page.png" ] && echo yes)" yes
check "the API keeps its own CSP" "$(heads /health | grep -i '^content-security-policy:' | cut -d' ' -f2-)" \
  "default-src 'none'; frame-ancestors 'none'"
[ $fails -eq 0 ]
