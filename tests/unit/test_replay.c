/*
 * tests/unit/test_replay.c
 *      Check suite for a replay's range (libcore/src/worker_replay_range.c) without a broker.
 *
 * The options of `<worker> replay` as the runtime reads them: times (--from/--to), partition
 * selections (--partitions), offsets for all or per partition (--from-offset/--to-offset), and
 * the ranges they make with the watermarks and the broker's time lookups: explicit offsets beat
 * times, the end is never beyond the high watermark at start, a start before the low watermark
 * starts at it, --from-offset after --to-offset is refused. Links the static libcore (cs__replay_*
 * is internal); integration tests 0094/0095 resolve ranges against the real broker.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

static cs__replay_part_t *parts_new(int *n)
{
    static const char *const topics[] = {"cs.learning", "cs.profile"};
    cs__replay_part_t *v = calloc(6, sizeof *v);
    *n = 0;
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < 3; p++) {
            v[*n] = (cs__replay_part_t){.topic = strdup(topics[t]),
                                        .partition = p,
                                        .lo = 10,
                                        .hi = 100 + p,
                                        .from_off = -1,
                                        .to_off = -1,
                                        .from_ts_off = -1,
                                        .to_ts_off = -1};
            (*n)++;
        }
    return v;
}

START_TEST(times)
{
    int64_t ms;
    ck_assert_int_eq(cs__replay_parse_time("2026-11-01T00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 1793491200000LL);
    ck_assert_int_eq(cs__replay_parse_time("2026-11-01", &ms), 0);
    ck_assert_int_eq(ms, 1793491200000LL);
    ck_assert_int_eq(cs__replay_parse_time("2026-11-01T01:30:15.25+01:30", &ms), 0);
    ck_assert_int_eq(ms, 1793491215250LL);
    ck_assert_int_eq(cs__replay_parse_time("2026-11-01 00:00:01", &ms), 0);
    ck_assert_int_eq(ms, 1793491201000LL);
    static const char *const bad[] = {"",           "2026-11",           "2026-13-01",
                                      "2026-02-30", "2026-11-01T25:00",  "2026-11-01T00:00Q",
                                      "yesterday",  "2026-11-01T00:00+1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(cs__replay_parse_time(bad[i], &ms) < 0, "'%s' taken for a time", bad[i]);
}
END_TEST

START_TEST(selections)
{
    int n;
    cs_err_t err = {0};
    cs__replay_part_t *v = parts_new(&n);
    ck_assert_int_eq(cs__replay_select(v, n, NULL, &err), 0);
    for (int i = 0; i < n; i++)
        ck_assert(v[i].selected);
    ck_assert_int_eq(cs__replay_select(v, n, "0, 2", &err), 0);
    for (int i = 0; i < n; i++)
        ck_assert(v[i].selected == (v[i].partition != 1));
    ck_assert_int_eq(cs__replay_select(v, n, "cs.profile:1", &err), 0);
    for (int i = 0; i < n; i++)
        ck_assert(v[i].selected == (i == 4));
    ck_assert_int_eq(cs__replay_select(v, n, "cs.profile:7", &err), -1);
    ck_assert_str_eq(err.field, "partitions");
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown partition 'cs.profile:7'"));
    ck_assert_int_eq(cs__replay_select(v, n, "3", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no topic has partition 3"));
    ck_assert_int_eq(cs__replay_select(v, n, "x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "neither a partition number nor topic:p"));
    cs__replay_parts_free(v, n);
}
END_TEST

START_TEST(offsets)
{
    int n;
    cs_err_t err = {0};
    cs__replay_part_t *v = parts_new(&n);
    ck_assert_int_eq(cs__replay_select(v, n, "", &err), 0);
    ck_assert_int_eq(cs__replay_offsets(v, n, "42", false, &err), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(v[i].from_off, 42);
    ck_assert_int_eq(cs__replay_offsets(v, n, "cs.learning:1=50,cs.profile:2=7", true, &err), 0);
    ck_assert_int_eq(v[1].to_off, 50);
    ck_assert_int_eq(v[5].to_off, 7);
    ck_assert_int_eq(v[0].to_off, -1);
    ck_assert_int_eq(cs__replay_offsets(v, n, "cs.learning:9=1", true, &err), -1);
    ck_assert_str_eq(err.field, "to-offset");
    ck_assert_ptr_nonnull(strstr(err.msg, "--to-offset: unknown partition 'cs.learning:9'"));
    ck_assert_int_eq(cs__replay_offsets(v, n, "cs.learning:1=x", false, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'x' is not an offset"));
    ck_assert_int_eq(cs__replay_offsets(v, n, "-5", false, &err), -1);
    /* a partition left out by --partitions cannot be given an offset */
    ck_assert_int_eq(cs__replay_select(v, n, "0", &err), 0);
    ck_assert_int_eq(cs__replay_offsets(v, n, "cs.learning:1=3", false, &err), -1);
    cs__replay_parts_free(v, n);
}
END_TEST

START_TEST(ranges)
{
    int n;
    cs_err_t err = {0};
    cs__replay_part_t *v = parts_new(&n);
    ck_assert_int_eq(cs__replay_select(v, n, NULL, &err), 0);
    v[0].from_off = 20, v[0].to_off = 30;       /* explicit */
    v[1].from_off = 5, v[1].to_off = 1000;      /* before lo, after hi: clamped */
    v[2].from_ts_off = 60, v[2].to_ts_off = 80; /* times */
    v[3].from_off = 70, v[3].from_ts_off = 60;  /* an offset beats a time */
    v[4].from_ts_off = v[4].hi;                 /* no event at or after --from: empty */
    ck_assert_int_eq(cs__replay_ranges(v, n, &err), 0);
    ck_assert_int_eq(v[0].start, 20);
    ck_assert_int_eq(v[0].end, 30);
    ck_assert_int_eq(v[1].start, 10);
    ck_assert_int_eq(v[1].end, 101);
    ck_assert_int_eq(v[2].start, 60);
    ck_assert_int_eq(v[2].end, 80);
    ck_assert_int_eq(v[3].start, 70);
    ck_assert_int_eq(v[3].end, 100);
    ck_assert_int_eq(v[4].start, 101);
    ck_assert_int_eq(v[4].end, 101);
    ck_assert_int_eq(v[5].start, 10);
    ck_assert_int_eq(v[5].end, 102); /* defaults: lo, hi */
    v[0].from_off = 31;
    ck_assert_int_eq(cs__replay_ranges(v, n, &err), -1);
    ck_assert_str_eq(err.field, "from-offset");
    ck_assert_ptr_nonnull(
        strstr(err.msg, "--from-offset 31 is after --to-offset 30 on cs.learning:0"));
    cs__replay_parts_free(v, n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("ranges");
    tcase_add_test(tc, times);
    tcase_add_test(tc, selections);
    tcase_add_test(tc, offsets);
    tcase_add_test(tc, ranges);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
