/*
 * tests/unit/test_migrate.c
 *      Check suite for the migration engine's pure parts (libcore/src/migrate_int.h): file names,
 *      "-- requires:" / "-- depends:" header lines, SHA-256 checksums and the dependency order
 *      of function files with its cycle refusal. The database side is tested by
 *      tests/sql/run.sh and tests/integration/0081-migrate_functions.sh.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_int.h"

START_TEST(version_names)
{
    ck_assert_int_eq(cs__migrate_parse_version("0001_foundation.sql"), 1);
    ck_assert_int_eq(cs__migrate_parse_version("0064_worker_roles.sql"), 64);
    ck_assert_int_eq(cs__migrate_parse_version("9999_a.sql"), 9999);
    ck_assert_int_eq(cs__migrate_parse_version("0000_zero.sql"), -1); /* versions start at 1 */
    ck_assert_int_eq(cs__migrate_parse_version("12_oops.sql"), -1);   /* four digits */
    ck_assert_int_eq(cs__migrate_parse_version("0001_Foundation.sql"), -1); /* lower case */
    ck_assert_int_eq(cs__migrate_parse_version("0001-foundation.sql"), -1);
    ck_assert_int_eq(cs__migrate_parse_version("0001_foundation.txt"), -1);
    ck_assert_int_eq(cs__migrate_parse_version("0001_.sql"), -1);
    ck_assert_int_eq(cs__migrate_parse_version(NULL), -1);
}
END_TEST

START_TEST(function_names)
{
    char out[CS__MIGRATE_NAME_MAX + 1], longname[CS__MIGRATE_NAME_MAX + 8];

    ck_assert_int_eq(cs__migrate_parse_function_file("cs_seed.sql", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "cs_seed");
    ck_assert_int_eq(cs__migrate_parse_function_file("_x9.sql", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "_x9");
    ck_assert_int_eq(cs__migrate_parse_function_file("9fn.sql", out, sizeof(out)), -1);
    ck_assert_int_eq(cs__migrate_parse_function_file("Cs_seed.sql", out, sizeof(out)), -1);
    ck_assert_int_eq(cs__migrate_parse_function_file("cs-seed.sql", out, sizeof(out)), -1);
    ck_assert_int_eq(cs__migrate_parse_function_file(".sql", out, sizeof(out)), -1);
    ck_assert_int_eq(cs__migrate_parse_function_file("cs_seed.sql.orig", out, sizeof(out)), -1);
    /* 63 characters is PostgreSQL's limit; 64 would be truncated by the server. */
    memset(longname, 'a', CS__MIGRATE_NAME_MAX);
    strcpy(longname + CS__MIGRATE_NAME_MAX, ".sql");
    ck_assert_int_eq(cs__migrate_parse_function_file(longname, out, sizeof(out)), 0);
    memset(longname, 'a', CS__MIGRATE_NAME_MAX + 1);
    strcpy(longname + CS__MIGRATE_NAME_MAX + 1, ".sql");
    ck_assert_int_eq(cs__migrate_parse_function_file(longname, out, sizeof(out)), -1);
}
END_TEST

START_TEST(header_lines)
{
    const char *sql = "-- sql/migrations/0020_triggers.sql\n"
                      "--      The triggers.\n"
                      "\n"
                      "-- requires: cs_touch_updated_at, content_chunks_bump_version\n"
                      "--requires:erased_users_permanent\n"
                      "-- depends: not_this_key\n"
                      "CREATE TABLE t (x int);\n"
                      "-- requires: after_the_header_block\n";
    char **names = NULL;
    cs_err_t err;
    int n = cs__migrate_header_names(sql, "requires", "0020_triggers.sql", &names, &err);

    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[0], "cs_touch_updated_at");
    ck_assert_str_eq(names[1], "content_chunks_bump_version");
    ck_assert_str_eq(names[2], "erased_users_permanent");
    cs__migrate_free_names(names, n);

    n = cs__migrate_header_names(sql, "depends", "f.sql", &names, &err);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(names[0], "not_this_key");
    cs__migrate_free_names(names, n);

    ck_assert_int_eq(cs__migrate_header_names("SELECT 1;\n", "requires", "x", &names, &err), 0);
    ck_assert_ptr_null(names);
    /* "-- requiresx:" is another key. */
    ck_assert_int_eq(cs__migrate_header_names("-- requiresx: a\n", "requires", "x", &names, &err),
                     0);
}
END_TEST

START_TEST(header_refusals)
{
    char **names = (char **)1;
    cs_err_t err;

    ck_assert_int_eq(
        cs__migrate_header_names("-- requires: Bad_Name\n", "requires", "0007_m.sql", &names, &err),
        -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "0007_m.sql"));
    ck_assert_ptr_nonnull(strstr(err.msg, "'Bad_Name'"));
    ck_assert_ptr_null(names);

    ck_assert_int_eq(cs__migrate_header_names("-- requires: a, functions/a.sql\n", "requires",
                                              "m.sql", &names, &err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "'functions/a.sql'"));

    ck_assert_int_eq(cs__migrate_header_names("-- depends:\n", "depends", "f.sql", &names, &err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "lists no function"));

    ck_assert_int_eq(cs__migrate_header_names("-- depends: a\n-- depends: b, a\n", "depends",
                                              "f.sql", &names, &err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "names a twice"));
}
END_TEST

START_TEST(checksums)
{
    char hex[65];

    cs__migrate_sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cs__migrate_sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* Exact bytes: a trailing newline is a different file. */
    cs__migrate_sha256_hex("abc\n", 4, hex);
    ck_assert_str_ne(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static int position(const int *order, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (order[i] == v)
            return i;
    return -1;
}

START_TEST(dependency_order)
{
    /* 0 ensure -> 1 create, 2 bounds; 1 create -> 2 bounds, 3 copy; 4 maintain -> 0 ensure. */
    const char *names[] = {"ensure", "create", "bounds", "copy", "maintain", "alone"};
    const int d0[] = {1, 2}, d1[] = {2, 3}, d4[] = {0};
    const int *deps[] = {d0, d1, NULL, NULL, d4, NULL};
    const int ndeps[] = {2, 2, 0, 0, 1, 0};
    int order[6];
    cs_err_t err;

    ck_assert_int_eq(cs__migrate_order(6, names, deps, ndeps, order, &err), 0);
    ck_assert_int_lt(position(order, 6, 2), position(order, 6, 1));
    ck_assert_int_lt(position(order, 6, 3), position(order, 6, 1));
    ck_assert_int_lt(position(order, 6, 1), position(order, 6, 0));
    ck_assert_int_lt(position(order, 6, 0), position(order, 6, 4));
    /* Stable: the same input gives this exact order. */
    ck_assert_int_eq(order[0], 2);
    ck_assert_int_eq(order[1], 3);
    ck_assert_int_eq(order[2], 1);
    ck_assert_int_eq(order[3], 0);
    ck_assert_int_eq(order[4], 4);
    ck_assert_int_eq(order[5], 5);

    ck_assert_int_eq(cs__migrate_order(0, names, deps, ndeps, order, &err), 0);
}
END_TEST

START_TEST(dependency_cycle)
{
    /* a -> b -> c -> a, and d -> a: the message names the cycle itself. */
    const char *names[] = {"a", "b", "c", "d"};
    const int da[] = {1}, db[] = {2}, dc[] = {0}, dd[] = {0};
    const int *deps[] = {da, db, dc, dd};
    const int ndeps[] = {1, 1, 1, 1};
    int order[4];
    cs_err_t err;

    ck_assert_int_eq(cs__migrate_order(4, names, deps, ndeps, order, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_FATAL);
    ck_assert_str_eq(err.msg, "function files depend on each other in a cycle: a -> b -> c -> a");

    /* A cycle reached from a node outside it: d -> x -> y -> x. */
    const char *names2[] = {"d", "x", "y", "z"};
    const int e0[] = {1}, e1[] = {2}, e2[] = {1};
    const int *deps2[] = {e0, e1, e2, NULL};
    const int ndeps2[] = {1, 1, 1, 0};
    ck_assert_int_eq(cs__migrate_order(4, names2, deps2, ndeps2, order, &err), -1);
    ck_assert_str_eq(err.msg, "function files depend on each other in a cycle: x -> y -> x");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("migrate");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, version_names);
    tcase_add_test(tc, function_names);
    tcase_add_test(tc, header_lines);
    tcase_add_test(tc, header_refusals);
    tcase_add_test(tc, checksums);
    tcase_add_test(tc, dependency_order);
    tcase_add_test(tc, dependency_cycle);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
