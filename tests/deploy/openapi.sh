#!/usr/bin/env bash
# proto/openapi.yaml: Redocly's lint (redocly.yaml), the description against the gateway's
# routes, and, with the binaries ($1), every described operation against a running stack
# (tests/deploy/openapi/contract.mjs says what each check is).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
T=$ROOT/tests/deploy/openapi
command -v npm >/dev/null || install_deps nodejs npm
(cd "$T" && { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; })
(cd "$ROOT" && "$T/node_modules/.bin/redocly" lint proto/openapi.yaml --config redocly.yaml --format=stylish)
[ $# -ge 1 ] || exec node "$T/contract.mjs" "$ROOT/proto/openapi.yaml" "$ROOT/deploy/gateway/gateway.json"

DIR=$(mktemp -d /tmp/suite-openapi.XXXXXX)
trap 'STACK_DIR=$DIR "$ROOT/deploy/local/stack" down >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
STACK_DIR=$DIR STACK_BIN=$1 STACK_PG_PORT=${OPENAPI_TEST_PG_PORT:-55495} STACK_REDIS_PORT=${OPENAPI_TEST_REDIS_PORT:-56396} \
  STACK_PORT_BASE=${OPENAPI_TEST_PORT_BASE:-32000} "$ROOT/deploy/local/stack" up
. "$DIR/stack.env"
NODE_EXTRA_CA_CERTS=$CA_CERT node "$T/contract.mjs" "$ROOT/proto/openapi.yaml" "$ROOT/deploy/gateway/gateway.json" \
  "$GATEWAY_URL" "$API_KEY"
