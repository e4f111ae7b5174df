# Sourced by the shell tests: one line per check, and the count of failures.
#   check NAME GOT EXPECTED; pass NAME; fail NAME; [ $fails -eq 0 ] at the end.
fails=0
pass() { printf '  ok   %s\n' "$1"; }
fail() { printf '  FAIL %s\n' "$1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$3], got [$2]"; fi; }
