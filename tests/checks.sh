# Sourced by the shell tests: one line per check, and the count of failures.
#   check NAME GOT EXPECTED; pass NAME; fail NAME; [ $fails -eq 0 ] at the end.
fails=0
pass() { printf '  ok   %s\n' "$1"; }
fail() { printf '  FAIL %s\n' "$1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$3], got [$2]"; fi; }

# The end-to-end scripts' requests through the gateway: they set GW (its URL), C (the curl
# command with its options) and DIR (a scratch directory).
# call <method> <path+query> [curl args]: sets STATUS, BODY, HEADERS
call() {
  local m=$1 u=$2; shift 2
  local out; out=$("${C[@]}" -D "$DIR/h" -o "$DIR/b" -w '%{http_code}' -X "$m" "$GW$u" "$@")
  STATUS=$out; BODY=$(cat "$DIR/b"); HEADERS=$(tr -d '\r' < "$DIR/h")
}
# header <lowercase name>: that header of the last call's answer
header() { printf '%s\n' "$HEADERS" | grep -i "^$1:" | head -1 | cut -d' ' -f2-; }

# stop_checked <run dir>: SIGTERM to each service started there; each must stop within 10 s, exit 0.
stop_checked() {
  local run=$1 svc pid rc
  for svc in gateway processing auth-user audit; do
    pid=$(cat "$run/$svc.pid"); kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then fail "$svc did not stop"; else wait "$pid" 2>/dev/null && rc=0 || rc=$?; check "$svc exit code" "$rc" 0; fi
    rm -f "$run/$svc.pid"
  done
}
