/*  sim_xva — XVA streams: a writer that produces a VM export (ustar via libarchive: ova.xml,
    then Ref:<n>/<8-digit index> 1 MiB chunks each followed by its .checksum (SHA-1), sparse,
    first and last chunk always present) on demand, and a reader that checks an uploaded XVA
    as it arrives (fed by push, parsed by libarchive on a thread).                           */
#ifndef SIM_XVA_H
#define SIM_XVA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIM_XVA_CHUNK (1024 * 1024)

typedef struct sim_xva_writer_t sim_xva_writer_t;

typedef struct {
    char id[16];   /* "Ref:3" */
    char uuid[40]; /* VDI uuid: seeds the deterministic content */
    int64_t size;  /* virtual size, bytes */
} sim_xva_disk_t;

/*  The writer takes a copy of ova_xml and disks. compression: NULL/"false" none, "true" or
    "gzip" gzip (use_compression of /export; "zstd" is served uncompressed: this libarchive's
    zstd round trip failed in tests).                       */
sim_xva_writer_t *sim_xva_writer_new(const char *ova_xml, size_t len, const sim_xva_disk_t *disks,
                                     int ndisks, const char *compression);
void sim_xva_writer_destroy(sim_xva_writer_t **self_p);
/*  Fills buf with up to max bytes; returns the count, 0 at the end, -1 on error.            */
ssize_t sim_xva_writer_read(sim_xva_writer_t *self, char *buf, size_t max);
/*  Fraction of the disk data produced so far (0..1).                                         */
double sim_xva_writer_progress(sim_xva_writer_t *self);

/*  Deterministic content of chunk idx of a disk; returns false for an all-zero chunk.       */
bool sim_xva_chunk(const char *uuid, uint64_t idx, uint64_t nchunks, uint8_t *buf);

typedef struct sim_xva_reader_t sim_xva_reader_t;

/*  Starts the reader thread. force: accept checksum mismatches.                             */
sim_xva_reader_t *sim_xva_reader_new(bool force);
/*  Feeds bytes; returns -1 once the reader has failed (further data is discarded).         */
int sim_xva_reader_feed(sim_xva_reader_t *self, const char *data, size_t len);
/*  True once the reader has seen the end of the archive (or failed): the rest of the upload
    can be discarded.                                                                        */
bool sim_xva_reader_done(sim_xva_reader_t *self);
/*  Ends the input and waits for the reader. Returns 0 with *ova (the ova.xml value as JSON,
    caller owns) and *bytes (disk bytes seen), or -1 with *err (["IMPORT_ERROR", msg]).      */
int sim_xva_reader_finish(sim_xva_reader_t *self, json_t **ova, uint64_t *bytes, json_t **err);
void sim_xva_reader_destroy(sim_xva_reader_t **self_p);

#endif
