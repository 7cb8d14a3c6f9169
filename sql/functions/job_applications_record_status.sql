-- sql/functions/job_applications_record_status.sql
--      Trigger: a job application's status change is recorded once in its history.
--
-- Attached by 0020_triggers.sql, redefined by 0051 and 0058 (AFTER UPDATE OF status, with a WHEN
-- clause that skips the changes job_status_history_apply makes).

-- A status change (UPDATE only now): recorded once with its event, unless already recorded.
CREATE OR REPLACE FUNCTION job_applications_record_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM public.job_application_status_history h
                        WHERE h.event_id = coalesce(NEW.last_event_id, NEW.event_id)) THEN
            INSERT INTO public.job_application_status_history (application_id, user_id, event_id, from_status, to_status, changed_at)
            VALUES (NEW.application_id, NEW.user_id, coalesce(NEW.last_event_id, NEW.event_id),
                    CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.status_changed_at)
            ON CONFLICT (event_id) DO NOTHING;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
