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
cp -r "$ROOT/deploy/compose" "$ROOT/deploy/prometheus" "$ROOT/deploy/grafana" "$ROOT/deploy/docker" "$DIR/deploy/"
rm -rf "$DIR/deploy/compose/.env" "$DIR/deploy/compose/env" "$DIR/deploy/compose/certs"
"$DIR/deploy/compose/generate-env.sh" >/dev/null
F=$DIR/deploy/compose/docker-compose.yml
docker-compose -f "$F" config -q && rc=0 || rc=$?
check "docker-compose config -q" "$rc" 0
docker-compose -f "$F" --profile monitoring config > "$DIR/full.yml" && rc=0 || rc=$?
check "docker-compose --profile monitoring config" "$rc" 0
check "services" "$(docker-compose -f "$F" --profile monitoring config --services | sort | tr '\n' ' ')" \
  "audit auth-user gateway grafana postgres processing prometheus redis "
check "published ports: the gateway's, Prometheus's and Grafana's, on 127.0.0.1" \
  "$(awk '/^    ports:/ {on=1; next} on && /^    - / {print $2; next} {on=0}' "$DIR/full.yml" | sort | tr '\n' ' ')" \
  "127.0.0.1:3000:3000/tcp 127.0.0.1:8443:8443/tcp 127.0.0.1:9090:9090/tcp "
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
echo "Grafana's provisioning (no Grafana package in Debian: the files as Grafana reads them)"
G=$ROOT/deploy/grafana
grafana=$(awk '$0 == "  grafana:" {on=1; next} on && /^  [a-z]/ {on=0} on' "$DIR/full.yml")
check "Grafana's admin password comes from .env" \
  "$(echo "$grafana" | grep -cE "GF_SECURITY_ADMIN_PASSWORD: [0-9a-f]{24}$")" 1
check "Grafana: no sign-up, no anonymous access" \
  "$(echo "$grafana" | grep -cE "GF_(USERS_ALLOW_SIGN_UP|AUTH_ANONYMOUS_ENABLED): 'false'|GF_(USERS_ALLOW_SIGN_UP|AUTH_ANONYMOUS_ENABLED): \"false\"")" 2
check "the data source is the profile's Prometheus service, by name and port" \
  "$(sed -n 's/^ *url: //p' "$G"/provisioning/datasources/*.yml)" "http://prometheus:9090"
check "exactly one default data source" "$(grep -c 'isDefault: true' "$G"/provisioning/datasources/*.yml)" 1
dash_path=$(sed -n 's/^ *path: //p' "$G"/provisioning/dashboards/*.yml)
check "the dashboards provider reads the directory compose mounts" \
  "$(echo "$grafana" | grep -cF -- "- $DIR/deploy/grafana/dashboards:$dash_path:ro" || true)" 1
for d in "$G"/dashboards/*.json; do
  n=$(basename "$d")
  check "$n: JSON with a uid, a title and panels" "$(jq -r '[(.uid|type), (.title|type), (.panels|length > 0)] | join(" ")' "$d")" \
    "string string true"
  check "$n: every panel and query reads the datasource variable (no uid of one Grafana)" \
    "$(jq '[.. | objects | select(has("datasource")) | .datasource | select(type != "object" or .uid != "${datasource}")] | length' "$d")" 0
  check "$n: the datasource variable offers Prometheus" \
    "$(jq -r '.templating.list[] | select(.name == "datasource") | .query' "$d")" prometheus
  check "$n: every panel has an expression" "$(jq '[.panels[] | select(.type != "row") | select((.targets // []) | map(.expr // "") | all(. != "") | not)] | length' "$d")" 0
done
check "the home dashboard is one of ours" \
  "$(f=$(echo "$grafana" | sed -n 's/.*GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: //p'); [ -f "$G/dashboards/${f#"$dash_path"/}" ] && echo ok)" ok

check "no secret in the compose file itself" "$(grep -cE '[0-9a-f]{32}' "$ROOT/deploy/compose/docker-compose.yml")" 0
[ $fails -eq 0 ]
