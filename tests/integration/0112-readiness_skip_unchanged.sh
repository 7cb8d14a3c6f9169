#!/usr/bin/env bash
# tests/integration/0112-readiness_skip_unchanged.sh
#      cs-readiness stores with each score the fingerprint of the inputs it was computed from
#      (migration 0093) and leaves out of its read the learners whose stored score its model
#      computed from the same inputs: after a drain every stored fingerprint is the one the read
#      gives now; a second drain under another group (a replay) scores nobody, changes no row and
#      emits nothing; under another model version (--readiness-model) every learner is scored
#      again; a score whose fingerprint is gone is recomputed (and, unchanged, not rewritten).
set -euo pipefail
BIN=${1:?usage: 0112-readiness_skip_unchanged.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_rskip_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
msgs() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
q "INSERT INTO mentor_profiles (mentor_id, display_name) SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m FROM generate_series(1, 30) m"
P="t.rskip.$$."
topics="${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
derived="${P}cs.derived"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 300 --mentors 30 --events 6000 --days 0 --seed 11 \
  --log-level warn || fail "cs-loadgen"
run() { "$@" --pg-dsn "$DSN" --topics "$topics" --drain --metrics-port -1 --session-timeout-ms 6000; }
run "$BIN/cs-progress" --group "p.$$" --log-level warn 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }
# learners_scored of a drain's closing "readiness totals" line
scored() { grep '"readiness totals"' "$1" | sed -n 's/.*"learners_scored":\([0-9]*\).*/\1/p'; }
batches() { grep '"readiness totals"' "$1" | sed -n 's/.*"batches":\([0-9]*\).*/\1/p'; }
# What a drain may change: every readiness column and the row version.
state() { q "SELECT md5(string_agg(user_id || xmin::text || score || stage || inputs_fp
                                   || coalesce(emitted_score::text, '') || source_event_id, ',' ORDER BY user_id))
               FROM career_readiness_scores WHERE score IS NOT NULL"; }

# 1. A drain stores every score with the fingerprint of the inputs it read.
run "$BIN/cs-readiness" --group "r1.$$" --derived-topic "$derived" --log-level info 2>"$T/r1.err" \
  || { cat "$T/r1.err"; fail "cs-readiness"; }
n=$(q "SELECT count(*) FROM career_readiness_scores WHERE score IS NOT NULL")
[ "$n" -gt 100 ] || fail "only $n learners scored"
[ "$(scored "$T/r1.err")" -ge "$n" ] || fail "the first drain scored $(scored "$T/r1.err") of $n learners"
[ "$(q "SELECT count(*) FROM career_readiness_scores p
          LEFT JOIN career_readiness_inputs_fp((SELECT array_agg(user_id) FROM career_readiness_scores)) i
            ON i.user_id = p.user_id
         WHERE p.score IS NOT NULL AND p.inputs_fp IS DISTINCT FROM i.inputs_fp")" -eq 0 ] \
  || fail "a stored fingerprint is not the one of the inputs now"
emitted=$(msgs "$derived")
[ "$emitted" -gt 0 ] || fail "nothing emitted"
before=$(state)
# Learners with no activity at all have no fingerprint (their as-of time is the clock's): the only
# ones a replay reads again, at most once per batch.
nofp=$(q "SELECT count(*) FROM career_readiness_scores WHERE score IS NOT NULL AND inputs_fp IS NULL")
[ "$nofp" -lt $((n / 10)) ] || fail "$nofp of $n learners have no fingerprint"

# 2. A replay under another group: every learner's inputs are unchanged, nobody with a
#    fingerprint is scored.
run "$BIN/cs-readiness" --group "r2.$$" --derived-topic "$derived" --log-level info 2>"$T/r2.err" \
  || { cat "$T/r2.err"; fail "cs-readiness replay"; }
s2=$(scored "$T/r2.err") b2=$(batches "$T/r2.err")
[ "$s2" -le $((nofp * b2)) ] || fail "the replay scored $s2 learners in $b2 batches ($nofp without a fingerprint)"
[ "$(state)" = "$before" ] || fail "the replay changed a row"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "the replay emitted"

# 3. Fingerprints gone (a score stored before 0093): recomputed, the same score, nothing written.
q "UPDATE career_readiness_scores SET inputs_fp = NULL
    WHERE user_id IN (SELECT user_id FROM career_readiness_scores WHERE score IS NOT NULL
                      ORDER BY user_id LIMIT 20)"
before=$(state)
run "$BIN/cs-readiness" --group "r3.$$" --derived-topic "$derived" --log-level info 2>"$T/r3.err" \
  || { cat "$T/r3.err"; fail "cs-readiness third drain"; }
s3=$(scored "$T/r3.err") b3=$(batches "$T/r3.err")
[ "$s3" -ge 20 ] && [ "$s3" -le $(((20 + nofp) * b3)) ] \
  || fail "the third drain scored $s3 learners in $b3 batches, expected the 20 without a fingerprint (and the $nofp)"
[ "$(state)" = "$before" ] || fail "an unchanged recomputation wrote"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "the third drain emitted"

# 4. Another model version: every learner is scored again (a score the new weights leave as it
#    was is not rewritten: it keeps the old model version and is read again each time).
run "$BIN/cs-readiness" --group "r4.$$" --derived-topic "$derived" --readiness-model "weight.skills=0.31" \
  --log-level info 2>"$T/r4.err" || { cat "$T/r4.err"; fail "cs-readiness, another model"; }
[ "$(scored "$T/r4.err")" -ge "$n" ] || fail "another model scored $(scored "$T/r4.err") of $n learners"
echo "ok: $n learners ($nofp without activity), $emitted events; replay scored $s2; 20 without fingerprint: $s3 recomputations"
