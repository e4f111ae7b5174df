#!/usr/bin/env bash
# proto/schemas/audit-event.json against what the one writer of the stream writes: every line of
# the samples binary ($1: every type, nulls, text past its bounds, bytes that are not UTF-8) must
# validate, and hand-broken lines must not (the check can fail).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
T=$ROOT/tests/deploy/openapi
node_deps "$T"
"$1" | node "$T/events.mjs" "$ROOT/proto/schemas"
