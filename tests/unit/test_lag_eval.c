/*
 * tests/unit/test_lag_eval.c
 *      cs-lag's status rules (tools/lag_eval.h) on synthetic samples: each row of the table is
 *      a window of samples and the status it must give.
 */
#include <check.h>
#include <stdlib.h>

#include "lag_eval.h"

#define MAXS 8

typedef struct row {
    const char *what;
    int n;
    int64_t stored[MAXS], lag[MAXS];
    double commit_age_s;
    int assigned;
    bool measured;
    cs_lag_status_t want;
} row_t;

static const row_t rows[] = {
    {"caught up, worker gone", 1, {10}, {0}, 500, 0, true, CS_LAG_OK},
    {"caught up, never committed", 1, {-1}, {0}, -1, -1, true, CS_LAG_OK},
    {"one sample, recent commit", 1, {10}, {5}, 3, 1, true, CS_LAG_OK},
    {"one sample, old commit, member holds it", 1, {10}, {5}, 120, 1, true, CS_LAG_STALL},
    {"one sample, old commit, nobody holds it", 1, {10}, {5}, 120, 0, true, CS_LAG_STOP},
    {"one sample, old commit, assignment unknown", 1, {10}, {5}, 120, -1, true, CS_LAG_STALL},
    {"no row, lag, nobody holds it", 1, {-1}, {7}, -1, 0, true, CS_LAG_STOP},
    {"commit exactly a window ago is not within it", 1, {10}, {5}, 60, 0, true, CS_LAG_STOP},
    {"offsets moved between samples, old updated_at",
     3,
     {10, 12, 14},
     {5, 4, 3},
     120,
     1,
     true,
     CS_LAG_OK},
    {"offsets moved, lag growing", 3, {10, 12, 14}, {5, 6, 8}, 1, 1, true, CS_LAG_WARN},
    {"offsets moved, lag flat then up", 4, {10, 12, 14, 16}, {5, 5, 5, 6}, 1, 1, true, CS_LAG_WARN},
    {"offsets moved, lag flat", 3, {10, 12, 14}, {5, 5, 5}, 1, 1, true, CS_LAG_OK},
    {"offsets moved, lag dipped once", 4, {10, 12, 14, 16}, {5, 7, 6, 9}, 1, 1, true, CS_LAG_OK},
    {"offsets moved, lag growing, only 2 samples", 2, {10, 12}, {5, 9}, 1, 1, true, CS_LAG_OK},
    {"lag growing but offsets still: stall wins",
     3,
     {10, 10, 10},
     {5, 6, 8},
     120,
     1,
     true,
     CS_LAG_STALL},
    {"lag growing, offsets still, nobody: stop",
     3,
     {10, 10, 10},
     {5, 6, 8},
     120,
     0,
     true,
     CS_LAG_STOP},
    {"not measured", 1, {10}, {5}, 1, 1, false, CS_LAG_ERR},
    {"lag unknown", 1, {10}, {-1}, 1, 1, true, CS_LAG_ERR},
};

START_TEST(test_rows)
{
    const row_t *r = &rows[_i];
    cs_lag_sample_t s[MAXS];
    for (int i = 0; i < r->n; i++)
        s[i] = (cs_lag_sample_t){.t = i, .stored = r->stored[i], .lag = r->lag[i]};
    cs_lag_input_t in = {.samples = s,
                         .nsamples = r->n,
                         .measured = r->measured,
                         .commit_age_s = r->commit_age_s,
                         .window_s = 60,
                         .assigned = r->assigned};
    cs_lag_status_t got = cs_lag_evaluate(&in);
    ck_assert_msg(got == r->want, "%s: got %s, want %s", r->what, cs_lag_status_name(got),
                  cs_lag_status_name(r->want));
}
END_TEST

START_TEST(test_names_and_order)
{
    ck_assert_str_eq(cs_lag_status_name(CS_LAG_OK), "OK");
    ck_assert_str_eq(cs_lag_status_name(CS_LAG_WARN), "WARN");
    ck_assert_str_eq(cs_lag_status_name(CS_LAG_STALL), "STALL");
    ck_assert_str_eq(cs_lag_status_name(CS_LAG_STOP), "STOP");
    ck_assert_str_eq(cs_lag_status_name(CS_LAG_ERR), "ERR");
    /* A group's status is the maximum of its partitions': the order is the severity. */
    ck_assert_int_lt(CS_LAG_OK, CS_LAG_WARN);
    ck_assert_int_lt(CS_LAG_WARN, CS_LAG_STALL);
    ck_assert_int_lt(CS_LAG_STALL, CS_LAG_STOP);
    ck_assert_int_lt(CS_LAG_STOP, CS_LAG_ERR);
    cs_lag_input_t none = {.measured = true, .window_s = 60};
    ck_assert_int_eq(cs_lag_evaluate(&none), CS_LAG_ERR); /* no sample at all */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lag_eval");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_rows, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, test_names_and_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
