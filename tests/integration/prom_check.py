#!/usr/bin/python3
"""Checks a Prometheus text exposition (format 0.0.4) read on stdin, and prints its samples
as JSON: [[name, {labels}, value], ...]. Exit status 1 with a message on stderr when the text
breaks a rule.

Two checks: the parser of the Prometheus Python client (Debian python3-prometheus-client)
must read it, and the rules of the format are checked line by line here, stricter than that
parser (which accepts samples of undeclared families): every family has one HELP and one TYPE
line before its samples, its samples are contiguous and named after it, no sample repeats,
label names and values are well formed, counters are >= 0, and each histogram has increasing
le buckets with cumulative counts, a +Inf bucket equal to _count, and a _sum."""
import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{((?:%s=%s)(?:,%s=%s)*)?\})? (\S+)$" % (NAME, LABEL, VALUE, LABEL, VALUE))
PAIR = re.compile(r'(%s)=(%s)' % (LABEL, VALUE))
FLOAT = re.compile(r"^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$")


def fail(msg):
    sys.stderr.write("prom_check: %s\n" % msg)
    sys.exit(1)


def unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v[1:-1])


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            return name[: -len(suffix)]
    return None


def check_histograms(samples, types):
    series = {}
    for name, labels, value in samples:
        fam = family_of(name, types)
        if types[fam] != "histogram":
            continue
        key = (fam, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            if "le" not in labels:
                fail("%s without le" % name)
            s["buckets"].append((float(labels["le"]), value))
        elif name.endswith("_sum"):
            s["sum"] = value
        else:
            s["count"] = value
    for (fam, labels), s in series.items():
        les = [b[0] for b in s["buckets"]]
        if les != sorted(les) or len(set(les)) != len(les):
            fail("%s%s: le not increasing" % (fam, labels))
        if not les or les[-1] != math.inf:
            fail("%s%s: no +Inf bucket" % (fam, labels))
        counts = [b[1] for b in s["buckets"]]
        if any(b > a for a, b in zip(counts[1:], counts)):
            fail("%s%s: bucket counts not cumulative" % (fam, labels))
        if s["count"] is None or s["sum"] is None:
            fail("%s%s: _count or _sum missing" % (fam, labels))
        if s["count"] != counts[-1]:
            fail("%s%s: +Inf bucket %s != _count %s" % (fam, labels, counts[-1], s["count"]))


def check(text):
    if text and not text.endswith("\n"):
        fail("the last line has no newline")
    helps, types, samples, seen = {}, {}, [], set()
    current, done = None, set()
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line[7:].split(" ", 1)
            name = parts[0]
            if not re.fullmatch(NAME, name):
                fail("line %d: bad metric name %r" % (n, name))
            table = helps if line[2] == "H" else types
            if name in table:
                fail("line %d: second %s line for %s" % (n, line[2:6], name))
            if name in done or (current and current != name and name in types):
                fail("line %d: %s is declared after its samples" % (n, name))
            if line[2] == "T":
                if len(parts) != 2 or parts[1] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    fail("line %d: bad TYPE line" % n)
                types[name] = parts[1]
            else:
                if re.search(r"\\[^\\n]", parts[1] if len(parts) > 1 else ""):
                    fail("line %d: bad escape in HELP" % n)
                helps[name] = parts[1] if len(parts) > 1 else ""
            continue
        if line.startswith("#") or not line.strip():
            fail("line %d: unexpected line %r" % (n, line))
        m = SAMPLE.match(line)
        if not m:
            fail("line %d: not a sample line: %r" % (n, line))
        name, labels_text, value_text = m.group(1), m.group(2) or "", m.group(3)
        fam = family_of(name, types)
        if fam is None or fam not in helps:
            fail("line %d: sample %s of an undeclared family (HELP and TYPE must come first)" % (n, name))
        if current != fam:
            if fam in done:
                fail("line %d: samples of %s are not contiguous" % (n, fam))
            if current:
                done.add(current)
            current = fam
        labels = {}
        for lm in PAIR.finditer(labels_text):
            if lm.group(1) in labels:
                fail("line %d: label %s twice" % (n, lm.group(1)))
            if lm.group(1).startswith("__"):
                fail("line %d: reserved label name %s" % (n, lm.group(1)))
            labels[lm.group(1)] = unescape(lm.group(2))
        if not FLOAT.match(value_text):
            fail("line %d: bad value %r" % (n, value_text))
        value = float(value_text)
        if types[fam] == "counter" and not value >= 0:
            fail("line %d: counter %s is %s" % (n, name, value_text))
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail("line %d: sample %s%s repeated" % (n, name, labels))
        seen.add(key)
        samples.append((name, labels, value))
    check_histograms(samples, types)
    # the reference parser reads the same samples
    parsed = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    if len(parsed) != len(samples):
        fail("the Prometheus client parser read %d samples, the rules %d" % (len(parsed), len(samples)))
    for (a, la, va), (b, lb, vb) in zip(parsed, samples):
        if a != b or la != lb or not (va == vb or (math.isnan(va) and math.isnan(vb))):
            fail("the Prometheus client parser disagrees on %s%s" % (b, lb))
    return samples


def main():
    text = sys.stdin.buffer.read().decode("utf-8")  # a UnicodeDecodeError fails the check
    samples = check(text)
    print(json.dumps([[n, l, v if math.isfinite(v) else str(v)] for n, l, v in samples]))


if __name__ == "__main__":
    main()
