#!/bin/sh
# Compatibility test of xoc-api with the npm xo-lib client (Xen Orchestra's client library):
# starts xapi-sim, xoc-bus, xoc-cache, xoc-collector and xoc-api on free ports, configures the
# simulated pool as a server, runs xo_lib_compat.mjs, and stops every process.
# Usage: run-xo-lib.sh <build dir> <npm prefix dir> <test .mjs>
set -eu
BUILD=$1
PREFIX=$2
TEST=$3
XO_LIB_VERSION=0.9.0
WS_VERSION=8.18.0
VMS=${XO_LIB_VMS:-30}

mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
if [ ! -f "$PREFIX/node_modules/xo-lib/package.json" ] || [ ! -f "$PREFIX/node_modules/ws/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$PREFIX" "xo-lib@$XO_LIB_VERSION" "ws@$WS_VERSION" >&2
fi
# the reference implementation of the string filters, the oracle of their checks
if [ ! -f "$PREFIX/node_modules/complex-matcher/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$PREFIX" "complex-matcher@0.7.0" >&2
fi

RUN=$(mktemp -d)
PIDS=""
stop_all() {
  for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  # a sanitizer report in a service's log fails the test: the clients' checks cannot see a
  # leak, or a bad read that did not crash (ASan builds: make check-asan)
  _san=$(grep -lE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$RUN"/*.log 2>/dev/null || true)
  if [ -n "$_san" ]; then
    echo "sanitizer reports in: $_san" >&2
    grep -hE -A30 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" $_san | head -80 >&2
  fi
  if [ "${KEEP_RUN:-}" = "" ]; then rm -rf "$RUN"; else echo "run dir: $RUN" >&2; fi
  [ -z "$_san" ] || exit 1
}
trap stop_all EXIT INT TERM

# start NAME PREFIX CMD...: runs CMD, waits (deadline 20 s) for a stdout line starting with PREFIX
start() {
  name=$1 prefix=$2
  shift 2
  "$@" >"$RUN/$name.out" 2>"$RUN/$name.log" &
  PIDS="$! $PIDS"
  pid=$!
  i=0
  until grep -q "^$prefix" "$RUN/$name.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 400 ] || ! kill -0 $pid 2>/dev/null; then
      echo "$name did not start; its log:" >&2
      tail -n 20 "$RUN/$name.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

start sim "xapi-sim: ready" "$BUILD/tools/xapi-sim/xapi-sim" --port 0 --hosts 2 --vms "$VMS" \
  --log-level warn
start bus "xoc-bus: ready" "$BUILD/services/bus/xoc-bus" --bus.listen 'tcp://127.0.0.1:*' \
  --log.level warn
BUS=$(sed -n 's/^xoc-bus: ready bus=//p' "$RUN/bus.out")
start cache "xoc-cache: ready" "$BUILD/services/cache/xoc-cache" --bus.endpoint "$BUS" \
  --cache.path "$RUN/cache" --log.level warn
XOC_CACHE_PID=$pid # for a test that stops it last (xo_lib_errors.mjs: serviceUnavailable)
export XOC_CACHE_PID
start collector "xoc-collector: ready" "$BUILD/services/collector/xoc-collector" \
  --bus.endpoint "$BUS" --log.level ${XO_LIB_COLLECTOR_LOG:-warn}
XOC_ADMIN_PASSWORD=compat-$$-secret
export XOC_ADMIN_PASSWORD
start api "xoc-api: ready" "$BUILD/services/api/xoc-api" --bus.endpoint "$BUS" \
  --api.listen 127.0.0.1:0 --api.max_frame 1048576 --api.send_queue_max "${XO_LIB_QUEUE_MAX:-1048576}" \
  --log.level "${XO_LIB_API_LOG:-warn}" ${XO_LIB_API_ARGS:-}
API=$(sed -n 's/^xoc-api: ready url=//p' "$RUN/api.out")
SIM=$(sed -n 's/.*master=1 url=\(.*\)$/\1/p' "$RUN/sim.out" | head -1)
if [ "${XO_LIB_API2:-}" != "" ]; then # a second frontend on the same bus: $XOC_API2_URL
  start api2 "xoc-api: ready" "$BUILD/services/api/xoc-api" --bus.endpoint "$BUS" \
    --api.listen 127.0.0.1:0 --log.level "${XO_LIB_API_LOG:-warn}"
  XOC_API2_URL=$(sed -n 's/^xoc-api: ready url=//p' "$RUN/api2.out")
  export XOC_API2_URL
fi

"$BUILD/tools/xoc-call/xoc-call" --bus.endpoint "$BUS" cache config.set \
  '{"t":"cfg","db":"servers","key":"sim1","value":{"host":"'"$SIM"'","username":"root","password":"password","label":"compat"}}' \
  >/dev/null

NODE_PATH="$PREFIX/node_modules" node "$TEST" "$PREFIX/node_modules" "$API" "$SIM" \
  "$XOC_ADMIN_PASSWORD" "$VMS"
