#!/usr/bin/env bash
# Tokens from three issuers through the TLS gateway (issue 27): a local OpenID provider of the
# test's own (tests/e2e/oidc_provider.py: discovery and JWKS over HTTPS, RS256 keys made here
# with openssl) configured in the gateway's file, seed 000's shared secret, and a stranger.
# The provider's token passes with its subject, roles, scopes and tier; another audience, an
# expired token, an algorithm it is not configured for and an unknown `iss` are refused (the
# last without a fetch); a key rotated in is fetched on its first token, a flood of unknown kids
# costs one fetch, the keys stay while the provider is down, and a provider whose certificate
# does not chain to the configured CA is never trusted. Needs E2E_REDIS_PORT. $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
. "$ROOT/tests/checks.sh"
: "${E2E_REDIS_PORT:?}"
. "$ROOT/tests/e2e/gateway_alone.sh"
alone_setup issuers "${ISSUERS_TEST_PORT_BASE:-16000}"  # clear of audit_spool.sh (26000), which may run alongside
IDP=$((UP + 1)) ECHO=$((UP + 2))
mkdir -p "$DIR/idp"
PROVIDER_PID= ECHO_PID=
trap 'kill $PROVIDER_PID $ECHO_PID 2>/dev/null || true; alone_cleanup' EXIT

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# rs256 <key.pem> <kid> <claims>: a token signed with that key (PKCS#1 v1.5, SHA-256)
rs256() {
  local h p
  h=$(printf '{"alg":"%s","typ":"JWT","kid":"%s"}' "${ALG:-RS256}" "$2" | b64url)
  p=$(printf '%s' "$3" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)"
}
# es256 <key.pem> <kid> <claims>: the same with a P-256 key (openssl's DER signature made r||s)
es256() {
  local h p
  h=$(printf '{"alg":"ES256","typ":"JWT","kid":"%s"}' "$2" | b64url)
  p=$(printf '%s' "$3" | b64url)
  printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | python3 -c '
import sys
d = sys.stdin.buffer.read()
def integer(i):  # DER INTEGER at i: its value (32 bytes) and the next index
    n = d[i + 1]
    v = d[i + 2:i + 2 + n].lstrip(b"\0")
    return v.rjust(32, b"\0"), i + 2 + n
i = 2 if d[1] < 0x80 else 3
r, i = integer(i)
s, _ = integer(i)
sys.stdout.buffer.write(r + s)' | b64url)"
}
# jwks <key.pem:kid[:EC]>...: the public JWKS of those keys (RSA, or P-256 with :EC)
jwks() {
  python3 - "$@" <<'PY'
import base64, json, subprocess, sys
b = lambda x: base64.urlsafe_b64encode(x).rstrip(b"=").decode()
keys = []
for arg in sys.argv[1:]:
    path, kid, *kind = arg.split(":")
    if kind == ["EC"]:
        der = subprocess.check_output(["openssl", "ec", "-in", path, "-pubout", "-outform", "DER"], stderr=subprocess.DEVNULL)
        point = der[-65:]  # 04 || x || y
        keys.append({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256", "x": b(point[1:33]), "y": b(point[33:])})
        continue
    mod = subprocess.check_output(["openssl", "rsa", "-in", path, "-noout", "-modulus"], stderr=subprocess.DEVNULL)
    n = bytes.fromhex(mod.decode().strip().split("=")[1])
    keys.append({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b(n), "e": "AQAB"})
print(json.dumps({"keys": keys}))
PY
}
fetches() { cat "$DIR/idp/fetches" 2>/dev/null || echo 0; }
for k in k1 k2 k3; do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DIR/idp/$k.pem" 2>/dev/null; done
for k in e1 e2; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/idp/$k.pem" 2>/dev/null; done
jwks "$DIR/idp/k1.pem:k1" "$DIR/idp/e1.pem:e1:EC" > "$DIR/idp/jwks.json"
# provider_start: the provider alone (HTTPS); the upstream is a process of its own (HTTP).
provider_start() {
  python3 "$ROOT/tests/e2e/oidc_provider.py" "$IDP" 0 "$DIR/certs/server.crt" "$DIR/certs/server.key" "$DIR/idp" &
  PROVIDER_PID=$!
  for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$DIR/certs/ca.crt" "https://localhost:$IDP/x")" = 404 ] && return
    sleep 0.1
  done
}
python3 "$ROOT/tests/e2e/oidc_provider.py" 0 "$ECHO" "" "" "$DIR/idp" & ECHO_PID=$!
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ECHO/")" = 200 ] && break; sleep 0.1; done
provider_start
ISS="https://localhost:$IDP"

# config <ca file>: the gateway's file: /echo (any token) to the provider's upstream, the issuer.
config() {
  cat > "$DIR/gateway.json" <<JSON
{
  "upstreams": [{"name": "auth-user"}, {"name": "echo", "url": "http://127.0.0.1:$ECHO"}],
  "routes": [
    {"prefix": "/health", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
    {"prefix": "/ready", "methods": ["GET"], "upstream": "gateway", "auth": "none", "rate_limited": false},
    {"prefix": "/echo", "methods": ["GET"], "upstream": "echo", "auth": "jwt", "rate_limited": false},
    {"prefix": "/scoped", "methods": ["GET"], "upstream": "echo", "auth": "jwt", "rate_limited": false,
     "require": {"scopes": ["process:write"], "issuers": ["local"]}}
  ],
  "issuers": [{
    "name": "local",
    "issuer": "$ISS",
    "discovery_url": "$ISS/.well-known/openid-configuration",
    "audiences": ["suite-api"],
    "algorithms": ["RS256", "ES256"],
    "clock_skew_seconds": 5,
    "min_refetch_seconds": 2,
    "ca_file": "$1",
    "claims": {"roles": "realm_access.roles", "scopes": "scope", "tier": "tier"}
  }]
}
JSON
}
config "$DIR/certs/ca.crt"
"$BIN/services/gateway/gateway" --check-config "$DIR/gateway.json" > /dev/null && pass "the issuers block validates" ||
  fail "the issuers block validates"
JWT_SECRET=$(openssl rand -hex 32) INTERNAL=$(openssl rand -hex 32)
gateway_start GATEWAY_CONFIG="$DIR/gateway.json" JWT_SECRET="$JWT_SECRET" INTERNAL_TOKEN_SECRET="$INTERNAL"
GW=https://localhost:$GW_TLS
C=(curl -s --cacert "$DIR/certs/ca.crt")
now=$(date +%s)
claims() {  # claims [jq filter]: the provider's usual claims, changed by the filter
  jq -cn --arg iss "$ISS" --argjson now "$now" '{iss: $iss, aud: ["account", "suite-api"], sub: "alice",
    exp: ($now + 300), iat: $now, realm_access: {roles: ["admin", "reader"]}, scope: "openid process:write",
    tier: "enterprise"} | '"${1:-.}"
}
get() { call GET /echo -H "Authorization: Bearer $1"; }
# identity: the claims of the identity token the upstream received (its payload, as JSON)
identity() { jq -r '."x-internal-identity"' <<<"$BODY" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null || true; }

# The provider's token: its keys fetched through its discovery document, over TLS.
get "$(es256 "$DIR/idp/e1.pem" e1 "$(claims)")"
check "the provider's ES256 token passes" "$STATUS" 200
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims)")"
check "the provider's RS256 token passes" "$STATUS" 200
id=$(identity; echo)
check "its subject, named with its issuer" "$(jq -r .sub <<<"$id" 2>/dev/null)" "local:alice"
check "its roles" "$(jq -c .roles <<<"$id" 2>/dev/null)" '["admin","reader"]'
check "its tier, from its tier claim" "$(jq -r .tier <<<"$id" 2>/dev/null)" enterprise
[ "$(fetches)" -ge 1 ] && pass "the JWKS was fetched" || fail "the JWKS was fetched"
before=$(fetches)
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.aud = "account"')")"
check "another audience: 401" "$STATUS" 401
check "... saying why" "$(jq -r .detail <<<"$BODY" | grep -c 'Invalid audience')" 1
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.exp = '"$((now - 60))")")"
check "expired past the clock skew: 401" "$STATUS" 401
get "$(ALG=RS384 rs256 "$DIR/idp/k1.pem" k1 "$(claims)")"
check "an algorithm the issuer is not configured for: 401" "$STATUS" 401
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.iss = "https://stranger.example"')")"
check "an unknown iss: 401" "$STATUS" 401
check "... as an invalid issuer" "$(jq -r .detail <<<"$BODY" | grep -c 'Invalid issuer')" 1
check "none of these fetched the keys again" "$(fetches)" "$before"
get "$(jwt_hs256 "$JWT_SECRET" "$(claims)")"
check "seed 000's shared secret still passes" "$STATUS" 200
id=$(identity; echo)
check "... for its own subject, with no role" "$(jq -c '[.sub, (.roles // [])]' <<<"$id" 2>/dev/null)" '["alice",[]]'
get "$(rs256 "$DIR/idp/k2.pem" k1 "$(claims)")"
check "another key under the provider's kid: 401" "$STATUS" 401

# A route that requires a scope and this issuer.
call GET /scoped -H "Authorization: Bearer $(rs256 "$DIR/idp/k1.pem" k1 "$(claims)")"
check "a route's required scope and issuer: the provider's token passes" "$STATUS" 200
call GET /scoped -H "Authorization: Bearer $(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.scope = "openid"')")"
check "without the scope: 403" "$STATUS" 403
check "... naming it" "$(jq -r .detail <<<"$BODY")" "Scopes required: process:write"
check "... in WWW-Authenticate too" "$(header www-authenticate)" 'Bearer realm="api", error="insufficient_scope", scope="process:write"'
call GET /scoped -H "Authorization: Bearer $(jwt_hs256 "$JWT_SECRET" "$(claims)")"
check "the shared secret's token on that route: 403" "$STATUS" 403
check "... naming the issuer it needs" "$(jq -r .detail <<<"$BODY")" "A token from local required; scopes required: process:write"

# A key rotated in: fetched on its first token. Then a flood of unknown kids: one fetch.
jwks "$DIR/idp/k1.pem:k1" "$DIR/idp/k2.pem:k2" "$DIR/idp/e2.pem:e2:EC" > "$DIR/idp/jwks.json.tmp" &&
  mv "$DIR/idp/jwks.json.tmp" "$DIR/idp/jwks.json"
sleep 2  # past min_refetch since the first fetch
before=$(fetches)
get "$(rs256 "$DIR/idp/k2.pem" k2 "$(claims)")"
check "a key rotated in passes on its first token" "$STATUS" 200
check "... after one fetch" "$(( $(fetches) - before ))" 1
get "$(es256 "$DIR/idp/e2.pem" e2 "$(claims)")"
check "an ES256 key rotated in with it passes, no fetch more" "$STATUS $(( $(fetches) - before ))" "200 1"
get "$(es256 "$DIR/idp/e2.pem" e1 "$(claims)")"
check "an ES256 token under another key's kid: 401" "$STATUS" 401
before=$(fetches)
token=$(rs256 "$DIR/idp/k3.pem" k3 "$(claims)")
pids=()
for i in $(seq 20); do
  "${C[@]}" -o /dev/null -w '%{http_code}\n' "$GW/echo" -H "Authorization: Bearer $token" >> "$DIR/flood" & pids+=($!)
done
wait "${pids[@]}"
check "20 tokens with a kid never published: all 401" "$(grep -c '^401$' "$DIR/flood")" 20
n=$(( $(fetches) - before ))
[ "$n" -le 2 ] && pass "... costing at most two fetches ($n)" || fail "the flood cost $n fetches"

# The provider away: the keys held keep working.
kill "$PROVIDER_PID"; wait "$PROVIDER_PID" 2>/dev/null || true; PROVIDER_PID=
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims)")"
check "the provider down: its known keys still verify" "$STATUS" 200
gateway_stop
check "the gateway exits 0 on SIGTERM" "$GW_RC" 0

# Issuers whose JWKS is past the size cap, or never comes: refused, each fetch bounded.
provider_start
cat > "$DIR/bounded.json" <<JSON
{
  "upstreams": [{"name": "auth-user"}, {"name": "echo", "url": "http://127.0.0.1:$ECHO"}],
  "routes": [{"prefix": "/echo", "methods": ["GET"], "upstream": "echo", "auth": "jwt", "rate_limited": false}],
  "issuers": [
    {"name": "huge", "issuer": "https://huge.example", "jwks_uri": "https://localhost:$IDP/huge", "audiences": ["suite-api"],
     "algorithms": ["RS256"], "ca_file": "$DIR/certs/ca.crt", "max_document_bytes": 65536},
    {"name": "slow", "issuer": "https://slow.example", "jwks_uri": "https://localhost:$IDP/slow", "audiences": ["suite-api"],
     "algorithms": ["RS256"], "ca_file": "$DIR/certs/ca.crt", "fetch_timeout_ms": 500}
  ]
}
JSON
gateway_start GATEWAY_CONFIG="$DIR/bounded.json" JWT_SECRET="$JWT_SECRET" INTERNAL_TOKEN_SECRET="$INTERNAL"
t0=$(date +%s%N)
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.iss = "https://huge.example"')")"
check "a JWKS past max_document_bytes: never taken, 401" "$STATUS" 401
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims '.iss = "https://slow.example"')")"
check "an issuer that does not answer: 401" "$STATUS" 401
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 10000 ] && pass "... both answered within the fetch bounds ($ms ms)" || fail "the bounded fetches took $ms ms"
check "the log names the size cap" "$(grep -c '"error":"JWKS: answer larger than 65536 bytes","issuer":"huge"' "$DIR/gateway.log" | awk '{print ($1 > 0)}')" 1
check "the log names the timeout" "$(grep '"issuer":"slow"' "$DIR/gateway.log" | grep -c 'JWKS fetch failed' | awk '{print ($1 > 0)}')" 1
gateway_stop
check "the gateway exits 0 on SIGTERM" "$GW_RC" 0

# A provider whose certificate does not chain to the configured CA: its keys are never taken.
make_certs "$DIR/other"
config "$DIR/other/ca.crt"
before=$(fetches)
gateway_start GATEWAY_CONFIG="$DIR/gateway.json" JWT_SECRET="$JWT_SECRET" INTERNAL_TOKEN_SECRET="$INTERNAL"
get "$(rs256 "$DIR/idp/k1.pem" k1 "$(claims)")"
check "a provider the CA does not vouch for: 401" "$STATUS" 401
check "... and its JWKS never read" "$(fetches)" "$before"
check "... the log says why" "$(grep -c '"message":"JWKS fetch failed; keeping the keys we have".*"issuer":"local"' "$DIR/gateway.log" | awk '{print ($1 > 0)}')" 1
gateway_stop
check "the gateway exits 0 on SIGTERM" "$GW_RC" 0
[ "$fails" -eq 0 ]
