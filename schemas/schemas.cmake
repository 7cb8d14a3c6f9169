# schemas/schemas.cmake: every schema file of the event contract, the generator's inputs.
# Add a new version as events/<event>/v<N>.avsc here; never edit a released version in place.
set(CS_SCHEMA_FILES
  events/application_status_changed/v1.avsc
  events/assessment_completed/v1.avsc
  events/career_milestone_reached/v1.avsc
  events/coaching_session_logged/v1.avsc
  events/content_progress/v1.avsc
  events/content_progress/v2.avsc
  events/employer_feedback_received/v1.avsc
  events/interview_practice_completed/v1.avsc
  events/job_application_submitted/v1.avsc
  events/learner_profile_updated/v1.avsc
  events/mentor_availability_changed/v1.avsc
  events/mentor_feedback_given/v1.avsc
  events/mentor_rematch_proposed/v1.avsc
  events/mentor_rematch_proposed/v2.avsc
  events/mentor_rematch_requested/v1.avsc
  events/mentor_rematch_responded/v1.avsc
  events/portfolio_project_submitted/v1.avsc
  events/project_reviewed/v1.avsc
  events/readiness_score_changed/v1.avsc
  events/readiness_score_changed/v2.avsc
  events/skill_assessed/v1.avsc
  events/user_erasure_requested/v1.avsc
)
