#!/usr/bin/env bash
# What audit's hash chain costs per record, on a PostgreSQL of its own with audit's schema: the
# same access events (20,000 by default, in batches of 1,000 as the consumer writes them)
#   plain    inserted with no chain at all (the floor);
#   digest   each row given sha256 of its record text, set-based;
#   batch    through audit.append_access_events: replays dropped through event_ids, each record's
#            digest, one link per batch (the chain since migration 010);
#   rows     the chain as it was before 010, linked row by row by triggers: security events
#            (the one table still linked that way), as many, in batches as large;
# and the candidate canonical texts alone. Printed: ms, µs per row, and each against `rows`.
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
# Between runs the tables are emptied around the append-only triggers, as the owner could.
run() {
  q -c "SET session_replication_role = replica" -c "TRUNCATE audit.access_events, audit.event_ids, audit.chain_batches" \
    -c "UPDATE audit.chain_heads SET seq = 0, stored_at = NULL, batch_from = 1,
          hash = '\x0000000000000000000000000000000000000000000000000000000000000000' WHERE chain = 'access_events'" \
    >/dev/null
  local off=""
  [ "$1" = batch ] || [ "$1" = rows ] || off="SET session_replication_role = replica;"
  q -c "$off CREATE TEMP SEQUENCE s;" -c '\timing on' -c "DO \$\$ DECLARE b record; BEGIN
      FOR b IN SELECT * FROM public.batches ORDER BY i LOOP $2 END LOOP; END \$\$" | awk '/^Time:/ { print $2 }'
}
# The security events' batches: as many rows, of that table's shape.
q -c "CREATE TABLE public.security_batches AS SELECT i, jsonb_agg(jsonb_build_object(
  'event_id', gen_random_uuid(), 'stream_id', '1-' || n, 'timestamp', now(), 'request_id', 'r-' || n,
  'service', 'auth-user', 'event_type', 'login_failure', 'severity', 'WARNING', 'username', 'u' || n,
  'client', '127.0.0.1', 'user_agent', 'wrk', 'details', jsonb_build_object('n', n)) ORDER BY n) AS rows
  FROM (SELECT (n - 1) / 1000 AS i, n FROM generate_series(1, $ROWS) n) s GROUP BY i" >/dev/null
SCOLS="event_id, stream_id, timestamp, request_id, service, event_type, severity, username, client, user_agent, details"
plain=$(run plain "INSERT INTO audit.access_events ($COLS, chain_seq, prev_hash, hash)
  SELECT $COLS, nextval('s'), ''::bytea, ''::bytea FROM jsonb_populate_recordset(NULL::audit.access_events, b.rows);")
digest=$(run digest "INSERT INTO audit.access_events ($COLS, chain_seq, prev_hash, hash)
  SELECT $COLS, nextval('s'), ''::bytea, sha256(convert_to(p::text, 'UTF8'))
  FROM jsonb_populate_recordset(NULL::audit.access_events, b.rows) p;")
batch=$(run batch "PERFORM audit.append_access_events(b.rows, 0, NULL);")
valid=$(q -c "SELECT coalesce(reason, 'valid') FROM audit.verify_chain('access_events')")
rows=$(q -c '\timing on' -c "DO \$\$ DECLARE b record; BEGIN
    FOR b IN SELECT * FROM public.security_batches ORDER BY i LOOP
      INSERT INTO audit.security_events ($SCOLS) SELECT $SCOLS
      FROM jsonb_populate_recordset(NULL::audit.security_events, b.rows) WITH ORDINALITY ORDER BY ordinality
      ON CONFLICT (event_id) DO NOTHING;
    END LOOP; END \$\$" | awk '/^Time:/ { print $2 }')
svalid=$(q -c "SELECT coalesce(reason, 'valid') FROM audit.verify_chain('security_events')")
form() { q -c '\timing on' -c "SELECT sum(length($1)) FROM audit.access_events x" | awk '/^Time:/ { print $2 }'; }
strip=$(form "sha256(convert_to(json_strip_nulls(row_to_json(x))::text, 'UTF8'))")
json=$(form "sha256(convert_to(row_to_json(x)::text, 'UTF8'))")
record=$(form "sha256(convert_to(x::text, 'UTF8'))")
awk -v n="$ROWS" -v plain="$plain" -v digest="$digest" -v batch="$batch" -v rows="$rows" -v strip="$strip" \
    -v json="$json" -v record="$record" -v valid="$valid" -v svalid="$svalid" 'BEGIN {
  printf "%d records in batches of 1,000 (chains verified: batches %s, rows %s)\n", n, valid, svalid
  printf "  %-48s %8.0f ms %6.1f us/row %5.2fx faster than rows\n", "plain insert, no chain", plain, plain * 1000 / n, rows / plain
  printf "  %-48s %8.0f ms %6.1f us/row %5.2fx\n", "insert + sha256 of the record text per row", digest, digest * 1000 / n, rows / digest
  printf "  %-48s %8.0f ms %6.1f us/row %5.2fx\n", "batch: append_access_events (the chain since 010)", batch, batch * 1000 / n, rows / batch
  printf "  %-48s %8.0f ms %6.1f us/row %5.2fx\n", "rows: the row triggers (security events)", rows, rows * 1000 / n, 1
  printf "canonical text + sha256 alone (access events):\n"
  printf "  %-44s %8.0f ms %6.1f us/row\n", "json_strip_nulls(row_to_json(x)) (version 1)", strip, strip * 1000 / n
  printf "  %-44s %8.0f ms %6.1f us/row\n", "row_to_json(x)", json, json * 1000 / n
  printf "  %-44s %8.0f ms %6.1f us/row\n", "the record text (x::text, version 2)", record, record * 1000 / n
}'
