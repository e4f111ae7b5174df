#!/usr/bin/env bash
# End to end: the four services against real PostgreSQL and Redis, through the gateway over TLS.
# Plays seed 000's six requests and checks statuses, bodies, and that each record reaches
# PostgreSQL and the NDJSON file; plus login, the audit query, identity bypass, rate limits and
# SIGTERM. Needs E2E_PG_DIR, E2E_PG_PORT, E2E_REDIS_PORT (tests/run sets them). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
: "${E2E_PG_DIR:?}" "${E2E_PG_PORT:?}" "${E2E_REDIS_PORT:?}"
DIR=$(mktemp -d /tmp/suite-e2e.XXXXXX)
mkdir -p "$DIR/logs"
. "$ROOT/tests/checks.sh"
cleanup() {
  local rc=$?
  [ -f "$DIR/gateway2.pid" ] && kill -TERM "$(cat "$DIR/gateway2.pid")" 2>/dev/null || true
  [ -f "$DIR/gateway3.pid" ] && kill -TERM "$(cat "$DIR/gateway3.pid")" 2>/dev/null || true
  stop_services "$DIR"
  if [ $fails -ne 0 ] || [ $rc -ne 0 ]; then for f in "$DIR"/logs/*.log; do echo "--- $f"; tail -n 30 "$f"; done; fi
  if [ -n "${E2E_KEEP:-}" ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

make_certs "$DIR/certs"
write_env "$DIR/env" "$DIR" "$E2E_PG_PORT" "$E2E_REDIS_PORT" 28000 "$DIR/secrets"
DB=suite_e2e_$(openssl rand -hex 4)  # a fresh database per run
sed -i "s|/suite\$|/$DB|" "$DIR/env"
# audit reads from the streaming replica tests/run keeps of the test PostgreSQL.
printf "AUDIT_DATABASE_READ_URL=postgresql://audit:%s@127.0.0.1:%s/%s\nDATABASE_READ_MAX_LAG_MS=60000\n" \
  "$DB_PASSWORD" "${E2E_PG_REPLICA_PORT:?}" "$DB" >> "$DIR/env"
echo "RATE_LIMIT_REQUESTS=60" >> "$DIR/env"
# Two gateways share the limits (the local fallback gives each half); under ASan a 50 ms Redis
# deadline is too tight to be the subject of this test.
printf "GATEWAY_REPLICAS=2\nREDIS_TIMEOUT_MS=1000\n" >> "$DIR/env"
echo "CORS_ORIGINS=http://localhost:3000,http://localhost:3001" >> "$DIR/env"
sed -i "s|^REDIS_URL=.*|&/1|" "$DIR/env"  # a Redis database of its own (hostile.sh uses 2), emptied below
printf "ARGON2_MEMORY_KIB=1024\nLOGIN_RATE_PER_MINUTE=30\nREGISTER_RATE_PER_MINUTE=20\n" >> "$DIR/env"
. "$DIR/secrets"; set -a; . "$DIR/env"; set +a
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null  # a rerun starts with empty rate-limit buckets
pg_setup_suite "$E2E_PG_DIR" "$E2E_PG_PORT" "$DB" "$DB_PASSWORD"
start_services "$BIN" "$DIR" "$DIR/env"
GW=https://localhost:$HTTPS_PORT
C=(curl -s --cacert "$DIR/certs/ca.crt")
for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
wait_ready "$GW/ready" --cacert "$DIR/certs/ca.crt"


echo "seed 000 through the gateway"
JWT_TOKEN=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"testuser\",\"exp\":$(( $(date +%s) + 3600 ))}")
J=(-H "Content-Type: application/json")
call POST "/process?api_key=$API_KEY" -H "Authorization: Bearer $JWT_TOKEN" "${J[@]}" \
  -d '{"dataset_id": "sales_2025_q3", "action": "summarize", "payload": {"rows": [1, 2, 3]}}'
check "2: summarize status" "$STATUS" 200
check "2: summarize data (seed 000's fields)" "$(jq -c '.data | {dataset, rows_processed, summary}' <<<"$BODY")" '{"dataset":"sales_2025_q3","rows_processed":3,"summary":"3 records processed"}'
check "2: and statistics of the numeric rows" "$(jq -c '.data.statistics' <<<"$BODY")" '{"count":3,"max":3,"mean":2,"min":1,"sum":6}'
check "2: status field" "$(jq -r .status <<<"$BODY")" success
RID2=$(jq -r .request_id <<<"$BODY")
check "2: request id echoed" "$(header x-request-id)" "$RID2"
check "2: security header" "$(header x-frame-options)" DENY
check "2: HSTS" "$(header strict-transport-security)" "max-age=31536000; includeSubDomains"
check "2: CSP" "$(header content-security-policy)" "default-src 'none'; frame-ancestors 'none'"
check "2: rate-limit header" "$(header x-ratelimit-limit)" 60

call POST /process -H "X-API-Key: $API_KEY" -H "Authorization: Bearer $JWT_TOKEN" "${J[@]}" -H "X-Request-ID: e2e-count-1" \
  -d '{"dataset_id": "inventory_2025", "action": "count", "payload": {"items": ["A", "B", "C", "D"]}}'
check "3: count status" "$STATUS" 200
check "3: count" "$(jq -c .data <<<"$BODY")" '{"count":4,"dataset":"inventory_2025","distinct":4}'
check "3: client request id kept" "$(jq -r .request_id <<<"$BODY")" e2e-count-1

call POST "/process?api_key=$API_KEY" -H "Authorization: Bearer $JWT_TOKEN" "${J[@]}" \
  -d '{"dataset_id": "sales_2025_q3", "action": "summarize", "payload": {"force_fail": true}}'
check "4: forced failure status" "$STATUS" 400
check "4: message" "$(jq -r .error.message <<<"$BODY")" "forced failure requested: payload.force_fail=true"
check "4: detail (FastAPI clients)" "$(jq -r .detail <<<"$BODY")" "forced failure requested: payload.force_fail=true"
check "4: code" "$(jq -r .error.code <<<"$BODY")" BAD_REQUEST
RID4=$(jq -r .error.request_id <<<"$BODY")

call POST /process -H "Authorization: Bearer $JWT_TOKEN" "${J[@]}" -d '{"dataset_id": "test", "action": "summarize", "payload": {}}'
check "5: missing API key status" "$STATUS" 401
check "5: message" "$(jq -r .error.message <<<"$BODY")" "API key required (query param 'api_key' or header 'X-API-Key')"
check "5: WWW-Authenticate" "$(header www-authenticate | cut -c1-6)" Bearer

call POST "/process?api_key=$API_KEY" -H "Authorization: Bearer invalid.jwt.token" "${J[@]}" \
  -d '{"dataset_id": "test", "action": "summarize", "payload": {}}'
check "6: invalid JWT status" "$STATUS" 401
check "6: message prefix" "$(jq -r .error.message <<<"$BODY" | cut -c1-19)" "Invalid JWT token: "

call POST "/process?api_key=$API_KEY" -H "Authorization: Bearer $JWT_TOKEN" "${J[@]}" -d '{"action": 3}'
check "validation status" "$STATUS" 422
check "validation fields" "$(jq -c '[.error.details.errors[].field]' <<<"$BODY")" '["dataset_id","action"]'

echo "identity"
call GET /health
check "health" "$(jq -r .status <<<"$BODY")" healthy
call POST /auth/register "${J[@]}" -d '{"username":"alice","email":"alice@example.com","password":"weak"}'
check "weak password refused" "$STATUS" 422
call POST /auth/register "${J[@]}" -d '{"username":"alice","email":"alice@example.com","password":"SecurePass123!"}'
check "register" "$STATUS" 201
call POST /auth/register "${J[@]}" -d '{"username":"alice","email":"other@example.com","password":"SecurePass123!"}'
check "taken username: 409" "$STATUS" 409
call POST /auth/login -d 'username=alice&password=SecurePass123!'
check "unverified login: 403" "$STATUS" 403
check "unverified login: code" "$(jq -r .error.code <<<"$BODY")" EMAIL_NOT_VERIFIED
call POST /auth/login -d 'username=alice&password=wrong-Pass1'
check "unverified, wrong password: 401 (nothing revealed)" "$STATUS" 401
TOKEN=$(mail_token "$MAIL_DIR" alice@example.com verify) || true
check "verification mail delivered over SMTP+STARTTLS" "${#TOKEN}" 43
call GET "/auth/verify-email?token=${TOKEN}x"
check "wrong verification token: 400" "$STATUS" 400
VERIFY_TOKEN=$TOKEN
call GET "/auth/verify-email?token=$TOKEN"
check "verify by link" "$(jq -c '[.user.username, .user.is_verified]' <<<"$BODY")" '["alice",true]'
call POST /auth/verify-email "${J[@]}" -d "{\"token\":\"$TOKEN\"}"
check "verification link is single-use" "$STATUS" 400
call POST /auth/register "${J[@]}" -d '{"username":"mallory","email":"Alice@example.com","password":"SecurePass123!"}'
check "taken e-mail: answered as a new account" "$(jq -c '[(.id > 0), .username, .is_verified]' <<<"$BODY") $STATUS" '[true,"mallory",false] 201'
check "taken e-mail: no account made" "$(call POST /auth/login -d 'username=mallory&password=SecurePass123!'; echo "$STATUS")" 401
for _ in $(seq 100); do grep -lq "Someone tried to register" "$MAIL_DIR"/new/* 2>/dev/null && break; sleep 0.1; done
check "taken e-mail: the owner is told" "$(grep -l "Someone tried to register" "$MAIL_DIR"/new/* | xargs cat | tr -d '\r' | grep -ix 'To: alice@example.com')" "To: alice@example.com"
call POST /auth/resend-verification "${J[@]}" -d '{"email":"nobody@example.com"}'
UNKNOWN="$STATUS $BODY"
call POST /auth/resend-verification "${J[@]}" -d '{"email":"alice@example.com"}'
check "resend: same answer for any address" "$STATUS $BODY" "$UNKNOWN"
call POST /auth/login -d 'username=alice&password=SecurePass123!'
check "login (form)" "$STATUS" 200
USER_TOKEN=$(jq -r .access_token <<<"$BODY")
call POST /auth/login -d 'username=alice&password=wrong'
check "bad password" "$STATUS" 401
call POST "/process?api_key=$API_KEY" -H "Authorization: Bearer $USER_TOKEN" "${J[@]}" \
  -d '{"dataset_id": "by_login", "action": "validate", "payload": {"rows": []}}'
check "login token accepted as seed 000 JWT" "$STATUS" 200
check "audit forbidden to non-admin" "$(call GET /audit/requests -H "Authorization: Bearer $USER_TOKEN"; echo "$STATUS")" 403
call POST /auth/login "${J[@]}" -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}"
check "admin login (JSON)" "$STATUS" 200
ADMIN_TOKEN=$(jq -r .access_token <<<"$BODY")

echo "database sessions ended under the services, as a PostgreSQL restart ends them"
ended=$(pg_psql "$E2E_PG_DIR" "$E2E_PG_PORT" -d postgres -tAc \
  "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$DB' AND pid <> pg_backend_pid()")
check "the services' pools had sessions to end" "$([ "$ended" -ge 2 ] && echo yes)" yes
sleep 0.2  # the servers' goodbyes reach the pooled sockets
codes=""
for _ in 1 2 3 4 5; do
  codes+="$(call GET "/audit/requests?limit=1" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS") "
  codes+="$(call GET /users/me -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS") "
done
check "every request after that is answered, none with 500" "$codes" "200 200 200 200 200 200 200 200 200 200 "

echo "sessions and profile (seed 002)"
call POST /auth/login -d 'username=alice&password=SecurePass123!'
REFRESH=$(jq -r .refresh_token <<<"$BODY"); ALICE=$(jq -r .access_token <<<"$BODY")
check "login returns a refresh token" "${#REFRESH}" 43
check "login returns a device token" "$(jq -r '.device_token | split(".") | length' <<<"$BODY")" 3
call POST /auth/refresh "${J[@]}" -d "{\"refresh_token\":\"$REFRESH\"}"
check "refresh, public at the gateway" "$STATUS" 200
NEXT=$(jq -r .refresh_token <<<"$BODY")
check "refresh rotates" "$( [ -n "$NEXT" ] && [ "$NEXT" != "$REFRESH" ] && echo yes)" yes
call GET /users/me -H "Authorization: Bearer $ALICE"
check "GET /users/me" "$(jq -c '[.username, .email, has("password_hash")]' <<<"$BODY")" '["alice","alice@example.com",false]'
call PUT /users/me -H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"email":"alice2@example.com"}'
check "PUT /users/me: new address unconfirmed" "$(jq -c '[.email, .is_verified]' <<<"$BODY")" '["alice2@example.com",false]'
TOKEN=$(mail_token "$MAIL_DIR" alice2@example.com verify) || true
check "new address confirmed by its link" "$(call POST /auth/verify-email "${J[@]}" -d "{\"token\":\"$TOKEN\"}"; jq -r .user.is_verified <<<"$BODY")" true
call GET /auth/sessions -H "Authorization: Bearer $ALICE"
check "sessions listed" "$(jq -r .count <<<"$BODY")" 2
call POST /auth/logout "${J[@]}" -d "{\"refresh_token\":\"$NEXT\"}"
check "logout" "$STATUS" 200
call POST /auth/refresh "${J[@]}" -d "{\"refresh_token\":\"$NEXT\"}"
check "refresh after logout" "$STATUS" 401
call POST /auth/change-password -H "Authorization: Bearer $ALICE" "${J[@]}" \
  -d '{"current_password":"SecurePass123!","new_password":"NewSecure456!"}'
check "change password" "$STATUS" 200
call POST /auth/login -d 'username=alice&password=NewSecure456!'
check "login with the new password" "$STATUS" 200
REFRESH=$(jq -r .refresh_token <<<"$BODY")

echo "password reset by e-mail"
call POST /auth/forgot-password "${J[@]}" -d '{"email":"nobody@example.com"}'
UNKNOWN="$STATUS $BODY"
call POST /auth/forgot-password "${J[@]}" -d '{"email":"ALICE2@example.com"}'
check "forgot-password: same answer for any address" "$STATUS $BODY" "$UNKNOWN"
check "forgot-password: 202" "$STATUS" 202
TOKEN=$(mail_token "$MAIL_DIR" alice2@example.com reset) || true
check "reset mail delivered" "${#TOKEN}" 43
call POST /auth/reset-password "${J[@]}" -d "{\"token\":\"$TOKEN\",\"new_password\":\"weak\"}"
check "reset: the policy applies" "$STATUS" 422
call POST /auth/reset-password "${J[@]}" -d "{\"token\":\"$TOKEN\",\"new_password\":\"Reset-Secure789!\"}"
check "reset: a refused password leaves the token usable" "$STATUS" 200
check "reset token is single-use" "$(call POST /auth/reset-password "${J[@]}" -d "{\"token\":\"$TOKEN\",\"new_password\":\"Other-Secure789!\"}"; echo "$STATUS")" 400
check "reset ends the sessions" "$(call POST /auth/refresh "${J[@]}" -d "{\"refresh_token\":\"$REFRESH\"}"; echo "$STATUS")" 401
check "old password refused" "$(call POST /auth/login -d 'username=alice&password=NewSecure456!'; echo "$STATUS")" 401
check "new password works" "$(call POST /auth/login -d 'username=alice&password=Reset-Secure789!'; echo "$STATUS")" 200
check "no mail token in any log" "$(grep -rlF -e "$TOKEN" -e "$VERIFY_TOKEN" "$DIR/logs" | wc -l)" 0

echo "administration (seed 004)"
call GET "/users/?search=ali&limit=10" -H "Authorization: Bearer $ADMIN_TOKEN"
check "admin lists users" "$(jq -c '[.total, .items[0].username]' <<<"$BODY")" '[1,"alice"]'
ALICE_ID=$(jq -r '.items[0].id' <<<"$BODY")
check "non-admin refused" "$(call GET /users/ -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403
check "bad limit" "$(call GET "/users/?limit=1000" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
call POST "/users/$ALICE_ID/deactivate" -H "Authorization: Bearer $ADMIN_TOKEN"
check "deactivate" "$(jq -r .is_active <<<"$BODY")" false
check "deactivated user cannot log in" "$(call POST /auth/login -d 'username=alice&password=Reset-Secure789!'; echo "$STATUS")" 403
call POST "/users/$ALICE_ID/activate" -H "Authorization: Bearer $ADMIN_TOKEN"
check "activate" "$(jq -r .is_active <<<"$BODY")" true
call PUT "/users/$ALICE_ID" -H "Authorization: Bearer $ADMIN_TOKEN" "${J[@]}" -d '{"is_verified":true}'
check "admin marks verified" "$(jq -r .is_verified <<<"$BODY")" true
call POST /users/ -H "Authorization: Bearer $ADMIN_TOKEN" "${J[@]}" -d '{"username":"bob","email":"bob@example.com","password":"SecurePass123!"}'
check "admin creates a user" "$STATUS" 201
BOB_ID=$(jq -r .id <<<"$BODY")
call DELETE "/users/$BOB_ID" -H "Authorization: Bearer $ADMIN_TOKEN"
check "admin deletes a user" "$STATUS" 204
check "deleted user gone" "$(call GET "/users/$BOB_ID" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 404

echo "API keys"
ALICE=$(call POST /auth/login -d 'username=alice&password=Reset-Secure789!'; jq -r .access_token <<<"$BODY")
call POST /api-keys -H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"name":"ci"}'
check "create: 201, shown once" "$STATUS $(jq -r '.key | test("^sk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")' <<<"$BODY")" "201 true"
KEY=$(jq -r .key <<<"$BODY"); KEY_ID=$(jq -r .id <<<"$BODY")
check "tier needs an admin" "$(call POST /api-keys -H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"name":"x","tier":"enterprise"}'; echo "$STATUS")" 403
call POST /api-keys -H "Authorization: Bearer $ADMIN_TOKEN" "${J[@]}" -d '{"name":"partner","tier":"pro"}'
check "admin gives a tier" "$(jq -r .tier <<<"$BODY")" pro
ADMIN_KEY_ID=$(jq -r .id <<<"$BODY")
call GET /api-keys -H "Authorization: Bearer $ALICE"
check "list: prefix, no secret" "$(jq -c '[.count, (.items[0].prefix == ("'"${KEY:0:11}"'")), (.items[0] | has("key"))]' <<<"$BODY")" '[1,true,false]'
# The gateway's lookup, called as the gateway does (its own signed identity), straight at auth-user.
verify() {  # verify <key>: status and body of POST /internal/api-keys/verify
  local now rid tok; now=$(date +%s); rid=e2e-verify-$RANDOM
  tok=$(jwt_hs256 "$INTERNAL_TOKEN_SECRET" "{\"iss\":\"suite-gateway\",\"aud\":\"suite-internal\",\"sub\":\"gateway\",\"amr\":\"service\",\"rid\":\"$rid\",\"mth\":\"POST\",\"pth\":\"/internal/api-keys/verify\",\"iat\":$now,\"exp\":$((now + 30))}")
  curl -s -w ' %{http_code}' -X POST "http://127.0.0.1:$AUTH_PORT/internal/api-keys/verify" -H "X-Request-ID: $rid" \
    -H "X-Internal-Identity: $tok" "${J[@]}" -d "{\"key\":\"$1\"}"
}
check "internal verify" "$(verify "$KEY" | sed 's/ 200$//' | jq -c '[.username, .tier, .roles]')" '["alice","free",["user"]]'
check "internal verify: unknown key" "$(verify "${KEY:0:54}Z" | awk '{print $NF}')" 401
# A second gateway on the same Redis: a key auth-user issued works at both, and its revocation
# reaches both within a second (each had it cached).
# It runs from a configuration file (the shipped one) and certificates of its own, both reloaded
# on SIGHUP below.
GW2_PORT=$((HTTPS_PORT + 1))  # 28444: clear of hostile.sh (29xxx), which may run alongside
cp "$ROOT/deploy/gateway/gateway.json" "$DIR/gateway2.json"
mkdir -p "$DIR/certs2" && cp "$DIR/certs/server.crt" "$DIR/certs/server.key" "$DIR/certs2/"
( set -a; . "$DIR/env"; set +a; HTTPS_PORT=$GW2_PORT METRICS_PORT=$((METRICS_PORT + 1)) HTTP_PORT=0 \
  GATEWAY_CONFIG="$DIR/gateway2.json" TLS_CERT_FILE="$DIR/certs2/server.crt" TLS_KEY_FILE="$DIR/certs2/server.key" \
  exec "$BIN/services/gateway/gateway" ) >>"$DIR/logs/gateway2.log" 2>&1 &
echo $! > "$DIR/gateway2.pid"
wait_ready "https://localhost:$GW2_PORT/ready" --cacert "$DIR/certs/ca.crt"
for _ in $(seq 50); do grep -q '"redis subscribed"' "$DIR/logs/gateway2.log" && break; sleep 0.1; done
both() {  # both <path> <curl args>: "<status at gateway 1> <status at gateway 2>"
  local p=$1; shift
  echo "$("${C[@]}" -o /dev/null -w '%{http_code}' "$GW$p" "$@") $("${C[@]}" -o /dev/null -w '%{http_code}' "https://localhost:$GW2_PORT$p" "$@")"
}
call GET /protected -H "X-API-Key: $KEY"
check "an issued key at the gateway: its owner, its prefix" "$STATUS $(jq -c '[.subject, .api_key]' <<<"$BODY")" "200 [\"alice\",\"${KEY:0:11}\"]"
check "an issued key at both gateways" "$(both /protected -H "X-API-Key: $KEY")" "200 200"
check "a well-shaped unknown key: 401" "$(both /protected -H "X-API-Key: ${KEY:0:54}Z")" "401 401"
check "internal endpoint not routed by the gateway" "$(call POST /internal/api-keys/verify "${J[@]}" -d "{\"key\":\"$KEY\"}"; echo "$STATUS")" 404
redis-cli -u "$REDIS_URL" SUBSCRIBE api-keys.revoked > "$DIR/revocations" 2>&1 & SUB=$!
sleep 0.3
check "revoke someone else's: 404" "$(call DELETE "/api-keys/$ADMIN_KEY_ID" -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 404
check "revoke own: 204" "$(call DELETE "/api-keys/$KEY_ID" -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 204
revoked_at=$(date +%s%N); refused="no"
for _ in $(seq 20); do
  [ "$(both /protected -H "X-API-Key: $KEY")" = "401 401" ] && { refused=yes; break; }; sleep 0.05
done
check "revoked key refused by both gateways within a second" "$refused $(( ($(date +%s%N) - revoked_at) < 1000000000 ))" "yes 1"
check "revoke twice: 404" "$(call DELETE "/api-keys/$KEY_ID" -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 404
sleep 0.3; kill $SUB 2>/dev/null || true
check "revocation published (hash, not key)" "$(grep -c "$(printf '%s' "$KEY" | sha256sum | cut -c1-64)" "$DIR/revocations") $(grep -c "$KEY" "$DIR/revocations")" "1 0"
check "revoked key no longer verifies" "$(verify "$KEY" | awk '{print $NF}')" 401

echo "gateway configuration file: --check-config, SIGHUP reload (file and certificate)"
check "--check-config: the shipped file" "$("$BIN/services/gateway/gateway" --check-config "$ROOT/deploy/gateway/gateway.json" 2>&1; echo "rc=$?")" \
  "$ROOT/deploy/gateway/gateway.json: ok
rc=0"
echo '{"routes": [{"prefix": "/x", "methods": ["GET"], "upstream": "billing", "auht": "none"}]}' > "$DIR/bad.json"
check "--check-config: every error with its path, exit 2" "$("$BIN/services/gateway/gateway" --check-config "$DIR/bad.json" 2>&1; echo "rc=$?")" \
  '/routes/0/auht: unknown key
/routes/0/upstream: no upstream named "billing"
rc=2'
gw2() { "${C[@]}" -o /dev/null -w '%{http_code}' "https://localhost:$GW2_PORT$1"; }
serial() { echo | openssl s_client -connect "127.0.0.1:$GW2_PORT" 2>/dev/null | openssl x509 -noout -serial; }
check "before the reload: /api/status needs credentials" "$(gw2 /api/status)" 401
OLD_SERIAL=$(serial)
jq '(.routes[] | select(.prefix == "/api/status") | .auth) = "none"' "$ROOT/deploy/gateway/gateway.json" > "$DIR/gateway2.json"
openssl x509 -req -in "$DIR/certs/server.csr" -CA "$DIR/certs/ca.crt" -CAkey "$DIR/certs/ca.key" -CAcreateserial \
  -out "$DIR/certs2/server.crt" -days 30 -extfile "$DIR/certs/server.ext" 2>/dev/null
kill -HUP "$(cat "$DIR/gateway2.pid")"
for _ in $(seq 50); do grep -q '"TLS certificate reloaded"' "$DIR/logs/gateway2.log" && break; sleep 0.1; done
check "after SIGHUP: the new route policy" "$(gw2 /api/status)" 200
check "after SIGHUP: the new certificate for new connections" "$( [ -n "$OLD_SERIAL" ] && [ "$(serial)" != "$OLD_SERIAL" ] && echo yes)" yes
echo '{"routes": 5}' > "$DIR/gateway2.json"
kill -HUP "$(cat "$DIR/gateway2.pid")"
for _ in $(seq 50); do grep -q '"configuration not reloaded"' "$DIR/logs/gateway2.log" && break; sleep 0.1; done
check "a bad file on SIGHUP: refused and logged with its path" "$(grep -c 'GATEWAY_CONFIG: /routes: must be an array' "$DIR/logs/gateway2.log")" 1
check "a bad file on SIGHUP: the old configuration stays" "$(gw2 /api/status)" 200
check "the reloading gateway kept serving" "$(kill -0 "$(cat "$DIR/gateway2.pid")" && echo alive)" alive

echo "signing keys (JWKS)"
call GET /.well-known/jwks.json
check "JWKS public at the gateway" "$STATUS $(jq -c '[.keys | length, .[0].kty, .[0].crv, .[0].alg, (.[0] | has("d"))]' <<<"$BODY")" '200 [1,"EC","P-256","ES256",false]'
KID1=$(jq -r '.keys[0].kid' <<<"$BODY")
check "rotation is an admin's" "$(call POST /auth/signing-keys/rotate -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403
call POST /auth/signing-keys/rotate -H "Authorization: Bearer $ADMIN_TOKEN"
check "rotate" "$(jq -c '.retired' <<<"$BODY")" "[\"$KID1\"]"
KID2=$(jq -r .kid <<<"$BODY")
call GET /.well-known/jwks.json
check "both keys published after a rotation" "$(jq -c '[.keys[].kid] | sort' <<<"$BODY")" "$(jq -nc --arg a "$KID1" --arg b "$KID2" '[$a, $b] | sort')"
NEW=$(call POST /auth/login "${J[@]}" -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}"; jq -r .access_token <<<"$BODY")
check "a token of the new key: accepted at once (the gateway fetches the keys again)" \
  "$(jq -r .kid <<<"$(cut -d. -f1 <<<"$NEW" | tr '_-' '/+' | base64 -d 2>/dev/null)") $(call GET /users/me -H "Authorization: Bearer $NEW"; echo "$STATUS")" "$KID2 200"
check "a token of the retired key: still accepted" "$(call GET /users/me -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 200

echo "roles come from auth-user's tokens only"
FORGED=$(jwt_hs256 "$JWT_SECRET" "{\"sub\":\"mallory\",\"roles\":[\"admin\"],\"exp\":$(( $(date +%s) + 600 ))}")
check "an HS256 token claiming admin: authenticated, no role (403)" "$(call GET /audit/requests -H "Authorization: Bearer $FORGED"; echo "$STATUS")" 403
call GET /users/me -H "Authorization: Bearer ${NEW}x"
check "a bad token: 401 with error=invalid_token" "$STATUS $(header www-authenticate)" '401 Bearer realm="api", error="invalid_token"'

echo "auth-user as an OpenID issuer: discovery, service accounts (client_credentials), a foreign gateway"
# A gateway of another deployment (its own auth-user would be JWT_ISSUER=elsewhere) that lists
# this auth-user as a foreign issuer by its discovery document. Its rate-limit counters are in a
# Redis database of their own: the refusals below do not spend this run's anonymous budget.
GW3_PORT=$((HTTPS_PORT + 2))
jq --arg d "$PUBLIC_BASE_URL/.well-known/openid-configuration" --arg ca "$DIR/certs/ca.crt" \
  '.issuers = [{name: "partner", issuer: "suite-auth", discovery_url: $d, audiences: ["suite-api"],
                algorithms: ["ES256"], ca_file: $ca}]' "$ROOT/deploy/gateway/gateway.json" > "$DIR/gateway3.json"
( set -a; . "$DIR/env"; set +a; HTTPS_PORT=$GW3_PORT METRICS_PORT=$((METRICS_PORT + 2)) HTTP_PORT=0 JWT_ISSUER=elsewhere \
  REDIS_URL="${REDIS_URL%/[0-9]*}/2" RATE_LIMIT_REQUESTS=100000 GATEWAY_CONFIG="$DIR/gateway3.json" \
  exec "$BIN/services/gateway/gateway" ) >>"$DIR/logs/gateway3.log" 2>&1 &
echo $! > "$DIR/gateway3.pid"
wait_ready "https://localhost:$GW3_PORT/ready" --cacert "$DIR/certs/ca.crt"
G3=https://localhost:$GW3_PORT
call GET /.well-known/openid-configuration
check "discovery public at the gateway" "$STATUS $(jq -c '[.issuer, .jwks_uri, .token_endpoint, .grant_types_supported]' <<<"$BODY")" \
  "200 [\"suite-auth\",\"$PUBLIC_BASE_URL/.well-known/jwks.json\",\"$PUBLIC_BASE_URL/oauth/token\",[\"client_credentials\"]]"
check "service accounts are an admin's" "$(call POST /auth/clients -H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"name":"x"}'; echo "$STATUS")" 403
call POST /auth/clients -H "Authorization: Bearer $NEW" "${J[@]}" -d '{"name":"reporting","scopes":["process:write","jobs:read"],"tier":"pro"}'
check "a service account: 201, its secret shown once" "$STATUS $(jq -c '[.scopes, .tier, (.client_secret | length)]' <<<"$BODY")" \
  '201 [["process:write","jobs:read"],"pro",67]'
CLIENT_ID=$(jq -r .client_id <<<"$BODY") CLIENT_SECRET=$(jq -r .client_secret <<<"$BODY")
F=(-H 'Content-Type: application/x-www-form-urlencoded')
call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:$CLIENT_SECRET" -d 'grant_type=client_credentials&scope=jobs:read'
check "client_credentials (Basic, passed on by the gateway): a bearer token for the scopes asked" \
  "$STATUS $(jq -c '[.token_type, .scope, .expires_in]' <<<"$BODY") $(header cache-control)" '200 ["Bearer","jobs:read",900] no-store'
CLIENT_TOKEN=$(jq -r .access_token <<<"$BODY")
check "its claims: the client as subject, scope, tier" \
  "$(cut -d. -f2 <<<"$CLIENT_TOKEN" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -c '[.sub, .scope, .tier, .iss, .aud]')" \
  "[\"client:$CLIENT_ID\",\"jobs:read\",\"pro\",\"suite-auth\",\"suite-api\"]"
GW=$G3 call POST /oauth/token "${F[@]}" -d "grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET"
check "client_secret_post, no scope asked: all of the client's" "$STATUS $(jq -r .scope <<<"$BODY")" "200 process:write jobs:read"
GW=$G3 call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:${CLIENT_SECRET}x" -d 'grant_type=client_credentials'
check "a wrong secret: 401 invalid_client (RFC 6749 5.2)" "$STATUS $(jq -r .error <<<"$BODY") $(header www-authenticate)" '401 invalid_client Basic realm="oauth"'
GW=$G3 call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:$CLIENT_SECRET" -d 'grant_type=client_credentials&scope=admin'
check "a scope the client lacks: 400 invalid_scope" "$STATUS $(jq -r .error <<<"$BODY")" "400 invalid_scope"
GW=$G3 call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:$CLIENT_SECRET" -d 'grant_type=password&username=admin'
check "another grant: 400 unsupported_grant_type" "$STATUS $(jq -r .error <<<"$BODY")" "400 unsupported_grant_type"
GW=$G3 call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:$CLIENT_SECRET" -d "grant_type=client_credentials&client_id=$CLIENT_ID"
check "credentials twice: 400 invalid_request" "$STATUS $(jq -r .error <<<"$BODY")" "400 invalid_request"
call GET /protected -H "Authorization: Bearer $CLIENT_TOKEN"
check "the client's token at the gateway: its subject" "$STATUS $(jq -r .subject <<<"$BODY")" "200 client:$CLIENT_ID"
GW=$G3 call GET /protected -H "Authorization: Bearer $CLIENT_TOKEN"
check "the foreign gateway takes auth-user's token through its discovery document" "$STATUS $(jq -r .subject <<<"$BODY")" \
  "200 partner:client:$CLIENT_ID"
GW=$G3 call GET /protected -H "Authorization: Bearer $NEW"
check "... an admin's too, as the partner's user" "$STATUS $(jq -r .subject <<<"$BODY")" "200 partner:admin"
GW=$G3 call GET /audit/requests -H "Authorization: Bearer $NEW"
check "... whose roles the partner's block does not map: 403 on an admin route" "$STATUS" 403
check "revoke the service account" "$(call DELETE "/auth/clients/$CLIENT_ID" -H "Authorization: Bearer $NEW"; echo "$STATUS")" 200
GW=$G3 call POST /oauth/token "${F[@]}" -u "$CLIENT_ID:$CLIENT_SECRET" -d 'grant_type=client_credentials'
check "a revoked client gets no token" "$STATUS $(jq -r .error <<<"$BODY")" "401 invalid_client"
kill -TERM "$(cat "$DIR/gateway3.pid")"; rm -f "$DIR/gateway3.pid"

echo "TOTP second factor"
totp() {  # totp <base32 secret> <offset seconds>: the RFC 6238 code, as an authenticator app makes it
  python3 -c 'import base64,hmac,struct,sys,time
s=base64.b32decode(sys.argv[1]+"="*(-len(sys.argv[1])%8)); c=struct.pack(">Q",int((time.time()+int(sys.argv[2]))//30))
h=hmac.new(s,c,"sha1").digest(); o=h[-1]&15; print("%06d"%((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$1" "$2"
}
call POST /auth/totp/enroll -H "Authorization: Bearer $ALICE"
SECRET=$(jq -r .secret <<<"$BODY")
check "enrol: secret and otpauth URI" "$(jq -r '.otpauth_url | startswith("otpauth://totp/")' <<<"$BODY") ${#SECRET}" "true 32"
call POST /auth/totp/confirm -H "Authorization: Bearer $ALICE" "${J[@]}" -d "{\"code\":\"$(totp "$SECRET" 0)\"}"
check "confirm: ten recovery codes" "$STATUS $(jq '.recovery_codes | length' <<<"$BODY")" "200 10"
RECOVERY=$(jq -r '.recovery_codes[0]' <<<"$BODY")
call POST /auth/login -d 'username=alice&password=Reset-Secure789!'
check "password alone: 401 MFA_REQUIRED, with WWW-Authenticate" "$STATUS $(jq -r .error.code <<<"$BODY") $(header www-authenticate | cut -c1-6)" "401 MFA_REQUIRED Bearer"
call POST /auth/login -H "X-TOTP-Code: $(totp "$SECRET" 30)" -d 'username=alice&password=Reset-Secure789!'
check "password and code" "$STATUS" 200
ALICE=$(jq -r .access_token <<<"$BODY")
check "the same code twice: refused" "$(call POST /auth/login -d "username=alice&password=Reset-Secure789!&totp_code=$(totp "$SECRET" 30)"; echo "$STATUS")" 401
check "disable with a wrong code: 401" "$(call POST /auth/totp/disable -H "Authorization: Bearer $ALICE" "${J[@]}" -d '{"password":"Reset-Secure789!","code":"000000"}'; echo "$STATUS")" 401
call POST /auth/totp/disable -H "Authorization: Bearer $ALICE" "${J[@]}" -d "{\"password\":\"Reset-Secure789!\",\"code\":\"$RECOVERY\"}"
check "disable with password and a recovery code" "$STATUS $(jq -r .enabled <<<"$BODY")" "200 false"

echo "security events (seed 002)"
for _ in $(seq 50); do
  call GET "/security/events?hours=24&limit=100" -H "Authorization: Bearer $ADMIN_TOKEN"
  [ "$(jq '[.items[].event_type] | index("admin_user_delete")' <<<"$BODY")" != null ] 2>/dev/null && break; sleep 0.1
done
check "security events for the admin" "$STATUS" 200
check "event types recorded" "$(jq -c '[.items[].event_type] | unique | map(select(. == "register" or . == "login_success" or . == "login_failure" or . == "password_change" or . == "admin_user_deactivate" or . == "admin_user_delete"))' <<<"$BODY")" \
  '["admin_user_deactivate","admin_user_delete","login_failure","login_success","password_change","register"]'
check "event fields" "$(jq -r '[.items[] | select(.event_type == "password_change")][0] | [.username, .client_ip, .severity] | join(",")' <<<"$BODY")" "alice,127.0.0.1,INFO"
call GET "/security/events?severity=WARNING" -H "Authorization: Bearer $ADMIN_TOKEN"
check "severity filter" "$(jq -r '[.items[].severity] | unique | join(",")' <<<"$BODY")" WARNING
check "hours validated" "$(call GET "/security/events?hours=0" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
check "events refused to non-admin" "$(call GET /security/events -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403
call GET /security/health -H "Authorization: Bearer $ALICE"
check "security health for any user" "$(jq -c '[.window_hours, (.failed_logins >= 1)]' <<<"$BODY")" '[24,true]'
check "no secret in security events" "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc \
  "SELECT count(*) FROM audit.security_events WHERE row_to_json(security_events)::text ~ 'SecurePass123|NewSecure456|Reset-Secure789|argon2'")" 0

echo "audit trail"
for _ in $(seq 50); do
  call GET "/audit/requests?limit=100" -H "Authorization: Bearer $ADMIN_TOKEN"
  [ "$(jq -r .count <<<"$BODY")" -ge 5 ] 2>/dev/null && break; sleep 0.1
done
check "audit query" "$STATUS" 200
check "audit read from the streaming replica (DATABASE_READ_URL)" "$(header x-read-from)" replica
check "records (2,3,4,422,login)" "$(jq -r .count <<<"$BODY")" 5
check "newest first" "$(jq -r '.items[0].dataset_id' <<<"$BODY")" by_login
call GET "/audit/requests?request_id=$RID4" -H "Authorization: Bearer $ADMIN_TOKEN"
check "failure record" "$(jq -c '.items[0] | [.status, .http_status, .output, .action]' <<<"$BODY")" \
  '["failure",400,"forced failure requested: payload.force_fail=true","summarize"]'
call GET "/audit/requests?status=success&dataset_id=sales_2025_q3" -H "Authorization: Bearer $ADMIN_TOKEN"
check "filtered success record" "$(jq -c '[.count, .items[0].request_id, .items[0].output.rows_processed]' <<<"$BODY")" "[1,\"$RID2\",3]"
check "client recorded" "$(jq -r '.items[0].client' <<<"$BODY")" 127.0.0.1
echo "access events (every answer of the gateway, refusals with their reason)"
for _ in $(seq 50); do
  call GET "/audit/access?request_id=$RID2" -H "Authorization: Bearer $ADMIN_TOKEN"
  [ "$(jq -r .count <<<"$BODY")" = 1 ] 2>/dev/null && break; sleep 0.1
done
check "an answered request (over h2: curl's choice by ALPN)" "$(jq -c '.items[0] | [.method, .route, .path, .http_status, .reason, .tier, .key_id, .auth_method, .protocol]' <<<"$BODY")" \
  '["POST","/process","/process",200,"-","enterprise","local","api_key+jwt","h2"]'
H1_RID="e2e-h1-$(openssl rand -hex 6)"
"${C[@]}" -o /dev/null --http1.1 -H "X-Request-ID: $H1_RID" "$GW/health"
for _ in $(seq 50); do
  call GET "/audit/access?request_id=$H1_RID&protocol=h1" -H "Authorization: Bearer $ADMIN_TOKEN"
  [ "$(jq -r .count <<<"$BODY")" = 1 ] 2>/dev/null && break; sleep 0.1
done
check "an HTTP/1.1 request's event says h1 (and the protocol filter finds it)" "$(jq -r '.items[0].protocol' <<<"$BODY")" h1
check "access log: protocol validated" "$(call GET "/audit/access?protocol=h3" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
call GET "/audit/access?reason=unauthenticated&limit=1" -H "Authorization: Bearer $ADMIN_TOKEN"
check "a refusal, with its reason" "$(jq -c '.items[0] | [.http_status, .reason, .auth_method, .tier]' <<<"$BODY")" '[401,"unauthenticated","none","anonymous"]'
check "access log is an admin's" "$(call GET /audit/access -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403
check "access log: limit validated" "$(call GET "/audit/access?limit=0" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
check "no key or query string in the access log" "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc \
  "SELECT count(*) FROM audit.access_events WHERE row_to_json(access_events)::text LIKE '%$API_KEY%' OR path LIKE '%?%'")" 0
call GET "/audit/requests?limit=0" -H "Authorization: Bearer $ADMIN_TOKEN"
check "bad limit" "$STATUS" 422
check "PostgreSQL rows" "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc 'SELECT count(*) FROM audit.requests')" 5
check "audit rows: the service's role may not delete" "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc 'DELETE FROM audit.requests' 2>&1 | grep -c 'permission denied')" 1
check "audit rows: nor may their owner (the trigger)" "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit_owner "$DB" -tAc 'DELETE FROM audit.requests' 2>&1 | grep -c 'append-only')" 1
check "NDJSON lines" "$(wc -l < "$AUDIT_LOG_FILE")" 5
check "NDJSON record" "$(grep "$RID2" "$AUDIT_LOG_FILE" | jq -c '[.status, .http_status, .duration_ms >= 0, .output.summary]')" \
  '["success",200,true,"3 records processed"]'
check "NDJSON line: its user, event id and place in the chain" "$(grep "$RID2" "$AUDIT_LOG_FILE" | jq -c '[(.event_id | length), (.chain_seq > 0), (.hash | length)]')" '[36,true,64]'

echo "audit queries: time range, cursor pages, export, stats, verify"
call GET "/audit/requests?limit=100" -H "Authorization: Bearer $ADMIN_TOKEN"
ALL=$BODY
call GET "/audit/requests?since=2000-01-01&until=2000-01-02T00:00:00Z" -H "Authorization: Bearer $ADMIN_TOKEN"
check "a range with nothing in it" "$(jq -c '[.count, .next_cursor]' <<<"$BODY")" '[0,null]'
call GET "/audit/requests?since=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" -H "Authorization: Bearer $ADMIN_TOKEN"
check "the last hour: every record" "$(jq -r .count <<<"$BODY")" 5
call GET "/audit/requests?since=yesterday" -H "Authorization: Bearer $ADMIN_TOKEN"
check "a bad timestamp: 422 naming it" "$STATUS $(jq -r '.error.details.errors[0].field' <<<"$BODY")" "422 since"
check "until before since: 422" "$(call GET "/audit/requests?since=2025-01-02&until=2025-01-01" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
check "a forged cursor: 422" "$(call GET "/audit/requests?cursor=abc" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
call GET "/audit/requests?limit=2" -H "Authorization: Bearer $ADMIN_TOKEN"
P1=$(jq -c '[.items[].request_id]' <<<"$BODY"); CUR=$(jq -r .next_cursor <<<"$BODY")
call GET "/audit/requests?limit=2&cursor=$CUR" -H "Authorization: Bearer $ADMIN_TOKEN"
P2=$(jq -c '[.items[].request_id]' <<<"$BODY"); CUR=$(jq -r .next_cursor <<<"$BODY")
call GET "/audit/requests?limit=2&cursor=$CUR" -H "Authorization: Bearer $ADMIN_TOKEN"
check "pages of 2: the records in order, each once" "$(jq -c -s 'add' <<<"$P1 $P2 $(jq -c '[.items[].request_id]' <<<"$BODY")")" \
  "$(jq -c '[.items[].request_id]' <<<"$ALL")"
check "the last page has no cursor" "$(jq -r .next_cursor <<<"$BODY")" null
call GET "/audit/export?limit=3" -H "Authorization: Bearer $ADMIN_TOKEN"
check "export: NDJSON" "$STATUS $(header content-type)" "200 application/x-ndjson"
check "export: a page of 3 lines" "$(printf '%s' "$BODY" | jq -c -s 'length')" 3
NEXT=$(header link | sed -n 's/^<\([^>]*\)>; rel="next"$/\1/p')
check "export: the next page's cursor and link" "$( [ -n "$(header x-next-cursor)" ] && [[ "$NEXT" == /audit/export\?limit=3\&cursor=* ]] && echo yes)" yes
E1=$BODY
call GET "$NEXT" -H "Authorization: Bearer $ADMIN_TOKEN"
check "export: following the link, the rest, then no link" "$(printf '%s\n%s' "$E1" "$BODY" | jq -c -s '[.[].request_id]') $(header link)" \
  "$(jq -c '[.items[].request_id]' <<<"$ALL") "
call GET /audit/stats -H "Authorization: Bearer $ADMIN_TOKEN"
check "stats: counts by status, as the records say" "$(jq -c '[.total, .by_status.success, .by_status.failure]' <<<"$BODY")" \
  "$(jq -c '[.count, ([.items[] | select(.status == "success")] | length), ([.items[] | select(.status == "failure")] | length)]' <<<"$ALL")"
check "stats: average duration by action" "$(jq -c '[.by_action[] | select(.action == "summarize") | (.avg_duration_ms >= 0)]' <<<"$BODY")" '[true]'
check "stats: a bad range is 422" "$(call GET "/audit/stats?until=2025-13-01" -H "Authorization: Bearer $ADMIN_TOKEN"; echo "$STATUS")" 422
call GET /audit/verify -H "Authorization: Bearer $ADMIN_TOKEN"
check "verify: every chain whole" "$(jq -c '[.valid, .chains.requests.valid, .chains.requests.records, .chains.access_events.valid]' <<<"$BODY")" '[true,true,5,true]'
check "verify is an admin's" "$(call GET /audit/verify -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403
check "export is an admin's" "$(call GET /audit/export -H "Authorization: Bearer $ALICE"; echo "$STATUS")" 403

echo "edges"
check "direct call without identity" "$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$PROCESSING_PORT/process -H 'X-Internal-Identity: forged' -d '{}')" 401
call GET /protected -H "X-API-Key: $API_KEY"
check "seed 001 /protected" "$(jq -c '[.message, .api_key]' <<<"$BODY")" '["Access granted to protected resource","local"]'
check "seed 001 /protected without key" "$(call GET /protected; echo "$STATUS")" 401
call GET /api/status -H "X-API-Key: $API_KEY"
check "seed 001 /api/status" "$(jq -r .rate_limiting.limit <<<"$BODY")" "60 requests per 60s"
check "metrics not on the public listener" "$(call GET /metrics; echo "$STATUS")" 404
check "metrics on METRICS_PORT" "$(curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep -c '^gateway_ratelimit_decisions_total{decision="allowed"}')" 1
check "unknown path" "$(call GET /nope; echo "$STATUS")" 404
call POST /api/test -H "X-API-Key: $API_KEY" "${J[@]}" -d '{"test_name":"sample_test","iterations":10}'
check "seed 001 /api/test" "$(jq -c '[.success, .received_data.iterations]' <<<"$BODY")" '[true,10]'
call OPTIONS /process -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: x-api-key, authorization, content-type'
check "CORS preflight without credentials (seed 001)" "$STATUS $(header access-control-allow-origin) $(header access-control-max-age)" "200 http://localhost:3000 600"
check "CORS preflight from another origin: 400" "$(call OPTIONS /process -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST'; echo "$STATUS")" 400
call POST /process -H 'Origin: http://localhost:3000' "${J[@]}" -d '{}'
check "CORS headers on a refusal too" "$STATUS $(header access-control-allow-origin) $(header access-control-allow-credentials)" "401 http://localhost:3000 true"
check "untrusted Host: 400 (seed 001)" "$(call GET /health -H 'Host: evil.example'; echo "$STATUS $(jq -r .error.message <<<"$BODY")")" "400 Invalid host header"
check "X-Cloud-Trace-Context as the request id (seed 003)" \
  "$(call GET /health -H 'X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000/1;o=1'; header x-request-id)" 105445aa7843bc8bf206b12000100000
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
call POST /api/test -H "X-API-Key: $API_KEY" -H "traceparent: $TP" "${J[@]}" -d '{}'
sleep 0.2
check "one trace id in the gateway's and the service's log lines (W3C traceparent)" \
  "$(grep -h '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"' "$DIR/logs/gateway.log" "$DIR/logs/processing.log" | jq -r .service | sort -u | xargs)" "gateway processing"
check "TLS 1.1 refused" "$(echo | openssl s_client -connect 127.0.0.1:$HTTPS_PORT -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1; echo $?)" 1
# Seed 003's tier body limits hold end to end: the service behind takes what the gateway
# admitted for the caller's tier (free: 5 MB), past its own 1 MiB default, and no more.
# (2,048 strings of 2 KiB: within the JSON limits on strings and elements, which stay.)
python3 -c 'import json; print(json.dumps({"test_name": "big", "chunks": ["x" * 2048] * 2048}))' > "$DIR/4mb.json"
python3 -c 'import json; print(json.dumps({"test_name": "big", "chunks": ["x" * 2048] * 3072}))' > "$DIR/6mb.json"
call POST /api/test -H "X-API-Key: $API_KEY_2" "${J[@]}" --data-binary @"$DIR/4mb.json"
check "a free key's 4 MB body: taken by processing too" "$STATUS $(jq -r '.received_data.chunks | length' <<<"$BODY")" "200 2048"
call POST /api/test -H "X-API-Key: $API_KEY_2" "${J[@]}" --data-binary @"$DIR/6mb.json"
check "... 6 MB: 413 at the gateway, the tier's cap named" "$STATUS $(jq -c '[.error.details.limit_bytes, .error.details.tier]' <<<"$BODY")" '413 [5242880,"free"]'
redis-cli -u "$REDIS_URL" DEL 'rl:{key:local-free}' >/dev/null  # this test's own bucket
codes=""
for _ in $(seq 61); do codes="$codes $("${C[@]}" -o /dev/null -w '%{http_code}' -X POST "$GW/api/test" -H "X-API-Key: $API_KEY_2" "${J[@]}" -d '{}')"; done
check "rate limit: 60 pass, 61st refused" "$(echo $codes | tr ' ' '\n' | sort | uniq -c | tr -s ' ' | xargs)" "60 200 1 429"
call POST /api/test -H "X-API-Key: $API_KEY_2" "${J[@]}" -d '{}'
check "429 envelope" "$(jq -r .error.code <<<"$BODY")" RATE_LIMIT_EXCEEDED
check "429 timestamp (seed 001)" "$(jq -r '.timestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' <<<"$BODY")" true
[ -n "$(header retry-after)" ] && pass "Retry-After present" || fail "Retry-After missing"
# Two gateways, one Redis, a concurrent burst of 90 split between them: exactly the limit passes.
redis-cli -u "$REDIS_URL" DEL 'rl:{key:local}' >/dev/null
burst=$(for i in $(seq 90); do if [ $((i % 2)) = 0 ]; then echo "$GW"; else echo "https://localhost:$GW2_PORT"; fi; done |
  xargs -P 30 -I@@ "${C[@]}" -o /dev/null -w '%{http_code}\n' -X POST "@@/api/test" -H "X-API-Key: $API_KEY" "${J[@]}" -d '{}' |
  sort | uniq -c | tr -s ' ' | xargs)
check "two gateways, a concurrent burst of 90: exactly 60 admitted" "$burst" "60 200 30 429"

echo "configuration errors"
out=$(env -i PATH="$PATH" HTTPS_PORT=99999 JWT_SECRET=short "$BIN/services/gateway/gateway" 2>&1) && rc=0 || rc=$?
check "gateway: bad config exits 2" "$rc" 2
check "gateway: names each variable" "$(grep -c 'configuration error' <<<"$out")" 7
check "gateway: says what is wrong" "$(grep 'HTTPS_PORT' <<<"$out")" "gateway: configuration error: HTTPS_PORT: must be between 0 and 65535"
check "secret value never echoed" "$(grep -c short <<<"$out")" 0
for svc in auth-user processing audit; do
  env -i PATH="$PATH" "$BIN/services/$svc/$svc" >/dev/null 2>&1 && rc=0 || rc=$?
  check "$svc: missing config exits 2" "$rc" 2
done

echo "graceful stop"
stop_checked "$DIR"

echo "no secret in any log or event"
SECRETS=("SecurePass123!" "NewSecure456!" "Reset-Secure789!" "$ADMIN_PASSWORD" "$KEY" "$SECRET" "$RECOVERY" "$REFRESH" "$ALICE" "$VERIFY_TOKEN" "$JWT_SECRET" "$INTERNAL_TOKEN_SECRET" "$SIGNING_KEYS_SECRET" "$DB_PASSWORD")
leaks=0
for s in "${SECRETS[@]}"; do
  [ -n "$s" ] || { fail "a secret to look for is empty"; continue; }
  grep -rqF -- "$s" "$DIR/logs" && { fail "found in the logs: ${s:0:6}…"; leaks=$((leaks + 1)); }
  n=$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc \
    "SELECT count(*) FROM audit.security_events WHERE strpos(row_to_json(security_events)::text, \$q\$$s\$q\$) > 0")
  [ "$n" = 0 ] || { fail "found in security events: ${s:0:6}…"; leaks=$((leaks + 1)); }
done
check "${#SECRETS[@]} secrets looked for in $(ls "$DIR/logs" | wc -l) logs and the security events" "$leaks" 0

echo "e2e: $fails failure(s)"
[ $fails -eq 0 ]
