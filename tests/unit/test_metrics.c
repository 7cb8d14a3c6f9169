/*
 * tests/unit/test_metrics.c
 *      The Prometheus registry (cs/metrics.h) and the batch row builder (cs/batch.h, no database).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cs/batch.h"
#include "cs/metrics.h"

static int collected;

static void collect(cs_metrics_t *m, void *ud)
{
    (void)m;
    collected++;
    cs_metric_set(ud, NULL, 42);
}

START_TEST(counter_gauge_render)
{
    cs_metrics_t *m = cs_metrics_new();
    cs_metric_t *c = cs_metrics_counter(m, "cs_x_total", "things", "type, class");
    cs_metric_t *g = cs_metrics_gauge(m, "cs_g", "a gauge", NULL);
    cs_metrics_on_collect(m, collect, g);
    const char *a[] = {"a\"b", "x\\y"};
    const char *b[] = {"b", "z"};
    cs_metric_inc(c, a, 2);
    cs_metric_inc(c, a, 3);
    cs_metric_inc(c, b, 0.5);
    ck_assert(cs_metric_value(c, a) == 5);
    ck_assert(cs_metric_value(c, b) == 0.5);
    cs_buf_t out = CS_BUF_INIT;
    cs_metrics_render(m, &out);
    ck_assert_int_eq(collected, 1);
    ck_assert_ptr_nonnull(
        strstr(out.data, "# HELP cs_x_total things\n# TYPE cs_x_total counter\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_x_total{type=\"a\\\"b\",class=\"x\\\\y\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_x_total{type=\"b\",class=\"z\"} 0.5\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "# TYPE cs_g gauge\ncs_g 42\n"));
    cs_metric_remove(c, a);
    ck_assert(cs_metric_value(c, a) == 0);
    cs_buf_reset(&out);
    cs_metrics_render(m, &out);
    ck_assert_ptr_null(strstr(out.data, "a\\\"b"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_x_total{type=\"b\",class=\"z\"} 0.5\n"));
    cs_buf_fini(&out);
    cs_metrics_destroy(m);
}
END_TEST

START_TEST(histogram_cumulative)
{
    static const double buckets[] = {0.1, 1, 10};
    cs_metrics_t *m = cs_metrics_new();
    cs_metric_t *h = cs_metrics_histogram(m, "cs_h_seconds", "latency", "op", buckets, 3);
    const char *lv[] = {"flush"};
    cs_metric_observe(h, lv, 0.05);
    cs_metric_observe(h, lv, 0.1); /* le is inclusive */
    cs_metric_observe(h, lv, 5);
    cs_metric_observe(h, lv, 50);
    cs_buf_t out = CS_BUF_INIT;
    cs_metrics_render(m, &out);
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_bucket{op=\"flush\",le=\"0.1\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_bucket{op=\"flush\",le=\"1\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_bucket{op=\"flush\",le=\"10\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_bucket{op=\"flush\",le=\"+Inf\"} 4\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_sum{op=\"flush\"} 55.15"));
    ck_assert_ptr_nonnull(strstr(out.data, "cs_h_seconds_count{op=\"flush\"} 4\n"));
    cs_buf_fini(&out);
    cs_metrics_destroy(m);
}
END_TEST

START_TEST(batch_rows_and_undo)
{
    static const cs_table_def_t tables[] = {
        {.table = "a", .columns = "x, y"},
        {.table = "b", .columns = "k, n", .conflict = "k", .update = "n = t.n + EXCLUDED.n"},
    };
    cs_err_t err;
    cs_batch_t *b = cs_batch_new(tables, 2);
    cs_batch_mark_event(b, 0);
    cs_batch_row_begin(b, 0);
    cs_batch_str(b, "tab\there");
    cs_batch_int(b, 7);
    ck_assert_int_eq(cs_batch_row_end(b, &err), 0);
    ck_assert_int_eq(cs_batch_rows(b, 0), 1);
    /* a row with the wrong number of values is a handler bug: FATAL, and it is dropped */
    cs_batch_row_begin(b, 0);
    cs_batch_str(b, "only one");
    ck_assert_int_eq(cs_batch_row_end(b, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_int_eq(cs_batch_rows(b, 0), 1);
    /* an unknown table too */
    cs_batch_row_begin(b, 9);
    cs_batch_null(b);
    ck_assert_int_eq(cs_batch_row_end(b, &err), -1);
    /* the rows of a failed event are discarded */
    cs_batch_mark_event(b, 1);
    const char *v[] = {"k1", "1"};
    ck_assert_int_eq(cs_batch_row(b, 1, 2, v, &err), 0);
    ck_assert_int_eq(cs_batch_rows(b, 1), 1);
    cs_batch_undo_event(b);
    ck_assert_int_eq(cs_batch_rows(b, 1), 0);
    ck_assert_int_eq(cs_batch_rows(b, 0), 1);
    cs_batch_seal(b, 2);
    cs_batch_clear(b);
    ck_assert_int_eq(cs_batch_rows(b, 0), 0);
    cs_batch_destroy(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, counter_gauge_render);
    tcase_add_test(tc, histogram_cumulative);
    tcase_add_test(tc, batch_rows_and_undo);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
