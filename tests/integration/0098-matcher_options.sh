#!/usr/bin/env bash
# tests/integration/0098-matcher_options.sh
#      cs-matcher's trigger options, each changing what the scenario of 0097
#      (matcher_scenario.sh) proposes, one fresh database per configuration (the effect scope is
#      shared by every group, so a configuration cannot re-read the same events in one database):
#       1. every trigger off (--rematch-on-*=false) and --low-rating-sessions 4: nothing at all;
#       2. --cooldown 0 --low-rating-sessions 1 --low-rating-threshold 1.5: K (held back by the
#          cooldown in 0097) is proposed, J (one rating of 1) is, A (newest rating 2) is not;
#       3. every learner proposed to a day before: the default cooldown holds back ratings, goals
#          and stage but not an unavailable mentor, a recommendation or a request;
#       4. the same with --cooldown-unavailable --cooldown-explicit: nothing.
set -euo pipefail
BIN=${1:?usage: 0098-matcher_options.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DBS=()
cleanup() {
  for d in "${DBS[@]}"; do psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# The keys (learners) of a topic's events, sorted; a topic nothing was published to is empty.
keys() { { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null || true; } | sort | tr '\n' ' '; }
P="t.matcher_opts.$$."
. "$(dirname "$0")/matcher_scenario.sh"
scenario_events
pub() { "$BIN/cs-produce" --log-level warn --topic "$1" "${@:3}" "$2" >/dev/null 2>&1 || fail "cs-produce $2"; }
pub "${P}cs.mentoring" "$T/mentoring.jsonl"
pub "${P}cs.profile" "$T/profile.jsonl"
pub "${P}readiness.in" "$T/readiness.jsonl" --allow-derived

# configure N [SQL]: a fresh database with the scenario (and SQL), drained by cs-progress.
configure() {
  local db=t_matcher_opts_$1_$$
  DBS+=("$db")
  DSN="${CS_PG_DSN%/*}/$db"
  psql "$CS_PG_DSN" -qc "CREATE DATABASE $db TEMPLATE cs_template"
  scenario_db
  [ -z "${2:-}" ] || q "$2"
  "$BIN/cs-progress" --pg-dsn "$DSN" --topics "${P}cs.mentoring,${P}cs.profile" --group "p$1.$$" --drain \
    --metrics-port -1 --log-level warn --session-timeout-ms 6000 2>"$T/p$1.err" || { cat "$T/p$1.err"; fail "cs-progress $1"; }
}
# match N OPTIONS...: cs-matcher with OPTIONS, its events on their own topic.
match() {
  local n=$1
  shift
  "$BIN/cs-matcher" --pg-dsn "$DSN" --topics "${P}cs.mentoring,${P}cs.profile,${P}readiness.in" --group "m$n.$$" \
    --derived-topic "${P}d$n" --drain --metrics-port -1 --log-level warn --session-timeout-ms 6000 "$@" \
    2>"$T/m$n.err" || { cat "$T/m$n.err"; fail "cs-matcher $n"; }
}
expect() { # N "learners..." what
  local want got
  want=$(for k in $2; do echo "$k"; done | sort | tr '\n' ' ')
  got=$(keys "${P}d$1")
  [ "$got" = "$want" ] || fail "configuration $1 ($3): proposed to [$got], want [$want]"
  echo "configuration $1: ok ($3)"
}

configure 1
match 1 --rematch-on-goals=false --rematch-on-stage=false --rematch-on-availability=false \
  --rematch-on-recommendation=false --rematch-on-request=false --low-rating-sessions 4
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed'")" -eq 0 ] || fail "configuration 1 wrote proposals"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "configuration 1 left events in the outbox"
expect 1 "" "every trigger off"

configure 2
match 2 --cooldown 0 --low-rating-sessions 1 --low-rating-threshold 1.5
expect 2 "$B $C $D $E $F $I $J $K $L $R" "no cooldown, the last rating alone"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "configuration 2 left events in the outbox"

held="INSERT INTO mentorship_relationships (mentor_id, mentee_id, status, requested_at, match_reasons)
      SELECT '$N3', ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'declined',
             '2026-11-30T12:00:00Z', '{\"proposed_by\": \"cs-matcher\"}' FROM generate_series(1, 14) i WHERE i <> 11"
configure 3 "$held"
match 3
expect 3 "$C $D $E $F $I $R" "default cooldown: losing a mentor, recommendations and requests pass"

configure 4 "$held"
match 4 --cooldown-unavailable --cooldown-explicit
[ "$(q "SELECT count(*) FROM mentorship_relationships WHERE status = 'proposed'")" -eq 0 ] || fail "configuration 4 wrote proposals"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "configuration 4 left events in the outbox"
expect 4 "" "the cooldown holds back everything"
