-- Audit writes that scale out: the request records and the access events are partitioned by the
-- day they were stored, and their chains link batches, not rows.
--
-- Partitions. `requests` and `access_events` become tables partitioned by range of received_at,
-- one partition a UTC day (<table>_pYYYYMMDD), made a day ahead. The tables as they were become
-- the first partition (<table>_p0: everything stored until this migration ran; that day's
-- partition begins there). Every record of one batch is stored at one instant, so a batch lies in one partition, and
-- a lane's batches are stored in sequence order (the instant never goes back within a lane), so
-- each partition holds a contiguous run of every lane: retention drops the oldest partitions
-- whole and leaves, per lane, a checkpoint at the last record they held.
--
-- Batches (chain version 2). A record's hash is its own digest:
--   hash = sha256(the record's text over the version's column list)
-- the text being ROW(columns...)::text with TimeZone UTC and DateStyle ISO. The version names its
-- columns, so a column added later changes no stored hash. A batch's link is
--   link = sha256(prev_link || int8send(first_seq) || int8send(last_seq) || rows_hash)
-- where rows_hash = sha256 of its records' hashes in sequence order, and prev_link is the link
-- before it (the lane's last version-1 hash, a checkpoint's, or 32 zero bytes). Records of a
-- lane from chain_heads.batch_from on are linked by batches; those before it keep their version-1
-- links and verify as before. Digests are computed for the whole batch at once, and one link is
-- made per batch: about a third of the version-1 trigger's cost per record.
--
-- Writing. The service's role may no longer insert into these tables: it calls
-- audit.append_requests and audit.append_access_events, which run as the owner, so no writer can
-- store a record outside the chain. A replay (an event_id already stored, in either table or in
-- another lane's transaction in flight) is dropped through audit.event_ids, whose key is the
-- event_id: a partitioned table's unique key must include the day, a replay's day may differ.

CREATE TABLE event_ids (
  event_id  uuid PRIMARY KEY,
  kind      "char" NOT NULL,        -- r: requests, a: access_events
  stored_at timestamptz NOT NULL
);
-- Rows are added in storage order: a BRIN index finds retention's range at almost no cost per insert.
CREATE INDEX event_ids_stored_idx ON event_ids USING brin (stored_at);

ALTER TABLE chain_heads ADD COLUMN batch_from bigint;      -- the lane links batches from this seq on (NULL: rows)
ALTER TABLE chain_heads ADD COLUMN stored_at timestamptz;  -- its last batch's instant

CREATE TABLE chain_batches (
  chain     text NOT NULL,
  lane      integer NOT NULL,
  first_seq bigint NOT NULL,
  last_seq  bigint NOT NULL CHECK (last_seq >= first_seq),
  stored_at timestamptz NOT NULL,  -- the received_at of each of its records
  rows_hash bytea NOT NULL,
  prev_link bytea NOT NULL,
  link      bytea NOT NULL,
  PRIMARY KEY (chain, lane, first_seq),
  FOREIGN KEY (chain, lane) REFERENCES chain_heads (chain, lane)
);
CREATE TRIGGER chain_batches_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON chain_batches
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Version 2's columns, in the order of the record's text.
CREATE FUNCTION chain_v2_columns(chain_name text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE chain_name
    WHEN 'requests' THEN ARRAY['id', 'event_id', 'stream_id', 'timestamp', 'request_id', 'dataset_id', 'action',
                               'status', 'duration_ms', 'output', 'http_status', 'client', 'subject', 'received_at']
    WHEN 'access_events' THEN ARRAY['id', 'event_id', 'stream_id', 'timestamp', 'request_id', 'method', 'route',
                                    'path', 'http_status', 'reason', 'duration_ms', 'client', 'subject', 'auth_method',
                                    'key_id', 'tier', 'bytes_in', 'bytes_out', 'user_agent', 'protocol', 'received_at']
  END
$$;

-- The expression of a record's version-2 hash, its columns read from `alias`.
CREATE FUNCTION chain_v2_digest(chain_name text, alias text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT format('sha256(convert_to(ROW(%s)::text, %L))',
                string_agg(quote_ident(alias) || '.' || quote_ident(c), ', ' ORDER BY n), 'UTF8')
  FROM unnest(audit.chain_v2_columns(chain_name)) WITH ORDINALITY AS u(c, n)
$$;

-- The partition holding `at`'s UTC day, and the next day's, made when missing. Runs as the owner.
CREATE FUNCTION ensure_partitions(chain_name text, at timestamptz) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog SET timezone = 'UTC' AS $$
DECLARE
  day date;
  part text;
BEGIN
  IF chain_name NOT IN ('requests', 'access_events') THEN
    RAISE EXCEPTION 'not a partitioned chain: %', chain_name;
  END IF;
  FOR day IN SELECT (at AT TIME ZONE 'UTC')::date + i FROM generate_series(0, 1) i LOOP
    part := chain_name || '_p' || to_char(day, 'YYYYMMDD');
    CONTINUE WHEN to_regclass('audit.' || part) IS NOT NULL;
    BEGIN
      EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.%I FOR VALUES FROM (%L) TO (%L)', part, chain_name,
                     day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.%I '
                     'FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()', part || '_append_only', part);
    EXCEPTION
      WHEN invalid_object_definition THEN NULL;  -- the first partition covers the day
      WHEN duplicate_table THEN NULL;            -- another writer made it meanwhile
    END;
  END LOOP;
END $$;

-- A lane's head, made on its first batch and locked: writers of one lane link one after another.
-- A lane that linked rows until now links batches from its next record on.
CREATE FUNCTION chain_take_head(chain_name text, lane_no integer) RETURNS chain_heads LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = audit, pg_catalog AS $$
DECLARE
  h audit.chain_heads;
BEGIN
  IF lane_no IS NULL OR lane_no < 0 OR lane_no > 1023 THEN
    RAISE EXCEPTION 'a lane is 0 to 1023, not %', lane_no;
  END IF;
  INSERT INTO audit.chain_heads (chain, lane, seq, hash, batch_from)
    VALUES (chain_name, lane_no, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea, 1)
    ON CONFLICT DO NOTHING;
  SELECT * INTO h FROM audit.chain_heads WHERE chain = chain_name AND lane = lane_no FOR UPDATE;
  IF h.batch_from IS NULL THEN
    UPDATE audit.chain_heads SET batch_from = h.seq + 1 WHERE chain = chain_name AND lane = lane_no;
    h.batch_from := h.seq + 1;
  END IF;
  RETURN h;
END $$;

-- After a batch's records are stored: its link, and the head moved to it.
CREATE FUNCTION chain_close_batch(h chain_heads, n bigint, rows_hash bytea, at timestamptz) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = audit, pg_catalog AS $$
DECLARE
  link bytea := sha256(h.hash || int8send(h.seq + 1) || int8send(h.seq + n) || rows_hash);
BEGIN
  INSERT INTO audit.chain_batches (chain, lane, first_seq, last_seq, stored_at, rows_hash, prev_link, link)
    VALUES (h.chain, h.lane, h.seq + 1, h.seq + n, at, rows_hash, h.hash, link);
  UPDATE audit.chain_heads SET seq = h.seq + n, hash = link, stored_at = at WHERE chain = h.chain AND lane = h.lane;
END $$;

-- The tables become partitioned; the append functions replace the row triggers.
ALTER TABLE ndjson_outbox DROP CONSTRAINT ndjson_outbox_request_id_fkey;
ALTER TABLE ndjson_outbox ADD COLUMN received_at timestamptz;
UPDATE ndjson_outbox o SET received_at = r.received_at FROM requests r WHERE r.id = o.request_id;
DELETE FROM ndjson_outbox WHERE received_at IS NULL;  -- none: the foreign key held until now
ALTER TABLE ndjson_outbox ALTER COLUMN received_at SET NOT NULL;

DO $$
DECLARE
  t text;
  kind "char";
  input text[];
  cols text;
  today timestamptz := ((now() AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC');
  first_end timestamptz;
  extra text;
BEGIN
  SET LOCAL timezone = 'UTC';
  FOREACH t IN ARRAY ARRAY['requests', 'access_events'] LOOP
    kind := CASE t WHEN 'requests' THEN 'r' ELSE 'a' END;
    EXECUTE format('INSERT INTO audit.event_ids (event_id, kind, stored_at) SELECT event_id, %L, received_at '
                   'FROM audit.%I ORDER BY received_at', kind, t);
    EXECUTE format('DROP TRIGGER %I ON audit.%I', t || '_chain_lock', t);
    EXECUTE format('DROP TRIGGER %I ON audit.%I', t || '_chain', t);
    EXECUTE format('DROP TRIGGER %I ON audit.%I', t || '_chain_advance', t);
    EXECUTE format('DROP FUNCTION audit.%I()', t || '_link');
    EXECUTE format('CREATE TABLE audit.%I (LIKE audit.%I INCLUDING DEFAULTS) PARTITION BY RANGE (received_at)',
                   t || '_parted', t);
    EXECUTE format('ALTER TABLE audit.%I ALTER COLUMN prev_hash DROP NOT NULL', t || '_parted');
    EXECUTE format('ALTER TABLE audit.%I ALTER COLUMN prev_hash DROP NOT NULL', t);
    EXECUTE format('ALTER TABLE audit.%I RENAME TO %I', t, t || '_p0');
    EXECUTE format('ALTER TABLE audit.%I RENAME TO %I', t || '_parted', t);
    EXECUTE format('ALTER SEQUENCE audit.%I OWNED BY audit.%I.id', t || '_id_seq', t);
    EXECUTE format('CREATE INDEX %I ON audit.%I (timestamp DESC)', t || '_ts_idx', t);
    EXECUTE format('CREATE UNIQUE INDEX %I ON audit.%I (chain_lane, chain_seq, received_at)', t || '_lane_idx', t);
    IF t = 'requests' THEN
      CREATE INDEX requests_rid_idx ON audit.requests (request_id);
      CREATE INDEX requests_dataset_ts_idx ON audit.requests (dataset_id, timestamp DESC);
      CREATE INDEX requests_id_idx ON audit.requests (id);
    ELSE
      CREATE INDEX access_events_client_ts_idx ON audit.access_events (client, timestamp DESC);
    END IF;
    -- The first partition ends after its last record; today's begins there.
    EXECUTE format('SELECT greatest(%L, max(received_at) + interval ''1 microsecond'') FROM audit.%I', today, t || '_p0')
      INTO first_end;
    EXECUTE format('ALTER TABLE audit.%I ATTACH PARTITION audit.%I FOR VALUES FROM (MINVALUE) TO (%L)',
                   t, t || '_p0', first_end);
    IF first_end < today + interval '1 day' THEN
      EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.%I FOR VALUES FROM (%L) TO (%L)',
                     t || '_p' || to_char(today, 'YYYYMMDD'), t, first_end, today + interval '1 day');
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.%I '
                     'FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()',
                     t || '_p' || to_char(today, 'YYYYMMDD') || '_append_only', t || '_p' || to_char(today, 'YYYYMMDD'));
    END IF;
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit.forbid_change()', t || '_append_only', t);
    PERFORM audit.ensure_partitions(t, today + interval '1 day');
    UPDATE audit.chain_heads SET batch_from = seq + 1 WHERE chain = t;

    -- audit.append_<table>(rows, lane[, writer]): the batch's new records stored and linked; returns
    -- how many were new. `rows` is a JSON array of records (the table's columns but id, received_at
    -- and the chain's), in the order they are to be linked.
    input := array_remove(array_remove(audit.chain_v2_columns(t), 'id'), 'received_at');
    cols := array_to_string(input, ', ');
    extra := CASE t WHEN 'requests' THEN
      ', outbox AS (INSERT INTO audit.ndjson_outbox (request_id, writer, received_at) SELECT id, writer, at FROM ins)'
      ELSE '' END;
    EXECUTE format($f$
      CREATE FUNCTION audit.%1$I(batch jsonb, lane integer, writer text DEFAULT NULL) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = audit, pg_catalog SET timezone = 'UTC' SET datestyle = 'ISO, MDY' AS $body$
      DECLARE
        h audit.chain_heads;
        at timestamptz;
        n bigint;
        rows_hash bytea;
      BEGIN
        IF %2$L = 'requests' AND writer IS NULL THEN
          RAISE EXCEPTION 'process records need the writer of their NDJSON line';
        END IF;
        h := audit.chain_take_head(%2$L, lane);
        at := greatest(clock_timestamp(), h.stored_at);
        -- The day's partition and the next day's: made by the first batch that misses one.
        IF to_regclass('audit.%2$s_p' || to_char(at, 'YYYYMMDD')) IS NULL
           OR to_regclass('audit.%2$s_p' || to_char(at + interval '1 day', 'YYYYMMDD')) IS NULL THEN
          PERFORM audit.ensure_partitions(%2$L, at);
        END IF;
        WITH src AS (
               SELECT DISTINCT ON (p.event_id) p.*, p.ordinality AS ord
               FROM jsonb_populate_recordset(NULL::audit.%2$I, batch) WITH ORDINALITY p
               ORDER BY p.event_id, p.ordinality),
             fresh AS (
               INSERT INTO audit.event_ids (event_id, kind, stored_at)
               SELECT event_id, %3$L, at FROM src ORDER BY event_id
               ON CONFLICT DO NOTHING RETURNING event_id),
             numbered AS (
               SELECT nextval('audit.%2$s_id_seq') AS id, %4$s, at AS received_at,
                      h.seq + row_number() OVER (ORDER BY s.ord) AS chain_seq
               FROM src s JOIN fresh USING (event_id)),
             ins AS (
               INSERT INTO audit.%2$I (id, %4$s, received_at, chain_lane, chain_seq, hash)
               SELECT r.id, %6$s, r.received_at, h.lane, r.chain_seq, %5$s FROM numbered r
               RETURNING id, chain_seq, hash)%7$s
        SELECT count(*), sha256(string_agg(ins.hash, ''::bytea ORDER BY ins.chain_seq)) INTO n, rows_hash FROM ins;
        IF n > 0 THEN
          PERFORM audit.chain_close_batch(h, n, rows_hash, at);
        END IF;
        RETURN n;
      END $body$ $f$, 'append_' || t, t, kind, cols, audit.chain_v2_digest(t, 'r'),
      (SELECT string_agg('r.' || quote_ident(c), ', ') FROM unnest(input) c), extra);
    EXECUTE format('REVOKE ALL ON FUNCTION audit.%I(jsonb, integer, text) FROM PUBLIC', 'append_' || t);
  END LOOP;
END $$;
REVOKE ALL ON FUNCTION ensure_partitions(text, timestamptz), chain_take_head(text, integer),
  chain_close_batch(chain_heads, bigint, bytea, timestamptz) FROM PUBLIC;

-- The walk of one lane: its version-1 records one by one, then its batches, each checked against
-- its records (reasons as before, and `batch`: a batch's link or records do not match it; `extra`:
-- a record no batch covers).
CREATE OR REPLACE FUNCTION verify_lane(chain_name text, lane_no integer, OUT records bigint, OUT broken_seq bigint,
                                       OUT broken_event uuid, OUT reason text, OUT head_seq bigint,
                                       OUT head_hash bytea, OUT from_seq bigint)
  LANGUAGE plpgsql STABLE SET timezone = 'UTC' SET datestyle = 'ISO, MDY' AS $$
DECLARE
  r record;
  b record;
  expect_seq bigint;
  expect_prev bytea;
  bfrom bigint;
  covered bigint := 0;
  stored bigint;
BEGIN
  IF chain_name NOT IN ('requests', 'security_events', 'access_events') THEN
    RAISE EXCEPTION 'unknown chain %', chain_name;
  END IF;
  SELECT h.seq, h.hash, h.batch_from INTO head_seq, head_hash, bfrom FROM audit.chain_heads h
    WHERE h.chain = chain_name AND h.lane = lane_no;
  SELECT c.through_seq, c.hash INTO expect_seq, expect_prev FROM audit.chain_checkpoints c
    WHERE c.chain = chain_name AND c.lane = lane_no ORDER BY c.through_seq DESC LIMIT 1;
  IF NOT FOUND THEN
    expect_seq := 0;
    expect_prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  END IF;
  from_seq := expect_seq + 1;
  records := 0;
  FOR r IN EXECUTE format('SELECT x.chain_seq, x.event_id, x.prev_hash, x.hash, row_to_json(c) AS rec '
                          'FROM audit.%I x, LATERAL (SELECT %s) c WHERE x.chain_lane = $1 '
                          'AND ($2::bigint IS NULL OR x.chain_seq < $2) ORDER BY x.chain_seq',
                          chain_name, audit.chain_columns(chain_name)) USING lane_no, bfrom LOOP
    records := records + 1;
    IF r.chain_seq <> expect_seq + 1 THEN
      reason := CASE WHEN records = 1 THEN 'checkpoint' ELSE 'gap' END;
    ELSIF r.prev_hash IS DISTINCT FROM expect_prev THEN
      reason := CASE WHEN records = 1 THEN 'checkpoint' ELSE 'link' END;
    ELSIF r.hash <> audit.chain_digest(r.prev_hash, r.chain_seq, r.rec) THEN
      reason := 'hash';
    END IF;
    IF reason IS NOT NULL THEN
      broken_seq := r.chain_seq;
      broken_event := r.event_id;
      RETURN;
    END IF;
    expect_seq := r.chain_seq;
    expect_prev := r.hash;
  END LOOP;
  IF bfrom IS NOT NULL THEN
    FOR b IN EXECUTE format($q$
        SELECT b.first_seq, b.last_seq, b.prev_link, b.link, b.rows_hash, b.stored_at,
               sha256(b.prev_link || int8send(b.first_seq) || int8send(b.last_seq) || b.rows_hash) AS want,
               s.n, s.agg, s.bad_seq, s.bad_event
        FROM audit.chain_batches b LEFT JOIN LATERAL (
          SELECT count(*) AS n, sha256(string_agg(x.hash, ''::bytea ORDER BY x.chain_seq)) AS agg,
                 min(x.chain_seq) FILTER (WHERE x.hash IS DISTINCT FROM %1$s) AS bad_seq,
                 (array_agg(x.event_id ORDER BY x.chain_seq) FILTER (WHERE x.hash IS DISTINCT FROM %1$s))[1] AS bad_event
          FROM audit.%2$I x
          WHERE x.chain_lane = b.lane AND x.chain_seq BETWEEN b.first_seq AND b.last_seq AND x.received_at = b.stored_at) s
          ON true
        WHERE b.chain = $1 AND b.lane = $2 ORDER BY b.first_seq $q$, audit.chain_v2_digest(chain_name, 'x'), chain_name)
        USING chain_name, lane_no LOOP
      IF b.first_seq <> expect_seq + 1 THEN  -- the first record kept does not follow
        reason := CASE WHEN expect_seq + 1 = from_seq THEN 'checkpoint' ELSE 'gap' END;
        broken_seq := b.first_seq;
      ELSIF b.prev_link <> expect_prev THEN
        reason := CASE WHEN expect_seq + 1 = from_seq THEN 'checkpoint' ELSE 'link' END;
        broken_seq := b.first_seq;
      ELSIF b.link <> b.want THEN
        reason := 'batch';
        broken_seq := b.first_seq;
      ELSIF b.bad_seq IS NOT NULL THEN
        reason := 'hash';
        broken_seq := b.bad_seq;
        broken_event := b.bad_event;
      ELSIF b.n <> b.last_seq - b.first_seq + 1 THEN
        reason := 'gap';  -- the first record missing
        EXECUTE format('SELECT min(s) FROM generate_series($1::bigint, $2::bigint) s WHERE NOT EXISTS '
                       '(SELECT FROM audit.%I x WHERE x.chain_lane = $3 AND x.chain_seq = s AND x.received_at = $4)',
                       chain_name) INTO broken_seq USING b.first_seq, b.last_seq, lane_no, b.stored_at;
      ELSIF b.agg <> b.rows_hash THEN
        reason := 'batch';  -- records changed and their hashes made anew
        broken_seq := b.first_seq;
      END IF;
      IF reason IS NOT NULL THEN
        RETURN;
      END IF;
      records := records + b.n;
      covered := covered + b.n;
      expect_seq := b.last_seq;
      expect_prev := b.link;
    END LOOP;
    -- Records of the lane no batch covers (stored around the append functions).
    EXECUTE format('SELECT count(*) FROM audit.%I x WHERE x.chain_lane = $1 AND x.chain_seq >= $2', chain_name)
      INTO stored USING lane_no, greatest(bfrom, from_seq);
    IF stored <> covered THEN
      reason := 'extra';
      EXECUTE format('SELECT x.chain_seq, x.event_id FROM audit.%I x WHERE x.chain_lane = $1 AND x.chain_seq >= $2 '
                     'AND NOT EXISTS (SELECT FROM audit.chain_batches b WHERE b.chain = $3 AND b.lane = $1 '
                     'AND x.chain_seq BETWEEN b.first_seq AND b.last_seq AND x.received_at = b.stored_at) '
                     'ORDER BY x.chain_seq LIMIT 1', chain_name)
        INTO broken_seq, broken_event USING lane_no, greatest(bfrom, from_seq), chain_name;
      RETURN;
    END IF;
  END IF;
  IF head_seq IS NULL OR expect_seq <> head_seq OR expect_prev <> head_hash THEN
    reason := 'head';
    broken_seq := expect_seq + 1;
  END IF;
END $$;

-- Retention: security events lane by lane as before; the partitioned tables by whole partitions,
-- oldest first, each once every record it can hold is older than `days` days (and, for requests,
-- once its NDJSON lines are written). Each lane a dropped partition held gets a checkpoint at the
-- last record it held: that batch's link (or that version-1 record's hash).
-- apply_retention_at is that run as of another instant: the owner's (tests), never the service's.
DROP FUNCTION apply_retention(integer);
CREATE FUNCTION apply_retention_at(days integer, as_of timestamptz)
  RETURNS TABLE (chain text, deleted bigint, through_seq bigint, lane integer)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = audit, pg_catalog SET timezone = 'UTC' AS $$
DECLARE
  t text;
  l integer;
  stop_seq bigint;
  last_hash bytea;
  n bigint;
  cutoff timestamptz;
  p record;
  s record;
  upper_at timestamptz;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'retention must keep at least one day';
  END IF;
  cutoff := as_of - make_interval(days => days);
  PERFORM set_config('audit.retention_run', 'on', true);
  t := 'security_events';
  FOR l IN SELECT h.lane FROM audit.chain_heads h WHERE h.chain = t ORDER BY h.lane LOOP
    PERFORM 1 FROM audit.chain_heads h WHERE h.chain = t AND h.lane = l FOR UPDATE;  -- no writer links meanwhile
    SELECT coalesce(min(e.chain_seq), (SELECT h.seq + 1 FROM audit.chain_heads h WHERE h.chain = t AND h.lane = l)) - 1
      INTO stop_seq FROM audit.security_events e WHERE e.chain_lane = l AND e.received_at >= cutoff;
    SELECT e.hash INTO last_hash FROM audit.security_events e WHERE e.chain_lane = l AND e.chain_seq = stop_seq;
    CONTINUE WHEN last_hash IS NULL;  -- nothing to delete (or already deleted)
    DELETE FROM audit.security_events e WHERE e.chain_lane = l AND e.chain_seq <= stop_seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO audit.chain_checkpoints (chain, lane, through_seq, hash, deleted, days) VALUES (t, l, stop_seq, last_hash, n, days);
    chain := t; deleted := n; through_seq := stop_seq; lane := l;
    RETURN NEXT;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['requests', 'access_events'] LOOP
    FOR p IN SELECT c.oid::regclass AS rel,
                    substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS upper_at
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = ('audit.' || t)::regclass ORDER BY 2 LOOP
      upper_at := p.upper_at;
      EXIT WHEN upper_at IS NULL OR upper_at > cutoff;
      EXIT WHEN t = 'requests' AND EXISTS (SELECT FROM audit.ndjson_outbox o WHERE o.received_at < upper_at);
      -- Every lane's head locked: no writer links while the checkpoints are taken.
      PERFORM 1 FROM audit.chain_heads h WHERE h.chain = t ORDER BY h.lane FOR UPDATE;
      FOR s IN EXECUTE format('SELECT chain_lane AS lane, max(chain_seq) AS last, count(*) AS n FROM %s '
                              'GROUP BY chain_lane ORDER BY chain_lane', p.rel) LOOP
        SELECT b.link INTO last_hash FROM audit.chain_batches b
          WHERE b.chain = t AND b.lane = s.lane AND b.last_seq = s.last;
        IF NOT FOUND THEN  -- a version-1 record
          EXECUTE format('SELECT hash FROM %s WHERE chain_lane = $1 AND chain_seq = $2', p.rel)
            INTO last_hash USING s.lane, s.last;
        END IF;
        INSERT INTO audit.chain_checkpoints (chain, lane, through_seq, hash, deleted, days)
          VALUES (t, s.lane, s.last, last_hash, s.n, days);
        DELETE FROM audit.chain_batches b WHERE b.chain = t AND b.lane = s.lane AND b.last_seq <= s.last;
        chain := t; deleted := s.n; through_seq := s.last; lane := s.lane;
        RETURN NEXT;
      END LOOP;
      EXECUTE format('DROP TABLE %s', p.rel);
      DELETE FROM audit.event_ids e WHERE e.kind = CASE t WHEN 'requests' THEN 'r' ELSE 'a' END::"char"
        AND e.stored_at < upper_at;
    END LOOP;
  END LOOP;
  PERFORM set_config('audit.retention_run', 'off', true);
END $$;
REVOKE ALL ON FUNCTION apply_retention_at(integer, timestamptz) FROM PUBLIC;
CREATE FUNCTION apply_retention(days integer) RETURNS TABLE (chain text, deleted bigint, through_seq bigint, lane integer)
  LANGUAGE sql SECURITY DEFINER SET search_path = audit, pg_catalog AS $$
  SELECT * FROM audit.apply_retention_at(days, now())
$$;

CREATE OR REPLACE FUNCTION grant_service_role() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> 'audit' AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit') THEN
    GRANT USAGE ON SCHEMA audit TO audit;
    GRANT SELECT ON audit.requests, audit.access_events TO audit;
    REVOKE INSERT ON audit.requests, audit.access_events FROM audit;
    GRANT SELECT, INSERT ON audit.security_events TO audit;
    GRANT SELECT ON audit.chain_heads, audit.chain_checkpoints, audit.chain_batches, audit.schema_migrations TO audit;
    GRANT SELECT, INSERT, DELETE ON audit.ndjson_outbox TO audit;
    GRANT SELECT, INSERT, UPDATE ON audit.ndjson_files TO audit;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO audit;
    GRANT EXECUTE ON FUNCTION audit.append_requests(jsonb, integer, text),
      audit.append_access_events(jsonb, integer, text) TO audit;
  END IF;
END $$;
SELECT grant_service_role();
