/*
 * tests/unit/test_worker_redrive.c
 *      Check suite for the dead-letter re-drive's options and selection (worker_redrive.c),
 *      without a broker or a database.
 *
 * --id's list, the options checked together (--force needs --id), and the selection's SQL and
 * parameters for each filter. Links the static libcore (cs__worker_redrive_* is internal);
 * tests/integration/0096 runs the re-drive itself against PostgreSQL and the broker.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

START_TEST(ids_parsed)
{
    int64_t *ids;
    int n;
    cs_err_t err;
    ck_assert_int_eq(cs__worker_redrive_parse_ids("7", &ids, &n, &err), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(ids[0], 7);
    free(ids);
    ck_assert_int_eq(cs__worker_redrive_parse_ids("3,12,9000000000", &ids, &n, &err), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(ids[0], 3);
    ck_assert_int_eq(ids[1], 12);
    ck_assert(ids[2] == 9000000000LL);
    free(ids);
}
END_TEST

START_TEST(ids_refused)
{
    static const char *const bad[] = {"",   "x",    "3,x", "3,",  ",3",  "0",
                                      "-1", "1,,2", "1 2", "1.5", "2,-3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t *ids = (int64_t *)1;
        int n = 5;
        cs_err_t err;
        cs_err_clear(&err);
        ck_assert_msg(cs__worker_redrive_parse_ids(bad[i], &ids, &n, &err) == -1, "'%s' accepted",
                      bad[i]);
        ck_assert_ptr_null(ids);
        ck_assert_int_eq(n, 0);
        ck_assert_int_eq(err.kind, CS_ERR_FATAL);
        ck_assert_str_eq(err.field, "id");
        ck_assert_ptr_nonnull(strstr(err.msg, "--id"));
    }
}
END_TEST

START_TEST(options_together)
{
    cs_err_t err;
    cs__worker_redrive_filter_t f = {.max_attempts = 3, .force = true};
    cs_err_clear(&err);
    ck_assert_int_eq(cs__worker_redrive_check(&f, NULL, &err), -1);
    ck_assert_str_eq(err.field, "force");
    ck_assert_ptr_nonnull(strstr(err.msg, "--id"));
    ck_assert_int_eq(cs__worker_redrive_check(&f, "4,5", &err), 0);
    ck_assert_int_eq(f.nids, 2);
    free(f.ids);
    f = (cs__worker_redrive_filter_t){.max_attempts = 3};
    ck_assert_int_eq(cs__worker_redrive_check(&f, "nope", &err), -1);
    ck_assert_str_eq(err.field, "id");
    f = (cs__worker_redrive_filter_t){.max_attempts = 0};
    ck_assert_int_eq(cs__worker_redrive_check(&f, NULL, &err), -1);
    ck_assert_str_eq(err.field, "max-attempts");
}
END_TEST

START_TEST(selection_without_filters)
{
    cs_buf_t sql, ids;
    cs_buf_init(&sql);
    cs_buf_init(&ids);
    const char *values[10] = {"progress", "0", "100"};
    cs__worker_redrive_filter_t f = {.max_attempts = 3};
    ck_assert_int_eq(cs__worker_redrive_select_sql(&f, &sql, &ids, values), 3);
    ck_assert_ptr_nonnull(strstr(sql.data, "FROM worker_dead_letters WHERE worker = $1 AND "
                                           "resolved_at IS NULL AND id > $2::bigint ORDER BY id "
                                           "LIMIT $3::int"));
    ck_assert_ptr_null(strstr(sql.data, "$4"));
    cs_buf_fini(&sql);
    cs_buf_fini(&ids);
}
END_TEST

START_TEST(selection_filters)
{
    cs_buf_t sql, ids;
    cs_buf_init(&sql);
    cs_buf_init(&ids);
    const char *values[10] = {"progress", "0", "100"};
    int64_t named[] = {5, 17};
    cs__worker_redrive_filter_t f = {.error_class = "database",
                                     .topic = "cs.mentoring",
                                     .event_type = "", /* empty: no filter */
                                     .until = "2026-12-01",
                                     .ids = named,
                                     .nids = 2};
    ck_assert_int_eq(cs__worker_redrive_select_sql(&f, &sql, &ids, values), 7);
    ck_assert_ptr_nonnull(strstr(sql.data, " AND error_class = $4 AND topic = $5 AND created_at "
                                           "< $6::timestamptz AND id = ANY($7::bigint[]) ORDER"));
    ck_assert_ptr_null(strstr(sql.data, "event_type ="));
    ck_assert_ptr_null(strstr(sql.data, ">= $"));
    ck_assert_str_eq(values[3], "database");
    ck_assert_str_eq(values[4], "cs.mentoring");
    ck_assert_str_eq(values[5], "2026-12-01");
    ck_assert_str_eq(values[6], "{5,17}");
    f = (cs__worker_redrive_filter_t){.event_type = "coaching_session_logged",
                                      .since = "2026-11-01T00:00Z"};
    ck_assert_int_eq(cs__worker_redrive_select_sql(&f, &sql, &ids, values), 5);
    ck_assert_ptr_nonnull(
        strstr(sql.data, " AND event_type = $4 AND created_at >= $5::timestamptz ORDER"));
    ck_assert_str_eq(values[3], "coaching_session_logged");
    ck_assert_str_eq(values[4], "2026-11-01T00:00Z");
    cs_buf_fini(&sql);
    cs_buf_fini(&ids);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("worker_redrive");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ids_parsed);
    tcase_add_test(tc, ids_refused);
    tcase_add_test(tc, options_together);
    tcase_add_test(tc, selection_without_filters);
    tcase_add_test(tc, selection_filters);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
