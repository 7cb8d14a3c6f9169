-- tests/sql/helpers.sql
--      Helpers for the schema's pgTAP tests, installed once per test database by run.sh.
--
-- pgTAP records results in temp tables owned by the connecting superuser, so assertions cannot
-- run under SET ROLE. tap.run_as() switches to a role (and app.user_id) only for the statement
-- under test and returns how many rows it returned or changed; errors propagate, so throws_ok
-- works on it too.

CREATE SCHEMA tap;

CREATE FUNCTION tap.run_as(p_role text, p_uid uuid, p_sql text) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('app.user_id', coalesce(p_uid::text, ''), true);
    EXECUTE format('SET LOCAL ROLE %I', p_role);
    BEGIN
        IF p_sql ~* '^\s*select\M' THEN
            EXECUTE format('SELECT count(*) FROM (%s) q', p_sql) INTO n;
        ELSE
            EXECUTE p_sql;
            GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        RESET ROLE;
        PERFORM set_config('app.user_id', '', true);
        RAISE;
    END;
    RESET ROLE;
    PERFORM set_config('app.user_id', '', true);
    RETURN n;
END
$$;

-- Like run_as with a raw app.user_id text (to test unset and malformed identities).
CREATE FUNCTION tap.run_as_raw(p_role text, p_uid text, p_sql text) RETURNS bigint
    LANGUAGE plpgsql
AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('app.user_id', coalesce(p_uid, ''), true);
    EXECUTE format('SET LOCAL ROLE %I', p_role);
    EXECUTE format('SELECT count(*) FROM (%s) q', p_sql) INTO n;
    RESET ROLE;
    PERFORM set_config('app.user_id', '', true);
    RETURN n;
END
$$;

-- The first column of the first row of p_sql, as text (NULL when no row). Lets a test build SQL
-- whose literals differ between the pgvector and the real[] path without either path's branch
-- having to type-check on the other kind of server.
CREATE FUNCTION tap.eval(p_sql text) RETURNS text
    LANGUAGE plpgsql
AS $$
DECLARE
    r text;
BEGIN
    EXECUTE p_sql INTO r;
    RETURN r;
END
$$;

-- A learner with one progress row, one job application and one portfolio project.
CREATE FUNCTION tap.make_learner(p_uid uuid, p_visibility text DEFAULT 'mentors') RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO user_career_profiles (user_id, profile_source, display_name) VALUES (p_uid, 'app', 'Learner ' || left(p_uid::text, 8));
    INSERT INTO user_progress (user_id, content_id, event_id, last_event_at, status, progress_pct)
    VALUES (p_uid, md5('content-1')::uuid, gen_random_uuid(), now(), 'in_progress', 40);
    INSERT INTO job_applications (application_id, applied_at, user_id, event_id, company_name, job_title)
    VALUES (md5('app-' || p_uid)::uuid, now(), p_uid, gen_random_uuid(), 'Acme', 'Junior Developer');
    INSERT INTO user_portfolio_projects (user_id, project_id, event_id, title, visibility)
    VALUES (p_uid, md5('project-' || p_uid)::uuid, gen_random_uuid(), 'Budget tracker', p_visibility);
$$;

CREATE FUNCTION tap.make_mentor(p_mid uuid, p_max integer DEFAULT 3) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO mentor_profiles (mentor_id, display_name, max_mentees) VALUES (p_mid, 'Mentor ' || left(p_mid::text, 8), p_max);
$$;

-- A minimal valid audit row (hashes are arbitrary 32-byte values).
CREATE FUNCTION tap.audit_row(p_uid uuid, p_at timestamptz, p_seq bigint) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO system_logs (logged_at, event_id, event_type, user_id, occurred_at, source_topic, source_partition,
                             source_offset, producer, payload, payload_sha256, chain_key, chain_seq, prev_hash, row_hash)
    VALUES (p_at, gen_random_uuid(), 'lesson_completed', p_uid, p_at, 'cs.learning', 0, p_seq, 'tap',
            '{"note": "free text"}', sha256('{"note": "free text"}'::bytea), 'cs.learning/0', p_seq,
            CASE WHEN p_seq > 1 THEN sha256(('row' || (p_seq - 1))::bytea) END, sha256(('row' || p_seq)::bytea));
$$;
