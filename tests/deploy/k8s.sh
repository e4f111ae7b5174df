#!/usr/bin/env bash
# k8s/ as a cluster would receive it, offline: kustomize renders each overlay (the dev one with
# secrets generated as a user would), every object is checked against the Kubernetes API schema
# and the suite's pod policy (tests/deploy/k8s/validate.mjs), the production rendering holds no
# secret, and yamllint passes on every YAML file of the repository.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/deploy/local/lib.sh"
DIR=$(mktemp -d /tmp/suite-k8s.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
. "$ROOT/tests/checks.sh"

# kustomize: the machine's kubectl, else Debian's (kubernetes-client 1.20, unpacked, not
# installed: it would replace a newer kubectl). k8s/ is written to render with both.
KUBECTL=$(command -v kubectl || true)
if [ -z "$KUBECTL" ]; then
  tools="$ROOT/.local/tools/kubernetes-client"
  if [ ! -x "$tools/usr/bin/kubectl" ]; then
    mkdir -p "$tools"
    (cd "$DIR" && { apt-get download kubernetes-client >/dev/null 2>&1 ||
      { as_root apt-get update -qq && apt-get download kubernetes-client >/dev/null; }; } && dpkg -x kubernetes-client_*.deb "$tools")
  fi
  KUBECTL=$tools/usr/bin/kubectl
fi
node_deps "$ROOT/tests/deploy/k8s"

cp -r "$ROOT/k8s" "$DIR/k8s"
rm -f "$DIR"/k8s/overlays/dev/{secrets.env,tls.crt,tls.key}
"$DIR/k8s/overlays/dev/generate-secrets.sh" >/dev/null
for overlay in dev prod; do
  echo "overlay $overlay"
  "$KUBECTL" kustomize "$DIR/k8s/overlays/$overlay" > "$DIR/$overlay.yaml" 2>"$DIR/$overlay.err" \
    || { cat "$DIR/$overlay.err"; fail "$overlay renders"; continue; }
  pass "$overlay renders ($(grep -c '^kind:' "$DIR/$overlay.yaml") objects)"
  out=$(node "$ROOT/tests/deploy/k8s/validate.mjs" < "$DIR/$overlay.yaml") && rc=0 || rc=$?
  check "$overlay: schema and pod policy (${out##*$'\n'})" "$rc" 0
  [ $rc -eq 0 ] || echo "$out"
  for kind in Deployment StatefulSet Service PodDisruptionBudget HorizontalPodAutoscaler NetworkPolicy Job ConfigMap; do
    [ "$(grep -c "^kind: $kind\$" "$DIR/$overlay.yaml")" -gt 0 ] || fail "$overlay: no $kind"
  done
done
check "prod renders no Secret (they are created by whoever holds them)" "$(grep -c '^kind: Secret$' "$DIR/prod.yaml")" 0
check "dev: PostgreSQL and Redis run in the cluster" "$(grep -cE '^  name: (postgres|redis)$' "$DIR/dev.yaml")" 4
check "dev: Redis asks the services' ACL user for its password (default user off)" "$(grep -cE -- "^ +- ['\"]?>\\\$\\(REDIS_PASSWORD\\)['\"]?\$" "$DIR/dev.yaml") $(grep -c 'redis://suite:' "$DIR/k8s/overlays/dev/secrets.env")" "1 1"
check "CORS: dev allows seed 001's development origins, prod none" \
  "$(grep -c 'CORS_ORIGINS: http://localhost:3000,http://localhost:3001,http://localhost:8000' "$DIR/dev.yaml") $(grep -cE 'CORS_ORIGINS: (""|'"''"')$' "$DIR/prod.yaml")" "1 1"
check "prod: images from the registry (ours, and the Redis mirrored)" "$(grep -E '^ +image: ' "$DIR/prod.yaml" | grep -vc 'registry.example.com/')" 0
check "prod: Redis in three pods, a server and a sentinel in each" \
  "$(grep -A8 '^kind: StatefulSet' "$DIR/prod.yaml" | grep -c '^  name: redis$') $(grep -c 'redis-server /sentinel/sentinel.conf --sentinel' "$DIR/prod.yaml") $(grep -c 'sentinel monitor suite' "$DIR/prod.yaml")" "1 1 1"
check "prod: every workload (four services, Redis) spread over nodes, each with a disruption budget" \
  "$(grep -c 'topologyKey: kubernetes.io/hostname' "$DIR/prod.yaml") $(grep -c '^kind: PodDisruptionBudget$' "$DIR/prod.yaml")" "5 5"
check "prod: audit may read from a replica (an optional key of the Secret)" "$(grep -c 'key: AUDIT_DATABASE_READ_URL' "$DIR/prod.yaml")" 1
check "prod: one load balancer (the gateway's)" "$(grep -c 'type: LoadBalancer' "$DIR/prod.yaml")" 1

echo "yamllint"
out=$(cd "$ROOT" && yamllint -s -f parsable . 2>&1) && rc=0 || rc=$?
check "yamllint on every YAML file${out:+: $out}" "$rc" 0
[ $fails -eq 0 ]
