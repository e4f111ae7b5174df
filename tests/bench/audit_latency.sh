#!/usr/bin/env bash
# How long after a response its audit record is visible, through GET /audit/requests and in the
# NDJSON file. Runs against a stack started by deploy/local/stack up. The reference, measured in
# the same run, is the round trip of the request itself.  Usage: tests/bench/audit_latency.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/.local/stack.env"
N=${1:-50}
C=(curl -s --cacert "$CA_CERT")
TOKEN=$("${C[@]}" -X POST "$GATEWAY_URL/auth/login" -d "username=$ADMIN_USERNAME&password=$ADMIN_PASSWORD" | jq -r .access_token)
now() { date +%s%N; }
rt=() api=() file=()
for i in $(seq "$N"); do
  rid="bench-$(date +%s%N)-$i"
  t0=$(now)
  "${C[@]}" -o /dev/null -X POST "$GATEWAY_URL/process" -H "X-API-Key: $API_KEY" -H "Authorization: Bearer $DEMO_JWT" \
    -H "X-Request-ID: $rid" -H 'Content-Type: application/json' -d '{"dataset_id":"bench","action":"count","payload":{"items":[1]}}'
  t1=$(now); rt+=($(( (t1 - t0) / 1000 )))
  until grep -q "$rid" "$AUDIT_LOG_FILE"; do sleep 0.002; done
  file+=($(( ($(now) - t1) / 1000 )))
  until [ "$("${C[@]}" "$GATEWAY_URL/audit/requests?request_id=$rid" -H "Authorization: Bearer $TOKEN" | jq .count)" = 1 ]; do :; done
  api+=($(( ($(now) - t1) / 1000 )))
done
stats() { sort -n | awk '{a[NR]=$1} END {printf "p50 %6.1f ms  p95 %6.1f ms  max %6.1f ms", a[int(NR*0.5)+1]/1000, a[int(NR*0.95)]/1000, a[NR]/1000}'; }
echo "requests: $N"
echo "request round trip (reference):   $(printf '%s\n' "${rt[@]}" | stats)"
echo "record in NDJSON after response:  $(printf '%s\n' "${file[@]}" | stats)"
echo "record via /audit/requests:       $(printf '%s\n' "${api[@]}" | stats)"
