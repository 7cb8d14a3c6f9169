/*
 * tools/loadgen_sim.c
 *      The learner simulation behind cs-loadgen (see loadgen_sim.h).
 *
 * The stream is generated one learner-day at a time: for simulated day d, each learner who has
 * started produces that day's events with increasing timestamps, then the mentors whose
 * availability changes that day produce theirs. Events are rendered straight to JSON into a
 * pending buffer that cs_sim_next() drains, so the simulation never holds more than one
 * learner-day of events. All randomness comes from one xoshiro256** generator seeded by splitmix64.
 */
#include "loadgen_sim.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs/mem.h"
#include "cs/text.h"

#define DAY_MS            86400000LL
#define CHUNKS_PER_MODULE 12
#define MODULES           24
#define MAX_APPS          6

enum stage { EXPLORING, LEARNING, BUILDING_PORTFOLIO, JOB_SEARCHING, INTERVIEWING, PLACED };
static const char *const stage_names[] = {"exploring",     "learning",     "building_portfolio",
                                          "job_searching", "interviewing", "placed"};

enum app_status { APP_SUBMITTED, APP_SCREENING, APP_INTERVIEW, APP_OFFER, APP_CLOSED };

struct app {
    char id[37];
    uint8_t status;
    uint8_t round;
    int16_t next_day;
    int32_t salary;
};

struct learner {
    char id[37];
    uint8_t stage;
    uint8_t study_hours;
    uint8_t chunk_pct;
    uint8_t napps;
    int16_t start_day;
    int16_t placed_day;
    uint16_t mentor; /* 1..mentors, 0 = none */
    uint16_t chunk;  /* next chunk of the curriculum, 0-based */
    uint16_t modules_done;
    uint16_t projects;
    uint16_t showcase_ready;
    uint16_t apps_total;
    uint8_t industry;
    uint8_t feedback_sent;
    uint8_t first_interview;
    uint8_t first_offer;
    double skill; /* 0..1, grows with study */
    struct app apps[MAX_APPS];
};

struct cs_sim {
    cs_sim_opts_t o;
    uint64_t s[4];
    struct learner *learners;
    char (*mentor_ids)[37];
    int day;
    int next_learner; /* learner index to generate next within the day; learners = mentors' turn */
    int next_mentor;  /* mentor index to consider next during the mentors' turn */
    cs_buf_t pending; /* rendered events of the current learner-day, NUL-separated */
    size_t pending_pos;
    int64_t t; /* time cursor within the current learner-day */
    const char *cur_type[512];
    int ncur, cur_i;
    char cur_user[37];
    char producer[65];
};

/* ---- randomness ---------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(cs_sim_t *sim)
{
    uint64_t *s = sim->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static double unif(cs_sim_t *sim)
{
    return (double)(next_u64(sim) >> 11) * (1.0 / 9007199254740992.0);
}

static int range(cs_sim_t *sim, int lo, int hi) /* inclusive */
{
    return lo + (int)(unif(sim) * (double)(hi - lo + 1));
}

static int chance(cs_sim_t *sim, double p)
{
    return unif(sim) < p;
}

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* A random version-4 uuid from the simulation's generator. */
static void rand_uuid(cs_sim_t *sim, char *out)
{
    uint64_t a = next_u64(sim), b = next_u64(sim);

    a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff), (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/*
 * A version-7 uuid (RFC 9562) for an event id: the 48-bit Unix millisecond timestamp `ms` (the
 * event's occurred_at) first, then 74 bits from the simulation's generator (the same two draws
 * as rand_uuid, so the rest of the stream does not depend on the id's version). Deterministic per
 * seed; time-ordered, so the ids of one day's events land near each other in every btree that
 * indexes event_id instead of all over it.
 */
static void event_uuid(cs_sim_t *sim, int64_t ms, char *out)
{
    uint64_t a = next_u64(sim), b = next_u64(sim);
    uint64_t t = (uint64_t)ms & 0xffffffffffffULL;

    b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(t >> 16), (unsigned)(t & 0xffff),
             (unsigned)(0x7000 | (a & 0x0fff)), (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffULL));
}

void cs_sim_md5_uuid(const char *text, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_Digest(text, strlen(text), d, &n, EVP_md5(), NULL);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0],
             d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13],
             d[14], d[15]);
}

static void named_uuid(const char *kind, int n, char *out)
{
    char text[64];

    snprintf(text, sizeof(text), "%s-%d", kind, n);
    cs_sim_md5_uuid(text, out);
}

/* ---- reference vocabularies ------------------------------------------------------------------ */

static const char *const industries[] = {"fintech",       "healthcare", "e-commerce", "saas",
                                         "public_sector", "education",  "logistics",  "media"};
static const char *const roles[] = {
    "Junior Data Analyst",    "Junior Software Engineer", "QA Engineer",     "UX Designer",
    "Cloud Support Engineer", "Frontend Developer",       "Product Analyst", "DevOps Engineer"};
static const char *const companies[] = {
    "Northwind Analytics", "Contoso Health",   "Fabrikam Retail",  "Tailspin Logistics",
    "Adventure Works",     "Wide World Media", "Litware Software", "Proseware Finance",
    "Lucerne Publishing",  "Margie's Travel",  "Woodgrove Bank",   "Alpine Ski House"};
static const char *const skills[] = {"SQL",        "Python", "JavaScript",    "Git",
                                     "Statistics", "Excel",  "Tableau",       "HTML/CSS",
                                     "React",      "Linux",  "AWS",           "Docker",
                                     "Testing",    "Agile",  "Communication", "Data Modeling"};
static const char *const techs[] = {"python", "sql", "react",  "typescript", "postgresql",
                                    "docker", "aws", "pandas", "flask",      "tableau"};
static const char *const session_types[] = {
    "career_planning", "resume_review",    "interview_prep", "technical_mentoring",
    "networking",      "portfolio_review", "general"};
static const char *const interview_types[] = {"behavioral", "technical", "system_design",
                                              "case_study", "mock_full_loop"};
static const char *const channels[] = {"platform_partner", "job_board", "referral", "direct",
                                       "recruiter"};
static const char *const work_modes[] = {"onsite", "hybrid", "remote"};
static const char *const reviewer_roles[] = {"mentor", "peer", "instructor", "industry_expert"};
static const char *const proficiency[] = {"novice", "beginner", "intermediate", "advanced",
                                          "expert"};
static const char *const assess_methods[] = {"self_assessment", "mentor", "assessment",
                                             "project_review"};
#define PICK(sim, arr) (arr)[range((sim), 0, (int)(sizeof(arr) / sizeof((arr)[0])) - 1)]

/* ---- rendering ------------------------------------------------------------------------------- */

static void iso_ms(int64_t ms, char *out, size_t size)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts an event: the envelope up to the payload's opening brace. */
static cs_buf_t *begin(cs_sim_t *sim, const char *type, int version, const char *user_id)
{
    cs_buf_t *b = &sim->pending;
    char id[37], when[32];
    uint64_t tr1 = next_u64(sim), tr2 = next_u64(sim), sp = next_u64(sim);
    int64_t at;

    /* Keep the time cursor moving: the next event of this learner-day happens later. */
    sim->t += (int64_t)range(sim, 2, 40) * 60000 + range(sim, 0, 59999);
    at = sim->o.realtime ? now_ms() : sim->t;
    event_uuid(sim, at, id);
    iso_ms(at, when, sizeof(when));
    if (sim->ncur < (int)(sizeof(sim->cur_type) / sizeof(sim->cur_type[0])))
        sim->cur_type[sim->ncur++] = type;
    cs_buf_printf(b,
                  "{\"event_id\":\"%s\",\"event_type\":\"%s\",\"occurred_at\":\"%s\","
                  "\"user_id\":\"%s\",\"producer\":\"%s\",\"schema_version\":%d,"
                  "\"traceparent\":\"00-%016llx%016llx-%016llx-01\",\"payload\":{",
                  id, type, when, user_id, sim->producer, version, (unsigned long long)tr1,
                  (unsigned long long)tr2, (unsigned long long)sp);
    return b;
}

static void end(cs_sim_t *sim)
{
    cs_buf_puts(&sim->pending, "}}");
    cs_buf_putc(&sim->pending, '\0');
}

static void kv_str(cs_buf_t *b, int *first, const char *k, const char *v)
{
    cs_buf_printf(b, "%s\"%s\":", *first ? "" : ",", k);
    if (v)
        cs_text_json_str(b, v, strlen(v), CS_TEXT_JSON);
    else
        cs_buf_puts(b, "null");
    *first = 0;
}

static void kv_int(cs_buf_t *b, int *first, const char *k, long long v)
{
    cs_buf_printf(b, "%s\"%s\":%lld", *first ? "" : ",", k, v);
    *first = 0;
}

static void kv_dbl(cs_buf_t *b, int *first, const char *k, double v)
{
    cs_buf_printf(b, "%s\"%s\":%.1f", *first ? "" : ",", k, v);
    *first = 0;
}

static void kv_bool(cs_buf_t *b, int *first, const char *k, int v)
{
    cs_buf_printf(b, "%s\"%s\":%s", *first ? "" : ",", k, v ? "true" : "false");
    *first = 0;
}

static void kv_time(cs_buf_t *b, int *first, const char *k, int64_t ms)
{
    char when[32];

    iso_ms(ms, when, sizeof(when));
    cs_buf_printf(b, "%s\"%s\":\"%s\"", *first ? "" : ",", k, when);
    *first = 0;
}

static void kv_null(cs_buf_t *b, int *first, const char *k)
{
    cs_buf_printf(b, "%s\"%s\":null", *first ? "" : ",", k);
    *first = 0;
}

/* ---- events ---------------------------------------------------------------------------------- */

static void ev_milestone(cs_sim_t *sim, struct learner *l, const char *type, const char *title,
                         int points)
{
    char id[37];
    int f = 1;
    cs_buf_t *b = begin(sim, "career_milestone_reached", 1, l->id);

    rand_uuid(sim, id);
    kv_str(b, &f, "milestone_id", id);
    kv_str(b, &f, "milestone_type", type);
    kv_str(b, &f, "title", title);
    kv_str(b, &f, "career_stage", stage_names[l->stage]);
    kv_int(b, &f, "readiness_points", points);
    end(sim);
}

static void ev_profile(cs_sim_t *sim, struct learner *l)
{
    int f = 1;
    cs_buf_t *b = begin(sim, "learner_profile_updated", 1, l->id);

    kv_str(b, &f, "target_industry", industries[l->industry]);
    kv_str(b, &f, "target_role", roles[l->industry % 8]);
    kv_null(b, &f, "current_industry");
    kv_str(b, &f, "career_stage", stage_names[l->stage]);
    kv_int(b, &f, "available_study_hours_week", l->study_hours);
    end(sim);
}

static void set_stage(cs_sim_t *sim, struct learner *l, enum stage s)
{
    if (l->stage >= s)
        return;
    l->stage = (uint8_t)s;
    ev_profile(sim, l);
}

static void ev_skill(cs_sim_t *sim, struct learner *l, const char *method)
{
    char skill_id[37];
    int s = range(sim, 0, (int)(sizeof(skills) / sizeof(skills[0])) - 1);
    double score = clamp(100.0 * l->skill + range(sim, -15, 15), 0, 100);
    int f = 1;
    cs_buf_t *b;

    named_uuid("skill", s + 1, skill_id);
    b = begin(sim, "skill_assessed", 1, l->id);
    kv_str(b, &f, "skill_id", skill_id);
    kv_str(b, &f, "skill_name", skills[s]);
    kv_str(b, &f, "proficiency", proficiency[(int)clamp(score / 20.0, 0, 4)]);
    kv_dbl(b, &f, "score", score);
    kv_str(b, &f, "method", method);
    kv_null(b, &f, "assessor_id");
    end(sim);
}

static void ev_assessment(cs_sim_t *sim, struct learner *l, int module)
{
    char id[37], skill_id[37];
    int s = module % (int)(sizeof(skills) / sizeof(skills[0]));
    double score = clamp(40 + 60 * l->skill + range(sim, -20, 20), 0, 100);
    int f = 1;
    cs_buf_t *b;

    named_uuid("assessment", module + 1, id);
    named_uuid("skill", s + 1, skill_id);
    b = begin(sim, "assessment_completed", 1, l->id);
    kv_str(b, &f, "assessment_id", id);
    kv_str(b, &f, "assessment_type", chance(sim, 0.3) ? "coding_challenge" : "quiz");
    kv_str(b, &f, "skill_id", skill_id);
    kv_str(b, &f, "skill_name", skills[s]);
    kv_dbl(b, &f, "score", score);
    kv_dbl(b, &f, "passing_score", 70.0);
    kv_bool(b, &f, "passed", score >= 70.0);
    kv_int(b, &f, "attempt", range(sim, 1, 2));
    kv_int(b, &f, "duration_seconds", range(sim, 300, 3600));
    end(sim);
}

static void ev_content(cs_sim_t *sim, struct learner *l)
{
    char content_id[37], module_id[37], session_id[37];
    int module = (l->chunk / CHUNKS_PER_MODULE) % MODULES;
    const char *action;
    int f = 1;
    cs_buf_t *b;

    named_uuid("chunk", l->chunk % (CHUNKS_PER_MODULE * MODULES) + 1, content_id);
    named_uuid("module", module + 1, module_id);
    if (l->chunk_pct == 0) {
        l->chunk_pct = (uint8_t)range(sim, 10, 40);
        action = "started";
    } else {
        int pct = l->chunk_pct + range(sim, 20, 60);

        l->chunk_pct = (uint8_t)(pct >= 100 ? 100 : pct);
        action = l->chunk_pct == 100 ? "completed" : "in_progress";
    }
    rand_uuid(sim, session_id);
    b = begin(sim, "content_progress", 2, l->id);
    kv_str(b, &f, "content_id", content_id);
    kv_str(b, &f, "content_kind", "chunk");
    kv_str(b, &f, "module_id", module_id);
    kv_str(b, &f, "progress", action);
    kv_int(b, &f, "percent_complete", l->chunk_pct);
    kv_int(b, &f, "time_spent_seconds", range(sim, 120, 2400));
    kv_str(b, &f, "session_id", session_id);
    kv_int(b, &f, "attempt", 1);
    end(sim);

    if (l->chunk_pct < 100)
        return;
    l->chunk_pct = 0;
    l->chunk++;
    l->skill = clamp(l->skill + 0.01, 0, 1);
    if (l->chunk % CHUNKS_PER_MODULE)
        return;
    l->modules_done++;
    ev_assessment(sim, l, module);
    if (chance(sim, 0.5))
        ev_skill(sim, l, "assessment");
    if (l->modules_done == 1)
        ev_milestone(sim, l, "first_module_completed", "First module completed", 5);
    if (l->modules_done == 4) {
        ev_milestone(sim, l, "curriculum_stage_completed", "Core curriculum completed", 15);
        set_stage(sim, l, BUILDING_PORTFOLIO);
    }
}

static void ev_coaching(cs_sim_t *sim, struct learner *l)
{
    char id[37];
    int64_t started = sim->t;
    int f = 1;
    cs_buf_t *b;

    rand_uuid(sim, id);
    b = begin(sim, "coaching_session_logged", 1, l->id);
    kv_str(b, &f, "session_id", id);
    kv_str(b, &f, "mentor_id", sim->mentor_ids[l->mentor - 1]);
    kv_null(b, &f, "relationship_id");
    kv_str(b, &f, "session_type", PICK(sim, session_types));
    kv_time(b, &f, "started_at", started);
    kv_int(b, &f, "duration_minutes", 15 * range(sim, 2, 6));
    if (chance(sim, 0.85))
        kv_int(b, &f, "learner_rating", range(sim, 3, 5) - (chance(sim, 0.08) ? 2 : 0));
    else
        kv_null(b, &f, "learner_rating");
    kv_int(b, &f, "mentor_rating", range(sim, 2, 5));
    cs_buf_printf(b, ",\"goals_discussed\":[\"%s\"]", PICK(sim, skills));
    kv_null(b, &f, "notes");
    end(sim);

    if (chance(sim, 0.3)) {
        char fid[37];
        int f2 = 1;
        cs_buf_t *b2;

        rand_uuid(sim, fid);
        b2 = begin(sim, "mentor_feedback_given", 1, l->id);
        kv_str(b2, &f2, "feedback_id", fid);
        kv_str(b2, &f2, "mentor_id", sim->mentor_ids[l->mentor - 1]);
        kv_null(b2, &f2, "relationship_id");
        kv_int(b2, &f2, "progress_rating", range(sim, 2, 5));
        kv_int(b2, &f2, "engagement_rating", range(sim, 2, 5));
        kv_int(b2, &f2, "readiness_estimate", (int)(l->skill * 100));
        kv_bool(b2, &f2, "recommends_rematch", chance(sim, 0.04));
        kv_null(b2, &f2, "comment");
        end(sim);
    }
}

static void ev_project(cs_sim_t *sim, struct learner *l)
{
    char id[37], tpl[37], rid[37], reviewer[37];
    int ready;
    int f = 1;
    cs_buf_t *b;

    named_uuid("project", (int)(l - sim->learners) * 100 + l->projects + 1, id);
    named_uuid("template", range(sim, 1, 40), tpl);
    l->projects++;
    b = begin(sim, "portfolio_project_submitted", 1, l->id);
    kv_str(b, &f, "project_id", id);
    kv_str(b, &f, "template_id", tpl);
    cs_buf_printf(b, ",\"title\":\"%s portfolio project %u\"", industries[l->industry],
                  l->projects);
    kv_str(b, &f, "repository_url", "https://git.example.com/learner/project");
    kv_null(b, &f, "demo_url");
    cs_buf_printf(b, ",\"technologies\":[\"%s\",\"%s\"]", PICK(sim, techs), PICK(sim, techs));
    kv_str(b, &f, "target_industry", industries[l->industry]);
    kv_int(b, &f, "revision", 1);
    end(sim);

    ready = chance(sim, 0.35 + 0.5 * l->skill);
    rand_uuid(sim, rid);
    named_uuid("mentor", l->mentor ? l->mentor : 1, reviewer);
    f = 1;
    b = begin(sim, "project_reviewed", 1, l->id);
    kv_str(b, &f, "project_id", id);
    kv_str(b, &f, "review_id", rid);
    kv_str(b, &f, "reviewer_id", reviewer);
    kv_str(b, &f, "reviewer_role", PICK(sim, reviewer_roles));
    kv_int(b, &f, "overall_rating", ready ? range(sim, 4, 5) : range(sim, 2, 4));
    kv_int(b, &f, "code_quality_rating", range(sim, 2, 5));
    kv_bool(b, &f, "showcase_ready", ready);
    kv_null(b, &f, "feedback");
    end(sim);
    if (ready && ++l->showcase_ready == 2) {
        ev_milestone(sim, l, "portfolio_ready", "Portfolio showcase ready", 20);
        set_stage(sim, l, JOB_SEARCHING);
    }
}

static void ev_practice(cs_sim_t *sim, struct learner *l)
{
    char id[37];
    int f = 1;
    cs_buf_t *b;

    rand_uuid(sim, id);
    b = begin(sim, "interview_practice_completed", 1, l->id);
    kv_str(b, &f, "practice_id", id);
    kv_str(b, &f, "interview_type", PICK(sim, interview_types));
    kv_str(b, &f, "target_role", roles[l->industry % 8]);
    kv_dbl(b, &f, "score", clamp(35 + 60 * l->skill + range(sim, -15, 15), 0, 100));
    kv_int(b, &f, "duration_minutes", range(sim, 20, 90));
    kv_null(b, &f, "interviewer_id");
    kv_int(b, &f, "confidence_rating", range(sim, 1, 5));
    end(sim);
    l->skill = clamp(l->skill + 0.005, 0, 1);
}

static void ev_apply(cs_sim_t *sim, struct learner *l)
{
    struct app *a = &l->apps[l->napps++];
    int f = 1;
    cs_buf_t *b;

    rand_uuid(sim, a->id);
    a->status = APP_SUBMITTED;
    a->round = 0;
    a->next_day = (int16_t)(sim->day + range(sim, 2, 7));
    a->salary = 1000 * range(sim, 38, 75);
    l->apps_total++;
    b = begin(sim, "job_application_submitted", 1, l->id);
    kv_str(b, &f, "application_id", a->id);
    kv_str(b, &f, "company_name", PICK(sim, companies));
    kv_str(b, &f, "job_title", roles[l->industry % 8]);
    kv_str(b, &f, "target_industry", industries[l->industry]);
    kv_str(b, &f, "role_level", chance(sim, 0.85) ? "junior" : "intern");
    kv_str(b, &f, "channel", PICK(sim, channels));
    kv_str(b, &f, "work_mode", PICK(sim, work_modes));
    kv_null(b, &f, "job_posting_url");
    kv_int(b, &f, "salary_expected", a->salary);
    kv_str(b, &f, "salary_currency", "EUR");
    end(sim);
}

static const char *const app_status_names[] = {"submitted", "screening", "interview", "offer"};

static void ev_status(cs_sim_t *sim, struct learner *l, struct app *a, const char *status,
                      int closes)
{
    int f = 1;
    cs_buf_t *b = begin(sim, "application_status_changed", 1, l->id);

    kv_str(b, &f, "application_id", a->id);
    kv_str(b, &f, "status", status);
    kv_str(b, &f, "previous_status", app_status_names[a->status]);
    if (!strcmp(status, "interview"))
        kv_int(b, &f, "interview_round", a->round);
    else
        kv_null(b, &f, "interview_round");
    if (!strcmp(status, "offer") || !strcmp(status, "accepted")) {
        kv_int(b, &f, "salary_offered", a->salary + 1000 * range(sim, -3, 6));
        kv_str(b, &f, "salary_currency", "EUR");
    } else {
        kv_null(b, &f, "salary_offered");
        kv_null(b, &f, "salary_currency");
    }
    kv_str(b, &f, "rejection_reason",
           !strcmp(status, "rejected") ? "position filled by another candidate" : NULL);
    end(sim);
    if (closes)
        a->status = APP_CLOSED;
}

/* A screened application reaches its first interview round (the learner's first interview: a
 * milestone, and the interviewing stage). */
static void first_round(cs_sim_t *sim, struct learner *l, struct app *a)
{
    a->round = 1;
    ev_status(sim, l, a, "interview", 0);
    a->status = APP_INTERVIEW;
    if (!l->first_interview) {
        l->first_interview = 1;
        ev_milestone(sim, l, "first_interview", "First real interview", 10);
        set_stage(sim, l, INTERVIEWING);
    }
}

/* The learner accepts the offer: placed, and the other open applications are withdrawn. */
static void accept_offer(cs_sim_t *sim, struct learner *l, struct app *a)
{
    ev_status(sim, l, a, "accepted", 1);
    l->placed_day = (int16_t)sim->day;
    set_stage(sim, l, PLACED);
    ev_milestone(sim, l, "job_placed", "Placed in a new tech role", 30);
    for (int i = 0; i < l->napps; i++)
        if (&l->apps[i] != a && l->apps[i].status != APP_CLOSED)
            ev_status(sim, l, &l->apps[i], "withdrawn", 1);
}

/* Moves one open application a step through the funnel. */
static void advance_app(cs_sim_t *sim, struct learner *l, struct app *a)
{
    double u = unif(sim);

    a->next_day = (int16_t)(sim->day + range(sim, 2, 7));
    switch (a->status) {
    case APP_SUBMITTED:
        if (u < 0.55)
            ev_status(sim, l, a, "rejected", 1);
        else if (u < 0.95) {
            ev_status(sim, l, a, "screening", 0);
            a->status = APP_SCREENING;
        } else
            ev_status(sim, l, a, "withdrawn", 1);
        break;
    case APP_SCREENING:
        if (u < 0.5)
            ev_status(sim, l, a, "rejected", 1);
        else
            first_round(sim, l, a);
        break;
    case APP_INTERVIEW:
        if (u < 0.35 && a->round < 3) {
            a->round++;
            ev_status(sim, l, a, "interview", 0);
        } else if (u < 0.7 - 0.2 * l->skill)
            ev_status(sim, l, a, "rejected", 1);
        else {
            ev_status(sim, l, a, "offer", 0);
            a->status = APP_OFFER;
            if (!l->first_offer) {
                l->first_offer = 1;
                ev_milestone(sim, l, "first_offer", "First job offer", 20);
            }
        }
        break;
    case APP_OFFER:
        if (l->stage != PLACED && u < 0.75)
            accept_offer(sim, l, a);
        else
            ev_status(sim, l, a, "withdrawn", 1);
        break;
    default:
        break;
    }
}

static void compact_apps(struct learner *l)
{
    int j = 0;

    for (int i = 0; i < l->napps; i++)
        if (l->apps[i].status != APP_CLOSED)
            l->apps[j++] = l->apps[i];
    l->napps = (uint8_t)j;
}

static void ev_employer_feedback(cs_sim_t *sim, struct learner *l)
{
    char id[37];
    int f = 1;
    cs_buf_t *b;

    rand_uuid(sim, id);
    b = begin(sim, "employer_feedback_received", 1, l->id);
    kv_str(b, &f, "feedback_id", id);
    kv_str(b, &f, "employer_name", PICK(sim, companies));
    kv_str(b, &f, "job_title", roles[l->industry % 8]);
    kv_int(b, &f, "months_since_hire", (sim->day - l->placed_day) / 30);
    kv_int(b, &f, "performance_rating", range(sim, 3, 5));
    kv_int(b, &f, "technical_skills_rating", range(sim, 2, 5));
    kv_int(b, &f, "soft_skills_rating", range(sim, 3, 5));
    kv_bool(b, &f, "would_hire_again", chance(sim, 0.85));
    kv_null(b, &f, "comment");
    end(sim);
    l->feedback_sent = 1;
}

/* One learner's day. */
static void learner_day(cs_sim_t *sim, struct learner *l)
{
    static const double active_p[] = {0.35, 0.65, 0.65, 0.7, 0.7, 0.05};
    int studies;

    if (sim->day < l->start_day)
        return;
    sim->t = sim->o.start_ms + (int64_t)sim->day * DAY_MS + 7 * 3600000LL +
             (int64_t)range(sim, 0, 4 * 3600) * 1000;

    /* Applications move on their own schedule, active day or not. */
    for (int i = 0; i < l->napps; i++)
        if (l->apps[i].status != APP_CLOSED && l->apps[i].next_day <= sim->day)
            advance_app(sim, l, &l->apps[i]);
    compact_apps(l);

    if (l->stage == PLACED && !l->feedback_sent && sim->day - l->placed_day > 20 &&
        chance(sim, 0.05))
        ev_employer_feedback(sim, l);
    if (!chance(sim, active_p[l->stage]))
        return;

    if (l->stage == EXPLORING)
        set_stage(sim, l, LEARNING);
    studies = l->stage <= BUILDING_PORTFOLIO ? range(sim, 1, 4) : chance(sim, 0.4);
    for (int i = 0; i < studies; i++)
        ev_content(sim, l);
    if (l->mentor && chance(sim, 1.0 / 7))
        ev_coaching(sim, l);
    if (chance(sim, 0.04))
        ev_skill(sim, l, PICK(sim, assess_methods));
    if (l->stage == BUILDING_PORTFOLIO && chance(sim, 0.25))
        ev_project(sim, l);
    if (l->stage == JOB_SEARCHING || l->stage == INTERVIEWING) {
        if (chance(sim, 0.3))
            ev_practice(sim, l);
        if (l->napps < MAX_APPS && chance(sim, 0.45))
            ev_apply(sim, l);
    }
    if (chance(sim, 0.01)) {
        l->study_hours = (uint8_t)range(sim, 5, 30);
        ev_profile(sim, l);
    }
}

static void mentor_event(cs_sim_t *sim, int m)
{
    int max = range(sim, 2, 8);
    int f = 1;
    cs_buf_t *b;

    sim->t = sim->o.start_ms + (int64_t)sim->day * DAY_MS + 6 * 3600000LL;
    b = begin(sim, "mentor_availability_changed", 1, sim->mentor_ids[m]);
    kv_str(b, &f, "mentor_id", sim->mentor_ids[m]);
    kv_bool(b, &f, "accepting_mentees", chance(sim, 0.7));
    kv_int(b, &f, "max_mentees", max);
    kv_int(b, &f, "current_mentees", range(sim, 0, max));
    kv_int(b, &f, "weekly_hours", range(sim, 2, 10));
    cs_buf_printf(b, ",\"expertise_areas\":[\"%s\",\"%s\"]", PICK(sim, skills), PICK(sim, skills));
    kv_null(b, &f, "unavailable_until");
    end(sim);
}

/* ---- the stream ------------------------------------------------------------------------------ */

cs_sim_t *cs_sim_new(const cs_sim_opts_t *opts)
{
    cs_sim_t *sim = cs_mem_calloc(1, sizeof(*sim));
    uint64_t x;

    sim->o = *opts;
    if (sim->o.learners < 1)
        sim->o.learners = 1;
    if (sim->o.mentors < 1)
        sim->o.mentors = 1;
    snprintf(sim->producer, sizeof(sim->producer), "%s",
             opts->producer ? opts->producer : "cs-loadgen");
    x = opts->seed;
    for (int i = 0; i < 4; i++)
        sim->s[i] = splitmix64(&x);
    cs_buf_init(&sim->pending);
    sim->learners = cs_mem_calloc((size_t)sim->o.learners, sizeof(*sim->learners));
    sim->mentor_ids = cs_mem_calloc((size_t)sim->o.mentors, sizeof(*sim->mentor_ids));
    for (int m = 0; m < sim->o.mentors; m++)
        named_uuid("mentor", m + 1, sim->mentor_ids[m]);
    for (int n = 0; n < sim->o.learners; n++) {
        struct learner *l = &sim->learners[n];

        named_uuid("learner", n + 1, l->id);
        /* The window opens on a cohort spread over the whole journey. */
        double u = unif(sim);

        l->placed_day = -1;
        if (u < 0.30) {
            l->stage = EXPLORING;
        } else if (u < 0.55) {
            l->stage = LEARNING;
            l->chunk = (uint16_t)range(sim, 0, 4 * CHUNKS_PER_MODULE - 1);
        } else {
            l->chunk = (uint16_t)(4 * CHUNKS_PER_MODULE + range(sim, 0, CHUNKS_PER_MODULE - 1));
            l->stage = u < 0.75   ? BUILDING_PORTFOLIO
                       : u < 0.90 ? JOB_SEARCHING
                       : u < 0.97 ? INTERVIEWING
                                  : PLACED;
            if (l->stage >= JOB_SEARCHING)
                l->showcase_ready = l->projects = 2;
            if (l->stage >= INTERVIEWING)
                l->first_interview = 1;
            if (l->stage == PLACED) {
                l->first_offer = 1;
                l->placed_day = (int16_t)-range(sim, 10, 200);
            }
        }
        l->modules_done = (uint16_t)(l->chunk / CHUNKS_PER_MODULE);
        l->start_day = (int16_t)(chance(sim, 0.6) ? 0 : range(sim, 0, 14));
        l->study_hours = (uint8_t)range(sim, 5, 25);
        l->mentor = chance(sim, 0.8) ? (uint16_t)range(sim, 1, sim->o.mentors) : 0;
        l->industry = (uint8_t)range(sim, 0, 7);
        l->skill = 0.2 + 0.4 * unif(sim) + 0.05 * l->stage;
    }
    return sim;
}

void cs_sim_destroy(cs_sim_t *sim)
{
    if (!sim)
        return;
    cs_buf_fini(&sim->pending);
    free(sim->learners);
    free(sim->mentor_ids);
    free(sim);
}

int cs_sim_day(const cs_sim_t *sim)
{
    return sim->day;
}

/* Generates learner-days until something is pending. Returns 0 at the end of the stream. */
static int refill(cs_sim_t *sim)
{
    cs_buf_reset(&sim->pending);
    sim->pending_pos = 0;
    sim->ncur = sim->cur_i = 0;
    while (sim->pending.len == 0) {
        if (sim->o.days > 0 && sim->day >= sim->o.days)
            return 0;
        if (sim->next_learner < sim->o.learners) {
            struct learner *l = &sim->learners[sim->next_learner++];

            learner_day(sim, l);
            memcpy(sim->cur_user, l->id, 37);
        } else {
            /* The mentors' turn: about 1% of them change their availability each day, one
             * event per refill so cur_user stays right. */
            while (sim->next_mentor < sim->o.mentors && sim->pending.len == 0) {
                int m = sim->next_mentor++;

                if (chance(sim, 0.01)) {
                    mentor_event(sim, m);
                    memcpy(sim->cur_user, sim->mentor_ids[m], 37);
                }
            }
            if (sim->pending.len == 0) {
                sim->day++;
                sim->next_learner = 0;
                sim->next_mentor = 0;
            }
        }
    }
    return 1;
}

int cs_sim_next(cs_sim_t *sim, cs_buf_t *out, const char **event_type, const char **user_id)
{
    const char *ev;
    size_t n;

    if (sim->pending_pos >= sim->pending.len && !refill(sim))
        return 0;
    ev = sim->pending.data + sim->pending_pos;
    n = strlen(ev);
    cs_buf_append(out, ev, n);
    sim->pending_pos += n + 1;
    *event_type = sim->cur_type[sim->cur_i < sim->ncur ? sim->cur_i : sim->ncur - 1];
    sim->cur_i++;
    *user_id = sim->cur_user;
    return 1;
}
