/*
 * libcore/src/worker_committer.c
 *      The committer thread: runs a pipelined batch's transaction.
 *
 * The pipeline's second thread. It waits for a job, runs its transaction on the main connection
 * and hands the result back to the loop, which learns of it through an ev_async watcher.
 */
#include <pthread.h>

#include "worker_int.h"

void *cs__worker_committer_main(void *arg)
{
    cs_worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        stage_t *s = w->job;
        pthread_mutex_unlock(&w->mu);
        cs__worker_txn_commit(&s->job);
        pthread_mutex_lock(&w->mu);
        w->job = NULL;
        w->done = s;
        pthread_cond_broadcast(&w->cv);
        ev_async_send(w->loop, &w->done_async);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}
