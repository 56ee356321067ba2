#include "sim_patch.h"

#include "sim_call.h"

#include "sim_buf.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>

typedef struct {
    const char *uuid;
    const char *name;
    const char *description;
    const char *guidance;
    const char *ext;
    const char *date;
} s_entry_t;

static const s_entry_t s_catalogue[] = {
    {"5e2a7f40-8c1d-4c8e-9a51-000000000001", "XS82E001", "Security fix for xapi", "restartXAPI",
     "xsupdate", "2023-02-14T00:00:00Z"},
    {"5e2a7f40-8c1d-4c8e-9a51-000000000002", "XS82E002", "Hotfix for Xen", "restartHost",
     "xsupdate", "2023-06-20T00:00:00Z"},
    {"5e2a7f40-8c1d-4c8e-9a51-000000000003", "XS82ECU1002", "Cumulative update 2", "restartHost",
     "iso", "2024-01-30T00:00:00Z"},
};

#define S_NCAT (sizeof s_catalogue / sizeof s_catalogue[0])

static void s_field(const char *data, size_t len, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    out[0] = '\0';
    for (size_t i = 0; i + kl + 2 < len; i++) {
        if ((i == 0 || data[i - 1] == '\n') && !strncmp(data + i, key, kl) && data[i + kl] == ':' &&
            data[i + kl + 1] == ' ') {
            const char *v = data + i + kl + 2;
            const char *e = memchr(v, '\n', len - (size_t)(v - data));
            size_t vl = e ? (size_t)(e - v) : len - (size_t)(v - data);
            snprintf(out, n, "%.*s", (int)(vl < n ? vl : n - 1), v);
            return;
        }
    }
}

void sim_patch_parse(const char *data, size_t len, sim_patch_info_t *info)
{
    memset(info, 0, sizeof *info);
    if (len < 14 || strncmp(data, "xapi-sim patch", 14) != 0)
        return;
    s_field(data, len, "uuid", info->uuid, sizeof info->uuid);
    s_field(data, len, "name-label", info->name, sizeof info->name);
    s_field(data, len, "name-description", info->description, sizeof info->description);
    s_field(data, len, "after-apply-guidance", info->guidance, sizeof info->guidance);
    s_field(data, len, "version", info->version, sizeof info->version);
}

sim_obj_t *sim_patch_uploaded(sim_pool_t *p, const sim_patch_info_t *info, uint64_t size)
{
    char name[64];
    snprintf(name, sizeof name, "%s", info->name[0] ? info->name : "uploaded-patch");
    json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:[s]}", "name_label", name, "name_description",
                          info->description, "version", info->version[0] ? info->version : "1.0",
                          "size", (json_int_t)size, "after_apply_guidance",
                          info->guidance[0] ? info->guidance : "restartHost");
    if (info->uuid[0])
        json_object_set_new(r, "uuid", json_string(info->uuid));
    sim_obj_t *o = sim_store_add(p->store, sim_schema_find("pool_patch")->id, r, NULL);
    json_decref(r);
    return o;
}

int sim_patch_vdi_uploaded(sim_pool_t *p, const char *vdi, const sim_patch_info_t *info,
                           uint64_t size)
{
    sim_obj_t *o = sim_store_get(p->store, vdi);
    if (!o)
        o = sim_store_by_uuid(p->store, vdi);
    if (!o || o->cls != sim_schema_find("VDI")->id)
        return -1;
    json_t *r = sim_store_json(o);
    json_t *sm = json_object_get(r, "sm_config");
    if (info->name[0]) {
        json_object_set_new(sm, "sim-update-uuid", json_string(info->uuid));
        json_object_set_new(sm, "sim-update-name", json_string(info->name));
        json_object_set_new(sm, "sim-update-description", json_string(info->description));
        json_object_set_new(sm, "sim-update-guidance", json_string(info->guidance));
        json_object_set_new(sm, "sim-update-version", json_string(info->version));
    }
    json_object_set_new(r, "physical_utilisation", json_integer((json_int_t)size));
    sim_store_update(p->store, o, r);
    json_decref(r);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Vendor stand-in                                                                           */

static char *s_patch_file(const s_entry_t *e, size_t size, size_t *len)
{
    sim_buf_t b;
    sim_buf_init(&b, size + 512);
    sim_buf_printf(&b,
                   "xapi-sim patch\nuuid: %s\nname-label: %s\nname-description: %s\n"
                   "after-apply-guidance: %s\nversion: 1.0\n\n",
                   e->uuid, e->name, e->description, e->guidance);
    uint32_t x = 2166136261u;
    for (const char *c = e->name; *c; c++)
        x = (x ^ (uint8_t)*c) * 16777619u;
    while (b.len < size) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        sim_buf_addc(&b, (char)('a' + x % 26));
    }
    return sim_buf_take(&b, len);
}

static la_ssize_t s_zip_write(struct archive *a, void *ctx, const void *data, size_t n)
{
    sim_buf_add(ctx, data, n);
    return (la_ssize_t)n;
}

static char *s_zip(const s_entry_t *e, size_t patch_size, size_t *len)
{
    size_t flen;
    char *file = s_patch_file(e, patch_size, &flen);
    char name[96];
    snprintf(name, sizeof name, "%s.%s", e->name, e->ext);
    sim_buf_t out;
    sim_buf_init(&out, flen + 1024);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open2(a, &out, NULL, s_zip_write, NULL, NULL);
    struct archive_entry *en = archive_entry_new();
    archive_entry_set_pathname(en, name);
    archive_entry_set_size(en, (la_int64_t)flen);
    archive_entry_set_filetype(en, AE_IFREG);
    archive_entry_set_perm(en, 0644);
    archive_entry_set_mtime(en, 1700000000, 0);
    archive_write_header(a, en);
    archive_write_data(a, file, flen);
    archive_entry_free(en);
    archive_write_close(a);
    archive_write_free(a);
    free(file);
    return sim_buf_take(&out, len);
}

static char *s_updates_xml(const char *base, size_t *len)
{
    sim_buf_t b;
    sim_buf_init(&b, 4096);
    sim_buf_adds(&b, "<?xml version=\"1.0\" ?>\n<patchdata>\n <patches>\n");
    for (size_t i = 0; i < S_NCAT; i++) {
        const s_entry_t *e = &s_catalogue[i];
        sim_buf_printf(&b,
                       "  <patch uuid=\"%s\" name-label=\"%s\" name-description=\"%s\" "
                       "url=\"%s/support/%s\" patch-url=\"%s/patches/%s.zip\" "
                       "after-apply-guidance=\"%s\" timestamp=\"%s\" update-stream=\"regular\""
                       " version=\"1.0\" installation-size=\"%d\">\n"
                       "   <conflictingpatches/>\n   <requiredpatches>%s%s%s</requiredpatches>\n"
                       "  </patch>\n",
                       e->uuid, e->name, e->description, base, e->name, base, e->name, e->guidance,
                       e->date, 104857600, i ? "<requiredpatch uuid=\"" : "",
                       i ? s_catalogue[i - 1].uuid : "", i ? "\"/>" : "");
    }
    sim_buf_adds(&b, " </patches>\n <serverversions>\n  <version value=\"8.2.1\" "
                     "name=\"XenServer 8.2 CU1\" timestamp=\"2021-12-08T00:00:00Z\" "
                     "url=\"https://docs.xenserver.com\" latest=\"true\">\n");
    for (size_t i = 0; i < S_NCAT; i++)
        sim_buf_printf(&b, "   <patch uuid=\"%s\"/>\n", s_catalogue[i].uuid);
    sim_buf_adds(&b, "  </version>\n </serverversions>\n</patchdata>\n");
    return sim_buf_take(&b, len);
}

char *sim_patch_vendor_file(const char *path, size_t *len, const char *base_url, size_t patch_size)
{
    if (!strcmp(path, "/updates.xml"))
        return s_updates_xml(base_url, len);
    for (size_t i = 0; i < S_NCAT; i++) {
        char p[96];
        snprintf(p, sizeof p, "/patches/%s.zip", s_catalogue[i].name);
        if (!strcmp(path, p))
            return s_zip(&s_catalogue[i], patch_size, len);
    }
    return NULL;
}
/* ------------------------------------------------------------------------------------------ */
/*  pool_patch, pool_update, VDI.create                                                       */

static int s_host_patch(sim_call_t *c, sim_obj_t *patch, sim_obj_t *host)
{
    sim_pool_t *p = c->pool;
    json_t *pr = sim_store_json(patch);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(pr, "host_patches"), i, e)
    {
        sim_obj_t *hp = sim_store_get(p->store, json_string_value(e));
        json_t *hr = hp ? sim_store_json(hp) : NULL;
        bool same = hr && !strcmp(sim_call_jstr(hr, "host"), host->ref);
        json_decref(hr);
        if (same) {
            json_decref(pr);
            return sim_call_err(c, "PATCH_ALREADY_APPLIED", patch->uuid, NULL);
        }
    }
    char now[32];
    sim_gen_now(now);
    json_t *hp = json_pack(
        "{s:O, s:O, s:s, s:b, s:s, s:O, s:s}", "name_label", json_object_get(pr, "name_label"),
        "version", json_object_get(pr, "version"), "host", host->ref, "applied", 1,
        "timestamp_applied", now, "size", json_object_get(pr, "size"), "pool_patch", patch->ref);
    sim_obj_t *o = sim_store_add(p->store, sim_call_cls_id("host_patch"), hp, NULL);
    json_decref(hp);
    sim_call_set_add(pr, "host_patches", o->ref);
    sim_store_update(p->store, patch, pr);
    json_decref(pr);
    sim_call_link(p, host->ref, "patches", o->ref, true);
    return 0;
}

static int s_patch_apply(sim_call_t *c)
{
    sim_obj_t *patch = sim_call_obj(c, 1, sim_call_cls("pool_patch"));
    sim_obj_t *host = patch ? sim_call_obj(c, 2, sim_call_cls("host")) : NULL;
    if (!host || s_host_patch(c, patch, host) != 0)
        return -1;
    return sim_call_void(c);
}

static int s_patch_pool_apply(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *patch = sim_call_obj(c, 1, sim_call_cls("pool_patch"));
    if (!patch)
        return -1;
    for (int i = 0; i < p->nhosts; i++) {
        sim_obj_t *h = sim_store_get(p->store, p->hosts[i].ref);
        if (h && s_host_patch(c, patch, h) != 0) {
            json_decref(c->err);
            c->err = NULL;
        }
    }
    json_t *pr = sim_store_json(patch);
    json_object_set_new(pr, "pool_applied", json_true());
    sim_store_update(p->store, patch, pr);
    json_decref(pr);
    return sim_call_void(c);
}

static int s_patch_check(sim_call_t *c)
{
    if (!sim_call_obj(c, 1, sim_call_cls("pool_patch")) ||
        (json_array_size(c->params) > 2 && !sim_call_obj(c, 2, sim_call_cls("host"))))
        return -1;
    return sim_call_void(c);
}

static int s_update_introduce(sim_call_t *c)
{
    sim_obj_t *vdi = sim_call_obj(c, 1, sim_call_cls("VDI"));
    if (!vdi)
        return -1;
    json_t *v = sim_store_json(vdi);
    json_t *sm = json_object_get(v, "sm_config");
    const char *name = json_string_value(json_object_get(sm, "sim-update-name"));
    if (!name) {
        json_decref(v);
        return sim_call_err(c, "INVALID_UPDATE", "no update metadata in the VDI", NULL);
    }
    json_t *u = json_pack("{s:s, s:O, s:O, s:O, s:I, s:s, s:[O], s:s}", "name_label", name, "uuid",
                          json_object_get(sm, "sim-update-uuid"), "name_description",
                          json_object_get(sm, "sim-update-description"), "version",
                          json_object_get(sm, "sim-update-version"), "installation_size",
                          (json_int_t)104857600, "key", name, "after_apply_guidance",
                          json_object_get(sm, "sim-update-guidance"), "vdi", vdi->ref);
    json_decref(v);
    if (sim_store_by_uuid(c->pool->store, json_string_value(json_object_get(u, "uuid")))) {
        json_decref(u);
        return sim_call_err(c, "UPDATE_ALREADY_EXISTS", name, NULL);
    }
    sim_obj_t *o = sim_store_add(c->pool->store, sim_call_cls_id("pool_update"), u, NULL);
    json_decref(u);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_update_host(sim_call_t *c, sim_obj_t *upd, sim_obj_t *host)
{
    json_t *u = sim_store_json(upd);
    json_t *hosts = json_object_get(u, "hosts");
    for (size_t i = 0; i < json_array_size(hosts); i++)
        if (!strcmp(json_string_value(json_array_get(hosts, i)), host->ref)) {
            json_decref(u);
            return sim_call_err(c, "UPDATE_ALREADY_APPLIED", upd->uuid, NULL);
        }
    sim_call_set_add(u, "hosts", host->ref);
    sim_store_update(c->pool->store, upd, u);
    json_decref(u);
    sim_call_link(c->pool, host->ref, "updates", upd->ref, true);
    return 0;
}

static int s_update_apply(sim_call_t *c)
{
    sim_obj_t *u = sim_call_obj(c, 1, sim_call_cls("pool_update"));
    sim_obj_t *h = u ? sim_call_obj(c, 2, sim_call_cls("host")) : NULL;
    if (!h || s_update_host(c, u, h) != 0)
        return -1;
    return sim_call_void(c);
}

static int s_update_pool_apply(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *u = sim_call_obj(c, 1, sim_call_cls("pool_update"));
    if (!u)
        return -1;
    for (int i = 0; i < p->nhosts; i++) {
        sim_obj_t *h = sim_store_get(p->store, p->hosts[i].ref);
        if (h && s_update_host(c, u, h) != 0) {
            json_decref(c->err);
            c->err = NULL;
        }
    }
    return sim_call_void(c);
}

static int s_update_precheck(sim_call_t *c)
{
    if (!sim_call_obj(c, 1, sim_call_cls("pool_update")) ||
        !sim_call_obj(c, 2, sim_call_cls("host")))
        return -1;
    sim_wr_str(c->w, "ok");
    return 0;
}

static int s_update_check(sim_call_t *c)
{
    return sim_call_obj(c, 1, sim_call_cls("pool_update")) ? sim_call_void(c) : -1;
}

static int s_vdi_create(sim_call_t *c)
{
    const sim_class_t *cls = sim_call_cls("VDI");
    json_t *rec = json_deep_copy(json_array_get(c->params, 1));
    if (!json_is_object(rec)) {
        json_decref(rec);
        return sim_call_err(c, "FIELD_TYPE_ERROR", "args", NULL);
    }
    sim_rec_coerce(cls, rec);
    json_object_del(rec, "uuid");
    json_object_set_new(rec, "VBDs", json_array());
    sim_obj_t *sr = sim_store_get(c->pool->store, sim_call_jstr(rec, "SR"));
    if (!sr || sr->cls != sim_call_cls_id("SR")) {
        sim_call_err(c, "HANDLE_INVALID", "SR", sim_call_jstr(rec, "SR"), NULL);
        json_decref(rec);
        return -1;
    }
    char loc[40];
    sim_uuid(loc);
    json_object_set_new(rec, "location", json_string(loc));
    sim_obj_t *o = sim_store_add(c->pool->store, cls->id, rec, NULL);
    json_decref(rec);
    sim_call_link(c->pool, sr->ref, "VDIs", o->ref, true);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_vdi_destroy(sim_call_t *c)
{
    sim_obj_t *o = sim_call_obj(c, 1, sim_call_cls("VDI"));
    if (!o)
        return -1;
    json_t *r = sim_store_json(o);
    sim_call_link(c->pool, sim_call_jstr(r, "SR"), "VDIs", o->ref, false);
    json_decref(r);
    sim_store_remove(c->pool->store, o);
    return sim_call_void(c);
}

/* ------------------------------------------------------------------------------------------ */
/*  Methods of this module                                                                     */

const sim_method_t sim_patch_methods[] = {
    {"pool_patch.apply", 3, 3, s_patch_apply, false, true},
    {"pool_patch.pool_apply", 2, 2, s_patch_pool_apply, false, true},
    {"pool_patch.precheck", 3, 3, s_patch_check, false, true},
    {"pool_patch.clean", 2, 2, s_patch_check, false, true},
    {"pool_patch.pool_clean", 2, 2, s_patch_check, false, true},
    {"pool_patch.destroy", 2, 2, sim_call_destroy, false, true},
    {"pool_update.introduce", 2, 2, s_update_introduce, false, true},
    {"pool_update.precheck", 3, 3, s_update_precheck, false, true},
    {"pool_update.apply", 3, 3, s_update_apply, false, true},
    {"pool_update.pool_apply", 2, 2, s_update_pool_apply, false, true},
    {"pool_update.pool_clean", 2, 2, s_update_check, false, true},
    {"pool_update.destroy", 2, 2, sim_call_destroy, false, true},
    {"VDI.create", 2, 2, s_vdi_create, false, true},
    {"VDI.destroy", 2, 2, s_vdi_destroy, false, true},
};

const size_t sim_patch_nmethods = sizeof sim_patch_methods / sizeof sim_patch_methods[0];
