-- One chain per (table, lane): writers on different lanes link and commit in parallel instead of
-- one after another on one head. A writer names its lane with the transaction-local setting
-- audit.lane (a number, 0 to 1023; unset: 0, the chains as they were, so every stored record
-- keeps its place and hash). Each lane has its own head, checkpoints and sequence; records of one
-- lane link only to each other. The lane is not part of a record's canonical text: old records
-- keep their hashes, and a record moved to another lane breaks that lane's links anyway.

CREATE FUNCTION chain_lane() RETURNS integer LANGUAGE plpgsql STABLE AS $$
DECLARE
  lane integer := coalesce(nullif(current_setting('audit.lane', true), ''), '0')::integer;
BEGIN
  IF lane < 0 OR lane > 1023 THEN
    RAISE EXCEPTION 'audit.lane must be 0 to 1023, not %', lane;
  END IF;
  RETURN lane;
END $$;

ALTER TABLE chain_checkpoints DROP CONSTRAINT chain_checkpoints_chain_fkey;
ALTER TABLE chain_heads ADD COLUMN lane integer NOT NULL DEFAULT 0;
ALTER TABLE chain_heads DROP CONSTRAINT chain_heads_pkey;
ALTER TABLE chain_heads ADD PRIMARY KEY (chain, lane);
ALTER TABLE chain_checkpoints ADD COLUMN lane integer NOT NULL DEFAULT 0;
ALTER TABLE chain_checkpoints ADD FOREIGN KEY (chain, lane) REFERENCES chain_heads (chain, lane);
DROP INDEX chain_checkpoints_chain_idx;
CREATE INDEX chain_checkpoints_chain_idx ON chain_checkpoints (chain, lane, through_seq DESC);

-- The columns of a chained table but its chain columns (now the lane too).
CREATE OR REPLACE FUNCTION chain_columns(chain_name text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg('x.' || quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
  WHERE attrelid = ('audit.' || quote_ident(chain_name))::regclass AND attnum > 0 AND NOT attisdropped
    AND attname NOT IN ('chain_seq', 'prev_hash', 'hash', 'chain_lane')
$$;

-- Before an INSERT statement: the head of this writer's lane, made on its first record, locked.
CREATE OR REPLACE FUNCTION chain_lock() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog AS $$
DECLARE
  my_lane integer := audit.chain_lane();
BEGIN
  IF NOT EXISTS (SELECT FROM audit.chain_heads WHERE chain = TG_TABLE_NAME AND lane = 0) THEN
    RAISE EXCEPTION 'no chain head for %', TG_TABLE_NAME;
  END IF;
  INSERT INTO audit.chain_heads (chain, lane, seq, hash)
    VALUES (TG_TABLE_NAME, my_lane, 0, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
    ON CONFLICT DO NOTHING;
  PERFORM 1 FROM audit.chain_heads WHERE chain = TG_TABLE_NAME AND lane = my_lane FOR UPDATE;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION chain_advance() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog AS $$
DECLARE
  my_lane integer := audit.chain_lane();
BEGIN
  EXECUTE format('UPDATE audit.chain_heads h SET seq = t.chain_seq, hash = t.hash '
                 'FROM (SELECT chain_seq, hash FROM audit.%I WHERE chain_lane = $1 ORDER BY chain_seq DESC LIMIT 1) t '
                 'WHERE h.chain = %L AND h.lane = $1 AND t.chain_seq > h.seq', TG_TABLE_NAME, TG_TABLE_NAME)
    USING my_lane;
  RETURN NULL;
END $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['requests', 'security_events', 'access_events'] LOOP
    EXECUTE format('ALTER TABLE audit.%I ADD COLUMN chain_lane integer NOT NULL DEFAULT 0', t);
    EXECUTE format('DROP INDEX audit.%I', t || '_chain_idx');
    EXECUTE format('CREATE UNIQUE INDEX %I ON audit.%I (chain_lane, chain_seq)', t || '_chain_idx', t);
    EXECUTE format($f$
      CREATE OR REPLACE FUNCTION audit.%1$I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = audit, pg_catalog SET timezone = 'UTC' AS $body$
      DECLARE
        my_lane integer := audit.chain_lane();
        last_seq bigint;
        last_hash bytea;
      BEGIN
        PERFORM 1 FROM audit.%2$I WHERE event_id = NEW.event_id;
        IF FOUND THEN
          RETURN NULL;  -- already stored: the replay is dropped, the chain untouched
        END IF;
        SELECT chain_seq, hash INTO last_seq, last_hash FROM audit.%2$I
          WHERE chain_lane = my_lane ORDER BY chain_seq DESC LIMIT 1;
        IF NOT FOUND THEN  -- none stored in the lane, or retention deleted them all: the head holds the link
          SELECT seq, hash INTO last_seq, last_hash FROM audit.chain_heads WHERE chain = %2$L AND lane = my_lane;
        END IF;
        NEW.chain_seq := NULL;
        NEW.prev_hash := NULL;
        NEW.hash := NULL;
        NEW.chain_lane := NULL;
        NEW.hash := audit.chain_digest(last_hash, last_seq + 1, row_to_json(NEW));
        NEW.chain_seq := last_seq + 1;
        NEW.prev_hash := last_hash;
        NEW.chain_lane := my_lane;
        RETURN NEW;
      END $body$ $f$, t || '_link', t);
  END LOOP;
END $$;

-- The walk of one lane: its first broken link, or none (reasons as verify_chain's).
CREATE FUNCTION verify_lane(chain_name text, lane_no integer, OUT records bigint, OUT broken_seq bigint,
                            OUT broken_event uuid, OUT reason text, OUT head_seq bigint, OUT head_hash bytea,
                            OUT from_seq bigint)
  LANGUAGE plpgsql STABLE SET timezone = 'UTC' AS $$
DECLARE
  r record;
  expect_seq bigint;
  expect_prev bytea;
BEGIN
  IF chain_name NOT IN ('requests', 'security_events', 'access_events') THEN
    RAISE EXCEPTION 'unknown chain %', chain_name;
  END IF;
  SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit.chain_heads h WHERE h.chain = chain_name AND h.lane = lane_no;
  SELECT c.through_seq, c.hash INTO expect_seq, expect_prev FROM audit.chain_checkpoints c
    WHERE c.chain = chain_name AND c.lane = lane_no ORDER BY c.through_seq DESC LIMIT 1;
  IF NOT FOUND THEN
    expect_seq := 0;
    expect_prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  END IF;
  from_seq := expect_seq + 1;
  records := 0;
  FOR r IN EXECUTE format('SELECT x.chain_seq, x.event_id, x.prev_hash, x.hash, row_to_json(c) AS rec '
                          'FROM audit.%I x, LATERAL (SELECT %s) c WHERE x.chain_lane = $1 ORDER BY x.chain_seq',
                          chain_name, audit.chain_columns(chain_name)) USING lane_no LOOP
    records := records + 1;
    IF r.chain_seq <> expect_seq + 1 THEN
      reason := CASE WHEN records = 1 THEN 'checkpoint' ELSE 'gap' END;
    ELSIF r.prev_hash <> expect_prev THEN
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
  IF head_seq IS NULL OR expect_seq <> head_seq OR expect_prev <> head_hash THEN
    reason := 'head';
    broken_seq := expect_seq + 1;
  END IF;
END $$;

-- Every lane of a chain: lane 0's head and start (the chain as it was), the records of all
-- lanes, and the first broken link of the lowest lane that has one; broken_lane names it.
-- A record in a lane without a head (made behind the triggers) is reported too.
DROP FUNCTION verify_chain(text);
CREATE FUNCTION verify_chain(chain_name text, OUT records bigint, OUT broken_seq bigint, OUT broken_event uuid,
                             OUT reason text, OUT head_seq bigint, OUT head_hash bytea, OUT from_seq bigint,
                             OUT broken_lane integer, OUT lanes integer)
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  l integer;
  v record;
BEGIN
  IF chain_name NOT IN ('requests', 'security_events', 'access_events') THEN
    RAISE EXCEPTION 'unknown chain %', chain_name;
  END IF;
  records := 0;
  lanes := 0;
  FOR l IN EXECUTE format('SELECT lane FROM audit.chain_heads WHERE chain = $1 '
                          'UNION SELECT DISTINCT chain_lane FROM audit.%I ORDER BY 1', chain_name) USING chain_name LOOP
    v := audit.verify_lane(chain_name, l);
    lanes := lanes + 1;
    records := records + v.records;
    IF l = 0 THEN
      head_seq := v.head_seq;
      head_hash := v.head_hash;
      from_seq := v.from_seq;
    END IF;
    IF reason IS NULL AND v.reason IS NOT NULL THEN
      reason := v.reason;
      broken_seq := v.broken_seq;
      broken_event := v.broken_event;
      broken_lane := l;
    END IF;
  END LOOP;
END $$;

-- Retention, lane by lane: in each, the oldest records stored more than `days` days ago (a
-- prefix of the lane: it stops at the first newer record, and at a record whose NDJSON line is
-- not written yet), and a checkpoint per lane from which the rest still verifies.
DROP FUNCTION apply_retention(integer);
CREATE FUNCTION apply_retention(days integer) RETURNS TABLE (chain text, deleted bigint, through_seq bigint, lane integer)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = audit, pg_catalog AS $$
DECLARE
  t text;
  l integer;
  stop_seq bigint;
  last_hash bytea;
  n bigint;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'retention must keep at least one day';
  END IF;
  PERFORM set_config('audit.retention_run', 'on', true);
  FOREACH t IN ARRAY ARRAY['requests', 'security_events', 'access_events'] LOOP
    FOR l IN SELECT h.lane FROM audit.chain_heads h WHERE h.chain = t ORDER BY h.lane LOOP
      PERFORM 1 FROM audit.chain_heads h WHERE h.chain = t AND h.lane = l FOR UPDATE;  -- no writer links meanwhile
      EXECUTE format('SELECT coalesce(min(chain_seq), (SELECT seq + 1 FROM audit.chain_heads WHERE chain = %L AND lane = $2)) - 1 '
                     'FROM audit.%I WHERE chain_lane = $2 AND received_at >= now() - make_interval(days => $1)', t, t)
        INTO stop_seq USING days, l;
      IF t = 'requests' THEN
        SELECT least(stop_seq, coalesce(min(r.chain_seq) - 1, stop_seq)) INTO stop_seq
          FROM audit.ndjson_outbox o JOIN audit.requests r ON r.id = o.request_id WHERE r.chain_lane = l;
      END IF;
      EXECUTE format('SELECT hash FROM audit.%I WHERE chain_lane = $2 AND chain_seq = $1', t) INTO last_hash USING stop_seq, l;
      IF last_hash IS NULL THEN
        CONTINUE;  -- nothing to delete (or already deleted)
      END IF;
      EXECUTE format('DELETE FROM audit.%I WHERE chain_lane = $2 AND chain_seq <= $1', t) USING stop_seq, l;
      GET DIAGNOSTICS n = ROW_COUNT;
      INSERT INTO audit.chain_checkpoints (chain, lane, through_seq, hash, deleted, days) VALUES (t, l, stop_seq, last_hash, n, days);
      chain := t; deleted := n; through_seq := stop_seq; lane := l;
      RETURN NEXT;
    END LOOP;
  END LOOP;
  PERFORM set_config('audit.retention_run', 'off', true);
END $$;

SELECT grant_service_role();
