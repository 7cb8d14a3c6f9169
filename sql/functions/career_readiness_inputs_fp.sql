-- sql/functions/career_readiness_inputs_fp.sql
--      The readiness inputs of a whole batch of learners in one statement, each with the
--      fingerprint of the row versions they were read from; with p_model, only the learners whose
--      stored score was not computed from these very inputs by that model.
--
-- cs-readiness calls it (career_readiness_inputs_batch is the same read without the fingerprint
-- and without skipping, for tests and ad-hoc queries). inputs_fp: the hash of the three reference
-- maps (below) and the xmin of the learner's profile and roll-up rows (NULL rows: empty). The
-- inputs are a function of exactly those rows (p_as_of NULL: the as-of time is the newest
-- activity, itself in them), so the same fingerprint means the same inputs; a new version of any
-- of those rows has a new xmin. No fingerprint (NULL, never equal, so never skipped) when the
-- as-of time would be the clock's: a learner with no activity at all, or a call with p_as_of. With p_model (the worker's model version) a learner is left out
-- when career_readiness_scores holds a score of that model version computed from inputs
-- with the same fingerprint (inputs_fp, migration 0093, written with each score): a
-- recomputation would give the stored score, stage and emit decision and write nothing. (The
-- stored score is in career_readiness_scores since migration 0099, its inputs_fp, model_version,
-- score ... emitted_stage; the result keeps the names of the progress row's columns they were.) Left out
-- before its inputs are computed: on the 200,000-distinct-learner benchmark's database the read
-- cost ~22 us of backend CPU per learner, the probes that decide the skip ~5.
-- The learner's stored score columns come with its row (readiness_score ... readiness_emitted_stage,
-- NULL when nothing is stored; migration 0097): the skip's probe of career_readiness_scores
-- reads them, so the worker no longer probes the same row again after the call.
--
-- Measured on the seeded database: one call of the single-learner form costs ~12 ms, almost all
-- of it planning (the query touches every partition of four partitioned tables); a batch pays
-- the planning once. cs-readiness recomputes the learners of a consumed batch, so it calls
--     SELECT ... FROM career_readiness_inputs_fp($1::uuid[], NULL, $2)
-- once per batch.
--
-- PL/pgSQL, not SQL, for its plan cache: a SQL function that is not inlined (this one: SECURITY
-- DEFINER, SET) plans its query on every call, 50-100 ms of a 1,500-learner read of ~90 ms
-- execution; PL/pgSQL plans it once per session. Always the generic plan (plan_cache_mode): with
-- the batch's actual ids the planner's estimates (1,500 learners instead of ~10) chose hash and
-- merge joins whose execution took 4.4 s instead of 0.09 s.
--
-- Time: p_as_of replaces now() wherever the inputs depend on the clock (the 30-day study window,
-- days in the programme), so that the same rows give the same inputs however late they are read.
-- NULL (the default, what cs-readiness passes) means each learner's own last activity
-- (last_activity_at below): the inputs are then a function of the stored rows alone, and a replay
-- recomputes exactly the score it stored. (A learner without any activity falls back to now().)
--
-- Per target skill (aligned with target_skill_ids, in its order): the market demand
-- (skill_taxonomy.industry_demand_score, NULL when unknown) and the learner's latest proficiency
-- (NULL when never assessed), for the demand-weighted skills dimension. career_critical_total:
-- the career-critical content items of the learner's target industry (content_chunks whose
-- industry_relevance holds it; 0 without a target industry, and the worker then uses its
-- configured default), from career_critical_content_counts (migration 0074: kept by a trigger on
-- content_chunks; counting them here scanned all of content_chunks on every call, ~4 ms).
-- Learners without a profile are left out; every count is 0 (never NULL) for a learner with no
-- rows, averages are NULL when there is nothing to average. (A separate name, not an overload:
-- career_readiness_inputs('...') with an untyped literal or parameter must stay unambiguous.)
-- The progress inputs (content started / completed / career-critical completed, the average best
-- score, the 30-day study time, the newest activity) come from readiness_progress_rollups
-- (migration 0079: one row per learner kept by statement triggers on user_progress), not from
-- the learner's ~20 progress rows: the study time is the roll-up's sum when its access-time bounds
-- lie inside the learner's window (then every row does), 0 when they lie before it, else the sum
-- of the items in the window from its per-item access times (readiness_progress_rollups.accessed).
-- Completed coaching sessions and mock interviews, and projects (counts, averages) come from
-- readiness_activity_rollups (0079 too). The latest proficiency per skill, the job application
-- counts, whether a mentor is active and the latest completed mock interview's rating come from
-- readiness_career_rollups (migration 0081: one row per learner kept by statement triggers on
-- user_skill_assessments, job_applications, mentorship_relationships, interview_preparation):
-- the read is one row of each roll-up per learner plus the skill_taxonomy probes of its target
-- skills, instead of DISTINCT ON over the assessments, the 14 application partitions and two probes.
-- The three small reference tables (skill_taxonomy's demand per skill, industry_sectors' demand
-- index and career_critical_content_counts per industry: tens of rows) are read once per call into
-- jsonb maps (id -> value) and looked up per learner, instead of a probe per learner and per target
-- skill: in the generic plan each probe was a sequential scan of the table (16 or 60 rows, 1-2
-- buffers), and the industry join a nested loop filtering all 16 industries for every learner, most
-- of them without a target industry. On the 200,000-learner benchmark's database (2,500 learners
-- per call, 5 rounds of 20 calls alternating, load 17-20 on 2 cores): backend CPU per call 55-72
-- ms before (median 66), 41-55 after (median 46); 34,098 buffer hits before, 30,957 after. The
-- output is identical (md5 of all 73,004 learners' rows). One snapshot: the statements of a
-- STABLE function all see the caller's.
-- One place per formula: the function gathers raw counts and averages, the weighting lives in
-- the worker.

CREATE OR REPLACE FUNCTION career_readiness_inputs_fp(p_user_ids uuid[], p_as_of timestamptz DEFAULT NULL,
                                                     p_model text DEFAULT NULL)
    RETURNS TABLE (
        inputs_fp                    text,
        user_id                      uuid,
        career_stage                 text,
        target_industry_id           uuid,
        target_industry_demand_index numeric,
        available_study_hours_week   numeric,
        days_in_program              integer,
        content_started              integer,
        content_completed            integer,
        career_critical_completed    integer,
        avg_content_score            numeric,
        study_seconds_30d            bigint,
        skills_assessed              integer,
        skills_proficient            integer,
        target_skills_total          integer,
        target_skills_proficient     integer,
        avg_skill_proficiency        numeric,
        projects_total               integer,
        projects_completed           integer,
        projects_showcase_ready      integer,
        avg_project_review_score     numeric,
        mock_interviews_completed    integer,
        avg_mock_interview_score     numeric,
        latest_mock_readiness        text,
        coaching_sessions_completed  integer,
        avg_session_rating           numeric,
        has_active_mentor            boolean,
        applications_submitted       integer,
        applications_interviewing    integer,
        offers_received              integer,
        last_activity_at             timestamptz,
        target_skill_ids             uuid[],
        target_skill_demand          numeric[],
        target_skill_proficiency     numeric[],
        career_critical_total        integer,
        readiness_score              numeric,
        readiness_technical          numeric,
        readiness_portfolio          numeric,
        readiness_interview          numeric,
        readiness_learning           numeric,
        readiness_job_search         numeric,
        readiness_mentoring          numeric,
        readiness_stage              text,
        readiness_emitted_score      numeric,
        readiness_emitted_stage      text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    -- the reference tables (60 skills, 16 industries), read once per call: see the header
    v_skill_demand jsonb := (SELECT coalesce(jsonb_object_agg(st.skill_id, st.industry_demand_score), '{}')
                               FROM public.skill_taxonomy st);
    v_industry_demand jsonb := (SELECT coalesce(jsonb_object_agg(s.industry_id, s.demand_index), '{}')
                                  FROM public.industry_sectors s);
    v_critical jsonb := (SELECT coalesce(jsonb_object_agg(c.industry_id, c.n), '{}')
                           FROM public.career_critical_content_counts c);
    v_ref text := left(md5(v_skill_demand::text || v_industry_demand::text || v_critical::text), 12);
BEGIN
    RETURN QUERY
    SELECT p.inputs_fp, p.user_id, p.career_stage, p.target_industry_id,
           (v_industry_demand ->> p.target_industry_id::text)::numeric, p.available_study_hours_week,
           greatest(p.as_of::date - coalesce(p.program_start_date, p.created_at::date), 0)::int,
           coalesce(p.started, 0), coalesce(p.completed, 0), coalesce(p.critical, 0),
           CASE WHEN p.score_n > 0 THEN round(p.score_sum / p.score_n, 2) END,
           -- the items' bounds prove all of them inside the window (the roll-up's sum) or none (0),
           -- else the window's items (microseconds since the epoch, as the roll-up keeps them)
           CASE WHEN p.accessed_lo IS NULL OR p.accessed_hi <= p.as_of - interval '30 days' THEN 0
                WHEN p.accessed_lo > p.as_of - interval '30 days' AND p.accessed_hi <= p.as_of THEN p.secs_sum
                ELSE (SELECT coalesce(sum((e.value -> 1)::bigint), 0)::bigint
                        FROM jsonb_each(p.accessed) AS e
                       WHERE (e.value -> 0)::bigint > (extract(epoch FROM p.as_of - interval '30 days') * 1000000)::bigint
                         AND (e.value -> 0)::bigint <= (extract(epoch FROM p.as_of) * 1000000)::bigint) END,
           coalesce(p.sk[1]::int, 0), coalesce(p.sk[2]::int, 0), cardinality(p.target_skill_ids),
           coalesce(p.sk[3]::int, 0), p.sk[4],
           coalesce(p.proj_n, 0), coalesce(p.proj_completed, 0), coalesce(p.proj_showcase, 0),
           CASE WHEN p.proj_review_n > 0 THEN round(p.proj_review_sum / p.proj_review_n, 2) END,
           coalesce(p.mock_n, 0), CASE WHEN p.mock_score_n > 0 THEN round(p.mock_score_sum / p.mock_score_n, 2) END,
           p.mock_rating,
           coalesce(p.coach_n, 0),
           CASE WHEN p.coach_rating_n > 0 THEN round(p.coach_rating_sum::numeric / p.coach_rating_n, 2) END,
           coalesce(p.mentors_active, 0) > 0,
           coalesce(p.apps_submitted, 0), coalesce(p.apps_interviewing, 0), coalesce(p.apps_offers, 0),
           p.last_at,
           p.target_skill_ids,
           CASE WHEN cardinality(p.target_skill_ids) > 0 THEN
               ARRAY(SELECT (v_skill_demand ->> t.skill_id::text)::numeric
                       FROM unnest(p.target_skill_ids) WITH ORDINALITY AS t(skill_id, ord)
                      ORDER BY t.ord) ELSE '{}' END,
           CASE WHEN cardinality(p.target_skill_ids) > 0 THEN
               ARRAY(SELECT (p.skills -> t.skill_id::text ->> 1)::numeric
                       FROM unnest(p.target_skill_ids) WITH ORDINALITY AS t(skill_id, ord)
                      ORDER BY t.ord) ELSE '{}' END,
           coalesce((v_critical ->> p.target_industry_id::text)::int, 0),
           p.st_score, p.st_technical, p.st_portfolio, p.st_interview, p.st_learning, p.st_job_search,
           p.st_mentoring, p.st_stage, p.st_emitted_score, p.st_emitted_stage
      FROM (SELECT q.*,
                   -- the latest proficiencies ({"<skill_id>": [assessed_at_us, proficiency]}):
                   -- skills assessed, proficient, proficient among the targets, their average
                   CASE WHEN q.skills IS NOT NULL AND q.skills <> '{}' THEN
                       (SELECT ARRAY[count(*), count(*) FILTER (WHERE (e.value ->> 1)::numeric >= 70),
                                     count(*) FILTER (WHERE (e.value ->> 1)::numeric >= 70
                                                        AND e.key = ANY (q.target_skill_ids::text[])),
                                     round(avg((e.value ->> 1)::numeric), 2)]
                          FROM jsonb_each(q.skills) AS e) END AS sk
              FROM (SELECT ucp.user_id, ucp.career_stage, ucp.target_industry_id, ucp.available_study_hours_week,
                           ucp.program_start_date, ucp.created_at, ucp.target_skill_ids,
                           r.started, r.completed, r.critical, r.score_sum, r.score_n, r.secs_sum,
                           r.accessed_lo, r.accessed_hi, r.accessed,
                           a.coach_n, a.coach_rating_sum, a.coach_rating_n, a.mock_n, a.mock_score_sum, a.mock_score_n,
                           a.proj_n, a.proj_completed, a.proj_showcase, a.proj_review_sum, a.proj_review_n,
                           c.skills, c.apps_submitted, c.apps_interviewing, c.apps_offers, c.mentors_active, c.mock_rating,
                           greatest(r.last_event_at, ucp.last_active_at) AS last_at,
                           coalesce(p_as_of, greatest(r.last_event_at, ucp.last_active_at), now()) AS as_of,
                           -- none when the as-of time is the clock's (no activity, no p_as_of):
                           -- the days in the programme then move without any row changing
                           CASE WHEN p_as_of IS NULL AND greatest(r.last_event_at, ucp.last_active_at) IS NOT NULL
                                THEN v_ref || ':' || ucp.xmin::text || ':' || coalesce(r.xmin::text, '') || ':'
                                     || coalesce(a.xmin::text, '') || ':' || coalesce(c.xmin::text, '') END AS inputs_fp,
                           -- what is stored, probed once: for the skip below and for the caller
                           t.inputs_fp AS st_inputs_fp, t.model_version AS st_model,
                           t.score AS st_score, t.skills AS st_technical,
                           t.portfolio AS st_portfolio, t.interview AS st_interview,
                           t.learning AS st_learning, t.job_search AS st_job_search,
                           t.mentoring AS st_mentoring, t.stage AS st_stage,
                           t.emitted_score AS st_emitted_score, t.emitted_stage AS st_emitted_stage
                      FROM public.user_career_profiles ucp
                      LEFT JOIN public.readiness_progress_rollups r ON r.user_id = ucp.user_id
                      LEFT JOIN public.readiness_activity_rollups a ON a.user_id = ucp.user_id
                      LEFT JOIN public.readiness_career_rollups c ON c.user_id = ucp.user_id
                      LEFT JOIN public.career_readiness_scores t ON t.user_id = ucp.user_id
                     WHERE ucp.user_id = ANY (p_user_ids)) q
             -- the stored score was computed from these inputs by this model: nothing to do
             WHERE p_model IS NULL
                OR NOT coalesce(q.st_inputs_fp = q.inputs_fp AND q.st_model = p_model, false)
             OFFSET 0) p;   -- sk once per learner, not once per use
END
$$;

REVOKE EXECUTE ON FUNCTION career_readiness_inputs_fp(uuid[], timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION career_readiness_inputs_fp(uuid[], timestamptz, text) TO cs_worker_readiness, cs_app_admin;
