#!/bin/sh
# Scale test (issue 5): two xoc-api instances behind haproxy, run with deploy/haproxy.cfg
# itself (its addresses rewritten to free loopback ports, its stats socket moved to the run
# directory). Starts xapi-sim, xoc-bus, xoc-cache, xoc-collector, xoc-api A and B, a third
# xoc-api C on a bus without cache (its /healthz must say 503), and haproxy; runs xo_lib_scale.mjs
# with the npm xo-lib client; stops every process.
# Usage: run-scale.sh <build dir> <npm prefix dir> <source dir>
set -eu
BUILD=$(cd "$1" && pwd)
PREFIX=$2
SRC=$3
VMS=${XO_LIB_VMS:-20}
RUN=$(mktemp -d)
. "$SRC/tests/compat/stack.sh"

stack_npm "$PREFIX" xo-lib@0.9.0 ws@8.18.0 jsonrpc-websocket-client@0.2.0
PREFIX=$(cd "$PREFIX" && pwd)
command -v haproxy >/dev/null || { echo "haproxy is not installed (tools/install-deps)" >&2; exit 1; }

stack_core "$BUILD" "$VMS" --hosts 2
XOC_ADMIN_PASSWORD=scale-$$-secret
export XOC_ADMIN_PASSWORD
stack_api "$BUILD" apiA
API_A=$API_URL PID_A=$STACK_PID
stack_api "$BUILD" apiB
API_B=$API_URL PID_B=$STACK_PID
# C: on a bus of its own where no cache serves (grace 0: requests fail at once), so its
# replica never loads
stack_start bus2 "xoc-bus: ready" "$BUILD/services/bus/xoc-bus" --bus.listen 'tcp://127.0.0.1:*' \
  --bus.grace_ms 0 --log.level warn
BUS2=$(sed -n 's/^xoc-bus: ready bus=//p' "$RUN/bus2.out")
# (its start takes ≈ 15 s: the first-admin check retries that long for the cache)
stack_start apiC "xoc-api: ready" "$BUILD/services/api/xoc-api" --bus.endpoint "$BUS2" \
  --api.listen 127.0.0.1:0 --api.bus_timeout_ms 1000 --log.level error
API_C=$(sed -n 's/^xoc-api: ready url=//p' "$RUN/apiC.out")

HP=$(stack_free_port)
sed -e "s|^\(\s*bind\s\+\)\S*|\1127.0.0.1:$HP|" \
    -e "s|\(server api1\) \S*|\1 ${API_A#http://}|" \
    -e "s|\(server api2\) \S*|\1 ${API_B#http://}|" \
    -e "s|stats socket \S*|stats socket $RUN/haproxy.sock|" \
    -e "s|maxconn 20000|maxconn 1000|" \
    "$SRC/deploy/haproxy.cfg" >"$RUN/haproxy.cfg"
grep -q "127.0.0.1:$HP" "$RUN/haproxy.cfg" && grep -q "server api2 ${API_B#http://}" "$RUN/haproxy.cfg" ||
  { echo "deploy/haproxy.cfg: cannot rewrite its addresses" >&2; cat "$RUN/haproxy.cfg" >&2; exit 1; }
haproxy -db -f "$RUN/haproxy.cfg" >"$RUN/haproxy.out" 2>"$RUN/haproxy.log" &
STACK_PIDS="$! $STACK_PIDS"
i=0
until [ -S "$RUN/haproxy.sock" ]; do
  i=$((i + 1))
  if [ $i -gt 200 ]; then echo "haproxy did not start:" >&2; cat "$RUN/haproxy.log" >&2; exit 1; fi
  sleep 0.05
done

NODE_PATH="$PREFIX/node_modules" stack_run node "$SRC/tests/compat/xo_lib_scale.mjs" "$PREFIX/node_modules" \
  "$API_A" "$API_B" "http://127.0.0.1:$HP" "$API_C" "$SIM" "$XOC_ADMIN_PASSWORD" "$VMS" \
  "$RUN/haproxy.sock" "$PID_A" "$PID_B"
