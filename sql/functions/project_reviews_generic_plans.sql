-- sql/functions/project_reviews_generic_plans.sql
--      Trigger: project_reviews' foreign-key checks use a generic plan.
--
-- Attached by 0055_progress_review_fk_plan.sql, which explains the measurement.

CREATE OR REPLACE FUNCTION project_reviews_generic_plans() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_WHEN = 'BEFORE' THEN
        PERFORM set_config('cs.project_reviews_plan_cache_mode', current_setting('plan_cache_mode'), true),
                set_config('plan_cache_mode', 'force_generic_plan', true);
    ELSE
        PERFORM set_config('plan_cache_mode',
                           coalesce(nullif(current_setting('cs.project_reviews_plan_cache_mode', true), ''), 'auto'),
                           true);
    END IF;
    RETURN NULL;
END
$$;
