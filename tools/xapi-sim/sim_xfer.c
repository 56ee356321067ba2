#include "sim_xfer.h"

#include "sim_rec.h"

#include <string.h>

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k)) ?: "";
}

/*  Replaces refs found in refmap (top-level strings and sets of strings).                    */
static void s_map_refs(json_t *rec, const json_t *refmap)
{
    const char *k;
    json_t *v;
    json_object_foreach(rec, k, v)
    {
        if (json_is_string(v)) {
            json_t *m = json_object_get(refmap, json_string_value(v));
            if (m)
                json_string_set(v, json_string_value(m));
        } else if (json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                json_t *m =
                    json_is_string(e) ? json_object_get(refmap, json_string_value(e)) : NULL;
                if (m)
                    json_string_set(e, json_string_value(m));
            }
        }
    }
}

typedef struct {
    json_t *objs;   /* [[class, real ref, record]] */
    json_t *refmap; /* real ref -> "Ref:n" */
} s_export_t;

static void s_take(s_export_t *x, sim_pool_t *p, const char *cls, const char *ref)
{
    sim_obj_t *o = sim_store_get(p->store, ref);
    if (!o || json_object_get(x->refmap, ref))
        return;
    char id[16];
    snprintf(id, sizeof id, "Ref:%zu", json_array_size(x->objs));
    json_object_set_new(x->refmap, ref, json_string(id));
    json_array_append_new(x->objs, json_pack("[s,s,o]", cls, ref, sim_store_json(o)));
}

static void s_write_version(sim_wr_t *w, sim_pool_t *p)
{
    sim_wr_map_begin(w);
    const char *kv[][2] = {{"hostname", p->hosts[p->master].ip},
                           {"date", "2023-11-27"},
                           {"product_version", "8.2.1"},
                           {"product_brand", "XCP-ng"},
                           {"build_number", "release/yangtze/master/58"},
                           {"xapi_major", "1"},
                           {"xapi_minor", "20"},
                           {"export_vsn", "2"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        sim_wr_key(w, kv[i][0], strlen(kv[i][0]));
        sim_wr_str(w, kv[i][1]);
    }
    sim_wr_map_end(w);
}

/*  Collects the VM, its VBDs, their VDIs and its VIFs; the disks to stream go to disks.    */
static int s_collect(s_export_t *x, sim_pool_t *p, sim_obj_t *vm, sim_xva_disk_t *disks, int max)
{
    int nd = 0;
    s_take(x, p, "VM", vm->ref);
    json_t *vr = json_array_get(json_array_get(x->objs, 0), 2);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vr, "VBDs"), i, e)
    {
        s_take(x, p, "VBD", json_string_value(e));
        sim_obj_t *vbd = sim_store_get(p->store, json_string_value(e));
        json_t *b = vbd ? sim_store_json(vbd) : NULL;
        sim_obj_t *vdi = b ? sim_store_get(p->store, s_str(b, "VDI")) : NULL;
        if (vdi && nd < max) {
            s_take(x, p, "VDI", vdi->ref);
            json_t *d = sim_store_json(vdi);
            snprintf(disks[nd].id, sizeof disks[nd].id, "%s",
                     json_string_value(json_object_get(x->refmap, vdi->ref)));
            snprintf(disks[nd].uuid, sizeof disks[nd].uuid, "%s", vdi->uuid);
            disks[nd].size = json_integer_value(json_object_get(d, "virtual_size"));
            nd++;
            json_decref(d);
        }
        json_decref(b);
    }
    json_array_foreach(json_object_get(vr, "VIFs"), i, e) s_take(x, p, "VIF", json_string_value(e));
    return nd;
}

static char *s_ova(s_export_t *x, sim_pool_t *p, size_t *len)
{
    sim_buf_t b;
    sim_wr_t w;
    sim_buf_init(&b, 16384);
    sim_wr_init(&w, SIM_WR_XML, &b);
    sim_wr_map_begin(&w);
    sim_wr_key(&w, "version", 7);
    s_write_version(&w, p);
    sim_wr_key(&w, "objects", 7);
    sim_wr_arr_begin(&w);
    size_t i;
    json_t *e;
    json_array_foreach(x->objs, i, e)
    {
        const char *cls = json_string_value(json_array_get(e, 0));
        json_t *rec = json_array_get(e, 2);
        s_map_refs(rec, x->refmap);
        sim_wr_map_begin(&w);
        sim_wr_key(&w, "class", 5);
        sim_wr_str(&w, cls);
        sim_wr_key(&w, "id", 2);
        sim_wr_str(&w, json_string_value(
                           json_object_get(x->refmap, json_string_value(json_array_get(e, 1)))));
        sim_wr_key(&w, "snapshot", 8);
        sim_rec_write_json(&w, sim_schema_find(cls), rec);
        sim_wr_map_end(&w);
    }
    sim_wr_arr_end(&w);
    sim_wr_map_end(&w);
    return sim_buf_take(&b, len);
}

sim_xva_writer_t *sim_xfer_export(sim_pool_t *p, const char *vm, const char *compression,
                                  bool metadata_only, json_t **err)
{
    sim_xva_disk_t disks[16];
    sim_store_lock(p->store);
    sim_obj_t *o = sim_store_get(p->store, vm);
    if (!o)
        o = sim_store_by_uuid(p->store, vm);
    if (!o || o->cls != sim_schema_find("VM")->id) {
        *err = json_pack("[s,s,s]", "HANDLE_INVALID", "VM", vm ? vm : "");
        sim_store_unlock(p->store);
        return NULL;
    }
    json_t *r = sim_store_json(o);
    const char *ps = s_str(r, "power_state");
    if (!metadata_only && (!strcmp(ps, "Running") || !strcmp(ps, "Paused"))) {
        *err = json_pack("[s,s,s,s]", "VM_BAD_POWER_STATE", o->ref, "halted",
                         !strcmp(ps, "Running") ? "running" : "paused");
        json_decref(r);
        sim_store_unlock(p->store);
        return NULL;
    }
    json_decref(r);
    s_export_t x = {json_array(), json_object()};
    int nd = s_collect(&x, p, o, disks, 16);
    if (metadata_only)
        nd = 0;
    size_t len;
    char *ova = s_ova(&x, p, &len);
    sim_store_unlock(p->store);
    sim_xva_writer_t *w = sim_xva_writer_new(ova, len, disks, nd, compression);
    free(ova);
    json_decref(x.objs);
    json_decref(x.refmap);
    return w;
}

/* ------------------------------------------------------------------------------------------ */

static const char *s_default_sr(sim_pool_t *p)
{
    sim_obj_t *po = sim_store_get(p->store, p->ref);
    json_t *r = sim_store_json(po);
    static __thread char sr[64];
    snprintf(sr, sizeof sr, "%s", s_str(r, "default_SR"));
    json_decref(r);
    return sr;
}

/*  Adds an object of class cls from an ova snapshot: types coerced, uuid new, fields set.   */
static sim_obj_t *s_add_from(sim_pool_t *p, const char *cls, const json_t *snap, json_t *set)
{
    const sim_class_t *c = sim_schema_find(cls);
    json_t *r = json_deep_copy(snap);
    sim_rec_coerce(c, r);
    json_object_del(r, "uuid");
    json_object_update(r, set);
    json_decref(set);
    sim_obj_t *o = sim_store_add(p->store, c->id, r, NULL);
    json_decref(r);
    return o;
}

static void s_append(sim_pool_t *p, sim_obj_t *o, const char *field, const char *ref)
{
    json_t *r = sim_store_json(o);
    json_array_append_new(json_object_get(r, field), json_string(ref));
    sim_store_update(p->store, o, r);
    json_decref(r);
}

static int s_import_objects(sim_pool_t *p, const json_t *objs, sim_obj_t *sr, char vm_ref[64])
{
    json_t *ids = json_object(); /* "Ref:n" -> new ref */
    const json_t *vm_snap = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(objs, i, e) if (!strcmp(s_str(e, "class"), "VM")) vm_snap =
        json_object_get(e, "snapshot");
    if (!vm_snap) {
        json_decref(ids);
        return -1;
    }
    json_t *m = json_pack("{s:b}", "hvm", 1);
    sim_obj_t *metrics = sim_store_add(p->store, sim_schema_find("VM_metrics")->id, m, NULL);
    json_decref(m);
    sim_obj_t *vm =
        s_add_from(p, "VM", vm_snap,
                   json_pack("{s:s, s:s, s:s, s:s, s:[], s:[], s:[], s:[], s:{}, "
                             "s:i}",
                             "power_state", "Halted", "resident_on", SIM_NULL_REF, "metrics",
                             metrics->ref, "guest_metrics", SIM_NULL_REF, "VBDs", "VIFs",
                             "consoles", "snapshots", "current_operations", "domid", -1));
    json_array_foreach(objs, i, e) if (!strcmp(s_str(e, "class"), "VDI"))
    {
        sim_obj_t *vdi = s_add_from(p, "VDI", json_object_get(e, "snapshot"),
                                    json_pack("{s:s, s:[]}", "SR", sr->ref, "VBDs"));
        json_object_set_new(ids, s_str(e, "id"), json_string(vdi->ref));
        s_append(p, sr, "VDIs", vdi->ref);
    }
    json_array_foreach(objs, i, e) if (!strcmp(s_str(e, "class"), "VBD"))
    {
        json_t *snap = json_object_get(e, "snapshot");
        const char *vdi = json_string_value(json_object_get(ids, s_str(snap, "VDI")));
        sim_obj_t *vbd = s_add_from(p, "VBD", snap,
                                    json_pack("{s:s, s:s, s:b}", "VM", vm->ref, "VDI",
                                              vdi ? vdi : SIM_NULL_REF, "currently_attached", 0));
        s_append(p, vm, "VBDs", vbd->ref);
        if (vdi)
            s_append(p, sim_store_get(p->store, vdi), "VBDs", vbd->ref);
    }
    json_t *vr = sim_store_json(vm);
    sim_gen_vm_ops(vr);
    sim_store_update(p->store, vm, vr);
    json_decref(vr);
    snprintf(vm_ref, 64, "%s", vm->ref);
    json_decref(ids);
    return 0;
}

int sim_xfer_import(sim_pool_t *p, const json_t *ova, const char *sr, char vm_ref[64], json_t **err)
{
    const json_t *objs = json_object_get(ova, "objects");
    if (!json_is_array(objs)) {
        *err = json_pack("[s,s]", "IMPORT_ERROR", "ova.xml has no objects");
        return -1;
    }
    sim_store_lock(p->store);
    sim_obj_t *so = sim_store_get(p->store, sr && *sr ? sr : s_default_sr(p));
    int rc = -1;
    if (!so || so->cls != sim_schema_find("SR")->id)
        *err = json_pack("[s,s,s]", "HANDLE_INVALID", "SR", sr ? sr : "");
    else if ((rc = s_import_objects(p, objs, so, vm_ref)) != 0)
        *err = json_pack("[s,s]", "IMPORT_ERROR", "ova.xml has no VM");
    sim_store_unlock(p->store);
    return rc;
}
