-- sql/migrations/0063_mentor_relationship_status.sql
--      A mentor no longer changes a relationship's status or end fields.
--
-- 0024 granted cs_app_mentor UPDATE of (status, progress_notes, meeting_cadence, goals, end_reason,
-- ended_at), and 0023's policy mentor_own_relationships lets a mentor update any of their own
-- relationships, ended ones included. A mentor whose relationship had ended could therefore set it
-- back to 'active' and, through mentor_active_mentees, read the mentee's rows again (issue 14).
-- Status and end fields (status, end_reason, ended_at; started_at was never granted) are now
-- changed only by cs-matching (cs_worker_matching) and admins (cs_app_admin). A mentor keeps
-- UPDATE of the working fields of their own relationships: progress_notes, meeting_cadence, goals.
-- Column privileges are checked before any row is read, so the refusal (SQLSTATE 42501) does not
-- depend on the relationship's state or on row-level security.

REVOKE UPDATE (status, end_reason, ended_at) ON mentorship_relationships FROM cs_app_mentor;
