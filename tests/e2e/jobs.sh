#!/usr/bin/env bash
# End to end: seed 003's jobs through the TLS gateway, against real PostgreSQL and Redis. A job
# is queued (202, Location), run by a worker and shown to its owner (and admins) only; a failing
# job is retried and ends as failed; a queued job is cancelled, a finished one is not; unknown
# ids are JOB_NOT_FOUND; a job whose worker died (a running row with a stale heartbeat) is taken
# back and completed; processing killed with -9 while jobs are queued loses none; each finished
# job's record reaches the audit log; the job metrics are exported. Needs E2E_PG_DIR,
# E2E_PG_PORT, E2E_REDIS_PORT (tests/run sets them). $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
: "${E2E_PG_DIR:?}" "${E2E_PG_PORT:?}" "${E2E_REDIS_PORT:?}"
DIR=$(mktemp -d /tmp/suite-jobs.XXXXXX)
mkdir -p "$DIR/logs"
. "$ROOT/tests/checks.sh"
cleanup() {
  local rc=$?
  stop_services "$DIR"
  if [ $fails -ne 0 ] || [ $rc -ne 0 ]; then for f in "$DIR"/logs/*.log; do echo "--- $f"; tail -n 30 "$f"; done; fi
  if [ -n "${E2E_KEEP:-}" ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

make_certs "$DIR/certs"
# Port base 27000: under the kernel's ephemeral range (32768-60999), which clients' sockets take.
write_env "$DIR/env" "$DIR" "$E2E_PG_PORT" "$E2E_REDIS_PORT" 27000 "$DIR/secrets"
DB=suite_jobs_$(openssl rand -hex 4)
sed -i "s|/suite\$|/$DB|" "$DIR/env"
sed -i "s|^REDIS_URL=.*|&/3|" "$DIR/env"  # a Redis database of its own (seed000.sh 1, hostile.sh 2)
cat >> "$DIR/env" <<ENV
ARGON2_MEMORY_KIB=1024
RATE_LIMIT_REQUESTS=100000
JOBS_WORKERS=2
JOBS_MAX_ATTEMPTS=3
JOBS_RETRY_BASE_MS=50
JOBS_HEARTBEAT_MS=200
JOBS_STALE_MS=1500
JOBS_POLL_MS=50
JOBS_MAX_OPEN_PER_OWNER=40
ENV
. "$DIR/secrets"; set -a; . "$DIR/env"; set +a
redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
pg_setup_suite "$E2E_PG_DIR" "$E2E_PG_PORT" "$DB" "$DB_PASSWORD"
start_services "$BIN" "$DIR" "$DIR/env"
GW=https://localhost:$HTTPS_PORT
C=(curl -s --cacert "$DIR/certs/ca.crt")
for p in $AUTH_PORT $PROCESSING_PORT $AUDIT_PORT; do wait_ready "http://127.0.0.1:$p/ready"; done
wait_ready "$GW/ready" --cacert "$DIR/certs/ca.crt"
psql_jobs() { PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U processing "$DB" -tAc "$1"; }

token() { jwt_hs256 "$JWT_SECRET" "{\"sub\":\"$1\",\"exp\":$(( $(date +%s) + 3600 ))}"; }
ALICE=(-H "Authorization: Bearer $(token alice)")
BOB=(-H "Authorization: Bearer $(token bob)")
J=(-H "Content-Type: application/json")
# wait_status <id> <status> [auth args]: polls GET /jobs/{id} (10 s); sets BODY
wait_status() {
  local id=$1 want=$2; shift 2
  for _ in $(seq 100); do
    call GET "/jobs/$id" "$@"
    [ "$(jq -r .status <<<"$BODY")" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}

echo "a job, queued and run (seed 003)"
call POST /jobs "${ALICE[@]}" "${J[@]}" -d '{"dataset_id":"inventory_2025","action":"count","payload":{"items":["A","B","C"]}}'
check "POST /jobs: 202" "$STATUS" 202
ID=$(jq -r .job_id <<<"$BODY")
RID=$(jq -r .request_id <<<"$BODY")
check "the answer: job id, queued, its status URL" "$(jq -c '[.status, (.job_id | test("^[0-9a-f-]{36}$")), .status_url]' <<<"$BODY")" \
  "[\"queued\",true,\"/jobs/$ID\"]"
check "Location" "$(header location)" "/jobs/$ID"
wait_status "$ID" completed "${ALICE[@]}" && pass "the job completes" || fail "the job did not complete: $BODY"
check "its result is POST /process's data" "$(jq -c '[.result, .attempts, .error, .dataset_id, .action]' <<<"$BODY")" \
  '[{"count":3,"dataset":"inventory_2025","distinct":3},1,null,"inventory_2025","count"]'
check "timestamps" "$(jq -c '[.created_at, .started_at, .finished_at] | map(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T"))' <<<"$BODY")" '[true,true,true]'
call GET "/jobs/$ID" "${BOB[@]}"
check "another user: 404, as if it did not exist" "$STATUS $(jq -r .error.code <<<"$BODY")" "404 JOB_NOT_FOUND"
call GET "/jobs/$ID" -H "X-API-Key: $API_KEY"
check "an API key is not the user" "$STATUS" 404
call POST /auth/login "${J[@]}" -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASSWORD\"}"
ADMIN=(-H "Authorization: Bearer $(jq -r .access_token <<<"$BODY")")
call GET "/jobs/$ID" "${ADMIN[@]}"
check "an administrator sees it" "$STATUS $(jq -r .status <<<"$BODY")" "200 completed"
call DELETE "/jobs/$ID" "${ALICE[@]}"
check "a finished job cannot be cancelled: 409" "$STATUS $(jq -r .error.code <<<"$BODY") $(jq -r .error.details.status <<<"$BODY")" "409 CONFLICT completed"

echo "errors"
call GET /jobs/00000000-0000-4000-8000-000000000000 "${ALICE[@]}"
check "unknown job: seed 003's JOB_NOT_FOUND with the id" \
  "$STATUS $(jq -c '[.error.code, .error.message, .error.details.job_id]' <<<"$BODY")" \
  '404 ["JOB_NOT_FOUND","Job not found: 00000000-0000-4000-8000-000000000000","00000000-0000-4000-8000-000000000000"]'
call GET "/jobs/not-a-uuid" "${ALICE[@]}"
check "malformed id: 404 too" "$STATUS $(jq -r .error.details.job_id <<<"$BODY")" "404 not-a-uuid"
call POST /jobs "${ALICE[@]}" "${J[@]}" -d '{"action":5}'
check "invalid body: 422 naming the fields, no job made" "$STATUS $(jq -c '[.error.details.errors[].field]' <<<"$BODY")" '422 ["dataset_id","action"]'
call POST /jobs "${J[@]}" -d '{"dataset_id":"d","action":"count"}'
check "no credentials: 401" "$STATUS" 401

echo "retries, then failure"
call POST /jobs "${ALICE[@]}" "${J[@]}" -d '{"dataset_id":"d","action":"summarize","payload":{"force_fail":true}}'
FAILING=$(jq -r .job_id <<<"$BODY")
wait_status "$FAILING" failed "${ALICE[@]}" && pass "the failing job ends as failed" || fail "not failed: $BODY"
check "after 3 attempts, with the run's error" "$(jq -c '[.attempts, .error.code, .error.message]' <<<"$BODY")" \
  '[3,"BAD_REQUEST","forced failure requested: payload.force_fail=true"]'

check "failures counted once per job, not per attempt" \
  "$(curl -s "http://127.0.0.1:$PROCESSING_PORT/metrics" | grep '^jobs_completed_total{job_type="summarize",status="failure"}' | awk '{print $2}')" 1

echo "cancelling a queued job"
# Queued and due in an hour (as a retry's backoff leaves one), so that no worker takes it first.
psql_jobs "INSERT INTO processing.jobs (id, owner, request_id, dataset_id, action, body, max_attempts, run_after)
  VALUES ('22222222-2222-4222-8222-222222222222', 'user:alice', 'later-1', 'd', 'validate',
  '{\"dataset_id\":\"d\",\"action\":\"validate\"}', 3, now() + interval '1 hour')" >/dev/null
call DELETE /jobs/22222222-2222-4222-8222-222222222222 "${BOB[@]}"
check "another user cannot cancel it" "$STATUS" 404
call DELETE /jobs/22222222-2222-4222-8222-222222222222 "${ALICE[@]}"
check "its owner can" "$STATUS $(jq -r .status <<<"$BODY")" "200 cancelled"
call DELETE /jobs/22222222-2222-4222-8222-222222222222 "${ALICE[@]}"
check "once" "$STATUS" 409

echo "a dead worker's job is taken back"
psql_jobs "INSERT INTO processing.jobs (id, owner, request_id, dataset_id, action, body, status, attempts, max_attempts,
  worker, heartbeat_at, started_at) VALUES ('11111111-1111-4111-8111-111111111111', 'user:alice', 'lost-1', 'd', 'count',
  '{\"dataset_id\":\"d\",\"action\":\"count\",\"payload\":{\"items\":[1]}}', 'running', 1, 3, 'dead:1:x',
  now() - interval '1 minute', now() - interval '1 minute')" >/dev/null
wait_status 11111111-1111-4111-8111-111111111111 completed "${ALICE[@]}" && pass "completed by a live worker" || fail "not taken back: $BODY"
check "on its second attempt" "$(jq -r .attempts <<<"$BODY")" 2

echo "processing killed (-9) with jobs queued: none lost"
# A replica that only queues (JOBS_WORKERS=0), so that the jobs are surely waiting when it dies.
kill -TERM "$(cat "$DIR/processing.pid")"; wait "$(cat "$DIR/processing.pid")" 2>/dev/null || true
rm -f "$DIR/processing.pid"
{ cat "$DIR/env"; echo JOBS_WORKERS=0; } > "$DIR/env.queue-only"
start_services "$BIN" "$DIR" "$DIR/env.queue-only"
wait_ready "http://127.0.0.1:$PROCESSING_PORT/ready"
ids=()
for i in $(seq 20); do
  call POST /jobs -H "X-API-Key: $API_KEY" "${J[@]}" -d "{\"dataset_id\":\"bulk\",\"action\":\"count\",\"payload\":{\"items\":[$(seq -s, "$i")]}}"
  [ "$STATUS" = 202 ] && ids+=("$(jq -r .job_id <<<"$BODY")")
done
check "20 jobs queued by an API key" "${#ids[@]}" 20
check "all waiting" "$(psql_jobs "SELECT count(*) FROM processing.jobs WHERE dataset_id = 'bulk' AND status = 'queued'")" 20
kill -KILL "$(cat "$DIR/processing.pid")"; wait "$(cat "$DIR/processing.pid")" 2>/dev/null || true
rm -f "$DIR/processing.pid"
start_services "$BIN" "$DIR" "$DIR/env"
wait_ready "http://127.0.0.1:$PROCESSING_PORT/ready"
done_all=0
for _ in $(seq 100); do
  done_all=$(psql_jobs "SELECT count(*) FROM processing.jobs WHERE dataset_id = 'bulk' AND status = 'completed'")
  [ "$done_all" = 20 ] && break
  sleep 0.1
done
check "all 20 completed, each once" "$done_all $(psql_jobs "SELECT count(DISTINCT result) FROM processing.jobs WHERE dataset_id = 'bulk'")" "20 20"
call GET "/jobs/${ids[0]}" -H "X-API-Key: $API_KEY"
check "the key that queued them reads them" "$STATUS $(jq -r .status <<<"$BODY")" "200 completed"

echo "a caller's unfinished jobs are capped"
OWNER=$(psql_jobs "SELECT DISTINCT owner FROM processing.jobs WHERE dataset_id = 'bulk'")
check "an API key's jobs belong to the key" "$(grep -c '^key:' <<<"$OWNER")" 1
# The key's 20 jobs waiting again, and 20 more: 40 open, the cap.
psql_jobs "UPDATE processing.jobs SET status = 'queued', run_after = now() + interval '1 hour', finished_at = NULL
  WHERE dataset_id = 'bulk';
  INSERT INTO processing.jobs (id, owner, request_id, dataset_id, action, body, max_attempts, run_after)
  SELECT gen_random_uuid(), '$OWNER', 'cap', 'cap', 'count', '{\"dataset_id\":\"cap\",\"action\":\"count\"}', 3,
  now() + interval '1 hour' FROM generate_series(1, 20)" >/dev/null
call POST /jobs -H "X-API-Key: $API_KEY" "${J[@]}" -d '{"dataset_id":"cap","action":"count"}'
check "the 41st unfinished job: 429 with Retry-After" "$STATUS $(jq -r .error.code <<<"$BODY") $([ -n "$(header retry-after)" ] && echo retry)" \
  "429 RATE_LIMIT_EXCEEDED retry"
call POST /jobs "${BOB[@]}" "${J[@]}" -d '{"dataset_id":"cap","action":"count"}'
check "another caller is not affected" "$STATUS" 202

echo "Idempotency-Key"
P=(-H "X-API-Key: $API_KEY" "${ALICE[@]}" "${J[@]}")
IK="retry-$(openssl rand -hex 4)"
call POST /process "${P[@]}" -H "Idempotency-Key: $IK" -d '{"dataset_id":"idem","action":"count","payload":{"items":[1,2]}}'
FIRST=$BODY
check "first: answered" "$STATUS $(header idempotent-replayed)" "200 "
call POST /process "${P[@]}" -H "Idempotency-Key: $IK" -d '{"dataset_id":"idem","action":"count","payload":{"items":[1,2]}}'
check "a retry: the same answer, marked as replayed" "$STATUS $(header idempotent-replayed) $([ "$BODY" = "$FIRST" ] && echo same)" "200 true same"
call POST /process "${P[@]}" -H "Idempotency-Key: $IK" -d '{"dataset_id":"idem","action":"count","payload":{"items":[3]}}'
check "the key with another body: 409" "$STATUS $(jq -r .error.code <<<"$BODY")" "409 CONFLICT"
call POST /process "${P[@]}" -H "Idempotency-Key: has space" -d '{"dataset_id":"idem","action":"count"}'
check "a malformed key: 400" "$STATUS" 400
call POST /jobs "${ALICE[@]}" "${J[@]}" -H "Idempotency-Key: $IK" -d '{"dataset_id":"idem-job","action":"count"}'
JOB1=$(jq -r .job_id <<<"$BODY")
call POST /jobs "${ALICE[@]}" "${J[@]}" -H "Idempotency-Key: $IK" -d '{"dataset_id":"idem-job","action":"count"}'
check "POST /jobs retried: the same job, not a second one" "$STATUS $(jq -r .job_id <<<"$BODY") $(psql_jobs "SELECT count(*) FROM processing.jobs WHERE dataset_id = 'idem-job'")" \
  "202 $JOB1 1"

echo "the audit log and the metrics"
for _ in $(seq 50); do
  call GET "/audit/requests?request_id=$RID" "${ADMIN[@]}"
  [ "$(jq '.items | length' <<<"$BODY")" = 1 ] && break
  sleep 0.1
done
sleep 0.5
check "the replayed answer published no second record" \
  "$(PGPASSWORD=$DB_PASSWORD psql -h 127.0.0.1 -p "$E2E_PG_PORT" -U audit "$DB" -tAc "SELECT count(*) FROM audit.requests WHERE dataset_id = 'idem'")" 1
check "the job's outcome is in the audit log, under the request that queued it" \
  "$(jq -c '.items[0] | [.action, .status, .http_status, .output.count]' <<<"$BODY")" '["count","success",200,3]'
M=$(curl -s "http://127.0.0.1:$PROCESSING_PORT/metrics")
# (counters since processing's restart above)
check "jobs_created_total by job type" "$(grep -c '^jobs_created_total{job_type="\(summarize\|count\|validate\|other\)"}' <<<"$M")" 4
check "jobs_completed_total: 4 types x 3 statuses" "$(grep -c '^jobs_completed_total{' <<<"$M")" 12
check "processing time histogram" "$(grep -c '^job_processing_seconds_count{job_type="count"}' <<<"$M")" 1
sleep 0.5  # one housekeeping round
M=$(curl -s "http://127.0.0.1:$PROCESSING_PORT/metrics")
check "queue depth: the 40 waiting jobs" "$(grep '^jobs_queue_depth{queue_name="jobs"}' <<<"$M" | awk '{print $2}')" 40

echo "graceful stop"
stop_checked "$DIR"
echo "e2e jobs: $fails failure(s)"
[ $fails -eq 0 ]
