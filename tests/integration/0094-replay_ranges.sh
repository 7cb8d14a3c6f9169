#!/usr/bin/env bash
# tests/integration/0094-replay_ranges.sh
#      cs-replay over offset and time ranges gives exactly the rows of a live run over the same
#      events (issue 16). On the real broker, three parts of a cs-loadgen stream are published
#      to topics P, a second apart (Kafka stamps each message with its produce time); the second
#      part is also published alone to topics Q. Live cs-progress runs (--drain) are the
#      references: A1 over P after the first part only, A over all of P, C over Q. Then, each in a
#      fresh database:
#       - B: first a --dry-run of everything, which writes nothing (every table's row count, the
#         ledger, offsets, dead letters and jobs unchanged) and reports the counts the real run
#         then applies; then cs-replay of everything: A's rows; replayed a second time, nothing
#         changes (the ledger skips every once-only effect: applied 0);
#       - B1: an offset range, --to-offset topic:p=N,... with N the high watermarks after the
#         first part (read independently with Kafka's get-offsets): A1's rows;
#       - B2: a time range, --from / --to the instants between the parts (resolved by the broker's
#         timestamp index): C's rows, and exactly the second part's number of events read.
set -euo pipefail
BIN=${1:?usage: 0094-replay_ranges.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init 0094
DBS=(t_rrng_a1_$$ t_rrng_a_$$ t_rrng_c_$$ t_rrng_b_$$ t_rrng_b1_$$ t_rrng_b2_$$)
DSNA1=$(it_dsn "${DBS[0]}") DSNA=$(it_dsn "${DBS[1]}") DSNC=$(it_dsn "${DBS[2]}")
DSNB=$(it_dsn "${DBS[3]}") DSNB1=$(it_dsn "${DBS[4]}") DSNB2=$(it_dsn "${DBS[5]}")
N1=${CS_REPLAY_N1:-2500} N2=${CS_REPLAY_N2:-2500} N3=${CS_REPLAY_N3:-1500}
MENTORS=50
cleanup() {
  it_db_drop
  rm -rf "$T"
}
trap cleanup EXIT
it_db "${DBS[@]}"

P="t.rrng.$$.p." Q="t.rrng.$$.q."
TP=$(progress_topics "$P") TQ=$(progress_topics "$Q")
gen() { # gen PREFIX SEED EVENTS
  "$BIN/cs-loadgen" --learners 300 --mentors $MENTORS --days 0 --malformed 0.01 --publish \
    --topic-prefix "$1" --seed "$2" --events "$3" 2>"$T/gen.log" || { cat "$T/gen.log"; fail "cs-loadgen"; }
}
live() { # live DSN TOPICS NAME: cs-progress --drain, the reference
  "$BIN/cs-progress" --pg-dsn "$1" --topics "$2" --group "cs-progress-$3-$$" --drain \
    --metrics-port -1 --log-level=info 2>"$T/$3.log" || { tail -n 20 "$T/$3.log" >&2; fail "live run $3 exited $?"; }
  log_ok "$T/$3.log"
}
replay() { # replay DSN NAME [options]
  local d=$1 name=$2
  shift 2
  "$BIN/cs-replay" progress --pg-dsn "$d" --topics "$TP" --metrics-port -1 --log-level=info --json \
    "$@" >"$T/$name.json" 2>"$T/$name.log" || { tail -n 20 "$T/$name.log" >&2; fail "replay $name exited $?"; }
  log_ok "$T/$name.log"
}
field() { grep -o "\"$2\":[0-9]*" "$T/$1.json" | head -n 1 | cut -d: -f2; } # the first: the totals
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
same() { # same NAME DSN REFNAME REFDSN
  progress_state "$2" >"$T/state-$1"
  progress_state "$4" >"$T/state-$3"
  [ "$(wc -l <"$T/state-$3")" -gt 200 ] || fail "$3 holds only $(wc -l <"$T/state-$3") rows"
  cmp -s "$T/state-$3" "$T/state-$1" || { diff "$T/state-$3" "$T/state-$1" | head -n 10 | cut -c1-300 >&2; fail "$1's rows differ from $3's"; }
  q "$2" "SELECT event_id FROM processed_events ORDER BY 1" >"$T/ids-$1"
  q "$4" "SELECT event_id FROM processed_events ORDER BY 1" >"$T/ids-$3"
  cmp -s "$T/ids-$3" "$T/ids-$1" || fail "$1's ledger differs from $3's"
}

# The stream: part 1, t1, part 2 (also alone on Q), t2, part 3.
gen "$P" 941 "$N1"
live "$DSNA1" "$TP" a1 # the reference for the first part: everything there is now
"$ROOT/scripts/kafka" tool get-offsets --topic "${P//./\\.}.*" --time -1 2>/dev/null | grep -v "\.dlq:" | sort >"$T/high1"
[ "$(awk -F: '{s += $NF} END {print s}' "$T/high1")" -eq "$N1" ] || { cat "$T/high1" >&2; fail "get-offsets after part 1"; }
to_spec=$(awk -F: '{printf "%s%s:%s=%s", (NR > 1 ? "," : ""), $1, $2, $3}' "$T/high1")
sleep 1.2
t1=$(now_iso)
sleep 1.2
gen "$P" 942 "$N2"
gen "$Q" 942 "$N2"
sleep 1.2
t2=$(now_iso)
sleep 1.2
gen "$P" 943 "$N3"
live "$DSNA" "$TP" a
live "$DSNC" "$TQ" c
echo "stream: $N1 + $N2 + $N3 events on ${P}*, part 2 ($N2) alone on ${Q}*; t1 $t1, t2 $t2"

# B: a dry run first: nothing written, the counts of the real run.
counts() {
  q "$1" "SELECT string_agg(format('%s=%s', c.relname,
            (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]), ' ' ORDER BY c.relname)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
}
counts "$DSNB" >"$T/counts-before"
replay "$DSNB" dry --dry-run
counts "$DSNB" >"$T/counts-after"
cmp -s "$T/counts-before" "$T/counts-after" || { diff <(tr ' ' '\n' <"$T/counts-before") <(tr ' ' '\n' <"$T/counts-after") >&2; fail "the dry run wrote rows"; }
grep -q '"dry_run":true' "$T/dry.json" || { cat "$T/dry.json" >&2; fail "the dry run's report"; }
grep -q '"tables":{.*"user_progress":[1-9]' "$T/dry.json" || { cat "$T/dry.json" >&2; fail "the dry run reports no rows per table"; }
grep -q '"types":{.*"content_progress":{"applied":[1-9]' "$T/dry.json" || { cat "$T/dry.json" >&2; fail "the dry run reports no events per type"; }
echo "B: --dry-run wrote nothing ($(wc -w <"$T/counts-after") tables' row counts unchanged)"

# B: everything, twice.
replay "$DSNB" b
[ "$(field b read)" -eq $((N1 + N2 + N3)) ] || { cat "$T/b.json" >&2; fail "B read $(field b read)"; }
same B "$DSNB" A "$DSNA"
for f in read applied skipped_duplicate skipped_erased dead_lettered; do
  [ "$(field dry $f)" = "$(field b $f)" ] || fail "the dry run reported $f $(field dry $f); the replay's is $(field b $f)"
done
echo "B: replay of everything: A's rows ($(wc -l <"$T/state-A") rows), $(field b applied) events applied"
replay "$DSNB" b2nd
[ "$(field b2nd read)" -eq $((N1 + N2 + N3)) ] && [ "$(field b2nd applied)" -eq 0 ] \
  || { cat "$T/b2nd.json" >&2; fail "the second replay of B applied events"; }
same B2nd "$DSNB" A "$DSNA"
echo "B: replayed again: nothing changed (applied 0, skipped as duplicates $(field b2nd skipped_duplicate))"

# B1: the offset range of part 1.
replay "$DSNB1" b1 --to-offset "$to_spec"
[ "$(field b1 read)" -eq "$N1" ] || { cat "$T/b1.json" >&2; fail "B1 read $(field b1 read), not $N1"; }
same B1 "$DSNB1" A1 "$DSNA1"
echo "B1: --to-offset at the high watermarks after part 1: A1's rows ($(wc -l <"$T/state-A1") rows)"

# B2: the time range of part 2.
replay "$DSNB2" b2 --from "$t1" --to "$t2"
[ "$(field b2 read)" -eq "$N2" ] || { cat "$T/b2.json" >&2; fail "B2 read $(field b2 read), not $N2"; }
same B2 "$DSNB2" C "$DSNC"
echo "B2: --from $t1 --to $t2: C's rows ($(wc -l <"$T/state-C") rows), $N2 events read"

# Errors are named, exit 2, and make no job.
refused() { # refused MESSAGE ARGS...: cs-replay ARGS exits 2 saying MESSAGE
  local msg=$1 rc=0
  shift
  "$BIN/cs-replay" "$@" --pg-dsn "$DSNB2" --metrics-port -1 >"$T/refused.out" 2>"$T/refused.err" || rc=$?
  [ "$rc" -eq 2 ] && grep -qF -e "$msg" "$T/refused.err" || { cat "$T/refused.err" >&2; fail "cs-replay $* exited $rc without saying '$msg'"; }
}
jobs_before=$(q "$DSNB2" "SELECT count(*) FROM replay_jobs")
refused "unknown worker 'nosuch'" nosuch --topics "$TP"
refused "unknown topic '${P}cs.nope'" progress --topics "$TP,${P}cs.nope"
refused "no topic has partition 9" progress --topics "$TP" --partitions 9
refused "unknown partition '${P}cs.learning:9'" progress --topics "$TP" --to-offset "${P}cs.learning:9=5"
refused "--from $t2 is not before --to $t1" progress --topics "$TP" --from "$t2" --to "$t1"
refused "--from-offset 9 is after --to-offset 3" progress --topics "$TP" --from-offset 9 --to-offset 3
refused "no event at or after this time" progress --topics "$TP" --from 2099-01-01T00:00Z
refused "'yesterday' is not a time" progress --topics "$TP" --from yesterday
[ "$(q "$DSNB2" "SELECT count(*) FROM replay_jobs")" -eq "$jobs_before" ] || fail "a refused replay made a job"
echo "refusals: unknown worker, topic and partitions, --from not before --to, offsets reversed, an empty --from, a bad time"
echo "ok"
