#!/usr/bin/env python3
"""Patching test: the vendor stand-in (updates.xml + patch zips), /pool_patch_upload with
pool_patch.pool_apply, the update flow (VDI.create, /import_raw_vdi, pool_update.introduce,
precheck, pool_apply), the XCP-ng updater plugin, and /rrd_updates.
Usage: python_patch.py <master url> <vendor updates.xml url>"""
import http.client
import io
import json
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile

MASTER, VENDOR = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed, failed = passed + bool(ok), failed + (not ok)
    print(f"{'ok  ' if ok else 'FAIL'} [patch] {name}{' — ' + str(detail) if detail else ''}")


def rpc(method, *params):
    req = urllib.request.Request(MASTER + "/jsonrpc", json.dumps(
        {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}).encode(),
        {"Content-Type": "application/json"})
    body = json.loads(urllib.request.urlopen(req).read())
    if "error" in body:
        raise RuntimeError(body["error"])
    return body["result"]


def put(path, query, data):
    u = urllib.parse.urlsplit(MASTER)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.request("PUT", path + "?" + urllib.parse.urlencode(query), body=data)
    r = conn.getresponse()
    r.read()
    return r.status


def wait_task(s, task):
    end = time.time() + 10
    while time.time() < end:
        rec = rpc("task.get_record", s, task)
        if rec["status"] != "pending":
            return rec
        time.sleep(0.02)
    return rec


def unzip(url):
    z = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url).read()))
    name = z.namelist()[0]
    return name, z.read(name)


try:
    s = rpc("session.login_with_password", "root", "password")
    cat = ET.fromstring(urllib.request.urlopen(VENDOR).read())
    patches = {p.get("name-label"): p for p in cat.iter("patch") if p.get("name-label")}
    version = cat.find("serverversions/version")
    check("updates.xml lists patches for 8.2.1", len(patches) == 3 and
          version.get("value") == "8.2.1" and len(version.findall("patch")) == 3, list(patches))

    # legacy patch: .xsupdate through /pool_patch_upload
    name, data = unzip(patches["XS82E001"].get("patch-url"))
    task = rpc("task.create", s, "upload", "")
    status = put("/pool_patch_upload", {"session_id": s, "task_id": task}, data)
    rec = wait_task(s, task)
    ref = rec["result"].replace("<value>", "").replace("</value>", "")
    patch = rpc("pool_patch.get_record", s, ref)
    check("pool_patch_upload creates the pool_patch", status == 200 and
          patch["name_label"] == "XS82E001" and patch["size"] == len(data), (name, rec["result"]))
    rpc("pool_patch.pool_apply", s, ref)
    hosts = rpc("host.get_all", s)
    patch = rpc("pool_patch.get_record", s, ref)
    check("pool_patch.pool_apply on every host", patch["pool_applied"] and
          len(patch["host_patches"]) == len(hosts) and
          all(rpc("host.get_patches", s, h) for h in hosts))

    # update: .iso into a VDI, then pool_update.introduce / precheck / pool_apply
    name, iso = unzip(patches["XS82ECU1002"].get("patch-url"))
    pool = rpc("pool.get_all", s)[0]
    sr = rpc("pool.get_default_SR", s, pool)
    vdi = rpc("VDI.create", s, {"name_label": name, "name_description": "", "SR": sr,
                                "virtual_size": len(iso), "type": "user", "sharable": False,
                                "read_only": False, "other_config": {}, "xenstore_data": {},
                                "sm_config": {}, "tags": []})
    status = put("/import_raw_vdi", {"session_id": s, "vdi": vdi, "format": "raw"}, iso)
    upd = rpc("pool_update.introduce", s, vdi)
    rec = rpc("pool_update.get_record", s, upd)
    check("pool_update.introduce reads the update", status == 200 and
          rec["name_label"] == "XS82ECU1002" and rec["after_apply_guidance"] == ["restartHost"], rec["uuid"])
    check("pool_update.precheck", rpc("pool_update.precheck", s, upd, hosts[0]) == "ok")
    rpc("pool_update.pool_apply", s, upd)
    check("pool_update.pool_apply", len(rpc("pool_update.get_hosts", s, upd)) == len(hosts) and
          upd in rpc("host.get_updates", s, hosts[0]))
    rpc("VDI.destroy", s, vdi)

    # XCP-ng updater plugin
    pending = json.loads(rpc("host.call_plugin", s, hosts[0], "updater.py", "check_update", {}))
    rpc("host.call_plugin", s, hosts[0], "updater.py", "update", {})
    after = json.loads(rpc("host.call_plugin", s, hosts[0], "updater.py", "check_update", {}))
    check("updater.py check_update / update", len(pending) > 0 and "name" in pending[0] and
          after == [], len(pending))

    # /rrd_updates
    start = int(time.time()) - 300
    x = urllib.request.urlopen(f"{MASTER}/rrd_updates?start={start}&cf=AVERAGE&interval=5"
                               f"&host=true&session_id={s}").read()
    meta = ET.fromstring(x).find("meta")
    legend = [e.text for e in meta.find("legend")]
    row = ET.fromstring(x).find("data/row")
    check("rrd_updates", int(meta.find("columns").text) == len(legend) == len(row.findall("v"))
          and any(":host:" in e for e in legend) and any(":vm:" in e for e in legend),
          f"{len(legend)} columns, {meta.find('rows').text} rows")
except Exception as e:  # noqa: BLE001
    check("no exception", False, repr(e))

print(f"compat: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
