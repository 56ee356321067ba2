/*  xoc_api_work — one thread for blocking work (Argon2id hashing), so that the loop that
    serves clients never blocks. Jobs go by pointer over an inproc PAIR and come back on
    the loop.                                                                              */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"

typedef struct {
    xoc_api_work_fn *fn, *done;
    void *arg;
} s_job_t;

struct _xoc_api_work_t {
    zactor_t *actor;
    zloop_t *loop;
};

static void s_actor(zsock_t *pipe, void *unused)
{
    zsock_signal(pipe, 0);
    for (;;) {
        zframe_t *f = zframe_recv(pipe);
        if (!f || zframe_streq(f, "$TERM")) {
            zframe_destroy(&f);
            break;
        }
        s_job_t *job = NULL;
        if (zframe_size(f) == sizeof job) {
            memcpy(&job, zframe_data(f), sizeof job);
            job->fn(job->arg);
        }
        zframe_send(&f, pipe, 0);
    }
}

static int s_on_done(zloop_t *loop, zsock_t *sock, void *arg)
{
    zframe_t *f = zframe_recv(sock);
    s_job_t *job = NULL;
    if (f && zframe_size(f) == sizeof job) {
        memcpy(&job, zframe_data(f), sizeof job);
        job->done(job->arg);
        free(job);
    }
    zframe_destroy(&f);
    return 0;
}

xoc_api_work_t *xoc_api_work_new(zloop_t *loop)
{
    xoc_api_work_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->actor = zactor_new(s_actor, NULL);
    if (!self->actor || zloop_reader(loop, zactor_sock(self->actor), s_on_done, self) != 0) {
        xoc_api_work_destroy(&self);
        return NULL;
    }
    return self;
}

void xoc_api_work_destroy(xoc_api_work_t **self_p)
{
    xoc_api_work_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    if (self->actor)
        zloop_reader_end(self->loop, zactor_sock(self->actor));
    zactor_destroy(&self->actor); /* jobs still queued are lost with their memory: at exit */
    free(self);
}

int xoc_api_work_run(xoc_api_work_t *self, xoc_api_work_fn *fn, xoc_api_work_fn *done,
                     void *arg)
{
    s_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return XOC_ENOMEM;
    *job = (s_job_t){fn, done, arg};
    zframe_t *f = zframe_new(&job, sizeof job);
    if (!f || zframe_send(&f, zactor_sock(self->actor), 0) != 0) {
        zframe_destroy(&f);
        free(job);
        return XOC_EIO;
    }
    return 0;
}
