#!/bin/sh
# First start of the compose stack's PostgreSQL: a role per service (password DB_PASSWORD from
# .env), nothing granted to PUBLIC. audit_owner owns the audit schema (migrations, retention);
# audit, the service's role, may only add and read records. (k8s/overlays/dev/postgres.yaml does the same in-cluster.)
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d suite <<SQL
CREATE ROLE auth LOGIN PASSWORD '$DB_PASSWORD';
CREATE ROLE processing LOGIN PASSWORD '$DB_PASSWORD';
CREATE ROLE audit LOGIN PASSWORD '$DB_PASSWORD';
CREATE ROLE audit_owner LOGIN PASSWORD '$DB_PASSWORD';
REVOKE ALL ON DATABASE suite FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE suite TO auth, processing, audit_owner;
GRANT CONNECT ON DATABASE suite TO audit;
SQL
