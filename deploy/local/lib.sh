# Shared by deploy/local/stack and tests/run: packages, PostgreSQL, Redis, certificates and the
# four services as local processes. Source it; every function is idempotent.
set -euo pipefail

SUITE_ROOT=${SUITE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
SUITE_PACKAGES=(g++ cmake ninja-build ccache pkg-config make libboost1.81-dev libssl-dev libpqxx-dev libpq-dev
  libhiredis-dev libnghttp2-dev libjemalloc-dev libzxcvbn-dev libcurl4-openssl-dev liboath-dev prometheus-cpp-dev nlohmann-json3-dev catch2 libsodium-dev postgresql redis-server
  curl openssl jq ca-certificates python3-aiosmtpd)

log() { printf '\033[1m[%s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {  # install_deps [extra packages]: what the suite needs, plus these
  local missing=()
  for p in "${SUITE_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# node_deps <dir>: a test tool's npm packages (its package-lock.json), installed once, with no
# install scripts run.
node_deps() {
  command -v npm >/dev/null || install_deps nodejs npm
  (cd "$1" && { [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund --silent; })
}

build() {  # build <preset>
  command -v npm >/dev/null || install_deps nodejs npm  # the docs page's files, fetched at build time
  export CCACHE_BASEDIR="$SUITE_ROOT" CCACHE_NOHASHDIR=1
  cmake --preset "$1" -S "$SUITE_ROOT" >/dev/null
  cmake --build "$SUITE_ROOT/build/$1" -j "$(nproc)"
}

# PostgreSQL refuses to run as root: as root it runs as the postgres user.
pg_run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_start() {  # pg_start <dir> <port>
  local dir=$1 port=$2
  mkdir -p "$dir/sock"
  dir=$(cd "$dir" && pwd)  # absolute: the walk up to / below, and the socket path, need it
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$dir"
    local d=$dir; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
  fi
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    echo postgres > "$dir/pw"; [ "$(id -u)" = 0 ] && chown postgres "$dir/pw"
    pg_run "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pw" -A scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  fi
  if ! pg_run "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    pg_run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null
  fi
}

# pg_start_replica <primary dir> <primary port> <dir> <port>: a streaming replica of that
# PostgreSQL (pg_basebackup -R over its socket, as postgres), started like pg_start.
pg_start_replica() {
  local pdir=$1 pport=$2 dir=$3 port=$4
  mkdir -p "$dir/sock"
  dir=$(cd "$dir" && pwd) pdir=$(cd "$pdir" && pwd)
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
  chmod 700 "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_run "$PGBIN/pg_basebackup" -h "$pdir/sock" -p "$pport" -U postgres -D "$dir/data" -R -X stream -c fast >/dev/null
  fi
  if ! pg_run "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    pg_run "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir/sock -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null
  fi
}

pg_stop() { [ -d "$1/data" ] && pg_run "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true; }

pg_psql() {  # pg_psql <dir> <port> [psql args]
  local dir=$1 port=$2; shift 2
  psql -q -h "$dir/sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# One database, one role per service with rights on its own schema only. Roles are cluster-wide:
# concurrent callers (parallel tests) are serialised, and must agree on the password
# (tests/run sets SUITE_DB_PASSWORD for all of them).
pg_setup_suite() {  # pg_setup_suite <dir> <port> <db> <password>
  local dir=$1 port=$2 db=$3 pw=$4
  (
    flock 9
    for role in auth processing audit audit_owner; do
      pg_psql "$dir" "$port" -d postgres -c "DO \$\$BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role LOGIN; END IF;
        END\$\$;" -c "ALTER ROLE $role PASSWORD '$pw'"
    done
    pg_psql "$dir" "$port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
      pg_psql "$dir" "$port" -d postgres -c "CREATE DATABASE $db"
    pg_psql "$dir" "$port" -d "$db" -c "REVOKE ALL ON DATABASE $db FROM PUBLIC" \
      -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" \
      -c "GRANT CONNECT, CREATE ON DATABASE $db TO auth, processing, audit_owner" \
      -c "GRANT CONNECT ON DATABASE $db TO audit" -c "REVOKE CREATE ON DATABASE $db FROM audit"
    # audit_owner owns the audit schema (migrations, retention); audit, the service's role, may
    # only add and read records. A schema an older version let audit own is handed over once
    # (the migrations then grant audit its rights).
    if [ "$(pg_psql "$dir" "$port" -d "$db" -tAc "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'audit'")" = audit ]; then
      pg_psql "$dir" "$port" -d "$db" -c "REASSIGN OWNED BY audit TO audit_owner" \
        -c "DO \$\$BEGIN IF to_regproc('audit.grant_service_role') IS NOT NULL THEN PERFORM audit.grant_service_role(); END IF; END\$\$"
    fi
  ) 9>"$dir.setup.lock"
}

# redis_start <dir> <port> [extra args]: with REDIS_PASSWORD set (write_env sets it), Redis asks
# for it, and gives it to its primary when it is a replica (requirepass and masterauth, from a
# file of the directory's, mode 600: never on a command line).
redis_start() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
  (umask 077; if [ -n "${REDIS_PASSWORD:-}" ]; then printf 'requirepass %s\nmasterauth %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD"; fi > "$dir/auth.conf")
  redis-server "$dir/auth.conf" --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" \
    --logfile "$dir/redis.log" "$@"
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  log "redis did not start on $port"; return 1
}

# redis_stop <dir>: stops the Redis whose pid file is <dir>/redis.pid, and only that one (never
# "whatever listens on the port": that may be another stack's).
redis_stop() {
  local pidfile=$1/redis.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
  fi
  rm -f "$pidfile"
}

# alive <pid>: the process exists and is not a zombie (kill -0 succeeds on a zombie). Reads
# /proc directly: no procps needed.
alive() {
  local stat
  { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ] && [ "${stat%% *}" != X ]
}

make_certs() {  # make_certs <dir>: a throwaway CA and a server certificate for localhost
  local d=$1
  [ -f "$d/server.crt" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
    -days 30 -subj "/CN=Suite Local CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -out "$d/server.crt" \
    -days 30 -extfile "$d/server.ext" 2>/dev/null
  chmod 600 "$d"/*.key
}

# HS256 token for tests and the demo user: jwt_hs256 <secret> <json claims>
jwt_hs256() {
  local b64='openssl base64 -A | tr "+/" "-_" | tr -d "="'
  local h p s
  h=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | eval "$b64")
  p=$(printf '%s' "$2" | eval "$b64")
  s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$1" -binary | eval "$b64")
  printf '%s.%s.%s' "$h" "$p" "$s"
}

# start_services <build dir> <run dir> <env file>: starts the four binaries in the background with
# the variables of <env file>; pids in <run dir>/*.pid, logs in <run dir>/logs. With SUPERVISE=1
# each runs under `supervise` (restarted when it dies); the pid file then names the supervisor.
start_services() {
  local bin=$1 run=$2 envfile=$3
  mkdir -p "$run/logs"
  mail_start "$run" "$envfile"
  for svc in auth-user processing audit gateway; do
    if [ -f "$run/$svc.pid" ] && alive "$(cat "$run/$svc.pid")"; then continue; fi
    # audit's schema belongs to audit_owner: its migrations run as that role, before the service
    # (which gets only its own role's URL).
    if [ "$svc" = audit ] && ! ( set -a; . "$envfile"; set +a; svc_env audit
        [ -z "${AUDIT_MIGRATE_DATABASE_URL:-}" ] || MIGRATE_DATABASE_URL=$AUDIT_MIGRATE_DATABASE_URL \
          "$bin/services/audit/audit" --migrate ) >>"$run/logs/audit.log" 2>&1; then
      log "audit migrations failed (see $run/logs/audit.log)"; return 1
    fi
    if [ "${SUPERVISE:-0}" = 1 ]; then
      ( set -a; . "$envfile"; set +a; svc_env "$svc"; supervise "$svc" "$bin/services/$svc/$svc" "$run" ) \
        >>"$run/logs/$svc.log" 2>&1 &
    else
      ( set -a; . "$envfile"; set +a; svc_env "$svc"; exec "$bin/services/$svc/$svc" ) >>"$run/logs/$svc.log" 2>&1 &
    fi
    echo $! > "$run/$svc.pid"
  done
}

# start_instance <bin> <run dir> <env file> <service> <instance> [VAR=value ...]: one more
# instance of a service, as start_services starts it but with these variables on top (its own
# ports, spool, consumer name ...); pid in <run dir>/<service>-<instance>.pid, log in
# <run dir>/logs/<service>-<instance>.log.
start_instance() {
  local bin=$1 run=$2 envfile=$3 svc=$4 inst=$5; shift 5
  mkdir -p "$run/logs"
  ( set -a; . "$envfile"; set +a; svc_env "$svc"; [ $# -eq 0 ] || export "$@"
    exec "$bin/services/$svc/$svc" ) >> "$run/logs/$svc-$inst.log" 2>&1 &
  echo $! > "$run/$svc-$inst.pid"
}

# mail_start <run dir> <env file>: the SMTP sink that receives the suite's mails when the env
# file sets MAIL_DIR: Debian's aiosmtpd, STARTTLS required (the stack's certificate), each mail
# stored as a file in the Maildir $MAIL_DIR (new/). Pid in <run dir>/mail.pid.
mail_start() {
  local run=$1 envfile=$2 port dir
  port=$(set -a; . "$envfile"; echo "${SMTP_PORT:-}")
  dir=$(set -a; . "$envfile"; echo "${MAIL_DIR:-}")
  [ -n "$dir" ] && [ -n "$port" ] || return 0
  if [ ! -f "$run/mail.pid" ] || ! alive "$(cat "$run/mail.pid")"; then
    mkdir -p "$dir/new" "$dir/cur" "$dir/tmp"
    ( set -a; . "$envfile"; set +a
      exec /usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Mailbox "$MAIL_DIR" -l "127.0.0.1:$SMTP_PORT" \
        --tlscert "$TLS_CERT_FILE" --tlskey "$TLS_KEY_FILE" ) >>"$run/logs/mail.log" 2>&1 &
    echo $! > "$run/mail.pid"
  fi
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  log "SMTP sink did not start on $port (see $run/logs/mail.log)"; return 1
}

# mail_token <maildir> <address> verify|reset: the token of the newest verification or reset mail
# to <address>, waiting up to 10 s for it to arrive (status 1 when none does).
mail_token() {
  local dir=$1 to=$2 subject f
  case $3 in verify) subject="Subject: Confirm your e-mail address" ;; reset) subject="Subject: Reset your password" ;; esac
  for _ in $(seq 100); do
    for f in $(ls -t "$dir"/new/ 2>/dev/null); do
      tr -d '\r' < "$dir/new/$f" | grep -qixF "To: $to" || continue
      tr -d '\r' < "$dir/new/$f" | grep -qxF "$subject" || continue
      grep -oE 'token[=": ]+[A-Za-z0-9_-]{43}' "$dir/new/$f" | head -1 | grep -oE '[A-Za-z0-9_-]{43}$' && return 0
    done
    sleep 0.1
  done
  return 1
}

# supervise <name> <binary> <run dir>: runs the binary and starts it again when it dies, after
# 1, 2, 4 ... 30 s (back to 1 s once it has run for a minute), with a log line saying so.
# SIGTERM is passed on; the supervisor then exits with the service's own exit code.
# The running service's pid is in <run dir>/<name>.child.
supervise() {
  local name=$1 binary=$2 run=$3 child="" stopping=0 backoff=1 rc=0 started
  trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  while :; do
    started=$(date +%s)
    "$binary" &
    child=$!
    echo "$child" > "$run/$name.child"
    while :; do
      wait "$child" && rc=0 || rc=$?
      alive "$child" || break  # wait was interrupted by the trap: the child still runs
    done
    child=""
    rm -f "$run/$name.child"
    [ $stopping = 1 ] && exit $rc
    [ $(( $(date +%s) - started )) -ge 60 ] && backoff=1
    printf '{"timestamp":"%s","severity":"ERROR","service":"%s","message":"service exited; restarting","exit_status":%d,"restart_in_seconds":%d}\n' \
      "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" "$name" "$rc" "$backoff"
    sleep "$backoff" & wait $! || true
    [ $stopping = 1 ] && exit $rc
    backoff=$(( backoff * 2 > 30 ? 30 : backoff * 2 ))
  done
}

# The per-service variables (PORT, DATABASE_URL) derived from the shared env file.
svc_env() {
  case $1 in
    auth-user) export PORT=$AUTH_PORT DATABASE_URL=$AUTH_DATABASE_URL ;;
    processing) export PORT=$PROCESSING_PORT DATABASE_URL=$PROCESSING_DATABASE_URL ;;
    audit) export PORT=$AUDIT_PORT DATABASE_URL=$AUDIT_DATABASE_URL
      if [ -n "${AUDIT_DATABASE_READ_URL:-}" ]; then export DATABASE_READ_URL=$AUDIT_DATABASE_READ_URL; fi ;;
    gateway) export DOCS_DIR=${DOCS_DIR:-$bin/docs} ;;  # $bin: start_services' or start_instance's (the build's docs/)
  esac
}

stop_services() {  # stop_services <run dir>: SIGTERM, wait for the drain
  local run=$1
  for svc in gateway processing auth-user audit; do
    [ -f "$run/$svc.pid" ] || continue
    local pid; pid=$(cat "$run/$svc.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      [ -f "$run/$svc.child" ] && kill -KILL "$(cat "$run/$svc.child")" 2>/dev/null || true
    fi
    rm -f "$run/$svc.pid" "$run/$svc.child"
  done
  if [ -f "$run/mail.pid" ]; then
    local pid; pid=$(cat "$run/mail.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
    rm -f "$run/mail.pid"
  fi
}

wait_ready() {  # wait_ready <url> [curl args]: until /ready answers 200 (30 s)
  local url=$1; shift
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  log "not ready: $url"; return 1
}

# write_env <file> <dir> <pg port> <redis port> <port base> <secrets file>: the shared variables
# of one stack (services on base+1..3, gateway HTTPS on base+443). Leaves the secrets set in the
# shell (REDIS_PASSWORD for redis_start), and exports REDISCLI_AUTH for redis-cli.
write_env() {
  local file=$1 dir=$2 pgport=$3 rport=$4 base=$5 secrets=$6
  if [ ! -f "$secrets" ]; then
    umask 077
    cat > "$secrets" <<SECRETS
DB_PASSWORD=${SUITE_DB_PASSWORD:-$(openssl rand -hex 16)}
REDIS_PASSWORD=${SUITE_REDIS_PASSWORD:-$(openssl rand -hex 16)}
JWT_SECRET=$(openssl rand -hex 32)
INTERNAL_TOKEN_SECRET=$(openssl rand -hex 32)
SIGNING_KEYS_SECRET=$(openssl rand -hex 32)
API_KEY=sk-$(openssl rand -hex 16)
API_KEY_2=sk-$(openssl rand -hex 16)
ADMIN_PASSWORD=Adm1n-$(openssl rand -hex 8)!
SECRETS
  fi
  . "$secrets"
  # A secrets file from before signing keys existed: add one, once (it must stay the same).
  if ! grep -q '^SIGNING_KEYS_SECRET=' "$secrets"; then
    echo "SIGNING_KEYS_SECRET=$(openssl rand -hex 32)" >> "$secrets"
    . "$secrets"
  fi
  # The load-test key (tier unlimited: no rate limit, no quota), added once to older files.
  if ! grep -q '^BENCH_API_KEY=' "$secrets"; then
    echo "BENCH_API_KEY=sk-bench-$(openssl rand -hex 16)" >> "$secrets"
    . "$secrets"
  fi
  # Redis with a password, added once to older files (their Redis asks for it from its next start).
  if ! grep -q '^REDIS_PASSWORD=' "$secrets"; then
    echo "REDIS_PASSWORD=${SUITE_REDIS_PASSWORD:-$(openssl rand -hex 16)}" >> "$secrets"
    . "$secrets"
  fi
  export REDISCLI_AUTH=$REDIS_PASSWORD
  umask 077
  cat > "$file" <<ENV
JWT_SECRET=$JWT_SECRET
INTERNAL_TOKEN_SECRET=$INTERNAL_TOKEN_SECRET
SIGNING_KEYS_SECRET=$SIGNING_KEYS_SECRET
API_KEY=$API_KEY
BENCH_API_KEY=$BENCH_API_KEY
API_KEYS='[{"key":"$API_KEY","name":"local","tier":"enterprise"},{"key":"$API_KEY_2","name":"local-free","tier":"free"},{"key":"$BENCH_API_KEY","name":"bench","tier":"unlimited"}]'
REDIS_URL=redis://default:$REDIS_PASSWORD@127.0.0.1:$rport
AUTH_PORT=$((base + 1))
PROCESSING_PORT=$((base + 2))
AUDIT_PORT=$((base + 3))
AUTH_USER_URL=http://127.0.0.1:$((base + 1))
PROCESSING_URL=http://127.0.0.1:$((base + 2))
AUDIT_URL=http://127.0.0.1:$((base + 3))
HTTPS_PORT=$((base + 443))
METRICS_PORT=$((base + 90))
BIND_ADDRESS=127.0.0.1
TRUSTED_HOSTS=localhost,127.0.0.1
TLS_CERT_FILE=$dir/certs/server.crt
TLS_KEY_FILE=$dir/certs/server.key
AUTH_DATABASE_URL=postgresql://auth:$DB_PASSWORD@127.0.0.1:$pgport/suite
PROCESSING_DATABASE_URL=postgresql://processing:$DB_PASSWORD@127.0.0.1:$pgport/suite
AUDIT_DATABASE_URL=postgresql://audit:$DB_PASSWORD@127.0.0.1:$pgport/suite
AUDIT_MIGRATE_DATABASE_URL=postgresql://audit_owner:$DB_PASSWORD@127.0.0.1:$pgport/suite
AUDIT_LOG_FILE=$dir/logs/requests.log
AUDIT_SPOOL_DIR=$dir/spool
SMTP_HOST=127.0.0.1
SMTP_PORT=$((base + 25))
SMTP_TLS=required
SMTP_CA_FILE=$dir/certs/ca.crt
EMAIL_FROM=no-reply@suite.local
MAIL_DIR=$dir/mail
PUBLIC_BASE_URL=https://localhost:$((base + 443))
CORS_ORIGINS=http://localhost:3000,http://localhost:3001,http://localhost:8000
ADMIN_USERNAME=admin
ADMIN_EMAIL=admin@example.com
ADMIN_PASSWORD=$ADMIN_PASSWORD
ENV
  umask 022
}
