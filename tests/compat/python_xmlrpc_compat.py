#!/usr/bin/env python3
"""Compatibility test: Python's xmlrpc.client used the way XenAPI.py uses it (Status/Value
envelopes, 4-parameter login, lazy API_version), raw HTTP checks (keep-alive, Content-Length,
content types, malformed bodies, the body size limit), and the sim.* faults.
Usage: python_xmlrpc_compat.py <master url> <slave url> [--tls]"""
import http.client
import json
import ssl
import sys
import urllib.parse
import xmlrpc.client

MASTER, SLAVE = sys.argv[1], sys.argv[2]
TLS = "--tls" in sys.argv
CTX = ssl._create_unverified_context() if TLS else None
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(f"{'ok  ' if ok else 'FAIL'} [python{'-tls' if TLS else ''}] {name}"
          f"{' — ' + str(detail) if detail else ''}")


class Failure(Exception):
    def __init__(self, details):
        super().__init__(details)
        self.details = details


def proxy(url):
    return xmlrpc.client.ServerProxy(url, allow_none=True, context=CTX)


def result(r):
    """XenAPI._parse_result: Status + Value, or a Failure with ErrorDescription."""
    if not isinstance(r, dict) or "Status" not in r:
        raise ValueError("missing Status")
    if r["Status"] == "Success":
        if "Value" not in r:
            raise ValueError("missing Value")
        return r["Value"]
    raise Failure(r["ErrorDescription"])


def error_of(fn):
    try:
        fn()
    except Failure as e:
        return e.details
    return None


def raw(url, path, body, ctype, conn=None):
    u = urllib.parse.urlsplit(url)
    if conn is None:
        conn = (http.client.HTTPSConnection(u.hostname, u.port, context=CTX) if TLS
                else http.client.HTTPConnection(u.hostname, u.port))
    conn.request("POST", path, body=body, headers={"Content-Type": ctype})
    resp = conn.getresponse()
    return conn, resp, resp.read()


def sim(method, params=None):
    _, _, body = raw(MASTER, "/jsonrpc", json.dumps(
        {"jsonrpc": "2.0", "method": method, "params": params or [], "id": 1}),
        "application/json")
    return json.loads(body).get("result")


try:
    x = proxy(MASTER)
    s = result(x.session.login_with_password("root", "password", "2.0", "python-compat"))
    check("login with 4 params", s.startswith("OpaqueRef:"), s)
    pools = result(x.pool.get_all(s))
    master = result(x.pool.get_master(s, pools[0]))
    major = result(x.host.get_API_version_major(s, master))
    minor = result(x.host.get_API_version_minor(s, master))
    check("API_version as XenAPI.py computes it", (major, minor) == ("2", "21"), f"{major}.{minor}")
    check("session.get_this_host", result(x.session.get_this_host(s, s)) == master)
    rec = result(x.host.get_record(s, master))
    check("host record complete", len(rec) > 60 and rec["address"] == "127.0.0.1", len(rec))
    dom0 = result(x.VM.get_all_records_where(s, 'field "is_control_domain"="true"'))
    hosts = result(x.host.get_all(s))
    check("get_all_records_where", len(dom0) == len(hosts), len(dom0))
    methods = x.system.listMethods()
    check("system.listMethods bare array", isinstance(methods, list) and
          "VM.get_all_records" in methods and "Async.VM.start" in methods, len(methods))
    ev = result(x.event.__getattr__("from")(s, ["VM", "task"], "", 0.1))
    check("event.from full dump", len(ev["events"]) > 0 and isinstance(ev["valid_ref_counts"]["vm"], int)
          and all(e["operation"] == "add" for e in ev["events"]), len(ev["events"]))
    err = error_of(lambda: result(x.VM.get_record(s)))
    check("MESSAGE_PARAMETER_COUNT_MISMATCH", err == ["MESSAGE_PARAMETER_COUNT_MISMATCH",
                                                      "VM.get_record", "2", "1"], err)
    err = error_of(lambda: result(x.VM.get_record("OpaqueRef:bad", "x")))
    check("SESSION_INVALID", err == ["SESSION_INVALID", "OpaqueRef:bad"], err)
    err = error_of(lambda: result(proxy(SLAVE).session.login_with_password("root", "password")))
    check("HOST_IS_SLAVE from a slave", err == ["HOST_IS_SLAVE", "127.0.0.1"], err)
    err = error_of(lambda: result(x.session.login_with_password("root", "nope")))
    check("SESSION_AUTHENTICATION_FAILED", err == ["SESSION_AUTHENTICATION_FAILED", "root",
                                                   "Authentication failure"], err)

    # raw HTTP: keep-alive, Content-Length, exact content types, malformed bodies, size limit
    body = xmlrpc.client.dumps((s,), "VM.get_all")
    conn, r1, _ = raw(MASTER, "/", body, "text/xml")
    _, r2, _ = raw(MASTER, "/RPC2", body, "text/xml", conn)
    check("keep-alive, Content-Length, text/xml", r1.getheader("Content-Type") == "text/xml" and
          r2.status == 200 and r1.getheader("Content-Length") is not None)
    _, r, b = raw(MASTER, "/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "VM.get_all",
                                                  "params": [s], "id": 1}), "application/json")
    check("JSON-RPC content type", r.getheader("Content-Type") == "application/json" and
          isinstance(json.loads(b)["result"], list))
    _, r, b = raw(MASTER, "/", "<methodCall><methodName>x", "text/xml")
    check("malformed XML: 500 text/html", r.status == 500 and
          r.getheader("Content-Type") == "text/html", r.status)
    _, r, b = raw(MASTER, "/jsonrpc", "{nope", "application/json")
    check("malformed JSON: 500 text/html", r.status == 500, r.status)
    try:
        _, r, b = raw(MASTER, "/", "<a>" + "x" * (2 * 1024 * 1024) + "</a>", "text/xml")
        check("oversized body: 413", r.status == 413, r.status)
    except (ConnectionError, http.client.HTTPException) as e:
        check("oversized body: 413", False, e)

    # /export_metadata of a running VM: an XVA with ova.xml alone
    import io
    import tarfile
    running = next(r for r, v in result(x.VM.get_all_records(s)).items()
                   if v["power_state"] == "Running" and not v["is_control_domain"])
    u = urllib.parse.urlsplit(MASTER)
    mconn = (http.client.HTTPSConnection(u.hostname, u.port, context=CTX) if TLS
             else http.client.HTTPConnection(u.hostname, u.port))
    mconn.request("GET", f"/export_metadata?ref={running}&session_id={s}")
    mr = mconn.getresponse()
    names = tarfile.open(fileobj=io.BytesIO(mr.read())).getnames()
    check("export_metadata: ova.xml alone", mr.status == 200 and names == ["ova.xml"], names)

    # faults
    import time
    sim("sim.stall", {"ms": 400})
    t0 = time.time()
    result(x.VM.get_all(s))
    check("sim.stall delays answers", time.time() - t0 >= 0.3, f"{time.time() - t0:.2f} s")
    conn, r, _ = raw(MASTER, "/", body, "text/xml")
    sim("sim.drop_connections")
    try:
        raw(MASTER, "/", body, "text/xml", conn)
        check("sim.drop_connections closes kept-alive connections", False)
    except (ConnectionError, http.client.HTTPException, OSError):
        check("sim.drop_connections closes kept-alive connections", True)
    x = proxy(MASTER)  # its kept-alive connection was dropped too (TLS clients do not retry)
    check("host.get_servertime", isinstance(result(x.host.get_servertime(s, master)),
                                            xmlrpc.client.DateTime))
    sim("sim.expire_sessions")
    err = error_of(lambda: result(x.VM.get_all(s)))
    check("sim.expire_sessions", err == ["SESSION_INVALID", s], err)
    s = result(x.session.login_with_password("root", "password"))
    sim("sim.move_master", {"host": 1})
    err = error_of(lambda: result(proxy(MASTER).session.login_with_password("root", "password")))
    check("sim.move_master: old master is a slave", err == ["HOST_IS_SLAVE", "127.0.0.2"], err)
    s2 = result(proxy(SLAVE).session.login_with_password("root", "password"))
    check("sim.move_master: new master logs in", s2.startswith("OpaqueRef:"))
    _, _, b = raw(SLAVE, "/jsonrpc", json.dumps({"jsonrpc": "2.0", "method": "sim.move_master",
                                                "params": {"host": 0}, "id": 1}),
                  "application/json")
    check("master moved back", json.loads(b)["result"].startswith("OpaqueRef:"))
except Exception as e:  # noqa: BLE001
    check("no exception", False, repr(e))

print(f"compat: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
