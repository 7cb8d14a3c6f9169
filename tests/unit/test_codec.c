/*
 * tests/unit/test_codec.c
 *      Check suite for cs/codec.h: fingerprints, round trips, evolution, and bad inputs.
 *
 * The codec's own encoder is checked against the reference implementation: every event type is
 * also written with avro-c 1.11.1 from the same values, and the bytes must be identical; the
 * evolution test writes content_progress v1 with avro-c and reads it with the current codec.
 * The bad-input tables are partly written by hand (exact messages) and partly derived from the
 * generated field tables, so every field of every event gets its missing / wrong-type /
 * out-of-range / bad-enum / bad-uuid / too-long case.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "codec_tables.h"
#include "cs/codec.h"
#include "schema.h"

static cs_codec_t *codec;
static cs_arena_t *arena;

static void setup(void)
{
    cs_err_t err;
    codec = cs_codec_new(&err);
    ck_assert_msg(codec != NULL, "cs_codec_new: %s", err.msg);
    arena = cs_arena_new(16384);
}

static void teardown(void)
{
    cs_codec_destroy(codec);
    cs_arena_destroy(arena);
}

/* ---- fingerprints: the Avro specification's vectors (share/test/data/schema-tests.txt) ---- */

static const struct {
    const char *input, *canonical;
    long long fingerprint; /* as the Java implementation prints it (signed) */
} pcf_rows[] = {
    {"\"null\"", "\"null\"", 7195948357588979594LL},
    {"{\"type\":\"null\"}", "\"null\"", 7195948357588979594LL},
    {"\"boolean\"", "\"boolean\"", -6970731678124411036LL},
    {"\"int\"", "\"int\"", 8247732601305521295LL},
    {"{\"type\":\"int\"}", "\"int\"", 8247732601305521295LL},
    {"\"long\"", "\"long\"", -3434872931120570953LL},
    {"\"float\"", "\"float\"", 5583340709985441680LL},
    {"\"double\"", "\"double\"", -8181574048448539266LL},
    {"\"bytes\"", "\"bytes\"", 5746618253357095269LL},
    {"\"string\"", "\"string\"", -8142146995180207161LL},
    {"[  ]", "[]", -1241056759729112623LL},
    {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493LL},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     7843277075252814651LL},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", \"default\":\"true\"},"
     "{\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}], "
     "\"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},{"
     "\"name\":\"f2\",\"type\":"
     "\"int\"}]}",
     -4860222112080293046LL},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", -6342190197741309591LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245LL},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1756455273707447556LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786LL},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059LL},
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     -8732877298790414990LL},
    {"{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\", "
     "\"type\":[\"null\", \"int\", \"long\", "
     "\"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":["
     "\"null\",\"int\",\"long\","
     "\"PigValue\"]}]}",
     -1759257747318642341LL},
    {"{\"type\":\"string\",\"logicalType\":\"uuid\"}", "\"string\"", -8142146995180207161LL},
};

START_TEST(spec_fingerprints)
{
    json_error_t jerr;
    json_t *j = json_loads(pcf_rows[_i].input, JSON_DECODE_ANY, &jerr);
    char errbuf[128];
    ck_assert_ptr_nonnull(j);
    char *pcf = cs__schema_canonical(j, errbuf, sizeof errbuf);
    ck_assert_msg(pcf != NULL, "%s", errbuf);
    ck_assert_str_eq(pcf, pcf_rows[_i].canonical);
    ck_assert_uint_eq(cs_codec_fingerprint(pcf, strlen(pcf)), (uint64_t)pcf_rows[_i].fingerprint);
    free(pcf);
    json_decref(j);
}
END_TEST

START_TEST(compiled_fingerprints_match)
{
    for (int t = 0; t < cs_codec_ntypes(); t++) {
        for (int v = 1; v <= cs_codec_type_version(t); v++) {
            const char *schema = cs_codec_type_schema(t, v);
            json_error_t jerr;
            json_t *j = json_loads(schema, 0, &jerr);
            char *pcf = cs__schema_canonical(j, NULL, 0);
            ck_assert_str_eq(pcf, cs_codec_type_canonical(t, v));
            ck_assert_uint_eq(cs_codec_fingerprint(pcf, strlen(pcf)),
                              cs_codec_type_fingerprint(t, v));
            /* avro-c, the reference parser, accepts every schema we publish. */
            avro_schema_t as;
            ck_assert_msg(avro_schema_from_json_length(schema, strlen(schema), &as) == 0,
                          "%s v%d: %s", cs_codec_type_name(t), v, avro_strerror());
            avro_schema_decref(as);
            free(pcf);
            json_decref(j);
        }
    }
    char hex[17];
    cs_codec_fingerprint_hex(UINT64_C(0x0123456789abcdef), hex);
    ck_assert_str_eq(hex, "efcdab8967452301");
}
END_TEST

/* ---- round trips ------------------------------------------------------------------------------
 */

static void decode_ok(const cs_buf_t *b, cs_event_t *ev)
{
    cs_err_t err;
    int rc = cs_codec_decode(codec, b->data, b->len, arena, ev, &err);
    ck_assert_msg(rc == 0, "decode: %s: %s", err.field, err.msg);
}

START_TEST(roundtrip_every_type)
{
    int t = _i;
    cs_err_t err;
    cs_event_t ev, back, again;
    cs_buf_t bin = CS_BUF_INIT, j1 = CS_BUF_INIT, j2 = CS_BUF_INIT, bin2 = CS_BUF_INIT;
    const char *ex = cs_codec_type_example(t);

    ck_assert_ptr_nonnull(ex);
    ck_assert_msg(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err) == 0,
                  "%s example: %s: %s", cs_codec_type_name(t), err.field, err.msg);
    ck_assert_int_eq(ev.type, t);
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &bin, &err), 0);
    ck_assert_uint_eq((unsigned char)bin.data[0], 0xc3);
    ck_assert_uint_eq((unsigned char)bin.data[1], 0x01);
    decode_ok(&bin, &back);
    ck_assert_int_eq(back.type, t);
    ck_assert_str_eq(back.type_name, cs_codec_type_name(t));
    ck_assert_int_eq(back.schema_version, cs_codec_type_version(t));
    ck_assert_uint_eq(back.fingerprint, cs_codec_type_fingerprint(t, 0));
    ck_assert_str_eq(back.event_id, ev.event_id);
    ck_assert_str_eq(back.user_id, ev.user_id);
    ck_assert_int_eq(back.occurred_at_ms, ev.occurred_at_ms);
    ck_assert_str_eq(back.producer, ev.producer);
    ck_assert_str_eq(back.traceparent, ev.traceparent);

    /* JSON of the original and of the decoded event agree, and JSON -> binary is stable. */
    ck_assert_int_eq(cs_codec_to_json(codec, &ev, &j1, &err), 0);
    ck_assert_int_eq(cs_codec_to_json(codec, &back, &j2, &err), 0);
    ck_assert_str_eq(j1.data, j2.data);
    ck_assert_int_eq(cs_codec_from_json(codec, j2.data, j2.len, arena, &again, &err), 0);
    ck_assert_int_eq(cs_codec_encode(codec, &again, &bin2, &err), 0);
    ck_assert_uint_eq(bin.len, bin2.len);
    ck_assert_int_eq(memcmp(bin.data, bin2.data, bin.len), 0);

    cs_buf_fini(&bin);
    cs_buf_fini(&bin2);
    cs_buf_fini(&j1);
    cs_buf_fini(&j2);
    cs_arena_reset(arena);
}
END_TEST

START_TEST(payload_json_and_struct_access)
{
    const char *line =
        "{\"event_type\":\"application_status_changed\",\"event_id\":\"7E6D5C4B-3A29-4180-9F7E-"
        "6D5C4B3A2918\","
        "\"occurred_at\":\"2026-11-25T10:00:00.5+01:00\",\"user_id\":\"5f0c6d2e-8a4b-4c3d-9e1f-"
        "2a7b6c5d4e3f\","
        "\"producer\":\"jobs-app\",\"payload\":{\"application_id\":\"7e6d5c4b-3a29-4180-9f7e-"
        "6d5c4b3a2918\","
        "\"status\":\"accepted\",\"salary_offered\":54000,\"salary_currency\":\"EUR\"}}";
    cs_err_t err;
    cs_event_t ev;
    cs_buf_t out = CS_BUF_INIT;

    ck_assert_msg(cs_codec_from_json(codec, line, strlen(line), arena, &ev, &err) == 0, "%s: %s",
                  err.field, err.msg);
    ck_assert_str_eq(ev.event_id,
                     "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918");    /* canonical lower case */
    ck_assert_int_eq(ev.occurred_at_ms, INT64_C(1795597200500)); /* 09:00:00.500Z */
    ck_assert_str_eq(ev.traceparent, "");
    const cs_ev_application_status_changed_t *p = ev.payload;
    ck_assert_int_eq(p->status, CS_APPLICATION_STATUS_ACCEPTED);
    ck_assert(!p->has_previous_status);
    ck_assert(p->has_salary_offered);
    ck_assert_int_eq(p->salary_offered, 54000);
    ck_assert_ptr_null(p->rejection_reason);
    ck_assert_int_eq(cs_codec_payload_to_json(codec, &ev, &out, &err), 0);
    ck_assert_str_eq(
        out.data,
        "{\"application_id\":\"7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918\",\"status\":\"accepted\","
        "\"previous_status\":null,\"interview_round\":null,\"salary_offered\":54000,"
        "\"salary_currency\":\"EUR\",\"rejection_reason\":null}");
    cs_buf_reset(&out);
    ck_assert_int_eq(cs_codec_to_json(codec, &ev, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "\"occurred_at\":\"2026-11-25T09:00:00.500Z\""));
    cs_buf_fini(&out);
}
END_TEST

/* ---- avro-c interoperability ------------------------------------------------------------------
 */

/* Writes the payload struct into an avro-c generic record, field by field, from the tables. */
static void fill_avro_payload(avro_value_t *rec, const cs__event_desc_t *ed, const void *payload)
{
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        const char *p = (const char *)payload + f->offset;
        avro_value_t fv, v;
        ck_assert_int_eq(avro_value_get_by_name(rec, f->name, &fv, NULL), 0);
        bool present =
            !f->optional ||
            (f->type == CS__F_STRING ? *(const char *const *)p != NULL
                                     : *(const bool *)((const char *)payload + f->has_offset));
        if (f->optional) {
            ck_assert_int_eq(
                avro_value_set_branch(&fv, present ? 1 - f->null_index : f->null_index, &v), 0);
            if (!present) {
                avro_value_set_null(&v);
                continue;
            }
        } else {
            v = fv;
        }
        switch (f->type) {
        case CS__F_BOOL:
            avro_value_set_boolean(&v, *(const bool *)p);
            break;
        case CS__F_INT:
            avro_value_set_int(&v, *(const int32_t *)p);
            break;
        case CS__F_LONG:
            avro_value_set_long(&v, *(const int64_t *)p);
            break;
        case CS__F_DOUBLE:
            avro_value_set_double(&v, *(const double *)p);
            break;
        case CS__F_STRING:
            avro_value_set_string(&v, *(const char *const *)p);
            break;
        case CS__F_ENUM:
            avro_value_set_enum(&v, *(const int *)p);
            break;
        case CS__F_STRV: {
            const cs_strv_t *sv = (const cs_strv_t *)p;
            for (size_t k = 0; k < sv->count; k++) {
                avro_value_t item;
                avro_value_append(&v, &item, NULL);
                avro_value_set_string(&item, sv->items[k]);
            }
            break;
        }
        }
    }
}

/* Encodes ev with avro-c using the full schema of version `version`; returns the datum size. */
static size_t avro_c_encode(const cs_event_t *ev, int version, const void *payload,
                            const cs__event_desc_t *pd, char *out, size_t cap)
{
    const char *schema_json = cs_codec_type_schema(ev->type, version);
    avro_schema_t schema;
    ck_assert_int_eq(avro_schema_from_json_length(schema_json, strlen(schema_json), &schema), 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec, f, b, pl;
    ck_assert_int_eq(avro_generic_value_new(iface, &rec), 0);
    avro_value_get_by_name(&rec, "event_id", &f, NULL);
    avro_value_set_string(&f, ev->event_id);
    avro_value_get_by_name(&rec, "event_type", &f, NULL);
    avro_value_set_string(&f, cs_codec_type_name(ev->type));
    avro_value_get_by_name(&rec, "occurred_at", &f, NULL);
    avro_value_set_long(&f, ev->occurred_at_ms);
    avro_value_get_by_name(&rec, "user_id", &f, NULL);
    avro_value_set_string(&f, ev->user_id);
    avro_value_get_by_name(&rec, "producer", &f, NULL);
    avro_value_set_string(&f, ev->producer);
    avro_value_get_by_name(&rec, "schema_version", &f, NULL);
    avro_value_set_int(&f, version);
    avro_value_get_by_name(&rec, "traceparent", &f, NULL);
    if (ev->traceparent[0]) {
        avro_value_set_branch(&f, 1, &b);
        avro_value_set_string(&b, ev->traceparent);
    } else {
        avro_value_set_branch(&f, 0, &b);
        avro_value_set_null(&b);
    }
    avro_value_get_by_name(&rec, "payload", &pl, NULL);
    fill_avro_payload(&pl, pd, payload);
    avro_writer_t w = avro_writer_memory(out, (int64_t)cap);
    ck_assert_msg(avro_value_write(w, &rec) == 0, "avro_value_write: %s", avro_strerror());
    size_t n = (size_t)avro_writer_tell(w);
    avro_writer_free(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    return n;
}

START_TEST(avro_c_writes_identical_bytes)
{
    int t = _i;
    cs_err_t err;
    cs_event_t ev;
    cs_buf_t bin = CS_BUF_INIT;
    char datum[8192];
    const char *ex = cs_codec_type_example(t);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &bin, &err), 0);
    size_t n = avro_c_encode(&ev, cs_codec_type_version(t), ev.payload, &cs__events[t], datum,
                             sizeof datum);
    ck_assert_uint_eq(n, bin.len - CS_CODEC_HEADER_BYTES);
    ck_assert_msg(memcmp(datum, bin.data + CS_CODEC_HEADER_BYTES, n) == 0,
                  "%s: bytes differ from avro-c", cs_codec_type_name(t));
    cs_buf_fini(&bin);
    cs_arena_reset(arena);
}
END_TEST

/* ---- evolution --------------------------------------------------------------------------------
 */

START_TEST(evolution_v1_written_read_by_v2)
{
    int t = cs_codec_type_by_name("content_progress");
    ck_assert_int_ge(cs_codec_type_version(t), 2);
    const cs__event_desc_t *ed = &cs__events[t];
    const cs__version_desc_t *v1 = &ed->versions[0];

    /* A v1 payload: the v2 struct without the added fields; avro-c writes only v1's fields. */
    cs_ev_content_progress_t p = {0};
    p.content_id = "4c5d6e7f-8091-4a2b-b3c4-d5e6f7081920";
    p.content_kind = CS_CONTENT_KIND_MODULE;
    p.module_id = NULL;
    p.progress = CS_PROGRESS_ACTION_COMPLETED;
    p.percent_complete = 100;
    p.time_spent_seconds = 900;
    cs__event_desc_t v1desc = *ed;
    cs__field_desc_t v1fields[16];
    int n = 0;
    for (int i = 0; i < ed->nfields; i++) /* the current layout, restricted to v1's fields */
        for (int k = 0; k < v1->nfields; k++)
            if (strcmp(ed->fields[i].name, v1->fields[k].name) == 0)
                v1fields[n++] = ed->fields[i];
    ck_assert_int_eq(n, v1->nfields);
    v1desc.fields = v1fields;
    v1desc.nfields = n;

    cs_event_t ev = {.type = t,
                     .occurred_at_ms = INT64_C(1764063000000),
                     .producer = "learning-app",
                     .traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"};
    strcpy(ev.event_id, "0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30");
    strcpy(ev.user_id, "5f0c6d2e-8a4b-4c3d-9e1f-2a7b6c5d4e3f");
    unsigned char msg[4096];
    msg[0] = 0xc3;
    msg[1] = 0x01;
    for (int i = 0; i < 8; i++)
        msg[2 + i] = (unsigned char)(v1->fingerprint >> (8 * i));
    size_t len = CS_CODEC_HEADER_BYTES +
                 avro_c_encode(&ev, 1, &p, &v1desc, (char *)msg + 10, sizeof msg - 10);

    cs_event_t back;
    cs_err_t err;
    ck_assert_msg(cs_codec_decode(codec, msg, len, arena, &back, &err) == 0, "%s: %s", err.field,
                  err.msg);
    ck_assert_int_eq(back.schema_version, 1);
    ck_assert_uint_eq(back.fingerprint, v1->fingerprint);
    const cs_ev_content_progress_t *q = back.payload;
    ck_assert_str_eq(q->content_id, p.content_id);
    ck_assert_int_eq(q->content_kind, CS_CONTENT_KIND_MODULE);
    ck_assert_int_eq(q->progress, CS_PROGRESS_ACTION_COMPLETED);
    ck_assert_int_eq(q->time_spent_seconds, 900);
    ck_assert_ptr_null(q->session_id); /* added in v2 with default null */
    ck_assert_int_eq(q->attempt, 1);   /* added in v2 with default 1 */

    /* Re-encoding writes the current version; it decodes to the same values. */
    cs_buf_t bin = CS_BUF_INIT;
    ck_assert_int_eq(cs_codec_encode(codec, &back, &bin, &err), 0);
    cs_event_t cur;
    decode_ok(&bin, &cur);
    ck_assert_int_eq(cur.schema_version, cs_codec_type_version(t));
    ck_assert_int_eq(((const cs_ev_content_progress_t *)cur.payload)->attempt, 1);
    cs_buf_fini(&bin);
}
END_TEST

/* The reverse: data written with v2 (the current producer) read by a v1 reader. */
START_TEST(evolution_v2_written_read_by_v1)
{
    int t = cs_codec_type_by_name("content_progress");
    const cs__event_desc_t *ed = &cs__events[t];
    const cs__version_desc_t *v1 = &ed->versions[0];
    cs__field_desc_t v1reader[16];
    int n = 0;
    for (int i = 0; i < ed->nfields; i++) /* v1's fields, laid out in the current struct */
        for (int k = 0; k < v1->nfields; k++)
            if (strcmp(ed->fields[i].name, v1->fields[k].name) == 0)
                v1reader[n++] = ed->fields[i];
    ck_assert_int_eq(n, v1->nfields);

    const char *line =
        "{\"event_type\":\"content_progress\",\"event_id\":\"0b9f8a5e-3c1d-4f7a-9e2b-"
        "6d4c8a1f5e30\","
        "\"occurred_at\":\"2026-11-25T09:30:00.000Z\",\"user_id\":\"5f0c6d2e-8a4b-4c3d-9e1f-"
        "2a7b6c5d4e3f\","
        "\"producer\":\"learning-app\",\"payload\":{\"content_id\":\"4c5d6e7f-8091-4a2b-b3c4-"
        "d5e6f7081920\","
        "\"content_kind\":\"topic\",\"progress\":\"in_progress\",\"percent_complete\":40,"
        "\"time_spent_seconds\":120,\"session_id\":\"8091a2b3-c4d5-4e6f-8071-8293a4b5c6d7\","
        "\"attempt\":3}}";
    cs_event_t ev;
    cs_err_t err;
    cs_buf_t bin = CS_BUF_INIT;
    ck_assert_int_eq(cs_codec_from_json(codec, line, strlen(line), arena, &ev, &err), 0);
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &bin, &err), 0);

    cs_ev_content_progress_t p;
    memset(&p, 0, sizeof p);
    ck_assert_msg(cs__codec_decode_as(codec, bin.data, bin.len, v1reader, n, arena, &p, &err) == 0,
                  "%s: %s", err.field, err.msg);
    ck_assert_str_eq(p.content_id, "4c5d6e7f-8091-4a2b-b3c4-d5e6f7081920");
    ck_assert_int_eq(p.content_kind, CS_CONTENT_KIND_TOPIC);
    ck_assert_int_eq(p.progress, CS_PROGRESS_ACTION_IN_PROGRESS);
    ck_assert_int_eq(p.percent_complete, 40);
    ck_assert_int_eq(p.time_spent_seconds, 120);
    ck_assert_ptr_null(
        p.session_id); /* a v1 reader has no such fields: the v2 values are skipped */
    ck_assert_int_eq(p.attempt, 0);

    /* Where it is not allowed, the resolution refuses: a reader requiring a field v2 lacks. */
    v1reader[n] = ed->fields[0];
    v1reader[n].name = "required_elsewhere";
    v1reader[n].has_default = 0;
    ck_assert_int_eq(
        cs__codec_decode_as(codec, bin.data, bin.len, v1reader, n + 1, arena, &p, &err), -1);
    ck_assert_str_eq(err.field, "fingerprint");
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot be read by this reader"));
    cs_buf_fini(&bin);
}
END_TEST

START_TEST(compatibility_rule_over_all_versions)
{
    char why[256];
    for (int t = 0; t < cs__nevents; t++) {
        const cs__event_desc_t *ed = &cs__events[t];
        for (int v = 0; v < ed->nversions; v++) {
            const cs__version_desc_t *w = &ed->versions[v];
            /* Backward: the current reader reads every earlier writer (required). */
            ck_assert_msg(cs__codec_check_compat(w->fields, w->nfields, ed->fields, ed->nfields,
                                                 why, sizeof why) == 0,
                          "%s v%d: %s", ed->name, w->version, why);
            /* Each version reads its predecessor, and adding defaulted fields keeps old readers
             * working. */
            if (v > 0) {
                const cs__version_desc_t *prev = &ed->versions[v - 1];
                ck_assert_msg(cs__codec_check_compat(prev->fields, prev->nfields, w->fields,
                                                     w->nfields, why, sizeof why) == 0,
                              "%s v%d reading v%d: %s", ed->name, w->version, prev->version, why);
            }
        }
    }
    /* The reverse where allowed: content_progress v1 readers read v2 data (they skip the new
     * fields). */
    const cs__event_desc_t *cp = &cs__events[cs_codec_type_by_name("content_progress")];
    ck_assert_int_eq(cs__codec_check_compat(cp->versions[1].fields, cp->versions[1].nfields,
                                            cp->versions[0].fields, cp->versions[0].nfields, why,
                                            sizeof why),
                     0);

    /* And the checker does refuse what would break consumers. */
    cs__field_desc_t reader[2], writer[1];
    memcpy(reader, cp->versions[1].fields, sizeof reader);
    memcpy(writer, cp->versions[1].fields, sizeof writer);
    reader[1].has_default = 0; /* a new field without a default */
    ck_assert_int_eq(cs__codec_check_compat(writer, 1, reader, 2, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "no default"));
    memcpy(reader, cp->versions[1].fields, sizeof reader);
    reader[0].type = CS__F_INT; /* a type change */
    ck_assert_int_eq(cs__codec_check_compat(writer, 1, reader, 1, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "cannot be read"));
    const cs__field_desc_t *kind = &cp->versions[1].fields[1]; /* content_kind, an enum */
    cs__field_desc_t kw = *kind, kr = *kind;
    cs__enum_desc_t fewer = *kind->enm;
    fewer.nsymbols = 2;
    kr.enm = &fewer; /* the reader lost symbols the writer has */
    ck_assert_int_eq(cs__codec_check_compat(&kw, 1, &kr, 1, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "unknown to the reader"));
}
END_TEST

/* ---- bad inputs: JSON, hand-written table with exact reasons ----------------------------------
 */

static const struct {
    const char *event;  /* the example of this event type ... */
    const char *key;    /* ... with this key ("payload.x" or an envelope key) ... */
    const char *value;  /* ... set to this JSON (NULL: removed) */
    const char *field;  /* expected err.field */
    const char *reason; /* expected substring of err.msg */
} json_rows[] = {
    {"coaching_session_logged", "payload.learner_rating", "6", "payload.learner_rating",
     "6 is out of range 1..5"},
    {"coaching_session_logged", "payload.mentor_id", NULL, "payload.mentor_id",
     "is required but missing"},
    {"coaching_session_logged", "payload.duration_minutes", "\"55\"", "payload.duration_minutes",
     "expected an integer"},
    {"coaching_session_logged", "payload.session_type", "\"therapy\"", "payload.session_type",
     "is not one of"},
    {"coaching_session_logged", "payload.goals_discussed", "[\"\"]", "payload.goals_discussed[0]",
     "must not be empty"},
    {"job_application_submitted", "payload.application_id", "\"not-a-uuid\"",
     "payload.application_id", "is not a uuid"},
    {"job_application_submitted", "payload.salary_currency", "\"eur\"", "payload.salary_currency",
     "ISO 4217"},
    {"job_application_submitted", "payload.salary_currency", "null", "payload.salary_currency",
     "is required when"},
    {"job_application_submitted", "payload.job_posting_url", "\"ftp://x\"",
     "payload.job_posting_url", "http"},
    {"application_status_changed", "payload.salary_offered", "null", "payload.salary_offered",
     "is required when payload.status is accepted"},
    {"application_status_changed", "payload.status", "\"hired\"", "payload.status",
     "is not one of submitted, screening"},
    {"content_progress", "occurred_at", "\"1999-12-31T23:59:59.999Z\"", "occurred_at",
     "outside the accepted range"},
    {"content_progress", "occurred_at", "\"2100-01-01T00:00:00Z\"", "occurred_at",
     "outside the accepted range"},
    {"content_progress", "occurred_at", "\"yesterday\"", "occurred_at",
     "is not an RFC 3339 timestamp"},
    {"content_progress", "occurred_at", "\"2026-02-30T00:00:00Z\"", "occurred_at",
     "is not an RFC 3339 timestamp"},
    {"content_progress", "occurred_at", "\"2026-11-25T09:30:00.0001Z\"", "occurred_at",
     "sub-millisecond"},
    {"content_progress", "event_id", "\"0b9f8a5e3c1d4f7a9e2b6d4c8a1f5e30\"", "event_id",
     "is not a uuid"},
    {"content_progress", "user_id", NULL, "user_id", "is required but missing"},
    {"content_progress", "producer", "\"Learning App\"", "producer", "is not an identifier"},
    {"content_progress", "traceparent",
     "\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"", "traceparent",
     "W3C traceparent"},
    {"content_progress", "event_type", "\"content_progres\"", "event_type",
     "is not a careerstream event type"},
    {"content_progress", "color", "\"blue\"", "color", "unknown field 'color'"},
    {"content_progress", "", "1", "json", "unknown field ''"},
    {"content_progress", "payload.colour", "\"blue\"", "payload.colour",
     "unknown field of content_progress"},
    {"content_progress", "payload.percent_complete", "101", "payload.percent_complete",
     "101 is out of range 0..100"},
    {"content_progress", "payload.attempt", "0", "payload.attempt", "0 is out of range 1..1000"},
    {"content_progress", "schema_version", "7", "schema_version", "must be a known version"},
    /* A wrong type is a type error, not an unknown version. */
    {"content_progress", "schema_version", "\"1\"", "schema_version",
     "expected an integer, got a string"},
    {"content_progress", "schema_version", "1.0", "schema_version",
     "expected an integer, got a number"},
    {"content_progress", "schema_version", "0", "schema_version",
     "must be a known version of content_progress, 1..2"},
    {"content_progress", "payload", "[]", "payload", "expected an object"},
    {"assessment_completed", "payload.score", "100.5", "payload.score",
     "100.5 is out of range 0..100"},
    /* The value as given, not rounded to 6 digits into the bound it broke. */
    {"assessment_completed", "payload.score", "100.0000001", "payload.score",
     "100.0000001 is out of range 0..100"},
    {"assessment_completed", "payload.score", "-1e-300", "payload.score",
     "-1e-300 is out of range 0..100"},
    {"mentor_rematch_proposed", "payload.avg_learner_rating", "5.000000000000001",
     "payload.avg_learner_rating", "5.000000000000001 is out of range 1..5"},
    {"assessment_completed", "payload.passed", "\"yes\"", "payload.passed",
     "expected true or false"},
    {"portfolio_project_submitted", "payload.technologies",
     "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\","
     "\"p\",\"q\",\"r\",\"s\","
     "\"t\",\"u\",\"v\",\"w\",\"x\",\"y\",\"z\",\"aa\",\"bb\",\"cc\",\"dd\",\"ee\"]",
     "payload.technologies", "has 31 items, at most 30 allowed"},
    {"portfolio_project_submitted", "payload.technologies", "\"python\"", "payload.technologies",
     "expected an array"},
    {"project_reviewed", "payload.feedback", "\"bad \\u0000 byte\"", "payload.feedback", "NUL"},
    {"learner_profile_updated", "payload",
     "{\"target_industry\":null,\"target_role\":null,\"available_study_hours_week\":null}",
     "payload", "sets no field"},
    {"mentor_rematch_proposed", "payload.avg_learner_rating", "0.5", "payload.avg_learner_rating",
     "out of range 1..5"},
    {"user_erasure_requested", "payload.reason", "1", "payload.reason", "expected a string"},
};

static int from_json_modified(const char *event, const char *key, const char *value, cs_event_t *ev,
                              cs_err_t *err)
{
    int t = cs_codec_type_by_name(event);
    ck_assert_int_ge(t, 0);
    json_error_t jerr;
    json_t *root = json_loads(cs_codec_type_example(t), 0, &jerr);
    json_t *obj = root;
    const char *k = key;
    if (strncmp(key, "payload.", 8) == 0) {
        obj = json_object_get(root, "payload");
        k = key + 8;
    }
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        ck_assert_msg(v != NULL, "bad test value %s", value);
        json_object_set_new(obj, k, v);
    } else {
        json_object_del(obj, k);
    }
    char *line = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = cs_codec_from_json(codec, line, strlen(line), arena, ev, err);
    free(line);
    json_decref(root);
    return rc;
}

START_TEST(json_bad_inputs)
{
    cs_event_t ev;
    cs_err_t err;
    int rc =
        from_json_modified(json_rows[_i].event, json_rows[_i].key, json_rows[_i].value, &ev, &err);
    ck_assert_msg(rc == -1, "%s %s=%s was accepted", json_rows[_i].event, json_rows[_i].key,
                  json_rows[_i].value ? json_rows[_i].value : "(removed)");
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    ck_assert_str_eq(err.field, json_rows[_i].field);
    ck_assert_msg(strstr(err.msg, json_rows[_i].reason) != NULL, "%s: got \"%s\", want \"%s\"",
                  json_rows[_i].key, err.msg, json_rows[_i].reason);
    cs_arena_reset(arena);
}
END_TEST

/* ---- bad inputs: derived from the tables, for every field of every event ----------------------
 */

static void expect_json_error(const char *event, const char *path, const char *value,
                              const char *reason)
{
    cs_event_t ev;
    cs_err_t err;
    int rc = from_json_modified(event, path, value, &ev, &err);
    ck_assert_msg(rc == -1, "%s: %s=%s accepted", event, path, value ? value : "(removed)");
    ck_assert_msg(strncmp(err.field, path, strlen(path)) == 0, "%s: %s=%s: error names %s (%s)",
                  event, path, value ? value : "(removed)", err.field, err.msg);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "%s: %s=%s: got \"%s\", want \"%s\"", event,
                  path, value ? value : "(removed)", err.msg, reason);
    cs_arena_reset(arena);
}

START_TEST(every_field_rejects_bad_values)
{
    const cs__event_desc_t *ed = &cs__events[_i];
    char val[20000];
    /* The envelope, for this event type. */
    expect_json_error(ed->name, "event_id", "\"5f0c6d2e-8a4b-4c3d-9e1f-2a7b6c5d4e3\"",
                      "is not a uuid");
    expect_json_error(ed->name, "user_id", NULL, "is required but missing");
    expect_json_error(ed->name, "user_id", "42", "expected a string");
    expect_json_error(ed->name, "occurred_at", "\"1999-12-31T23:59:59.999Z\"",
                      "outside the accepted range");
    expect_json_error(ed->name, "occurred_at", "4102444800000", "outside the accepted range");
    expect_json_error(ed->name, "producer", "\"\"", "must not be empty");
    expect_json_error(ed->name, "traceparent", "\"01-4bf92f3577b34da6\"", "W3C traceparent");
    expect_json_error(ed->name, "payload", NULL, "is required but missing");
    for (int i = 0; i < ed->nfields; i++) {
        const cs__field_desc_t *f = &ed->fields[i];
        const char *path = f->path;
        if (!f->optional && !f->has_default)
            expect_json_error(ed->name, path, NULL, "is required but missing");
        if (!f->optional)
            expect_json_error(ed->name, path, "null", "is null but required");
        switch (f->type) {
        case CS__F_BOOL:
            expect_json_error(ed->name, path, "1", "expected true or false");
            break;
        case CS__F_INT:
        case CS__F_LONG:
            expect_json_error(ed->name, path, f->format == CS__FMT_TIMESTAMP ? "true" : "\"12\"",
                              "expected");
            if (f->has_max) {
                snprintf(val, sizeof val, "%lld", (long long)f->imax + 1);
                expect_json_error(ed->name, path, val, "out of range");
            }
            if (f->has_min) {
                snprintf(val, sizeof val, "%lld", (long long)f->imin - 1);
                expect_json_error(ed->name, path, val, "out of range");
            }
            if (f->format == CS__FMT_TIMESTAMP)
                expect_json_error(ed->name, path, "946684799999", "outside the accepted range");
            break;
        case CS__F_DOUBLE:
            expect_json_error(ed->name, path, "\"1.5\"", "expected a number");
            if (f->has_max) {
                snprintf(val, sizeof val, "%.17g", f->dmax + 0.5);
                expect_json_error(ed->name, path, val, "out of range");
            }
            break;
        case CS__F_ENUM:
            expect_json_error(ed->name, path, "\"no_such_symbol\"", "is not one of");
            expect_json_error(ed->name, path, "3", "expected a string");
            break;
        case CS__F_STRING:
        case CS__F_STRV: {
            bool arr = f->type == CS__F_STRV;
            expect_json_error(ed->name, path, arr ? "[7]" : "7", "expected a string");
            if (f->format == CS__FMT_UUID) {
                expect_json_error(ed->name, path, "\"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e3g\"",
                                  "is not a uuid");
                break;
            }
            size_t o = 0;
            val[o++] = arr ? '[' : ' ';
            val[o++] = '"';
            for (uint32_t k = 0; k <= f->max_len; k++)
                val[o++] = f->format == CS__FMT_URL && k < 8 ? "https://"[k] : 'A';
            val[o++] = '"';
            val[o++] = arr ? ']' : ' ';
            val[o] = '\0';
            expect_json_error(ed->name, path, val, "at most");
            if (arr) {
                o = 0;
                val[o++] = '[';
                for (uint32_t k = 0; k <= f->max_items; k++)
                    o += (size_t)sprintf(val + o, "%s\"x\"", k ? "," : "");
                val[o++] = ']';
                val[o] = '\0';
                expect_json_error(ed->name, path, val, "items, at most");
            }
            break;
        }
        }
    }
}
END_TEST

/* ---- bad inputs: binary -----------------------------------------------------------------------
 */

/* Encodes the example of a type; the caller frees b. */
static void example_bytes(int t, cs_buf_t *b)
{
    cs_event_t ev;
    cs_err_t err;
    const char *ex = cs_codec_type_example(t);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);
    ck_assert_int_eq(cs_codec_encode(codec, &ev, b, &err), 0);
}

static void expect_decode_error(const void *data, size_t len, const char *field, const char *reason)
{
    cs_event_t ev;
    cs_err_t err;
    ck_assert_int_eq(cs_codec_decode(codec, data, len, arena, &ev, &err), -1);
    ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    if (field)
        ck_assert_msg(strcmp(err.field, field) == 0, "field %s (%s), want %s", err.field, err.msg,
                      field);
    ck_assert_msg(strstr(err.msg, reason) != NULL, "got \"%s: %s\", want \"%s\"", err.field,
                  err.msg, reason);
}

/*
 * A payload that fails behind a valid envelope: the envelope is kept for the dead letter (user_id
 * lower-cased), the payload is not; a failure in the envelope keeps nothing.
 */
START_TEST(decode_failure_keeps_valid_envelope)
{
    int t = cs_codec_type_by_name("skill_assessed");
    cs_event_t ev;
    cs_err_t err;
    cs_buf_t b = CS_BUF_INIT;
    const char *ex = cs_codec_type_example(t);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);
    ev.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    snprintf(ev.user_id, sizeof ev.user_id, "%s", "abcdef00-0000-4000-9000-00000000abcd");
    char eid[37];
    snprintf(eid, sizeof eid, "%s", ev.event_id);
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &b, &err), 0);
    char *u = memmem(b.data, b.len, ev.user_id, 36);
    ck_assert_ptr_nonnull(u);
    for (int i = 0; i < 36; i++)
        u[i] = (char)toupper((unsigned char)u[i]);
    char *sid = memmem(b.data, b.len, "b2c3d4e5-f6a7-4829-8b0c-1d2e3f4a5b6c", 36);
    ck_assert_ptr_nonnull(sid);
    sid[3] = 'Z';

    cs_event_t got;
    ck_assert_int_eq(cs_codec_decode(codec, b.data, b.len, arena, &got, &err), -1);
    ck_assert_str_eq(err.field, "payload.skill_id");
    ck_assert_ptr_null(got.payload);
    ck_assert_int_eq(got.type, t);
    ck_assert_str_eq(got.type_name, "skill_assessed");
    ck_assert_str_eq(got.event_id, eid);
    ck_assert_str_eq(got.user_id, "abcdef00-0000-4000-9000-00000000abcd");
    ck_assert_str_eq(got.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    ck_assert_int_eq(got.schema_version, cs_codec_type_version(t));

    /* the event_id broken too: nothing is kept */
    char *e = memmem(b.data, b.len, eid, 36);
    ck_assert_ptr_nonnull(e);
    e[3] = 'Z';
    ck_assert_int_eq(cs_codec_decode(codec, b.data, b.len, arena, &got, &err), -1);
    ck_assert_str_eq(err.field, "event_id");
    ck_assert_ptr_null(got.type_name);
    ck_assert_int_eq(got.type, -1);
    ck_assert_str_eq(got.event_id, "");
    ck_assert_ptr_null(got.payload);
    cs_buf_fini(&b);
}
END_TEST

START_TEST(binary_bad_inputs_every_type)
{
    int t = _i;
    cs_buf_t b = CS_BUF_INIT;
    example_bytes(t, &b);
    unsigned char *m = (unsigned char *)b.data;
    size_t len = b.len;

    /* Every truncation fails cleanly, naming a field or the message. */
    for (size_t n = 0; n < len; n++) {
        cs_event_t ev;
        cs_err_t err;
        ck_assert_msg(cs_codec_decode(codec, m, n, arena, &ev, &err) == -1,
                      "prefix %zu of %zu accepted", n, len);
        ck_assert(err.field[0] != '\0');
        ck_assert_int_eq(err.kind, CS_ERR_PERMANENT);
    }
    expect_decode_error(m, 5, "message", "truncated");
    expect_decode_error(m, len - 1, NULL, "truncated");
    /* Trailing garbage. */
    cs_buf_putc(&b, 0);
    m = (unsigned char *)b.data;
    expect_decode_error(m, len + 1, "message", "1 unexpected bytes after the event");
    /* Wrong fingerprint, wrong marker. */
    m[5] ^= 0x40;
    expect_decode_error(m, len, "fingerprint", "unknown writer schema fingerprint");
    m[5] ^= 0x40;
    m[0] = 0x4f;
    expect_decode_error(m, len, "message", "not Avro single-object encoding");
    m[0] = 0xc3;
    /* Oversized: refused before anything is read. */
    unsigned char *big = calloc(1, CS_CODEC_MAX_MESSAGE_BYTES + 1);
    memcpy(big, m, len);
    expect_decode_error(big, CS_CODEC_MAX_MESSAGE_BYTES + 1, "message",
                        "exceeds the limit of 65536 bytes");
    free(big);
    /* The fingerprint of another type selects another schema: the event_type check catches it. */
    int other = (t + 1) % cs_codec_ntypes();
    uint64_t fp = cs_codec_type_fingerprint(other, 0);
    for (int i = 0; i < 8; i++)
        m[2 + i] = (unsigned char)(fp >> (8 * i));
    {
        cs_event_t ev;
        cs_err_t err;
        ck_assert_int_eq(cs_codec_decode(codec, m, len, arena, &ev, &err), -1);
    }
    cs_buf_fini(&b);
    cs_arena_reset(arena);
}
END_TEST

/* A hand-built user_erasure_requested message, to corrupt single fields precisely. */
static size_t put_long(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z > 0x7f) {
        p[n++] = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    return n;
}

static size_t put_str(unsigned char *p, const char *s)
{
    size_t n = put_long(p, (int64_t)strlen(s));
    memcpy(p + n, s, strlen(s));
    return n + strlen(s);
}

typedef struct {
    const char *event_id, *event_type, *producer;
    int64_t occurred_at;
    int schema_version;
    int64_t traceparent_branch;
    int64_t reason, requested_by;
} erasure_t;

static size_t build_erasure(unsigned char *m, const erasure_t *e)
{
    int t = cs_codec_type_by_name("user_erasure_requested");
    uint64_t fp = cs_codec_type_fingerprint(t, 0);
    size_t n = 0;
    m[n++] = 0xc3;
    m[n++] = 0x01;
    for (int i = 0; i < 8; i++)
        m[n++] = (unsigned char)(fp >> (8 * i));
    n += put_str(m + n, e->event_id);
    n += put_str(m + n, e->event_type);
    n += put_long(m + n, e->occurred_at);
    n += put_str(m + n, "5f0c6d2e-8a4b-4c3d-9e1f-2a7b6c5d4e3f");
    n += put_str(m + n, e->producer);
    n += put_long(m + n, e->schema_version);
    n += put_long(m + n, e->traceparent_branch);
    n += put_str(m + n, "2c3d4e5f-6071-4829-9b3c-4d5e6f7a8b9c");
    n += put_long(m + n, e->reason);
    n += put_long(m + n, e->requested_by);
    return n;
}

static const erasure_t good_erasure = {"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30",
                                       "user_erasure_requested",
                                       "privacy-app",
                                       INT64_C(1764063000000),
                                       1,
                                       0,
                                       0,
                                       2};

static const struct {
    erasure_t e;
    const char *field, *reason;
} bin_rows[] = {
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e3", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 1, 0, 0, 2},
     "event_id",
     "is not a uuid"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure", "privacy-app", INT64_C(1764063000000),
      1, 0, 0, 2},
     "event_type",
     "does not match the writer schema's event user_erasure_requested"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app", INT64_C(-5),
      1, 0, 0, 2},
     "occurred_at",
     "outside the accepted range"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "", INT64_C(1764063000000),
      1, 0, 0, 2},
     "producer",
     "must not be empty"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 2, 0, 0, 2},
     "schema_version",
     "does not match the writer schema's version 1"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 1, 2, 0, 2},
     "traceparent",
     "union branch 2 does not exist"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 1, -1, 0, 2},
     "traceparent",
     "union branch -1 does not exist"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 1, 0, 3, 2},
     "payload.reason",
     "enum index 3 is out of range (ErasureReason has 3 symbols)"},
    {{"0b9f8a5e-3c1d-4f7a-9e2b-6d4c8a1f5e30", "user_erasure_requested", "privacy-app",
      INT64_C(1764063000000), 1, 0, 0, -1},
     "payload.requested_by",
     "enum index -1 is out of range"},
};

START_TEST(binary_bad_fields)
{
    unsigned char m[512];
    size_t n = build_erasure(m, &good_erasure);
    cs_event_t ev;
    cs_err_t err;
    ck_assert_msg(cs_codec_decode(codec, m, n, arena, &ev, &err) == 0, "%s: %s", err.field,
                  err.msg);
    ck_assert_int_eq(((const cs_ev_user_erasure_requested_t *)ev.payload)->requested_by,
                     CS_ERASURE_REQUESTER_DATA_PROTECTION_OFFICER);
    n = build_erasure(m, &bin_rows[_i].e);
    expect_decode_error(m, n, bin_rows[_i].field, bin_rows[_i].reason);
    cs_arena_reset(arena);
}
END_TEST

START_TEST(binary_hostile_lengths)
{
    unsigned char m[512];
    size_t n = build_erasure(m, &good_erasure);
    /* event_id's length byte is at offset 10: claim 1 GiB, a negative length, an endless varint. */
    unsigned char evil[512];
    memset(evil, 0, sizeof evil);
    memcpy(evil, m, 10);
    size_t k = 10 + put_long(evil + 10, INT64_C(1) << 30);
    expect_decode_error(evil, k + 8, "event_id", "truncated: string of 1073741824 bytes");
    k = 10 + put_long(evil + 10, -3);
    expect_decode_error(evil, k + 8, "event_id", "negative string length -3");
    memset(evil + 10, 0xff, 12);
    expect_decode_error(evil, 22, "event_id", "malformed varint");
    /* A 37-byte event_id is refused before it is copied. */
    memcpy(evil, m, n);
    evil[10] = 37 * 2;
    expect_decode_error(evil, n, "event_id", "is 37 bytes long, at most 36 allowed");
    /* NUL inside a string, and invalid UTF-8 in the producer. */
    memcpy(evil, m, n);
    evil[12] = '\0';
    expect_decode_error(evil, n, "event_id", "contains a NUL byte");
    erasure_t e = good_erasure;
    e.producer = "priv\xc3\x28";
    n = build_erasure(evil, &e);
    expect_decode_error(evil, n, "producer", "not valid UTF-8");
    cs_arena_reset(arena);
}
END_TEST

START_TEST(encode_refuses_invalid_structs)
{
    cs_err_t err;
    cs_event_t ev;
    cs_buf_t out = CS_BUF_INIT;
    const char *ex = cs_codec_type_example(CS_EVENT_CONTENT_PROGRESS);
    ck_assert_int_eq(cs_codec_from_json(codec, ex, strlen(ex), arena, &ev, &err), 0);
    cs_ev_content_progress_t p = *(const cs_ev_content_progress_t *)ev.payload;
    ev.payload = &p;
    cs_buf_puts(&out, "keep");
    p.percent_complete = 250;
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), -1);
    ck_assert_str_eq(err.field, "payload.percent_complete");
    ck_assert_str_eq(out.data, "keep"); /* unchanged */
    p.percent_complete = 10;
    p.content_id = NULL;
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), -1);
    ck_assert_str_eq(err.field, "payload.content_id");
    p.content_id = "4C5D6E7F-8091-4A2B-B3C4-D5E6F7081920";
    p.progress = (cs_progress_action_t)9;
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), -1);
    ck_assert_str_eq(err.field, "payload.progress");
    p.progress = CS_PROGRESS_ACTION_STARTED;
    ev.type = 99;
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), -1);
    ck_assert_str_eq(err.field, "event_type");
    ev.type = CS_EVENT_CONTENT_PROGRESS;
    ev.producer = NULL;
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), -1);
    ck_assert_str_eq(err.field, "producer");
    ev.producer = "learning-app";
    ck_assert_int_eq(cs_codec_encode(codec, &ev, &out, &err), 0);
    /* uuids are written in canonical lower case */
    bool found = false;
    for (size_t i = 0; i + 36 <= out.len && !found; i++)
        found = memcmp(out.data + i, "4c5d6e7f-8091-4a2b-b3c4-d5e6f7081920", 36) == 0;
    ck_assert(found);
    cs_buf_fini(&out);
}
END_TEST

START_TEST(type_table)
{
    ck_assert_int_eq(cs_codec_ntypes(), CS_EVENT__COUNT);
    ck_assert_int_eq(cs_codec_type_by_name("job_application_submitted"),
                     CS_EVENT_JOB_APPLICATION_SUBMITTED);
    ck_assert_int_eq(cs_codec_type_by_name("nope"), -1);
    ck_assert_int_eq(cs_codec_type_by_name(NULL), -1);
    ck_assert_str_eq(cs_codec_type_topic(CS_EVENT_CONTENT_PROGRESS), "cs.learning");
    ck_assert_str_eq(cs_codec_type_topic(CS_EVENT_READINESS_SCORE_CHANGED), "cs.derived");
    ck_assert_ptr_null(cs_codec_type_name(-1));
    ck_assert_ptr_null(cs_codec_type_name(CS_EVENT__COUNT));
    ck_assert_int_eq(cs_codec_type_version(CS_EVENT__COUNT), -1);
    ck_assert_uint_eq(cs_codec_type_fingerprint(CS_EVENT_CONTENT_PROGRESS, 3), 0);
    ck_assert_uint_ne(cs_codec_type_fingerprint(CS_EVENT_CONTENT_PROGRESS, 1),
                      cs_codec_type_fingerprint(CS_EVENT_CONTENT_PROGRESS, 2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("codec");
    SRunner *sr;
    int failed;
    int n = cs_codec_ntypes();

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, spec_fingerprints, 0, (int)(sizeof pcf_rows / sizeof pcf_rows[0]));
    tcase_add_test(tc, compiled_fingerprints_match);
    tcase_add_loop_test(tc, roundtrip_every_type, 0, n);
    tcase_add_test(tc, payload_json_and_struct_access);
    tcase_add_loop_test(tc, avro_c_writes_identical_bytes, 0, n);
    tcase_add_test(tc, evolution_v1_written_read_by_v2);
    tcase_add_test(tc, evolution_v2_written_read_by_v1);
    tcase_add_test(tc, compatibility_rule_over_all_versions);
    tcase_add_loop_test(tc, json_bad_inputs, 0, (int)(sizeof json_rows / sizeof json_rows[0]));
    tcase_add_loop_test(tc, every_field_rejects_bad_values, 0, n);
    tcase_add_loop_test(tc, binary_bad_inputs_every_type, 0, n);
    tcase_add_loop_test(tc, binary_bad_fields, 0, (int)(sizeof bin_rows / sizeof bin_rows[0]));
    tcase_add_test(tc, binary_hostile_lengths);
    tcase_add_test(tc, encode_refuses_invalid_structs);
    tcase_add_test(tc, type_table);
    tcase_add_test(tc, decode_failure_keeps_valid_envelope);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
