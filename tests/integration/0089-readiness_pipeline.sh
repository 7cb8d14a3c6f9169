#!/usr/bin/env bash
# tests/integration/0089-readiness_pipeline.sh
#      cs-readiness end to end: a cs-loadgen stream (20,000 events, 500 learners) drained by
#      cs-progress then cs-readiness gives every touched learner a score whose stored explanation
#      states the same score, a history row per stored change and one readiness_score_changed per
#      emitted change (through the outbox, on the derived topic, the outbox empty at the end); a
#      replay (offsets rewound, another batch size) changes no row and emits nothing. The scores are
#      recomputed independently (the documented formula in SQL over the inputs) and must agree to
#      the hundredth, score, dimensions and stage; the derived events are v2 (stage, job search,
#      previous stage, reason) and agree with their history rows.
set -euo pipefail
BIN=${1:?usage: 0089-readiness_pipeline.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_readiness_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
msgs() { kcat -C -b "$CS_KAFKA_BROKERS" -t "$1" -o beginning -e -q -f '%k\n' 2>/dev/null | wc -l; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
q "INSERT INTO mentor_profiles (mentor_id, display_name) SELECT md5('mentor-' || m)::uuid, 'Mentor ' || m FROM generate_series(1, 50) m"
P="t.readiness.$$."
topics="${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
derived="${P}cs.derived"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 500 --mentors 50 --events 20000 --days 0 \
  --seed 7 --log-level warn --jsonl "$T/ev.jsonl" || fail "cs-loadgen"
run() { "$@" --pg-dsn "$DSN" --topics "$topics" --drain --metrics-port -1 --log-level warn --session-timeout-ms 6000; }
run "$BIN/cs-progress" --group "p.$$" 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "$derived" 2>"$T/r1.err" || { cat "$T/r1.err"; fail "cs-readiness"; }
grep -q '"level":"warn"' "$T/r1.err" && { cat "$T/r1.err"; fail "cs-readiness warned"; }

# The learners of the stream: each line's envelope user_id (the first one; payloads name others),
# but for mentor_availability_changed, whose user_id is a mentor.
touched=$(grep -v '"event_type":"mentor_availability_changed"' "$T/ev.jsonl" | awk 'match($0, /"user_id":"[0-9a-f-]+"/) { print substr($0, RSTART, RLENGTH) }' | sort -u | wc -l)
[ "$(q "SELECT count(score) FROM career_readiness_scores")" -eq "$touched" ] \
  || fail "expected a score for each of the $touched learners of the stream"
# In its own table since migration 0099: the progress rows carry none.
[ "$(q "SELECT count(*) FROM career_transformation_progress WHERE readiness_score IS NOT NULL OR readiness_stage IS NOT NULL
        OR readiness_explanation IS NOT NULL OR readiness_inputs_fp IS NOT NULL")" -eq 0 ] \
  || fail "cs-readiness wrote readiness columns of career_transformation_progress"
[ "$(q "SELECT count(*) FROM career_readiness_scores WHERE score IS NOT NULL AND
        ((explanation->>'overall')::numeric <> score
         OR explanation->>'stage' <> stage
         OR model_version IS NULL OR computed_at IS NULL)")" -eq 0 ] \
  || fail "a stored explanation disagrees with its score or stage"
[ "$(q "SELECT count(*) FROM career_readiness_scores p WHERE score IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM career_readiness_history h WHERE h.user_id = p.user_id AND h.score = p.score
         AND h.stage = p.stage AND h.source_event_id = p.source_event_id)")" -eq 0 ] \
  || fail "a stored score has no history row"
emitted=$(q "SELECT count(*) FROM career_readiness_history WHERE emitted")
[ "$emitted" -gt 0 ] || fail "nothing emitted"
[ "$(q "SELECT count(*) FROM outbox_events")" -eq 0 ] || fail "the outbox is not empty"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "derived topic holds $(msgs "$derived") events, $emitted emitted"
[ "$(q "SELECT count(*) FROM career_readiness_scores WHERE score IS NOT NULL AND
        (emitted_score IS DISTINCT FROM score OR emitted_stage IS DISTINCT FROM stage)")" -eq 0 ] \
  || fail "a first score was not emitted"
echo "scores: ok ($touched learners, $emitted events)"
# The explanation (format 2, docs/readiness.md): every dimension's score as stored in its column,
# at most three gaps, each losing weight x (100 - score) points (default weights, to the
# hundredth), largest first, the best change a gap's (by index) or written in full; small enough
# that PostgreSQL stores it uncompressed.
bad=$(q "WITH w(dim, col, weight) AS (VALUES ('skills', 'skills', 0.30), ('portfolio', 'portfolio', 0.20),
           ('interview', 'interview', 0.15), ('learning', 'learning', 0.15),
           ('job_search', 'job_search', 0.10), ('mentoring', 'mentoring', 0.10)),
         p AS (SELECT user_id, explanation::jsonb e, to_jsonb(t) AS cols, pg_column_compression(explanation) AS comp,
                     pg_column_size(explanation) AS stored FROM career_readiness_scores t
                WHERE score IS NOT NULL)
    SELECT count(*) FILTER (WHERE NOT (e->>'v' = '2'
             AND (SELECT bool_and((e->w.dim->>'score')::numeric = (cols->>w.col)::numeric) FROM w)
             AND jsonb_array_length(e->'gaps') BETWEEN 0 AND 3
             AND (SELECT coalesce(bool_and(abs((g.v->>'lost')::numeric - w.weight * (100 - (cols->>w.col)::numeric)) <= 0.011
                                           AND (g.i = 1 OR (g.v->>'lost')::numeric <= (e->'gaps'->(g.i::int - 2)->>'lost')::numeric)), true)
                    FROM jsonb_array_elements(e->'gaps') WITH ORDINALITY g(v, i) JOIN w ON w.dim = g.v->>'dim')
             AND (SELECT count(*) FROM jsonb_array_elements(e->'gaps') g(v) JOIN w ON w.dim = g.v->>'dim') = jsonb_array_length(e->'gaps')
             AND (jsonb_typeof(e->'best') = 'null'
                  OR (e->'best'->>'gap')::int BETWEEN 0 AND jsonb_array_length(e->'gaps') - 1
                  OR (e->'best' ? 'dim' AND e->'best' ? 'change' AND (e->'best'->>'gain')::numeric > 0))
             AND octet_length(e::text) < 1400 AND comp IS NULL)) || '|' ||
           round(avg(octet_length(e::text))) || '|' || round(avg(stored))
      FROM p")
IFS='|' read -r nbad meantext meanstored <<<"$bad"
[ "$nbad" -eq 0 ] || fail "$nbad stored explanations are not format 2 or disagree with the stored dimensions"
echo "explanations: ok (mean $meantext characters as jsonb text, $meanstored bytes stored, uncompressed)"

# A second stream for the same learners (another seed): scores move and stages change; every
# change is stored with its history row, and emitted only when it moved by the threshold or
# changed the stage (v2 says why, and the stage before).
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 500 --mentors 50 --events 6000 --days 0 \
  --seed 8 --log-level warn --jsonl "$T/ev2.jsonl" || fail "cs-loadgen (second stream)"
run "$BIN/cs-progress" --group "p.$$" 2>"$T/progress2.err" || { cat "$T/progress2.err"; fail "cs-progress (second stream)"; }
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "$derived" 2>"$T/r1b.err" || { cat "$T/r1b.err"; fail "cs-readiness (second stream)"; }
grep -q '"level":"warn"' "$T/r1b.err" && { cat "$T/r1b.err"; fail "cs-readiness warned"; }
touched=$(cat "$T/ev.jsonl" "$T/ev2.jsonl" | grep -v '"event_type":"mentor_availability_changed"' | awk 'match($0, /"user_id":"[0-9a-f-]+"/) { print substr($0, RSTART, RLENGTH) }' | sort -u | wc -l)
[ "$(q "SELECT count(score) FROM career_readiness_scores")" -eq "$touched" ] \
  || fail "expected a score for each of the $touched learners of both streams"
emitted=$(q "SELECT count(*) FROM career_readiness_history WHERE emitted")
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "derived topic holds $(msgs "$derived") events, $emitted emitted"
later=$(q "SELECT count(*) FROM career_readiness_history WHERE emitted AND previous_score IS NOT NULL")
quiet=$(q "SELECT count(*) FROM career_readiness_history WHERE NOT emitted")
[ "$later" -gt 0 ] && [ "$quiet" -gt 0 ] || fail "the second stream emitted $later changes and stored $quiet below the threshold"
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE NOT emitted AND previous_score IS NOT NULL
        AND abs(score - previous_score) >= 1")" -eq 0 ] || fail "a change of 1.00 or more was not emitted"
echo "second stream: ok ($emitted events, $later after the first, $quiet changes below the threshold)"

# Independently of the worker: the documented formula (docs/readiness.md, default model) in SQL
# over the inputs the worker reads (as of each learner's last activity), for every scored learner:
# the same score, six dimensions and stage, to the hundredth.
psql "$DSN" -qAt -v ON_ERROR_STOP=1 >"$T/formula.out" <<'SQL' || fail "the formula check did not run"
CREATE FUNCTION pg_temp.r(float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT floor($1 * 100 + 0.5) / 100';
-- The documented formula (docs/readiness.md, default weights and targets) over the inputs, in
-- float8 as the C model computes; r() rounds half up to hundredths (C round(), values >= 0).
CREATE TEMP TABLE expected AS
WITH i AS (
    SELECT * FROM career_readiness_inputs_batch(
        (SELECT array_agg(user_id) FROM career_readiness_scores WHERE score IS NOT NULL), NULL)
), sk AS (
    SELECT i.user_id,
           sum(greatest(coalesce(x.dem::float8, 50), 1) * least(1, coalesce(x.prof::float8, 0) / 70))
             / sum(greatest(coalesce(x.dem::float8, 50), 1)) AS cov
      FROM i CROSS JOIN LATERAL unnest(i.target_skill_demand, i.target_skill_proficiency) AS x(dem, prof)
     GROUP BY i.user_id
), parts AS (
    SELECT i.*,
           CASE WHEN cardinality(i.target_skill_ids) > 0 THEN sk.cov
                WHEN i.target_skills_total > 0 THEN least(1, i.target_skills_proficient::float8 / i.target_skills_total)
                ELSE least(1, i.skills_proficient::float8 / 5) END AS c,
           coalesce(i.available_study_hours_week::float8, 5) * 30 / 7 AS planned,
           i.study_seconds_30d::float8 / 3600 AS done
      FROM i LEFT JOIN sk ON sk.user_id = i.user_id
), dims AS (
    SELECT p.user_id, p.content_started, p.skills_assessed, p.projects_total, p.applications_submitted,
           p.applications_interviewing, p.offers_received, p.career_stage,
           pg_temp.r(100 * (0.8::float8 * p.c + 0.2::float8 * least(1, coalesce(p.avg_skill_proficiency::float8, 0) / 100))) AS skills,
           pg_temp.r(100 * (0.5::float8 * least(1, p.projects_showcase_ready::float8 / 2)
                  + 0.3::float8 * least(1, p.projects_completed::float8 / 3)
                  + 0.2::float8 * least(1, coalesce(p.avg_project_review_score::float8, 0) / 100))) AS portfolio,
           pg_temp.r(100 * (0.4::float8 * least(1, p.mock_interviews_completed::float8 / 5)
                  + 0.4::float8 * least(1, coalesce(p.avg_mock_interview_score::float8, 0) / 100)
                  + 0.2::float8 * CASE p.latest_mock_readiness WHEN 'developing' THEN 1::float8 / 3
                                      WHEN 'ready' THEN 2::float8 / 3 WHEN 'strong' THEN 1 ELSE 0 END)) AS interview,
           pg_temp.r(100 * (0.5::float8 * least(1, p.career_critical_completed::float8
                                          / CASE WHEN p.career_critical_total > 0 THEN p.career_critical_total ELSE 20 END)
                  + 0.2::float8 * CASE WHEN p.content_started > 0
                                       THEN least(1, p.content_completed::float8 / p.content_started) ELSE 0 END
                  + 0.15::float8 * least(1, coalesce(p.avg_content_score::float8, 0) / 100)
                  + 0.15::float8 * CASE WHEN p.planned <= 0 THEN (p.done > 0)::int
                                        ELSE least(1, p.done / p.planned) END)) AS learning,
           pg_temp.r(100 * (0.3::float8 * least(1, p.applications_submitted::float8 / 10)
                  + 0.4::float8 * least(1, p.applications_interviewing::float8 / 3)
                  + 0.3::float8 * (p.offers_received > 0)::int)) AS job_search,
           pg_temp.r(100 * (0.4::float8 * least(1, p.coaching_sessions_completed::float8 / 6)
                  + 0.3::float8 * CASE WHEN p.avg_session_rating IS NULL THEN 0
                                      ELSE greatest(0, least(1, (p.avg_session_rating::float8 - 1) / 4)) END
                  + 0.3::float8 * p.has_active_mentor::int)) AS mentoring
      FROM parts p
), overall AS (
    SELECT d.*,
           pg_temp.r((0.30::float8 * d.skills + 0.20::float8 * d.portfolio + 0.15::float8 * d.interview
              + 0.15::float8 * d.learning + 0.10::float8 * d.job_search + 0.10::float8 * d.mentoring)
             / (0.30::float8 + 0.20::float8 + 0.15::float8 + 0.15::float8 + 0.10::float8 + 0.10::float8)) AS score
      FROM dims d
)
SELECT o.user_id, o.score, o.skills, o.portfolio, o.interview, o.learning, o.job_search, o.mentoring,
       CASE WHEN o.offers_received > 0 OR o.career_stage IN ('placed', 'transitioned', 'advancing') THEN 'placed'
            WHEN o.score >= 50 AND o.applications_interviewing > 0 THEN 'interviewing'
            WHEN o.score >= 45 AND o.applications_submitted > 0 THEN 'job_searching'
            WHEN o.score >= 30 AND o.projects_total > 0 THEN 'building_portfolio'
            WHEN o.score >= 10 AND (o.content_started > 0 OR o.skills_assessed > 0) THEN 'learning'
            ELSE 'exploring' END AS stage
  FROM overall o;
SELECT count(*),
       count(*) FILTER (WHERE p.score <> e.score::numeric(5,2)
                          OR p.skills <> e.skills::numeric(5,2)
                          OR p.portfolio <> e.portfolio::numeric(5,2)
                          OR p.interview <> e.interview::numeric(5,2)
                          OR p.learning <> e.learning::numeric(5,2)
                          OR p.job_search <> e.job_search::numeric(5,2)
                          OR p.mentoring <> e.mentoring::numeric(5,2)
                          OR p.stage <> e.stage),
       count(DISTINCT e.stage), count(*) FILTER (WHERE e.score > 0)
  FROM career_readiness_scores p JOIN expected e USING (user_id);
SELECT user_id, 'stored', p.score, p.skills, p.portfolio, p.interview,
       p.learning, p.job_search, p.mentoring, p.stage
  FROM career_readiness_scores p JOIN expected e USING (user_id)
 WHERE p.score <> e.score::numeric(5,2) OR p.stage <> e.stage
 UNION ALL
SELECT user_id, 'formula', e.score::numeric(5,2), e.skills::numeric(5,2), e.portfolio::numeric(5,2), e.interview::numeric(5,2),
       e.learning::numeric(5,2), e.job_search::numeric(5,2), e.mentoring::numeric(5,2), e.stage
  FROM career_readiness_scores p JOIN expected e USING (user_id)
 WHERE p.score <> e.score::numeric(5,2) OR p.stage <> e.stage
 ORDER BY 1, 2 LIMIT 10;
SQL
IFS='|' read -r checked differ stages nonzero <"$T/formula.out"
[ "$checked" -eq "$touched" ] || fail "the formula checked $checked learners, $touched scored"
[ "$differ" -eq 0 ] || { cat "$T/formula.out"; fail "$differ learners' scores differ from the documented formula"; }
[ "$stages" -ge 2 ] && [ "$nonzero" -gt 0 ] || fail "the formula check saw too uniform a stream ($stages stages)"
echo "formula: ok ($checked learners, $stages stages, recomputed independently)"

# The inputs the read takes from the per-learner roll-ups (migration 0079, kept by triggers through
# cs-progress's writes) equal those counted from the raw rows, as of each learner's last activity:
# progress counts, average, 30-day study time, newest activity; coaching sessions and mock
# interviews completed and their averages; projects, completed, showcase-ready, review average.
rolled=$(q "WITH i AS (SELECT * FROM career_readiness_inputs_batch(
                 (SELECT array_agg(user_id) FROM career_readiness_scores WHERE score IS NOT NULL), NULL)),
            raw AS (SELECT i.user_id, count(up.content_id)::int AS started,
                           count(up.content_id) FILTER (WHERE up.status IN ('completed', 'mastered'))::int AS completed,
                           count(up.content_id) FILTER (WHERE up.status IN ('completed', 'mastered') AND cc.is_career_critical)::int AS critical,
                           round(avg(up.best_score), 2) AS avg_score,
                           coalesce(sum(up.time_spent_seconds) FILTER (WHERE up.last_accessed_at > i.last_activity_at - interval '30 days'
                                                                     AND up.last_accessed_at <= i.last_activity_at), 0)::bigint AS secs,
                           greatest(max(up.last_event_at), max(p.last_active_at)) AS last_at,
                           (SELECT count(*)::int FROM career_coaching_sessions s WHERE s.user_id = i.user_id AND s.status = 'completed') AS sessions,
                           (SELECT round(avg(s.mentee_rating), 2) FROM career_coaching_sessions s
                             WHERE s.user_id = i.user_id AND s.status = 'completed') AS rating,
                           (SELECT count(*)::int FROM interview_preparation ip WHERE ip.user_id = i.user_id AND ip.status = 'completed') AS mocks,
                           (SELECT round(avg(ip.overall_score), 2) FROM interview_preparation ip
                             WHERE ip.user_id = i.user_id AND ip.status = 'completed') AS mock_avg,
                           (SELECT row(count(*)::int, (count(*) FILTER (WHERE j.status IN ('completed', 'showcased')))::int,
                                       (count(*) FILTER (WHERE j.showcase_ready))::int, round(avg(j.avg_review_score), 2))::text
                              FROM user_portfolio_projects j WHERE j.user_id = i.user_id AND j.status <> 'abandoned') AS projects
                      FROM i JOIN user_career_profiles p ON p.user_id = i.user_id
                      LEFT JOIN user_progress up ON up.user_id = i.user_id
                      LEFT JOIN content_chunks cc ON cc.content_id = up.content_id
                     GROUP BY i.user_id, i.last_activity_at)
            SELECT count(*) || '|' || count(*) FILTER (WHERE (i.content_started, i.content_completed, i.career_critical_completed,
                          i.avg_content_score, i.study_seconds_30d, i.last_activity_at, i.coaching_sessions_completed,
                          i.avg_session_rating, i.mock_interviews_completed, i.avg_mock_interview_score,
                          row(i.projects_total, i.projects_completed, i.projects_showcase_ready, i.avg_project_review_score)::text)
                          IS DISTINCT FROM (r.started, r.completed, r.critical, r.avg_score, r.secs, r.last_at, r.sessions,
                                            r.rating, r.mocks, r.mock_avg, r.projects))
                   || '|' || count(*) FILTER (WHERE i.study_seconds_30d > 0)
                   || '|' || count(*) FILTER (WHERE i.coaching_sessions_completed > 0 AND i.mock_interviews_completed > 0)
              FROM i JOIN raw r USING (user_id)")
IFS='|' read -r rchecked rdiffer rstudied ractive <<<"$rolled"
[ "$rchecked" -eq "$touched" ] && [ "$rdiffer" -eq 0 ] && [ "$ractive" -gt 0 ] \
  || fail "roll-up inputs: $rdiffer of $rchecked learners differ from their raw rows ($rstudied studied, $ractive coached and mocked)"
echo "roll-ups: ok ($rchecked learners' progress, coaching, mock and project inputs as counted from the raw rows; $rstudied with study time in their window)"

# Downstream, the derived events decode and are logged by cs-audit, each event id once.
"$BIN/cs-audit" --pg-dsn "$DSN" --topics "$derived" --group "a.$$" --anchor-topic "${P}anchors" --drain \
  --metrics-port -1 --log-level error --session-timeout-ms 6000 2>"$T/audit.err" || { cat "$T/audit.err"; fail "cs-audit"; }
[ "$(q "SELECT count(DISTINCT event_id) FROM system_logs WHERE event_type = 'readiness_score_changed'")" -eq "$emitted" ] \
  || fail "cs-audit did not log every derived event once"
# They are v2 and state what was stored with the change: stage, job search, previous stage, why.
[ "$(q "SELECT count(*) FROM system_logs l JOIN career_readiness_history h
        ON h.user_id = l.user_id AND h.source_event_id = (l.payload->>'trigger_event_id')::uuid AND h.emitted
        WHERE l.event_type = 'readiness_score_changed' AND l.schema_version = 2
          AND (l.payload->>'score')::numeric = h.score AND l.payload->>'stage' = h.stage
          AND (l.payload->>'job_search_score')::numeric = h.job_search
          AND (l.payload->>'previous_score')::numeric IS NOT DISTINCT FROM h.previous_score
          AND l.payload->>'reason' = CASE WHEN h.previous_score IS NULL THEN 'first'
                                          WHEN l.payload->>'previous_stage' <> h.stage THEN 'stage' ELSE 'moved' END
          AND (l.payload->>'reason' <> 'moved' OR abs(h.score - h.previous_score) >= 1)
          AND (h.previous_score IS NULL) = (l.payload->>'previous_stage' IS NULL)
          AND (l.payload->>'best_change' IS NULL) = (l.payload->>'best_change_gain' IS NULL)")" -eq "$emitted" ] \
  || fail "a readiness_score_changed is not v2 or disagrees with its history row"

# Replay: offsets rewound, another batch size: no row changes, nothing emitted.
state() { q "SELECT md5(string_agg(t::text, '|' ORDER BY user_id)) FROM career_readiness_scores t"; }
before=$(state)
q "DELETE FROM consumer_offsets WHERE consumer_group = 'r.$$'"
run "$BIN/cs-readiness" --group "r.$$" --derived-topic "$derived" --batch-size 700 2>"$T/r2.err" || { cat "$T/r2.err"; fail "cs-readiness replay"; }
[ "$(state)" = "$before" ] || fail "the replay changed career_readiness_scores"
[ "$(q "SELECT count(*) FROM career_readiness_history WHERE emitted")" -eq "$emitted" ] || fail "the replay added history"
[ "$(msgs "$derived")" -eq "$emitted" ] || fail "the replay emitted events"
echo "replay: ok (nothing changed, nothing emitted)"
