/*
 * libcore/src/codec_int.h
 *      The codec's private map: the codec object, resolution plans, and what its files share.
 *
 * cs/codec.h is one module split by concern, as librdkafka splits its consumer:
 *   codec.c           the codec object, the event type table, schema resolution plans, defaults
 *   codec_wire.c      Avro single-object encoding: the bounded binary reader and the writer
 *   codec_validate.c  the one validation pass every entry point runs, and the format checks
 *   codec_json.c      the documented JSON form: writer and reader
 *   codec_jsonb.c     the payload as PostgreSQL's jsonb output prints it (what the audit hashes)
 * All of them walk the tables schemagen generates (codec_tables.h) and hold no per-event code.
 * Internal to libcore: nothing here is exported from the shared library.
 */
#ifndef CS_CODEC_INT_H
#define CS_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec_tables.h"
#include "cs/codec.h"

/* ---- resolution plans (codec.c) ------------------------------------------------------------ */

enum { CONV_SAME = 0, CONV_INT_LONG, CONV_INT_DOUBLE, CONV_LONG_DOUBLE };

typedef struct step {
    int reader;          /* reader field index, or -1 when the reader has no such field (skip) */
    int conv;            /* CONV_* */
    const int *enum_map; /* writer symbol index -> reader symbol index or -1; NULL when identity */
} step_t;

typedef struct plan {
    int type;                        /* event type index */
    const cs__event_desc_t *ev;      /* reader (current) description */
    const cs__version_desc_t *wv;    /* writer version */
    const cs__field_desc_t *rfields; /* reader fields (normally ev->fields) */
    int nrfields;
    step_t *steps; /* one per writer field */
    int nmissing;
    int *missing; /* reader fields the writer lacks: take the default */
    int *maps;    /* the enum maps of the steps, one block */
} plan_t;

typedef struct fp_entry {
    uint64_t fp;
    plan_t *plan;
} fp_entry_t;

struct cs_codec {
    int nplans;
    plan_t *plans;
    fp_entry_t *by_fp; /* sorted by fp */
    int *jsonb_first;  /* per type, where its fields start in jsonb_order; [ntypes] = total */
    int *jsonb_order;  /* per type, its payload field indexes in jsonb key order */
};

/* Resolves writer version wv against reader fields r[0..rn). -1 with the reason in why. */
int cs__codec_plan_init(plan_t *pl, const cs__version_desc_t *wv, const cs__field_desc_t *r, int rn,
                        char *why, size_t whylen);
void cs__codec_plan_fini(plan_t *pl);
/* Stores reader field f's default into payload (nothing when it has none, or null). */
void cs__codec_store_default(void *payload, const cs__field_desc_t *f);

/* ---- fields of a payload struct ------------------------------------------------------------ */

static inline void *field_ptr(void *payload, const cs__field_desc_t *f)
{
    return (char *)payload + f->offset;
}
static inline const void *field_cptr(const void *payload, const cs__field_desc_t *f)
{
    return (const char *)payload + f->offset;
}

static inline bool field_present(const void *payload, const cs__field_desc_t *f)
{
    if (!f->optional)
        return true;
    if (f->type == CS__F_STRING)
        return *(const char *const *)field_cptr(payload, f) != NULL;
    return *(const bool *)((const char *)payload + f->has_offset);
}

static inline void set_present(void *payload, const cs__field_desc_t *f)
{
    if (f->optional && f->has_offset != UINT32_MAX)
        *(bool *)((char *)payload + f->has_offset) = true;
}

/* ---- errors and validation (codec_validate.c) ---------------------------------------------- */

/* A PERMANENT err naming field; returns -1. Every codec failure is one of these. */
int cs__codec_perr(cs_err_t *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Quotes untrusted text for an error message: at most 40 bytes, non-printables as \xNN. */
const char *cs__codec_quote(char *out, size_t outlen, const char *s, size_t n);
#define QUOTE(s, n) cs__codec_quote((char[64]){0}, 64, (s), (n))

/* Whether s[0..n) is a canonical 8-4-4-4-12 hexadecimal uuid (either case). */
bool cs__codec_is_uuid(const char *s, size_t n);

/* The payload's fields against the limits of ed (the reader schema). */
int cs__codec_validate_payload(const cs__event_desc_t *ed, const void *payload, cs_err_t *err);
/*
 * The envelope without its payload. ids_checked: the decoder has already validated event_id and
 * user_id on the wire.
 */
int cs__codec_validate_envelope_fields(const cs_event_t *ev, bool ids_checked, cs_err_t *err);
/* The envelope and the presence of its payload. */
int cs__codec_validate_envelope(const cs_event_t *ev, bool ids_checked, cs_err_t *err);

/* ---- JSON numbers (codec_json.c) ----------------------------------------------------------- */

/*
 * The JSON text of a finite double: %.15g, or %.17g when that is needed to read back the same
 * value. The JSON writer prints it; the jsonb writer reprints it as numeric would.
 */
#define CS__CODEC_NUMBER_BYTES 40
void cs__codec_json_number(char out[CS__CODEC_NUMBER_BYTES], double d);

/* ---- jsonb (codec_jsonb.c) ----------------------------------------------------------------- */

/* Builds the jsonb key order of every type once, in cs_codec_new. */
void cs__codec_jsonb_order_build(cs_codec_t *c);

#endif /* CS_CODEC_INT_H */
