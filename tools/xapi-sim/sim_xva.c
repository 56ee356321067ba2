#include "sim_xva.h"

#include "sim_buf.h"
#include "sim_rpc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/*  Writer                                                                                    */

struct sim_xva_writer_t {
    struct archive *ar;
    sim_buf_t out; /* bytes produced by libarchive, not yet read */
    size_t out_pos;
    char *ova;
    size_t ova_len;
    sim_xva_disk_t *disks;
    int ndisks;
    int disk;       /* current disk; -1 = ova.xml not yet written */
    uint64_t chunk; /* next chunk index of the current disk */
    uint64_t total_chunks, done_chunks;
    uint8_t *buf;
    bool closed;
};

static la_ssize_t s_write_cb(struct archive *a, void *ctx, const void *data, size_t n)
{
    sim_xva_writer_t *self = ctx;
    sim_buf_add(&self->out, data, n);
    return (la_ssize_t)n;
}

bool sim_xva_chunk(const char *uuid, uint64_t idx, uint64_t nchunks, uint8_t *buf)
{
    bool data = idx == 0 || idx + 1 == nchunks || idx % 16 == 0;
    memset(buf, 0, SIM_XVA_CHUNK);
    if (!data)
        return false;
    int n = snprintf((char *)buf, 128, "xapi-sim disk %s block %08llu\n", uuid,
                     (unsigned long long)idx);
    for (size_t i = (size_t)n; i < 4096; i++)
        buf[i] = (uint8_t)((idx * 31 + i * 7 + (unsigned char)uuid[i % 36]) & 0xff);
    return true;
}

sim_xva_writer_t *sim_xva_writer_new(const char *ova_xml, size_t len, const sim_xva_disk_t *disks,
                                     int ndisks, const char *compression)
{
    sim_xva_writer_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    sim_buf_init(&self->out, 2 * SIM_XVA_CHUNK);
    self->ova = malloc(len + 1);
    memcpy(self->ova, ova_xml, len);
    self->ova_len = len;
    self->disks = calloc((size_t)(ndisks > 0 ? ndisks : 1), sizeof *self->disks);
    if (ndisks > 0)
        memcpy(self->disks, disks, (size_t)ndisks * sizeof *disks);
    self->ndisks = ndisks;
    self->disk = -1;
    self->buf = malloc(SIM_XVA_CHUNK);
    for (int i = 0; i < ndisks; i++)
        self->total_chunks += (uint64_t)((disks[i].size + SIM_XVA_CHUNK - 1) / SIM_XVA_CHUNK);
    self->ar = archive_write_new();
    archive_write_set_format_ustar(self->ar);
    archive_write_set_bytes_per_block(self->ar, 512);
    if (compression && (!strcmp(compression, "true") || !strcmp(compression, "gzip"))) {
        archive_write_add_filter_gzip(self->ar);
        archive_write_set_filter_option(self->ar, "gzip", "timestamp", NULL);
    }
    if (archive_write_open2(self->ar, self, NULL, s_write_cb, NULL, NULL) != ARCHIVE_OK) {
        sim_xva_writer_destroy(&self);
        return NULL;
    }
    return self;
}

void sim_xva_writer_destroy(sim_xva_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_xva_writer_t *self = *self_p;
    if (self->ar)
        archive_write_free(self->ar);
    sim_buf_free(&self->out);
    free(self->ova);
    free(self->disks);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

static int s_member(sim_xva_writer_t *self, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 0, 0);
    int rc = archive_write_header(self->ar, e) == ARCHIVE_OK &&
                     archive_write_data(self->ar, data, len) == (la_ssize_t)len
                 ? 0
                 : -1;
    archive_entry_free(e);
    return rc;
}

/*  Produces the next member(s) into self->out; returns -1 on error.                         */
static int s_produce(sim_xva_writer_t *self)
{
    if (self->disk < 0) {
        self->disk = 0;
        return s_member(self, "ova.xml", self->ova, self->ova_len);
    }
    while (self->disk < self->ndisks) {
        sim_xva_disk_t *d = &self->disks[self->disk];
        uint64_t n = (uint64_t)((d->size + SIM_XVA_CHUNK - 1) / SIM_XVA_CHUNK);
        if (self->chunk >= n) {
            self->disk++;
            self->chunk = 0;
            continue;
        }
        uint64_t idx = self->chunk++;
        self->done_chunks++;
        if (!sim_xva_chunk(d->uuid, idx, n, self->buf))
            continue;
        char name[64], hex[41];
        uint8_t sha[20];
        snprintf(name, sizeof name, "%s/%08llu", d->id, (unsigned long long)idx);
        gnutls_hash_fast(GNUTLS_DIG_SHA1, self->buf, SIM_XVA_CHUNK, sha);
        for (int i = 0; i < 20; i++)
            snprintf(hex + 2 * i, 3, "%02x", sha[i]);
        if (s_member(self, name, self->buf, SIM_XVA_CHUNK) != 0)
            return -1;
        strcat(name, ".checksum");
        return s_member(self, name, hex, 40);
    }
    if (!self->closed) {
        self->closed = true;
        return archive_write_close(self->ar) == ARCHIVE_OK ? 0 : -1;
    }
    return 0;
}

ssize_t sim_xva_writer_read(sim_xva_writer_t *self, char *buf, size_t max)
{
    while (self->out_pos >= self->out.len) {
        self->out.len = 0;
        self->out_pos = 0;
        if (self->closed)
            return 0;
        if (s_produce(self) != 0)
            return -1;
    }
    size_t n = self->out.len - self->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, self->out.data + self->out_pos, n);
    self->out_pos += n;
    return (ssize_t)n;
}

double sim_xva_writer_progress(sim_xva_writer_t *self)
{
    return self->total_chunks ? (double)self->done_chunks / (double)self->total_chunks : 1.0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Reader                                                                                    */

struct sim_xva_reader_t {
    int fds[2];
    pthread_t thread;
    bool force;
    _Atomic bool failed; /* set by the thread */
    _Atomic bool done;   /* the thread has parsed the whole archive */
    char why[256];
    json_t *ova;
    uint64_t bytes;
    uint8_t *chunk; /* one chunk, for its checksum */
};

static int s_fail(sim_xva_reader_t *self, const char *fmt, const char *arg)
{
    snprintf(self->why, sizeof self->why, fmt, arg);
    self->failed = true;
    return -1;
}

/*  Checks a .checksum member against the SHA-1 of the chunk that preceded it.                */
static int s_checksum(sim_xva_reader_t *self, struct archive *a, const char *name,
                      const char *last_chunk, const uint8_t sha[20])
{
    char want[64] = {0}, hex[41];
    la_ssize_t n = archive_read_data(a, want, sizeof want - 1);
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    size_t base = strlen(name) - strlen(".checksum");
    if (strncmp(name, last_chunk, base) != 0 || last_chunk[base] != '\0')
        return s_fail(self, "checksum without its chunk: %s", name);
    if (n < 40 || strncasecmp(want, hex, 40) != 0) {
        if (!self->force)
            return s_fail(self, "checksum mismatch: %s", name);
    }
    return 0;
}

static int s_read_ova(sim_xva_reader_t *self, struct archive *a, la_int64_t size)
{
    if (size < 0 || size > 64 * 1024 * 1024)
        return s_fail(self, "ova.xml too large%s", "");
    char *x = malloc((size_t)size + 1);
    la_ssize_t n = archive_read_data(a, x, (size_t)size);
    self->ova = n == size ? sim_rpc_xml_value(x, (size_t)n) : NULL;
    free(x);
    return self->ova ? 0 : s_fail(self, "malformed ova.xml%s", "");
}

static int s_read_chunk(sim_xva_reader_t *self, struct archive *a, uint8_t sha[20])
{
    uint8_t *buf = self->chunk;
    size_t got = 0;
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf + got, SIM_XVA_CHUNK - got);
        if (n < 0)
            return s_fail(self, "truncated chunk%s", "");
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == SIM_XVA_CHUNK)
            break;
    }
    self->bytes += got;
    gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, got, sha);
    return 0;
}

static void *s_reader(void *arg)
{
    sim_xva_reader_t *self = arg;
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    struct archive_entry *e;
    char last[128] = "";
    uint8_t sha[20] = {0};
    if (archive_read_open_fd(a, self->fds[0], 64 * 1024) != ARCHIVE_OK) {
        s_fail(self, "not an XVA: %s", archive_error_string(a));
        goto cleanup_archive;
    }
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK && !self->failed) {
        const char *name = archive_entry_pathname(e);
        size_t len = strlen(name);
        if (!strcmp(name, "ova.xml"))
            s_read_ova(self, a, archive_entry_size(e));
        else if (len > 9 && !strcmp(name + len - 9, ".checksum"))
            s_checksum(self, a, name, last, sha);
        else if (len > 7 && !strcmp(name + len - 7, ".xxhash"))
            ; /* xxHash64 is not checked by the simulator */
        else if (!strncmp(name, "Ref:", 4) && s_read_chunk(self, a, sha) == 0)
            snprintf(last, sizeof last, "%s", name);
    }
    if (!self->failed && rc != ARCHIVE_EOF)
        s_fail(self, "not an XVA: %s", archive_error_string(a) ?: "truncated");
    if (!self->failed && !self->ova)
        s_fail(self, "missing ova.xml%s", "");
cleanup_archive:
    archive_read_free(a);
    self->done = true;
    /* drain, so that the feeder never blocks on a reader that stopped */
    char sink[65536];
    while (read(self->fds[0], sink, sizeof sink) > 0)
        ;
    return NULL;
}

sim_xva_reader_t *sim_xva_reader_new(bool force)
{
    sim_xva_reader_t *self = calloc(1, sizeof *self);
    if (!self || pipe(self->fds) != 0) {
        free(self);
        return NULL;
    }
    self->force = force;
    self->chunk = malloc(SIM_XVA_CHUNK);
    if (!self->chunk || pthread_create(&self->thread, NULL, s_reader, self) != 0) {
        close(self->fds[0]);
        close(self->fds[1]);
        free(self->chunk);
        free(self);
        return NULL;
    }
    return self;
}

int sim_xva_reader_feed(sim_xva_reader_t *self, const char *data, size_t len)
{
    while (len > 0 && self->fds[1] >= 0) {
        ssize_t n = write(self->fds[1], data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return self->failed ? -1 : 0;
}

bool sim_xva_reader_done(sim_xva_reader_t *self)
{
    return self->done;
}

int sim_xva_reader_finish(sim_xva_reader_t *self, json_t **ova, uint64_t *bytes, json_t **err)
{
    if (self->fds[1] >= 0) {
        close(self->fds[1]);
        self->fds[1] = -1;
        pthread_join(self->thread, NULL);
        close(self->fds[0]);
        self->fds[0] = -1;
    }
    if (self->failed) {
        *err = json_pack("[s,s]", "IMPORT_ERROR", self->why);
        return -1;
    }
    *ova = self->ova;
    self->ova = NULL;
    *bytes = self->bytes;
    return 0;
}

void sim_xva_reader_destroy(sim_xva_reader_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_xva_reader_t *self = *self_p;
    json_t *ova = NULL, *err = NULL;
    uint64_t b;
    sim_xva_reader_finish(self, &ova, &b, &err);
    json_decref(ova);
    json_decref(err);
    json_decref(self->ova);
    free(self->chunk);
    free(self);
    *self_p = NULL;
}
