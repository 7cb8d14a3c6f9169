/*
 * libcore/src/codec.c
 *      The codec object: the event type table, schema resolution plans and reader defaults.
 *
 * This file opens the module (codec_int.h is its map). cs_codec_new() checks the compiled-in
 * fingerprints against the compiled-in canonical forms, then builds a resolution plan for every
 * known writer version of every event against its current (reader) version: writer fields are
 * matched by name, fields the reader lacks are skipped, fields the writer lacks take the reader's
 * default, ints are promoted. Decoding an old version then costs the same as decoding the current
 * one (codec_wire.c follows the plan). The plans are sorted by fingerprint, which is how the
 * decoder finds the writer schema of a message. The type lookups of cs/codec.h read the same
 * generated tables (codec_tables.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "cs/mem.h"
#include "schema.h"

/* ---- schema resolution ---------------------------------------------------------------------- */

int cs__codec_check_compat(const cs__field_desc_t *w, int wn, const cs__field_desc_t *r, int rn,
                           char *why, size_t whylen)
{
    for (int i = 0; i < rn; i++) {
        const cs__field_desc_t *rf = &r[i];
        const cs__field_desc_t *wf = NULL;
        for (int k = 0; k < wn && !wf; k++)
            if (strcmp(w[k].name, rf->name) == 0)
                wf = &w[k];
        if (!wf) {
            if (!rf->has_default) {
                snprintf(why, whylen,
                         "%s: the reader has it, the writer does not, and it has no default",
                         rf->path);
                return -1;
            }
            continue;
        }
        bool promo =
            (wf->type == CS__F_INT && (rf->type == CS__F_LONG || rf->type == CS__F_DOUBLE)) ||
            (wf->type == CS__F_LONG && rf->type == CS__F_DOUBLE);
        if (wf->type != rf->type && !promo) {
            snprintf(why, whylen, "%s: the writer's type cannot be read as the reader's", rf->path);
            return -1;
        }
        if (wf->optional && !rf->optional) {
            snprintf(why, whylen, "%s: optional in the writer but required in the reader",
                     rf->path);
            return -1;
        }
        if (rf->type == CS__F_ENUM) {
            for (int s = 0; s < wf->enm->nsymbols; s++) {
                bool found = false;
                for (int t = 0; t < rf->enm->nsymbols && !found; t++)
                    found = strcmp(wf->enm->symbols[s], rf->enm->symbols[t]) == 0;
                if (!found) {
                    snprintf(why, whylen, "%s: the writer's symbol %s is unknown to the reader",
                             rf->path, wf->enm->symbols[s]);
                    return -1;
                }
            }
        }
    }
    return 0;
}

void cs__codec_plan_fini(plan_t *pl)
{
    free(pl->steps);
    free(pl->missing);
    free(pl->maps);
    pl->steps = NULL;
    pl->missing = pl->maps = NULL;
}

/* Resolves writer version wv against reader fields r[0..rn). -1 with the reason in why. */
int cs__codec_plan_init(plan_t *pl, const cs__version_desc_t *wv, const cs__field_desc_t *r, int rn,
                        char *why, size_t whylen)
{
    size_t nmap = 0, used = 0;
    pl->wv = wv;
    pl->rfields = r;
    pl->nrfields = rn;
    if (cs__codec_check_compat(wv->fields, wv->nfields, r, rn, why, whylen) < 0)
        return -1;
    for (int i = 0; i < wv->nfields; i++)
        if (wv->fields[i].enm)
            nmap += (size_t)wv->fields[i].enm->nsymbols;
    pl->steps = cs_mem_calloc((size_t)wv->nfields + 1, sizeof *pl->steps);
    pl->missing = cs_mem_calloc((size_t)rn + 1, sizeof *pl->missing);
    pl->maps = cs_mem_calloc(nmap + 1, sizeof *pl->maps);
    for (int i = 0; i < wv->nfields; i++) {
        const cs__field_desc_t *wf = &wv->fields[i];
        step_t *st = &pl->steps[i];
        st->reader = -1;
        for (int k = 0; k < rn; k++)
            if (strcmp(r[k].name, wf->name) == 0)
                st->reader = k;
        if (st->reader < 0)
            continue;
        const cs__field_desc_t *rf = &r[st->reader];
        if (wf->type == CS__F_INT && rf->type == CS__F_LONG)
            st->conv = CONV_INT_LONG;
        else if (wf->type == CS__F_INT && rf->type == CS__F_DOUBLE)
            st->conv = CONV_INT_DOUBLE;
        else if (wf->type == CS__F_LONG && rf->type == CS__F_DOUBLE)
            st->conv = CONV_LONG_DOUBLE;
        if (rf->type == CS__F_ENUM && wf->enm != rf->enm) {
            int *map = pl->maps + used;
            used += (size_t)wf->enm->nsymbols;
            for (int sym = 0; sym < wf->enm->nsymbols; sym++) {
                map[sym] = -1;
                for (int t = 0; t < rf->enm->nsymbols; t++)
                    if (strcmp(wf->enm->symbols[sym], rf->enm->symbols[t]) == 0)
                        map[sym] = t;
            }
            st->enum_map = map;
        }
    }
    for (int k = 0; k < rn; k++) {
        bool in_writer = false;
        for (int i = 0; i < wv->nfields && !in_writer; i++)
            in_writer = pl->steps[i].reader == k;
        if (!in_writer)
            pl->missing[pl->nmissing++] = k;
    }
    return 0;
}

static int build_plan(plan_t *pl, int type, int vi, cs_err_t *err)
{
    const cs__event_desc_t *ed = &cs__events[type];
    const cs__version_desc_t *wv = &ed->versions[vi];
    char why[256];
    pl->type = type;
    pl->ev = ed;
    if (cs__codec_plan_init(pl, wv, ed->fields, ed->nfields, why, sizeof why) < 0)
        return cs_err_set(err, CS_ERR_FATAL, "schema %s v%d cannot be read by v%d: %s", ed->name,
                          wv->version, ed->versions[ed->nversions - 1].version, why);
    return 0;
}

static int fp_cmp(const void *a, const void *b)
{
    uint64_t x = ((const fp_entry_t *)a)->fp, y = ((const fp_entry_t *)b)->fp;
    return x < y ? -1 : x > y;
}

/* ---- the codec and its tables --------------------------------------------------------------- */

cs_codec_t *cs_codec_new(cs_err_t *err)
{
    cs_codec_t *c = cs_mem_calloc(1, sizeof *c);
    int total = 0;
    for (int t = 0; t < cs__nevents; t++)
        total += cs__events[t].nversions;
    c->plans = cs_mem_calloc((size_t)total, sizeof *c->plans);
    c->by_fp = cs_mem_calloc((size_t)total, sizeof *c->by_fp);
    for (int t = 0; t < cs__nevents; t++) {
        const cs__event_desc_t *ed = &cs__events[t];
        for (int v = 0; v < ed->nversions; v++) {
            const cs__version_desc_t *vd = &ed->versions[v];
            /* The fingerprints compiled in must be those of the canonical forms compiled in. */
            if (cs__schema_crc64(vd->canonical, strlen(vd->canonical)) != vd->fingerprint) {
                cs_err_set(err, CS_ERR_FATAL,
                           "schema %s v%d: compiled-in fingerprint does not match its "
                           "canonical form",
                           ed->name, vd->version);
                goto fail;
            }
            plan_t *pl = &c->plans[c->nplans];
            if (build_plan(pl, t, v, err) < 0) {
                c->nplans++; /* so that fail frees its steps */
                goto fail;
            }
            c->by_fp[c->nplans].fp = vd->fingerprint;
            c->by_fp[c->nplans].plan = pl;
            c->nplans++;
        }
    }
    qsort(c->by_fp, (size_t)c->nplans, sizeof *c->by_fp, fp_cmp);
    cs__codec_jsonb_order_build(c);
    for (int i = 1; i < c->nplans; i++)
        if (c->by_fp[i].fp == c->by_fp[i - 1].fp) {
            cs_err_set(err, CS_ERR_FATAL, "schemas %s and %s share a fingerprint",
                       c->by_fp[i].plan->ev->name, c->by_fp[i - 1].plan->ev->name);
            goto fail;
        }
    return c;
fail:
    cs_codec_destroy(c);
    return NULL;
}

void cs_codec_destroy(cs_codec_t *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nplans; i++)
        cs__codec_plan_fini(&c->plans[i]);
    free(c->plans);
    free(c->by_fp);
    free(c->jsonb_first);
    free(c->jsonb_order);
    free(c);
}

int cs_codec_ntypes(void)
{
    return cs__nevents;
}

int cs_codec_type_by_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < cs__nevents; i++)
        if (strcmp(cs__events[i].name, name) == 0)
            return i;
    return -1;
}

const char *cs_codec_type_name(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].name : NULL;
}

const char *cs_codec_type_topic(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].topic : NULL;
}

int cs_codec_type_version(int type)
{
    if (type < 0 || type >= cs__nevents)
        return -1;
    return cs__events[type].versions[cs__events[type].nversions - 1].version;
}

static const cs__version_desc_t *version_of(int type, int version)
{
    if (type < 0 || type >= cs__nevents)
        return NULL;
    const cs__event_desc_t *ed = &cs__events[type];
    if (version == 0)
        return &ed->versions[ed->nversions - 1];
    for (int i = 0; i < ed->nversions; i++)
        if (ed->versions[i].version == version)
            return &ed->versions[i];
    return NULL;
}

uint64_t cs_codec_type_fingerprint(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->fingerprint : 0;
}

const char *cs_codec_type_schema(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->schema_json : NULL;
}

const char *cs_codec_type_canonical(int type, int version)
{
    const cs__version_desc_t *v = version_of(type, version);
    return v ? v->canonical : NULL;
}

const char *cs_codec_type_example(int type)
{
    return type >= 0 && type < cs__nevents ? cs__events[type].example : NULL;
}

uint64_t cs_codec_fingerprint(const void *canonical, size_t n)
{
    return cs__schema_crc64(canonical, n);
}

void cs_codec_fingerprint_hex(uint64_t fp, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        unsigned b = (unsigned)(fp >> (8 * i)) & 0xff;
        out[2 * i] = hex[b >> 4];
        out[2 * i + 1] = hex[b & 15];
    }
    out[16] = '\0';
}

/* ---- reader defaults ------------------------------------------------------------------------ */

void cs__codec_store_default(void *payload, const cs__field_desc_t *f)
{
    void *p = field_ptr(payload, f);
    if (!f->has_default || f->default_null)
        return; /* zeroed: absent */
    set_present(payload, f);
    switch (f->type) {
    case CS__F_BOOL:
        *(bool *)p = f->default_i != 0;
        break;
    case CS__F_INT:
        *(int32_t *)p = (int32_t)f->default_i;
        break;
    case CS__F_LONG:
        *(int64_t *)p = f->default_i;
        break;
    case CS__F_DOUBLE:
        *(double *)p = f->default_d;
        break;
    case CS__F_STRING:
        *(const char **)p = f->default_s;
        break;
    case CS__F_ENUM:
        *(int *)p = (int)f->default_i;
        break;
    case CS__F_STRV:
        break; /* the only allowed default is [] */
    }
}
