-- Tamper evidence. Every stored record (requests, security_events, access_events: one chain per
-- table) carries its place in the chain, the hash of its predecessor and its own hash:
--   hash = sha256(prev_hash || int8send(chain_seq) || canonical text of the record)
-- where the canonical text is the record as jsonb, chain columns removed and nulls stripped (so
-- a nullable column added later leaves old hashes valid), rendered with TimeZone UTC. The first
-- record's predecessor is 32 zero bytes, or the checkpoint a retention run left.
--
-- The chain is kept by a BEFORE INSERT trigger, so no writer can skip it: it locks the chain's
-- head row (writers commit one after another: the chain is in commit order), drops a record
-- whose event_id is already stored (a replay; checked after the lock, so it sees every committed
-- record), links the new one and moves the head. Writers need no right on the head table: the
-- trigger runs as the schema's owner.

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

CREATE FUNCTION chain_digest(prev bytea, seq bigint, rec jsonb) RETURNS bytea
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT sha256(prev || int8send(seq) ||
                convert_to(jsonb_strip_nulls(rec - ARRAY['chain_seq', 'prev_hash', 'hash'])::text, 'UTF8'))
$$;

CREATE FUNCTION chain_link() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = audit, pg_catalog SET timezone = 'UTC' AS $$
DECLARE
  head_seq bigint;
  head_hash bytea;
  dup boolean;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit.chain_heads WHERE chain = TG_TABLE_NAME FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no chain head for %', TG_TABLE_NAME;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM audit.%I WHERE event_id = $1)', TG_TABLE_NAME)
    INTO dup USING NEW.event_id;
  IF dup THEN
    RETURN NULL;  -- already stored: the replay is dropped, the chain untouched
  END IF;
  NEW.chain_seq := head_seq + 1;
  NEW.prev_hash := head_hash;
  NEW.hash := audit.chain_digest(head_hash, NEW.chain_seq, to_jsonb(NEW));
  UPDATE audit.chain_heads SET seq = NEW.chain_seq, hash = NEW.hash WHERE chain = TG_TABLE_NAME;
  RETURN NEW;
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

-- The existing records are linked in the order they were stored.
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
    FOR r IN EXECUTE format('SELECT id, to_jsonb(x) AS rec FROM audit.%I x ORDER BY id', t) LOOP
      n := n + 1;
      EXECUTE format('UPDATE audit.%I SET chain_seq = $1, prev_hash = $2, hash = $3 WHERE id = $4', t)
        USING n, prev, audit.chain_digest(prev, n, r.rec), r.id;
      prev := audit.chain_digest(prev, n, r.rec);
    END LOOP;
    EXECUTE format('ALTER TABLE audit.%I ENABLE TRIGGER %I', t, t || '_append_only');
    EXECUTE format('ALTER TABLE audit.%I ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, '
                   'ALTER COLUMN hash SET NOT NULL', t);
    EXECUTE format('CREATE UNIQUE INDEX %I ON audit.%I (chain_seq)', t || '_chain_idx', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON audit.%I FOR EACH ROW EXECUTE FUNCTION audit.chain_link()',
                   t || '_chain', t);
    INSERT INTO audit.chain_heads (chain, seq, hash) VALUES (t, n, prev);
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
  FOR r IN EXECUTE format('SELECT chain_seq, event_id, prev_hash, hash, to_jsonb(x) AS rec FROM audit.%I x '
                          'ORDER BY chain_seq', chain_name) LOOP
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
