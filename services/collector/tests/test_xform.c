/*  test_xform: XAPI records (a pool dumped from xapi-sim, plus synthetic records of the
    classes the simulator does not serve) through xoc_xform.                                */
#include <jansson.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after stdarg, stddef, setjmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_xapi.h"
#include "xoc_xform.h"
#include "xoc_xform_int.h"

/*  ---- helpers ---------------------------------------------------------------------------- */

typedef struct {
    json_t *state;  /* id -> object (JSON view) */
    json_t *enters; /* ids entered by the last flush */
    json_t *exits;  /* ids exited by the last flush */
    int fail_after; /* >0: the n-th call fails */
} sink_t;

static int s_emit(void *arg, bool enter, const char *id, const char *type, const void *obj,
                  size_t len)
{
    sink_t *s = arg;
    if (s->fail_after > 0 && --s->fail_after == 0)
        return XOC_EBUSY;
    if (enter) {
        json_t *o = xoc_json_from_mp(obj, len);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "id")), id);
        assert_string_equal(json_string_value(json_object_get(o, "type")), type);
        json_object_set_new(s->state, id, o);
        json_array_append_new(s->enters, json_string(id));
    } else {
        assert_non_null(json_object_get(s->state, id));
        json_object_del(s->state, id);
        json_array_append_new(s->exits, json_string(id));
    }
    return 0;
}

static void s_sink_init(sink_t *s)
{
    s->state = json_object();
    s->enters = json_array();
    s->exits = json_array();
    s->fail_after = 0;
}

static void s_sink_fini(sink_t *s)
{
    json_decref(s->state);
    json_decref(s->enters);
    json_decref(s->exits);
}

static int s_flush(xoc_xform_t *xf, sink_t *s)
{
    json_array_clear(s->enters);
    json_array_clear(s->exits);
    return xoc_xform_flush(xf, s_emit, s);
}

static bool s_has(const json_t *arr, const char *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_is_string(e) &&
                                      strcmp(json_string_value(e), v) == 0) return true;
    return false;
}

/*  JSON -> msgpack; ints_as_strings: integers as decimal strings (XML-RPC).                 */
static void s_pack(msgpack_packer *pk, const json_t *j, bool ias)
{
    const char *k;
    json_t *e;
    size_t i;
    char buf[32];
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, e)
        {
            msgpack_pack_str_with_body(pk, k, strlen(k));
            s_pack(pk, e, ias);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, e) s_pack(pk, e, ias);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        if (ias) {
            snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
            msgpack_pack_str_with_body(pk, buf, strlen(buf));
        } else {
            msgpack_pack_int64(pk, json_integer_value(j));
        }
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

static int s_put_json(xoc_xform_t *xf, const char *cls, const char *ref, const json_t *rec,
                      bool ias)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_pack(&pk, rec, ias);
    int rc = xoc_xform_put(xf, cls, ref, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static json_t *s_dump;

static json_t *s_load_dump(void)
{
    const char *src = getenv("XOC_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/services/collector/tests/data/sim_pool.json",
             src ? src : "../..");
    json_error_t err;
    json_t *d = json_load_file(path, 0, &err);
    if (!d)
        fprintf(stderr, "cannot load %s: %s\n", path, err.text);
    return d;
}

/*  Puts every record of the dump (pool first when pool_first, else classes reversed).      */
static void s_put_all(xoc_xform_t *xf, bool ias, bool reverse)
{
    const char *cls;
    json_t *recs;
    void *it = json_object_iter(s_dump);
    size_t n = json_object_size(s_dump), i = 0;
    const char **names = calloc(n, sizeof(*names));
    for (; it; it = json_object_iter_next(s_dump, it))
        names[i++] = json_object_iter_key(it);
    for (size_t k = 0; k < n; k++) {
        cls = names[reverse ? n - 1 - k : k];
        recs = json_object_get(s_dump, cls);
        const char *ref;
        json_t *rec;
        json_object_foreach(recs, ref, rec) assert_int_equal(s_put_json(xf, cls, ref, rec, ias), 0);
    }
    free(names);
}

/*  A record of the dump: class cls whose field key equals the string val.                  */
static json_t *s_find(const char *cls, const char *key, const char *val, const char **ref_out)
{
    const char *ref;
    json_t *rec;
    json_object_foreach(json_object_get(s_dump, cls), ref, rec)
    {
        json_t *v = json_object_get(rec, key);
        if ((val && json_is_string(v) && strcmp(json_string_value(v), val) == 0) ||
            (!val && json_is_true(v))) {
            if (ref_out)
                *ref_out = ref;
            return rec;
        }
    }
    return NULL;
}

/*  uuid of the record ref of class cls.                                                      */
static const char *s_uuid_of(const char *cls, const char *ref)
{
    json_t *r = json_object_get(json_object_get(s_dump, cls), ref);
    return r ? json_string_value(json_object_get(r, "uuid")) : NULL;
}

static const char *s_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    assert_non_null(v);
    return v;
}

/*  A running VM of the dump that has guest metrics.                                         */
static json_t *s_running_vm(const char **ref)
{
    const char *r;
    json_t *vm;
    json_object_foreach(json_object_get(s_dump, "VM"), r, vm)
    {
        if (json_is_false(json_object_get(vm, "is_control_domain")) &&
            json_is_false(json_object_get(vm, "is_a_template")) &&
            strcmp(json_string_value(json_object_get(vm, "power_state")), "Running") == 0 &&
            strcmp(json_string_value(json_object_get(vm, "guest_metrics")), "OpaqueRef:NULL")) {
            *ref = r;
            return vm;
        }
    }
    fail_msg("no running VM in the dump");
    return NULL;
}

/*  Fails when a string value anywhere in o is an OpaqueRef (except where a ref is meant). */
static void s_no_refs(const char *key, const json_t *o)
{
    const char *k;
    json_t *e;
    size_t i;
    if (json_is_string(o)) {
        if (strncmp(json_string_value(o), "OpaqueRef:", 10) == 0 && strcmp(key, "_xapiRef") &&
            strcmp(key, "xapiRef") && strcmp(key, "pool_patch"))
            fail_msg("OpaqueRef in field %s: %s", key, json_string_value(o));
    } else if (json_is_object(o)) {
        json_object_foreach((json_t *)o, k, e)
        {
            /* maps copied as XAPI has them may hold refs */
            if (strcmp(k, "other") && strcmp(k, "otherConfig") && strcmp(k, "other_config"))
                s_no_refs(k, e);
        }
    } else if (json_is_array(o)) {
        json_array_foreach(o, i, e) s_no_refs(key, e);
    }
}

/*  ---- tests ------------------------------------------------------------------------------ */

static int s_setup(void **state)
{
    xoc_log_init("test_xform", getenv("XFORM_LOG") ? XOC_LOG_DEBUG : XOC_LOG_ERROR);
    s_dump = s_load_dump();
    return s_dump ? 0 : -1;
}

static int s_teardown(void **state)
{
    json_decref(s_dump);
    return 0;
}

static size_t s_count_type(const json_t *st, const char *type)
{
    const char *id;
    json_t *o;
    size_t n = 0;
    json_object_foreach((json_t *)st, id, o) n += strcmp(s_str(o, "type"), type) == 0;
    return n;
}

static void test_full_pool(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_all(xf, false, false);
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *pool = json_object_iter_value(json_object_iter(json_object_get(s_dump, "pool")));
    const char *pool_uuid = s_str(pool, "uuid");
    assert_string_equal(xoc_xform_pool_id(xf), pool_uuid);
    assert_int_equal(xoc_xform_count(xf), json_object_size(s.state));
    /* one object per record of an object class */
    size_t expect = 0;
    const char *classes[] = {"pool", "host", "VM",  "SR",  "SM",     "PBD",
                             "PIF",  "VDI",  "VBD", "VIF", "network"};
    for (size_t i = 0; i < sizeof(classes) / sizeof(*classes); i++)
        expect += json_object_size(json_object_get(s_dump, classes[i]));
    assert_int_equal(json_object_size(s.state), expect);
    assert_int_equal(s_count_type(s.state, "pool"), 1);
    assert_int_equal(s_count_type(s.state, "host"), 2);
    assert_int_equal(s_count_type(s.state, "VM-controller"), 2);
    assert_int_equal(s_count_type(s.state, "VM-template"), 8);
    assert_int_equal(s_count_type(s.state, "VM"), 3);
    assert_int_equal(s_count_type(s.state, "SR"), 4);
    assert_int_equal(s_count_type(s.state, "SM"), 6);
    /* common fields, no OpaqueRef outside _xapiRef */
    const char *id;
    json_t *o;
    json_object_foreach(s.state, id, o)
    {
        assert_string_equal(s_str(o, "$pool"), pool_uuid);
        assert_string_equal(s_str(o, "$poolId"), pool_uuid);
        assert_true(strncmp(s_str(o, "_xapiRef"), "OpaqueRef:", 10) == 0);
        s_no_refs("", o);
    }
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
    assert_null(xf);
}

static sink_t s_loaded(xoc_xform_t **xf, bool ias)
{
    sink_t s;
    s_sink_init(&s);
    *xf = xoc_xform_new();
    s_put_all(*xf, ias, false);
    assert_int_equal(s_flush(*xf, &s), 0);
    return s;
}

static void test_pool_host(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, false);
    const char *pref, *mref;
    json_t *pool = s_find("pool", "name_label", "pool1", &pref);
    json_t *p = json_object_get(s.state, s_str(pool, "uuid"));
    assert_non_null(p);
    assert_string_equal(s_str(p, "type"), "pool");
    mref = s_str(pool, "master");
    json_t *master = json_object_get(json_object_get(s_dump, "host"), mref);
    assert_string_equal(s_str(p, "master"), s_str(master, "uuid"));
    assert_string_equal(s_str(p, "default_SR"), s_uuid_of("SR", s_str(pool, "default_SR")));
    assert_string_equal(s_str(p, "platform_version"), "3.2.1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "cpus"), "cores")), 16);
    assert_true(json_is_false(json_object_get(p, "HA_enabled")));
    assert_string_equal(s_str(p, "_xapiRef"), pref);

    json_t *h = json_object_get(s.state, s_str(master, "uuid"));
    assert_string_equal(s_str(h, "type"), "host");
    assert_string_equal(s_str(h, "power_state"), "Running");
    assert_string_equal(s_str(h, "productBrand"), "XCP-ng");
    assert_string_equal(s_str(h, "version"), "8.2.1");
    json_t *mem = json_object_get(h, "memory");
    assert_int_equal(json_integer_value(json_object_get(mem, "size")), 274877906944);
    assert_int_equal(json_integer_value(json_object_get(mem, "usage")),
                     274877906944 - 214748364800);
    assert_string_equal(s_str(h, "controlDomain"),
                        s_uuid_of("VM", s_str(master, "control_domain")));
    assert_int_equal(json_array_size(json_object_get(h, "$PBDs")),
                     json_array_size(json_object_get(master, "PBDs")));
    assert_int_equal(json_integer_value(json_object_get(h, "startTime")), 1699990000);
    assert_int_equal(json_integer_value(json_object_get(h, "license_expiry")), 2147483647);
    assert_true(json_is_true(json_object_get(json_object_get(h, "chipset_info"), "iommu")));
    assert_string_equal(s_str(h, "iscsiIqn"), s_str(master, "iscsi_iqn"));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static void test_vm(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, false);
    const char *ref;
    json_t *vm = s_running_vm(&ref);
    json_t *o = json_object_get(s.state, s_str(vm, "uuid"));
    assert_non_null(o);
    assert_string_equal(s_str(o, "type"), "VM");
    assert_string_equal(s_str(o, "power_state"), "Running");
    assert_string_equal(s_str(o, "$container"), s_uuid_of("host", s_str(vm, "resident_on")));
    json_t *gm =
        json_object_get(json_object_get(s_dump, "VM_guest_metrics"), s_str(vm, "guest_metrics"));
    json_t *m = json_object_get(json_object_get(s_dump, "VM_metrics"), s_str(vm, "metrics"));
    json_t *nets = json_object_get(gm, "networks");
    assert_true(json_equal(json_object_get(o, "addresses"), nets));
    assert_string_equal(s_str(o, "mainIpAddress"), s_str(nets, "0/ipv4/0"));
    assert_true(json_equal(json_object_get(o, "os_version"), json_object_get(gm, "os_version")));
    json_t *cpus = json_object_get(o, "CPUs");
    assert_int_equal(json_integer_value(json_object_get(cpus, "max")),
                     json_integer_value(json_object_get(vm, "VCPUs_max")));
    assert_int_equal(json_integer_value(json_object_get(cpus, "number")),
                     json_integer_value(json_object_get(m, "VCPUs_number")));
    json_t *mem = json_object_get(o, "memory");
    assert_int_equal(json_integer_value(json_object_get(mem, "size")),
                     json_integer_value(json_object_get(m, "memory_actual")));
    assert_int_equal(json_integer_value(json_array_get(json_object_get(mem, "static"), 1)),
                     json_integer_value(json_object_get(vm, "memory_static_max")));
    json_t *vbds = json_object_get(o, "$VBDs");
    assert_int_equal(json_array_size(vbds), json_array_size(json_object_get(vm, "VBDs")));
    assert_string_equal(
        json_string_value(json_array_get(vbds, 0)),
        s_uuid_of("VBD", json_string_value(json_array_get(json_object_get(vm, "VBDs"), 0))));
    assert_int_equal(json_array_size(json_object_get(o, "VIFs")),
                     json_array_size(json_object_get(vm, "VIFs")));
    assert_int_equal(json_integer_value(json_object_get(o, "startTime")), 1704164645);
    assert_string_equal(s_str(o, "virtualizationMode"), "hvm");
    assert_true(json_is_true(json_object_get(o, "pvDriversDetected")));
    assert_string_equal(s_str(o, "pvDriversVersion"), "8.2.0-1");
    assert_true(json_is_object(json_object_get(o, "current_operations")));
    /* its VBD, VDI, VIF */
    json_t *vbd_rec =
        json_object_get(json_object_get(s_dump, "VBD"),
                        json_string_value(json_array_get(json_object_get(vm, "VBDs"), 0)));
    json_t *vbd = json_object_get(s.state, s_str(vbd_rec, "uuid"));
    assert_string_equal(s_str(vbd, "type"), "VBD");
    assert_string_equal(s_str(vbd, "VM"), s_str(vm, "uuid"));
    assert_string_equal(s_str(vbd, "VDI"), s_uuid_of("VDI", s_str(vbd_rec, "VDI")));
    assert_string_equal(s_str(vbd, "position"), s_str(vbd_rec, "userdevice"));
    json_t *vdi_rec = json_object_get(json_object_get(s_dump, "VDI"), s_str(vbd_rec, "VDI"));
    json_t *vdi = json_object_get(s.state, s_str(vdi_rec, "uuid"));
    assert_string_equal(s_str(vdi, "type"), "VDI");
    assert_string_equal(s_str(vdi, "$SR"), s_uuid_of("SR", s_str(vdi_rec, "SR")));
    assert_int_equal(json_integer_value(json_object_get(vdi, "size")),
                     json_integer_value(json_object_get(vdi_rec, "virtual_size")));
    assert_true(s_has(json_object_get(vdi, "$VBDs"), s_str(vbd_rec, "uuid")));
    json_t *vif_rec =
        json_object_get(json_object_get(s_dump, "VIF"),
                        json_string_value(json_array_get(json_object_get(vm, "VIFs"), 0)));
    json_t *vif = json_object_get(s.state, s_str(vif_rec, "uuid"));
    assert_string_equal(s_str(vif, "$VM"), s_str(vm, "uuid"));
    assert_string_equal(s_str(vif, "$network"), s_uuid_of("network", s_str(vif_rec, "network")));
    assert_string_equal(s_str(vif, "MAC"), s_str(vif_rec, "MAC"));
    assert_int_equal(json_integer_value(json_object_get(vif, "MTU")), 1500);
    json_t *net = json_object_get(s.state, s_uuid_of("network", s_str(vif_rec, "network")));
    assert_true(s_has(json_object_get(net, "VIFs"), s_str(vif_rec, "uuid")));
    assert_string_equal(s_str(net, "bridge"), "xenbr0");
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static void test_templates_controller(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, false);
    const char *ref;
    json_t *tpl = s_find("VM", "is_default_template", NULL, &ref);
    char id[128];
    snprintf(id, sizeof(id), "%s-%s", xoc_xform_pool_id(xf), s_str(tpl, "uuid"));
    json_t *o = json_object_get(s.state, id);
    assert_non_null(o);
    assert_string_equal(s_str(o, "type"), "VM-template");
    assert_string_equal(s_str(o, "uuid"), s_str(tpl, "uuid"));
    assert_true(json_is_true(json_object_get(o, "isDefaultTemplate")));
    json_t *ti = json_object_get(o, "template_info");
    assert_true(json_array_size(json_object_get(ti, "install_methods")) >= 1);
    assert_string_equal(s_str(o, "$container"), xoc_xform_pool_id(xf));
    assert_null(json_object_get(s.state, s_str(tpl, "uuid")));
    json_t *dom0 = s_find("VM", "is_control_domain", NULL, &ref);
    json_t *d = json_object_get(s.state, s_str(dom0, "uuid"));
    assert_string_equal(s_str(d, "type"), "VM-controller");
    assert_string_equal(s_str(d, "$container"), s_uuid_of("host", s_str(dom0, "resident_on")));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static void test_storage_network(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, false);
    const char *ref;
    json_t *pbd_rec = s_find("PBD", "currently_attached", NULL, &ref);
    json_t *pbd = json_object_get(s.state, s_str(pbd_rec, "uuid"));
    assert_string_equal(s_str(pbd, "type"), "PBD");
    assert_string_equal(s_str(pbd, "host"), s_uuid_of("host", s_str(pbd_rec, "host")));
    assert_string_equal(s_str(pbd, "SR"), s_uuid_of("SR", s_str(pbd_rec, "SR")));
    /* a local SR's $container is its host, a shared one's the pool */
    json_t *sr_rec = json_object_get(json_object_get(s_dump, "SR"), s_str(pbd_rec, "SR"));
    json_t *sr = json_object_get(s.state, s_str(sr_rec, "uuid"));
    assert_string_equal(s_str(sr, "type"), "SR");
    if (json_is_false(json_object_get(sr_rec, "shared")))
        assert_string_equal(s_str(sr, "$container"), s_str(pbd, "host"));
    json_t *iso = s_find("SR", "type", "iso", &ref);
    assert_string_equal(s_str(json_object_get(s.state, s_str(iso, "uuid")), "$container"),
                        xoc_xform_pool_id(xf));
    assert_string_equal(s_str(json_object_get(s.state, s_str(iso, "uuid")), "SR_type"), "iso");
    json_t *pif_rec = s_find("PIF", "device", "eth0", &ref);
    json_t *pif = json_object_get(s.state, s_str(pif_rec, "uuid"));
    assert_string_equal(s_str(pif, "type"), "PIF");
    assert_string_equal(s_str(pif, "$host"), s_uuid_of("host", s_str(pif_rec, "host")));
    assert_true(json_is_true(json_object_get(pif, "carrier")));
    assert_int_equal(json_integer_value(json_object_get(pif, "speed")), 1000);
    assert_int_equal(json_integer_value(json_object_get(pif, "vlan")), -1);
    assert_string_equal(s_str(pif, "deviceName"), "I350 Gigabit Network");
    assert_true(json_is_true(json_object_get(pif, "management")));
    json_t *sm = s_find("SM", "type", "nfs", &ref);
    assert_string_equal(s_str(json_object_get(s.state, s_str(sm, "uuid")), "SM_type"), "nfs");
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  XML-RPC (ints as strings) gives the same objects as JSON-RPC; so does a load in the reverse
    order of classes (links unknown at first), flushed after each class.                     */
static void test_int_encodings_and_order(void **state)
{
    xoc_xform_t *a, *b, *c;
    sink_t sa = s_loaded(&a, false), sb = s_loaded(&b, true), sc;
    assert_true(json_equal(sa.state, sb.state));
    s_sink_init(&sc);
    c = xoc_xform_new();
    const char *cls;
    void *it;
    /* classes in reverse order, flushed after each class */
    size_t n = json_object_size(s_dump);
    const char **names = calloc(n, sizeof(*names));
    size_t i = 0;
    for (it = json_object_iter(s_dump); it; it = json_object_iter_next(s_dump, it))
        names[i++] = json_object_iter_key(it);
    for (size_t k = n; k-- > 0;) {
        cls = names[k];
        const char *ref;
        json_t *rec;
        json_object_foreach(json_object_get(s_dump, cls), ref, rec)
            assert_int_equal(s_put_json(c, cls, ref, rec, k % 2), 0);
        assert_int_equal(s_flush(c, &sc), 0);
    }
    free(names);
    assert_true(json_equal(sa.state, sc.state));
    /* the full image gives the same objects */
    sink_t sd;
    s_sink_init(&sd);
    assert_int_equal(xoc_xform_emit_all(c, s_emit, &sd), 0);
    assert_true(json_equal(sa.state, sd.state));
    s_sink_fini(&sd);
    s_sink_fini(&sa);
    s_sink_fini(&sb);
    s_sink_fini(&sc);
    xoc_xform_destroy(&a);
    xoc_xform_destroy(&b);
    xoc_xform_destroy(&c);
}

static void test_metrics_fold(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, true);
    const char *ref;
    json_t *vm = s_running_vm(&ref);
    const char *mref = s_str(vm, "metrics");
    json_t *m = json_deep_copy(json_object_get(json_object_get(s_dump, "VM_metrics"), mref));
    json_object_set_new(m, "memory_actual", json_integer(123456789));
    json_object_set_new(m, "VCPUs_number", json_integer(3));
    assert_int_equal(s_put_json(xf, "vm_metrics", mref, m, true), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(json_array_size(s.enters), 1);
    assert_int_equal(json_array_size(s.exits), 0);
    json_t *o = json_object_get(s.state, s_str(vm, "uuid"));
    assert_true(s_has(s.enters, s_str(vm, "uuid")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "memory"), "size")),
                     123456789);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "CPUs"), "number")), 3);
    /* the same record again: nothing changes, nothing emitted */
    assert_int_equal(s_put_json(xf, "VM_METRICS", mref, m, false), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(json_array_size(s.enters), 0);
    /* guest metrics gone: addresses empty, no mainIpAddress */
    assert_int_equal(xoc_xform_del(xf, "VM_guest_metrics", s_str(vm, "guest_metrics")), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(json_array_size(s.enters), 1);
    o = json_object_get(s.state, s_str(vm, "uuid"));
    assert_null(json_object_get(o, "mainIpAddress"));
    assert_int_equal(json_object_size(json_object_get(o, "addresses")), 0);
    assert_true(json_is_null(json_object_get(o, "os_version")));
    /* host metrics: not live -> Halted, usage 0 */
    json_t *host = s_find("host", "hostname", "pool1-host01", &ref);
    const char *hmref = s_str(host, "metrics");
    json_t *hm = json_deep_copy(json_object_get(json_object_get(s_dump, "host_metrics"), hmref));
    json_object_set_new(hm, "live", json_false());
    assert_int_equal(s_put_json(xf, "host_metrics", hmref, hm, false), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *h = json_object_get(s.state, s_str(host, "uuid"));
    assert_string_equal(s_str(h, "power_state"), "Halted");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "memory"), "usage")), 0);
    assert_int_equal(xoc_xform_del(xf, "host_metrics", hmref), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_str(json_object_get(s.state, s_str(host, "uuid")), "power_state"),
                        "Unknown");
    json_decref(hm);
    json_decref(m);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static void test_template_id_change_and_removal(void **state)
{
    xoc_xform_t *xf;
    sink_t s = s_loaded(&xf, false);
    const char *ref;
    json_t *tpl = json_deep_copy(s_find("VM", "is_default_template", NULL, &ref));
    char old[128];
    snprintf(old, sizeof(old), "%s-%s", xoc_xform_pool_id(xf), s_str(tpl, "uuid"));
    json_object_set_new(tpl, "is_default_template", json_false());
    json_object_del(json_object_get(tpl, "other_config"), "default_template");
    size_t count = xoc_xform_count(xf);
    assert_int_equal(s_put_json(xf, "VM", ref, tpl, false), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.exits, old));
    assert_true(s_has(s.enters, s_str(tpl, "uuid")));
    assert_string_equal(s_str(json_object_get(s.state, s_str(tpl, "uuid")), "type"), "VM-template");
    assert_int_equal(xoc_xform_count(xf), count);
    /* removal of a VM: it exits, its VBD loses the link */
    json_t *vm = s_running_vm(&ref);
    const char *vbdref = json_string_value(json_array_get(json_object_get(vm, "VBDs"), 0));
    const char *vbd_id = s_uuid_of("VBD", vbdref);
    assert_int_equal(xoc_xform_del(xf, "VM", ref), 0);
    assert_int_equal(xoc_xform_del(xf, "VM", "OpaqueRef:never-seen"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.exits, s_str(vm, "uuid")));
    assert_null(json_object_get(s.state, s_str(vm, "uuid")));
    assert_null(json_object_get(json_object_get(s.state, vbd_id), "VM"));
    assert_int_equal(xoc_xform_count(xf), count - 1);
    /* and comes back */
    assert_int_equal(s_put_json(xf, "VM", ref, vm, false), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_str(json_object_get(s.state, vbd_id), "VM"), s_str(vm, "uuid"));
    assert_int_equal(xoc_xform_count(xf), count);
    assert_int_equal(xoc_xform_count(xf), json_object_size(s.state));
    json_decref(tpl);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static json_t *s_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static void s_put_text(xoc_xform_t *xf, const char *cls, const char *ref, const char *text)
{
    json_t *j = s_json(text);
    assert_int_equal(s_put_json(xf, cls, ref, j, false), 0);
    json_decref(j);
}

static void test_unknown_links(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "VM", "OpaqueRef:vm1",
               "{\"uuid\":\"vm-1\",\"name_label\":\"a\",\"power_state\":\"Halted\","
               "\"VBDs\":[\"OpaqueRef:vbd1\"],\"VIFs\":[],\"metrics\":\"OpaqueRef:m1\","
               "\"guest_metrics\":\"OpaqueRef:NULL\",\"resident_on\":\"OpaqueRef:NULL\"}");
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *o = json_object_get(s.state, "vm-1");
    assert_non_null(o);
    assert_int_equal(json_array_size(json_object_get(o, "$VBDs")), 0);
    assert_null(json_object_get(o, "$container")); /* no pool known yet */
    assert_null(json_object_get(o, "$pool"));
    s_put_text(xf, "VBD", "OpaqueRef:vbd1",
               "{\"uuid\":\"vbd-1\",\"VM\":\"OpaqueRef:vm1\",\"VDI\":\"OpaqueRef:vdi1\","
               "\"userdevice\":\"0\",\"device\":\"\",\"type\":\"CD\",\"mode\":\"RO\"}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.enters, "vm-1"));
    assert_true(s_has(s.enters, "vbd-1"));
    o = json_object_get(s.state, "vm-1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "$VBDs"), 0)), "vbd-1");
    json_t *vbd = json_object_get(s.state, "vbd-1");
    assert_true(json_is_null(json_object_get(vbd, "device")));
    assert_true(json_is_true(json_object_get(vbd, "is_cd_drive")));
    assert_true(json_is_true(json_object_get(vbd, "read_only")));
    assert_null(json_object_get(vbd, "VDI"));
    /* local SR arrives through VDI -> SR -> PBD -> host: the halted VM's $container */
    s_put_text(xf, "host", "OpaqueRef:h1", "{\"uuid\":\"host-1\",\"name_label\":\"h\"}");
    s_put_text(xf, "PBD", "OpaqueRef:pbd1",
               "{\"uuid\":\"pbd-1\",\"host\":\"OpaqueRef:h1\",\"SR\":\"OpaqueRef:sr1\","
               "\"device_config\":{\"device\":\"/dev/sda\",\"chappassword\":\"s3cret\"}}");
    s_put_text(xf, "SR", "OpaqueRef:sr1",
               "{\"uuid\":\"sr-1\",\"shared\":false,\"PBDs\":[\"OpaqueRef:pbd1\"],"
               "\"type\":\"lvm\"}");
    s_put_text(xf, "VDI", "OpaqueRef:vdi1",
               "{\"uuid\":\"vdi-1\",\"SR\":\"OpaqueRef:sr1\",\"managed\":true,"
               "\"is_a_snapshot\":false}");
    s_put_text(xf, "pool", "OpaqueRef:p1",
               "{\"uuid\":\"pool-1\",\"name_label\":\"\",\"master\":\"OpaqueRef:h1\"}");
    assert_int_equal(s_flush(xf, &s), 0);
    o = json_object_get(s.state, "vm-1");
    assert_string_equal(s_str(o, "$container"), "host-1");
    assert_string_equal(s_str(o, "$pool"), "pool-1");
    assert_string_equal(s_str(json_object_get(s.state, "vbd-1"), "VDI"), "vdi-1");
    assert_string_equal(s_str(json_object_get(s.state, "sr-1"), "$container"), "host-1");
    assert_string_equal(s_str(json_object_get(s.state, "sr-1"), "allocationStrategy"), "thick");
    assert_string_equal(s_str(json_object_get(s.state, "pool-1"), "name_label"), "h");
    json_t *dc = json_object_get(json_object_get(s.state, "pbd-1"), "device_config");
    assert_string_equal(s_str(dc, "chappassword"), "* obfuscated *");
    assert_string_equal(s_str(dc, "device"), "/dev/sda");
    /* the host goes: links to it are omitted again */
    assert_int_equal(xoc_xform_del(xf, "host", "OpaqueRef:h1"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_str(json_object_get(s.state, "vm-1"), "$container"), "pool-1");
    assert_null(json_object_get(json_object_get(s.state, "pbd-1"), "host"));
    assert_int_equal(xoc_xform_count(xf), json_object_size(s.state));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static void test_other_types(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"pool-1\",\"name_label\":\"P\"}");
    s_put_text(xf, "message", "OpaqueRef:msg1",
               "{\"uuid\":\"msg-1\",\"name\":\"VM_STARTED\",\"body\":\"b\",\"priority\":5,"
               "\"cls\":\"VM\",\"obj_uuid\":\"vm-1\",\"timestamp\":\"2024-01-02T03:04:05Z\"}");
    s_put_text(xf, "message", "OpaqueRef:msg2",
               "{\"uuid\":\"msg-2\",\"name\":\"ALARM\",\"body\":\"\",\"obj_uuid\":\"x\","
               "\"timestamp\":\"20240102T03:04:05Z\"}");
    s_put_text(xf, "task", "OpaqueRef:t1",
               "{\"uuid\":\"task-1\",\"name_label\":\"Async.VM.start\",\"name_description\":\"\","
               "\"status\":\"pending\",\"progress\":0.25,\"created\":\"20240102T03:04:05Z\","
               "\"finished\":\"19700101T00:00:00Z\",\"result\":\"\",\"allowed_operations\":[],"
               "\"current_operations\":{},\"resident_on\":\"OpaqueRef:NULL\","
               "\"other_config\":{\"applies_to\":\"vm-1\"}}");
    s_put_text(xf, "VM", "OpaqueRef:vm1",
               "{\"uuid\":\"vm-1\",\"power_state\":\"Running\",\"is_a_snapshot\":false,"
               "\"current_operations\":{\"OpaqueRef:t1\":\"start\",\"OpaqueRef:t9\":\"x\"},"
               "\"VCPUs_params\":{\"cap\":\"50\",\"weight\":\"256\",\"mask\":\"0,2,3\"},"
               "\"platform\":{\"cores-per-socket\":\"2\"},"
               "\"other_config\":{\"xo:vm-1\":\"{\\\"user\\\":\\\"u1\\\",\\\"date\\\":\\\"d\\\"}\","
               "\"auto_poweron\":\"true\"}}");
    s_put_text(xf, "VM", "OpaqueRef:snap1",
               "{\"uuid\":\"snap-1\",\"is_a_snapshot\":true,\"snapshot_of\":\"OpaqueRef:vm1\","
               "\"snapshot_time\":\"20240102T03:04:05Z\",\"power_state\":\"Halted\"}");
    s_put_text(xf, "host_patch", "OpaqueRef:hp1",
               "{\"uuid\":\"hp-1\",\"name_label\":\"XS1\",\"name_description\":\"d\","
               "\"applied\":true,\"timestamp_applied\":\"20240102T03:04:05Z\",\"size\":\"10\","
               "\"pool_patch\":\"OpaqueRef:pp1\",\"host\":\"OpaqueRef:NULL\"}");
    s_put_text(xf, "pool_patch", "OpaqueRef:pp1",
               "{\"uuid\":\"pp-uuid\",\"name_label\":\"XS1\",\"name_description\":\"d\","
               "\"version\":\"1\",\"size\":10,\"pool_applied\":true,"
               "\"after_apply_guidance\":[\"restartHost\"],\"host_patches\":[\"OpaqueRef:hp1\"],"
               "\"pool_update\":\"OpaqueRef:pu1\"}");
    s_put_text(xf, "pool_update", "OpaqueRef:pu1",
               "{\"uuid\":\"pu-1\",\"enforce_homogeneity\":true}");
    s_put_text(xf, "console", "OpaqueRef:c1", "{\"uuid\":\"c-1\"}");
    s_put_text(xf, "crashdump", "OpaqueRef:cd1", "{\"uuid\":\"cd-1\"}");
    s_put_text(xf, "Bond", "OpaqueRef:b1",
               "{\"uuid\":\"bond-1\",\"master\":\"OpaqueRef:pifm\",\"slaves\":[\"OpaqueRef:pifs\"],"
               "\"mode\":\"balance-slb\",\"primary_slave\":\"OpaqueRef:pifs\"}");
    s_put_text(xf, "PIF", "OpaqueRef:pifm",
               "{\"uuid\":\"pif-m\",\"bond_master_of\":[\"OpaqueRef:b1\"],"
               "\"bond_slave_of\":\"OpaqueRef:NULL\",\"network\":\"OpaqueRef:n1\"}");
    s_put_text(xf, "PIF", "OpaqueRef:pifs",
               "{\"uuid\":\"pif-s\",\"bond_master_of\":[],\"bond_slave_of\":\"OpaqueRef:b1\"}");
    s_put_text(xf, "network", "OpaqueRef:n1",
               "{\"uuid\":\"net-1\",\"PIFs\":[\"OpaqueRef:pifm\"],\"VIFs\":[],"
               "\"purpose\":[\"nbd\"],\"default_locking_mode\":\"disabled\"}");
    const char *dev[][3] = {
        {"PCI", "pci-1", "{\"uuid\":\"pci-1\",\"class_name\":\"VGA\",\"pci_id\":\"0000:00:02.0\"}"},
        {"PGPU", "pgpu-1",
         "{\"uuid\":\"pgpu-1\",\"PCI\":\"OpaqueRef:PCI\",\"GPU_group\":\"OpaqueRef:GPU_group\"}"},
        {"VGPU", "vgpu-1",
         "{\"uuid\":\"vgpu-1\",\"VM\":\"OpaqueRef:vm1\",\"type\":\"OpaqueRef:VGPU_type\"}"},
        {"GPU_group", "gg-1",
         "{\"uuid\":\"gg-1\",\"name_label\":\"G\",\"PGPUs\":[\"OpaqueRef:PGPU\"]}"},
        {"VGPU_type", "vt-1", "{\"uuid\":\"vt-1\",\"model_name\":\"M\",\"max_heads\":\"4\"}"},
        {"VTPM", "vtpm-1", "{\"uuid\":\"vtpm-1\",\"VM\":\"OpaqueRef:vm1\",\"is_unique\":true}"},
        {"PUSB", "pusb-1",
         "{\"uuid\":\"pusb-1\",\"USB_group\":\"OpaqueRef:USB_group\",\"speed\":480.0}"},
        {"VUSB", "vusb-1",
         "{\"uuid\":\"vusb-1\",\"VM\":\"OpaqueRef:vm1\",\"USB_group\":\"OpaqueRef:USB_group\"}"},
        {"USB_group", "ug-1", "{\"uuid\":\"ug-1\",\"PUSBs\":[\"OpaqueRef:PUSB\"]}"},
        {"SM", "sm-1",
         "{\"uuid\":\"sm-1\",\"type\":\"ext\",\"features\":{\"VDI_MIRROR\":\"2\","
         "\"SR_PROBE\":1}}"},
    };
    const char *types[] = {"PCI",  "PGPU", "vgpu", "gpuGroup",  "vgpuType",
                           "VTPM", "PUSB", "VUSB", "USB_group", "SM"};
    for (size_t i = 0; i < sizeof(dev) / sizeof(*dev); i++) {
        char ref[64];
        snprintf(ref, sizeof(ref), "OpaqueRef:%s", dev[i][0]);
        s_put_text(xf, dev[i][0], ref, dev[i][2]);
    }
    assert_int_equal(s_flush(xf, &s), 0);
    for (size_t i = 0; i < sizeof(dev) / sizeof(*dev); i++) {
        json_t *o = json_object_get(s.state, dev[i][1]);
        assert_non_null(o);
        assert_string_equal(s_str(o, "type"), types[i]);
    }
    json_t *feat = json_object_get(json_object_get(s.state, "sm-1"), "features");
    assert_int_equal(json_integer_value(json_object_get(feat, "VDI_MIRROR")), 2);
    assert_int_equal(json_integer_value(json_object_get(feat, "SR_PROBE")), 1);
    assert_string_equal(s_str(json_object_get(s.state, "pgpu-1"), "pci"), "pci-1");
    assert_string_equal(s_str(json_object_get(s.state, "pgpu-1"), "gpuGroup"), "gg-1");
    assert_string_equal(s_str(json_object_get(s.state, "vgpu-1"), "vgpuType"), "vt-1");
    assert_string_equal(s_str(json_object_get(s.state, "vgpu-1"), "vm"), "vm-1");
    assert_string_equal(s_str(json_object_get(s.state, "pusb-1"), "usbGroup"), "ug-1");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s.state, "vt-1"), "maxHeads")), 4);
    json_t *m1 = json_object_get(s.state, "msg-1"), *m2 = json_object_get(s.state, "msg-2");
    assert_string_equal(s_str(m1, "type"), "message");
    assert_int_equal(json_integer_value(json_object_get(m1, "time")), 1704164645);
    assert_int_equal(json_integer_value(json_object_get(m2, "time")), 1704164645);
    assert_string_equal(s_str(m1, "$object"), "vm-1");
    json_t *t = json_object_get(s.state, "task-1");
    assert_string_equal(s_str(t, "type"), "task");
    assert_true(json_real_value(json_object_get(t, "progress")) == 0.25);
    assert_true(json_is_null(json_object_get(t, "finished")));
    assert_int_equal(json_integer_value(json_object_get(t, "created")), 1704164645);
    assert_string_equal(s_str(t, "xapiRef"), "OpaqueRef:t1");
    json_t *vm = json_object_get(s.state, "vm-1");
    json_t *ops = json_object_get(vm, "current_operations");
    assert_string_equal(s_str(ops, "task-1"), "start");
    assert_string_equal(s_str(ops, "OpaqueRef:t9"), "x"); /* unknown task: its ref */
    assert_int_equal(json_integer_value(json_object_get(vm, "cpuCap")), 50);
    assert_int_equal(json_integer_value(json_object_get(vm, "cpuWeight")), 256);
    assert_int_equal(json_array_size(json_object_get(vm, "cpuMask")), 3);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(vm, "cpuMask"), 2)), 3);
    assert_int_equal(json_integer_value(json_object_get(vm, "coresPerSocket")), 2);
    assert_string_equal(s_str(json_object_get(vm, "creation"), "user"), "u1");
    assert_true(json_is_true(json_object_get(vm, "auto_poweron")));
    assert_string_equal(s_str(vm, "$container"), "pool-1");
    json_t *snap = json_object_get(s.state, "snap-1");
    assert_string_equal(s_str(snap, "type"), "VM-snapshot");
    assert_string_equal(s_str(snap, "$snapshot_of"), "vm-1");
    assert_int_equal(json_integer_value(json_object_get(snap, "snapshot_time")), 1704164645);
    json_t *hp = json_object_get(s.state, "hp-1");
    assert_string_equal(s_str(hp, "type"), "patch");
    assert_string_equal(s_str(hp, "pool_patch"), "OpaqueRef:pp1");
    assert_true(json_is_true(json_object_get(hp, "enforceHomogeneity")));
    assert_int_equal(json_integer_value(json_object_get(hp, "size")), 10);
    json_t *pp = json_object_get(s.state, "OpaqueRef:pp1");
    assert_string_equal(s_str(pp, "type"), "pool_patch");
    assert_string_equal(s_str(pp, "uuid"), "OpaqueRef:pp1");
    assert_null(json_object_get(s.state, "c-1"));
    json_t *bond = json_object_get(s.state, "bond-1");
    assert_string_equal(s_str(bond, "type"), "bond");
    assert_string_equal(s_str(bond, "master"), "pif-m");
    json_t *pifm = json_object_get(s.state, "pif-m"), *pifs = json_object_get(s.state, "pif-s");
    assert_true(json_is_true(json_object_get(pifm, "isBondMaster")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(pifm, "bondSlaves"), 0)),
                        "pif-s");
    assert_true(json_is_true(json_object_get(pifs, "isBondSlave")));
    assert_string_equal(s_str(pifs, "bondMaster"), "pif-m");
    json_t *net = json_object_get(s.state, "net-1");
    assert_true(json_is_true(json_object_get(net, "isBonded")));
    assert_true(json_is_true(json_object_get(net, "nbd")));
    assert_true(json_is_true(json_object_get(net, "defaultIsLocked")));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  Bad input: refused or partial objects, never a crash (ASan/UBSan check the rest).       */
static void test_malformed(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    const uint8_t not_map[] = {0x93, 1, 2, 3};
    const uint8_t truncated[] = {0x82, 0xa4, 'u', 'u', 'i', 'd'};
    const uint8_t huge_array[] = {0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t bad_byte[] = {0x81, 0xa1, 'a', 0xc1};
    uint8_t deep[80];
    deep[0] = 0x81;
    deep[1] = 0xa1;
    deep[2] = 'a';
    for (size_t i = 3; i < sizeof(deep); i++)
        deep[i] = 0x91;
    deep[sizeof(deep) - 1] = 0xc0;
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", not_map, sizeof(not_map)), XOC_ETYPE);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", truncated, sizeof(truncated)),
                     XOC_EPROTO);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", huge_array, sizeof(huge_array)),
                     XOC_EPROTO);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", bad_byte, sizeof(bad_byte)),
                     XOC_EPROTO);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", deep, sizeof(deep)), XOC_ETOOBIG);
    assert_int_equal(xoc_xform_put(xf, "VM", "", not_map, sizeof(not_map)), XOC_EINVAL);
    assert_int_equal(xoc_xform_put(xf, NULL, "OpaqueRef:x", not_map, 4), XOC_EINVAL);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:x", NULL, 4), XOC_EINVAL);
    assert_int_equal(xoc_xform_put(NULL, "VM", "OpaqueRef:x", not_map, 4), XOC_EINVAL);
    assert_int_equal(xoc_xform_del(xf, "VM", NULL), XOC_EINVAL);
    assert_int_equal(xoc_xform_put(xf, "no_such_class", "OpaqueRef:x", not_map, 4), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(xoc_xform_count(xf), 0);
    /* wrong types everywhere: a partial object */
    s_put_text(xf, "VM", "OpaqueRef:vm1",
               "{\"uuid\":\"vm-1\",\"name_label\":12,\"power_state\":{},\"VBDs\":\"x\","
               "\"VIFs\":[1,null,\"OpaqueRef:NULL\",\"\"],\"memory_static_max\":"
               "\"99999999999999999999999\",\"VCPUs_max\":[],\"metrics\":7,"
               "\"guest_metrics\":\"OpaqueRef:vm1\",\"current_operations\":[],"
               "\"other_config\":{\"xo:vm-1\":\"{not json\",\"install-methods\":\",,\"},"
               "\"is_a_template\":\"yes\",\"platform\":[],\"VCPUs_params\":{\"mask\":\",x,\"},"
               "\"HVM_boot_params\":7,\"resident_on\":42,\"parent\":\"OpaqueRef:vm1\","
               "\"affinity\":{}}");
    s_put_text(xf, "VM", "OpaqueRef:vm2",
               "{\"name_label\":\"no uuid\",\"is_a_template\":true,"
               "\"other_config\":{\"disks\":\"<provision><disk device=\\\"0\\\" size=\\\"x\\\"/>"
               "<disk/></provision>\",\"install-methods\":\"cdrom,http\"}}");
    s_put_text(xf, "VM", "OpaqueRef:vm3",
               "{\"uuid\":\"vm-3\",\"is_a_template\":true,"
               "\"other_config\":{\"disks\":\"<provision><disk\"}}");
    s_put_text(
        xf, "host", "OpaqueRef:h1",
        "{\"uuid\":5,\"software_version\":{\"a:b\":\"d, version 1, build 2\",\"c:\":7},"
        "\"metrics\":\"OpaqueRef:vm1\",\"cpu_info\":[],\"other_config\":{\"boot_time\":\"x\"}}");
    s_put_text(xf, "message", "OpaqueRef:m1",
               "{\"uuid\":\"m-1\",\"timestamp\":\"2024-13-99T99:00:00Z\"}");
    s_put_text(xf, "message", "OpaqueRef:m2", "{\"uuid\":\"m-2\",\"timestamp\":\"garbage\"}");
    s_put_text(xf, "task", "OpaqueRef:t1", "{\"uuid\":\"t-1\",\"progress\":\"NaN\"}");
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"\"}");
    s_put_text(xf, "SR", "OpaqueRef:s1", "{\"uuid\":\"s-1\",\"PBDs\":[\"OpaqueRef:vm1\"]}");
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *o = json_object_get(s.state, "vm-1");
    assert_non_null(o);
    assert_null(json_object_get(o, "name_label"));
    assert_null(json_object_get(o, "power_state"));
    assert_int_equal(json_array_size(json_object_get(o, "$VBDs")), 0);
    assert_int_equal(json_array_size(json_object_get(o, "VIFs")), 0);
    assert_null(json_object_get(o, "$container"));
    assert_string_equal(s_str(o, "type"), "VM");
    /* no uuid: the ref is the id, no uuid field */
    json_t *o2 = json_object_get(s.state, "OpaqueRef:vm2");
    assert_non_null(o2);
    assert_null(json_object_get(o2, "uuid"));
    json_t *ti = json_object_get(o2, "template_info");
    assert_int_equal(json_array_size(json_object_get(ti, "disks")), 2);
    assert_int_equal(json_array_size(json_object_get(ti, "install_methods")), 2);
    assert_non_null(json_object_get(s.state, "vm-3"));
    assert_non_null(json_object_get(s.state, "OpaqueRef:h1"));
    assert_true(json_is_null(json_object_get(json_object_get(s.state, "m-1"), "time")));
    assert_true(json_is_null(json_object_get(json_object_get(s.state, "m-2"), "time")));
    assert_null(json_object_get(json_object_get(s.state, "t-1"), "progress"));
    assert_null(xoc_xform_pool_id(xf));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  An emitter error stops the flush; the next flush emits what was not.                    */
static void test_emit_error(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s, ref;
    s_sink_init(&s);
    s_sink_init(&ref);
    s_put_all(xf, false, false);
    s.fail_after = 10;
    assert_int_equal(s_flush(xf, &s), XOC_EBUSY);
    assert_int_equal(json_array_size(s.enters), 9);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(json_array_size(s.enters), 0);
    xoc_xform_t *b;
    sink_t sb = s_loaded(&b, false);
    assert_true(json_equal(s.state, sb.state));
    assert_int_equal(xoc_xform_count(xf), xoc_xform_count(b));
    s_sink_fini(&sb);
    s_sink_fini(&s);
    s_sink_fini(&ref);
    xoc_xform_destroy(&xf);
    xoc_xform_destroy(&b);
    xoc_xform_destroy(NULL);
}

/*  A full image with pending changes: each object exactly once, the same as a flush; a
    first load in id order (the cache fills its B-trees at their right edge).              */
static void test_emit_all_pending(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_all(xf, true, true);
    assert_int_equal(xoc_xform_emit_all(xf, s_emit, &s), 0);
    assert_int_equal(json_array_size(s.enters), json_object_size(s.state));
    assert_true(json_array_size(s.enters) > 20);
    for (size_t i = 1; i < json_array_size(s.enters); i++)
        assert_true(strcmp(json_string_value(json_array_get(s.enters, i - 1)),
                           json_string_value(json_array_get(s.enters, i))) < 0);
    assert_int_equal(xoc_xform_count(xf), json_object_size(s.state));
    xoc_xform_t *b;
    sink_t sb = s_loaded(&b, false);
    assert_true(json_equal(s.state, sb.state));
    /* half of it pending: still each object once */
    json_array_clear(s.enters);
    const char *ref;
    json_t *vm = s_running_vm(&ref);
    assert_int_equal(s_put_json(xf, "VM", ref, vm, false), 0);
    assert_int_equal(
        xoc_xform_del(xf, "SM",
                      json_object_iter_key(json_object_iter(json_object_get(s_dump, "SM")))),
        0);
    assert_int_equal(xoc_xform_emit_all(xf, s_emit, &s), 0);
    assert_int_equal(json_array_size(s.enters), json_object_size(s.state));
    assert_int_equal(json_array_size(s.exits), 1);
    assert_int_equal(xoc_xform_count(xf), json_object_size(s.state));
    assert_int_equal(xoc_xform_emit_all(NULL, s_emit, &s), XOC_EINVAL);
    assert_int_equal(xoc_xform_flush(xf, NULL, &s), XOC_EINVAL);
    s_sink_fini(&sb);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
    xoc_xform_destroy(&b);
}

/*  Records stored without the fields no transform reads give the same objects as whole
    records (with ints as numbers and as strings, and in the reverse order).               */
static void test_keep_filter(void **state)
{
    for (int mode = 0; mode < 2; mode++) {
        xoc_xform_t *a = xoc_xform_new(), *b;
        sink_t sa, sb = s_loaded(&b, mode);
        s_sink_init(&sa);
        xf_set_keep_all(a, true);
        s_put_all(a, mode, mode);
        assert_int_equal(s_flush(a, &sa), 0);
        assert_true(json_equal(sa.state, sb.state));
        s_sink_fini(&sa);
        s_sink_fini(&sb);
        xoc_xform_destroy(&a);
        xoc_xform_destroy(&b);
    }
}

/*  The real pipeline: get_all_records answers of xapi-sim (tests/data/wire, captured from
    `xapi-sim --vms 2`) decoded by the XAPI client as the collector does (RECORDS mode), over
    XML-RPC (ints as strings) and JSON-RPC (ints as numbers), give the same objects.         */
static int s_on_record(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    void **a = arg;
    char ref[128];
    snprintf(ref, sizeof(ref), "%.*s", (int)key_len, key);
    return xoc_xform_put(a[0], a[1], ref, mp, mp_len);
}

static char *s_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void s_load_wire(xoc_xform_t *xf, bool xml, unsigned flags)
{
    const char *classes[] = {"VM",   "VM_metrics",   "VM_guest_metrics",
                             "host", "host_metrics", "pool"};
    const char *src = getenv("XOC_SOURCE_DIR");
    for (size_t i = 0; i < sizeof(classes) / sizeof(*classes); i++) {
        char path[1024];
        size_t len;
        snprintf(path, sizeof(path), "%s/services/collector/tests/data/wire/%s.%s",
                 src ? src : "../..", classes[i], xml ? "xml" : "json");
        char *body = s_read(path, &len);
        void *arg[2] = {xf, (void *)classes[i]};
        xoc_xapi_decode_opts_t opts = {
            .mode = XOC_XAPI_RECORDS, .flags = flags, .on_entry = s_on_record, .arg = arg};
        int rc = xml ? xoc_xapi_decode_xmlrpc(body, len, &opts, NULL, NULL)
                     : xoc_xapi_decode_jsonrpc(body, len, &opts, NULL, NULL);
        assert_int_equal(rc, 0);
        free(body);
    }
}

static void test_wire(void **state)
{
    xoc_xform_t *x = xoc_xform_new(), *j = xoc_xform_new(), *js = xoc_xform_new();
    sink_t sx, sj, sjs;
    s_sink_init(&sx);
    s_sink_init(&sj);
    s_sink_init(&sjs);
    s_load_wire(x, true, 0);
    s_load_wire(j, false, 0);
    s_load_wire(js, false, XOC_XAPI_INT_AS_STRING);
    assert_int_equal(s_flush(x, &sx), 0);
    assert_int_equal(s_flush(j, &sj), 0);
    assert_int_equal(s_flush(js, &sjs), 0);
    assert_true(json_object_size(sx.state) >= 12); /* pool, host, dom0, 8 templates, 2 VMs */
    assert_true(json_equal(sx.state, sj.state));
    assert_true(json_equal(sx.state, sjs.state));
    const char *id;
    json_t *o;
    size_t vms = 0;
    json_object_foreach(sx.state, id, o)
    {
        if (strcmp(s_str(o, "type"), "VM") != 0)
            continue;
        vms++;
        json_t *mem = json_object_get(o, "memory");
        assert_true(json_is_integer(json_object_get(mem, "size")));
        assert_true(json_integer_value(json_array_get(json_object_get(mem, "static"), 1)) > 0);
        assert_true(json_is_integer(json_object_get(json_object_get(o, "CPUs"), "max")));
        assert_string_equal(s_str(o, "$pool"), xoc_xform_pool_id(x));
    }
    assert_int_equal(vms, 2);
    s_sink_fini(&sx);
    s_sink_fini(&sj);
    s_sink_fini(&sjs);
    xoc_xform_destroy(&x);
    xoc_xform_destroy(&j);
    xoc_xform_destroy(&js);
}

/*  Churn of short-lived records linked from long-lived ones (tasks in current_operations,
    VMs created and destroyed with their disks): the number of nodes stays flat.          */
static void test_churn_flat(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"pool-1\",\"name_label\":\"P\"}");
    s_put_text(xf, "VM", "OpaqueRef:vm1", "{\"uuid\":\"vm-1\",\"current_operations\":{}}");
    assert_int_equal(s_flush(xf, &s), 0);
    size_t nodes = xf_nodes(xf), count = xoc_xform_count(xf);
    char vm[512], ref[64], ref2[64], task[256];
    for (int i = 0; i < 2000; i++) {
        snprintf(ref, sizeof(ref), "OpaqueRef:t%d", i);
        snprintf(ref2, sizeof(ref2), "OpaqueRef:u%d", i); /* never known */
        snprintf(vm, sizeof(vm),
                 "{\"uuid\":\"vm-1\",\"current_operations\":{\"%s\":\"start\","
                 "\"%s\":\"x\"},\"VBDs\":[\"OpaqueRef:vbd%d\"]}",
                 ref, ref2, i);
        s_put_text(xf, "VM", "OpaqueRef:vm1", vm);
        if (i % 3 == 0)
            assert_int_equal(s_flush(xf, &s), 0);
        snprintf(task, sizeof(task), "{\"uuid\":\"task-%d\",\"status\":\"pending\"}", i);
        s_put_text(xf, "task", ref, task);
        snprintf(vm, sizeof(vm),
                 "{\"uuid\":\"vm-%d\",\"VBDs\":[\"OpaqueRef:vbd-x%d\"],"
                 "\"metrics\":\"OpaqueRef:m%d\"}",
                 i + 2, i, i);
        snprintf(ref2, sizeof(ref2), "OpaqueRef:vm-x%d", i);
        s_put_text(xf, "VM", ref2, vm);
        assert_int_equal(s_flush(xf, &s), 0);
        assert_int_equal(xoc_xform_del(xf, "task", ref), 0);
        assert_int_equal(xoc_xform_del(xf, "VM", ref2), 0);
        s_put_text(xf, "VM", "OpaqueRef:vm1", "{\"uuid\":\"vm-1\",\"current_operations\":{}}");
        assert_int_equal(s_flush(xf, &s), 0);
        assert_int_equal(xf_nodes(xf), nodes);
        assert_int_equal(xoc_xform_count(xf), count);
    }
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  chainPhysicalUsage walks the VHD chain (sm_config.vhd-parent: a uuid), whatever order
    the VDIs come in, and follows changes and removals of the ancestors.                    */
static void test_vdi_chain(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "VDI", "OpaqueRef:leaf",
               "{\"uuid\":\"leaf\",\"managed\":true,\"is_a_snapshot\":false,"
               "\"physical_utilisation\":\"10\",\"sm_config\":{\"vhd-parent\":\"mid\"}}");
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *leaf = json_object_get(s.state, "leaf");
    assert_int_equal(json_integer_value(json_object_get(leaf, "chainPhysicalUsage")), 10);
    assert_string_equal(s_str(leaf, "parent"), "mid");
    s_put_text(xf, "VDI", "OpaqueRef:base",
               "{\"uuid\":\"base\",\"managed\":true,\"is_a_snapshot\":false,"
               "\"physical_utilisation\":1000,\"sm_config\":{}}");
    s_put_text(xf, "VDI", "OpaqueRef:mid",
               "{\"uuid\":\"mid\",\"managed\":true,\"is_a_snapshot\":true,"
               "\"physical_utilisation\":100,\"sm_config\":{\"vhd-parent\":\"base\"}}");
    assert_int_equal(s_flush(xf, &s), 0);
    leaf = json_object_get(s.state, "leaf");
    assert_int_equal(json_integer_value(json_object_get(leaf, "chainPhysicalUsage")), 1110);
    assert_null(json_object_get(json_object_get(s.state, "mid"), "chainPhysicalUsage"));
    s_put_text(xf, "VDI", "OpaqueRef:base",
               "{\"uuid\":\"base\",\"managed\":true,\"is_a_snapshot\":false,"
               "\"physical_utilisation\":2000,\"sm_config\":{}}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.enters, "leaf"));
    leaf = json_object_get(s.state, "leaf");
    assert_int_equal(json_integer_value(json_object_get(leaf, "chainPhysicalUsage")), 2110);
    assert_int_equal(xoc_xform_del(xf, "VDI", "OpaqueRef:mid"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    leaf = json_object_get(s.state, "leaf");
    assert_int_equal(json_integer_value(json_object_get(leaf, "chainPhysicalUsage")), 10);
    /* a cycle is bounded */
    s_put_text(xf, "VDI", "OpaqueRef:loop",
               "{\"uuid\":\"loop\",\"managed\":true,\"physical_utilisation\":1,"
               "\"sm_config\":{\"vhd-parent\":\"loop\"}}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_non_null(json_object_get(s.state, "loop"));
    assert_int_equal(xoc_xform_del(xf, "VDI", "OpaqueRef:loop"), 0);
    assert_int_equal(xoc_xform_del(xf, "VDI", "OpaqueRef:leaf"), 0);
    assert_int_equal(xoc_xform_del(xf, "VDI", "OpaqueRef:base"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(xoc_xform_count(xf), 0);
    assert_int_equal(xf_nodes(xf), 0);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  A put whose kept fields are those already stored regenerates nothing (the simulator's
    metrics churn: last_updated, VCPUs_utilisation, other_config move); a change of a field
    the VM reads still re-emits it, and a record put again after its removal counts.        */
static void test_unchanged_put(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"pool-1\",\"name_label\":\"P\"}");
    s_put_text(xf, "host", "OpaqueRef:h1", "{\"uuid\":\"host-1\",\"name_label\":\"H\"}");
    const char *vm = "{\"uuid\":\"vm-1\",\"power_state\":\"Running\",\"resident_on\":"
                     "\"OpaqueRef:h1\",\"metrics\":\"OpaqueRef:m1\",\"guest_metrics\":"
                     "\"OpaqueRef:g1\",\"domid\":%d}";
    char text[512];
    snprintf(text, sizeof(text), vm, 1);
    s_put_text(xf, "VM", "OpaqueRef:vm1", text);
    s_put_text(xf, "VM_metrics", "OpaqueRef:m1",
               "{\"uuid\":\"m-1\",\"memory_actual\":100,\"VCPUs_number\":2,"
               "\"VCPUs_utilisation\":{\"0\":0.1},\"last_updated\":\"20240101T00:00:00Z\"}");
    s_put_text(xf, "VM_guest_metrics", "OpaqueRef:g1",
               "{\"uuid\":\"g-1\",\"memory\":{\"used\":\"10\",\"total\":\"50\"}}");
    assert_int_equal(s_flush(xf, &s), 0);
    size_t regens = xf_regens(xf);
    /* fields no transform reads: nothing regenerated */
    s_put_text(xf, "VM_metrics", "OpaqueRef:m1",
               "{\"uuid\":\"m-1\",\"memory_actual\":100,\"VCPUs_number\":2,"
               "\"VCPUs_utilisation\":{\"0\":0.9},\"last_updated\":\"20240101T00:00:07Z\","
               "\"other_config\":{\"sim-seq\":\"7\"}}");
    snprintf(text, sizeof(text), vm, 2); /* domid: not kept */
    s_put_text(xf, "VM", "OpaqueRef:vm1", text);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(xf_regens(xf), regens);
    assert_int_equal(json_array_size(s.enters) + json_array_size(s.exits), 0);
    /* memory.usage moves: the VM is re-emitted */
    s_put_text(xf, "VM_guest_metrics", "OpaqueRef:g1",
               "{\"uuid\":\"g-1\",\"memory\":{\"used\":\"20\",\"total\":\"50\"}}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.enters, "vm-1"));
    json_t *mem = json_object_get(json_object_get(s.state, "vm-1"), "memory");
    assert_int_equal(json_integer_value(json_object_get(mem, "usage")), 20);
    /* a read field that does not change the object: regenerated, not emitted */
    regens = xf_regens(xf);
    s_put_text(xf, "VM_metrics", "OpaqueRef:m1",
               "{\"uuid\":\"m-1\",\"memory_actual\":300,\"VCPUs_number\":2}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(xf_regens(xf) > regens);
    assert_int_equal(json_array_size(s.enters), 0);
    /* removed then put again with the same bytes: the VM reads it again */
    const char *gm = "{\"uuid\":\"g-1\",\"memory\":{\"used\":\"20\",\"total\":\"50\"}}";
    assert_int_equal(xoc_xform_del(xf, "VM_guest_metrics", "OpaqueRef:g1"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    mem = json_object_get(json_object_get(s.state, "vm-1"), "memory");
    assert_null(json_object_get(mem, "usage"));
    s_put_text(xf, "VM_guest_metrics", "OpaqueRef:g1", gm);
    assert_int_equal(s_flush(xf, &s), 0);
    mem = json_object_get(json_object_get(s.state, "vm-1"), "memory");
    assert_int_equal(json_integer_value(json_object_get(mem, "usage")), 20);
    /* the same bytes under another class are a change */
    s_put_text(xf, "VM_metrics", "OpaqueRef:g1", gm);
    assert_int_equal(s_flush(xf, &s), 0);
    mem = json_object_get(json_object_get(s.state, "vm-1"), "memory");
    assert_null(json_object_get(mem, "usage"));
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

static const char *s_container_of(const sink_t *s, const char *id)
{
    return json_string_value(json_object_get(json_object_get(s->state, id), "$container"));
}

/*  A halted VM's $container (the host of a local SR of its disks, else the pool) follows the
    SR (shared or not, its PBDs, computed once per put of the SR), the PBD and the host.    */
static void test_halted_container(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"pool-1\",\"name_label\":\"P\"}");
    s_put_text(xf, "host", "OpaqueRef:h1", "{\"uuid\":\"host-1\"}");
    s_put_text(xf, "host", "OpaqueRef:h2", "{\"uuid\":\"host-2\"}");
    const char *shared = "{\"uuid\":\"sr-1\",\"shared\":true,\"PBDs\":[\"OpaqueRef:pbd1\"],"
                         "\"VDIs\":[\"OpaqueRef:vdi1\",\"OpaqueRef:vdi2\"]}";
    const char *local = "{\"uuid\":\"sr-1\",\"shared\":false,\"PBDs\":[\"OpaqueRef:pbd1\"],"
                        "\"VDIs\":[\"OpaqueRef:vdi1\"]}";
    s_put_text(xf, "SR", "OpaqueRef:sr1", shared);
    s_put_text(xf, "PBD", "OpaqueRef:pbd1",
               "{\"uuid\":\"pbd-1\",\"host\":\"OpaqueRef:h1\",\"SR\":\"OpaqueRef:sr1\"}");
    s_put_text(xf, "VDI", "OpaqueRef:vdi1", "{\"uuid\":\"vdi-1\",\"SR\":\"OpaqueRef:sr1\"}");
    s_put_text(xf, "VBD", "OpaqueRef:vbd1",
               "{\"uuid\":\"vbd-1\",\"VDI\":\"OpaqueRef:vdi1\",\"VM\":\"OpaqueRef:vm1\"}");
    s_put_text(xf, "VM", "OpaqueRef:vm1",
               "{\"uuid\":\"vm-1\",\"power_state\":\"Halted\",\"resident_on\":"
               "\"OpaqueRef:NULL\",\"VBDs\":[\"OpaqueRef:vbd1\"]}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "pool-1");
    s_put_text(xf, "SR", "OpaqueRef:sr1", local); /* the SR becomes local */
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.enters, "vm-1"));
    assert_string_equal(s_container_of(&s, "vm-1"), "host-1");
    s_put_text(xf, "PBD", "OpaqueRef:pbd1", /* the PBD moves to another host */
               "{\"uuid\":\"pbd-1\",\"host\":\"OpaqueRef:h2\",\"SR\":\"OpaqueRef:sr1\"}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "host-2");
    s_put_text(xf, "host", "OpaqueRef:h2", "{\"uuid\":\"host-2b\"}"); /* its id changes */
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "host-2b");
    s_put_text(xf, "SR", "OpaqueRef:sr1", "{\"uuid\":\"sr-1\",\"shared\":false,\"PBDs\":[]}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "pool-1");
    s_put_text(xf, "SR", "OpaqueRef:sr1", local);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "host-2b");
    assert_int_equal(xoc_xform_del(xf, "SR", "OpaqueRef:sr1"), 0); /* SR gone, then back */
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "pool-1");
    s_put_text(xf, "SR", "OpaqueRef:sr1", local);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "host-2b");
    s_put_text(xf, "SR", "OpaqueRef:sr1", shared);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_container_of(&s, "vm-1"), "pool-1");
    /* a shared SR: its PBD's host no longer counts */
    s_put_text(xf, "PBD", "OpaqueRef:pbd1",
               "{\"uuid\":\"pbd-1\",\"host\":\"OpaqueRef:h1\",\"SR\":\"OpaqueRef:sr1\"}");
    assert_int_equal(s_flush(xf, &s), 0);
    assert_false(s_has(s.enters, "vm-1"));
    assert_string_equal(s_container_of(&s, "vm-1"), "pool-1");
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  The index of refs (open addressing, entries moved back on removal): after removals in
    random order, every remaining record is found by a link and none of the removed ones.   */
static void test_index_removals(void **state)
{
    enum { N = 5000 };
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    static bool gone[N];
    char ref[64], text[128];
    for (int i = 0; i < N; i++) {
        snprintf(ref, sizeof(ref), "OpaqueRef:vif-%d", i);
        snprintf(text, sizeof(text), "{\"uuid\":\"vif-%d\"}", i);
        s_put_text(xf, "VIF", ref, text);
    }
    assert_int_equal(s_flush(xf, &s), 0);
    unsigned seed = 7;
    for (int k = 0; k < N / 2; k++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % N);
        snprintf(ref, sizeof(ref), "OpaqueRef:vif-%d", i);
        assert_int_equal(xoc_xform_del(xf, "VIF", ref), 0);
        gone[i] = true;
    }
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *vm = json_pack("{s:s, s:[]}", "uuid", "vm-1", "VIFs");
    for (int i = 0; i < N; i++) {
        snprintf(ref, sizeof(ref), "OpaqueRef:vif-%d", i);
        json_array_append_new(json_object_get(vm, "VIFs"), json_string(ref));
    }
    assert_int_equal(s_put_json(xf, "VM", "OpaqueRef:vm1", vm, false), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *vifs = json_object_get(json_object_get(s.state, "vm-1"), "VIFs");
    size_t left = 0;
    for (int i = 0; i < N; i++) {
        snprintf(text, sizeof(text), "vif-%d", i);
        assert_int_equal(s_has(vifs, text), !gone[i]);
        assert_int_equal(json_object_get(s.state, text) != NULL, !gone[i]);
        left += !gone[i];
    }
    assert_int_equal(json_array_size(vifs), left);
    assert_int_equal(xf_nodes(xf), N + 1); /* the removed ones wait as placeholders */
    json_decref(vm);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  The field filter reads the msgpack bytes: keys of any str encoding are recognised, other
    keys dropped, and values copied as they came.                                           */
static void test_keep_raw(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    msgpack_pack_int(&pk, 1); /* not a str key: dropped */
    msgpack_pack_str_with_body(&pk, "x", 1);
    const uint8_t uuid8[] = {0xd9, 4, 'u', 'u', 'i', 'd'}; /* "uuid" as str8 */
    msgpack_sbuffer_write(&sb, (const char *)uuid8, sizeof(uuid8));
    msgpack_pack_str_with_body(&pk, "vm-1", 4);
    const char *lng = "a_key_longer_than_thirty_one_bytes_not_read";
    msgpack_pack_str_with_body(&pk, lng, strlen(lng));
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 0);
    const uint8_t name16[] = {0xda, 0, 10, 'n', 'a', 'm', 'e', '_', 'l', 'a', 'b', 'e', 'l'};
    msgpack_sbuffer_write(&sb, (const char *)name16, sizeof(name16));
    const uint8_t n32[] = {0xdb, 0, 0, 0, 1, 'N'}; /* "N" as str32 */
    msgpack_sbuffer_write(&sb, (const char *)n32, sizeof(n32));
    msgpack_pack_str_with_body(&pk, "startDelay", 10); /* not an XAPI field: dropped */
    msgpack_pack_int(&pk, 3);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:vm1", sb.data, sb.size), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    json_t *o = json_object_get(s.state, "vm-1");
    assert_non_null(o);
    assert_string_equal(s_str(o, "name_label"), "N");
    assert_null(json_object_get(o, "startDelay"));
    /* the same fields in another encoding and order: stored again, same object */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "name_label", 10);
    msgpack_pack_str_with_body(&pk, "N", 1);
    msgpack_pack_str_with_body(&pk, "uuid", 4);
    msgpack_pack_str_with_body(&pk, "vm-1", 4);
    size_t regens = xf_regens(xf);
    assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:vm1", sb.data, sb.size), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(xf_regens(xf) > regens);
    assert_int_equal(json_array_size(s.enters), 0);
    msgpack_sbuffer_destroy(&sb);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

/*  put() checks a filtered class's record while filtering it (one walk) and reads its uuid
    and flags without unpacking it: the verdicts, the ids and the objects must be those of the
    whole-record path (keep_all: the full check and unpack) for every kind of input: the
    nesting limit exactly, duplicate keys (the first counts), non-str and long keys, trailing
    bytes, truncation inside a kept or a dropped field.                                       */
static void s_put_both(const char *cls, const char *ref, const uint8_t *rec, size_t len,
                       int expect)
{
    xoc_xform_t *a = xoc_xform_new(), *b = xoc_xform_new();
    xf_set_keep_all(b, true);
    sink_t sa, sb;
    s_sink_init(&sa);
    s_sink_init(&sb);
    int ra = xoc_xform_put(a, cls, ref, rec, len), rb = xoc_xform_put(b, cls, ref, rec, len);
    assert_int_equal(ra, expect);
    assert_int_equal(rb, expect);
    assert_int_equal(s_flush(a, &sa), 0);
    assert_int_equal(s_flush(b, &sb), 0);
    assert_true(json_equal(sa.state, sb.state));
    s_sink_fini(&sa);
    s_sink_fini(&sb);
    xoc_xform_destroy(&a);
    xoc_xform_destroy(&b);
}

static void test_filter_check(void **state)
{
    (void)state;
    uint8_t deep[64];
    for (int levels = 30; levels <= 34; levels++) { /* the record is the first level */
        size_t n = 0;
        deep[n++] = 0x82;
        deep[n++] = 0xa4, memcpy(deep + n, "uuid", 4), n += 4;
        deep[n++] = 0xa2, deep[n++] = 'v', deep[n++] = '1';
        deep[n++] = 0xa4, memcpy(deep + n, "tags", 4), n += 4; /* kept: VM tags */
        for (int i = 1; i < levels; i++)
            deep[n++] = 0x91;
        deep[n++] = 0xc0;
        s_put_both("VM", "OpaqueRef:d", deep, n, levels <= 32 ? 0 : XOC_ETOOBIG);
        memcpy(deep + 10, "xags", 4); /* "tags" -> a dropped field */
        s_put_both("VM", "OpaqueRef:d", deep, n, levels <= 32 ? 0 : XOC_ETOOBIG);
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* duplicates: the first uuid and the first is_a_template/other_config count */
    msgpack_pack_map(&pk, 8);
    msgpack_pack_int(&pk, 7); /* a non-str key */
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "uuid", 4);
    msgpack_pack_str_with_body(&pk, "no", 2);
    const uint8_t uuid16[] = {0xda, 0, 4, 'u', 'u', 'i', 'd'};
    msgpack_sbuffer_write(&sb, (const char *)uuid16, sizeof(uuid16));
    msgpack_pack_str_with_body(&pk, "tpl-1", 5);
    msgpack_pack_str_with_body(&pk, "uuid", 4);
    msgpack_pack_str_with_body(&pk, "tpl-2", 5);
    msgpack_pack_str_with_body(&pk, "is_a_template", 13);
    msgpack_pack_true(&pk);
    msgpack_pack_str_with_body(&pk, "is_a_template", 13);
    msgpack_pack_false(&pk);
    msgpack_pack_str_with_body(&pk, "other_config", 12);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "default_template", 16);
    msgpack_pack_str_with_body(&pk, "true", 4);
    msgpack_pack_str_with_body(&pk, "other_config", 12);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str_with_body(&pk, "name_label", 10);
    msgpack_pack_str_with_body(&pk, "T", 1);
    msgpack_sbuffer_write(&sb, "\xc0\xc0", 2); /* trailing bytes: not the record's */
    s_put_both("VM", "OpaqueRef:t", (const uint8_t *)sb.data, sb.size, 0);
    {
        xoc_xform_t *xf = xoc_xform_new();
        sink_t s;
        s_sink_init(&s);
        assert_int_equal(xoc_xform_put(xf, "VM", "OpaqueRef:t", sb.data, sb.size), 0);
        assert_int_equal(s_flush(xf, &s), 0);
        json_t *o = json_object_get(s.state, "tpl-1"); /* a default template without a pool */
        assert_non_null(o);
        assert_string_equal(s_str(o, "type"), "VM-template");
        s_sink_fini(&s);
        xoc_xform_destroy(&xf);
    }
    /* every truncation of that record and of a dropped field: the same verdicts */
    for (size_t cut = 1; cut < sb.size - 2; cut++)
        s_put_both("VM", "OpaqueRef:t", (const uint8_t *)sb.data, cut, XOC_EPROTO);
    /* an SR's flags (shared, PBDs) read the same way; a map count beyond the bytes */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "uuid", 4);
    msgpack_pack_str_with_body(&pk, "sr-1", 4);
    msgpack_pack_str_with_body(&pk, "PBDs", 4);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "shared", 6);
    msgpack_pack_true(&pk);
    s_put_both("SR", "OpaqueRef:s", (const uint8_t *)sb.data, sb.size, 0);
    sb.data[0] = (char)0x8f;
    s_put_both("SR", "OpaqueRef:s", (const uint8_t *)sb.data, sb.size, XOC_EPROTO);
    msgpack_sbuffer_destroy(&sb);
}

/*  Datetimes are converted without timegm: the same seconds for every month, leap years,
    days past the month's end, leap seconds, years 0 to 9999.                                */
static void test_time_parse(void **state)
{
    static const int years[] = {0, 1, 4, 100, 399, 400, 1600, 1899, 1900, 1969, 1970,
                                1999, 2000, 2024, 2038, 2100, 2400, 9999};
    static const int days[] = {1, 15, 28, 29, 30, 31};
    for (size_t yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++)
        for (int mo = 1; mo <= 12; mo++)
            for (size_t di = 0; di < sizeof(days) / sizeof(days[0]); di++) {
                int y = years[yi], d = days[di];
                char buf[40];
                snprintf(buf, sizeof(buf), "%04d%02d%02dT23:59:60Z", y, mo, d);
                msgpack_object o = {.type = MSGPACK_OBJECT_STR,
                                    .via.str = {(uint32_t)strlen(buf), buf}};
                int64_t v = 0;
                assert_true(xf_to_time(&o, &v));
                struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                                .tm_hour = 23, .tm_min = 59, .tm_sec = 60};
                assert_int_equal(v, (int64_t)timegm(&tm));
            }
}

/*  The host record with resident_VMs = the refs vm<from>..vm<to-1> (and the same as PIFs),
    or without both lists.                                                                   */
static void s_put_host_vms(xoc_xform_t *xf, int from, int to, bool with_list)
{
    json_t *h = json_pack("{s:s, s:s, s:[], s:[]}", "uuid", "host-1", "metrics", "OpaqueRef:hm1",
                          "resident_VMs", "PIFs");
    char ref[64];
    for (int i = from; i < to; i++) {
        snprintf(ref, sizeof(ref), "OpaqueRef:vm%d", i);
        json_array_append_new(json_object_get(h, "resident_VMs"), json_string(ref));
        json_array_append_new(json_object_get(h, "PIFs"), json_string(ref));
    }
    if (!with_list) {
        json_object_del(h, "resident_VMs");
        json_object_del(h, "PIFs");
    }
    assert_int_equal(s_put_json(xf, "host", "OpaqueRef:h1", h, false), 0);
    json_decref(h);
}

static void s_put_vm_n(xoc_xform_t *xf, int i, const char *uuid_fmt)
{
    char ref[64], text[128], uuid[64];
    snprintf(ref, sizeof(ref), "OpaqueRef:vm%d", i);
    snprintf(uuid, sizeof(uuid), uuid_fmt, i);
    snprintf(text, sizeof(text), "{\"uuid\":\"%s\",\"resident_on\":\"OpaqueRef:h1\"}", uuid);
    s_put_text(xf, "VM", ref, text);
}

/*  residentVms of host-1 as "a,b,c".                                                         */
static const char *s_resident(const sink_t *s, char *buf, size_t cap)
{
    json_t *l = json_object_get(json_object_get(s->state, "host-1"), "residentVms");
    size_t i, n = 0;
    json_t *e;
    buf[0] = '\0';
    json_array_foreach(l, i, e) n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
                                                      json_string_value(e));
    return buf;
}

static void s_host_metrics_tick(xoc_xform_t *xf, int free_mb)
{
    char text[128];
    snprintf(text, sizeof(text), "{\"uuid\":\"hm-1\",\"live\":true,\"memory_total\":\"%d\","
             "\"memory_free\":\"%d\"}", 1 << 30, free_mb << 20);
    s_put_text(xf, "host_metrics", "OpaqueRef:hm1", text);
}

/*  A long list of links (a host's resident VMs) is taken from the node's cache when the host
    is regenerated for another reason (host_metrics), and rebuilt when a VM of the list
    appears, goes or changes id, or the list itself changes or goes and comes back.         */
static void test_link_cache(void **state)
{
    xoc_xform_t *xf = xoc_xform_new();
    sink_t s;
    s_sink_init(&s);
    char buf[4096], want[4096];
    s_put_text(xf, "pool", "OpaqueRef:p1", "{\"uuid\":\"pool-1\",\"name_label\":\"P\"}");
    for (int i = 0; i < 20; i++)
        if (i != 7) /* vm7: not known yet */
            s_put_vm_n(xf, i, "vm-%d");
    s_put_host_vms(xf, 0, 20, true);
    s_host_metrics_tick(xf, 100);
    assert_int_equal(s_flush(xf, &s), 0);
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        if (i != 7)
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%svm-%d", n ? "," : "", i);
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* host_metrics: the host is re-emitted, its lists come from the cache */
    size_t hits = xf_link_cache_hits(xf);
    s_host_metrics_tick(xf, 200);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_true(s_has(s.enters, "host-1"));
    assert_int_equal(xf_link_cache_hits(xf), hits + 3); /* residentVms, PIFs, $PIFs */
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* vm7 arrives, vm3 changes id, vm5 goes: the cache is not used */
    s_put_vm_n(xf, 7, "vm-%d");
    s_put_vm_n(xf, 3, "vm-%d-b");
    assert_int_equal(xoc_xform_del(xf, "VM", "OpaqueRef:vm5"), 0);
    assert_int_equal(s_flush(xf, &s), 0);
    n = 0;
    for (int i = 0; i < 20; i++)
        if (i != 5)
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%svm-%d%s", n ? "," : "", i,
                                  i == 3 ? "-b" : "");
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    hits = xf_link_cache_hits(xf);
    s_host_metrics_tick(xf, 300);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(xf_link_cache_hits(xf), hits + 3);
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* one id change alone, while the host is dirty for its metrics too */
    s_host_metrics_tick(xf, 400);
    s_put_vm_n(xf, 19, "vm-%d-c");
    assert_int_equal(s_flush(xf, &s), 0);
    char *last = strrchr(want, ',');
    snprintf(last, sizeof(want) - (size_t)(last - want), ",vm-19-c");
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* the list changes: a VM more */
    s_put_vm_n(xf, 20, "vm-%d");
    s_put_host_vms(xf, 0, 21, true);
    assert_int_equal(s_flush(xf, &s), 0);
    n = strlen(want);
    snprintf(want + n, sizeof(want) - n, ",vm-20");
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* the list goes, its VMs go (their nodes are freed), it comes back: rebuilt */
    s_put_host_vms(xf, 0, 21, false);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(s.state, "host-1"),
                                                     "residentVms")), 0);
    for (int i = 0; i < 21; i++) {
        char ref[64];
        snprintf(ref, sizeof(ref), "OpaqueRef:vm%d", i);
        assert_int_equal(xoc_xform_del(xf, "VM", ref), 0);
    }
    s_put_host_vms(xf, 0, 1, true); /* PIFs no longer long: its cache goes too */
    assert_int_equal(s_flush(xf, &s), 0);
    s_put_host_vms(xf, 0, 21, true);
    for (int i = 10; i < 21; i++)
        s_put_vm_n(xf, i, "vm-%d-d");
    assert_int_equal(s_flush(xf, &s), 0);
    n = 0;
    for (int i = 10; i < 21; i++)
        n += (size_t)snprintf(want + n, sizeof(want) - n, "%svm-%d-d", n ? "," : "", i);
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    s_host_metrics_tick(xf, 500);
    assert_int_equal(s_flush(xf, &s), 0);
    assert_string_equal(s_resident(&s, buf, sizeof(buf)), want);
    /* emit_all gives the same objects */
    sink_t all;
    s_sink_init(&all);
    assert_int_equal(xoc_xform_emit_all(xf, s_emit, &all), 0);
    assert_true(json_equal(all.state, s.state));
    s_sink_fini(&all);
    s_sink_fini(&s);
    xoc_xform_destroy(&xf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_pool),
        cmocka_unit_test(test_pool_host),
        cmocka_unit_test(test_vm),
        cmocka_unit_test(test_templates_controller),
        cmocka_unit_test(test_storage_network),
        cmocka_unit_test(test_int_encodings_and_order),
        cmocka_unit_test(test_metrics_fold),
        cmocka_unit_test(test_template_id_change_and_removal),
        cmocka_unit_test(test_unknown_links),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_emit_error),
        cmocka_unit_test(test_emit_all_pending),
        cmocka_unit_test(test_keep_filter),
        cmocka_unit_test(test_wire),
        cmocka_unit_test(test_churn_flat),
        cmocka_unit_test(test_vdi_chain),
        cmocka_unit_test(test_unchanged_put),
        cmocka_unit_test(test_halted_container),
        cmocka_unit_test(test_index_removals),
        cmocka_unit_test(test_keep_raw),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_link_cache),
        cmocka_unit_test(test_filter_check),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
