#!/usr/bin/env bash
# A real scrape: the local stack (this build's binaries), Debian's Prometheus with
# deploy/prometheus's configuration and rules pointed at it, and through Prometheus's HTTP API:
# every service is up, and every metric the rules name exists. $1 = binaries.
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
DIR=$(mktemp -d /tmp/suite-scrape.XXXXXX)
BASE=${SCRAPE_TEST_PORT_BASE:-31000}
PROM_PORT=$((BASE + 999))
. "$ROOT/tests/checks.sh"
cleanup() {
  [ -f "$DIR/prometheus.pid" ] && kill "$(cat "$DIR/prometheus.pid")" 2>/dev/null || true
  STACK_DIR=$DIR/stack "$ROOT/deploy/local/stack" down >/dev/null 2>&1 || true
  if [ $fails -ne 0 ]; then tail -n 20 "$DIR/prometheus.log" || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT

STACK_DIR=$DIR/stack STACK_BIN=$BIN STACK_PG_PORT=${SCRAPE_TEST_PG_PORT:-31532} \
  STACK_REDIS_PORT=${SCRAPE_TEST_REDIS_PORT:-31579} STACK_PORT_BASE=$BASE "$ROOT/deploy/local/stack" up
. "$DIR/stack/stack.env"
# Some traffic, so that the request series exist: served, refused (401) and unknown (404).
for _ in 1 2 3; do
  curl -s -o /dev/null --cacert "$CA_CERT" -X POST "$GATEWAY_URL/api/test" -H "X-API-Key: $API_KEY" \
    -H 'Content-Type: application/json' -d '{}'
  curl -s -o /dev/null --cacert "$CA_CERT" "$GATEWAY_URL/protected"
  curl -s -o /dev/null --cacert "$CA_CERT" "$GATEWAY_URL/nowhere"
done

# deploy/prometheus/prometheus.yml as shipped, its ports moved to this stack's, scraping every second.
sed -e "s/127.0.0.1:180/127.0.0.1:${BASE%000}0/" -e 's/_interval: 15s/_interval: 1s/' \
  -e "s|  - rules/\*.yml|  - $ROOT/deploy/prometheus/rules/*.yml|" \
  "$ROOT/deploy/prometheus/prometheus.yml" > "$DIR/prometheus.yml"
prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" > "$DIR/prometheus.log" 2>&1 &
echo $! > "$DIR/prometheus.pid"
API="http://127.0.0.1:$PROM_PORT/api/v1"
query() { curl -s --get "$API/query" --data-urlencode "query=$1"; }
value() { query "$1" | jq -r '.data.result[0].value[1] // "none"'; }

echo "every service is up"
for _ in $(seq 100); do
  [ "$(value 'sum(up)')" = 4 ] && break
  sleep 0.2
done
for job in gateway auth-user processing audit; do
  check "$job up" "$(value "up{job=\"$job\"}")" 1
done

echo "each service's exposition passes promtool's lint (names, units, help)"
for port in $((BASE + 90)) $((BASE + 1)) $((BASE + 2)) $((BASE + 3)); do
  out=$(curl -s "http://127.0.0.1:$port/metrics" | promtool check metrics 2>&1) && rc=0 || rc=$?
  check "promtool check metrics :$port${out:+ ($out)}" "$rc" 0
done

echo "every metric the rules and the dashboard name is exposed"
sleep 2  # a second scrape of each, for the series a first request created
# (recording rules' names, level:metric:operations, are not scraped series: left out)
names=$(cat "$ROOT"/deploy/prometheus/rules/*.yml "$ROOT"/deploy/grafana/dashboards/*.json | sed -E -e 's/(^|[[:space:]])#.*$//' -e 's/[a-zA-Z0-9_]*:[a-zA-Z0-9_:]+//g' |
  grep -oE '\b(http|gateway|audit|db_pool|worker_pool|redis|tls|process|suite|jobs|job_processing)_[a-z0-9_]+' | sort -u)
[ -n "$names" ] || fail "no metric names found in the rules"
for name in $names; do
  check "$name" "$( [ "$(value "count({__name__=\"$name\"})")" != none ] && echo exposed)" exposed
done
echo "every dashboard query evaluates"
mapfile -t exprs < <(jq -r '.panels[].targets[].expr' "$ROOT"/deploy/grafana/dashboards/*.json)
[ ${#exprs[@]} -gt 0 ] || fail "no dashboard queries found"
for expr in "${exprs[@]}"; do
  check "dashboard: ${expr:0:70}" "$(query "${expr//\$__rate_interval/1m}" | jq -r .status)" success
done
echo "the rules load and evaluate"
unhealthy() { curl -s "$API/rules" | jq "[.data.groups[].rules[] | select(.health != \"ok\")] | length"; }
for _ in $(seq 50); do [ "$(unhealthy)" = 0 ] && break; sleep 0.2; done  # evaluated once (1 s)
check "rules healthy" "$(unhealthy)" 0
check "rules loaded" "$(curl -s "$API/rules" | jq '[.data.groups[].rules[]] | length')" \
  "$(grep -cE '^ *- (record|alert):' "$ROOT"/deploy/prometheus/rules/*.yml)"
check "no alert firing on a healthy stack" "$(curl -s "$API/alerts" | jq '[.data.alerts[] | select(.state == "firing")] | length')" 0
[ $fails -eq 0 ]
