-- Tamper evidence. Every stored record (requests, security_events, access_events: one chain per
-- table) carries its place in the chain, the hash of its predecessor and its own hash:
--   hash = sha256(prev_hash || int8send(chain_seq) || canonical text of the record)
-- where the canonical text is the record as row_to_json renders it with TimeZone UTC, the chain
-- columns and every null left out (so a nullable column added later leaves old hashes valid).
-- The first record's predecessor is 32 zero bytes, or the checkpoint a retention run left.
--
-- The chain is kept by triggers, so no writer can skip it. Before an INSERT statement, the
-- chain's head row is locked (writers commit one after another: the chain is in commit order).
-- Before each row, a record whose event_id is already stored (a replay, checked under the lock,
-- so it sees every committed record and the rows this statement inserted before) is dropped, and
-- the new one is linked to the last stored record. After the statement the head moves to the new
-- last record: once per statement, so that a batch of rows costs one head update, not one each.
-- Writers need no right on the head table: the triggers run as the schema's owner.

CREATE TABLE chain_heads (
  chain  text PRIMARY KEY,
  seq    bigint NOT NULL,
  hash   bytea NOT NULL
);
-- What a retention run deleted: the chain resumes after through_seq, linked to hash.
CREATE TABLE chain_checkpoints (
  id          bigserial PRIMARY KEY,
  chain       text NOT NULL REFERENCES chain_heads (chain),
  through_seq bigint NOT NULL,
  hash        bytea NOT NULL,
  deleted     bigint NOT NULL,
  days        integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chain_checkpoints_chain_idx ON chain_checkpoints (chain, through_seq DESC);
CREATE TRIGGER chain_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON chain_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- `rec` is the record with its chain columns null (row_to_json of the row as the trigger sees it,
-- or of its other columns as the verification selects them: the same text).
CREATE FUNCTION chain_digest(prev bytea, seq bigint, rec json) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT sha256(prev || int8send(seq) || convert_to(json_strip_nulls(rec)::text, 'UTF8'))
$$;

-- The columns of a chained table but its chain columns, as a select list of `x`.
CREATE FUNCTION chain_columns(chain_name text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg('x.' || quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
  WHERE attrelid = ('audit.' || quote_ident(chain_name))::regclass AND attnum > 0 AND NOT attisdropped
    AND attname NOT IN ('chain_seq', 'prev_hash', 'hash')
$$;

CREATE FUNCTION chain_lock() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog AS $$
BEGIN
  PERFORM 1 FROM audit.chain_heads WHERE chain = TG_TABLE_NAME FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no chain head for %', TG_TABLE_NAME;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION chain_advance() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog AS $$
BEGIN
  EXECUTE format('UPDATE audit.chain_heads h SET seq = t.chain_seq, hash = t.hash '
                 'FROM (SELECT chain_seq, hash FROM audit.%I ORDER BY chain_seq DESC LIMIT 1) t '
                 'WHERE h.chain = %L AND t.chain_seq > h.seq', TG_TABLE_NAME, TG_TABLE_NAME);
  RETURN NULL;
END $$;

-- Retention deletes through audit.apply_retention only: it sets this transaction-local flag,
-- which the append-only trigger honours (and only the owner may delete at all).
CREATE OR REPLACE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('audit.retention_run', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

-- The existing records are linked in the order they were stored; then each table gets its row
-- trigger (static statements, one function per table: a per-row EXECUTE would be planned anew
-- for every record) and the statement triggers around it.
DO $$
DECLARE
  t text;
  r record;
  prev bytea;
  n bigint;
BEGIN
  SET LOCAL timezone = 'UTC';
  FOREACH t IN ARRAY ARRAY['requests', 'security_events', 'access_events'] LOOP
    EXECUTE format('ALTER TABLE audit.%I ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash bytea, '
                   'ADD COLUMN hash bytea', t);
    EXECUTE format('ALTER TABLE audit.%I DISABLE TRIGGER %I', t, t || '_append_only');
    prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    n := 0;
    FOR r IN EXECUTE format('SELECT x.id, row_to_json(c) AS rec FROM audit.%I x, LATERAL (SELECT %s) c ORDER BY x.id',
                            t, audit.chain_columns(t)) LOOP
      n := n + 1;
      EXECUTE format('UPDATE audit.%I SET chain_seq = $1, prev_hash = $2, hash = $3 WHERE id = $4', t)
        USING n, prev, audit.chain_digest(prev, n, r.rec), r.id;
      prev := audit.chain_digest(prev, n, r.rec);
    END LOOP;
    EXECUTE format('ALTER TABLE audit.%I ENABLE TRIGGER %I', t, t || '_append_only');
    EXECUTE format('ALTER TABLE audit.%I ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, '
                   'ALTER COLUMN hash SET NOT NULL', t);
    EXECUTE format('CREATE UNIQUE INDEX %I ON audit.%I (chain_seq)', t || '_chain_idx', t);
    INSERT INTO audit.chain_heads (chain, seq, hash) VALUES (t, n, prev);
    EXECUTE format($f$
      CREATE FUNCTION audit.%1$I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = audit, pg_catalog SET timezone = 'UTC' AS $body$
      DECLARE
        last_seq bigint;
        last_hash bytea;
      BEGIN
        PERFORM 1 FROM audit.%2$I WHERE event_id = NEW.event_id;
        IF FOUND THEN
          RETURN NULL;  -- already stored: the replay is dropped, the chain untouched
        END IF;
        SELECT chain_seq, hash INTO last_seq, last_hash FROM audit.%2$I ORDER BY chain_seq DESC LIMIT 1;
        IF NOT FOUND THEN  -- none stored, or retention deleted them all: the head holds the link
          SELECT seq, hash INTO last_seq, last_hash FROM audit.chain_heads WHERE chain = %2$L;
        END IF;
        NEW.chain_seq := NULL;
        NEW.prev_hash := NULL;
        NEW.hash := NULL;
        NEW.hash := audit.chain_digest(last_hash, last_seq + 1, row_to_json(NEW));
        NEW.chain_seq := last_seq + 1;
        NEW.prev_hash := last_hash;
        RETURN NEW;
      END $body$ $f$, t || '_link', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON audit.%I FOR EACH STATEMENT EXECUTE FUNCTION audit.chain_lock()',
                   t || '_chain_lock', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON audit.%I FOR EACH ROW EXECUTE FUNCTION audit.%I()',
                   t || '_chain', t, t || '_link');
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON audit.%I FOR EACH STATEMENT EXECUTE FUNCTION audit.chain_advance()',
                   t || '_chain_advance', t);
  END LOOP;
END $$;

-- The walk behind GET /audit/verify: the first broken link of one chain, or none.
-- reason: hash (a record's content changed), link (its predecessor's hash differs: a record
-- changed, inserted or removed before it), gap (a record removed), head (records removed at the
-- end, or the head moved), checkpoint (the first record does not follow the last checkpoint).
CREATE FUNCTION verify_chain(chain_name text, OUT records bigint, OUT broken_seq bigint, OUT broken_event uuid,
                             OUT reason text, OUT head_seq bigint, OUT head_hash bytea, OUT from_seq bigint)
  LANGUAGE plpgsql STABLE SET timezone = 'UTC' AS $$
DECLARE
  r record;
  expect_seq bigint;
  expect_prev bytea;
BEGIN
  IF chain_name NOT IN ('requests', 'security_events', 'access_events') THEN
    RAISE EXCEPTION 'unknown chain %', chain_name;
  END IF;
  SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit.chain_heads h WHERE h.chain = chain_name;
  SELECT c.through_seq, c.hash INTO expect_seq, expect_prev FROM audit.chain_checkpoints c
    WHERE c.chain = chain_name ORDER BY c.through_seq DESC LIMIT 1;
  IF NOT FOUND THEN
    expect_seq := 0;
    expect_prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  END IF;
  from_seq := expect_seq + 1;
  records := 0;
  FOR r IN EXECUTE format('SELECT x.chain_seq, x.event_id, x.prev_hash, x.hash, row_to_json(c) AS rec '
                          'FROM audit.%I x, LATERAL (SELECT %s) c ORDER BY x.chain_seq',
                          chain_name, audit.chain_columns(chain_name)) LOOP
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
  IF expect_seq <> head_seq OR expect_prev <> head_hash THEN
    reason := 'head';
    broken_seq := expect_seq + 1;
  END IF;
END $$;

-- Retention: deletes, in each chain, the oldest records stored more than `days` days ago (a
-- prefix of the chain: it stops at the first newer record, and at a record whose NDJSON line is
-- not written yet), and records a checkpoint from which the rest still verifies. Runs as the
-- owner; the service's role may only call it.
CREATE FUNCTION apply_retention(days integer) RETURNS TABLE (chain text, deleted bigint, through_seq bigint)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = audit, pg_catalog AS $$
DECLARE
  t text;
  stop_seq bigint;
  last_hash bytea;
  n bigint;
BEGIN
  IF days IS NULL OR days < 1 THEN
    RAISE EXCEPTION 'retention must keep at least one day';
  END IF;
  PERFORM set_config('audit.retention_run', 'on', true);
  FOREACH t IN ARRAY ARRAY['requests', 'security_events', 'access_events'] LOOP
    PERFORM 1 FROM audit.chain_heads h WHERE h.chain = t FOR UPDATE;  -- no writer links meanwhile
    EXECUTE format('SELECT coalesce(min(chain_seq), (SELECT seq + 1 FROM audit.chain_heads WHERE chain = %L)) - 1 '
                   'FROM audit.%I WHERE received_at >= now() - make_interval(days => $1)', t, t)
      INTO stop_seq USING days;
    IF t = 'requests' THEN
      SELECT least(stop_seq, coalesce(min(r.chain_seq) - 1, stop_seq)) INTO stop_seq
        FROM audit.ndjson_outbox o JOIN audit.requests r ON r.id = o.request_id;
    END IF;
    EXECUTE format('SELECT hash FROM audit.%I WHERE chain_seq = $1', t) INTO last_hash USING stop_seq;
    IF last_hash IS NULL THEN
      CONTINUE;  -- nothing to delete (or already deleted)
    END IF;
    EXECUTE format('DELETE FROM audit.%I WHERE chain_seq <= $1', t) USING stop_seq;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO audit.chain_checkpoints (chain, through_seq, hash, deleted, days) VALUES (t, stop_seq, last_hash, n, days);
    chain := t; deleted := n; through_seq := stop_seq;
    RETURN NEXT;
  END LOOP;
  PERFORM set_config('audit.retention_run', 'off', true);
END $$;
