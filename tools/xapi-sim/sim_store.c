#include "sim_store.h"

#include "sim_rec.h"

#include <czmq.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_TOMBSTONES 100000

typedef struct {
    sim_obj_t **v;
    size_t n, cap;
} s_vec_t;

struct sim_store_t {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    zhashx_t *by_ref;
    zhashx_t *by_uuid;
    s_vec_t *classes;
    sim_obj_t *head, *tail;
    sim_obj_t *thead, *ttail;
    size_t ntomb;
    uint64_t gen;
    uint64_t lost_gen;
    size_t ser_bytes, ser_max; /* serialized forms kept, and their bound */
    sim_buf_t ser_scratch;     /* a patched member's text */
};

static __thread uint64_t s_rng;

static uint64_t s_rand(void)
{
    if (!s_rng) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s_rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&ts;
        s_rng |= 1;
    }
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

void sim_uuid(char out[40])
{
    uint64_t a = s_rand(), b = s_rand();
    a = (a & ~0xf000ull) | 0x4000ull;                        /* version 4 */
    b = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* variant */
    snprintf(out, 40, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xffff), (unsigned)(b >> 48),
             (unsigned long long)(b & 0xffffffffffffull));
}

int64_t sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sim_store_t *sim_store_new(void)
{
    sim_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->mutex, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    self->by_ref = zhashx_new();
    self->by_uuid = zhashx_new();
    zhashx_set_key_duplicator(self->by_ref, NULL);
    zhashx_set_key_destructor(self->by_ref, NULL);
    zhashx_set_key_duplicator(self->by_uuid, NULL);
    zhashx_set_key_destructor(self->by_uuid, NULL);
    self->classes = calloc((size_t)sim_schema_count(), sizeof(s_vec_t));
    self->ser_max = SIM_STORE_SER_MAX;
    sim_buf_init(&self->ser_scratch, 256);
    return self;
}

/*  Drops the serialized forms of o (its record changed or went).                            */
static void s_ser_drop(sim_store_t *self, sim_obj_t *o)
{
    for (int m = 0; m < 2; m++) {
        if (!o->ser[m])
            continue;
        self->ser_bytes -= sim_ser_size(o->ser[m]);
        sim_ser_free(o->ser[m]);
        o->ser[m] = NULL;
    }
}

static void s_free_obj(sim_obj_t *o)
{
    sim_ser_free(o->ser[0]);
    sim_ser_free(o->ser[1]);
    free(o->rec);
    free(o);
}

void sim_store_destroy(sim_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_store_t *self = *self_p;
    for (sim_obj_t *o = self->head, *n; o; o = n) {
        n = o->next;
        s_free_obj(o);
    }
    for (int i = 0; i < sim_schema_count(); i++)
        free(self->classes[i].v);
    free(self->classes);
    sim_buf_free(&self->ser_scratch);
    zhashx_destroy(&self->by_ref);
    zhashx_destroy(&self->by_uuid);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->mutex);
    free(self);
    *self_p = NULL;
}

void sim_store_lock(sim_store_t *self)
{
    pthread_mutex_lock(&self->mutex);
}

void sim_store_unlock(sim_store_t *self)
{
    pthread_mutex_unlock(&self->mutex);
}

bool sim_store_wait(sim_store_t *self, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    return pthread_cond_timedwait(&self->cond, &self->mutex, &ts) == 0;
}

void sim_store_wake(sim_store_t *self)
{
    pthread_cond_broadcast(&self->cond);
}

static void s_unlink(sim_store_t *self, sim_obj_t *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        self->head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        self->tail = o->prev;
    o->prev = o->next = NULL;
}

static void s_append(sim_store_t *self, sim_obj_t *o)
{
    o->prev = self->tail;
    o->next = NULL;
    if (self->tail)
        self->tail->next = o;
    else
        self->head = o;
    self->tail = o;
}

/*  Marks o changed now: new generation, moved to the tail, waiters woken.                    */
static void s_changed(sim_store_t *self, sim_obj_t *o)
{
    o->gen_mod = ++self->gen;
    if (self->tail != o) {
        if (o->prev || o->next || self->head == o)
            s_unlink(self, o);
        s_append(self, o);
    }
    pthread_cond_broadcast(&self->cond);
}

static void s_vec_push(s_vec_t *v, sim_obj_t *o)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->v = realloc(v->v, v->cap * sizeof *v->v);
        if (!v->v)
            abort();
    }
    o->idx = (uint32_t)v->n;
    v->v[v->n++] = o;
}

static void s_vec_del(s_vec_t *v, sim_obj_t *o)
{
    size_t i = o->idx;
    if (i >= v->n || v->v[i] != o)
        return;
    v->v[i] = v->v[--v->n];
    v->v[i]->idx = (uint32_t)i;
}

sim_obj_t *sim_store_add(sim_store_t *self, int cls, json_t *rec, const char *ref)
{
    const sim_class_t *c = sim_schema_class(cls);
    sim_obj_t *o = calloc(1, sizeof *o);
    if (!c || !o)
        abort();
    o->cls = (int16_t)cls;
    const char *u = json_string_value(json_object_get(rec, "uuid"));
    if (u && *u && strlen(u) < sizeof o->uuid) {
        snprintf(o->uuid, sizeof o->uuid, "%s", u);
    } else {
        sim_uuid(o->uuid);
        json_object_set_new(rec, "uuid", json_string(o->uuid));
    }
    if (ref) {
        snprintf(o->ref, sizeof o->ref, "%s", ref);
    } else {
        char r[40];
        sim_uuid(r);
        snprintf(o->ref, sizeof o->ref, "OpaqueRef:%s", r);
    }
    size_t len;
    o->rec = sim_rec_encode(c, rec, &len);
    o->len = (uint32_t)len;
    zhashx_insert(self->by_ref, o->ref, o);
    zhashx_insert(self->by_uuid, o->uuid, o);
    s_vec_push(&self->classes[cls], o);
    s_changed(self, o);
    o->gen_add = o->gen_mod;
    return o;
}

sim_obj_t *sim_store_get(sim_store_t *self, const char *ref)
{
    return ref ? zhashx_lookup(self->by_ref, ref) : NULL;
}

sim_obj_t *sim_store_by_uuid(sim_store_t *self, const char *uuid)
{
    return uuid ? zhashx_lookup(self->by_uuid, uuid) : NULL;
}

json_t *sim_store_json(const sim_obj_t *obj)
{
    return sim_rec_decode(sim_schema_class(obj->cls), obj->rec, obj->len);
}

void sim_store_update(sim_store_t *self, sim_obj_t *obj, const json_t *rec)
{
    size_t len;
    uint8_t *p = sim_rec_encode(sim_schema_class(obj->cls), rec, &len);
    free(obj->rec);
    obj->rec = p;
    obj->len = (uint32_t)len;
    s_ser_drop(self, obj);
    s_changed(self, obj);
}

bool sim_store_set_field(sim_store_t *self, sim_obj_t *obj, int idx, const json_t *v)
{
    size_t len;
    const sim_class_t *c = sim_schema_class(obj->cls);
    size_t at;
    uint8_t *p = sim_rec_set_field_at(c, obj->rec, obj->len, idx, v, &len, &at);
    if (!p)
        return false;
    free(obj->rec);
    obj->rec = p;
    obj->len = (uint32_t)len;
    for (int m = 0; m < 2; m++) {
        if (!obj->ser[m])
            continue;
        self->ser_bytes -= sim_ser_size(obj->ser[m]);
        obj->ser[m] =
            sim_ser_patch(obj->ser[m], c, obj->rec, obj->len, idx, at, &self->ser_scratch);
        self->ser_bytes += sim_ser_size(obj->ser[m]);
    }
    s_changed(self, obj);
    return true;
}

void sim_store_touch(sim_store_t *self, sim_obj_t *obj)
{
    s_changed(self, obj);
}

static void s_gc_tombstones(sim_store_t *self)
{
    while (self->ntomb > S_MAX_TOMBSTONES && self->thead) {
        sim_obj_t *t = self->thead;
        self->thead = t->tnext;
        if (!self->thead)
            self->ttail = NULL;
        self->ntomb--;
        if (t->gen_mod > self->lost_gen)
            self->lost_gen = t->gen_mod;
        s_unlink(self, t);
        s_free_obj(t);
    }
}

void sim_store_remove(sim_store_t *self, sim_obj_t *obj)
{
    if (obj->deleted)
        return;
    zhashx_delete(self->by_ref, obj->ref);
    zhashx_delete(self->by_uuid, obj->uuid);
    s_vec_del(&self->classes[obj->cls], obj);
    obj->deleted = true;
    s_ser_drop(self, obj);
    free(obj->rec);
    obj->rec = NULL;
    obj->len = 0;
    s_changed(self, obj);
    if (self->ttail)
        self->ttail->tnext = obj;
    else
        self->thead = obj;
    self->ttail = obj;
    self->ntomb++;
    s_gc_tombstones(self);
}

void sim_store_write(sim_store_t *self, sim_wr_t *w, sim_obj_t *obj)
{
    const sim_class_t *c = sim_schema_class(obj->cls);
    int m = w->mode == SIM_WR_JSON ? 1 : 0;
    if (!obj->ser[m] && self->ser_bytes < self->ser_max) {
        obj->ser[m] = sim_ser_new(w->mode, c, obj->rec, obj->len);
        self->ser_bytes += sim_ser_size(obj->ser[m]);
    }
    if (!obj->ser[m] || !sim_ser_write(w, obj->ser[m]))
        sim_rec_write(w, c, obj->rec, obj->len);
}

void sim_store_set_ser_max(sim_store_t *self, size_t bytes)
{
    self->ser_max = bytes;
    if (bytes)
        return;
    for (sim_obj_t *o = self->head; o; o = o->next)
        s_ser_drop(self, o);
}

size_t sim_store_ser_bytes(sim_store_t *self)
{
    return self->ser_bytes;
}

size_t sim_store_count(sim_store_t *self, int cls)
{
    return cls >= 0 && cls < sim_schema_count() ? self->classes[cls].n : 0;
}

sim_obj_t *sim_store_at(sim_store_t *self, int cls, size_t i)
{
    return i < sim_store_count(self, cls) ? self->classes[cls].v[i] : NULL;
}

uint64_t sim_store_gen(sim_store_t *self)
{
    return self->gen;
}

uint64_t sim_store_lost_gen(sim_store_t *self)
{
    return self->lost_gen;
}

void sim_store_lose_events(sim_store_t *self)
{
    self->lost_gen = ++self->gen;
    pthread_cond_broadcast(&self->cond);
}

sim_obj_t *sim_store_last(sim_store_t *self)
{
    return self->tail;
}
