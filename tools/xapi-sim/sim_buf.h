/*  sim_buf — a growable byte buffer with the escapes the simulator writes (JSON, XML).
    Allocation failure aborts: the simulator is a test tool and a half-written answer is
    worse than a clear crash.                                                                 */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} sim_buf_t;

void sim_buf_init(sim_buf_t *b, size_t cap);
void sim_buf_free(sim_buf_t *b);
void sim_buf_reset(sim_buf_t *b);
void sim_buf_reserve(sim_buf_t *b, size_t extra);
void sim_buf_add(sim_buf_t *b, const void *p, size_t n);
void sim_buf_adds(sim_buf_t *b, const char *s);
void sim_buf_addc(sim_buf_t *b, char c);
void sim_buf_printf(sim_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*  Appends s (n bytes) as the inside of a JSON string (no quotes).                           */
void sim_buf_json_esc(sim_buf_t *b, const char *s, size_t n);
/*  Appends s (n bytes) as XML text (& < > escaped).                                         */
void sim_buf_xml_esc(sim_buf_t *b, const char *s, size_t n);
/*  Takes the data out (caller frees); the buffer is empty afterwards.                        */
char *sim_buf_take(sim_buf_t *b, size_t *len);

#endif
