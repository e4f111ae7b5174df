-- The audit log is append-only: rows can be added, never changed or removed, whoever asks
-- (retention will come as its own audited path).
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER requests_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON requests
  FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
