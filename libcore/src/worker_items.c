/*
 * libcore/src/worker_items.c
 *      A batch's events: decode, handlers, dead letters, the commit's parameters.
 *
 * A stage holds one batch. Its items are the pending messages it covers, decoded; the handlers
 * append their rows to the stage's cs_batch_t; refused events become dead letters. The stage's
 * partitions and the parameters of the commit's tail statement are computed here too, on the loop
 * thread, so that the committer only sends them.
 */
#include <stdlib.h>

#include "worker_int.h"

/* ---- handlers ---- */

static hlist_t *handlers_for(cs_worker_t *w, const cs_event_t *ev, hlist_t *tmp)
{
    hlist_t *h = (ev->type >= 0 && ev->type < MAX_TYPES) ? &w->types[ev->type] : tmp;
    if (h->built && h->name == ev->type_name)
        return h;
    memset(h, 0, sizeof *h);
    for (int i = 0; w->def->handlers[i].event_type && h->n < 8; i++) {
        const char *t = w->def->handlers[i].event_type;
        if (strcmp(t, CS_EVENT_ANY) == 0 || (ev->type_name && strcmp(t, ev->type_name) == 0))
            h->idx[h->n++] = i;
    }
    h->name = ev->type_name;
    h->built = true;
    return h;
}

/* ---- items ---- */

void cs__worker_item_dead(stage_t *s, item_t *it, const char *cls, const cs_err_t *err)
{
    it->state = IT_DEAD;
    it->dead_class = cls;
    it->err = cs_arena_alloc(s->arena, sizeof *it->err);
    *it->err = *err;
}

static const char *item_traceparent(const item_t *it, char *buf, size_t size)
{
    if (it->ev.traceparent && *it->ev.traceparent)
        return it->ev.traceparent;
    size_t n = 0;
    const void *v = cs_consumer_msg_header(it->msg, "traceparent", &n);
    if (!v)
        return "";
    if (n >= size)
        n = size - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/*
 * Whether the event's envelope is known: decoded, or a payload that failed behind a valid
 * envelope (cs_codec_decode keeps the envelope then; any other decode failure leaves ev zeroed).
 */
static bool ev_decoded(const item_t *it)
{
    return it->ev.type_name != NULL;
}

/*
 * Step 1: decode pending[base .. base + n) into the stage's items; failures become dead letters
 * right away.
 */
void cs__worker_decode_items(cs_worker_t *w, stage_t *s, int base, int n)
{
    s->n = 0;
    s->ndead = 0;
    cs__worker_decode_more(w, s, base, n);
}

/* Decodes pending[base + s->n .. base + n) after the stage's first s->n items (read-ahead). */
void cs__worker_decode_more(cs_worker_t *w, stage_t *s, int base, int n)
{
    if (s->capitems < n) {
        s->capitems = n > 2 * s->capitems ? n : 2 * s->capitems;
        s->items = cs_mem_realloc(s->items, (size_t)s->capitems * sizeof *s->items);
    }
    int from = s->n;
    s->n = n;
    for (int i = from; i < n; i++) {
        item_t *it = &s->items[i];
        cs_err_t err;
        memset(it, 0, sizeof *it);
        it->msg = w->pending[base + i];
        it->part = cs__worker_part_find(w, it->msg->topic, it->msg->partition);
        cs_err_clear(&err);
        int rc;
        if (w->def->decode)
            rc = w->def->decode(w->ud, it->msg->payload, it->msg->len, s->arena, &it->ev, &err);
        else
            rc = cs_codec_decode(w->codec, it->msg->payload, it->msg->len, s->arena, &it->ev, &err);
        if (rc < 0) {
            /* Keep the envelope the decoder vouches for (cs/codec.h), nothing less. */
            it->ev.payload = NULL;
            if (!it->ev.type_name || !memchr(it->ev.event_id, '\0', sizeof it->ev.event_id) ||
                strlen(it->ev.event_id) != 36 || strlen(it->ev.user_id) != 36) {
                memset(&it->ev, 0, sizeof it->ev);
                it->ev.type = -1;
            }
            if (err.kind == CS_ERR_NONE)
                err.kind = CS_ERR_PERMANENT;
            cs__worker_item_dead(s, it, cs_dlq_codec_class(&err), &err);
        } else {
            it->state = IT_DECODED;
        }
    }
}

/* Step 3: handlers append rows. Returns -1 (TRANSIENT/FATAL) to abandon the attempt. */
int cs__worker_run_handlers(cs_worker_t *w, stage_t *s, cs_err_t *err)
{
    hlist_t tmp;
    cs_msg_meta_t meta;
    if (w->def->batch_begin) {
        const cs_event_t **evs = cs_arena_alloc(s->arena, (size_t)(s->n + 1) * sizeof *evs);
        int k = 0;
        for (int i = 0; i < s->n; i++)
            if (s->items[i].state == IT_NEW || s->items[i].state == IT_DUP)
                evs[k++] = &s->items[i].ev;
        cs_err_clear(err);
        if (w->def->batch_begin(w->ud, evs, k, err) < 0) {
            if (err->kind != CS_ERR_TRANSIENT)
                err->kind = CS_ERR_FATAL;
            return cs_err_wrap(err, "batch_begin");
        }
    }
    for (int i = 0; i < s->n; i++) {
        item_t *it = &s->items[i];
        cs_batch_mark_event(s->batch, i);
        if (it->state != IT_NEW && it->state != IT_DUP)
            continue;
        hlist_t *h = handlers_for(w, &it->ev, &tmp);
        meta = (cs_msg_meta_t){it->msg->topic,        it->msg->partition, it->msg->offset,
                               it->msg->timestamp_ms, it->msg->key,       it->msg->key_len,
                               it->state == IT_DUP,   w->attempt + 1,     w->ud};
        for (int k = 0; k < h->n; k++) {
            const cs_handler_t *hd = &w->def->handlers[h->idx[k]];
            if (it->state == IT_DUP && !(hd->flags & CS_HANDLER_ALWAYS))
                continue;
            cs_err_t herr;
            cs_err_clear(&herr);
            if (hd->fn(s->batch, &it->ev, &meta, &herr) == 0)
                continue;
            if (herr.kind == CS_ERR_NONE)
                herr.kind = CS_ERR_PERMANENT;
            if (herr.kind != CS_ERR_PERMANENT) {
                *err = herr;
                return cs_err_wrap(err, "handler for %s", it->ev.type_name);
            }
            cs_batch_undo_event(s->batch);
            cs__worker_item_dead(s, it, "handler", &herr);
            break;
        }
        if (cs_log_level_ <= CS_LOG_DEBUG && it->state != IT_DEAD) {
            char tp[64];
            cs_log_debug(
                "event applied", CS_LS("event_id", it->ev.event_id),
                CS_LS("type", it->ev.type_name), CS_LS("topic", it->msg->topic),
                CS_LI("partition", it->msg->partition), CS_LI("offset", it->msg->offset),
                CS_LS("traceparent", w->redrive ? "" : item_traceparent(it, tp, sizeof tp)),
                CS_LI("duplicate", it->state == IT_DUP));
        }
    }
    cs_batch_seal(s->batch, s->n);
    return 0;
}

/* Where the stored offset of p must be when the next batch's compare-and-set runs. */
int64_t cs__worker_part_expected(const part_t *p)
{
    return p->flight_next >= 0 ? p->flight_next : p->committed;
}

/* The stage's partitions and the last offset of each (items are in offset order per partition). */
void cs__worker_stage_parts(cs_worker_t *w, stage_t *s)
{
    for (int i = 0; i < w->nparts; i++)
        w->parts[i]->b_in = false;
    for (int i = 0; i < s->n; i++) {
        part_t *p = s->items[i].part;
        p->b_in = true;
        p->b_last = s->items[i].msg->offset;
    }
    if (s->capbparts < w->nparts) {
        s->capbparts = w->nparts;
        s->bparts = cs_mem_realloc(s->bparts, (size_t)s->capbparts * sizeof *s->bparts);
        s->blast = cs_mem_realloc(s->blast, (size_t)s->capbparts * sizeof *s->blast);
    }
    s->nbparts = 0;
    for (int i = 0; i < w->nparts; i++) {
        part_t *p = w->parts[i];
        if (p->b_in) {
            s->bparts[s->nbparts] = p;
            s->blast[s->nbparts++] = p->b_last;
        }
    }
}

/* Marks the stage's partitions (b_in, b_last) for cs__worker_batch_committed() and
 * cs__worker_after_fence(). */
void cs__worker_stage_mark(cs_worker_t *w, const stage_t *s)
{
    for (int i = 0; i < w->nparts; i++)
        w->parts[i]->b_in = false;
    for (int k = 0; k < s->nbparts; k++) {
        s->bparts[k]->b_in = true;
        s->bparts[k]->b_last = s->blast[k];
    }
}

void cs__worker_build_dead_letters(cs_worker_t *w, stage_t *s)
{
    int k = 0, n = s->n;
    if (s->capdls < n) {
        s->capdls = n;
        s->dls = cs_mem_realloc(s->dls, (size_t)n * sizeof *s->dls);
    }
    for (int i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (it->state != IT_DEAD)
            continue;
        char *tp = cs_arena_alloc(s->arena, 64);
        bool dec = ev_decoded(it);
        s->dls[k++] = (cs_dead_letter_t){
            .topic = it->msg->topic,
            .partition = it->msg->partition,
            .offset = it->msg->offset,
            .timestamp_ms = it->msg->timestamp_ms,
            .key = it->msg->key,
            .key_len = it->msg->key_len,
            .payload = it->msg->payload ? it->msg->payload : "",
            .len = it->msg->len,
            .error_class = it->dead_class,
            .reason = it->err->msg,
            .field = it->err->field,
            .sqlstate = it->err->sqlstate,
            .event_id = dec ? it->ev.event_id : NULL,
            .event_type = dec ? it->ev.type_name : NULL,
            .user_id = dec ? it->ev.user_id : NULL,
            .schema_version = dec ? it->ev.schema_version : 0,
            .traceparent = item_traceparent(it, tp, 64),
            .attempt = w->attempt + 1,
        };
    }
    s->ndead = k;
}

/*
 * Logs the stage's dead letters once they are committed: a batch built, failed and redone builds
 * its dead letters again each time, but each event is dead-lettered (and told) once.
 */
void cs__worker_log_dead_letters(const stage_t *s)
{
    for (int i = 0; i < s->ndead; i++) {
        const cs_dead_letter_t *d = &s->dls[i];
        cs_log_warn("event dead-lettered", CS_LS("class", d->error_class),
                    CS_LS("reason", d->reason), CS_LS("field", d->field),
                    CS_LS("sqlstate", d->sqlstate), CS_LS("topic", d->topic),
                    CS_LI("partition", d->partition), CS_LI("offset", d->offset),
                    CS_LS("event_id", d->event_id ? d->event_id : ""),
                    CS_LS("event_type", d->event_type ? d->event_type : ""),
                    CS_LI("attempt", d->attempt), CS_LS("traceparent", d->traceparent));
    }
}

/*
 * The commit's parameters (worker_txn.c): the offsets, the processed ids, the learners whose events
 * are applied, and (for the synchronous path) the dead-lettered ids its dedupe marked processed.
 */
void cs__worker_tail_params(cs_worker_t *w, stage_t *s)
{
    cs_buf_t *p = s->p;
    for (int i = 0; i < TP_COUNT; i++)
        arr_begin(&p[i]);
    for (int k = 0; k < s->nbparts; k++) {
        arr_str(&p[TP_TOPIC], s->bparts[k]->topic);
        arr_int(&p[TP_KP], s->bparts[k]->partition);
        arr_int(&p[TP_EXPECTED], cs__worker_part_expected(s->bparts[k]));
        arr_int(&p[TP_NEXT], s->blast[k] + 1);
    }
    s->nmark = s->nforget = 0;
    for (int i = 0; i < s->n; i++) {
        const item_t *it = &s->items[i];
        bool mark =
            !w->def->no_dedupe && ((it->state == IT_NEW && it->was_new) || it->state == IT_ERASED);
        if (mark) {
            arr_str(&p[TP_EID], it->ev.event_id);
            arr_str(&p[TP_OUTCOME], it->state == IT_ERASED ? "s" : "a");
            arr_str(&p[TP_ETOPIC], it->msg->topic);
            arr_int(&p[TP_EKP], it->msg->partition);
            arr_int(&p[TP_EKO], it->msg->offset);
            s->nmark++;
        }
        if (it->state == IT_NEW || it->state == IT_DUP)
            arr_str(&p[TP_LEARNERS], it->ev.user_id);
        if (it->state == IT_DEAD && it->was_new && !w->def->no_dedupe) {
            arr_str(&p[TP_FORGET], it->ev.event_id);
            s->nforget++;
        }
    }
    for (int i = 0; i < TP_COUNT; i++)
        arr_end(&p[i]);
}
