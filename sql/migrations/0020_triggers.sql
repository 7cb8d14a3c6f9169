-- sql/migrations/0020_triggers.sql
--      The schema's triggers: updated_at upkeep, content version history, the audit log's
--      append-only guard, the erasure ledger's guards, mentor capacity, job application status
--      history, portfolio review roll-up and showcase readiness, coaching and outcome upkeep.
--
-- Triggers on the event-fed hot tables are kept to what the domain needs (updated_at, and the
-- status history of job applications); every other roll-up runs on cold tables or rare events.
-- Errors raised here use SQLSTATEs of class CS so callers can tell them apart (all PERMANENT for
-- cs_err_classify_sqlstate):
--     CS001  the learner is in the erasure ledger and can never be recreated
--     CS002  the audit log / erasure ledger is append-only
--     CS003  the mentor has no capacity left (or is not accepting mentees)

-- 1. updated_at upkeep on every table that has the column (partitions inherit the trigger).
DO $touch$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.relname
               FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
              ORDER BY c.relname
    LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION cs_touch_updated_at()',
                       'trg_' || t.relname || '_updated_at', t.relname);
    END LOOP;
END
$touch$;

-- 2. Content versioning: a change of title, body or metadata bumps version (and publishing
-- stamps published_at); every version is kept in content_versions with who changed it
-- (app.user_id) and why (app.change_summary, optional).
CREATE FUNCTION content_chunks_bump_version() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body
                             OR NEW.metadata IS DISTINCT FROM OLD.metadata) THEN
        NEW.version := OLD.version + 1;
    END IF;
    IF NEW.status = 'published' AND NEW.published_at IS NULL THEN
        NEW.published_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER trg_content_chunks_version BEFORE INSERT OR UPDATE ON content_chunks
    FOR EACH ROW EXECUTE FUNCTION content_chunks_bump_version();

CREATE FUNCTION content_chunks_record_version() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version <> OLD.version THEN
        INSERT INTO public.content_versions (content_id, version_number, title, body, metadata, changed_by, change_summary)
        VALUES (NEW.content_id, NEW.version, NEW.title, NEW.body, NEW.metadata, public.cs_current_user_id(),
                nullif(current_setting('app.change_summary', true), ''))
        ON CONFLICT (content_id, version_number) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_content_chunks_history AFTER INSERT OR UPDATE ON content_chunks
    FOR EACH ROW EXECUTE FUNCTION content_chunks_record_version();

-- 3. The audit log is append-only. The single permitted change is the redaction of a payload:
-- every column but payload unchanged (payload_sha256 and the hash chain included) and the new
-- payload exactly the redaction marker. The guard checks the shape of the change, not who makes
-- it, so not even the table owner can alter the chain.
CREATE FUNCTION system_logs_append_only() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.payload = public.cs_audit_redaction_marker()
       AND (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'system_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'CS002',
              HINT = 'Only audit_redact_user() may replace a payload with the redaction marker; retire old partitions with DROP TABLE.';
END
$$;
CREATE TRIGGER trg_system_logs_append_only BEFORE UPDATE OR DELETE ON system_logs
    FOR EACH ROW EXECUTE FUNCTION system_logs_append_only();
CREATE TRIGGER trg_system_logs_no_truncate BEFORE TRUNCATE ON system_logs
    FOR EACH STATEMENT EXECUTE FUNCTION system_logs_append_only();
-- Existing partitions get the TRUNCATE guard now; later ones from cs_partition_create().
DO $copy$
DECLARE
    p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_catalog.pg_inherits WHERE inhparent = 'system_logs'::regclass LOOP
        PERFORM cs_partition_copy_truncate_triggers('system_logs', p);
    END LOOP;
END
$copy$;

-- 4. The erasure ledger is permanent, and an erased learner cannot be recreated.
CREATE FUNCTION erased_users_permanent() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'erased_users is permanent: % refused', TG_OP USING ERRCODE = 'CS002';
END
$$;
CREATE TRIGGER trg_erased_users_permanent BEFORE UPDATE OR DELETE ON erased_users
    FOR EACH ROW EXECUTE FUNCTION erased_users_permanent();
CREATE TRIGGER trg_erased_users_no_truncate BEFORE TRUNCATE ON erased_users
    FOR EACH STATEMENT EXECUTE FUNCTION erased_users_permanent();

-- Runs with the inserter's rights (every role that may insert a profile may read the ledger) and
-- without a SET clause, because workers fire it once per event (ON CONFLICT DO NOTHING still
-- fires BEFORE INSERT triggers): one primary-key probe, nothing else.
CREATE FUNCTION user_career_profiles_refuse_erased() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.erased_users e WHERE e.user_id = NEW.user_id) THEN
        RAISE EXCEPTION 'learner % was erased and cannot be recreated', NEW.user_id
            USING ERRCODE = 'CS001', HINT = 'Skip events of learners listed in erased_users.';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER trg_user_career_profiles_refuse_erased BEFORE INSERT ON user_career_profiles
    FOR EACH ROW EXECUTE FUNCTION user_career_profiles_refuse_erased();

-- 5. Mentor capacity. Activating a relationship locks the mentor row, so concurrent activations
-- queue, then counts the mentor's active relationships against max_mentees.
CREATE FUNCTION mentorship_check_capacity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    active_count integer;
BEGIN
    IF NEW.status = 'active' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'active'
                                  OR OLD.mentor_id <> NEW.mentor_id) THEN
        SELECT mp.max_mentees, mp.is_active, mp.accepting_new_mentees INTO m
          FROM public.mentor_profiles mp WHERE mp.mentor_id = NEW.mentor_id FOR UPDATE;
        IF NOT FOUND THEN
            RETURN NEW; -- the foreign key reports the unknown mentor
        END IF;
        IF NOT m.is_active THEN
            RAISE EXCEPTION 'mentor % is not active', NEW.mentor_id USING ERRCODE = 'CS003';
        END IF;
        SELECT count(*) INTO active_count FROM public.mentorship_relationships r
         WHERE r.mentor_id = NEW.mentor_id AND r.status = 'active' AND r.relationship_id <> NEW.relationship_id;
        IF active_count >= m.max_mentees THEN
            RAISE EXCEPTION 'mentor % is at capacity (% of % mentees)', NEW.mentor_id, active_count, m.max_mentees
                USING ERRCODE = 'CS003', HINT = 'Rematch the mentee with mentor_match_candidates().';
        END IF;
        NEW.started_at := coalesce(NEW.started_at, now());
    END IF;
    IF NEW.status IN ('ended', 'declined') AND NEW.ended_at IS NULL THEN
        NEW.ended_at := now();
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER trg_mentorship_capacity BEFORE INSERT OR UPDATE OF status, mentor_id ON mentorship_relationships
    FOR EACH ROW EXECUTE FUNCTION mentorship_check_capacity();

-- Keeps mentor_profiles.current_mentee_count (and availability 'full') in step.
CREATE FUNCTION mentorship_update_mentee_count() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids uuid[];
BEGIN
    ids := CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.mentor_id]
                      WHEN 'DELETE' THEN ARRAY[OLD.mentor_id]
                      ELSE ARRAY[OLD.mentor_id, NEW.mentor_id] END;
    UPDATE public.mentor_profiles mp
       SET current_mentee_count = c.n,
           availability_status = CASE
               WHEN mp.availability_status IN ('on_leave', 'inactive') THEN mp.availability_status
               WHEN c.n >= mp.max_mentees THEN 'full'
               WHEN c.n >= mp.max_mentees - 1 THEN 'limited'
               ELSE 'available' END
      FROM (SELECT m.id, (SELECT count(*) FROM public.mentorship_relationships r
                           WHERE r.mentor_id = m.id AND r.status = 'active') AS n
              FROM unnest(ids) AS m(id)) c
     WHERE mp.mentor_id = c.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_mentorship_mentee_count AFTER INSERT OR DELETE OR UPDATE OF status, mentor_id ON mentorship_relationships
    FOR EACH ROW EXECUTE FUNCTION mentorship_update_mentee_count();

-- 6. Job application status history: the initial status and every change, keyed by the event
-- that caused it (a replayed event adds nothing).
CREATE FUNCTION job_applications_record_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO public.job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
        VALUES (NEW.application_id, NEW.user_id, coalesce(NEW.last_event_id, NEW.event_id),
                CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.status_changed_at)
        ON CONFLICT (event_id) DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_job_applications_status_history AFTER INSERT OR UPDATE OF status ON job_applications
    FOR EACH ROW EXECUTE FUNCTION job_applications_record_status();

-- 7. Portfolio review roll-up and showcase readiness (the one place the rule lives):
-- at least two reviews, average overall_score >= 80, and a mentor or industry expert who
-- recommends showcasing it.
CREATE FUNCTION project_reviews_rollup() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT k.uid, k.pid
               FROM (VALUES (CASE WHEN TG_OP <> 'DELETE' THEN NEW.project_user_id END,
                             CASE WHEN TG_OP <> 'DELETE' THEN NEW.project_id END),
                            (CASE WHEN TG_OP <> 'INSERT' THEN OLD.project_user_id END,
                             CASE WHEN TG_OP <> 'INSERT' THEN OLD.project_id END)) AS k(uid, pid)
              WHERE k.uid IS NOT NULL
    LOOP
        UPDATE public.user_portfolio_projects p
           SET review_count = s.n,
               avg_review_score = s.avg_score,
               showcase_ready = s.ready,
               showcase_ready_at = CASE WHEN s.ready THEN coalesce(p.showcase_ready_at, now()) END,
               showcase_checklist = jsonb_build_object('reviews', s.n, 'avg_score', s.avg_score,
                                                      'expert_recommended', s.recommended)
          FROM (SELECT count(*)::int AS n,
                       round(avg(pr.overall_score), 2) AS avg_score,
                       coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS recommended,
                       count(*) >= 2 AND coalesce(avg(pr.overall_score), 0) >= 80
                           AND coalesce(bool_or(pr.recommends_showcase AND pr.reviewer_type IN ('mentor', 'industry_expert')), false) AS ready
                  FROM public.project_reviews pr
                 WHERE pr.project_user_id = r.uid AND pr.project_id = r.pid) s
         WHERE p.user_id = r.uid AND p.project_id = r.pid;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_project_reviews_rollup AFTER INSERT OR UPDATE OR DELETE ON project_reviews
    FOR EACH ROW EXECUTE FUNCTION project_reviews_rollup();

-- 8. A completed coaching session counts toward its mentorship relationship.
CREATE FUNCTION coaching_sessions_count_completed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status = 'completed' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'completed')
       AND NEW.relationship_id IS NOT NULL THEN
        UPDATE public.mentorship_relationships
           SET sessions_completed = sessions_completed + 1,
               last_session_at = greatest(coalesce(last_session_at, NEW.scheduled_at), NEW.scheduled_at)
         WHERE relationship_id = NEW.relationship_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_coaching_sessions_completed AFTER INSERT OR UPDATE OF status ON career_coaching_sessions
    FOR EACH ROW EXECUTE FUNCTION coaching_sessions_count_completed();

-- 9. An accepted offer is a milestone, and a placement for the attributed mentor.
CREATE FUNCTION career_outcomes_on_placement() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.outcome_type = 'job_offer_accepted' THEN
        INSERT INTO public.career_milestones (user_id, milestone_type, reference_id, title, achieved_at, significance, points)
        VALUES (NEW.user_id, 'offer_received', NEW.outcome_id,
                'Accepted an offer' || coalesce(' as ' || NEW.job_title, ''), NEW.outcome_at, 'transformational', 1000)
        ON CONFLICT DO NOTHING;
        IF NEW.attributed_mentor_id IS NOT NULL THEN
            UPDATE public.mentor_profiles SET successful_placements = successful_placements + 1
             WHERE mentor_id = NEW.attributed_mentor_id;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trg_career_outcomes_placement AFTER INSERT ON career_outcomes
    FOR EACH ROW EXECUTE FUNCTION career_outcomes_on_placement();
