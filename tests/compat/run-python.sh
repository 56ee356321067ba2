#!/bin/sh
# Runs the Python xmlrpc.client compatibility test against fresh xapi-sims on free ports:
# plain HTTP, then HTTPS with a self-signed certificate (when openssl is there).
# Usage: run-python.sh <xapi-sim binary> <test .py> <work dir>
set -eu
SIM=$1
TEST=$2
WORK=$3
mkdir -p "$WORK"
PIDS=""
# || true: under set -e a simulator that exits non-zero (e.g. a sanitizer report) must not
# stop the cleanup before the other simulators are stopped
trap 'for p in $PIDS; do kill $p 2>/dev/null || true; wait $p 2>/dev/null || true; done' EXIT INT TERM

start() { # start <out file> <args...>: starts a simulator, waits for its ready line
  out=$1
  shift
  : >"$out" # truncate here: a stale ready line must not be read before the child opens it
  "$SIM" --hosts 2 --vms 20 --max-body 1048576 --log-level warn "$@" >"$out" 2>>"${SIM_STDERR:-/dev/stderr}" &
  PIDS="$PIDS $!"
  pid=$!
  i=0
  until grep -q '^xapi-sim: ready' "$out"; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 $pid 2>/dev/null; then
      echo "xapi-sim did not start" >&2
      exit 1
    fi
    sleep 0.05
  done
}

RC=0
start "$WORK/plain.out" --vendor
python3 "$TEST" "$(sed -n 's/.*master=1 url=//p' "$WORK/plain.out")" \
  "$(sed -n 's/.*master=0 url=//p' "$WORK/plain.out" | head -1)" || RC=1
python3 "$(dirname "$TEST")/python_console.py" "$(sed -n 's/.*master=1 url=//p' "$WORK/plain.out")" || RC=1
python3 "$(dirname "$TEST")/python_patch.py" "$(sed -n 's/.*master=1 url=//p' "$WORK/plain.out")" \
  "$(sed -n 's/^xapi-sim: vendor url=//p' "$WORK/plain.out")" || RC=1

if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=xapi-sim \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
  start "$WORK/tls.out" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
  python3 "$TEST" "$(sed -n 's/.*master=1 url=//p' "$WORK/tls.out")" \
    "$(sed -n 's/.*master=0 url=//p' "$WORK/tls.out" | head -1)" --tls || RC=1
fi
start "$WORK/tlsgen.out" --tls
python3 "$TEST" "$(sed -n 's/.*master=1 url=//p' "$WORK/tlsgen.out")" \
  "$(sed -n 's/.*master=0 url=//p' "$WORK/tlsgen.out" | head -1)" --tls || RC=1
python3 "$(dirname "$TEST")/python_console.py" "$(sed -n 's/.*master=1 url=//p' "$WORK/tlsgen.out")" || RC=1
exit $RC
