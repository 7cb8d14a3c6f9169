/*
 * tests/unit/test_buf.c
 *      Check suite for cs/buf.h: growable buffers (always NUL-terminated) and scratch arenas.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs/buf.h"

START_TEST(buf_grows_and_terminates)
{
    cs_buf_t b = CS_BUF_INIT;

    ck_assert_ptr_null(b.data);
    cs_buf_append(&b, "", 0); /* even nothing makes it a C string */
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, "");
    for (int i = 0; i < 10000; i++) {
        cs_buf_putc(&b, (char)('a' + i % 26));
        ck_assert_uint_eq(b.len, (size_t)i + 1);
        ck_assert_int_eq(b.data[b.len], '\0');
        ck_assert_uint_gt(b.cap, b.len);
    }
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(b.data[i], 'a' + i % 26);
    cs_buf_fini(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(buf_append_puts_reserve)
{
    cs_buf_t b;
    char big[5000];

    cs_buf_init(&b);
    cs_buf_puts(&b, "hello");
    cs_buf_append(&b, ", world\0ignored", 7);
    ck_assert_str_eq(b.data, "hello, world");
    ck_assert_uint_eq(b.len, 12);
    /* Bytes with NUL inside are kept: len counts them, the terminator follows. */
    cs_buf_append(&b, "\0x", 2);
    ck_assert_uint_eq(b.len, 14);
    ck_assert_int_eq(b.data[12], '\0');
    ck_assert_int_eq(b.data[13], 'x');
    ck_assert_int_eq(b.data[14], '\0');
    /* reserve hands out room at the end; advance commits part of it. */
    char *p = cs_buf_reserve(&b, sizeof big);
    ck_assert_ptr_eq(p, b.data + b.len);
    ck_assert_uint_ge(b.cap, b.len + sizeof big + 1);
    memset(p, 'z', 3);
    cs_buf_advance(&b, 3);
    ck_assert_uint_eq(b.len, 17);
    ck_assert_str_eq(b.data + 14, "zzz");
    memset(big, 'q', sizeof big);
    cs_buf_append(&b, big, sizeof big);
    ck_assert_uint_eq(b.len, 17 + sizeof big);
    ck_assert_int_eq(b.data[b.len - 1], 'q');
    ck_assert_int_eq(b.data[b.len], '\0');
    cs_buf_fini(&b);
}
END_TEST

START_TEST(buf_reset_keeps_memory)
{
    cs_buf_t b = CS_BUF_INIT;

    cs_buf_puts(&b, "some text that is long enough");
    char *data = b.data;
    size_t cap = b.cap;
    cs_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_str_eq(b.data, "");
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.cap, cap);
    cs_buf_puts(&b, "again");
    ck_assert_str_eq(b.data, "again");
    ck_assert_ptr_eq(b.data, data);
    cs_buf_fini(&b);
    cs_buf_reset(&b); /* an empty buffer without memory resets too */
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(buf_printf_short_and_long)
{
    cs_buf_t b = CS_BUF_INIT;
    char want[300];

    cs_buf_printf(&b, "%d-%s", 42, "x");
    ck_assert_str_eq(b.data, "42-x");
    /* Longer than the first 64-byte attempt: formatted again into the room it needs. */
    memset(want, 'w', 200);
    want[200] = '\0';
    cs_buf_printf(&b, "[%s]", want);
    ck_assert_uint_eq(b.len, 4 + 202);
    ck_assert_int_eq(b.data[4], '[');
    ck_assert_int_eq(b.data[4 + 201], ']');
    ck_assert_int_eq(b.data[b.len], '\0');
    /* Exactly 64 and 65 bytes: the edge of the first attempt. */
    cs_buf_reset(&b);
    cs_buf_printf(&b, "%.*s", 64, want);
    ck_assert_uint_eq(b.len, 64);
    cs_buf_printf(&b, "%.*s", 65, want);
    ck_assert_uint_eq(b.len, 129);
    ck_assert_uint_eq(strlen(b.data), 129);
    cs_buf_fini(&b);
}
END_TEST

START_TEST(arena_alloc_align_reset)
{
    cs_arena_t *a = cs_arena_new(256);
    void *first = cs_arena_alloc(a, 1);

    ck_assert_uint_eq((uintptr_t)first % 16, 0);
    ck_assert_uint_eq(cs_arena_used(a), 16);
    for (size_t n = 1; n < 100; n++) {
        unsigned char *p = cs_arena_alloc(a, n);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, 0xab, n); /* ASan: the whole block is ours */
    }
    /* Larger than a block: a block of its own. */
    char *big = cs_arena_alloc(a, 10000);
    memset(big, 1, 10000);
    char *s = cs_arena_strndup(a, "abcdef", 3);
    ck_assert_str_eq(s, "abc");
    size_t used = cs_arena_used(a);
    ck_assert_uint_ge(used, 10000 + 16 * 99);
    cs_arena_reset(a);
    ck_assert_uint_eq(cs_arena_used(a), 0);
    /* The first block is kept and handed out again from its start. */
    ck_assert_ptr_eq(cs_arena_alloc(a, 1), first);
    cs_arena_destroy(a);
    cs_arena_destroy(NULL);
}
END_TEST

START_TEST(arena_default_block)
{
    cs_arena_t *a = cs_arena_new(0); /* 0: the default block size */
    char *p = cs_arena_alloc(a, 60 * 1024);
    char *q = cs_arena_alloc(a, 1);

    memset(p, 0, 60 * 1024);
    ck_assert_ptr_eq(q, p + 60 * 1024); /* both from the first 64 KiB block */
    ck_assert_uint_eq(cs_arena_used(a), 60 * 1024 + 16);
    cs_arena_destroy(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, buf_grows_and_terminates);
    tcase_add_test(tc, buf_append_puts_reserve);
    tcase_add_test(tc, buf_reset_keeps_memory);
    tcase_add_test(tc, buf_printf_short_and_long);
    tcase_add_test(tc, arena_alloc_align_reset);
    tcase_add_test(tc, arena_default_block);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
