#!/usr/bin/env bash
# Login and refresh latency through the TLS gateway with the stack's own (default) argon2id
# parameters, against a stack started by deploy/local/stack up. The reference, measured the same
# way in the same run, is GET /health through the gateway (a new TLS connection per request,
# like every measured call). Logins come from ten loopback addresses so that the per-address
# login limit (LOGIN_RATE_PER_MINUTE) is not what is measured.
# Usage: tests/bench/auth_latency.sh [N]   (N logins and N refreshes, default 50)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "${STACK_DIR:-$ROOT/.local}/stack.env"
N=${1:-50}
C=(curl -s --cacert "$CA_CERT")
USER_NAME="bench$(date +%s)"; PASS="Bench-$(openssl rand -hex 6)-Latency!"
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --interface 127.0.0.30 -X POST "$GATEWAY_URL/auth/register" \
  -H 'Content-Type: application/json' -d "{\"username\":\"$USER_NAME\",\"email\":\"$USER_NAME@example.com\",\"password\":\"$PASS\"}")
[ "$code" = 201 ] || { echo "register failed: $code" >&2; exit 1; }
# The stack requires a verified address: open the mailed link, as the user would.
. "$ROOT/deploy/local/lib.sh"
vt=$(mail_token "$MAIL_DIR" "$USER_NAME@example.com" verify) || { echo "no verification mail" >&2; exit 1; }
code=$("${C[@]}" -o /dev/null -w '%{http_code}' --interface 127.0.0.30 "$GATEWAY_URL/auth/verify-email?token=$vt")
[ "$code" = 200 ] || { echo "verification failed: $code" >&2; exit 1; }
ms() { awk '{printf "%d\n", $1 * 1000000}'; }  # seconds -> microseconds
ref=() login=() refresh=()
for i in $(seq "$N"); do
  src="127.0.0.$((20 + i % 10))"
  ref+=($("${C[@]}" -o /dev/null -w '%{time_total}' --interface "$src" "$GATEWAY_URL/health" | ms))
  out=$("${C[@]}" -w '\n%{time_total}' --interface "$src" -X POST "$GATEWAY_URL/auth/login" \
    -d "username=$USER_NAME&password=$PASS")
  login+=($(tail -1 <<<"$out" | ms))
  token=$(head -1 <<<"$out" | jq -r .refresh_token)
  [ -n "$token" ] && [ "$token" != null ] || { echo "login failed: $(head -1 <<<"$out")" >&2; exit 1; }
  out=$("${C[@]}" -w '\n%{time_total}' --interface "$src" -X POST "$GATEWAY_URL/auth/refresh" \
    -H 'Content-Type: application/json' -d "{\"refresh_token\":\"$token\"}")
  refresh+=($(tail -1 <<<"$out" | ms))
  [ "$(head -1 <<<"$out" | jq -r '.access_token | length > 0')" = true ] || { echo "refresh failed" >&2; exit 1; }
done
stats() { sort -n | awk '{a[NR]=$1} END {printf "p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms", a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+(NR*0.99>int(NR*0.99))]/1000, a[NR]/1000}'; }
p50() { sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.5)+1]}'; }
r=$(printf '%s\n' "${ref[@]}" | p50); l=$(printf '%s\n' "${login[@]}" | p50); f=$(printf '%s\n' "${refresh[@]}" | p50)
echo "requests: $N each, through the TLS gateway, new connection per request"
echo "GET /health (reference):  $(printf '%s\n' "${ref[@]}" | stats)"
echo "POST /auth/login:         $(printf '%s\n' "${login[@]}" | stats)   p50 = $(awk -v a="$l" -v b="$r" 'BEGIN{printf "%.1f", a/b}')x reference"
echo "POST /auth/refresh:       $(printf '%s\n' "${refresh[@]}" | stats)   p50 = $(awk -v a="$f" -v b="$r" 'BEGIN{printf "%.1f", a/b}')x reference"
