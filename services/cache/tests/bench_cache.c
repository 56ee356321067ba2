/*  bench_cache — change sets of 1000 objects applied per second and object updates per
    second: through the bus (client -> xoc-bus -> xoc-cache, one change set in flight, each
    acknowledged after its durable commit) against the baseline of the same LMDB writes in
    this process (decode + validate + apply, no bus). Same data, same sync setting.

        bench_cache [CHANGE_SETS]   (default 200; 1000 objects each)                        */
#include <czmq.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_cache_cs.h"
#include "xoc_cache_store.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_testproc.h"

#define OBJECTS 1000

static int s_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void s_pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* the encoded cache.apply body of change set `seq`: 1000 VMs of ~400 bytes, all changed */
static void s_changeset(uint64_t seq, msgpack_sbuffer *out)
{
    msgpack_sbuffer ch;
    msgpack_sbuffer_init(&ch);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ch, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, OBJECTS);
    char id[64], buf[64];
    for (int i = 0; i < OBJECTS; i++) {
        snprintf(id, sizeof id, "0b5e2c6a-1f9d-4c3e-9a51-%012d", i);
        msgpack_pack_array(&pk, 4);
        s_pstr(&pk, "enter");
        s_pstr(&pk, id);
        s_pstr(&pk, "VM");
        msgpack_pack_map(&pk, 10);
        s_pstr(&pk, "id"), s_pstr(&pk, id);
        s_pstr(&pk, "type"), s_pstr(&pk, "VM");
        s_pstr(&pk, "name_label"), snprintf(buf, sizeof buf, "vm %d", i), s_pstr(&pk, buf);
        s_pstr(&pk, "power_state"), s_pstr(&pk, seq % 2 ? "Running" : "Halted");
        s_pstr(&pk, "memory"), msgpack_pack_uint64(&pk, 4294967296ull + seq);
        s_pstr(&pk, "CPUs"), msgpack_pack_uint32(&pk, 4);
        s_pstr(&pk, "$pool"), s_pstr(&pk, "7c3e1a2b-0d4f-4e5a-8b6c-9d0e1f2a3b4c");
        s_pstr(&pk, "$container"), s_pstr(&pk, "host-0001-aaaa-bbbb-cccc-dddddddddddd");
        s_pstr(&pk, "tags"), msgpack_pack_array(&pk, 2), s_pstr(&pk, "prod"), s_pstr(&pk, "web");
        s_pstr(&pk, "name_description"),
            s_pstr(&pk, "a simulated VM with a description of ordinary length, for the bench");
    }
    xoc_msg_changeset_t m = {.pool = XOC_STR("7c3e1a2b-0d4f-4e5a-8b6c-9d0e1f2a3b4c"),
                             .epoch = 1, .seq = seq, .kind = XOC_STR("delta"),
                             .changes = {(const uint8_t *)ch.data, (uint32_t)ch.size}};
    out->size = 0;
    xoc_msg_changeset_encode(&m, out);
    msgpack_sbuffer_destroy(&ch);
}

static double s_baseline(int n, msgpack_sbuffer *sets)
{
    char path[] = "/tmp/xoc-bench-cache-XXXXXX";
    if (!mkdtemp(path))
        return 0;
    int err = 0;
    xoc_cache_store_t *store = xoc_cache_store_new(path, 4ull << 30, false, &err);
    if (!store)
        return 0;
    long long t0 = xoc_test_now_ms();
    for (int i = 0; i < n; i++) {
        xoc_msg_t m;
        xoc_cache_cs_t cs;
        xoc_cache_result_t res;
        char why[256];
        if (xoc_cache_cs_decode(sets[i].data, sets[i].size, &m, &cs, why, sizeof why) ||
            xoc_cache_store_apply(store, &cs, &res, why, sizeof why) || res.count != OBJECTS) {
            fprintf(stderr, "bench_cache: baseline apply failed: %s\n", why);
            exit(1);
        }
        xoc_cache_result_clear(&res);
        xoc_cache_cs_clear(&cs);
    }
    double secs = (double)(xoc_test_now_ms() - t0) / 1000.0;
    xoc_cache_store_destroy(&store);
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return n / secs;
}

static double s_through_bus(int n, msgpack_sbuffer *sets)
{
    char path[] = "/tmp/xoc-bench-cache-XXXXXX";
    if (!mkdtemp(path))
        return 0;
    char *bargv[] = {(char *)xoc_test_bin("services/bus/xoc-bus"), "--bus.listen",
                     "tcp://127.0.0.1:*", "--log.level", "warn", NULL};
    xoc_proc_t *bus = xoc_proc_start(bargv, "xoc-bus: ready bus=", 5000);
    if (!bus)
        return 0;
    char *ep = bus->line + strlen("xoc-bus: ready bus=");
    char *cargv[] = {(char *)xoc_test_bin("services/cache/xoc-cache"), "--bus.endpoint", ep,
                     "--log.level", "warn", "--cache.path", path, NULL};
    xoc_proc_t *cache = xoc_proc_start(cargv, "xoc-cache: ready", 5000);
    xoc_bus_opts_t opts = {.heartbeat_ms = 1000, .liveness = 3};
    xoc_bus_endpoints_parse(ep, &opts);
    xoc_client_t *c = xoc_client_new(&opts);
    xoc_reply_t r;
    int rc = XOC_ENOSERVICE;
    for (long long end = xoc_test_now_ms() + 5000; rc == XOC_ENOSERVICE && xoc_test_now_ms() < end;) {
        rc = xoc_client_call(c, "cache", "cache.get", NULL, 0, 1000, &r);
        xoc_reply_clear(&r);
    }
    long long t0 = xoc_test_now_ms();
    for (int i = 0; i < n && cache; i++) {
        if (xoc_client_call(c, "cache", "cache.apply", sets[i].data, sets[i].size, 30000, &r)) {
            fprintf(stderr, "bench_cache: apply failed: %s\n", r.reason);
            exit(1);
        }
        xoc_reply_clear(&r);
    }
    double secs = (double)(xoc_test_now_ms() - t0) / 1000.0;
    xoc_client_destroy(&c);
    xoc_proc_stop(&cache);
    xoc_proc_stop(&bus);
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return n / secs;
}

int main(int argc, char **argv)
{
    zsys_init();
    zsys_set_logstream(NULL);
    int n = argc > 1 ? atoi(argv[1]) : 200;
    n = n > 0 ? n : 200;
    msgpack_sbuffer *sets = calloc((size_t)n, sizeof *sets);
    for (int i = 0; i < n; i++) {
        msgpack_sbuffer_init(&sets[i]);
        s_changeset((uint64_t)i + 1, &sets[i]);
    }
    printf("== %d change sets of %d objects (%zu bytes each), full LMDB sync\n", n, OBJECTS,
           sets[0].size);
    double base = s_baseline(n, sets);
    double bus = s_through_bus(n, sets);
    printf("  baseline (same LMDB writes, in process)  %8.1f change sets/s  %9.0f updates/s\n",
           base, base * OBJECTS);
    printf("  through xoc-bus to xoc-cache             %8.1f change sets/s  %9.0f updates/s\n",
           bus, bus * OBJECTS);
    printf("  ratio bus/baseline %.2f; goal >= 50000 updates/s through the cache: %s\n",
           base > 0 ? bus / base : 0, bus * OBJECTS >= 50000 ? "ok" : "missed");
    fputc(0x0a, stdout);
    for (int i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&sets[i]);
    free(sets);
    return base > 0 && bus > 0 ? 0 : 1;
}
