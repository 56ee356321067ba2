#!/usr/bin/env python3
"""Benchmark of xapi-sim against the goals of issue 3:
  - --vms 10000: VM.get_all_records answers in < 1 s (JSON-RPC and XML-RPC), RSS < 400 MB;
  - --churn 5000: sustained (changes applied per second) on one core, with an event.from
    follower draining the changes.
Prints each figure with its ratio to the goal; exits non-zero when a goal is missed.
Usage: bench_sim.py <xapi-sim binary> [vms]"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time

SIM = sys.argv[1]
VMS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
TICK = os.sysconf("SC_CLK_TCK")
results = []


def start(*args):
    p = subprocess.Popen([SIM, "--log-level", "warn", *args], stdout=subprocess.PIPE, text=True)
    master = None
    deadline = time.time() + 120
    for line in p.stdout:
        if "master=1" in line:
            master = line.strip().split("url=")[1]
        if line.startswith("xapi-sim: ready") or time.time() > deadline:
            break
    return p, master


def call(url, method, params, conn=None, path="/jsonrpc"):
    host, port = url.split("//")[1].split(":")
    conn = conn or http.client.HTTPConnection(host, int(port), timeout=120)
    conn.request("POST", path, body=json.dumps({"jsonrpc": "2.0", "method": method,
                                               "params": params, "id": 1}),
                 headers={"Content-Type": "application/json"})
    return conn, conn.getresponse().read()


def xml_call(url, method, session):
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    body = (f"<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>"
            f"<param><value>{session}</value></param></params></methodCall>")
    conn.request("POST", "/", body=body, headers={"Content-Type": "text/xml"})
    return conn.getresponse().read()


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def report(name, value, goal, unit, lower_is_better=True):
    ratio = value / goal
    ok = ratio <= 1.0 if lower_is_better else ratio >= 1.0
    results.append(ok)
    print(f"bench: {name} = {value:.3f} {unit} (goal {'<' if lower_is_better else '>='} "
          f"{goal} {unit}, ratio {ratio:.2f}) {'ok' if ok else 'MISSED'}")


def bench_records():
    t0 = time.time()
    p, url = start("--vms", str(VMS))
    print(f"bench: start with --vms {VMS}: {time.time() - t0:.2f} s")
    try:
        _, b = call(url, "session.login_with_password", ["root", "password"])
        s = json.loads(b)["result"]
        _, b = call(url, "sim.stats", [])
        print(f"bench: objects = {json.loads(b)['result']['objects']}")
        best_json = best_xml = 1e9
        for _ in range(3):
            t = time.time()
            _, b = call(url, "VM.get_all_records", [s])
            best_json = min(best_json, time.time() - t)
            size_json = len(b)
            t = time.time()
            x = xml_call(url, "VM.get_all_records", s)
            best_xml = min(best_xml, time.time() - t)
            size_xml = len(x)
        n = len(json.loads(b)["result"])
        print(f"bench: VM.get_all_records: {n} VMs, JSON {size_json / 1e6:.1f} MB, "
              f"XML {size_xml / 1e6:.1f} MB")
        report("VM.get_all_records JSON-RPC time", best_json, 1.0, "s")
        report("VM.get_all_records XML-RPC time", best_xml, 1.0, "s")
        report("RSS after the calls", status(p.pid, "VmRSS") / 1e6, 400, "MB")
        report("peak RSS (VmHWM)", status(p.pid, "VmHWM") / 1e6, 400, "MB")
    finally:
        p.terminate()
        p.wait()


def follower(url, session, stop, seen):
    conn = None
    token = ""
    _, b = call(url, "event.inject", [session, "pool", seen["pool"]])
    token = json.loads(b)["result"]
    while not stop.is_set():
        conn, b = call(url, "event.from", [session, ["*"], token, 1.0], conn)
        r = json.loads(b)["result"]
        token = r["token"]
        seen["events"] += len(r["events"])
        seen["calls"] += 1


def bench_churn(rate=5000, seconds=5.0):
    p, url = start("--vms", "1000", "--churn", "0")
    try:
        _, b = call(url, "session.login_with_password", ["root", "password"])
        s = json.loads(b)["result"]
        _, b = call(url, "pool.get_all", [s])
        seen = {"events": 0, "calls": 0, "pool": json.loads(b)["result"][0]}
        stop = threading.Event()
        th = threading.Thread(target=follower, args=(url, s, stop, seen))
        th.start()
        _, b = call(url, "sim.stats", [])
        seq0 = json.loads(b)["result"]["churn_seq"]
        cpu0, t0 = cpu_seconds(p.pid), time.time()
        call(url, "sim.churn", {"rate": rate})
        time.sleep(seconds)
        call(url, "sim.churn", {"rate": 0})
        cpu1, t1 = cpu_seconds(p.pid), time.time()
        _, b = call(url, "sim.stats", [])
        gen_changes = json.loads(b)["result"]["churn_seq"] - seq0
        stop.set()
        th.join()
        elapsed = t1 - t0
        achieved = gen_changes / elapsed  # churn_seq counts every churn change
        print(f"bench: churn {rate}/s for {elapsed:.1f} s: ≈{achieved:.0f} changes/s, "
              f"follower got {seen['events']} events in {seen['calls']} event.from calls")
        report("churn changes/s sustained", achieved, rate * 0.95, "/s", lower_is_better=False)
        report("CPU of the simulator during churn", (cpu1 - cpu0) / elapsed, 1.0, "cores")
    finally:
        p.terminate()
        p.wait()


def bench_export(disk=16 * 1024**3):
    p, url = start("--vms", "5", "--disk-size", str(disk))
    try:
        _, b = call(url, "session.login_with_password", ["root", "password"])
        s = json.loads(b)["result"]
        _, b = call(url, "VM.get_all_records_where", [s, 'field "power_state"="Halted"'])
        vm = next(k for k, v in json.loads(b)["result"].items() if not v["is_a_template"])
        host, port = url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        t = time.time()
        conn.request("GET", f"/export?ref={vm}&session_id={s}")
        r = conn.getresponse()
        n = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        dt = time.time() - t
        print(f"bench: /export of a {disk / 1024**3:.0f} GiB disk: {n / 1e6:.0f} MB streamed "
              f"(sparse) in {dt:.2f} s = {n / 1e6 / dt:.0f} MB/s")
    finally:
        p.terminate()
        p.wait()


bench_records()
bench_churn()
bench_export()
print(f"bench: {sum(results)} of {len(results)} goals met")
sys.exit(0 if all(results) else 1)
