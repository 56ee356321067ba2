/*  xoc-call — calls any bus method and prints the reply as JSON (the request/reply twin of
    xoc-events). The body is given as JSON: {"t": "<message>", <fields>}; msgpack fields
    (objects, lists) are written as plain JSON, binary fields as base64.
        xoc-call cache config.set '{"t":"cfg","db":"servers","key":"s1","value":{"host":"..."}}'
        xoc-call cache cache.get '{"t":"get","id":"<uuid>"}'
        xoc-call collector collector.status
    Exit status: 0 on success, 1 on an error reply (printed as {"error":...}), 2 on bad use. */
#include <czmq.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_service.h"

static const xoc_cfg_key_t s_keys[] = {
    {"timeout", XOC_CFG_INT, "10000", 1, 3600000, "deadline of the call, in ms"},
    {"pretty", XOC_CFG_BOOL, "false", 0, 0, "indented JSON"},
    XOC_CFG_END};

/* JSON body -> proto message bytes, through the message's field table */
static int s_encode(json_t *body, msgpack_sbuffer *out, char *err, size_t errlen)
{
    const char *t = json_string_value(json_object_get(body, "t"));
    xoc_msg_type_t type = xoc_msg_type_from_name(t);
    if (type == XOC_MSG_NONE) {
        snprintf(err, errlen, "unknown message type \"t\": %s", t ? t : "(none)");
        return XOC_EINVAL;
    }
    xoc_msg_t m;
    memset(&m, 0, sizeof m);
    size_t n;
    const xoc_msg_field_t *f = xoc_msg_fields(type, &n);
    msgpack_sbuffer mp[16];
    unsigned char *bins[16] = {0};
    int nmp = 0, rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *v = json_object_get(body, f[i].name);
        char *p = (char *)&m.req + f[i].offset;
        if (!v)
            continue;
        switch (f[i].type) {
        case XOC_FT_STR: *(xoc_str_t *)p = xoc_str(json_string_value(v)); break;
        case XOC_FT_U64: *(uint64_t *)p = (uint64_t)json_integer_value(v); break;
        case XOC_FT_I64: *(int64_t *)p = json_integer_value(v); break;
        case XOC_FT_F64: *(double *)p = json_number_value(v); break;
        case XOC_FT_BOOL: *(bool *)p = json_is_true(v); break;
        case XOC_FT_MP:
            msgpack_sbuffer_init(&mp[nmp]);
            xoc_json_to_mp(v, &mp[nmp]);
            *(xoc_bin_t *)p = (xoc_bin_t){(const uint8_t *)mp[nmp].data, (uint32_t)mp[nmp].size};
            nmp++;
            break;
        case XOC_FT_BIN: {
            const char *b64 = json_string_value(v);
            size_t len = b64 ? strlen(b64) : 0, bin_len = 0;
            bins[i] = malloc(len + 1);
            if (!b64 || sodium_base642bin(bins[i], len + 1, b64, len, NULL, &bin_len, NULL,
                                          sodium_base64_VARIANT_ORIGINAL) != 0) {
                snprintf(err, errlen, "field %s: not base64", f[i].name);
                rc = XOC_EINVAL;
            }
            *(xoc_bin_t *)p = (xoc_bin_t){bins[i], (uint32_t)bin_len};
            break;
        }
        }
    }
    if (rc == 0)
        rc = xoc_msg_encode(type, &m.req, out);
    for (int i = 0; i < nmp; i++)
        msgpack_sbuffer_destroy(&mp[i]);
    for (size_t i = 0; i < 16; i++)
        free(bins[i]);
    return rc;
}

int main(int argc, char **argv)
{
    const xoc_cfg_key_t *tables[] = {xoc_service_cfg_keys, xoc_bus_cfg_keys, s_keys, NULL};
    char err[512];
    bool help;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        printf("xoc-call — call a bus method: xoc-call [flags] SERVICE METHOD [JSON-BODY]\n\n");
    xoc_cfg_t *cfg = xoc_cfg_new("xoc-call", tables, argc, argv, &help, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "xoc-call: %s\n", err);
        return 2;
    }
    if (help)
        return 0;
    if (xoc_cfg_argc(cfg) < 2) {
        fprintf(stderr, "xoc-call: usage: xoc-call [flags] SERVICE METHOD [JSON-BODY]\n");
        return 2;
    }
    xoc_log_init("xoc-call", XOC_LOG_WARN);
    zsys_init();
    zsys_set_logstream(NULL);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    if (xoc_cfg_argc(cfg) > 2) {
        json_error_t jerr;
        json_t *j = json_loads(xoc_cfg_arg(cfg, 2), 0, &jerr);
        if (!j || s_encode(j, &body, err, sizeof err) != 0) {
            fprintf(stderr, "xoc-call: bad body: %s\n", j ? err : jerr.text);
            return 2;
        }
        json_decref(j);
    }
    xoc_bus_opts_t opts;
    if (xoc_bus_opts_load(&opts, cfg) != 0)
        return 2;
    xoc_client_t *client = xoc_client_new(&opts);
    xoc_reply_t r;
    int rc = xoc_client_call(client, xoc_cfg_arg(cfg, 0), xoc_cfg_arg(cfg, 1),
                             body.size ? body.data : NULL, body.size,
                             (int)xoc_cfg_int(cfg, "timeout"), &r);
    json_t *out;
    xoc_msg_t m;
    if (rc)
        out = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", rc, "name", xoc_err_name(rc),
                        "reason", r.reason);
    else if (!r.body)
        out = json_true();
    else if (xoc_msg_decode(&m, zframe_data(r.body), zframe_size(r.body)) == 0)
        out = xoc_json_from_msg(&m);
    else
        out = json_pack("{s:s}", "undecodable", m.why);
    if (rc && r.body && xoc_msg_decode(&m, zframe_data(r.body), zframe_size(r.body)) == 0)
        json_object_set_new(json_object_get(out, "error"), "details", xoc_json_from_msg(&m));
    char *text = json_dumps(out, (xoc_cfg_bool(cfg, "pretty") ? JSON_INDENT(2) : JSON_COMPACT) |
                                     JSON_PRESERVE_ORDER);
    puts(text ? text : "null");
    free(text);
    json_decref(out);
    xoc_reply_clear(&r);
    xoc_client_destroy(&client);
    msgpack_sbuffer_destroy(&body);
    xoc_bus_opts_clear(&opts);
    xoc_cfg_destroy(&cfg);
    return rc ? 1 : 0;
}
