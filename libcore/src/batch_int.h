/*
 * libcore/src/batch_int.h
 *      The batch module's private map: binary COPY encoding (batch_binary.c) for batch.c.
 *
 * A flush that COPYs a table whose every staged column has a type below sends PostgreSQL's
 * binary COPY format instead of text, so the server runs each type's cheap receive function
 * instead of its input function (timestamptz_in, numeric_in, uuid_in, int8in ... parse text).
 * The row buffers stay COPY text (the fold and the array path read them): the binary rows are
 * encoded from them at flush time, field by field, by the column's type.
 *
 * The encoders are exact or decline: a field is encoded only when its text is in a form whose
 * value the encoder computes exactly as PostgreSQL's input function would (e.g. a timestamptz
 * with an explicit offset, a plain decimal numeric); for anything else (other spellings,
 * out-of-range or invalid values, a NUL byte) it declines, and the flush sends that table's range
 * as text, as before. So a value that does not fit its column still fails the flush with
 * PostgreSQL's own error (22*, 23*: PERMANENT) naming the column, and the rows stored are the same
 * either way. Checks that depend on the column's modifier (varchar(n), numeric(p,s)) and on the
 * encoding (UTF-8 validity) are made by the receive functions as by the input functions.
 */
#ifndef CS_BATCH_INT_H
#define CS_BATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs/buf.h"

typedef enum cs__bin_type {
    CS__BIN_NONE = 0, /* no binary encoder: the table is sent as text */
    CS__BIN_BYTES,    /* text, varchar, bpchar, enums, json: the value's bytes */
    CS__BIN_JSONB,    /* version byte 1, then the text */
    CS__BIN_BOOL,
    CS__BIN_INT2,
    CS__BIN_INT4,
    CS__BIN_INT8,
    CS__BIN_FLOAT4,
    CS__BIN_FLOAT8,
    CS__BIN_NUMERIC,
    CS__BIN_UUID,
    CS__BIN_TIMESTAMPTZ,
    CS__BIN_DATE,
    CS__BIN_BYTEA
} cs__bin_type_t;

/*
 * A column's encoder: of a scalar type, or (array) of a one-dimensional array of one, whose
 * element type has the oid elem_oid (array_recv checks it against the column's).
 */
typedef struct cs__bin_col {
    cs__bin_type_t type; /* the element's type for an array */
    bool array;
    uint32_t elem_oid;
} cs__bin_col_t;

/*
 * The encoder of a column type, from pg_type's typname (unqualified, of the pg_catalog
 * namespace) and typtype ('e' for an enum: any name); for a domain, those of its base type
 * (PostgreSQL's receive function of a domain is its base type's, then the domain's checks, so a
 * value that breaks them fails the binary COPY as the text one). CS__BIN_NONE when there is none.
 */
cs__bin_type_t cs__bin_type_of(const char *typname, char typtype, bool in_catalog);

/*
 * Appends the value s (n bytes, the value's text with COPY escapes already undone) of a column
 * of the given type as one binary COPY field: a big-endian int32 length and the bytes. s == NULL
 * appends a NULL (length -1). Returns 0, or -1 (out unchanged) when the encoder declines the
 * text (see above).
 */
int cs__bin_field(cs_buf_t *out, cs__bin_type_t type, const char *s, size_t n);

/*
 * Appends the array literal s (n bytes, COPY escapes undone) of a column whose elements have type
 * elem (oid elem_oid) as one binary COPY field in array_send's form: int32 ndim (0 or 1), int32
 * has-null flag, int32 element oid, for one dimension its int32 length and lower bound (1), then
 * each element as a field of elem (cs__bin_field). Takes only the spellings whose value it
 * computes exactly as array_in does: "{}", or "{" elements "}" separated by commas, each
 * double-quoted (a backslash escapes the next character) or unquoted (no whitespace, quote,
 * backslash or brace; NULL in any case is a NULL element), and declines (-1, out unchanged) the
 * rest: whitespace outside quotes, dimension decorations ([1:2]={...}), nested braces (more
 * dimensions), empty elements, and elements elem declines. scratch holds unescaped elements.
 */
int cs__bin_array(cs_buf_t *out, cs__bin_type_t elem, uint32_t elem_oid, const char *s, size_t n,
                  cs_buf_t *scratch);

/*
 * Encodes the COPY text rows [p, end) (ncols tab-separated fields each, newline-terminated) as a
 * whole binary COPY stream (signature, header, tuples, trailer) into out (reset first).
 * scratch[0] holds unescaped field text, scratch[1] an array's unescaped element. Returns 0, or
 * -1 when a field is declined (*bad_col: its column).
 */
int cs__bin_rows(cs_buf_t *out, const cs__bin_col_t *cols, int ncols, const char *p,
                 const char *end, cs_buf_t scratch[2], int *bad_col);

static inline int cs__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * The character a COPY text escape stands for: f[*i] is the backslash, f[*i + 1] the escape
 * (\b \f \n \r \t \v, \xH[H], \o[o[o]], or any other character standing for itself); *i is left
 * on the escape's last character. (PostgreSQL's CopyReadAttributesText.)
 */
static inline unsigned char cs__copy_unescape(const char *f, size_t n, size_t *i)
{
    char e = f[++*i];

    switch (e) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'v':
        return '\v';
    case 'x':
        if (*i + 1 < n && cs__hexval(f[*i + 1]) >= 0) {
            int v = cs__hexval(f[++*i]);
            if (*i + 1 < n && cs__hexval(f[*i + 1]) >= 0)
                v = v * 16 + cs__hexval(f[++*i]);
            return (unsigned char)v;
        }
        return 'x';
    default:
        if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int k = 0; k < 2 && *i + 1 < n && f[*i + 1] >= '0' && f[*i + 1] <= '7'; k++)
                v = v * 8 + (f[++*i] - '0');
            return (unsigned char)(v & 0xff);
        }
        return (unsigned char)e; /* \\ and any other escaped character stand for it */
    }
}

#endif /* CS_BATCH_INT_H */
