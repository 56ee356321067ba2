/*  xoc-events — the ops tap: subscribes to topic prefixes on the bus and prints every
    message as one JSON line (NDJSON): {"topic":..., "t":..., "v":1, <fields>}.
        xoc-events sys.                 heartbeats and life events of every service
        xoc-events obj.VM. task.        VM changes and tasks
    --count N stops after N messages (exit 1 if --timeout comes first); --timeout S stops
    after S seconds; --pretty prints indented JSON for humans.                           */
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_service.h"

static const xoc_cfg_key_t s_keys[] = {
    {"count", XOC_CFG_INT, "0", 0, INT32_MAX, "stop after N messages (0: no limit)"},
    {"timeout", XOC_CFG_INT, "0", 0, 86400 * 365, "stop after S seconds (0: never)"},
    {"pretty", XOC_CFG_BOOL, "false", 0, 0, "indented JSON instead of one line per message"},
    XOC_CFG_END};

static json_t *s_render(zmsg_t *m)
{
    char *topic = zmsg_popstr(m);
    zframe_t *body = zmsg_pop(m);
    xoc_msg_t msg;
    json_t *o = json_object();
    json_object_set_new(o, "topic", json_string(topic ? topic : ""));
    if (body && xoc_msg_decode(&msg, zframe_data(body), zframe_size(body)) == 0)
    {
        json_t *fields = xoc_json_from_msg(&msg);
        json_object_update(o, fields);
        json_decref(fields);
    }
    else {
        json_object_set_new(o, "error", json_string(body ? msg.why : "no message frame"));
        if (body)
            json_object_set_new(o, "raw", xoc_json_base64(zframe_data(body), zframe_size(body)));
    }
    zframe_destroy(&body);
    zstr_free(&topic);
    return o;
}

int main(int argc, char **argv)
{
    const xoc_cfg_key_t *tables[] = {xoc_service_cfg_keys, xoc_bus_cfg_keys, s_keys, NULL};
    char err[512];
    bool help;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        printf("xoc-events — print bus events as JSON lines. Arguments: topic prefixes "
               "(none: every topic).\n\n");
    xoc_cfg_t *cfg = xoc_cfg_new("xoc-events [TOPIC-PREFIX]...", tables, argc, argv, &help, err,
                                 sizeof err);
    if (!cfg) {
        fprintf(stderr, "xoc-events: %s\n", err);
        return 2;
    }
    if (help)
        return 0;
    int level = xoc_log_level_parse(xoc_cfg_str(cfg, "log.level"));
    xoc_log_init("xoc-events", level < 0 ? XOC_LOG_INFO : (xoc_log_level_t)level);
    zsys_init();
    zsys_set_logstream(NULL);
    xoc_bus_opts_t opts;
    if (xoc_bus_opts_load(&opts, cfg) != 0)
        return 2;
    zsock_t *sub = xoc_bus_connect(ZMQ_SUB, opts.sub, &opts);
    if (!sub)
        return 1;
    if (xoc_cfg_argc(cfg) == 0)
        zsock_set_subscribe(sub, "");
    for (int i = 0; i < xoc_cfg_argc(cfg); i++)
        zsock_set_subscribe(sub, xoc_cfg_arg(cfg, i));

    long count = (long)xoc_cfg_int(cfg, "count"), seen = 0;
    int64_t timeout = xoc_cfg_int(cfg, "timeout") * 1000;
    int64_t end = timeout ? xoc_bus_now_ms() + timeout : INT64_MAX;
    size_t flags = xoc_cfg_bool(cfg, "pretty") ? JSON_INDENT(2) : JSON_COMPACT;
    flags |= JSON_PRESERVE_ORDER;
    zpoller_t *poller = zpoller_new(sub, NULL);
    while (!zsys_interrupted && (count == 0 || seen < count)) {
        int64_t left = end - xoc_bus_now_ms();
        if (left <= 0)
            break;
        if (!zpoller_wait(poller, (int)(left < 1000 ? left : 1000)))
            continue;
        zmsg_t *m = zmsg_recv(sub);
        if (!m)
            continue;
        json_t *o = s_render(m);
        char *line = json_dumps(o, flags);
        if (line) {
            fputs(line, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            free(line);
        }
        json_decref(o);
        zmsg_destroy(&m);
        seen++;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sub);
    xoc_bus_opts_clear(&opts);
    xoc_cfg_destroy(&cfg);
    return count && seen < count ? 1 : 0;
}
