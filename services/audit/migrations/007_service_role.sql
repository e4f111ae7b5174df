-- When the schema belongs to an owner role (audit_owner: migrations and retention), the
-- service's role `audit` may only add and read records: no UPDATE, DELETE or TRUNCATE, no DDL,
-- no trigger to disable. It keeps the NDJSON bookkeeping (outbox rows deleted once written, the
-- file's recorded length) and may call the retention function, which runs as the owner.
-- Where one role does both (older deployments), this grants nothing: the triggers still refuse
-- changes, and the chain shows any made by going around them. A later migration that adds a
-- table calls grant_service_role() again; so does an upgrade that hands the schema to an owner.
CREATE OR REPLACE FUNCTION grant_service_role() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF current_user <> 'audit' AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit') THEN
    GRANT USAGE ON SCHEMA audit TO audit;
    GRANT SELECT, INSERT ON audit.requests, audit.security_events, audit.access_events TO audit;
    GRANT SELECT ON audit.chain_heads, audit.chain_checkpoints, audit.schema_migrations TO audit;
    GRANT SELECT, INSERT, DELETE ON audit.ndjson_outbox TO audit;
    GRANT SELECT, INSERT, UPDATE ON audit.ndjson_files TO audit;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO audit;
  END IF;
END $$;
SELECT grant_service_role();
