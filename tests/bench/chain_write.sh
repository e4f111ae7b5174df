#!/usr/bin/env bash
# What audit's hash chain costs per record, on a PostgreSQL of its own with audit's schema: the
# same access events (20,000 by default, in batches of 1,000 as the consumer writes them)
#   plain    inserted with no chain at all (the floor);
#   digest   each row given sha256 of its record text, set-based (what a per-batch link needs);
#   today    through the chain's triggers (a lookup, the link, row_to_json and json_strip_nulls);
# and the candidate canonical texts alone. Printed: ms, µs per row, and each against `today`.
# Usage: tests/bench/chain_write.sh [build dir (default build/release)] [rows (20000)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
BIN=${1:-$ROOT/build/release}
ROWS=${2:-20000}
[ -x "$BIN/services/audit/audit" ] || { log "no binaries in $BIN: build first"; exit 2; }
DIR=$(mktemp -d /tmp/suite-chain.XXXXXX)
chmod 755 "$DIR"
PORT=${CHAIN_PG_PORT:-27532}
trap 'pg_stop "$DIR/pg"; rm -rf "$DIR"' EXIT
PG_EXTRA_OPTS="-c synchronous_commit=off" pg_start "$DIR/pg" "$PORT"
pg_setup_suite "$DIR/pg" "$PORT" suite chainbench
DATABASE_URL=postgresql://audit_owner:chainbench@127.0.0.1:$PORT/suite "$BIN/services/audit/audit" --migrate >/dev/null 2>&1
q() { pg_psql "$DIR/pg" "$PORT" -d suite -tA "$@"; }

# The batches, as the consumer sends them (a JSON array of rows each).
q -c "CREATE TABLE public.batches AS SELECT i, jsonb_agg(jsonb_build_object(
  'event_id', gen_random_uuid(), 'stream_id', '1-' || n, 'timestamp', now(), 'request_id', 'r-' || n,
  'method', 'POST', 'route', 'processing', 'path', '/process', 'http_status', 200, 'reason', '-',
  'duration_ms', 2, 'client', '127.0.0.1', 'subject', 'bench', 'auth_method', 'api_key', 'key_id', 'k1',
  'tier', 'pro', 'bytes_in', 100, 'bytes_out', 200, 'user_agent', 'wrk', 'protocol', 'h1') ORDER BY n) AS rows
  FROM (SELECT (n - 1) / 1000 AS i, n FROM generate_series(1, $ROWS) n) s GROUP BY i" >/dev/null
COLS="event_id, stream_id, timestamp, request_id, method, route, path, http_status, reason, duration_ms, client,
  subject, auth_method, key_id, tier, bytes_in, bytes_out, user_agent, protocol"
# run <name> <the statement for one batch, $1 being its rows>: the batches inserted, timed.
run() {
  q -c "TRUNCATE audit.access_events" -c "UPDATE audit.chain_heads SET seq = 0,
          hash = '\x0000000000000000000000000000000000000000000000000000000000000000' WHERE chain = 'access_events'" \
    >/dev/null 2>&1 || true
  local off=""
  [ "$1" = today ] || off="SET session_replication_role = replica;"
  q -c "$off CREATE TEMP SEQUENCE s;" -c '\timing on' -c "DO \$\$ DECLARE b record; BEGIN
      FOR b IN SELECT * FROM public.batches ORDER BY i LOOP $2 END LOOP; END \$\$" | awk '/^Time:/ { print $2 }'
}
# TRUNCATE is refused by the append-only trigger: out of the way for the bench, as the owner would.
q -c "ALTER TABLE audit.access_events DISABLE TRIGGER access_events_append_only" >/dev/null
plain=$(run plain "INSERT INTO audit.access_events ($COLS, chain_seq, prev_hash, hash)
  SELECT $COLS, nextval('s'), ''::bytea, ''::bytea FROM jsonb_populate_recordset(NULL::audit.access_events, b.rows);")
digest=$(run digest "INSERT INTO audit.access_events ($COLS, chain_seq, prev_hash, hash)
  SELECT $COLS, nextval('s'), ''::bytea, sha256(convert_to(p::text, 'UTF8'))
  FROM jsonb_populate_recordset(NULL::audit.access_events, b.rows) p;")
today=$(run today "INSERT INTO audit.access_events ($COLS)
  SELECT $COLS FROM jsonb_populate_recordset(NULL::audit.access_events, b.rows) WITH ORDINALITY
  ORDER BY ordinality ON CONFLICT (event_id) DO NOTHING;")
valid=$(q -c "SELECT coalesce(reason, 'valid') FROM audit.verify_chain('access_events')")
form() { q -c '\timing on' -c "SELECT sum(length($1)) FROM audit.access_events x" | awk '/^Time:/ { print $2 }'; }
strip=$(form "sha256(convert_to(json_strip_nulls(row_to_json(x))::text, 'UTF8'))")
json=$(form "sha256(convert_to(row_to_json(x)::text, 'UTF8'))")
record=$(form "sha256(convert_to(x::text, 'UTF8'))")
awk -v n="$ROWS" -v plain="$plain" -v digest="$digest" -v today="$today" -v strip="$strip" -v json="$json" \
    -v record="$record" -v valid="$valid" 'BEGIN {
  printf "%d access events in batches of 1,000 (the chain written by the triggers: %s)\n", n, valid
  printf "  %-44s %8.0f ms %6.1f us/row %5.2fx faster than today\n", "plain insert, no chain", plain, plain * 1000 / n, today / plain
  printf "  %-44s %8.0f ms %6.1f us/row %5.2fx\n", "insert + sha256 of the record text per row", digest, digest * 1000 / n, today / digest
  printf "  %-44s %8.0f ms %6.1f us/row %5.2fx\n", "today: the chain triggers", today, today * 1000 / n, 1
  printf "canonical text + sha256 alone:\n"
  printf "  %-44s %8.0f ms %6.1f us/row\n", "json_strip_nulls(row_to_json(x)) (today)", strip, strip * 1000 / n
  printf "  %-44s %8.0f ms %6.1f us/row\n", "row_to_json(x)", json, json * 1000 / n
  printf "  %-44s %8.0f ms %6.1f us/row\n", "the record text (x::text)", record, record * 1000 / n
}'
