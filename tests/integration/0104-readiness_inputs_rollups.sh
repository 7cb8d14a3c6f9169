#!/usr/bin/env bash
# tests/integration/0104-readiness_inputs_rollups.sh
#      career_readiness_inputs_batch reads per-learner roll-ups (0079, 0081) kept by statement
#      triggers inside cs-progress's transactions: after a cs-loadgen stream (30,000 events of 400
#      seeded learners, arriving out of order) drained by cs-progress, its output for the stream's
#      learners and 100 seeded ones without rows equals the same 34 columns computed from the raw rows by an independent query
#      written here from the schema (two as-of times: one inside the learners' activity, so the
#      30-day window cuts through it, and each learner's own last activity); then again after
#      writes beside cs-progress: assessments deleted, applications moved through their pipeline
#      and deleted, mentorships ended, mock interviews cancelled, a learner erased.
set -euo pipefail
BIN=${1:?usage: 0104-readiness_inputs_rollups.sh BUILD_BIN_DIR}
: "${CS_PG_DSN:?run through scripts/test}" "${CS_KAFKA_BROKERS:?run through scripts/test}"
T=$(mktemp -d)
DB=t_rdr_inputs_$$
DSN="${CS_PG_DSN%/*}/$DB"
cleanup() { psql "$CS_PG_DSN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$DSN" -qAt -v ON_ERROR_STOP=1 -c "$1"; }

psql "$CS_PG_DSN" -qc "CREATE DATABASE $DB TEMPLATE cs_template"
"$BIN/cs-seed" --pg-dsn "$DSN" --log-level warn >/dev/null || fail "cs-seed"
P="t.rdrin.$$."
topics="${P}cs.learning,${P}cs.mentoring,${P}cs.jobsearch,${P}cs.portfolio,${P}cs.profile"
"$BIN/cs-loadgen" --publish --topic-prefix "$P" --learners 400 --events 30000 --days 0 --seed 11 \
  --log-level warn || fail "cs-loadgen"
"$BIN/cs-progress" --pg-dsn "$DSN" --topics "$topics" --group "p.$$" --drain --metrics-port -1 \
  --log-level warn --session-timeout-ms 6000 2>"$T/progress.err" || { cat "$T/progress.err"; fail "cs-progress"; }

# The inputs from the raw rows, as of p_as_of (NULL: each learner's own last activity, else now()).
psql "$DSN" -qAt -v ON_ERROR_STOP=1 <<'SQL' || fail "the independent query could not be created"
CREATE FUNCTION raw_inputs(p_ids uuid[], p_as_of timestamptz) RETURNS TABLE (
    user_id uuid, career_stage text, target_industry_id uuid, target_industry_demand_index numeric,
    available_study_hours_week numeric, days_in_program integer, content_started integer,
    content_completed integer, career_critical_completed integer, avg_content_score numeric,
    study_seconds_30d bigint, skills_assessed integer, skills_proficient integer, target_skills_total integer,
    target_skills_proficient integer, avg_skill_proficiency numeric, projects_total integer,
    projects_completed integer, projects_showcase_ready integer, avg_project_review_score numeric,
    mock_interviews_completed integer, avg_mock_interview_score numeric, latest_mock_readiness text,
    coaching_sessions_completed integer, avg_session_rating numeric, has_active_mentor boolean,
    applications_submitted integer, applications_interviewing integer, offers_received integer,
    last_activity_at timestamptz, target_skill_ids uuid[], target_skill_demand numeric[],
    target_skill_proficiency numeric[], career_critical_total integer)
LANGUAGE sql STABLE AS $f$
WITH u AS (
    SELECT pr.*, greatest((SELECT max(up.last_event_at) FROM user_progress up WHERE up.user_id = pr.user_id),
                          pr.last_active_at) AS last_at
      FROM user_career_profiles pr WHERE pr.user_id = ANY (p_ids)
), w AS (
    SELECT u.*, coalesce(p_as_of, u.last_at, now()) AS as_of FROM u
), critical AS (   -- career-critical content items per industry they are relevant to
    SELECT x.industry_id, count(DISTINCT c.content_id)::int AS n
      FROM content_chunks c CROSS JOIN LATERAL unnest(c.industry_relevance) AS x(industry_id)
     WHERE c.is_career_critical GROUP BY x.industry_id
)
SELECT w.user_id, w.career_stage, w.target_industry_id,
       (SELECT s.demand_index FROM industry_sectors s WHERE s.industry_id = w.target_industry_id),
       w.available_study_hours_week,
       greatest(w.as_of::date - coalesce(w.program_start_date, w.created_at::date), 0),
       (SELECT count(*)::int FROM user_progress up WHERE up.user_id = w.user_id),
       (SELECT count(*)::int FROM user_progress up WHERE up.user_id = w.user_id AND up.status IN ('completed', 'mastered')),
       (SELECT count(*)::int FROM user_progress up JOIN content_chunks c ON c.content_id = up.content_id
         WHERE up.user_id = w.user_id AND up.status IN ('completed', 'mastered') AND c.is_career_critical),
       (SELECT round(avg(up.best_score), 2) FROM user_progress up WHERE up.user_id = w.user_id),
       (SELECT coalesce(sum(up.time_spent_seconds), 0)::bigint FROM user_progress up
         WHERE up.user_id = w.user_id AND up.last_accessed_at > w.as_of - interval '30 days'
           AND up.last_accessed_at <= w.as_of),
       ls.n, ls.proficient, cardinality(w.target_skill_ids), ls.target_proficient, ls.avg,
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = w.user_id AND j.status <> 'abandoned'),
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = w.user_id AND j.status IN ('completed', 'showcased')),
       (SELECT count(*)::int FROM user_portfolio_projects j WHERE j.user_id = w.user_id AND j.status <> 'abandoned' AND j.showcase_ready),
       (SELECT round(avg(j.avg_review_score), 2) FROM user_portfolio_projects j WHERE j.user_id = w.user_id AND j.status <> 'abandoned'),
       (SELECT count(*)::int FROM interview_preparation i WHERE i.user_id = w.user_id AND i.status = 'completed'),
       (SELECT round(avg(i.overall_score), 2) FROM interview_preparation i WHERE i.user_id = w.user_id AND i.status = 'completed'),
       (SELECT i.readiness_rating FROM interview_preparation i WHERE i.user_id = w.user_id AND i.status = 'completed'
         ORDER BY i.completed_at DESC, i.prep_id DESC LIMIT 1),
       (SELECT count(*)::int FROM career_coaching_sessions c WHERE c.user_id = w.user_id AND c.status = 'completed'),
       (SELECT round(avg(c.mentee_rating), 2) FROM career_coaching_sessions c WHERE c.user_id = w.user_id AND c.status = 'completed'),
       EXISTS (SELECT 1 FROM mentorship_relationships m WHERE m.mentee_id = w.user_id AND m.status = 'active'),
       (SELECT count(*)::int FROM job_applications a WHERE a.user_id = w.user_id AND a.status <> 'draft'),
       (SELECT count(*)::int FROM job_applications a WHERE a.user_id = w.user_id AND a.status IN ('interviewing', 'offer', 'accepted')),
       (SELECT count(*)::int FROM job_applications a WHERE a.user_id = w.user_id AND a.status IN ('offer', 'accepted')),
       w.last_at, w.target_skill_ids,
       coalesce((SELECT array_agg(st.industry_demand_score ORDER BY t.n) FROM unnest(w.target_skill_ids) WITH ORDINALITY t(id, n)
                   LEFT JOIN skill_taxonomy st ON st.skill_id = t.id), '{}'),
       coalesce((SELECT array_agg((SELECT max(a.proficiency_score) FROM user_skill_assessments a
                                    WHERE a.user_id = w.user_id AND a.skill_id = t.id
                                      AND a.assessed_at = (SELECT max(b.assessed_at) FROM user_skill_assessments b
                                                            WHERE b.user_id = w.user_id AND b.skill_id = t.id)) ORDER BY t.n)
                   FROM unnest(w.target_skill_ids) WITH ORDINALITY t(id, n)), '{}'),
       coalesce((SELECT k.n FROM critical k WHERE k.industry_id = w.target_industry_id), 0)
  FROM w
  -- each skill's newest result (equal times: the higher score): no result of the skill is newer
  CROSS JOIN LATERAL (
       SELECT count(*)::int AS n, count(*) FILTER (WHERE l.proficiency_score >= 70)::int AS proficient,
              count(*) FILTER (WHERE l.proficiency_score >= 70 AND l.skill_id = ANY (w.target_skill_ids))::int AS target_proficient,
              round(avg(l.proficiency_score), 2) AS avg
         FROM (SELECT DISTINCT a.skill_id, a.proficiency_score FROM user_skill_assessments a
                WHERE a.user_id = w.user_id
                  AND NOT EXISTS (SELECT 1 FROM user_skill_assessments b
                                   WHERE b.user_id = a.user_id AND b.skill_id = a.skill_id
                                     AND (b.assessed_at > a.assessed_at
                                          OR (b.assessed_at = a.assessed_at AND b.proficiency_score > a.proficiency_score)))) l) ls
$f$;
SQL

# Rows differing between the read and the raw rows, both ways, for the learners of the stream
# (a profile and any row of the four tables or of user_progress) and 100 seeded ones without rows.
IDS="(SELECT array_agg(p.user_id) FROM user_career_profiles p
       WHERE EXISTS (SELECT 1 FROM user_progress x WHERE x.user_id = p.user_id)
          OR EXISTS (SELECT 1 FROM user_skill_assessments x WHERE x.user_id = p.user_id)
          OR EXISTS (SELECT 1 FROM job_applications x WHERE x.user_id = p.user_id)
          OR EXISTS (SELECT 1 FROM mentorship_relationships x WHERE x.mentee_id = p.user_id)
          OR EXISTS (SELECT 1 FROM interview_preparation x WHERE x.user_id = p.user_id)
          OR p.user_id IN (SELECT y.user_id FROM user_career_profiles y ORDER BY y.user_id LIMIT 100))"
compare() {
  local as_of=$1 what=$2 n
  n=$(q "WITH ids AS (SELECT $IDS AS a),
              got AS (SELECT * FROM career_readiness_inputs_batch((SELECT a FROM ids), $as_of)),
              want AS (SELECT * FROM raw_inputs((SELECT a FROM ids), $as_of))
         SELECT (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM want) x)
              + (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM got) y)")
  if [ "$n" != 0 ]; then
    q "WITH ids AS (SELECT $IDS AS a)
       (SELECT 'read', * FROM (SELECT * FROM career_readiness_inputs_batch((SELECT a FROM ids), $as_of)
                               EXCEPT ALL SELECT * FROM raw_inputs((SELECT a FROM ids), $as_of)) x ORDER BY user_id LIMIT 3)
       UNION ALL
       (SELECT 'rows', * FROM (SELECT * FROM raw_inputs((SELECT a FROM ids), $as_of)
                               EXCEPT ALL SELECT * FROM career_readiness_inputs_batch((SELECT a FROM ids), $as_of)) y
         ORDER BY user_id LIMIT 3)" >&2
    fail "$what: $n rows differ between career_readiness_inputs_batch and the raw rows (as of $as_of)"
  fi
}
# cs-loadgen's skills are not the seed's taxonomy: half of the learners also target up to three
# skills they were assessed in (after two of the seed's), so that the per-target-skill inputs meet
# the assessments (a profile is read, never rolled up).
q "UPDATE user_career_profiles p SET target_skill_ids = p.target_skill_ids[1:2] || x.ids
     FROM (SELECT a.user_id, (array_agg(DISTINCT a.skill_id ORDER BY a.skill_id))[1:3] AS ids
             FROM user_skill_assessments a GROUP BY a.user_id) x
    WHERE x.user_id = p.user_id AND get_byte(uuid_send(p.user_id), 15) % 2 = 0" >/dev/null
# Inside the learners' activity: the median access time, so the window holds part of it.
mid=$(q "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY last_accessed_at) FROM user_progress")
[ -n "$mid" ] || fail "the stream left no progress"

# The stream must exercise what the roll-ups keep.
stats=$(q "SELECT count(*) FILTER (WHERE skills_assessed > 1), count(*) FILTER (WHERE target_skills_proficient > 0),
                  count(*) FILTER (WHERE applications_interviewing > 0), count(*) FILTER (WHERE offers_received > 0),
                  count(*) FILTER (WHERE has_active_mentor), count(*) FILTER (WHERE latest_mock_readiness IS NOT NULL),
                  count(*) FILTER (WHERE study_seconds_30d > 0)
             FROM career_readiness_inputs_batch((SELECT array_agg(user_id) FROM user_career_profiles), '$mid')")
echo "learners with several skills, target skills proficient, interviewing, offers, a mentor, a mock rating, study time: $stats"
case ",${stats//|/,}," in *,0,*) fail "the stream does not exercise every roll-up ($stats)" ;; esac
reassessed=$(q "SELECT count(*) FROM (SELECT 1 FROM user_skill_assessments GROUP BY user_id, skill_id HAVING count(*) > 1) x")
[ "$reassessed" -gt 0 ] || fail "no skill assessed twice: the latest result is not exercised"
compare "'$mid'::timestamptz" "after the stream"
compare "NULL" "after the stream"
echo "after the stream: ok ($reassessed skills assessed more than once)"

# Writes beside cs-progress, each statement through the parents' triggers.
psql "$DSN" -qAt -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || fail "the writes failed"
-- the newest result of every third re-assessed skill: an older one is the latest again
DELETE FROM user_skill_assessments a
 WHERE (a.user_id, a.skill_id, a.assessed_at) IN
       (SELECT s.user_id, s.skill_id, max(s.assessed_at) FROM user_skill_assessments s
         GROUP BY s.user_id, s.skill_id HAVING count(*) > 1)
   AND get_byte(uuid_send(a.result_id), 15) % 3 = 0;
UPDATE user_skill_assessments SET proficiency_score = 100 - proficiency_score
 WHERE get_byte(uuid_send(result_id), 15) % 7 = 0;
UPDATE job_applications SET status = CASE status WHEN 'applied' THEN 'interviewing' WHEN 'interviewing' THEN 'offer'
                                                 WHEN 'offer' THEN 'rejected' ELSE 'draft' END
 WHERE get_byte(uuid_send(application_id), 15) % 2 = 0;
DELETE FROM job_applications WHERE get_byte(uuid_send(application_id), 15) % 5 = 1;
UPDATE mentorship_relationships SET status = 'ended', ended_at = now(), end_reason = 'other'
 WHERE status = 'active' AND get_byte(uuid_send(relationship_id), 15) % 2 = 0;
UPDATE interview_preparation SET status = 'cancelled' WHERE status = 'completed' AND get_byte(uuid_send(prep_id), 15) % 3 = 0;
DELETE FROM interview_preparation WHERE get_byte(uuid_send(prep_id), 15) % 5 = 1;
SELECT gdpr_erase_user(user_id) FROM (SELECT a.user_id FROM user_skill_assessments a
                                       JOIN job_applications j ON j.user_id = a.user_id ORDER BY a.user_id LIMIT 1) x;
SQL
compare "'$mid'::timestamptz" "after deletes, status changes and an erasure"
compare "NULL" "after deletes, status changes and an erasure"
[ "$(q "SELECT count(*) FROM readiness_career_rollups r WHERE NOT EXISTS
        (SELECT 1 FROM user_career_profiles p WHERE p.user_id = r.user_id)")" -eq 0 ] \
  || fail "a roll-up row outlived its learner's erasure"
echo "after writes beside cs-progress: ok"
