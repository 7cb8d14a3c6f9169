#!/usr/bin/env bash
# tests/integration/0091-erasure_stays_erased.sh
#      Erasure that stays erased (issue 16; migrations 0067, 0068): on the loopback broker,
#       1. learners X, Z and Y each publish a profile, a content progress and an employer
#          feedback (with the employer's contact in the comment), and X an undecodable message
#          keyed by X; cs-progress and cs-audit drain them: X has rows, a dead letter with
#          payload (its user_id taken from the key) per worker, a .dlq record with payload each;
#       2. user_erasure_requested for X, drained by cs-progress first (it applies the erasure:
#          erasures_applied, gdpr_erase_user in its batch; cs-audit then skips the erased
#          learner's request), then for Z by cs-audit first (it logs the request, applies the
#          erasure and redacts in the same batch, the request's own row included; cs-progress
#          then skips it): both in erased_users with their reason, their profile cascade gone,
#          their employer feedback anonymised as the seed describes (graduate link, contact and
#          comment gone, ratings and job title kept, employer name only with consent), their
#          audit payloads redacted, X's dead letters deleted; Y untouched;
#       3. the same events replayed: cs-progress's group rewound to 0 in consumer_offsets, and a
#          second cs-progress group and a second cs-audit group from the beginning. Then: no row
#          of X anywhere, X's employer feedback still one anonymised row, X's dead letters only
#          without payload and key (erased), the .dlq records published by the replays without
#          payload and key (cs-erased: true, no cs-user-id), the audit log intact
#          (cs-audit verify) with every row of X redacted.
set -euo pipefail
BIN=${1:?usage: 0091-erasure_stays_erased.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_erase_$$
ADMIN=$CS_PG_DSN
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
psql "$ADMIN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"

prefix="t.erase.$$."
export CS_ANCHOR_TOPIC="${prefix}anchors"
X=aaaaaaaa-0000-4000-8000-0000000000$(printf '%02d' $(($$ % 100)))
Y=bbbbbbbb-0000-4000-8000-000000000001
Z=cccccccc-0000-4000-8000-000000000001
topics=""
for t in cs.learning cs.mentoring cs.jobsearch cs.portfolio cs.profile; do topics="$topics${topics:+,}$prefix$t"; done
# cs-audit also reads the derived topic, which nothing here publishes to: made first (a drain gives
# a missing topic only 10 s to be created by its subscription; a broker busy with parallel tests
# does not always manage).
"$(dirname "${BASH_SOURCE[0]}")/../../scripts/kafka" tool topics --create --if-not-exists --topic "${prefix}cs.derived" \
  --partitions 4 >/dev/null 2>&1 || fail "topics --create ${prefix}cs.derived"

# events LEARNER N TYPE...: one JSON line per type, from cs-produce's example of the type, with the
# learner, a fresh event id and payload ids of its own (N distinguishes learners).
events() {
  local user=$1 n=$2 t
  shift 2
  for t in "$@"; do "$BIN/cs-produce" --schema "$t"; done | python3 -c '
import json, sys, uuid
user, n = sys.argv[1], int(sys.argv[2])
for i, line in enumerate(sys.stdin):
    e = json.loads(line)
    e["user_id"] = user
    e["event_id"] = str(uuid.uuid4())
    p = e["payload"]
    if e["event_type"] == "employer_feedback_received":
        p["feedback_id"] = str(uuid.uuid4())
        p["comment"] = "Ask Jane Roe (jane.roe@northwind.example) for a reference"
    if e["event_type"] == "content_progress":
        p["content_id"] = str(uuid.uuid4())
    if e["event_type"] == "user_erasure_requested":
        p["request_id"] = str(uuid.uuid4())
    print(json.dumps(e))
' "$user" "$n"
}
publish() { # publish FILE: each line to its type's topic under the prefix
  local f=$1 t
  for t in cs.learning cs.jobsearch cs.profile; do
    python3 -c '
import json, sys
m = {"content_progress": "cs.learning", "employer_feedback_received": "cs.jobsearch",
     "learner_profile_updated": "cs.profile", "user_erasure_requested": "cs.profile"}
for l in open(sys.argv[1]):
    if m[json.loads(l)["event_type"]] == sys.argv[2]:
        sys.stdout.write(l)' "$f" "$t" >"$T/pub"
    [ -s "$T/pub" ] || continue
    "$BIN/cs-produce" --topic "$prefix$t" --log-level warn "$T/pub" || fail "cs-produce to $prefix$t"
  done
}
drain() { # drain WORKER GROUP LOG
  local topics_w=$topics
  [ "$1" = cs-audit ] && topics_w="$topics,${prefix}cs.derived"
  "$BIN/$1" --pg-dsn "$DSN" --topics "$topics_w" --group "$2" --drain --log-level=info --metrics-port -1 \
    --session-timeout-ms 6000 2>"$3" || { tail -n 20 "$3" >&2; fail "$1 --group $2 exited $?"; }
  if grep -E '"level":"(fatal|error)"' "$3" >"$T/errors"; then head -n 5 "$T/errors" >&2; fail "$1 $2 logged errors"; fi
}
dlq() { # the .dlq records of cs.learning: "group<TAB>key<TAB>payload<TAB>erased" per record
  kcat -C -b "$CS_KAFKA_BROKERS" -t "${prefix}cs.learning.dlq" -e -q -J 2>/dev/null | python3 -c '
import json, sys
for l in sys.stdin:
    m = json.loads(l)
    h = dict(zip(m.get("headers", [])[0::2], m.get("headers", [])[1::2]))
    v = lambda x: "null" if x is None else x
    print("%s\t%s\t%s\t%s\t%s" % (h.get("cs-group"), v(m.get("key")), v(m.get("payload")), h.get("cs-erased", "-"), h.get("cs-user-id", "-")))'
}
# kcat needs the topic to exist before it is read; the workers' dead letters create it.

# ---- 1. the learners' events -------------------------------------------------------------------
{ events "$X" 1 learner_profile_updated content_progress employer_feedback_received
  events "$Y" 2 learner_profile_updated content_progress employer_feedback_received
  events "$Z" 3 learner_profile_updated content_progress employer_feedback_received; } >"$T/ev1.jsonl"
publish "$T/ev1.jsonl"
printf '%s|this is not an event of %s\n' "$X" "$X" | kcat -P -b "$CS_KAFKA_BROKERS" -t "${prefix}cs.learning" -K '|' \
  || fail "kcat produce"
drain cs-progress cs-progress-e$$ "$T/p1.log"
drain cs-audit cs-audit-e$$ "$T/a1.log"
[ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = '$X'")" -eq 1 ] || fail "no profile of X"
[ "$(q "SELECT count(*) FROM user_progress WHERE user_id = '$X'")" -eq 1 ] || fail "no progress of X"
[ "$(q "SELECT count(*) FROM employer_feedback WHERE user_id = '$X' AND comments LIKE '%jane.roe%'")" -eq 1 ] || fail "no feedback of X"
[ "$(q "SELECT count(*) FROM dead_letters WHERE user_id = '$X' AND payload IS NOT NULL AND NOT erased")" -eq 2 ] \
  || fail "expected X's undecodable message dead-lettered with payload by both workers (user_id from the key)"
[ "$(q "SELECT count(*) FROM system_logs WHERE user_id = '$X'")" -eq 3 ] || fail "expected 3 audit rows of X"
dlq >"$T/dlq1"
[ "$(awk -F'\t' '$3 != "null"' "$T/dlq1" | wc -l)" -eq 2 ] || { cat "$T/dlq1" >&2; fail "expected 2 .dlq records with payload"; }
echo "1. before the erasure: X's rows, 2 dead letters and 2 .dlq records with payload"

# ---- 2. the erasures ------------------------------------------------------------------------
events "$X" 1 user_erasure_requested >"$T/ev2.jsonl"
publish "$T/ev2.jsonl"
drain cs-progress cs-progress-e$$ "$T/p2.log"
drain cs-audit cs-audit-e$$ "$T/a2.log"
events "$Z" 3 user_erasure_requested >"$T/ev2z.jsonl"
publish "$T/ev2z.jsonl"
drain cs-audit cs-audit-e$$ "$T/a2z.log"
drain cs-progress cs-progress-e$$ "$T/p2z.log"
[ "$(q "SELECT string_agg(worker || ':' || user_id, ',' ORDER BY worker) FROM erasures_applied")" = "audit:$Z,progress:$X" ] \
  || { q "SELECT * FROM erasures_applied" >&2; fail "expected X's erasure applied by cs-progress, Z's by cs-audit"; }
erased_ok() { # erased_ok LEARNER AUDIT_ROWS
  local u=$1 fb
  [ "$(q "SELECT count(*) FROM erased_users WHERE user_id = '$u' AND reason = 'user_request'")" -eq 1 ] || fail "$u not in erased_users"
  [ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = '$u'")" -eq 0 ] || fail "$u's profile survived"
  [ "$(q "SELECT count(*) FROM user_progress WHERE user_id = '$u'")" -eq 0 ] || fail "$u's progress survived"
  [ "$(q "SELECT count(*) FROM employer_feedback WHERE user_id = '$u'")" -eq 0 ] || fail "$u's employer feedback still names $u"
  [ "$(q "SELECT count(*) FROM dead_letters WHERE user_id = '$u' AND (payload IS NOT NULL OR msg_key IS NOT NULL)")" -eq 0 ] \
    || fail "$u's dead letters with payload survived"
  [ "$(q "SELECT count(*) FROM system_logs WHERE user_id = '$u'")" -eq "$2" ] || fail "expected $2 audit rows of $u"
  [ "$(q "SELECT count(*) FROM system_logs WHERE user_id = '$u' AND payload::text <> cs_audit_redaction_marker()::text")" -eq 0 ] \
    || fail "$u's audit payloads not redacted"
}
# X: its 3 events logged before; cs-progress erased X first, so cs-audit skipped the request.
erased_ok "$X" 3
# Z: cs-audit logged the request too (and redacted it in the same batch).
erased_ok "$Z" 4
[ "$(q "SELECT count(*) FROM dead_letters WHERE user_id = '$X'")" -eq 0 ] || fail "X's dead letters survived the erasure"
# The feedback of both, anonymised as the seed describes: the rows stay for the ratings.
fb=$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE user_id IS NULL AND comments IS NULL AND employer_contact_name IS NULL
               AND employer_contact_email IS NULL AND anonymized_at IS NOT NULL AND technical_skills_rating = 4
               AND soft_skills_rating = 5 AND overall_performance_rating = 4
               AND employer_name IS NULL AND job_title = 'Junior Data Analyst')
          FROM employer_feedback WHERE user_id IS NULL")
[ "$fb" = "2 2" ] || { q "SELECT * FROM employer_feedback" >&2; fail "the erased learners' employer feedback is not anonymised as the seed describes: '$fb'"; }
[ "$(q "SELECT count(*) FROM user_career_profiles WHERE user_id = '$Y'") $(q "SELECT count(*) FROM employer_feedback WHERE user_id = '$Y' AND comments LIKE '%jane.roe%'")" = "1 1" ] \
  || fail "Y was touched"
echo "2. erased X (by cs-progress) and Z (by cs-audit): rows gone, feedback anonymised (ratings kept), audit redacted, dead letters deleted; Y intact"

# ---- 3. the same events replayed ---------------------------------------------------------------
q "UPDATE consumer_offsets SET next_offset = 0 WHERE consumer_group = 'cs-progress-e$$'" >/dev/null
drain cs-progress cs-progress-e$$ "$T/p3.log"
drain cs-progress cs-progress-replay-e$$ "$T/p4.log"
drain cs-audit cs-audit-replay-e$$ "$T/a3.log"
for t in user_career_profiles career_transformation_progress user_progress; do
  [ "$(q "SELECT count(*) FROM $t WHERE user_id IN ('$X', '$Z')")" -eq 0 ] || fail "the replay brought back X's or Z's $t"
done
[ "$(q "SELECT count(*) FROM employer_feedback WHERE user_id IN ('$X', '$Z')") $(q "SELECT count(*) FROM employer_feedback WHERE user_id IS NULL")" = "0 2" ] \
  || fail "the replay brought back X's or Z's employer feedback"
dl=$(q "SELECT count(*) || ' ' || count(*) FILTER (WHERE payload IS NULL AND msg_key IS NULL AND erased
              AND reason NOT LIKE '%this is not%') FROM dead_letters WHERE user_id = '$X'")
[ "$dl" = "3 3" ] || { q "SELECT consumer_group, erased, reason, length(payload) FROM dead_letters" >&2; fail "X's dead letters after the replay: '$dl' (rows, scrubbed), expected 3 3"; }
[ "$(q "SELECT count(*) FROM dead_letters WHERE convert_from(coalesce(payload, ''), 'SQL_ASCII') LIKE '%$X%'
         OR msg_key = convert_to('$X', 'UTF8')")" -eq 0 ] || fail "a dead letter still holds X's payload or key"
dlq >"$T/dlq3"
[ "$(wc -l <"$T/dlq3")" -eq 5 ] || { cat "$T/dlq3" >&2; fail "expected 5 .dlq records (2 before, 3 after the erasure)"; }
[ "$(awk -F'\t' '$3 != "null"' "$T/dlq3" | wc -l)" -eq 2 ] || { cat "$T/dlq3" >&2; fail "a replay published X's payload to the .dlq topic again"; }
[ "$(awk -F'\t' '$3 == "null" && $2 == "null" && $4 == "true" && $5 == "-"' "$T/dlq3" | wc -l)" -eq 3 ] \
  || { cat "$T/dlq3" >&2; fail "the replays' .dlq records are not scrubbed (key, payload, cs-erased, cs-user-id)"; }
erased_ok "$X" 3
erased_ok "$Z" 4
"$BIN/cs-audit" verify --pg-dsn "$DSN" >"$T/verify" || { cat "$T/verify" >&2; fail "cs-audit verify"; }
grep -q "intact" "$T/verify" || { cat "$T/verify" >&2; fail "verify did not say intact"; }
echo "3. replayed (rewound group, new groups): nothing of X came back; audit chain intact"
echo "ok"
