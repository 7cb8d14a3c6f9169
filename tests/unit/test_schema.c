/*
 * tests/unit/test_schema.c
 *      Check suite for libcore/src/schema.c: Parsing Canonical Form and CRC-64-AVRO.
 *
 * The Avro specification's own vectors run in test_codec.c (spec_fingerprints), next to the
 * codec's compiled fingerprints. This suite covers what they leave out: names resolved through
 * nested namespaces, every named kind (record, error, enum, fixed) and container, the attributes
 * stripped, the JSON escaping of the form, the CRC's base cases, and each malformed schema
 * refused with its reason. Links the static libcore (cs__schema_* is internal).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

/* The canonical form of json, or NULL with the reason in errbuf. */
static char *canon(const char *json, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &jerr);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", json, jerr.text);
    char *out = cs__schema_canonical(j, errbuf, errlen);
    json_decref(j);
    return out;
}

static const struct {
    const char *input, *canonical;
} forms[] = {
    /* A name without a dot takes the enclosing namespace; a dotted one is already full. */
    {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"cs.v1\",\"fields\":["
     "{\"name\":\"a\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
     "{\"name\":\"b\",\"type\":\"E\"},"
     "{\"name\":\"c\",\"type\":{\"type\":\"fixed\",\"name\":\"other.F\",\"size\":16}},"
     "{\"name\":\"d\",\"type\":\"F\"},"
     "{\"name\":\"e\",\"type\":\"other.F\"}]}",
     "{\"name\":\"cs.v1.R\",\"type\":\"record\",\"fields\":["
     "{\"name\":\"a\",\"type\":{\"name\":\"cs.v1.E\",\"type\":\"enum\",\"symbols\":[\"X\",\"Y\"]}},"
     "{\"name\":\"b\",\"type\":\"cs.v1.E\"},"
     "{\"name\":\"c\",\"type\":{\"name\":\"other.F\",\"type\":\"fixed\",\"size\":16}},"
     "{\"name\":\"d\",\"type\":\"cs.v1.F\"},"
     "{\"name\":\"e\",\"type\":\"other.F\"}]}"},
    /* A nested record's own namespace applies to its fields. */
    {"{\"type\":\"record\",\"name\":\"Outer\",\"namespace\":\"a\",\"fields\":["
     "{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"namespace\":\"b\","
     "\"fields\":[{\"name\":\"x\",\"type\":\"T\"}]}},{\"name\":\"y\",\"type\":\"T\"}]}",
     "{\"name\":\"a.Outer\",\"type\":\"record\",\"fields\":["
     "{\"name\":\"in\",\"type\":{\"name\":\"b.Inner\",\"type\":\"record\",\"fields\":["
     "{\"name\":\"x\",\"type\":\"b.T\"}]}},{\"name\":\"y\",\"type\":\"a.T\"}]}"},
    /* A null namespace is the empty one. */
    {"{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":null,\"size\":0}",
     "{\"name\":\"F\",\"type\":\"fixed\",\"size\":0}"},
    /* Everything that does not affect parsing goes; the order is name, type, fields/... */
    {"{\"doc\":\"d\",\"aliases\":[\"z\"],\"fields\":[{\"default\":1,\"order\":\"descending\","
     "\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"name\":\"at\","
     "\"cs.pii\":true}],\"name\":\"Ev\",\"type\":\"error\"}",
     "{\"name\":\"Ev\",\"type\":\"error\",\"fields\":[{\"name\":\"at\",\"type\":\"long\"}]}"},
    /* Containers keep their inner schema; {"type": {...}} is the inner schema. */
    {"{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":[\"null\",\"string\"]}}",
     "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":[\"null\",\"string\"]}}"},
    {"{\"type\":{\"type\":\"array\",\"items\":\"int\"}}", "{\"type\":\"array\",\"items\":\"int\"}"},
    /* A named reference written as an object. */
    {"{\"type\":\"cs.Thing\"}", "\"cs.Thing\""},
    /* The form's strings are JSON: quotes, backslashes and control characters escaped. */
    {"{\"type\":\"enum\",\"name\":\"q\\\"b\\\\\",\"symbols\":[\"t\\u0001\"]}",
     "{\"name\":\"q\\\"b\\\\\",\"type\":\"enum\",\"symbols\":[\"t\\u0001\"]}"},
};

START_TEST(canonical_forms)
{
    char errbuf[256] = "";
    char *got = canon(forms[_i].input, errbuf, sizeof errbuf);
    ck_assert_msg(got != NULL, "%s", errbuf);
    ck_assert_str_eq(got, forms[_i].canonical);
    free(got);
}
END_TEST

static const struct {
    const char *input, *reason;
} refusals[] = {
    {"42", "a schema must be a string, an array or an object"},
    {"[\"int\", true]", "a schema must be a string, an array or an object"},
    {"{\"name\":\"x\"}", "schema object without \"type\""},
    {"{\"type\":\"record\",\"fields\":[]}", "named type without a string \"name\": record"},
    {"{\"type\":\"enum\",\"name\":7,\"symbols\":[]}", "named type without a string \"name\": enum"},
    {"{\"type\":\"fixed\",\"name\":\"F\",\"namespace\":3,\"size\":1}",
     "\"namespace\" must be a string: F"},
    {"{\"type\":\"enum\",\"name\":\"E\"}", "enum without \"symbols\": E"},
    {"{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",1]}", "enum symbol is not a string: E"},
    {"{\"type\":\"fixed\",\"name\":\"F\"}", "fixed without a valid \"size\": F"},
    {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}", "fixed without a valid \"size\": F"},
    {"{\"type\":\"fixed\",\"name\":\"F\",\"size\":\"16\"}", "fixed without a valid \"size\": F"},
    {"{\"type\":\"record\",\"name\":\"R\"}", "record without \"fields\": R"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\"}]}",
     "record field without name or type: R"},
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"type\":\"int\"}]}",
     "record field without name or type: R"},
    {"{\"type\":\"array\"}", "array or map without items or values: array"},
    {"{\"type\":\"map\",\"items\":\"int\"}", "array or map without items or values: map"},
    /* A refusal deep inside is the whole schema's. */
    {"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":"
     "{\"type\":\"array\",\"items\":{\"type\":\"enum\",\"name\":\"E\"}}}]}",
     "enum without \"symbols\": E"},
};

START_TEST(refused)
{
    char errbuf[256] = "";
    char *got = canon(refusals[_i].input, errbuf, sizeof errbuf);
    ck_assert_msg(got == NULL, "accepted %s as %s", refusals[_i].input, got);
    ck_assert_str_eq(errbuf, refusals[_i].reason);
    /* Without an error buffer the refusal is the same NULL. */
    ck_assert_ptr_null(canon(refusals[_i].input, NULL, 0));
}
END_TEST

/* Nesting is bounded: 64 levels pass, deeper is refused rather than recursing on. */
static char *nested_arrays(int depth)
{
    size_t n = (size_t)depth * 40 + 16;
    char *s = malloc(n), *p = s;
    for (int i = 0; i < depth; i++)
        p += sprintf(p, "{\"type\":\"array\",\"items\":");
    p += sprintf(p, "\"int\"");
    for (int i = 0; i < depth; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

START_TEST(depth_bound)
{
    char errbuf[128] = "";
    char *ok = nested_arrays(64), *deep = nested_arrays(65);
    char *got = canon(ok, errbuf, sizeof errbuf);
    ck_assert_msg(got != NULL, "%s", errbuf);
    free(got);
    ck_assert_ptr_null(canon(deep, errbuf, sizeof errbuf));
    ck_assert_str_eq(errbuf, "schema nested too deeply");
    free(ok);
    free(deep);
}
END_TEST

START_TEST(crc64)
{
    ck_assert_uint_eq(cs__schema_crc64("", 0), CS_SCHEMA_CRC64_EMPTY);
    /* The specification's fingerprints of "int" and "string" (signed, as Java prints them). */
    ck_assert_uint_eq(cs__schema_crc64("\"int\"", 5), (uint64_t)8247732601305521295LL);
    ck_assert_uint_eq(cs__schema_crc64("\"string\"", 8), (uint64_t)-8142146995180207161LL);
    /* Every byte counts, including NUL and the high ones. */
    ck_assert_uint_ne(cs__schema_crc64("\0", 1), CS_SCHEMA_CRC64_EMPTY);
    ck_assert_uint_ne(cs__schema_crc64("\xff", 1), cs__schema_crc64("\x7f", 1));
    ck_assert_uint_ne(cs__schema_crc64("ab", 2), cs__schema_crc64("ba", 2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("canonical");
    tcase_add_loop_test(tc, canonical_forms, 0, (int)(sizeof forms / sizeof forms[0]));
    tcase_add_loop_test(tc, refused, 0, (int)(sizeof refusals / sizeof refusals[0]));
    tcase_add_test(tc, depth_bound);
    tcase_add_test(tc, crc64);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
