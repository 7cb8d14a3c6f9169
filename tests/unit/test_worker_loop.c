/*
 * tests/unit/test_worker_loop.c
 *      Check suite for the loop's handling of consumer events (worker_loop.c), without a broker
 *      or a database.
 *
 * A partition's end event marks it consumed to its end only when everything before the end was
 * taken: after a stop began, the loop drops the messages it still reads, so their partition's
 * later end event must not mark it done (a replay stopped by a signal would report it done).
 * Also the array-literal builders (worker_int.h) the commit's parameters are made with: quotes and
 * backslashes escaped, a buffer grown past its first reservation, the integer extremes.
 * Links the static libcore (cs__worker_handle_msg is internal).
 */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "worker_int.h"

static cs_msg_t *msg(int event, int partition, int64_t offset)
{
    cs_msg_t *m = cs_mem_calloc(1, sizeof *m); /* cs_consumer_msg_free frees it whole */
    m->topic = "t";
    m->partition = partition;
    m->offset = offset;
    m->timestamp_ms = -1;
    m->event = event;
    m->err.msg = "";
    return m;
}

/* A worker with partitions t/0 and t/1 active, each expecting offset 10 next. */
static cs_worker_t *worker(void)
{
    cs_worker_t *w = cs_mem_calloc(1, sizeof *w);
    for (int i = 0; i < 2; i++) {
        part_t *p = cs__worker_part_get(w, "t", i);
        p->active = true;
        p->recv_pos = 10;
    }
    return w;
}

static void worker_free(cs_worker_t *w)
{
    for (int i = 0; i < w->nparts; i++) {
        free(w->parts[i]->topic);
        free(w->parts[i]);
    }
    free(w->parts);
    free(w->pending);
    free(w);
}

START_TEST(end_after_everything_taken)
{
    cs_worker_t *w = worker();
    part_t *p = cs__worker_part_find(w, "t", 0);
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 0, 9)); /* an old end event: before recv_pos */
    ck_assert(!p->eof);
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 0, 10));
    ck_assert(p->eof);
    /* a gap before the end (transaction markers) is no message: still at its end */
    cs_worker_t *w2 = worker();
    cs__worker_handle_msg(w2, msg(CS_MSG_EOF, 1, 12));
    ck_assert(cs__worker_part_find(w2, "t", 1)->eof);
    worker_free(w);
    worker_free(w2);
}
END_TEST

START_TEST(end_after_a_stop_dropped_messages)
{
    cs_worker_t *w = worker();
    part_t *p0 = cs__worker_part_find(w, "t", 0), *p1 = cs__worker_part_find(w, "t", 1);
    w->stopping = true;
    /* t/0: offsets 10 and 11 read after the stop began are dropped, then its end at 12 */
    cs__worker_handle_msg(w, msg(CS_MSG_DATA, 0, 10));
    cs__worker_handle_msg(w, msg(CS_MSG_DATA, 0, 11));
    ck_assert_int_eq(w->npending, 0);
    ck_assert_int_eq(p0->recv_pos, 10);
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 0, 12));
    ck_assert_msg(!p0->eof, "a partition whose messages the stop dropped was marked at its end");
    /* t/1: everything was taken before the stop; its end event, late, still counts, and a
     * redelivered old message (below recv_pos) drops nothing new */
    cs__worker_handle_msg(w, msg(CS_MSG_DATA, 1, 9));
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 1, 10));
    ck_assert(p1->eof);
    worker_free(w);
}
END_TEST

START_TEST(end_then_a_dropped_message)
{
    cs_worker_t *w = worker();
    part_t *p = cs__worker_part_find(w, "t", 0);
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 0, 10));
    ck_assert(p->eof);
    w->stopping = true;
    /* a message produced after the end was seen, read and dropped during the stop */
    cs__worker_handle_msg(w, msg(CS_MSG_DATA, 0, 10));
    ck_assert(!p->eof);
    cs__worker_handle_msg(w, msg(CS_MSG_EOF, 0, 11));
    ck_assert(!p->eof);
    worker_free(w);
}
END_TEST

START_TEST(array_literals)
{
    cs_buf_t b;
    cs_buf_init(&b);
    arr_begin(&b);
    arr_end(&b);
    ck_assert_str_eq(b.data, "{}");

    arr_begin(&b);
    arr_str(&b, "plain");
    arr_str(&b, "");
    arr_str(&b, "a\"b\\c");
    arr_int(&b, 0);
    arr_int(&b, -42);
    arr_int(&b, LLONG_MIN);
    arr_int(&b, LLONG_MAX);
    arr_end(&b);
    ck_assert_str_eq(b.data, "{\"plain\",\"\",\"a\\\"b\\\\c\",0,-42,"
                             "-9223372036854775808,9223372036854775807}");
    ck_assert_uint_eq(b.len, strlen(b.data));

    /* 400 elements of 36 characters, half of them all quotes: many reservations, each exact */
    char uid[37], quotes[37];
    memset(uid, 'f', 36);
    memset(quotes, '"', 36);
    uid[36] = quotes[36] = '\0';
    arr_begin(&b);
    for (int i = 0; i < 400; i++)
        arr_str(&b, i % 2 ? quotes : uid);
    arr_end(&b);
    ck_assert_uint_eq(b.len, 2 + 399 + 200 * 38 + 200 * 74);
    ck_assert_uint_eq(b.len, strlen(b.data));
    ck_assert(!strncmp(b.data, "{\"ffff", 6));
    ck_assert(!strncmp(b.data + 1 + 38 + 1, "\"\\\"\\\"", 5));
    ck_assert_str_eq(b.data + b.len - 4, "\\\"\"}");
    cs_buf_fini(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("worker_loop");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, end_after_everything_taken);
    tcase_add_test(tc, end_after_a_stop_dropped_messages);
    tcase_add_test(tc, end_then_a_dropped_message);
    tcase_add_test(tc, array_literals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
