/*
 * libcore/src/worker_committer.c
 *      The committer thread: takes a job, runs its transaction, hands the result back.
 *
 * The pipeline's second thread, kept behind a job struct the way Redis keeps its background I/O
 * (bio.c). The loop submits one job (cs__worker_job_t: a prepared stage, the main connection,
 * the dlq and the settings the transaction needs) at a time; the thread runs its transaction
 * (cs__worker_txn_commit), parks the finished job in `done` and wakes the loop through its
 * ev_async watcher; the loop takes the job back with cs__worker_committer_wait. The thread never
 * sees the cs_worker_t: what it may touch is what the job names, and the loop leaves those alone
 * while the job is out. Its own state is this struct, under its mutex.
 */
#include <pthread.h>
#include <stdlib.h>

#include "worker_int.h"

struct cs__worker_committer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cs__worker_job_t *job;  /* mu: submitted, not yet done */
    cs__worker_job_t *done; /* mu: done, not yet taken back by the loop */
    bool quit;              /* mu */
    /* the loop's watcher to wake when a job is done (ev_async_send is thread-safe) */
    struct ev_loop *loop;
    ev_async *done_async;
};

static void *committer_main(void *arg)
{
    cs__worker_committer_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->job && !c->quit)
            pthread_cond_wait(&c->cv, &c->mu);
        if (!c->job)
            break;
        cs__worker_job_t *job = c->job;
        pthread_mutex_unlock(&c->mu);
        cs__worker_txn_commit(job);
        job->stage->t_done = mono_s();
        pthread_mutex_lock(&c->mu);
        c->job = NULL;
        c->done = job;
        pthread_cond_broadcast(&c->cv);
        ev_async_send(c->loop, c->done_async);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

cs__worker_committer_t *cs__worker_committer_start(struct ev_loop *loop, ev_async *done_async,
                                                   cs_err_t *err)
{
    cs__worker_committer_t *c = cs_mem_calloc(1, sizeof *c);
    c->loop = loop;
    c->done_async = done_async;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int prc = pthread_create(&c->thread, NULL, committer_main, c);
    if (prc != 0) {
        cs_err_set(err, CS_ERR_FATAL, "cannot start the committer thread: %s", strerror(prc));
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    return c;
}

void cs__worker_committer_submit(cs__worker_committer_t *c, cs__worker_job_t *job)
{
    pthread_mutex_lock(&c->mu);
    c->job = job;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

cs__worker_job_t *cs__worker_committer_wait(cs__worker_committer_t *c)
{
    pthread_mutex_lock(&c->mu);
    while (!c->done)
        pthread_cond_wait(&c->cv, &c->mu);
    cs__worker_job_t *job = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    return job;
}

void cs__worker_committer_stop(cs__worker_committer_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
