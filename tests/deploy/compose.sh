#!/usr/bin/env bash
# deploy/compose/docker-compose.yml as docker-compose reads it (Debian's 1.29, no engine
# needed): valid with a generated .env, with and without the monitoring profile; only the
# gateway (and, in the profile, Prometheus) publishes a port, on 127.0.0.1; every service of
# ours is health-checked and stopped with more grace than its drain.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$(mktemp -d /tmp/suite-compose.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
. "$ROOT/tests/checks.sh"

mkdir -p "$DIR/deploy"
cp -r "$ROOT/deploy/compose" "$ROOT/deploy/prometheus" "$ROOT/deploy/docker" "$DIR/deploy/"
rm -rf "$DIR/deploy/compose/.env" "$DIR/deploy/compose/env" "$DIR/deploy/compose/certs"
"$DIR/deploy/compose/generate-env.sh" >/dev/null
F=$DIR/deploy/compose/docker-compose.yml
docker-compose -f "$F" config -q && rc=0 || rc=$?
check "docker-compose config -q" "$rc" 0
docker-compose -f "$F" --profile monitoring config > "$DIR/full.yml" && rc=0 || rc=$?
check "docker-compose --profile monitoring config" "$rc" 0
check "services" "$(docker-compose -f "$F" --profile monitoring config --services | sort | tr '\n' ' ')" \
  "audit auth-user gateway postgres processing prometheus redis "
check "published ports: the gateway's and Prometheus's, on 127.0.0.1" \
  "$(awk '/^    ports:/ {on=1; next} on && /^    - / {print $2; next} {on=0}' "$DIR/full.yml" | sort | tr '\n' ' ')" \
  "127.0.0.1:8443:8443/tcp 127.0.0.1:9090:9090/tcp "
for svc in gateway auth-user processing audit; do
  block=$(docker-compose -f "$F" config | awk -v s="  $svc:" '$0 == s {on=1; next} on && /^  [a-z]/ {on=0} on')
  check "$svc: read-only, no new privileges, all capabilities dropped" \
    "$(echo "$block" | grep -cE 'read_only: true|no-new-privileges:true|- ALL')" 3
  check "$svc: stop grace longer than the drain" "$(echo "$block" | grep -c 'stop_grace_period: 30s')" 1
  # Each service sees only the secrets it uses.
  case $svc in
    gateway) foreign='DB_PASSWORD|POSTGRES_PASSWORD|SIGNING_KEYS_SECRET|ADMIN_PASSWORD' ;;
    auth-user) foreign='POSTGRES_PASSWORD|API_KEYS' ;;
    processing) foreign='DB_PASSWORD|POSTGRES_PASSWORD|JWT_SECRET|SIGNING_KEYS_SECRET|API_KEYS|ADMIN_PASSWORD' ;;
    audit) foreign='POSTGRES_PASSWORD|JWT_SECRET|SIGNING_KEYS_SECRET|API_KEYS|ADMIN_PASSWORD' ;;
  esac
  check "$svc: no secret of another service" "$(echo "$block" | grep -cE "^ +($foreign):")" 0
  check "$svc: its internal token secret" "$(echo "$block" | grep -cE '^ +INTERNAL_TOKEN_SECRET: [0-9a-f]{64}$')" 1
done
check "no secret in the compose file itself" "$(grep -cE '[0-9a-f]{32}' "$ROOT/deploy/compose/docker-compose.yml")" 0
[ $fails -eq 0 ]
