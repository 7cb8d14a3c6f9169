# tests/integration/psql_sessions.sh
#      Sourced by script tests that hold PostgreSQL sessions open side by side (locks, waits):
#      a psql session fed line by line through a FIFO: open NAME, say NAME SQL, close NAME; its
#      output in $T/NAME.out. The caller defines T (a scratch directory), DSN, DB, q (a query on
#      DSN) and the array pids (killed by its cleanup).

open() {
  mkfifo "$T/$1.in"
  psql "$DSN" -qAtX -v ON_ERROR_STOP=0 <"$T/$1.in" >"$T/$1.out" 2>&1 &
  pids+=($!)
  eval "exec {fd_$1}>\"$T/$1.in\""
}
say() { local fd="fd_$1"; echo "$2" >&"${!fd}"; }
close() { local fd="fd_$1"; eval "exec ${!fd}>&-"; }
# Waits until a session of application NAME waits for a lock (up to 20 s).
waits_for_lock() {
  local i
  for i in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND application_name = '$1'
                                               AND wait_event_type = 'Lock'")" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}
# Waits until session NAME's output holds the pattern (up to 20 s).
waitfor() { local i; for i in $(seq 1 100); do grep -q "$2" "$T/$1.out" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
