# tests/integration/lib.sh - the set-up the shell integration tests share; sourced, not run.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   it_init NAME      after `set -euo pipefail`: ROOT, KAFKA (scripts/kafka), PY (the venv's
#                     python, else python3), MULT (CS_TEST_TIMEOUT_MULT), T (a fresh temporary
#                     directory /tmp/cs-it-NAME-XXXXXX) and T0 (the start, for say)
#   now_ms, now       the time in milliseconds / in seconds with decimals
#   say MSG           MSG prefixed with the seconds since it_init
#   fail MSG          "FAIL: MSG" on stderr, then it_fail_detail (a test may define it: what to
#                     show beside, e.g. its worker's last log lines), then exit 1
#   free_port         a free TCP port on 127.0.0.1
#
# Tests with a broker of their own (0080, 0083) export CS_KAFKA_DIR first, then:
#   it_kafka_start [ARGS]   starts it (scripts/kafka start ARGS), trying a second time on other
#                           ports; sets BROKERS
#   it_kafka_down N [RC]    kills its N nodes with -9 (a throwaway cluster needs no controlled
#                           shutdown), shows each node's last log lines when RC is not 0, and
#                           destroys it; nothing when it never started
# Tests that hold consumer_offsets locked (0086, 0087) set ADMIN, DSN and LOCKER, then:
#   lock_offsets            a psql session (application_name LOCKER) holds `LOCK TABLE
#                           consumer_offsets IN EXCLUSIVE MODE` in DSN until unlock; returns once
#                           the lock is granted (or after 5 s); LOCKPID is the session
#   unlock                  ends that session; harmless when none is running
# Tests with databases of their own in CS_PG_DSN's cluster (0080, 0094, 0095):
#   it_db NAME...           creates each database NAME from cs_template with the MENTORS mentors
#                           cs-loadgen names (md5('mentor-N'), as cs-seed derives them: coaching
#                           sessions and reviews reference them), and remembers it for it_db_drop
#   it_dsn NAME             the DSN of database NAME
#   it_db_drop              drops every database it_db made (for the EXIT trap; never fails)
#   it_kill_pids            kill -9 every process of the array PIDS and reaps them (for the trap)
#   q DSN SQL               the rows of SQL in DSN, unaligned, tuples only, stopping on an error
#   log_ok LOG              fails when a program's JSON log LOG has an error or fatal line
#   progress_topics PREFIX  cs-progress' topics (workers/progress.c), each prefixed with PREFIX,
#                           comma-separated; `progress_topics PREFIX cs.derived` adds cs.derived
#                           (cs-audit's topics: every source topic and the derived one)
# Tests comparing cs-progress' results (0080, 0090, 0094, 0095):
#   progress_state DSN      cs-progress' tables, row by row (every column but the insert-time
#                           ones and generated keys), sorted: equal output, equal effects

it_init() {
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  KAFKA=$ROOT/scripts/kafka
  PY=$ROOT/.cache/venv/bin/python
  [ -x "$PY" ] || PY=python3
  MULT=${CS_TEST_TIMEOUT_MULT:-1}
  T=$(mktemp -d "/tmp/cs-it-$1-XXXXXX")
  T0=$(now_ms)
  LOCKPID=
  IT_DBS=()
  PIDS=()
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
now() { date +%s.%N; }
say() { echo "[+$(( ($(now_ms) - T0) / 1000 )) s] $*"; }
it_fail_detail() { :; }
fail() { echo "FAIL: $*" >&2; it_fail_detail; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# scripts/kafka picks free ports, but in the kernel's ephemeral range (32768-60999): an outgoing
# connection may take one before its node binds it. Then the cluster does not start; a second
# try picks other ports.
it_kafka_start() {
  local try
  for try in 1 2; do
    BROKERS=$("$KAFKA" start "$@" 2>"$T/kafka-start.log") && return 0
    cat "$T/kafka-start.log" >&2
    grep -h "Address already in use" "$CS_KAFKA_DIR"/node-*/server.log 2>/dev/null | head -n 1 | cut -c1-200 >&2 || true
    [ "$try" -lt 2 ] || fail "the broker did not start"
    "$KAFKA" destroy >/dev/null 2>&1 || true
    echo "kafka: did not start, trying again on other ports"
  done
}

it_kafka_down() {
  local n=$1 rc=${2:-0} i
  [ -f "$CS_KAFKA_DIR/nodes" ] || return 0
  for i in $(seq 1 "$n"); do "$KAFKA" kill "$i" >/dev/null 2>&1 & done
  wait
  if [ "$rc" -ne 0 ]; then
    for i in $(seq 1 "$n"); do
      echo "--- node $i: last lines of server.log" >&2
      tail -n 15 "$CS_KAFKA_DIR/node-$i/server.log" 2>/dev/null | cut -c1-300 >&2 || true
    done
  fi
  "$KAFKA" destroy >/dev/null 2>&1 || true
}

lock_offsets() {
  psql "$DSN" -v ON_ERROR_STOP=1 -qc "SET application_name = '$LOCKER'" \
    -c "BEGIN" -c "LOCK TABLE consumer_offsets IN EXCLUSIVE MODE" -c "SELECT pg_sleep(600)" >/dev/null 2>"$T/lock.err" &
  LOCKPID=$!
  for _ in $(seq 1 50); do
    [ "$(psql "$ADMIN" -qAt -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '$LOCKER' AND l.mode = 'ExclusiveLock' AND l.granted AND l.relation IS NOT NULL")" -ge 1 ] && break
    sleep 0.1
  done
}

unlock() {
  psql "$ADMIN" -qAt -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$LOCKER'" >/dev/null 2>&1 || true
  [ -z "$LOCKPID" ] || wait "$LOCKPID" 2>/dev/null || true
  LOCKPID=
}

it_dsn() { echo "${CS_PG_DSN%/*}/$1"; }

it_db() {
  local db
  for db in "$@"; do
    psql "$CS_PG_DSN" -qc "CREATE DATABASE $db TEMPLATE cs_template"
    IT_DBS+=("$db")
    psql "$(it_dsn "$db")" -qAt -v ON_ERROR_STOP=1 -c "INSERT INTO mentor_profiles (mentor_id, display_name)
        SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m FROM generate_series(1, ${MENTORS:?}) m"
  done
}

it_db_drop() {
  local db
  for db in "${IT_DBS[@]}"; do
    psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}

it_kill_pids() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

q() { psql "$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }

log_ok() {
  if grep -E '"level":"(fatal|error)"' "$1" >"$T/errors"; then
    head -n 5 "$T/errors" >&2
    fail "$(basename "$1"): error lines"
  fi
}

progress_topics() {
  local out="" t
  for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile ${2:-}; do out="$out${out:+,}$1$t"; done
  echo "$out"
}

progress_state() {
  local sql="" t
  for t in user_career_profiles career_transformation_progress user_progress user_skill_assessments \
    career_milestones career_coaching_sessions interview_preparation employer_feedback \
    job_application_status_history job_applications user_portfolio_projects project_reviews; do
    sql="$sql${sql:+ UNION ALL }SELECT '$t ' || (to_jsonb(x) - 'updated_at' - 'created_at' - 'history_id'
      - 'milestone_id' - 'result_id' - 'showcase_ready_at')::text FROM $t x"
  done
  psql "$1" -qAt -v ON_ERROR_STOP=1 -c "$sql ORDER BY 1"
}
